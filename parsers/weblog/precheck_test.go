package weblog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLooksLikeRecord: the '[' precheck of looksLikeRecord never rejects a
// line one of the three parses accepts.
func FuzzLooksLikeRecord(f *testing.F) {
	for _, s := range []string{
		`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`,
		`[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied`,
		`2024/01/02 03:04:05 [error] 1#1: *1 open() failed, client: 1.2.3.4`,
		"", "no bracket here", "[", "]",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n"))[:min(20, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, l []byte) {
		ev, _ := parseAccess(l)
		_, errA := parseApacheError(l)
		_, errN := parseNginxError(l)
		want := ev != nil || errA == nil || errN == nil
		if got := looksLikeRecord(l); got != want {
			t.Errorf("looksLikeRecord(%q) = %v, the parses say %v", l, got, want)
		}
	})
}
