package main

import (
	"bytes"
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

// TestReportExportFromCluster: the example case analysed and hunted
// locally, indexed ('jejak index' copies its hunts with their findings)
// and pushed ('jejak case push'); 'report NAME --es' and 'export NAME
// --es' then write from the cluster alone (case files and custody pulled,
// timeline through a point in time, hunt, findings, runs and warnings from
// their indices) the very bytes the case folder gives: report and manifest
// in md and html, export and manifest in csv, jsonl and timesketch. Both
// custody chains record the outputs written from them.
//
// Nothing needs to differ: the one check the cluster cannot make, the
// digest of case.db's rows, is "not requested" in the audit, which the
// manifest's custody block (intact, problem, not covered) does not state.
func TestReportExportFromCluster(t *testing.T) {
	u := esURL(t)
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t")
	// Damaged EVTX files: warnings of every class, several per file, for
	// the report's limitations to state alike from either store.
	mustRun(t, exitOK, "evidence", "add", cs, filepath.Join(parsertest.Corpus(t, "logs"), "windows"))
	if _, errs, code := jejak(t, "ingest", cs, "-q"); code != exitWarnings {
		t.Fatalf("ingest of the damaged EVTX files: exit %d, want %d (warnings)\n%s", code, exitWarnings, errs)
	}
	mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14 19:00", "--json")
	index := testIndex(t, u, "jejak-test-cluster-report")
	t.Cleanup(func() {
		paths := []string{index + "-hunts"}
		for _, p := range elastic.CaseParts {
			paths = append(paths, elastic.CaseIndex(index, p), "_index_template/jejak-case-"+elastic.CaseIndex(index, p))
		}
		for _, p := range paths {
			req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(u, "/")+"/"+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	es := []string{"--es", u, "--index", index}
	if _, errs, code := jejak(t, append([]string{"index", cs, "-q"}, es...)...); code != exitOK {
		t.Fatalf("index: exit %d\n%s", code, errs)
	}
	mustRun(t, exitOK, append([]string{"case", "push", cs}, es...)...)

	local, remote := filepath.Join(dir, "local"), filepath.Join(dir, "cluster")
	for _, d := range []string{local, remote} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	same := func(name string) {
		t.Helper()
		for _, f := range []string{name, name + ".manifest.json"} {
			a, err := os.ReadFile(filepath.Join(local, f))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(remote, f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
				for i := range min(len(al), len(bl)) {
					if al[i] != bl[i] {
						t.Fatalf("%s from the cluster differs from the case folder's at line %d:\nfolder:  %s\ncluster: %s", f, i+1, al[i], bl[i])
					}
				}
				t.Fatalf("%s from the cluster differs from the case folder's: %d lines, %d from the folder", f, len(bl), len(al))
			}
			if len(a) < 200 {
				t.Fatalf("%s is %d bytes: nothing was compared", f, len(a))
			}
		}
	}
	for _, format := range []string{"md", "html"} {
		name := "report." + format
		mustRun(t, exitOK, "report", cs, "--format", format, "-o", filepath.Join(local, name))
		mustRun(t, exitOK, append([]string{"report", "case", "--format", format, "-o", filepath.Join(remote, name)}, es...)...)
		same(name)
	}
	rep, err := os.ReadFile(filepath.Join(remote, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep), "JEJAK-") {
		t.Fatal("the report from the cluster names no finding: the hunt did not reach it")
	}
	if !strings.Contains(string(rep), "| unrecovered | dir:") {
		t.Fatal("the report from the cluster lists no warning group: the comparison did not cover them")
	}
	for _, format := range []string{"csv", "jsonl", "timesketch"} {
		name := "timeline-" + format + ".jsonl"
		mustRun(t, exitOK, "export", cs, "--format", format, "-o", filepath.Join(local, name))
		mustRun(t, exitOK, append([]string{"export", "case", "--format", format, "-o", filepath.Join(remote, name)}, es...)...)
		same(name)
	}
	// The outputs from the cluster are in the cluster's chain, which still
	// verifies; the case folder's chain has its own.
	var show struct {
		CustodyOK bool `json:"custody_ok"`
		Entries   int  `json:"custody_entries"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, append([]string{"case", "show", "case", "--json"}, es...)...)), &show); err != nil {
		t.Fatal(err)
	}
	folder, err := os.ReadFile(filepath.Join(cs, "custody.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(folder, []byte("\n")); !show.CustodyOK || show.Entries != n {
		t.Fatalf("cluster chain: %+v; the folder's has %d entries (both should have the push and then 5 outputs each)", show, n)
	}
	for _, f := range []string{"report.md", "timeline-csv.jsonl"} {
		out := mustRun(t, exitOK, "verify", filepath.Join(local, f), "--case", cs)
		if !strings.Contains(out, "1 file(s) verified") {
			t.Fatalf("verify %s: %s", f, out)
		}
		// The copy written from the cluster is recorded in the cluster's
		// chain, at the entry after the same basis.
		out = mustRun(t, exitOK, append([]string{"verify", filepath.Join(remote, f), "--case", "case"}, es...)...)
		if !strings.Contains(out, "1 file(s) verified") || !strings.Contains(out, "ok           "+filepath.Join(remote, f)+" custody record") {
			t.Fatalf("verify --es %s: %s", f, out)
		}
	}
	// A file the cluster's chain did not record fails there.
	if err := os.WriteFile(filepath.Join(remote, "report.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := jejak(t, append([]string{"verify", filepath.Join(remote, "report.md"), "--case", "case"}, es...)...); code == exitOK || !strings.Contains(out, "FAILED") {
		t.Fatalf("verify --es of a changed report: exit %d\n%s", code, out)
	}
}

// TestExportFromWorkerCase: a case whose timeline only workers built (the
// folder pushed before any ingest) exports from the cluster to the bytes a
// single-machine ingest of the same evidence exports, and its workers'
// runs make the timeline complete (exit 0, not 3), for export and report.
func TestExportFromWorkerCase(t *testing.T) {
	u := esURL(t)
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")
	logs := parsertest.Corpus(t, "logs")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "CLI Test", "--name", "wexport", "--tz", "Asia/Jakarta")
	mustRun(t, exitOK, "evidence", "add", cs, filepath.Join(logs, "syslog"), filepath.Join(logs, "linux"))
	index := testIndex(t, u, "jejak-test-worker-export")
	t.Cleanup(func() {
		paths := []string{index + "-hunts"}
		for _, p := range elastic.CaseParts {
			paths = append(paths, elastic.CaseIndex(index, p), "_index_template/jejak-case-"+elastic.CaseIndex(index, p))
		}
		for _, p := range paths {
			req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(u, "/")+"/"+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	es := []string{"--es", u, "--index", index}
	mustRun(t, exitOK, append([]string{"case", "push", cs}, es...)...)
	if _, errs, code := jejak(t, append([]string{"worker", "--case", "wexport", "--lease", "10s", "--work-dir", filepath.Join(dir, "w")}, es...)...); code != exitOK {
		t.Fatalf("worker: exit %d\n%s", code, errs)
	}
	// The single-machine timeline of the same evidence, in the folder.
	if _, errs, code := jejak(t, "ingest", cs, "-q"); code != exitOK && code != exitWarnings {
		t.Fatalf("ingest: exit %d\n%s", code, errs)
	}
	for _, format := range []string{"csv", "jsonl"} {
		local := filepath.Join(dir, "local."+format)
		remote := filepath.Join(dir, "cluster."+format)
		mustRun(t, exitOK, "export", cs, "--format", format, "-o", local)
		mustRun(t, exitOK, append([]string{"export", "wexport", "--format", format, "-o", remote}, es...)...)
		a, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(remote)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) < 100 {
			t.Fatalf("%s export: the workers' timeline from the cluster (%d bytes, %d lines) is not the single-machine one (%d bytes, %d lines)",
				format, len(b), bytes.Count(b, []byte("\n")), len(a), bytes.Count(a, []byte("\n")))
		}
	}
	out := mustRun(t, exitOK, append([]string{"report", "wexport", "-o", "-"}, es...)...)
	if !strings.Contains(out, "wexport") {
		t.Fatalf("report --es of the workers' case:\n%.500s", out)
	}
}

// TestClusterOutputOfSignedCase: a signed case in the cluster takes no
// unsigned custody entry, so report and export files from it are refused
// before anything is written (the file's record would be lost), while
// the same output to stdout, which is recorded nowhere, is given.
func TestClusterOutputOfSignedCase(t *testing.T) {
	u := esURL(t)
	key, pub := jejakKey(t)
	a := makeAttackCase(t, key, pub)
	index := testIndex(t, u, "jejak-test-signed")
	t.Cleanup(func() {
		paths := []string{index + "-hunts"}
		for _, p := range elastic.CaseParts {
			paths = append(paths, elastic.CaseIndex(index, p), "_index_template/jejak-case-"+elastic.CaseIndex(index, p))
		}
		for _, p := range paths {
			req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(u, "/")+"/"+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	es := []string{"--es", u, "--index", index}
	mustRun(t, exitOK, append([]string{"--sign-key", key, "index", a.dir, "-q"}, es...)...)
	mustRun(t, exitOK, append([]string{"--sign-key", key, "case", "push", a.dir}, es...)...)
	out := filepath.Join(t.TempDir(), "r.md")
	for _, args := range [][]string{{"report", "tps-001", "-o", out}, {"export", "tps-001", "-o", out}} {
		_, errs, code := jejak(t, append(args, es...)...)
		if code == exitOK || !strings.Contains(errs, "is signed") {
			t.Errorf("%s of a signed case from the cluster to a file: exit %d\n%s", args[0], code, errs)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%s refused, but %s was written", args[0], out)
		}
		if stdout := mustRun(t, exitOK, append([]string{args[0], "tps-001", "-o", "-"}, es...)...); len(stdout) < 200 {
			t.Errorf("%s of a signed case from the cluster to stdout: %q", args[0], stdout)
		}
	}
}
