package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRecorder puts the recorder in front of a real HTTP server that keeps
// what it receives: each _bulk body must reach the server unchanged and be
// on disk byte for byte, in arrival order, with its query string; other
// requests pass through and leave no file.
func TestRecorder(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.Method+" "+r.URL.Path] = append(got[r.Method+" "+r.URL.Path], string(b))
		mu.Unlock()
		io.WriteString(w, `{"errors":false}`)
	}))
	defer node.Close()
	up, err := url.Parse(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	proxy := httptest.NewServer(newRecorder(up, dir))
	defer proxy.Close()

	bodies := []string{
		"{\"create\":{\"_id\":\"a\"}}\n{\"message\":\"one\"}\n",
		"{\"create\":{\"_id\":\"b\"}}\n{\"message\":\"two \\u00e9\"}\n{\"create\":{\"_id\":\"c\"}}\n{}\n",
	}
	tests := []struct {
		method, path, body string
		gzip               bool
		wantFile           string // "" when nothing is recorded
	}{
		{"PUT", "/_index_template/t", `{"priority":1}`, false, ""},
		{"POST", "/idx/_bulk?filter_path=errors%2Citems.%2A.status", bodies[0], false, "bulk-000001.ndjson"},
		{"POST", "/idx/_bulk?filter_path=other", bodies[1], true, "bulk-000002.ndjson.gz"},
		{"POST", "/idx/_count", `{"query":{}}`, false, ""},
		{"GET", "/idx/_bulk", "", false, ""},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, proxy.URL+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(answer) != `{"errors":false}` {
			t.Errorf("%s %s: answer %d %q, want the node's", tc.method, tc.path, res.StatusCode, answer)
		}
		key := tc.method + " " + strings.SplitN(tc.path, "?", 2)[0]
		mu.Lock()
		sent := got[key]
		mu.Unlock()
		if len(sent) == 0 || sent[len(sent)-1] != tc.body {
			t.Errorf("%s: the node got %q, want %q", key, sent, tc.body)
		}
		if tc.wantFile == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, tc.wantFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, []byte(tc.body)) {
			t.Errorf("%s holds %q, want %q", tc.wantFile, b, tc.body)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "bulk-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Errorf("recorded %d bodies (%v), want 2", len(files), files)
	}
	q, err := os.ReadFile(filepath.Join(dir, "bulk.query"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "filter_path=errors%2Citems.%2A.status\n"; string(q) != want {
		t.Errorf("bulk.query = %q, want the first request's %q", q, want)
	}
}

// TestRunRefusesNonLoopback: the proxy never listens beyond this machine.
func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if err := run("http://127.0.0.1:1", t.TempDir(), addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run(listen %s) = %v, want a loopback refusal", addr, err)
		}
	}
}
