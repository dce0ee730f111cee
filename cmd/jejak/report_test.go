package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/export"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// jejakAt runs the CLI in-process like jejak, with the clock stopped at a
// fixed instant that advances by one second per reading, so custody entries,
// registrations and hunts get reproducible times.
func jejakAt(t *testing.T, clock *fakeClock, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, now: clock.now}
	app := newApp(e)
	code = exitCode(app.RunContext(context.Background(), permuteArgs(app, append([]string{"jejak"}, args...))), &errb)
	return out.String(), errb.String(), code
}

func mustRunAt(t *testing.T, clock *fakeClock, want int, args ...string) string {
	t.Helper()
	out, errs, code := jejakAt(t, clock, args...)
	if code != want {
		t.Fatalf("jejak %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out
}

type fakeClock struct{ t time.Time }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

// analyzeExample builds the README's example case with the stopped clock:
// ingest of fixtures/example and a hunt from the 19:00 close of tabulation.
func analyzeExample(t *testing.T, clock *fakeClock) (example, cs string) {
	t.Helper()
	example = pinnedExample(t)
	cs = filepath.Join(t.TempDir(), "example-case")
	mustRunAt(t, clock, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta",
		"--examiner", "A. Examiner", "--after", "2024-02-14 19:00", "-q")
	return example, cs
}

// pinnedExample copies fixtures/example to a temporary folder where each
// file's four times differ, whatever the checkout made of them. The
// file-system times of a file in the example are events (filestat), one
// per distinct time: a fresh checkout writes the .tgz with equal mtime,
// ctime and birth time (and, before anything reads it, atime), a worn one
// has them apart, and the report counts events by their description.
// mtime is set in the past, atime an hour ahead (relatime then keeps it
// when the analyze reads the file), ctime is the Chtimes call's and birth
// time the copy's, a tick apart (20 ms is over a coarse clock tick).
func pinnedExample(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "example")
	copyTree(t, src, dst)
	time.Sleep(20 * time.Millisecond)
	mtime := time.Date(2024, 2, 14, 17, 0, 0, 0, time.UTC)
	err = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return os.Chtimes(p, time.Now().Add(time.Hour), mtime)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func readManifest(t *testing.T, path string) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(export.ManifestPath(path))
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", export.ManifestPath(path), err)
	}
	return m
}

func fileSHA256(t *testing.T, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), int64(len(b))
}

