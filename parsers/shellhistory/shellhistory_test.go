package shellhistory

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, "logs/linux/bash_history"))
}

// TestPlasoBash: plaso tests/parsers/text_plugins/bash_history.py gives 4
// event data, 0 warnings; the first is /usr/lib/plaso at 2013-10-01
// 12:36:17, the fourth a multi-line command at 2021-06-10 22:30:36. plaso
// joins its lines with spaces; we keep the newlines bash wrote, so the test
// compares with the newlines turned into spaces.
func TestPlasoBash(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/linux/bash_history"), nil)
	if res.Err != nil || len(res.Events) != 4 || len(res.Warnings) != 0 {
		t.Fatalf("err %v, %d events, %d warnings; want 4, 0", res.Err, len(res.Events), len(res.Warnings))
	}
	want := []struct {
		time string
		cmd  string
	}{
		{"2013-10-01T12:36:17Z", "/usr/lib/plaso"},
		{"2013-10-01T12:36:18Z", "/bin/bash"},
		{"2013-10-01T12:36:19Z", "/usr/local/bin/splunk -p 8080"},
		{"2021-06-10T22:30:36Z", `binary argument1 "--params=\ param1=foo, param2=bar " argument2`},
	}
	for i, w := range want {
		ev := res.Events[i]
		wt, _ := time.Parse(time.RFC3339, w.time)
		got := strings.ReplaceAll(ev.Process.CommandLine, "\n", " ")
		if !ev.Timestamp.Equal(wt) || got != w.cmd {
			t.Errorf("event %d: %v %q, want %v %q", i, ev.Timestamp, got, wt, w.cmd)
		}
	}
	if res.Events[3].Jejak.Data["lines"] != "4" || res.Events[3].Jejak.Provenance.Record != 7 {
		t.Errorf("multi-line entry: %v lines, record %d", res.Events[3].Jejak.Data["lines"], res.Events[3].Jejak.Provenance.Record)
	}
}

// TestDesynchronized is plaso's bash_history_desync: the real file with a
// command before the first time line. plaso: 5 event data, 0 warnings, the
// first without a time.
func TestDesynchronized(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "logs/linux/bash_history"))
	if err != nil {
		t.Fatal(err)
	}
	desync := append([]byte("/sbin/reboot\n"), data...)
	e := parsertest.BytesEntry("bash_history_desync", desync, time.Time{})
	if !New().Match(e, desync) {
		t.Error("Match rejects a desynchronized history")
	}
	res := parsertest.Parse(context.Background(), New(), e, time.UTC)
	if len(res.Events) != 5 || len(res.Warnings) != 0 {
		t.Fatalf("%d events, %d warnings; want 5, 0", len(res.Events), len(res.Warnings))
	}
	first := res.Events[0]
	if first.TimestampDesc != "Not a time" || first.Jejak.Data["time_unset"] != "true" || first.Process.CommandLine != "/sbin/reboot" {
		t.Errorf("untimed command: %q %v %q", first.TimestampDesc, first.Jejak.Data, first.Process.CommandLine)
	}
	if res.Events[1].Process.CommandLine != "/usr/lib/plaso" || res.Events[1].Jejak.Provenance.Offset != 13 {
		t.Errorf("event 1: %q at %d", res.Events[1].Process.CommandLine, res.Events[1].Jejak.Provenance.Offset)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, head string
		want       bool
	}{
		{".bash_history", "#1380630977\n/usr/lib/plaso\n", true},
		{"root/.bash_history", "ls\n#1380630977\nls\n", true},
		{".bash_history", "ls\ncd /tmp\n", false}, // no times: plaso does not claim it either
		{"notes.txt", "#1380630977\nls\n", false},
		{".bash_history", "#0123456789\nls\n", false},
	}
	for _, tc := range tests {
		e := parsertest.BytesEntry(tc.name, []byte(tc.head), time.Time{})
		if got := New().Match(e, []byte(tc.head)); got != tc.want {
			t.Errorf("Match(%s, %q) = %v", tc.name, tc.head, got)
		}
	}
}

// TestZshAgainstZsh has zsh itself write an extended history (Debian
// package zsh) and read it back with "fc -l -t %s": every entry, its time
// and its command must match ours, including a multi-line one.
func TestZshAgainstZsh(t *testing.T) {
	zsh := oracle.Tool(t, "zsh", "zsh")
	dir := t.TempDir()
	hist := filepath.Join(dir, "zsh_history")
	script := "setopt EXTENDED_HISTORY\nHISTFILE=" + hist + "\nHISTSIZE=100\nSAVEHIST=100\n" +
		"print -s 'ls -la /var/log'\nprint -s 'echo \"a\nb\"'\nprint -s 'sudo -i'\nfc -W\n"
	// Only an interactive zsh keeps a history; stdin stays empty.
	if out, err := exec.Command(zsh, "-f", "-i", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh: %v %s", err, out)
	}
	listing, err := exec.Command(zsh, "-f", "-i", "-c", "HISTSIZE=100; fc -R "+hist+"; fc -l -t '%s' 1").Output()
	if err != nil {
		t.Fatalf("zsh fc: %v", err)
	}
	data, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	e := parsertest.FileEntry(t, hist)
	if !NewZsh().Match(e, data) {
		t.Fatalf("Match rejects zsh's own history %q", data)
	}
	res := parsertest.ParseFile(t, NewZsh(), hist, nil)
	// fc prints "  N  <epoch>  <command>", a multi-line command with its
	// newlines as "\n".
	var want []string
	for _, l := range strings.Split(strings.TrimRight(string(listing), "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("fc line %q", l)
		}
		_, rest, _ := strings.Cut(strings.TrimLeft(l, " "), f[1])
		want = append(want, f[1]+" "+strings.TrimLeft(rest, " "))
	}
	if len(res.Events) != len(want) || len(res.Warnings) != 0 {
		t.Fatalf("%d events %d warnings, zsh lists %d: %q", len(res.Events), len(res.Warnings), len(want), listing)
	}
	parsertest.Contract(t, NewZsh(), hist)
	for i, ev := range res.Events {
		got := strconv.FormatInt(ev.Timestamp.Unix(), 10) + " " + strings.ReplaceAll(ev.Process.CommandLine, "\n", `\n`)
		if got != want[i] {
			t.Errorf("entry %d: %q, zsh %q", i, got, want[i])
		}
	}
}

func BenchmarkBash(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "logs/linux/bash_history"))
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat(data, (4<<20)/len(data))
	b.SetBytes(int64(len(big)))
	p := New()
	e := parsertest.BytesEntry(".bash_history", big, time.Time{})
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(big), Size: int64(len(big)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
