package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// pdfReport is a report with what a PDF must carry through: findings of
// several rules and severities, evidence hashes, file names in Cyrillic and
// Indonesian, a warning, and enough event rows for a table to run over
// several pages.
func pdfReport() *Report {
	ts := time.Date(2024, 2, 14, 14, 14, 5, 0, time.UTC)
	r := &Report{
		ToolVersion: "test", Matter: "PN 77/Pid.Sus/2024", Organisation: "Laboratorium Forensik Digital", Examiner: "Dr. Ана Петрова",
		Case:    evidence.Info{Name: "tabulasi", Examiner: "A. Examiner", Zone: "Asia/Jakarta"},
		Zone:    time.FixedZone("WIB", 7*3600),
		Date:    time.Date(2024, 3, 1, 2, 0, 10, 0, time.UTC),
		Custody: export.ManifestCustody{Seq: 5, Hash: strings.Repeat("c", 64), Intact: true},
		Build:   BuildFacts{Version: "test", Commit: "0123456789abcdef", GoVersion: "go1.x", Platform: "linux/amd64", BinarySHA256: strings.Repeat("b", 64)},
		Evidence: []*evidence.Item{
			{ID: "a1b2c3d4e5f6", Name: "журнал-сервера.tar.gz", Kind: "file", Size: 2048, SHA256: "a1b2c3d4e5f6" + strings.Repeat("1", 52), SHA1: strings.Repeat("2", 40), MD5: strings.Repeat("3", 32)},
			{ID: "f6e5d4c3b2a1", Name: "rekaman-penghitungan-suara", Kind: "dir", Size: 10, SHA256: "f6e5d4c3b2a1" + strings.Repeat("4", 52), Files: 1},
		},
		EvidenceFiles:  map[string][]evidence.ManifestFile{"f6e5d4c3b2a1": {{Path: "berkas/hasil_rekapitulasi_TPS-077.csv", Size: 10, SHA256: strings.Repeat("5", 64)}}},
		Hunt:           &Hunt{Key: "k", After: ts.Add(-2 * time.Hour), Zone: "Asia/Jakarta", Rules: []string{"JEJAK-AUTH-02@1", "JEJAK-DATA-02@2", "JEJAK-AUTH-03@3"}},
		Warnings:       []WarningGroup{{Kind: timeline.WarnSkipped, Where: "журнал-сервера.tar.gz » tar:var/log/двоичный.bin", Count: 1, First: "no parser recognises the content"}},
		TimestampKinds: []TimestampKind{{Desc: "Recorded Time", Events: 3, Parsers: []string{"postgresql"}}},
		Steps:          []Step{{Seq: 1, Time: ts, Examiner: "A. Examiner", Action: "case_init", What: "Case created", Command: "jejak case init CASE"}},
	}
	var rows []hunt.EventRef
	for i := range 120 {
		rows = append(rows, hunt.EventRef{ID: fmt.Sprintf("ev%030d", i), Timestamp: ts.Add(time.Duration(i) * time.Second), TimestampDesc: "Content Modification Time",
			Message:    fmt.Sprintf("sshd[%d]: Failed password for invalid user пользователь%d from 203.0.113.45", 3000+i, i),
			Provenance: timeline.Provenance{EvidenceName: "журнал-сервера.tar.gz", Chain: []string{"gzip", "tar:var/log/auth.log"}, Path: "var/log/auth.log", Offset: int64(100 * i), Record: int64(i + 1), Parser: "syslog"}})
	}
	r.Findings = []hunt.Finding{
		{ID: "f-medium", RuleID: "JEJAK-AUTH-03", Title: "Logon from a source never seen before the cut-off", Severity: hunt.Medium, First: ts, Last: ts, Events: rows[:1]},
		{ID: "f-critical", RuleID: "JEJAK-AUTH-02", Title: "Password guessing followed by a successful logon", Severity: hunt.Critical, First: ts, Last: ts, Events: rows},
		{ID: "f-high", RuleID: "JEJAK-DATA-02", Title: "Data-modifying database statements after the cut-off", Severity: hunt.High, First: ts, Last: ts,
			Explanation: "UPDATE tally SET votes = votes + 500 — oleh pengguna postgres", Events: rows[:2]},
	}
	return r
}

// pdftotext renders the PDF's text with poppler's pdftotext, an
// independent reader: the text must come back out of the file itself.
func pdftotext(t *testing.T, pdf []byte, args ...string) string {
	t.Helper()
	oracle.Tool(t, "pdftotext", "poppler-utils")
	p := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return string(oracle.Output(t, "pdftotext", append(append([]string{"-enc", "UTF-8"}, args...), p, "-")...))
}

