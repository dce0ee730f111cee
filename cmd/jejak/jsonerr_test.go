package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONErrors: a --json command that fails before its document prints
// {"error": ...} alone on stdout, with the exit status of the failure;
// the line-per-document commands print nothing there.
func TestJSONErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-case")
	for _, c := range []struct {
		args   []string
		code   int
		stream bool
	}{
		{[]string{"ingest", missing}, exitFatal, false},
		{[]string{"ingest"}, exitUsage, false},
		{[]string{"hunt", missing, "--after", "2024-01-01"}, exitFatal, false},
		{[]string{"case", "show", missing}, exitFatal, false},
		{[]string{"evidence", "list", missing}, exitFatal, false},
		{[]string{"watch", missing}, exitFatal, false},
		{[]string{"timeline", missing}, exitFatal, true},
		{[]string{"search", missing, "event.action:x"}, exitFatal, true},
		{[]string{"warnings", missing}, exitFatal, true},
	} {
		t.Run(strings.Join(c.args[:1], " "), func(t *testing.T) {
			out, stderr, code := jejak(t, append(c.args, "--json")...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, c.code, stderr)
			}
			if c.stream {
				if out != "" {
					t.Errorf("a stream printed %q", out)
				}
				return
			}
			docs := jsonDocs(t, out)
			if len(docs) != 1 || len(docs[0]) != 1 || docs[0]["error"] == nil {
				t.Fatalf("stdout is not one {\"error\"} document:\n%s", out)
			}
			if msg := string(docs[0]["error"]); !strings.Contains(stderr, strings.Trim(msg, `"`)) {
				t.Errorf("the error %s is not the one on stderr:\n%s", msg, stderr)
			}
		})
	}
}