// custodyLines reads custody.log as the JSON objects it holds.
func custodyLines(t *testing.T, cs string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cs, "custody.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestReportExampleGolden: the report of the example case, in Markdown and
// HTML, against golden files (go test -run TestReportExampleGolden -update
// rewrites them). Two things differ between machines and are replaced
// before the comparison: the absolute path of fixtures/example, and the
// custody head hash (the custody log records that path and the folder's
// mtime). Both are checked on their own here instead; and the facts the
// fixture generator put into the logs are checked in the report.
func TestReportExampleGolden(t *testing.T) {
	clock := newClock()
	example, cs := analyzeExample(t, clock)
	dir := t.TempDir()
	for _, format := range []string{"md", "html"} {
		out := filepath.Join(dir, "report."+format)
		mustRunAt(t, clock, exitOK, "report", cs, "--format", format, "-o", out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m := readManifest(t, out)
		sum, size := fileSHA256(t, out)
		if m.Output.SHA256 != sum || m.Output.Size != size || m.Output.File != "report."+format {
			t.Errorf("manifest output %+v, file has sha256 %s size %d", m.Output, sum, size)
		}
		// The custody head is the hash of the last entry before any export
		// or report, as custody.log holds it.
		lines := custodyLines(t, cs)
		if m.Custody.Seq < 1 || int(m.Custody.Seq) > len(lines) || lines[m.Custody.Seq-1]["hash"] != m.Custody.Hash || !m.Custody.Intact {
			t.Fatalf("manifest custody %+v does not name entry %d of custody.log", m.Custody, m.Custody.Seq)
		}
		for _, l := range lines[m.Custody.Seq:] {
			if a := l["action"]; a != "report" && a != "export" {
				t.Errorf("custody entry %v (%v) after the basis is not an output", l["seq"], a)
			}
		}
		mb, _ := os.ReadFile(export.ManifestPath(out))
		// The report names the program that wrote it: the SHA-256 of the
		// running executable (here the test binary, hashed here apart)
		// and the Go toolchain, both of this machine.
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		exeSum, _ := fileSHA256(t, exe)
		if !strings.Contains(string(b), exeSum) {
			t.Errorf("report.%s does not give the SHA-256 of the program that wrote it (%s)", format, exeSum)
		}
		norm := strings.NewReplacer(example, "$EXAMPLE", m.Custody.Hash, "$CUSTODY_HEAD", exeSum, "$BINARY_SHA256",
			runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH, "$GO_VERSION, $PLATFORM")
		golden(t, "report-example."+format, []byte(norm.Replace(string(b))))
		mnorm := strings.NewReplacer(m.Custody.Hash, "$CUSTODY_HEAD", m.Output.SHA256, "$OUTPUT_SHA256",
			fmt.Sprintf(`"size": %d,`, m.Output.Size), `"size": "$OUTPUT_SIZE",`)
		golden(t, "report-example."+format+".manifest.json", []byte(mnorm.Replace(string(mb))))
	}

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	// The evidence hash is the folder's sha256sum listing hashed, computed
	// here from the fixture's bytes.
	tgz, _ := fileSHA256(t, filepath.Join(example, "tabulasi-01-varlog.tgz"))
	tree := sha256.Sum256([]byte(tgz + "  tabulasi-01-varlog.tgz\n"))
	if !strings.Contains(report, "`"+hex.EncodeToString(tree[:])+"`") {
		t.Errorf("the report does not give the evidence SHA-256 %x", tree)
	}
	// fixtures/gen writes, from 21:14:03 WIB, five "Invalid user" lines each
	// followed 2 s later by its "Failed password", then 12 failures for
	// operator, then "Accepted password" at 21:16:40.
	sec := section(report, "JEJAK-AUTH-02: Password guessing followed by a successful logon")
	rows := tableRows(sec)
	if len(rows) != 5+12+1 {
		t.Fatalf("AUTH-02 lists %d events, want 18:\n%s", len(rows), sec)
	}
	if !strings.Contains(rows[0], "| 2024-02-14 21:14:05 +07:00 |") || !strings.Contains(rows[0], "Failed password for invalid user admin") {
		t.Errorf("first row: %s", rows[0])
	}
	if last := rows[len(rows)-1]; !strings.Contains(last, "| 2024-02-14T14:16:40Z | 2024-02-14 21:16:40 +07:00 |") || !strings.Contains(last, "Accepted password for operator") {
		t.Errorf("last row: %s", last)
	}
	if n := strings.Count(sec, "Failed password"); n < 17 {
		t.Errorf("%d failed passwords in the finding, want 17", n)
	}
	// The README says what the example finds: as many findings as the
	// report has, the operator's own closing UPDATE at the cut-off
	// informational, the intruder's UPDATE and DELETE high.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	mr := regexp.MustCompile(`a table of (\d+) findings`).FindSubmatch(readme)
	if m := readManifest(t, filepath.Join(dir, "report.md")); mr == nil || m.Findings == nil || string(mr[1]) != strconv.Itoa(*m.Findings) {
		t.Errorf("README says %q findings; the report has %v", mr, m.Findings)
	}
	closing := section(report, "JEJAK-DATA-02: Data-modifying database statements after the cut-off (informational)")
	if rows := tableRows(closing); len(rows) != 1 || !strings.Contains(rows[0], "UPDATE tabulation SET state = 'closed'") || !strings.Contains(rows[0], "tabulasi@pemilu") {
		t.Errorf("the closing UPDATE is not an informational finding of its own:\n%s", closing)
	}
	intrusion := section(report, "JEJAK-DATA-02: Data-modifying database statements after the cut-off (high)")
	if rows := tableRows(intrusion); len(rows) != 2 || !strings.Contains(rows[0], "UPDATE tally SET votes") || !strings.Contains(rows[1], "DELETE FROM tally\\_audit") {
		t.Errorf("the intruder's UPDATE and DELETE are not one high finding:\n%s", intrusion)
	}

	// The rule text quoted is the embedded rule file, byte for byte.
	rule, err := os.ReadFile("../../casework/hunt/rules/JEJAK-AUTH-02-brute-force-success.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report, "```yaml\n"+string(rule)) {
		t.Error("the report does not quote JEJAK-AUTH-02's rule file")
	}
}

// section returns the part of a Markdown report under the heading that
// contains title, up to the next heading of level 3 or less.
func section(report, title string) string {
	i := strings.Index(report, title)
	if i < 0 {
		return ""
	}
	rest := report[i:]
	if j := strings.Index(rest, "\n### "); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// tableRows returns the event rows of the "Matching events" table.
func tableRows(sec string) []string {
	var rows []string
	_, after, _ := strings.Cut(sec, "Matching events:")
	for _, l := range strings.Split(after, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| # ") {
			rows = append(rows, l)
		}
	}
	return rows
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(go test -run %s -update rewrites it)", path, i+1, g, w, t.Name())
			}
		}
	}
}

// TestOutputsReproducible: the same case and arguments give the same
// bytes, output and manifest alike, for reports and every export format;
// the custody log records each with both hashes; a change to the case
// changes the report and its manifest.
func TestOutputsReproducible(t *testing.T) {
	clock := newClock()
	_, cs := analyzeExample(t, clock)
	a, b := t.TempDir(), t.TempDir()
	outputs := [][]string{
		{"report", "report.md", "--format", "md"},
		{"report", "report.html", "--format", "html"},
		{"export", "timeline.csv", "--format", "csv"},
		{"export", "timeline.jsonl", "--format", "jsonl"},
		{"export", "timesketch.jsonl", "--format", "timesketch"},
		{"export", "window.jsonl", "--format", "timesketch", "--from", "2024-02-14 21:14", "--to", "2024-02-14T21:17:00+07:00"},
	}
	for _, o := range outputs {
		for _, d := range []string{a, b} {
			mustRunAt(t, clock, exitOK, append([]string{o[0], cs, "-o", filepath.Join(d, o[1])}, o[2:]...)...)
			// The custody entry names the file's and the manifest's hashes.
			lines := custodyLines(t, cs)
			last := lines[len(lines)-1]
			details := last["details"].(map[string]any)
			sum, _ := fileSHA256(t, filepath.Join(d, o[1]))
			msum, _ := fileSHA256(t, export.ManifestPath(filepath.Join(d, o[1])))
			if last["action"] != o[0] || details["sha256"] != sum || details["manifest_sha256"] != msum {
				t.Errorf("custody entry for %s: %v", o[1], last)
			}
		}
		for _, name := range []string{o[1], export.ManifestPath(o[1])} {
			x, _ := os.ReadFile(filepath.Join(a, name))
			y, _ := os.ReadFile(filepath.Join(b, name))
			if len(x) == 0 || !bytes.Equal(x, y) {
				t.Errorf("%s: two runs on the same case differ (%d and %d bytes)", name, len(x), len(y))
			}
		}
	}
	m := readManifest(t, filepath.Join(a, "timesketch.jsonl"))
	rows, _ := os.ReadFile(filepath.Join(a, "timesketch.jsonl"))
	if n := int64(bytes.Count(rows, []byte("\n"))); m.Events != n || n == 0 {
		t.Errorf("manifest says %d events, the file has %d lines", m.Events, n)
	}
	// The window holds the 25 events cli_test.go counts from fixtures/gen.
	if w := readManifest(t, filepath.Join(a, "window.jsonl")); w.Events != 25 ||
		w.Parameters.(map[string]any)["from"] != "2024-02-14T14:14:00Z" {
		t.Errorf("window manifest: %d events, parameters %v", w.Events, w.Parameters)
	}

	// Change the case: one more evidence item, ingested.
	before := readManifest(t, filepath.Join(a, "report.md"))
	mustRunAt(t, clock, exitOK, "evidence", "add", cs, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	mustRunAt(t, clock, exitOK, "ingest", cs, "-q")
	c := t.TempDir()
	mustRunAt(t, clock, exitOK, "report", cs, "-o", filepath.Join(c, "report.md"))
	after := readManifest(t, filepath.Join(c, "report.md"))
	if after.Output.SHA256 == before.Output.SHA256 || after.Custody.Hash == before.Custody.Hash ||
		len(after.Evidence) != 2 || after.Events <= before.Events {
		t.Errorf("a changed case gave manifest %+v, before %+v", after, before)
	}
	ssh, _ := fileSHA256(t, parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if after.Evidence[1].SHA256 != ssh {
		t.Errorf("new evidence sha256 %s, file has %s", after.Evidence[1].SHA256, ssh)
	}
}

// corpusFact returns the SHA-256 column of a corpus file's MANIFEST.tsv line.
func corpusFact(t *testing.T, rel string) (sha string, note string) {
	t.Helper()
	root, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "MANIFEST.tsv"))
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, "\t")
		if len(f) >= 10 && f[1] == rel {
			return f[8], f[9]
		}
	}
	t.Fatalf("%s not in MANIFEST.tsv", rel)
	return "", ""
}

// TestReportEVTXFindings: a Windows Security log in which a local user is
// created (MANIFEST.tsv: 2 records, 4720 then 4732, the first at
// 2020-07-12T05:12:58Z) gives a report whose account-creation finding shows
// event 4720 at that time, whose rows name both records, and whose
// evidence table gives the file's hashes as MANIFEST.tsv and Go's own SHA-1
// and MD5 compute them. (MANIFEST.tsv puts the last record at 05:13:12Z:
// that is when the 4732 record was written, evtxexport's "Written time";
// the timeline uses its TimeCreated, 05:12:58.31Z. Its group is Users,
// which JEJAK-ACCT-02 rightly does not count as privileged.)
func TestReportEVTXFindings(t *testing.T) {
	const rel = "more/evtx/mitre_cc0/ID4720-Local_user_created.evtx"
	file := parsertest.Corpus(t, rel)
	wantSHA, note := corpusFact(t, rel)
	if !strings.Contains(note, "2 records: 4720") || !strings.Contains(note, "2020-07-12T05:12:58Z") {
		t.Fatalf("MANIFEST.tsv note changed: %s", note)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	cs := filepath.Join(t.TempDir(), "evtx-case")
	mustRunAt(t, clock, exitOK, "case", "init", cs, "--examiner", "A. Examiner", "--tz", "Asia/Jakarta")
	mustRunAt(t, clock, exitOK, "evidence", "add", cs, file)
	mustRunAt(t, clock, exitOK, "ingest", cs, "-q")
	mustRunAt(t, clock, exitOK, "hunt", cs, "--after", "2020-07-12T00:00:00Z", "-q")
	out := filepath.Join(t.TempDir(), "report.md")
	mustRunAt(t, clock, exitOK, "report", cs, "-o", out)
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	s1, m5 := sha1.Sum(b), md5.Sum(b)
	for _, h := range []string{wantSHA, hex.EncodeToString(s1[:]), hex.EncodeToString(m5[:])} {
		if !strings.Contains(report, "`"+h+"`") {
			t.Errorf("the evidence table lacks hash %s", h)
		}
	}
	rows := tableRows(section(report, "### 6."+findingNumber(report, "JEJAK-ACCT-01")+" JEJAK-ACCT-01"))
	if len(rows) != 1 || !strings.Contains(rows[0], "| 2020-07-12T05:12:58") || !strings.Contains(rows[0], "| 4720 / record ") ||
		!strings.Contains(rows[0], "@ offset ") {
		t.Errorf("JEJAK-ACCT-01 rows:\n%s", strings.Join(rows, "\n"))
	}
	if !strings.Contains(report, "| 4720 / record ") {
		t.Errorf("no finding row of event 4720")
	}
	// The log (an exported copy) is intact: not a finding, a line of the
	// Logs examined table with its 2 records.
	logRow := ""
	for _, l := range strings.Split(report, "\n") {
		l = strings.ReplaceAll(l, `\_`, "_") // Markdown escapes
		if strings.Contains(l, "ID4720-Local_user_created.evtx") && strings.HasSuffix(l, "| no (intact) |") {
			logRow = l
		}
	}
	if !strings.Contains(logRow, " | 2 | ") {
		t.Errorf("Logs examined row %q: want 2 records, intact", logRow)
	}
	m := readManifest(t, out)
	if m.Findings == nil || *m.Findings < 1 || len(m.Evidence) != 1 || m.Evidence[0].SHA256 != wantSHA {
		t.Errorf("manifest: %+v", m)
	}
}

// findingNumber finds N in the "### 6.N RULE" heading of a rule.
func findingNumber(report, rule string) string {
	for _, l := range strings.Split(report, "\n") {
		if rest, ok := strings.CutPrefix(l, "### 6."); ok {
			if n, title, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(title, rule+":") {
				return n
			}
		}
	}
	return "?"
}

func TestReportUsageAndEmptyCase(t *testing.T) {
	clock := newClock()
	cs := filepath.Join(t.TempDir(), "empty")
	mustRunAt(t, clock, exitOK, "case", "init", cs, "--examiner", "x")
	out := filepath.Join(t.TempDir(), "r.md")
	for _, args := range [][]string{
		{"report", cs},
		{"report", cs, "-o", out, "--format", "docx"},
		{"report", cs, "-o", out, "--hunt", "nope"},
		{"report", cs, "-o", out, "--max-rows", "-1"},
		{"export", cs, "-o", out, "--format", "xml"},
	} {
		if _, errs, code := jejakAt(t, clock, args...); code != exitUsage {
			t.Errorf("jejak %v: exit %d, want %d\n%s", args, code, exitUsage, errs)
		}
	}
	mustRunAt(t, clock, exitOK, "report", cs, "-o", out)
	b, _ := os.ReadFile(out)
	for _, want := range []string{"No evidence is registered", "never ingested", "never hunted", "No findings."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report of an empty case lacks %q", want)
		}
	}
}

// TestReportPDFExample: report --format pdf on the README's example case.
// pdftotext (poppler) reads the file back: every finding's rule and title
// and the evidence hashes are in it, the manifest describes it, and
// writing it again gives the same bytes.
func TestReportPDFExample(t *testing.T) {
	oracle.Tool(t, "pdftotext", "poppler-utils")
	if _, err := os.Stat(filepath.Join(report.FontDir, "DejaVuSans.ttf")); err != nil {
		t.Skip("DejaVu fonts not installed: apt-get install -y fonts-dejavu-core")
	}
	clock := newClock()
	example, cs := analyzeExample(t, clock)
	dir := t.TempDir()
	md := filepath.Join(dir, "r.md")
	mustRunAt(t, clock, exitOK, "report", cs, "-o", md)
	pdf := filepath.Join(dir, "r.pdf")
	mustRunAt(t, clock, exitOK, "report", cs, "--format", "pdf", "--matter", "PN 77/2024", "-o", pdf)
	first, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, pdf)
	if sum, size := fileSHA256(t, pdf); m.Output.Format != "pdf" || m.Output.SHA256 != sum || m.Output.Size != size {
		t.Errorf("manifest output %+v, file has sha256 %s size %d", m.Output, sum, size)
	}
	text := string(oracle.Output(t, "pdftotext", "-enc", "UTF-8", pdf, "-"))
	flat := strings.Join(strings.Fields(text), "")
	mdb, _ := os.ReadFile(md)
	var headings int
	for _, l := range strings.Split(string(mdb), "\n") {
		rest, ok := strings.CutPrefix(l, "### 6.")
		if !ok {
			continue
		}
		headings++
		// "### 6.N RULE: Title (severity)" in Markdown; unescape.
		h := strings.ReplaceAll(rest, `\`, "")
		if !strings.Contains(flat, strings.Join(strings.Fields(h), "")) {
			t.Errorf("the PDF lacks the finding heading %q", h)
		}
	}
	if headings < 5 {
		t.Fatalf("%d findings in the Markdown report: the example should give more", headings)
	}
	tgz, _ := fileSHA256(t, filepath.Join(example, "tabulasi-01-varlog.tgz"))
	tree := sha256.Sum256([]byte(tgz + "  tabulasi-01-varlog.tgz\n"))
	for _, want := range []string{tgz, hex.EncodeToString(tree[:]), "PN77/2024"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the PDF lacks %s", want)
		}
	}
	mustRunAt(t, clock, exitOK, "report", cs, "--format", "pdf", "--matter", "PN 77/2024", "-o", pdf)
	again, _ := os.ReadFile(pdf)
	if !bytes.Equal(first, again) {
		t.Error("the same report written twice gives different PDF bytes")
	}
}
