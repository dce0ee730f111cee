package utmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

var corpusFiles = []string{
	"logs/linux/utmp",
	"logs/linux/wtmp.1",
	"logs/linux/utmp_corrupted",
	"more/utmp/plaso_utmp_x86_64",
}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range corpusFiles {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, New(), files...)
}

// TestPlasoOracle checks the counts and values plaso's tests assert
// (tests/parsers/utmp.py, MANIFEST.tsv).
func TestPlasoOracle(t *testing.T) {
	tests := []struct {
		file     string
		events   int
		warnings int
		check    func(t *testing.T, evs []*timeline.Event)
	}{
		{"logs/linux/utmp", 14, 0, func(t *testing.T, evs []*timeline.Event) {
			if evs[0].Jejak.Data["type"] != "2" || evs[0].Event.Action != "boot" {
				t.Errorf("event 0: want BOOT_TIME, got %v", evs[0].Jejak.Data["type_name"])
			}
			if evs[1].Jejak.Data["type"] != "1" {
				t.Errorf("event 1: want RUN_LVL, got %v", evs[1].Jejak.Data["type_name"])
			}
			e := evs[2]
			want := map[string]string{"user": "LOGIN", "line": "tty4", "type": "6", "pid": "1115",
				"terminal_identifier": "52", "exit_status": "0"}
			checkData(t, e, want)
			checkTime(t, e, "2013-12-13T14:45:09Z")
			e = evs[12]
			checkData(t, e, map[string]string{"user": "moxilo", "line": "pts/4", "type": "7", "pid": "2684",
				"terminal_identifier": "13359"})
			checkTime(t, e, "2013-12-18T22:46:56.305504Z")
			if e.User == nil || e.User.Name != "moxilo" || e.Event.Action != "logon" {
				t.Errorf("event 12: want logon by moxilo, got %+v %q", e.User, e.Event.Action)
			}
		}},
		{"logs/linux/wtmp.1", 4, 0, func(t *testing.T, evs []*timeline.Event) {
			e := evs[0]
			checkData(t, e, map[string]string{"user": "userA", "host": "10.10.122.1", "line": "pts/32",
				"type": "7", "addr": "10.10.122.1", "pid": "20060", "terminal_identifier": "842084211"})
			checkTime(t, e, "2011-12-01T17:36:38.432935Z")
			if e.Source == nil || e.Source.IP != "10.10.122.1" {
				t.Errorf("source.ip: got %+v", e.Source)
			}
			if evs[2].TimestampDesc != "Not a time" || evs[2].Jejak.Data["time_unset"] != "true" {
				t.Errorf("cleared slot: %q %v", evs[2].TimestampDesc, evs[2].Jejak.Data)
			}
			if evs[1].Event.Action != "logoff" || evs[1].Process.TTY != "pts/89" {
				t.Errorf("event 1: want logoff on pts/89, got %q %+v", evs[1].Event.Action, evs[1].Process)
			}
		}},
		// plaso: 2 events, 2 warnings (offsets 0x180 and 0x300). The file
		// ends with 50 bytes of 0x07, a partial record plaso treats as end
		// of file without a word; we deliberately report it as a third
		// warning (ErrTruncated) because bytes an examiner cannot see are
		// exactly what a tampered wtmp leaves.
		{"logs/linux/utmp_corrupted", 2, 3, func(t *testing.T, evs []*timeline.Event) {
			e := evs[1]
			if e.Jejak.Provenance.Offset != 1152 {
				t.Errorf("bob's record at offset %d, want 1152", e.Jejak.Provenance.Offset)
			}
			checkData(t, e, map[string]string{"user": "bob", "host": "10.0.0.5", "addr": "10.0.0.5", "pid": "3003", "line": "pts/0", "type": "7"})
			checkTime(t, e, "2023-11-14T22:46:40Z")
		}},
		// plaso tests/parsers/utmp.py:214-246 (MANIFEST): 6 event data.
		{"more/utmp/plaso_utmp_x86_64", 6, 0, func(t *testing.T, evs []*timeline.Event) {
			checkData(t, evs[1], map[string]string{"line": "tty2", "type": "8", "addr": "4.3.2.1"})
			checkTime(t, evs[0], "2026-07-03T14:58:29Z")
			if evs[1].Event.Action != "logoff" {
				t.Errorf("event 1 action %q, want logoff", evs[1].Event.Action)
			}
			checkTime(t, evs[5], "2026-07-03T15:03:29Z")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, tc.file), nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if len(res.Events) != tc.events || len(res.Warnings) != tc.warnings {
				t.Fatalf("got %d events, %d warnings; want %d, %d (%v)", len(res.Events), len(res.Warnings), tc.events, tc.warnings, res.Warnings)
			}
			tc.check(t, res.Events)
		})
	}
}

