package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// TestESKibanaCommand: `jejak es kibana` writes the saved objects the
// team's Kibana imports — both data views, the dashboard and a search per
// rule with a raw query — that pass the field and reference checks, and
// names on stderr the rules that have no query to give.
func TestESKibanaCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	var out, errb bytes.Buffer
	if code := run([]string{"jejak", "case", "init", dir, "--examiner", "T"}, nil, &out, &errb); code != 0 {
		t.Fatalf("case init: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"jejak", "es", "kibana", dir, "--index", "jejak-k"}, nil, &out, &errb); code != 0 {
		t.Fatalf("es kibana: exit %d: %s", code, errb.String())
	}
	if err := elastic.CheckKibanaObjects(out.Bytes()); err != nil {
		t.Fatalf("objects fail the check: %v", err)
	}
	nd := out.String()
	for _, want := range []string{`"type":"dashboard"`, `"title":"jejak-k-findings"`, `"title":"jejak-k"`, "JEJAK-AUTH-06"} {
		if !strings.Contains(nd, want) {
			t.Errorf("saved objects lack %s", want)
		}
	}
	if !strings.Contains(errb.String(), "without a raw query") {
		t.Errorf("stderr does not name the rules without a query: %q", errb.String())
	}
}
