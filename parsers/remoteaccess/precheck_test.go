package remoteaccess

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzTVConnectionPrecheck: the precheck of TVConnections.MatchLine never
// rejects a line the parse accepts.
func FuzzTVConnectionPrecheck(f *testing.F) {
	for _, s := range []string{
		"1234567\t11-07-2024 10:00:00\t11-07-2024 10:05:00\tuser\tRemoteControl\t{12345678-1234-1234-1234-123456789abc}",
		" \v1234567  11-07-2024 10:00:00  11-07-2024 10:05:00  a user  RemoteControl  {12345678-1234-1234-1234-123456789abc}",
		"\u00a01234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {12345678-1234-1234-1234-123456789abc}",
		"\u20281234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {12345678-1234-1234-1234-123456789abc}",
		"x1234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {x}", "", "\t\t",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n"))[:min(30, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, err := parseTVConnection(string(line), false)
		if err == nil && !mayBeTVConnection(line) {
			t.Errorf("precheck rejects %q, which parses", line)
		}
	})
}

// FuzzRemotePrechecks: the AnyDesk and TeamViewer log MatchLine answer as
// their regexps and time parses alone.
func FuzzRemotePrechecks(f *testing.F) {
	for _, s := range []string{
		"Incoming    2024-01-02, 03:04    User    123456789    desk",
		"Outgoing 2024-01-02, 03:04 x 1 y",
		"   info 2024-01-02 03:04:05.678       back   1234   5678    main.app - started",
		"\terror 2024-01-02 03:04:05.678 gsvc 1 2 x y.z - msg",
		"2024/01/02 03:04:05.678  1234  5678 S0   msg", "", "i - ", "2024/",
	} {
		f.Add([]byte(s))
	}
	adc, adt, tvl := NewAnyDeskConnections(), NewAnyDeskTrace(), NewTeamViewerLog()
	f.Fuzz(func(t *testing.T, line []byte) {
		want := false
		if m := adConnRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006-01-02 15:04", string(m[2])+" "+string(m[3]))
			want = err == nil
		}
		if got := adc.MatchLine(nil, line); got != want {
			t.Errorf("ADConnections.MatchLine(%q) = %v, regexp %v", line, got, want)
		}
		want = false
		if m := adTraceRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006-01-02 15:04:05.000", string(m[2]))
			want = err == nil
		}
		if got := adt.MatchLine(nil, line); got != want {
			t.Errorf("ADTrace.MatchLine(%q) = %v, regexp %v", line, got, want)
		}
		want = false
		if m := tvLineRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006/01/02 15:04:05.000", string(m[1]))
			want = err == nil
		}
		if got := tvl.MatchLine(nil, line); got != want {
			t.Errorf("TVLog.MatchLine(%q) = %v, regexp %v", line, got, want)
		}
	})
}

// FuzzTrimLeftBlanks holds trimLeftBlanks to bytes.TrimLeft with the two
// cutsets it stands for.
func FuzzTrimLeftBlanks(f *testing.F) {
	for _, s := range []string{"", " \t\n\f\r\vx", "\v\tinfo", "\r\n", "x ", " \u00a0x", "\x0b\x0c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := trimLeftBlanks(b, false), bytes.TrimLeft(b, "\t\n\f\r "); !bytes.Equal(got, want) {
			t.Errorf("trimLeftBlanks(%q, false) = %q, TrimLeft %q", b, got, want)
		}
		if got, want := trimLeftBlanks(b, true), bytes.TrimLeft(b, "\t\n\v\f\r "); !bytes.Equal(got, want) {
			t.Errorf("trimLeftBlanks(%q, true) = %q, TrimLeft %q", b, got, want)
		}
	})
}
