package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// chmodOnEvidenceLine is analyze's stderr: when analyze prints the item's
// SHA-256 ("evidence … sha256 …"), the SHA-1/MD5 pass beside the ingest
// has yet to be checked against the file, and the chmod changes the file's
// inode (not its bytes), as casework's TestIngestRegistering does from the
// SHA-256 pass's progress.
type chmodOnEvidenceLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	path string
	done bool
	err  error
}

func (w *chmodOnEvidenceLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && bytes.HasPrefix(p, []byte("evidence ")) {
		w.done = true
		w.err = os.Chmod(w.path, 0o600)
	}
	return w.buf.Write(p)
}

// jsonDocs decodes every JSON document of out; a script reading --json
// expects exactly one.
func jsonDocs(t *testing.T, out string) []map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var docs []map[string]json.RawMessage
	for {
		var d map[string]json.RawMessage
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return docs
		} else if err != nil {
			t.Fatalf("stdout is not JSON documents: %v\n%s", err, out)
		}
		docs = append(docs, d)
	}
}

// TestAnalyzeJSONLateHashFails: the evidence changes after its SHA-256 is
// taken, so its registration fails while the ingest runs. analyze --json
// prints one document, an "error" naming the file (no summary of events
// that are not kept), exits 1, and leaves no store. Before, stdout was
// empty, or (when the ingest had started) the summary of the discarded run.
func TestAnalyzeJSONLateHashFails(t *testing.T) {
	src, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		copies int
		after  bool
	}{
		{"small", 1, false},
		{"20MB", 20000, false},
		{"with --after", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ev := filepath.Join(root, "auth.log")
			if err := os.WriteFile(ev, bytes.Repeat(src, tc.copies), 0o644); err != nil {
				t.Fatal(err)
			}
			cs := filepath.Join(root, "case")
			args := []string{"jejak", "analyze", ev, "--out", cs, "--examiner", "t", "--json"}
			if tc.after {
				args = append(args, "--after", "2024-01-01")
			}
			var out bytes.Buffer
			errw := &chmodOnEvidenceLine{path: ev}
			code := run(args, strings.NewReader(""), &out, errw)
			if errw.err != nil || !errw.done {
				t.Fatalf("chmod: %v (done %v)\nstderr:\n%s", errw.err, errw.done, errw.buf.String())
			}
			docs := jsonDocs(t, out.String())
			if code != exitFatal || len(docs) != 1 {
				t.Fatalf("exit %d, %d JSON documents; want exit 1 and one\nstdout:\n%s\nstderr:\n%s", code, len(docs), out.String(), errw.buf.String())
			}
			var msg string
			if err := json.Unmarshal(docs[0]["error"], &msg); err != nil || !strings.Contains(msg, "changed while it was being hashed") || !strings.Contains(msg, ev) {
				t.Errorf("error %q (%v); want the late hash's failure naming %s", msg, err, ev)
			}
			if len(docs[0]) != 1 {
				t.Errorf("document %s; want the error alone", out.String())
			}
			if _, err := os.Stat(filepath.Join(cs, "case.db")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("store after a failed registration: %v", err)
			}
		})
	}
}

// TestAnalyzeJSONAfterOneDocument: analyze --json --after prints one
// document, the ingest summary with the hunt's document under "hunt", the
// same as hunt --json prints for the case; without --after, the summary
// as ingest --json prints it.
func TestAnalyzeJSONAfterOneDocument(t *testing.T) {
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cs := filepath.Join(root, "case")
	out := mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t", "--json", "--after", "2024-02-14 19:00")
	docs := jsonDocs(t, out)
	if len(docs) != 1 {
		t.Fatalf("%d JSON documents; want one\n%s", len(docs), out)
	}
	sum := summaryOf(t, out)
	if sum.Events == 0 || !sum.Clean() {
		t.Errorf("summary: %+v", sum)
	}
	var inDoc, alone struct {
		Hunt     string            `json:"hunt"`
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(docs[0]["hunt"], &inDoc); err != nil {
		t.Fatalf("hunt: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14 19:00", "--json")), &alone); err != nil {
		t.Fatal(err)
	}
	if len(inDoc.Findings) != 9 || inDoc.Hunt == "" || inDoc.Hunt != alone.Hunt || len(alone.Findings) != len(inDoc.Findings) {
		t.Errorf("analyze's hunt %q with %d findings, hunt --json's %q with %d; want the same 9", inDoc.Hunt, len(inDoc.Findings), alone.Hunt, len(alone.Findings))
	}
	for i := range inDoc.Findings {
		var a, b bytes.Buffer
		if json.Compact(&a, inDoc.Findings[i]) != nil || json.Compact(&b, alone.Findings[i]) != nil || a.String() != b.String() {
			t.Errorf("finding %d: analyze %s\nhunt %s", i, a.String(), b.String())
		}
	}

	again := filepath.Join(root, "again")
	out = mustRun(t, exitOK, "analyze", example, "--out", again, "--tz", "Asia/Jakarta", "--examiner", "t", "--json")
	if docs := jsonDocs(t, out); len(docs) != 1 || docs[0]["hunt"] != nil || docs[0]["error"] != nil {
		t.Errorf("without --after: %s", out)
	}
	if ing := mustRun(t, exitOK, "ingest", again, "--json"); len(jsonDocs(t, ing)) != 1 {
		t.Errorf("ingest --json: %s", ing)
	}
}
