package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// esPassword is the secret the tests below must never find again.
const esPassword = "Pw-5ecret@Jakarta:9200"

// withCredentials puts user:esPassword into a node URL, escaped as a user
// would type it for curl.
func withCredentials(t *testing.T, node, user string) string {
	t.Helper()
	u, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, esPassword)
	return u.String()
}

// assertNoPassword fails when the password (as typed or URL-escaped)
// appears in the output or in any file of the case folder (custody log,
// runs, the SQLite store and its journal).
func assertNoPassword(t *testing.T, what, output, caseDir string) {
	t.Helper()
	secrets := []string{esPassword, url.UserPassword("x", esPassword).String()[2:], "5ecret"}
	for _, s := range secrets {
		if strings.Contains(output, s) {
			t.Errorf("%s prints the password (%q):\n%s", what, s, output)
		}
	}
	_ = filepath.WalkDir(caseDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("5ecret")) {
			t.Errorf("%s: %s holds the password", what, p)
		}
		return nil
	})
}

// securedNode answers like an Elasticsearch cluster with security on that
// refuses the credentials (401 security_exception), and records the basic
// auth each request carried.
func securedNode(t *testing.T) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		seen = append(seen, u+":"+p)
		mu.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [%s] for REST request [%s]"},"status":401}`, u, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// TestESPasswordNeverShown: a password given in the --es URL reaches the
// node as basic auth, and appears in no output and no case file, whether
// the node refuses it, cannot be reached, or the URL does not parse; for
// every command that takes --es.
func TestESPasswordNeverShown(t *testing.T) {
	cs := filepath.Join(t.TempDir(), "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	mustRun(t, exitOK, "ingest", cs)

	node, seen := securedNode(t)
	nodes := map[string]string{
		"refusing node": withCredentials(t, node, "jejak"),
		// Port 1 on loopback: nothing listens there.
		"unreachable node": withCredentials(t, "http://127.0.0.1:1", "jejak"),
		"bad port":         "http://jejak:" + esPassword + "@127.0.0.1:port",
		// Two nodes, the password on the second only.
		"second node": "http://127.0.0.1:1," + withCredentials(t, node, "jejak"),
	}
	for name, es := range nodes {
		for _, args := range [][]string{
			{"index", cs},
			{"ingest", cs},
			{"search", cs, "event.action:ssh_login"},
			{"hunt", cs, "--after", "2000-01-01"},
		} {
			args = append(args, "--es", es)
			out, errs, code := jejak(t, args...)
			what := name + ": jejak " + args[0]
			if code != exitFatal && code != exitUsage {
				t.Errorf("%s: exit %d, want a failure\n%s", what, code, errs)
			}
			if !strings.Contains(errs, "127.0.0.1") {
				t.Errorf("%s: the error does not name the node: %q", what, errs)
			}
			if strings.Contains(errs, "WARNING") {
				t.Errorf("%s: loopback drew the plain-http warning: %q", what, errs)
			}
			assertNoPassword(t, what, out+errs, cs)
		}
	}
	// The credentials did reach the node, as basic auth.
	got := seen()
	if len(got) == 0 {
		t.Fatal("the refusing node got no request")
	}
	for _, s := range got {
		if s != "jejak:"+esPassword {
			t.Errorf("node got basic auth %q, want jejak:<password>", s)
		}
	}

	// Credentials in the URL and other ones in the flags: refused, not
	// guessed, and the message quotes neither password.
	out, errs, code := jejak(t, "index", cs, "--es", withCredentials(t, node, "jejak"), "--user", "jejak", "--password", "other")
	if code != exitUsage {
		t.Errorf("URL and --password disagree: exit %d, stderr %q", code, errs)
	}
	assertNoPassword(t, "conflicting credentials", out+errs, cs)
}

// TestESPasswordThroughRealNode: with the credentials in the URL, the real
// test node behind a proxy that demands them indexes the case, and nothing
// printed or stored holds the password.
func TestESPasswordThroughRealNode(t *testing.T) {
	u := esURL(t)
	proxy := authProxy(t, u, "jejak", esPassword)
	index := testIndex(t, u, "jejak-test-secret")
	cs := filepath.Join(t.TempDir(), "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	out, errs, code := jejak(t, "ingest", cs, "--es", withCredentials(t, proxy, "jejak"), "--index", index)
	if code != exitOK {
		t.Fatalf("ingest --es with credentials in the URL: exit %d\n%s", code, errs)
	}
	assertNoPassword(t, "ingest --es", out+errs, cs)
	out, errs, code = jejak(t, "index", cs, "--es", withCredentials(t, proxy, "jejak"), "--index", index)
	if code != exitOK || !strings.Contains(errs, "(0 new") {
		t.Fatalf("index: exit %d\n%s", code, errs)
	}
	assertNoPassword(t, "index", out+errs, cs)
}

// TestPlainHTTPCredentialsWarning: credentials sent over plain http to a
// host that is not loopback draw a loud warning naming the node (without
// the password); https, loopback and no credentials draw none. The host is
// in .invalid (RFC 6761), so no request leaves the machine.
func TestPlainHTTPCredentialsWarning(t *testing.T) {
	cs := filepath.Join(t.TempDir(), "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	for _, tc := range []struct {
		name string
		args []string
		warn bool
	}{
		{"password in URL", []string{"--es", "http://jejak:" + url.QueryEscape(esPassword) + "@es1.invalid:9200"}, true},
		{"--user/--password", []string{"--es", "http://es1.invalid:9200", "--user", "jejak", "--password", esPassword}, true},
		{"API key", []string{"--es", "http://es1.invalid:9200", "--api-key", "aWQ6a2V5"}, true},
		{"one of two nodes", []string{"--es", "https://es2.invalid:9200,http://es1.invalid:9200", "--user", "jejak", "--password", esPassword}, true},
		{"https", []string{"--es", "https://jejak:" + url.QueryEscape(esPassword) + "@es1.invalid:9200"}, false},
		{"loopback", []string{"--es", "http://jejak:" + url.QueryEscape(esPassword) + "@127.0.0.1:1"}, false},
		{"localhost", []string{"--es", "http://localhost:1", "--user", "jejak", "--password", esPassword}, false},
		{"no credentials", []string{"--es", "http://es1.invalid:9200"}, false},
	} {
		out, errs, code := jejak(t, append([]string{"index", cs}, tc.args...)...)
		if code != exitFatal {
			t.Errorf("%s: exit %d, want %d (no node there)\n%s", tc.name, code, exitFatal, errs)
		}
		warned := strings.Contains(errs, "WARNING") && strings.Contains(errs, "UNENCRYPTED") && strings.Contains(errs, "http://es1.invalid:9200")
		if warned != tc.warn {
			t.Errorf("%s: warned %v, want %v: %q", tc.name, warned, tc.warn, errs)
		}
		assertNoPassword(t, tc.name, out+errs, cs)
	}
}
