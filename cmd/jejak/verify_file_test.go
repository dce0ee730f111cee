package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVerifyOutputFiles: 'jejak verify FILE…' on exports and a report of
// the example case. One export has a byte changed, another is cut short,
// a report's manifest is edited (and one manifest rewritten to the
// tampered file's hash): each is named with what differs, the exit status
// is 1, and the untouched file verifies. A later hunt is shown as a change
// of the case, not a failure; 'verify CASE' still verifies the case.
func TestVerifyOutputFiles(t *testing.T) {
	clock := newClock()
	_, cs := analyzeExample(t, clock)
	dir := t.TempDir()
	csv := filepath.Join(dir, "t.csv")
	jsonl := filepath.Join(dir, "t.jsonl")
	md := filepath.Join(dir, "r.md")
	html := filepath.Join(dir, "r.html")
	mustRunAt(t, clock, exitOK, "export", cs, "--format", "csv", "-o", csv)
	mustRunAt(t, clock, exitOK, "export", cs, "--format", "jsonl", "-o", jsonl)
	mustRunAt(t, clock, exitOK, "report", cs, "-o", md)
	mustRunAt(t, clock, exitOK, "report", cs, "--format", "html", "-o", html)

	out := mustRunAt(t, clock, exitOK, "verify", csv, jsonl, md, html, "--case", cs)
	for _, f := range []string{csv, jsonl, md, html} {
		for _, check := range []string{"manifest", "size", "sha256", "custody record", "custody head", "case since"} {
			if !regexp.MustCompile(`(?m)^ok +` + regexp.QuoteMeta(f+" "+check+":")).MatchString(out) {
				t.Errorf("untouched %s: no ok line for %s:\n%s", filepath.Base(f), check, out)
			}
		}
	}
	// Without the case: the file against its manifest only, said so.
	out = mustRunAt(t, clock, exitOK, "verify", md)
	if !strings.Contains(out, "not checked  "+md+" custody record: the case is not known") {
		t.Errorf("verify without --case:\n%s", out)
	}

	// One byte changed in place: same size, another hash.
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	writeFile(t, csv, b)
	// Another export cut short.
	jb, _ := os.ReadFile(jsonl)
	writeFile(t, jsonl, jb[:len(jb)-100])
	// A report's manifest edited: another finding count.
	mb, _ := os.ReadFile(md + ".manifest.json")
	edited := regexp.MustCompile(`"findings": \d+`).ReplaceAll(mb, []byte(`"findings": 2`))
	if string(edited) == string(mb) {
		t.Fatal("the report manifest has no findings count to edit")
	}
	writeFile(t, md+".manifest.json", edited)

	out, _, code := jejakAt(t, clock, "verify", csv, jsonl, md, html, "--case", cs)
	if code != exitFatal {
		t.Errorf("verify of tampered files: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ok +` + regexp.QuoteMeta(csv) + ` size: `),
		regexp.MustCompile(`(?m)^FAILED +` + regexp.QuoteMeta(csv) + ` sha256: the file has [0-9a-f]{64}; the manifest says [0-9a-f]{64}$`),
		regexp.MustCompile(`(?m)^FAILED +` + regexp.QuoteMeta(jsonl) + ` size: \d+ bytes; the manifest says \d+ \(-100\)$`),
		regexp.MustCompile(`(?m)^FAILED +` + regexp.QuoteMeta(jsonl) + ` sha256: `),
		regexp.MustCompile(`(?m)^ok +` + regexp.QuoteMeta(md) + ` sha256: `),
		regexp.MustCompile(`(?m)^FAILED +` + regexp.QuoteMeta(md) + ` custody record: entry \d+ records the manifest's SHA-256 as [0-9a-f]{64}; the manifest has [0-9a-f]{64}: it was changed after it was written$`),
		regexp.MustCompile(`(?m)^ok +` + regexp.QuoteMeta(html) + ` custody record: `),
	} {
		if !want.MatchString(out) {
			t.Errorf("verify output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED       "+html) {
		t.Errorf("the untouched report failed:\n%s", out)
	}

	// A manifest rewritten to the tampered file's hash and size agrees
	// with the file, but no custody entry recorded that hash.
	_, sum := mustHash(t, csv)
	cm, _ := os.ReadFile(csv + ".manifest.json")
	cm = regexp.MustCompile(`("output": \{[^}]*"sha256": ")[0-9a-f]{64}`).ReplaceAll(cm, []byte("${1}"+sum))
	writeFile(t, csv+".manifest.json", cm)
	out, _, code = jejakAt(t, clock, "verify", csv, "--case", cs)
	if code != exitFatal || !regexp.MustCompile(`(?m)^ok +`+regexp.QuoteMeta(csv)+` sha256: `).MatchString(out) ||
		!strings.Contains(out, "custody record: no export entry of the custody log records SHA-256 "+sum) {
		t.Errorf("a manifest rewritten to match the tampered file: exit %d\n%s", code, out)
	}

	// The case changes after the report: said, not a failure.
	mustRunAt(t, clock, exitOK, "hunt", cs, "--after", "2024-02-14 20:00", "--min-severity", "critical")
	out = mustRunAt(t, clock, exitOK, "verify", html, "--case", cs)
	if !regexp.MustCompile(`(?m)^changed +` + regexp.QuoteMeta(html) + ` case since: entries after the output changed the case \(\d+ hunt\)`).MatchString(out) {
		t.Errorf("a hunt after the report is not shown:\n%s", out)
	}
	// A CASE argument verifies the case as before: its outputs check
	// finds the same tampered files in place.
	if out, _, code := jejakAt(t, clock, "verify", cs); code != exitFatal || !strings.Contains(out, "FAILED       outputs: "+csv+" has SHA-256 ") {
		t.Errorf("verify CASE: exit %d\n%s", code, out)
	}
	// Not an output: no manifest beside it.
	stray := filepath.Join(dir, "stray.txt")
	writeFile(t, stray, []byte("x"))
	if out, _, code := jejakAt(t, clock, "verify", stray); code != exitFatal || !strings.Contains(out, "no stray.txt.manifest.json beside it") {
		t.Errorf("verify of a file with no manifest: exit %d\n%s", code, out)
	}
}

func mustHash(t *testing.T, path string) (int64, string) {
	t.Helper()
	sum, size := fileSHA256(t, path)
	return size, sum
}
