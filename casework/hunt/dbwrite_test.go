package hunt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDBWriteClosingOfTheCount: the application's own account closing the
// count at the cut-off (UPDATE … SET state='closed') is expected activity,
// stated at informational severity; every other write stays high. The
// logs are PostgreSQL's own format with log_statement = 'mod' and
// log_line_prefix = '%m [%p] %q%u@%d ', read by the postgresql parser.
func TestDBWriteClosingOfTheCount(t *testing.T) {
	const head = "2024-02-14 08:02:42.000 UTC [1301] LOG:  database system is ready to accept connections\n"
	before := "2024-02-14 11:59:58.000 UTC [1420] tabulasi@pemilu LOG:  statement: INSERT INTO tally_batch (batch, rows) VALUES (77, 1843);\n"
	closing := "2024-02-14 12:00:00.000 UTC [1420] tabulasi@pemilu LOG:  statement: UPDATE tabulation SET state = 'closed' WHERE id = 1;\n"
	intruder := "2024-02-14 14:19:40.000 UTC [3331] postgres@pemilu LOG:  statement: UPDATE tally SET votes = votes + 500 WHERE station_id = 77;\n" +
		"2024-02-14 14:19:52.000 UTC [3331] postgres@pemilu LOG:  statement: DELETE FROM tally_audit WHERE batch = 77;\n"
	type want struct {
		key      string
		severity Severity
		events   int
	}
	for _, tc := range []struct {
		name   string
		log    string
		params map[string]string
		want   []want
	}{
		{"closing by the application's account", head + before + closing + intruder, nil, []want{
			{"user=tabulasi client=- db=pemilu closing", Informational, 1},
			{"user=postgres client=- db=pemilu", High, 2}}},
		{"the same write by an account that never wrote before", head + strings.ReplaceAll(closing, "tabulasi@", "postgres@") + intruder, nil, []want{
			{"user=postgres client=- db=pemilu", High, 3}}},
		{"no write before the cut-off at all", head + closing, nil, []want{
			{"user=tabulasi client=- db=pemilu", High, 1}}},
		{"a DELETE at the cut-off by the application's account", head + before +
			strings.ReplaceAll(closing, "UPDATE tabulation SET state = 'closed' WHERE id = 1", "DELETE FROM tally_audit"), nil, []want{
			{"user=tabulasi client=- db=pemilu", High, 1}}},
		{"the application's account writing after the window", head + before +
			strings.Replace(closing, "12:00:00.000", "12:05:00.000", 1), nil, []want{
			{"user=tabulasi client=- db=pemilu", High, 1}}},
		{"a wider window in the rule", head + before + strings.Replace(closing, "12:00:00.000", "12:05:00.000", 1),
			map[string]string{"closing_window": "10m"}, []want{
				{"user=tabulasi client=- db=pemilu closing", Informational, 1}}},
		{"a declared operator account", head + closing, map[string]string{"operator_accounts": "tabulasi, operator"}, []want{
			{"user=tabulasi client=- db=pemilu closing", Informational, 1}}},
		{"the application's account closing, then writing later", head + before + closing +
			strings.ReplaceAll(intruder, "postgres@", "tabulasi@"), nil, []want{
			{"user=tabulasi client=- db=pemilu closing", Informational, 1},
			{"user=tabulasi client=- db=pemilu", High, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "postgresql-15-main.log")
			if err := os.WriteFile(p, []byte(tc.log), 0o644); err != nil {
				t.Fatal(err)
			}
			st := buildCase(t, p)
			r := *ruleByID(t, "JEJAK-DATA-02")
			r.Parameters = map[string]string{}
			for k, v := range ruleByID(t, "JEJAK-DATA-02").Parameters {
				r.Parameters[k] = v
			}
			for k, v := range tc.params {
				r.Parameters[k] = v
			}
			fs := hunt(t, st, Config{After: time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC), Rules: []*Rule{&r}})
			if len(fs) != len(tc.want) {
				t.Fatalf("%d findings, want %d: %+v", len(fs), len(tc.want), fs)
			}
			for _, w := range tc.want {
				found := false
				for _, f := range fs {
					if f.Key == w.key {
						found = true
						if f.Severity != w.severity || len(f.Events) != w.events {
							t.Errorf("%s: %s with %d events, want %s with %d", w.key, f.Severity, len(f.Events), w.severity, w.events)
						}
						if w.severity == Informational && !strings.Contains(f.Explanation, "expected closing of the count") {
							t.Errorf("%s: explanation %q", w.key, f.Explanation)
						}
					}
				}
				if !found {
					t.Errorf("no finding %q in %+v", w.key, fs)
				}
			}
		})
	}
}
