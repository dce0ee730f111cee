package hunt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// JEJAK-AUTH-11 on SQL Server's own ERRORLOG (parsers/sqlserver testdata,
// written in the format SQL Server 2019 writes): from 10.0.0.5, five
// wrong passwords for sa and one unknown login 'admin' within three
// seconds, then a successful SQL login as sa: one high finding of seven
// rows. The lone untrusted-domain failure from 10.0.0.77 and the Windows
// login over shared memory are under the threshold.
func TestMSSQLBurstErrorlog(t *testing.T) {
	p, err := filepath.Abs("../../parsers/sqlserver/testdata/ERRORLOG")
	if err != nil {
		t.Fatal(err)
	}
	st := buildCase(t, p)
	r := ruleByID(t, "JEJAK-AUTH-11")
	fs, err := Hunt(context.Background(), st, Config{Rules: []*Rule{r}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Key != "10.0.0.5" || len(f.Events) != 7 || f.Severity != High {
		t.Errorf("key %q, %d rows, %s: %s", f.Key, len(f.Events), f.Severity, f.Explanation)
	}
	for _, w := range []string{"6 failed SQL Server logins", "sa, admin", "successful login (18454)"} {
		if !strings.Contains(f.Explanation, w) {
			t.Errorf("explanation lacks %q: %s", w, f.Explanation)
		}
	}

	// The same logons in the Application log as well (SQL Server writes
	// both): each is counted once.
	var evs eventList
	n := 1000
	if err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		evs = append(evs, ev)
		if ev.Event.Action != "logon-failed" && ev.Event.Action != "logon-success" {
			return nil
		}
		id := 18456
		if ev.Event.Action == "logon-success" {
			id = 18454
		}
		user := ""
		if ev.User != nil {
			user = ev.User.Name
		}
		n++
		w := winEv(n, 0, "MSSQLSERVER", id, map[string]string{"Data1": user, "Data3": " [CLIENT: " + ev.Source.Address + "]"})
		w.Timestamp = ev.Timestamp.Add(3 * time.Millisecond)
		w.Jejak.ID = fmt.Sprintf("evtx%d", n)
		evs = append(evs, w)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fs = runRule(t, "JEJAK-AUTH-11", evs, nil)
	if len(fs) != 1 || len(fs[0].Events) != 7 {
		t.Fatalf("with Application-log copies: %d findings, %+v", len(fs), fs)
	}
}
