package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSearchExample: KQL over the example case finds exactly the rows the
// fixture generator wrote for each query (fixtures/gen/main.go).
func TestSearchExample(t *testing.T) {
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t")
	for _, tc := range []struct {
		kql  string
		want int
	}{
		// 5 invalid-user pairs and 12 failures for operator, one source.
		{`event.action:ssh_failed_login and source.ip:203.0.113.45`, 17},
		{`event.action:ssh_failed_login and user.name:operator`, 12},
		{`source.ip:"203.0.113.0/24" and event.action:ssh_login`, 1},
		{`jejak.tags:db_write and user.name:postgres`, 2},
		{`url.original:/admin* and not http.response.status_code:401`, 3},
		{`"password changed"`, 1},
	} {
		out := mustRun(t, exitOK, "search", cs, tc.kql, "--json")
		got := 0
		if s := strings.TrimSpace(out); s != "" {
			got = len(strings.Split(s, "\n"))
		}
		if got != tc.want {
			t.Errorf("%s: %d rows, want %d\n%s", tc.kql, got, tc.want, out)
		}
	}
	if _, errs, code := jejak(t, "search", cs, "user.name:(operator"); code != exitUsage || !strings.Contains(errs, "^") {
		t.Errorf("bad query: exit %d, stderr %q", code, errs)
	}
}
