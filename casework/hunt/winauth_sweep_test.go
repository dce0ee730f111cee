package hunt

import (
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestWindowsEpisodesSwept: on a Windows server on the internet every
// failed logon may come from an address never seen again. The password
// spray and Kerberos burst analyzers close the episodes idle for longer
// than their window as they go (sweepIdle), so what they hold open is the
// last window's sources, not one per source of the whole log; a source
// that keeps spraying is still found.
func TestWindowsEpisodesSwept(t *testing.T) {
	h := &hunter{cfg: Config{}, zone: time.UTC, strs: map[string]string{}, chains: map[string][]string{}}
	spray, err := newPasswordSpray(h, ruleByID(t, "JEJAK-AUTH-07"))
	if err != nil {
		t.Fatal(err)
	}
	kerb, err := newKerberosBurst(h, ruleByID(t, "JEJAK-AUTH-08"))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)
	const n = 20_000 // one attempt a second from a new address each
	ev := func(i int, id int, ip, user string) *timeline.Event {
		e := &timeline.Event{Timestamp: base.Add(time.Duration(i) * time.Second),
			Winlog: &timeline.Winlog{Channel: "Security", EventID: id, ProviderName: securityAuditing,
				EventData: map[string]string{"IpAddress": ip, "TargetUserName": user, "Status": "0x18"}}}
		e.Jejak.ID = fmt.Sprintf("%032x", i)
		return e
	}
	for i := range n {
		ip := fmt.Sprintf("198.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		spray.observe(ev(i, 4625, ip, "user"+fmt.Sprint(i%50)))
		kerb.observe(ev(i, 4771, ip, "user"+fmt.Sprint(i%50)))
		if i%100 == 0 { // and one source spraying all along
			spray.observe(ev(i, 4625, "203.0.113.9", "name"+fmt.Sprint(i/100)))
		}
	}
	ps, kb := spray.(*passwordSpray), kerb.(*kerberosBurst)
	// 30 and 10 minutes of one address a second, swept once a window.
	if got := len(ps.open); got > 2*30*60+1 {
		t.Errorf("password spray holds %d open episodes after %d sources, want at most two windows' worth", got, n)
	}
	if got := len(kb.bySource); got > 2*10*60 {
		t.Errorf("Kerberos burst holds %d open episodes by source after %d sources, want at most two windows' worth", got, n)
	}
	fs := spray.finish()
	if len(fs) != 1 || fs[0].Key != "203.0.113.9" {
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
		}
		t.Errorf("password spray findings %v, want the one spraying source", keys)
	}
}