func TestCorruptWarnings(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/linux/utmp_corrupted"), nil)
	var badType []int64
	var truncated int
	for _, w := range res.Warnings {
		switch {
		case errors.Is(w.Err, ErrBadType):
			badType = append(badType, w.Offset)
		case errors.Is(w.Err, ErrTruncated):
			truncated++
			if w.Offset != 1536 {
				t.Errorf("truncated record at %d, want 1536", w.Offset)
			}
		}
	}
	// plaso: "Unable to parse utmp entry at offset: 0x00000180 / 0x00000300".
	if len(badType) != 2 || badType[0] != 0x180 || badType[1] != 0x300 || truncated != 1 {
		t.Errorf("bad-type warnings at %v, %d truncated; want [384 768], 1", badType, truncated)
	}
}

// utmpdumpLine matches util-linux utmpdump's output:
// [type] [pid] [id] [user] [line] [host] [addr] [time].
var utmpdumpLine = regexp.MustCompile(`^\[(\d+)\] \[(\d+)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\]$`)

// TestUtmpdump compares every record with util-linux's utmpdump, run here.
// utmpdump reads the x86_64 layout, the layout of every corpus file.
func TestUtmpdump(t *testing.T) {
	bin := oracle.Tool(t, "utmpdump", "util-linux")
	for _, f := range corpusFiles {
		t.Run(f, func(t *testing.T) {
			path := parsertest.Corpus(t, f)
			out, err := exec.Command(bin, path).Output()
			if err != nil {
				t.Fatalf("utmpdump: %v", err)
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			compareUtmpdump(t, out, res, 384)
		})
	}
}

// compareUtmpdump checks every record utmpdump printed against the event
// (or bad-type warning) at the same record number, records being size
// bytes long in the parsed file.
func compareUtmpdump(t *testing.T, out []byte, res parsertest.Result, size int64) {
	t.Helper()
	byOffset := map[int64]*timeline.Event{}
	for _, ev := range res.Events {
		byOffset[ev.Jejak.Provenance.Offset] = ev
	}
	warned := map[int64]bool{}
	for _, w := range res.Warnings {
		warned[w.Offset] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var rec int64
	for sc.Scan() {
		m := utmpdumpLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		off := rec * size
		rec++
		ev := byOffset[off]
		if ev == nil {
			if !warned[off] {
				t.Errorf("record at %d: utmpdump shows %q, we have neither event nor warning", off, sc.Text())
			}
			continue
		}
		d := ev.Jejak.Data
		trim := func(s string) string { return strings.TrimRight(s, " ") }
		got := []string{d["type"], d["pid"], d["id"], d["user"], d["line"], d["host"], addrOrZero(d["addr"])}
		pid, _ := strconv.Atoi(m[2])
		want := []string{m[1], strconv.Itoa(pid), trim(m[3]), trim(m[4]), trim(m[5]), trim(m[6]), trim(m[7])}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("record at %d field %d: got %q, utmpdump %q", off, i, got[i], want[i])
			}
		}
		// utmpdump prints ISO time with a comma before microseconds.
		wt, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", strings.Replace(m[8], ",", ".", 1))
		if err != nil {
			t.Fatalf("utmpdump time %q: %v", m[8], err)
		}
		if !ev.Timestamp.Equal(wt) {
			t.Errorf("record at %d: time %v, utmpdump %v", off, ev.Timestamp, wt)
		}
	}
	if rec != int64(len(res.Events))+int64(countBadType(res.Warnings)) {
		t.Errorf("utmpdump shows %d records; we have %d events + %d skipped", rec, len(res.Events), countBadType(res.Warnings))
	}
}

func addrOrZero(s string) string {
	if s == "" {
		return "0.0.0.0"
	}
	return s
}

func countBadType(ws []*parsers.RecordError) int {
	n := 0
	for _, w := range ws {
		if errors.Is(w.Err, ErrBadType) {
			n++
		}
	}
	return n
}

// to400 re-encodes 384-byte records in the 64-bit-time layout (aarch64):
// same leading fields, int64 ut_session and ut_tv, address at 360.
func to400(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	le := binary.LittleEndian
	for off := 0; off+384 <= len(b); off += 384 {
		r := b[off : off+384]
		n := make([]byte, 400)
		copy(n, r[:offSess])
		le.PutUint64(n[offSess:], uint64(int64(int32(le.Uint32(r[offSess:])))))
		le.PutUint64(n[344:], uint64(le.Uint32(r[340:])))
		le.PutUint64(n[352:], uint64(int64(int32(le.Uint32(r[344:])))))
		copy(n[360:376], r[348:364])
		out = append(out, n...)
	}
	return out
}

