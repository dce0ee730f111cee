package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

func esURL(t *testing.T) string {
	u := os.Getenv("JEJAK_TEST_ES")
	if u == "" {
		t.Skip("JEJAK_TEST_ES not set: run via scripts/test.sh, which starts a loopback node")
	}
	return u
}

// testIndex names a fresh index for one test run, and deletes it (with its
// findings index and template) when the test ends. A fixed name would meet
// the documents of an earlier run on a node that outlived it: same event
// IDs, other file times.
func testIndex(t *testing.T, url, base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	index := base + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		for _, p := range []string{index, index + "-findings", "_index_template/" + elastic.TemplateName(index), "_index_template/" + elastic.TemplateName(index+"-findings")} {
			req, err := http.NewRequest(http.MethodDelete, strings.TrimRight(url, "/")+"/"+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	return index
}

// TestIndexCorpusCase: the corpus logs go into a case, then into
// Elasticsearch; the index holds exactly the case's events, sampled events
// round-trip field for field, and indexing again changes nothing.
func TestIndexCorpusCase(t *testing.T) {
	url := esURL(t)
	ctx := context.Background()
	dir := t.TempDir()
	cs := filepath.Join(dir, "corpus-case")
	// Every corpus folder: the template must reject nothing jejak makes.
	_, errs, code := jejak(t, "analyze", parsertest.Corpus(t, "logs"), parsertest.Corpus(t, "more"),
		parsertest.Corpus(t, "archives"), parsertest.Corpus(t, "ntfs"), "--out", cs, "--examiner", "t")
	if code != exitOK && code != exitWarnings {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}
	index := testIndex(t, url, "jejak-test-corpus")
	mustRun(t, exitOK, "index", cs, "--es", url, "--index", index)
	_, errs, _ = jejak(t, "index", cs, "--es", url, "--index", index)
	if !strings.Contains(errs, "(0 new") {
		t.Errorf("re-index added events: %s", errs)
	}

	store, err := sqlite.Open(ctx, filepath.Join(cs, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	es, err := elastic.Open(ctx, elastic.Config{URLs: []string{url}, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	want, _ := store.Count(ctx, timeline.Query{})
	got, err := es.Count(ctx, timeline.Query{})
	if err != nil || got != want || want < 1000 {
		t.Fatalf("index holds %d, case %d (%v)", got, want, err)
	}
	// Both stores return the same rows in the same order; compare every
	// 97th event's whole document.
	var fromSQL, fromES []string
	collect := func(out *[]string) func(*timeline.Event) error {
		i := 0
		return func(e *timeline.Event) error {
			if i%97 == 0 {
				b, _ := json.Marshal(e)
				*out = append(*out, string(b))
			}
			i++
			return nil
		}
	}
	if err := store.Search(ctx, timeline.Query{}, collect(&fromSQL)); err != nil {
		t.Fatal(err)
	}
	if err := es.Search(ctx, timeline.Query{}, collect(&fromES)); err != nil {
		t.Fatal(err)
	}
	if len(fromSQL) != len(fromES) {
		t.Fatalf("samples: %d from SQLite, %d from Elasticsearch", len(fromSQL), len(fromES))
	}
	for i := range fromSQL {
		if fromSQL[i] != fromES[i] {
			t.Errorf("sample %d differs:\nsqlite %s\nes     %s", i, fromSQL[i], fromES[i])
			break
		}
	}
}

func TestIngestToBothStores(t *testing.T) {
	url := esURL(t)
	dir := t.TempDir()
	cs := filepath.Join(dir, "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "archives/syslog.tgz"))
	// Thousands of events: the stream to Elasticsearch spans many batches.
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log"))
	index := testIndex(t, url, "jejak-test-both")
	// syslog_copy has one unreadable line (plaso's warning too): exit 3.
	sum := summaryOf(t, mustRun(t, exitWarnings, "ingest", cs, "--es", url, "--index", index, "--json"))
	if sum.Inserted < 7000 {
		t.Fatalf("ingested %+v, want the auth.log's 7,125 events and more", sum)
	}
	ctx := context.Background()
	es, err := elastic.Open(ctx, elastic.Config{URLs: []string{url}, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	if n, err := es.Count(ctx, timeline.Query{}); err != nil || n != sum.Inserted {
		t.Fatalf("index holds %d events, the ingest inserted %d (%v)", n, sum.Inserted, err)
	}
	// Another evidence item into both: only its events are new anywhere.
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	again := summaryOf(t, mustRun(t, exitWarnings, "ingest", cs, "--es", url, "--index", index, "--json"))
	if n, err := es.Count(ctx, timeline.Query{}); err != nil || n != sum.Inserted+again.Inserted || again.Inserted == 0 {
		t.Fatalf("after a second ingest the index holds %d events, want %d + %d (%v)", n, sum.Inserted, again.Inserted, err)
	}
}

func TestUnreachableElasticsearch(t *testing.T) {
	dir := t.TempDir()
	cs := filepath.Join(dir, "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	// Port 1 on loopback: nothing listens there.
	_, errs, code := jejak(t, "index", cs, "--es", "http://127.0.0.1:1")
	if code != exitFatal || !strings.Contains(errs, "127.0.0.1:1") {
		t.Errorf("unreachable node: exit %d, stderr %q", code, errs)
	}
}

// authProxy stands in front of the real test node (which runs without
// x-pack security) and demands basic auth as a secured cluster would,
// answering 401 with Elasticsearch's own error body otherwise.
func authProxy(t *testing.T, target, user, password string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gu, gp, ok := r.BasicAuth(); !ok || gu != user || gp != password {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [%s] for REST request [%s]"},"status":401}`, gu, r.URL.Path)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWrongPassword(t *testing.T) {
	url := esURL(t)
	proxy := authProxy(t, url, "jejak", "right")
	index := testIndex(t, url, "jejak-test-auth")
	cs := filepath.Join(t.TempDir(), "c")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	mustRun(t, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	mustRun(t, exitOK, "ingest", cs)
	_, errs, code := jejak(t, "index", cs, "--es", proxy, "--user", "jejak", "--password", "wrong", "--index", index)
	if code != exitFatal || !strings.Contains(errs, "401") || !strings.Contains(errs, "credentials") {
		t.Errorf("wrong password: exit %d, stderr %q", code, errs)
	}
	_, errs, code = jejak(t, "index", cs, "--es", proxy, "--user", "jejak", "--password", "right", "--index", index)
	if code != exitOK {
		t.Errorf("right password: exit %d, stderr %q", code, errs)
	}
}

// TestHuntFindingsToES: hunt --es stores the findings beside the timeline,
// and hunting again with the same parameters replaces them.
func TestHuntFindingsToES(t *testing.T) {
	u := esURL(t)
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t")
	index := testIndex(t, u, "jejak-test-findings")
	count := func(key string) int {
		body := strings.NewReader(fmt.Sprintf(`{"query":{"term":{"hunt":%q}}}`, key))
		res, err := http.Post(u+"/"+index+"-findings/_count", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var c struct{ Count int }
		if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		return c.Count
	}
	var key string
	for run := range 2 {
		if run == 1 {
			// A finding the earlier run stored that this one will not make
			// again (as after rules changed): replacing must remove it.
			req, _ := http.NewRequest(http.MethodPut, u+"/"+index+"-findings/_doc/"+key+"-stale?refresh=true",
				strings.NewReader(fmt.Sprintf(`{"hunt":%q,"id":"stale","rule_id":"JEJAK-GONE"}`, key)))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
		out := mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14 19:00", "--json", "--es", u, "--index", index)
		var h struct {
			Hunt     string            `json:"hunt"`
			Findings []json.RawMessage `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Findings) == 0 {
			t.Fatal("no findings on the example case")
		}
		if run == 1 && h.Hunt != key {
			t.Fatalf("same parameters, another hunt key: %s then %s", key, h.Hunt)
		}
		key = h.Hunt
		if n := count(h.Hunt); n != len(h.Findings) {
			t.Fatalf("run %d: %s-findings holds %d findings of hunt %s, the hunt made %d", run, index, n, h.Hunt, len(h.Findings))
		}
	}
}

func TestAllLoopback(t *testing.T) {
	for _, c := range []struct {
		urls []string
		want bool
	}{
		{[]string{"http://127.0.0.1:9200"}, true},
		{[]string{"http://localhost:9200", "https://[::1]:9200", "http://127.0.0.2:9200"}, true},
		{[]string{"http://127.0.0.1:9200", "https://es1.example:9200"}, false},
		{[]string{"http://10.0.0.5:9200"}, false},
		{[]string{"http://localhost.example:9200"}, false},
		{nil, false},
	} {
		if got := allLoopback(c.urls); got != c.want {
			t.Errorf("allLoopback(%v) = %v, want %v", c.urls, got, c.want)
		}
	}
}
