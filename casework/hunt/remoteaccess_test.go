package hunt

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// plaso's TeamViewer sample: one incoming session from 1660360496 on
// 2024-02-16 14:16:32–14:18:36 UTC in connections_incoming.txt, the same
// session in the application log (incoming request, authentication,
// participant added, "Session to 1660360496 ended"), and one outgoing
// session to 1660360496 on 2024-02-20 in Connections.txt. The AnyDesk files
// (written in AnyDesk's documented formats) hold a console-accepted session
// from 482193576, a rejection from it two hours later, a password session
// from 1079584352 that ad_svc.trace also records, and a token session.
func TestRemoteAccessSessions(t *testing.T) {
	abs := func(rel string) string {
		p, err := filepath.Abs(rel)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := buildCase(t,
		parsertest.Corpus(t, "windows/remote/teamviewer/connections_incoming.txt"),
		parsertest.Corpus(t, "windows/remote/teamviewer/Connections.txt"),
		parsertest.Corpus(t, "windows/remote/teamviewer/TeamViewer15_Logfile.log"),
		abs("../../parsers/remoteaccess/testdata/connection_trace.txt"),
		abs("../../parsers/remoteaccess/testdata/ad_svc.trace"))
	cut := time.Date(2024, 2, 16, 0, 0, 0, 0, time.UTC)
	fs := byRule(hunt(t, st, Config{After: cut}), "JEJAK-RAT-01")
	got := map[string]Finding{}
	for _, f := range fs {
		got[f.Key] = f
		t.Log(f.Severity, f.Key, "|", f.Explanation)
	}
	want := []struct {
		key  string
		sev  Severity
		rows int
		has  []string
	}{
		{"TeamViewer incoming 1660360496 (TestUserRedacted, TestAccountRedacted) at 2024-02-16T14:16:32Z", High, 6,
			[]string{"to 2024-02-16T14:18:36Z", "local user IEUser", "dynamic password", "after the cut-off"}},
		{"TeamViewer outgoing 1660360496 at 2024-02-20T13:10:33Z", High, 2, []string{"session to 1660360496"}},
		{"AnyDesk incoming 482193576 (DESKTOP-7Q2K1LM) at 2024-02-14T19:20:00Z", Medium, 1, []string{"no end recorded", "before the cut-off"}},
		{"AnyDesk incoming 1079584352 (ADMIN-PC) at 2024-02-15T01:46:58Z", Medium, 5,
			[]string{"authenticated by Passwd, password", "address 185.220.101.47", "to 2024-02-15T01:52:40Z"}},
		{"AnyDesk incoming 713306921 (support@ad) at 2024-02-15T02:12:00Z", Medium, 1, []string{"Token"}},
	}
	if len(fs) != len(want) {
		t.Errorf("%d findings, want %d", len(fs), len(want))
	}
	for _, w := range want {
		f, ok := got[w.key]
		if !ok {
			t.Errorf("no finding %q", w.key)
			continue
		}
		if f.Severity != w.sev || len(f.Events) != w.rows || f.Technique != "T1219" {
			t.Errorf("%s: %s, %d rows, %s; want %s, %d", w.key, f.Severity, len(f.Events), f.Technique, w.sev, w.rows)
		}
		for _, s := range w.has {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q: %s", w.key, s, f.Explanation)
			}
		}
	}

	// A cut-off before everything: the rejection alone is a medium
	// finding, every session high.
	fs = byRule(hunt(t, st, Config{After: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}), "JEJAK-RAT-01")
	var high, medium int
	for _, f := range fs {
		switch f.Severity {
		case High:
			high++
		case Medium:
			medium++
			if !strings.Contains(f.Explanation, "rejected") {
				t.Errorf("medium: %s", f.Explanation)
			}
		}
	}
	if high != 5 || medium != 1 {
		t.Errorf("%d high, %d medium; want 5, 1", high, medium)
	}
}