// TestLayout400 re-encodes real x86_64 files in the aarch64 layout and
// checks that detection picks it and every record decodes the same.
func TestLayout400(t *testing.T) {
	for _, f := range []string{"logs/linux/utmp", "logs/linux/wtmp.1", "more/utmp/plaso_utmp_x86_64"} {
		t.Run(f, func(t *testing.T) {
			path := parsertest.Corpus(t, f)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := parsertest.ParseFile(t, New(), path, nil)
			conv := to400(t, data)
			got := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("wtmp", conv, time.Time{}), time.UTC)
			if len(got.Events) != len(want.Events) || len(got.Warnings) != 0 {
				t.Fatalf("400-byte layout: %d events %d warnings, want %d events", len(got.Events), len(got.Warnings), len(want.Events))
			}
			for i := range want.Events {
				g, w := got.Events[i], want.Events[i]
				if !g.Timestamp.Equal(w.Timestamp) || g.Message != w.Message || g.Jejak.Provenance.Offset != int64(i)*400 {
					t.Errorf("record %d: got %v %q @%d, want %v %q", i, g.Timestamp, g.Message, g.Jejak.Provenance.Offset, w.Timestamp, w.Message)
				}
				if g.Jejak.Data["layout"] != layout400.name {
					t.Errorf("record %d: layout %q", i, g.Jejak.Data["layout"])
				}
			}
		})
	}
}

// TestBtmp reads a real wtmp under a btmp name: the same USER_PROCESS record
// becomes a failed logon.
func TestBtmp(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "logs/linux/wtmp.1"))
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	e := parsertest.BytesEntry("var/log/btmp.1", data, time.Time{})
	if !p.Match(e, data) {
		t.Fatal("Match rejects btmp.1")
	}
	res := parsertest.Parse(context.Background(), p, e, time.UTC)
	ev := res.Events[0]
	if ev.Event.Action != "failed_logon" || ev.Event.Outcome != "failure" || ev.User.Name != "userA" || ev.Jejak.Data["file_kind"] != "btmp" {
		t.Errorf("btmp record: %q %q %+v %v", ev.Event.Action, ev.Event.Outcome, ev.User, ev.Jejak.Data["file_kind"])
	}
}

func TestMatch(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "logs/linux/utmp"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"var/log/wtmp", data, true},
		{"var/run/utmp", data, true},
		{"var/log/btmp-20240101", data, true},
		{"var/log/syslog", data, false},
		{"var/log/wtmp", []byte("Jan 22 07:52:33 myhost client[30840]: INFO text text text"), false},
		{"var/log/wtmp", bytes.Repeat([]byte{0xff}, 800), false},
	}
	for _, tc := range tests {
		e := parsertest.BytesEntry(tc.name, tc.head, time.Time{})
		if got := New().Match(e, tc.head); got != tc.want {
			t.Errorf("Match(%s, %d bytes) = %v, want %v", tc.name, len(tc.head), got, tc.want)
		}
	}
}

func checkData(t *testing.T, ev *timeline.Event, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := ev.Jejak.Data[k]; got != v {
			t.Errorf("record at %d: %s = %q, want %q", ev.Jejak.Provenance.Offset, k, got, v)
		}
	}
}

func checkTime(t *testing.T, ev *timeline.Event, want string) {
	t.Helper()
	w, err := time.Parse(time.RFC3339Nano, want)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Timestamp.Equal(w) {
		t.Errorf("record at %d: time %v, want %v", ev.Jejak.Provenance.Offset, ev.Timestamp, w)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range corpusFiles {
		if path, err := corpusPath(name); err == nil {
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
				f.Add(toBigEndian(b, 400))
				f.Add(toBigEndian(b, 384))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("wtmp", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		l, _ := detect(b, int64(len(b)))
		full := len(b) / l.size
		if len(res.Events)+countBadType(res.Warnings) != full {
			t.Fatalf("%d full records, %d events + %d bad-type warnings", full, len(res.Events), countBadType(res.Warnings))
		}
	})
}

func corpusPath(rel string) (string, error) {
	dir, err := parsertest.CorpusDir()
	if err != nil {
		return "", err
	}
	return dir + "/" + rel, nil
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "logs/linux/utmp"))
	if err != nil {
		b.Fatal(err)
	}
	// A wtmp of a busy server: the real records repeated to 4 MiB.
	big := bytes.Repeat(data, (4<<20)/len(data))
	b.SetBytes(int64(len(big)))
	b.ReportAllocs()
	p := New()
	e := parsertest.BytesEntry("wtmp", big, time.Time{})
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(big), Size: int64(len(big)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
