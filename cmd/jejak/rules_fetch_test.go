package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// sharedSigmaRules is a folder of the SigmaHQ snapshot (DRL-1.1):
// ../shared/sigma beside the corpus, else the repository's fixtures/sigma,
// which holds the folders these tests read (parsertest.SigmaDir).
func sharedSigmaRules(t *testing.T, sub string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(parsertest.SigmaDir(), sub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("SigmaHQ snapshot not present (%v): this test needs ../shared/sigma", err)
	}
	return dir
}

// serve serves files by name on a loopback server; "/moved/NAME"
// redirects to "/NAME", as GitHub's release links do.
func serve(t *testing.T, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/moved/"); ok {
			http.Redirect(w, r, "/"+name, http.StatusFound)
			return
		}
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRulesFetch fetches a zip made by Info-ZIP's zip from the snapshot's
// Windows built-in channel rules, over a loopback server: the unpacked
// files are the zip's, byte for byte; FETCHED.json's SHA-256 is the
// served zip's; 'rules list' then loads or names every rule file.
func TestRulesFetch(t *testing.T) {
	src := sharedSigmaRules(t, "rules")
	zipTool := oracle.Tool(t, "zip", "zip")
	work := t.TempDir()
	zpath := filepath.Join(work, "sigma_core.zip")
	cmd := exec.Command(zipTool, "-q", "-r", zpath, "rules/windows/builtin")
	cmd.Dir = filepath.Dir(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, out)
	}
	zb, err := os.ReadFile(zpath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zb)
	base := serve(t, map[string][]byte{"sigma_core.zip": zb})

	dir := filepath.Join(work, "sigma")
	out := mustRun(t, 0, "rules", "fetch", "--url", base+"/moved/sigma_core.zip", dir)
	if !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Errorf("fetch output does not name the zip's SHA-256:\n%s", out)
	}
	var rec fetchRecord
	b, err := os.ReadFile(filepath.Join(dir, "FETCHED.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.SHA256 != hex.EncodeToString(sum[:]) || rec.Bytes != int64(len(zb)) || rec.URL != base+"/moved/sigma_core.zip" ||
		rec.FinalURL != base+"/sigma_core.zip" || rec.Fetched.IsZero() {
		t.Errorf("FETCHED.json %+v: want sha256 %x, %d bytes, the URL asked and the one redirected to, a date", rec, sum, len(zb))
	}

	// Every source file is there, unchanged, and nothing else but FETCHED.json.
	var want int
	filepath.WalkDir(filepath.Join(src, "windows/builtin"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want++
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("%s not unpacked: %v", rel, err)
		} else if orig, _ := os.ReadFile(p); !bytes.Equal(got, orig) {
			t.Errorf("%s differs from the source", rel)
		}
		return nil
	})
	if rec.Files != want || rec.Rules == 0 || rec.Rules > want {
		t.Errorf("FETCHED.json says %d files, %d rules; the zip holds %d files", rec.Files, rec.Rules, want)
	}

	// The fetched folder is a rules folder: loaded + skipped = its rules.
	out = mustRun(t, 0, "rules", "list", "--json", "--rules", dir)
	var listed struct {
		Sigma sigmaLoad `json:"sigma"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatal(err)
	}
	if listed.Sigma.Loaded+listed.Sigma.Skipped != want || listed.Sigma.Loaded < rec.Rules*9/10 {
		t.Errorf("rules list: %d loaded, %d skipped; the fetch unpacked %d files, %d rules", listed.Sigma.Loaded, listed.Sigma.Skipped, want, rec.Rules)
	}

	// Fetching again replaces an earlier fetch; a folder of one's own is refused.
	mustRun(t, 0, "rules", "fetch", "--url", base+"/sigma_core.zip", dir)
	own := filepath.Join(work, "mine")
	os.MkdirAll(own, 0o755)
	os.WriteFile(filepath.Join(own, "my_rule.yml"), []byte("title: mine\n"), 0o644)
	_, errs, code := jejak(t, "rules", "fetch", "--url", base+"/sigma_core.zip", own)
	if code == 0 || !strings.Contains(errs, "refusing") {
		t.Errorf("fetch into a folder of one's own: exit %d, %s", code, errs)
	}
	if b, err := os.ReadFile(filepath.Join(own, "my_rule.yml")); err != nil || string(b) != "title: mine\n" {
		t.Errorf("the examiner's own rule was touched: %q %v", b, err)
	}
}

// TestRulesFetchRefusesUnsafeZips: entries leaving the folder, links, a
// zip with no Sigma rule, a page that is not a zip, an HTTP error — each
// refused, with nothing written outside the staging folder and no DIR.
func TestRulesFetchRefusesUnsafeZips(t *testing.T) {
	rule := []byte("title: t\nid: 0e95725d-7320-415d-80f7-004da920fc11\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID: 1102\n    condition: selection\n")
	mk := func(entries ...func(*zip.Writer)) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			e(zw)
		}
		zw.Close()
		return buf.Bytes()
	}
	file := func(name string, b []byte) func(*zip.Writer) {
		return func(zw *zip.Writer) {
			w, _ := zw.Create(name)
			w.Write(b)
		}
	}
	link := func(name, to string) func(*zip.Writer) {
		return func(zw *zip.Writer) {
			h := &zip.FileHeader{Name: name}
			h.SetMode(os.ModeSymlink | 0o777)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte(to))
		}
	}
	base := serve(t, map[string][]byte{
		"ok.zip":        mk(file("rules/a.yml", rule)),
		"dotdot.zip":    mk(file("rules/a.yml", rule), file("rules/../../escaped.yml", rule)),
		"abs.zip":       mk(file("/tmp/jejak-abs-escape.yml", rule)),
		"backslash.zip": mk(file(`..\escaped.yml`, rule)),
		"link.zip":      mk(link("rules/l", "/etc"), file("rules/l/passwd.yml", rule)),
		"norules.zip":   mk(file("README.md", []byte("# not rules\n")), file("config.yml", []byte("title: x\nfieldmappings:\n  a: b\n"))),
		"dup.zip":       mk(file("rules/a.yml", rule), file("rules/a.yml", rule)),
		"page.zip":      []byte("<html>rate limited</html>"),
	})
	work := t.TempDir()
	for _, tc := range []struct{ name, want string }{
		{"dotdot.zip", "leaves the rules folder"},
		{"abs.zip", "absolute path"},
		{"backslash.zip", "backslash"},
		{"link.zip", "not a file or folder"},
		{"norules.zip", "no Sigma rule"},
		{"dup.zip", "exists"},
		{"page.zip", "not a zip"},
		{"missing.zip", "404"},
	} {
		dir := filepath.Join(work, "out", strings.TrimSuffix(tc.name, ".zip"))
		_, errs, code := jejak(t, "rules", "fetch", "--url", base+"/"+tc.name, dir)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want an error with %q", tc.name, code, errs, tc.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: %s created by a refused fetch", tc.name, dir)
		}
	}
	for _, p := range []string{filepath.Join(work, "escaped.yml"), filepath.Join(work, "out", "escaped.yml"), "/tmp/jejak-abs-escape.yml"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written outside the rules folder", p)
		}
	}
	left, _ := filepath.Glob(filepath.Join(work, "out", ".*"))
	if len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
	// The control: the same server's good zip is accepted.
	mustRun(t, 0, "rules", "fetch", "--url", base+"/ok.zip", filepath.Join(work, "ok"))
}

// TestRulesListSkipReasons lists the snapshot's Windows rules: the text
// states loaded and skipped per reason, the per-reason counts add up to
// the skipped files, --verbose names each, and --json agrees.
func TestRulesListSkipReasons(t *testing.T) {
	dir := sharedSigmaRules(t, "rules/windows")
	var files int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yml") {
			files++
		}
		return err
	})
	out := mustRun(t, 0, "rules", "list", "--json", "--rules", dir)
	var listed struct {
		Sigma sigmaLoad `json:"sigma"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatal(err)
	}
	l := listed.Sigma
	sum := 0
	for _, n := range l.ByReason {
		sum += n
	}
	if l.Loaded+l.Skipped != files || sum != l.Skipped || len(l.Files) != l.Skipped {
		t.Errorf("%d files; loaded %d, skipped %d, per reason %d, listed %d", files, l.Loaded, l.Skipped, sum, len(l.Files))
	}
	// Every Windows server log source SigmaHQ uses is mapped: what is
	// skipped is skipped for the rule's own content, never "no mapping"
	// except file_rename (no EVTX channel records it).
	for _, f := range l.Files {
		if strings.Contains(f.Reason, "no mapping") && !strings.Contains(f.Reason, "file_rename") {
			t.Errorf("%s: %s", f.Path, f.Reason)
		}
	}
	text := mustRun(t, 0, "rules", "list", "--verbose", "--rules", dir)
	if !strings.Contains(text, "sigma: ") || strings.Count(text, ".yml: ") != l.Skipped {
		t.Errorf("rules list --verbose does not name the %d skipped files:\n%s", l.Skipped, text[max(0, len(text)-3000):])
	}
	t.Logf("SigmaHQ windows: %d rules loaded, %d skipped: %v", l.Loaded, l.Skipped, l.ByReason)
}