func renderPDF(t *testing.T, r *Report) []byte {
	t.Helper()
	if _, err := os.Stat(filepath.Join(FontDir, "DejaVuSans.ttf")); err != nil {
		t.Skip("DejaVu fonts not installed: apt-get install -y fonts-dejavu-core")
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, PDF, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPDFReportText(t *testing.T) {
	r := pdfReport()
	pdf := renderPDF(t, r)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 16)])
	}
	text := pdftotext(t, pdf)
	// pdftotext breaks lines where the layout wraps them: compare with
	// the white space squeezed out.
	flat := strings.Join(strings.Fields(text), "")
	has := func(s string) bool { return strings.Contains(flat, strings.Join(strings.Fields(s), "")) }
	for _, f := range r.Findings {
		if !has(f.RuleID) || !has(f.Title) {
			t.Errorf("the PDF text lacks finding %s: %s", f.RuleID, f.Title)
		}
	}
	for _, it := range r.Evidence {
		if !has(it.SHA256) || !has(it.Name) {
			t.Errorf("the PDF text lacks evidence %s (%s)", it.Name, it.SHA256)
		}
	}
	for _, want := range []string{strings.Repeat("5", 64), "berkas/hasil_rekapitulasi_TPS-077.csv", "пользователь119", "Dr. Ана Петрова",
		"var/log/двоичный.bin", "— oleh pengguna postgres", "PN 77/Pid.Sus/2024", strings.Repeat("b", 64), "Signature:"} {
		if !has(want) {
			t.Errorf("the PDF text lacks %q", want)
		}
	}
	// Most severe first: critical, high, medium.
	iC, iH, iM := strings.Index(flat, "6.1JEJAK-AUTH-02"), strings.Index(flat, "6.2JEJAK-DATA-02"), strings.Index(flat, "6.3JEJAK-AUTH-03")
	if iC < 0 || iH < iC || iM < iH {
		t.Errorf("findings not most severe first (positions %d %d %d)", iC, iH, iM)
	}

	// Every page says "page N of M", M the page count; the event table's
	// header is on every page it runs over; the table of contents gives
	// the page each section heading is on.
	pages := strings.Split(strings.TrimSuffix(text, "\f"), "\f")
	if len(pages) < 4 {
		t.Fatalf("%d pages: the test wants a table over several pages", len(pages))
	}
	tablePages := 0
	for i, pg := range pages {
		want := fmt.Sprintf("page %d of %d", i+1, len(pages))
		if !strings.Contains(pg, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
		if strings.Contains(pg, "пользователь") {
			tablePages++
			if !strings.Contains(strings.Join(strings.Fields(pg), ""), "EventID") {
				t.Errorf("page %d holds event rows without the table header", i+1)
			}
		}
	}
	if tablePages < 2 {
		t.Errorf("the event table is on %d pages, want several", tablePages)
	}
	toc := regexp.MustCompile(`(?m)^(\d+\. [^\n]*?|Appendix [A-D]\. [^\n]*?|Summary of findings)\s+(\d+)$`)
	checked := 0
	for _, m := range toc.FindAllStringSubmatch(pdftotext(t, pdf, "-layout"), -1) {
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > len(pages) {
			t.Errorf("contents: %q on page %d of %d", m[1], n, len(pages))
			continue
		}
		// The heading is on that page, as a line of its own.
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `$`).MatchString(pages[n-1]) {
			t.Errorf("contents: %q says page %d, the heading is not there", m[1], n)
		}
		checked++
	}
	if checked != len(sections) {
		t.Errorf("%d contents lines checked, want %d", checked, len(sections))
	}
}

// TestPDFReportReproducible: the same report renders to the same bytes
// (fixed document dates, sorted catalogs, no random IDs).
func TestPDFReportReproducible(t *testing.T) {
	a := renderPDF(t, pdfReport())
	b := renderPDF(t, pdfReport())
	if !bytes.Equal(a, b) {
		t.Fatalf("two renders differ (%d and %d bytes)", len(a), len(b))
	}
	if !bytes.Contains(a, []byte("D:20240301020010")) {
		t.Error("the PDF's creation date is not the report's date")
	}
}

func TestPDFReportMissingFont(t *testing.T) {
	old := FontDir
	FontDir = t.TempDir()
	defer func() { FontDir = old }()
	err := WriteReport(&bytes.Buffer{}, PDF, pdfReport())
	if err == nil || !strings.Contains(err.Error(), "fonts-dejavu-core") || !strings.Contains(err.Error(), "DejaVuSans.ttf") {
		t.Fatalf("missing font: %v", err)
	}
}

// FuzzPDFText: whatever an event message holds (invalid UTF-8, control
// characters, characters beyond the BMP, right-to-left text, one word
// longer than a cell), the PDF renders whole.
func FuzzPDFText(f *testing.F) {
	for _, s := range []string{hostile, "", "\x00\x1b[31m\xff\xfe", "😀 emoji 𝕏", "שלום عربى", strings.Repeat("x", 5000), "a\tb\r\nc"} {
		f.Add(s)
	}
	if _, err := os.Stat(filepath.Join(FontDir, "DejaVuSans.ttf")); err != nil {
		f.Skip("DejaVu fonts not installed: apt-get install -y fonts-dejavu-core")
	}
	f.Fuzz(func(t *testing.T, msg string) {
		r := hostileReport()
		r.Findings[0].Events[0].Message = msg
		r.Findings[0].Explanation = msg
		var buf bytes.Buffer
		if err := WriteReport(&buf, PDF, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) || !bytes.HasSuffix(bytes.TrimSpace(buf.Bytes()), []byte("%%EOF")) {
			t.Fatal("not a whole PDF")
		}
	})
}
