package hunt

import (
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestFirstSeenIdleWithoutBaseline: when the first logon after the cut-off
// comes with no logon before it, first-seen stops looking (the rows come in
// time order, so the baseline stays empty and finish has nothing to compare
// with): it holds no row and finds nothing, as before. With one logon in
// the baseline it keeps every new source, as before.
func TestFirstSeenIdleWithoutBaseline(t *testing.T) {
	base := time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
	cut := base.Add(time.Hour)
	logon := func(at time.Time, ip, action string) *timeline.Event {
		ev := &timeline.Event{Timestamp: at, TimestampDesc: "Event Time",
			Event: timeline.EventMeta{Kind: "event", Action: action, Outcome: "failure"},
			Host:  &timeline.Host{Name: "tabulasi-01"}, User: &timeline.User{Name: "root"}, Source: &timeline.Endpoint{IP: ip}}
		if action == "ssh_login" {
			ev.Event.Outcome = "success"
		}
		ev.Jejak.ID = fmt.Sprintf("%032x", at.UnixNano())
		ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "e", EvidenceName: "auth.log", Path: "auth.log", Parser: "syslog"}
		return ev
	}
	for _, tc := range []struct {
		name     string
		baseline int // logons before the cut-off
		idle     bool
		found    int // keys held at finish
		findings int
	}{
		{"log starts after the cut-off", 0, true, 0, 0},
		{"a baseline", 1, false, 30, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range []string{"JEJAK-AUTH-03", "JEJAK-AUTH-04"} {
				h := testHunter(Config{After: cut})
				a, err := newFirstSeen(h, ruleByID(t, id))
				if err != nil {
					t.Fatal(err)
				}
				f := a.(*firstSeen)
				for i := range tc.baseline {
					f.observe(logon(base.Add(time.Duration(i)*time.Second), "192.0.2.10", "ssh_login"))
				}
				// After the cut-off: 30 sources, the last one getting in
				// (AUTH-04 sees its account "root" as new only if root was
				// not in the baseline: with a baseline it was).
				for i := range 30 {
					action := "ssh_failed_login"
					if i == 29 {
						action = "ssh_login"
					}
					for j := range 6 {
						f.observe(logon(cut.Add(time.Duration(i*6+j)*time.Second), fmt.Sprintf("198.51.100.%d", i), action))
					}
				}
				if f.idle != tc.idle {
					t.Errorf("%s: idle %v, want %v", id, f.idle, tc.idle)
				}
				fs := f.finish()
				if id == "JEJAK-AUTH-04" {
					// root logged on in the baseline, or there is none.
					if len(f.found) != 0 || len(fs) != 0 {
						t.Errorf("%s: %d keys held, %d findings; want none", id, len(f.found), len(fs))
					}
					continue
				}
				if len(f.found) != tc.found || len(fs) != tc.findings {
					t.Errorf("%s: %d keys held, %d findings; want %d and %d", id, len(f.found), len(fs), tc.found, tc.findings)
				}
			}
		})
	}
}
