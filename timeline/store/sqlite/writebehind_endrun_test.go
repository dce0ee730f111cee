package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEndRunAfterWriteBehindFailure: a run whose write failed is recorded
// as failed by EndRun, with its error, written behind as in line. Written
// behind, the failure is the error of every later call (stopBehind), and
// EndRun, which ends the writes first, returned it before recording
// anything: the run stayed "running", as a killed process's, with no
// error or summary.
func TestEndRunAfterWriteBehindFailure(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"encode", "insert"} {
		for _, behind := range []bool{false, true} {
			s, _ := firstRun(t, behind)
			write(t, s, events(500, "aa"))
			bad := events(300, "bb")
			switch how {
			case "encode":
				bad[250].Jejak.ID = "not hex"
			case "insert":
				if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.event_rows WHEN NEW.id = X'%x'
					BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, mustID(t, bad[7]))); err != nil {
					t.Fatal(err)
				}
			}
			_, werr := s.Write(ctx, bad)
			_, ferr := s.FinishWrites(ctx)
			if werr == nil && ferr == nil {
				t.Fatalf("%s, behind %v: the failed write was not reported", how, behind)
			}
			endErr := s.EndRun(ctx, time.Unix(2, 0), RunFailed, "store: write failed", map[string]int{"events": 800})
			if behind && endErr == nil {
				t.Errorf("%s, behind: EndRun did not return the write-behind's failure", how)
			}
			var state string
			var msg, summary sql.NullString
			if err := s.DB().QueryRow(`SELECT state, error, summary FROM runs ORDER BY id DESC LIMIT 1`).Scan(&state, &msg, &summary); err != nil {
				t.Fatal(err)
			}
			if state != string(RunFailed) || msg.String != "store: write failed" || !strings.Contains(summary.String, "800") {
				t.Errorf("%s, behind %v: the failed run is recorded as %q, error %q, summary %q (EndRun: %v); want failed with its error and summary",
					how, behind, state, msg.String, summary.String, endErr)
			}
			if err := s.EndRun(ctx, time.Unix(3, 0), RunComplete, "", nil); behind && err == nil {
				t.Errorf("%s, behind: EndRun recording a complete run after a failed write-behind returned no error", how)
			}
		}
	}
}
