package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"
	"github.com/jejak-forensics/jejak/internal/termsafe"
)

// The PDF report: the same view as the Markdown and HTML reports, laid out
// on A4 with go-pdf/fpdf. Text is Unicode (file names in any script), so
// the PDF embeds a TrueType font: DejaVu, from Debian's fonts-dejavu-core,
// read from FontDir. Tables repeat their header row on every page, every
// page says "page N of M", and the table of contents links to the
// sections, which are also the PDF's outline (bookmarks).
//
// The bytes are reproducible: the document's creation and modification
// dates are the report's own date (the custody entry it reflects), the
// catalogs are written in a fixed order, and nothing random goes in.

// FontDir is where the PDF renderer looks for the DejaVu TrueType fonts.
var FontDir = "/usr/share/fonts/truetype/dejavu"

var fontFiles = []struct{ family, style, file string }{
	{"sans", "", "DejaVuSans.ttf"},
	{"sans", "B", "DejaVuSans-Bold.ttf"},
	{"mono", "", "DejaVuSansMono.ttf"},
}

type pdfFonts [][]byte

func loadFonts() (pdfFonts, error) {
	var out pdfFonts
	for _, ff := range fontFiles {
		p := filepath.Join(FontDir, ff.file)
		b, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("pdf report: the font %s is missing: install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core)", p)
			}
			return nil, fmt.Errorf("pdf report: font: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

const (
	pdfMargin = 15.0 // mm, left, right and top
	pdfBottom = 18.0 // mm, leaves room for the footer
	pdfLine   = 4.2  // mm, body line height
	pdfCell   = 3.3  // mm, table line height
)

func writePDF(w io.Writer, v *view) error {
	fonts, err := loadFonts()
	if err != nil {
		return err
	}
	// The table of contents gives page numbers known only once the whole
	// document is laid out: a first pass finds them, the second writes.
	// The contents take the same room in both, so the pages agree.
	first := &pdfDoc{v: v, fonts: fonts}
	if err := first.render(io.Discard); err != nil {
		return err
	}
	second := &pdfDoc{v: v, fonts: fonts, tocPages: first.pages}
	return second.render(w)
}

type pdfDoc struct {
	v        *view
	fonts    pdfFonts
	f        *fpdf.Fpdf
	links    map[string]int
	pages    map[string]int
	tocPages map[string]int
}

func (d *pdfDoc) render(w io.Writer) error {
	f := fpdf.New("P", "mm", "A4", "")
	d.f = f
	d.links, d.pages = map[string]int{}, map[string]int{}
	f.SetCatalogSort(true)
	date := d.v.Date
	if date.IsZero() {
		date = time.Unix(0, 0) // a case with no custody entry: still a fixed date
	}
	f.SetCreationDate(date.UTC())
	f.SetModificationDate(date.UTC())
	f.SetCompression(true)
	for i, ff := range fontFiles {
		f.AddUTF8FontFromBytes(ff.family, ff.style, d.fonts[i])
	}
	f.SetTitle(pdfText(d.v.Title), true)
	f.SetAuthor(pdfText(d.v.Examiner), true)
	f.SetCreator("jejak", true)
	f.SetProducer("jejak (go-pdf/fpdf)", true)
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfBottom)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetY(-12)
		f.SetFont("sans", "", 7.5)
		f.SetTextColor(80, 80, 80)
		f.CellFormat(0, 4, pdfText(clipText(d.v.Title, 90)), "", 0, "L", false, 0, "")
		f.SetX(pdfMargin)
		f.CellFormat(0, 4, fmt.Sprintf("page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	for _, s := range sections {
		d.links[s.ID] = f.AddLink()
	}
	f.AddPage()
	d.body()
	if err := f.Error(); err != nil {
		return fmt.Errorf("pdf report: %w", err)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return fmt.Errorf("pdf report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (d *pdfDoc) body() {
	v := d.v
	d.title(v.Title)
	d.kv(v.Front)
	d.para(v.DateNote)
	if len(v.Completeness) > 0 {
		d.h2("", "Completeness of the timeline")
		for i, s := range v.Completeness {
			if v.Incomplete && i == 0 {
				d.bold(s)
			} else {
				d.para(s)
			}
		}
	}
	d.h2("summary", heading("summary"))
	for _, s := range v.Summary {
		d.para(s)
	}
	d.numbered(v.SummaryItems)

	d.contents()
	for _, s := range v.Intro {
		d.para(s)
	}

	d.h2("s1", heading("s1"))
	d.kv(v.Case)

	d.h2("s2", heading("s2"))
	if len(v.Evidence) == 0 {
		d.para("No evidence is registered in the case.")
	} else {
		rows := make([][]string, 0, len(v.Evidence))
		for _, e := range v.Evidence {
			rows = append(rows, []string{e.ID, e.Name, e.Kind, e.Size, e.SHA256, e.Added, e.By})
		}
		d.table([]string{"ID", "Name", "Kind", "Size (bytes)", "SHA-256", "Registered (UTC)", "By"}, []float64{18, 28, 9, 16, 50, 34, 25}, rows)
		for _, e := range v.Evidence {
			if e.SHA1 != "-" || e.MD5 != "-" {
				d.para(fmt.Sprintf("%s: SHA-1 %s, MD5 %s", e.ID, e.SHA1, e.MD5))
			}
		}
		d.para("Registered from (path as given to jejak; the evidence was opened read-only):")
		var items []string
		for _, e := range v.Evidence {
			items = append(items, e.ID+": "+e.Path)
		}
		d.bullets(items)
		d.para("For a folder, SHA-256 is the hash of its sorted sha256sum listing (reproducible with coreutils); SHA-1 and MD5 exist for single files only.")
	}
	if len(v.Files) > 0 {
		d.para("The files of each folder and the segments of each split image as received, with their SHA-256 (an archive's own hash is its line here):")
		rows := make([][]string, 0, len(v.Files))
		for _, fr := range v.Files {
			rows = append(rows, []string{fr.Item, fr.Path, fr.Size, fr.SHA256})
		}
		d.table([]string{"Item", "File", "Size (bytes)", "SHA-256"}, []float64{20, 72, 18, 70}, rows)
		if v.FilesHidden > 0 {
			d.para(fmt.Sprintf("%d more files are not listed here; the item's hash manifest in the case folder lists them all.", v.FilesHidden))
		}
	}

	d.h2("s3", heading("s3"))
	d.kv(v.Custody)
	d.para("What was done, in order, as the custody log records it (each step with the command that does it):")
	rows := make([][]string, 0, len(v.Steps))
	for _, s := range v.Steps {
		rows = append(rows, []string{s.Seq, s.Time, s.By, s.What, s.Command})
	}
	d.table([]string{"Entry", "Time (UTC)", "By", "What was done", "Command"}, []float64{10, 30, 22, 70, 48}, rows)

	d.h2("s4", heading("s4"))
	if iv := v.Ingest; iv == nil {
		d.para(v.NoIngest)
	} else {
		d.para("Latest ingest run, custody entry " + iv.Seq + ".")
		if iv.Note != "" {
			d.bold(iv.Note)
		}
		d.kv(iv.Counts)
		if len(iv.Reasons) > 0 {
			d.para("Files skipped, by reason:")
			rows := make([][]string, 0, len(iv.Reasons))
			for _, r := range iv.Reasons {
				rows = append(rows, []string{r.K, r.V})
			}
			d.table([]string{"Reason", "Files"}, []float64{150, 30}, rows)
		}
		if len(iv.Parsers) > 0 {
			rows := make([][]string, 0, len(iv.Parsers))
			for _, r := range iv.Parsers {
				rows = append(rows, []string{r.Name, r.Files, r.Events, r.Warnings, r.Failed})
			}
			d.table([]string{"Parser", "Files", "Events", "Warnings", "Failed files"}, []float64{60, 30, 30, 30, 30}, rows)
		}
	}

	d.h2("s5", heading("s5"))
	if h := v.Hunt; h == nil {
		d.para("The case was never hunted: there are no findings.")
	} else {
		d.kv(h.Params)
		if len(h.Summary) > 0 {
			rows := make([][]string, 0, len(h.Summary))
			for _, s := range h.Summary {
				rows = append(rows, []string{s.Severity, s.Rule, s.Technique, s.Findings, s.Events, s.First, s.Last, s.Title})
			}
			d.table([]string{"Severity", "Rule", "ATT&CK", "Findings", "Events", "First (UTC)", "Last (UTC)", "Title"},
				[]float64{15, 24, 15, 13, 11, 27, 27, 48}, rows)
		}
		if len(h.Logs) > 0 {
			d.para("Logs examined: the record IDs of each log were put in order and judged (JEJAK-LOG-02). Only a gap, a clear or a roll-over past the cut-off is a finding; the others are intact.")
			rows := make([][]string, 0, len(h.Logs))
			for _, l := range h.Logs {
				rows = append(rows, []string{l.Log, l.File, l.Records, l.FirstID, l.LastID, l.First, l.Last, l.Verdict, l.Finding})
			}
			d.table([]string{"Log", "File", "Records", "First ID", "Last ID", "First (UTC)", "Last (UTC)", "Verdict", "Finding"},
				[]float64{22, 30, 13, 13, 13, 24, 24, 26, 15}, rows)
		}
	}

	d.h2("s6", heading("s6"))
	if len(v.Findings) == 0 {
		d.para("No findings.")
	}
	for _, fv := range v.Findings {
		d.h3(fmt.Sprintf("6.%d %s", fv.N, fv.Heading))
		d.kv(fv.Fields)
		if fv.Explanation != "" {
			d.para(fv.Explanation)
		}
		d.bullets(fv.Reasons)
		d.para("Matching events:")
		rows := make([][]string, 0, len(fv.Rows))
		for _, r := range fv.Rows {
			rows = append(rows, []string{fmt.Sprint(r.N), r.UTC, r.Local, r.Desc, r.Message, r.Source, r.Code, r.ID})
		}
		d.table([]string{"#", "Time (UTC)", "Case zone", "Timestamp description", "Message", "Source: evidence » containers » file @ offset, record (parser)", "Code / record", "Event ID"},
			[]float64{6, 23, 21, 20, 41, 36, 13, 20}, rows)
		if fv.Hidden > 0 {
			d.para(fmt.Sprintf("%d more of the %d events are not shown here (report --max-rows); 'jejak hunt --json' lists them all.", fv.Hidden, fv.Total))
		}
	}

	d.h2("s7", heading("s7"))
	d.bullets(v.NotRead.Lines)
	d.para("Warnings of the latest ingest run, by class:")
	rows = rows[:0]
	for _, c := range v.Classes {
		rows = append(rows, []string{c.Kind, c.Count, c.Meaning})
	}
	d.table([]string{"Class", "Count", "Meaning"}, []float64{25, 15, 140}, rows)
	if len(v.NotRead.Warnings) == 0 {
		d.para("No file was skipped or read in part.")
	} else {
		d.para("Every file skipped or read in part, with the reason ('jejak warnings CASE' lists each warning):")
		rows = rows[:0]
		for _, g := range v.NotRead.Warnings {
			rows = append(rows, []string{string(g.Kind), g.Where, dashIfEmpty(g.Parser), fmt.Sprint(g.Count), g.First})
		}
		d.table([]string{"Class", "File (evidence » containers » path)", "Parser", "Count", "Reason (the first warning)"}, []float64{17, 68, 17, 12, 66}, rows)
		if v.NotRead.Hidden > 0 {
			d.para(fmt.Sprintf("%d more groups are not shown here.", v.NotRead.Hidden))
		}
	}

	d.h2("s8", heading("s8"))
	if len(v.Outputs) == 0 {
		d.para("No export of the case timeline is recorded in the custody log.")
	} else {
		d.para("As the custody log records them (reports are in the custody log too; they are not listed here, so writing a report twice gives the same file):")
		rows = rows[:0]
		for _, o := range v.Outputs {
			rows = append(rows, []string{o.Seq, o.Time, o.Format, o.File, o.SHA256, o.ManifestSHA256})
		}
		d.table([]string{"Entry", "Time (UTC)", "Format", "File", "SHA-256", "Manifest SHA-256"}, []float64{10, 26, 13, 41, 45, 45}, rows)
	}

	d.h2("s9", heading("s9"))
	for _, s := range v.Declaration {
		d.para(s)
	}
	d.need(40)
	d.f.Ln(6)
	d.para("Signature: ______________________________")
	d.f.Ln(2)
	d.para("Name: " + dashIfEmpty(v.Examiner))
	d.f.Ln(2)
	d.para("Date: ______________________________")

	d.h2("appA", heading("appA"))
	if len(v.Rules) == 0 {
		d.para("None.")
	}
	for _, r := range v.Rules {
		d.h3(r.ID)
		src := "-"
		if r.Rule != nil {
			src = r.Rule.Source
		}
		d.kv([]kv{{K: "Source", V: src}, {K: "SHA-256 of the text", V: r.SHA256}})
		if r.Note != "" {
			d.para(r.Note)
		}
		if r.Text != "" {
			d.pre(r.Text)
		}
	}

	d.h2("appB", heading("appB"))
	if len(v.AllRules) == 0 {
		d.para("None.")
	}
	d.f.SetFont("mono", "", 7)
	for _, r := range v.AllRules {
		d.f.MultiCell(0, pdfCell, pdfText(r), "", "L", false)
	}

	d.h2("appC", heading("appC"))
	if len(v.Glossary) == 0 {
		d.para("The timeline holds no events.")
	} else {
		d.para("Every kind of time stamp in the case timeline (timestamp_desc), what it means, and how many events carry it:")
		rows = rows[:0]
		for _, g := range v.Glossary {
			rows = append(rows, []string{g.Desc, g.Meaning, g.Events, g.Parsers})
		}
		d.table([]string{"Timestamp description", "Meaning", "Events", "Parsers"}, []float64{38, 92, 15, 35}, rows)
	}

	d.h2("appD", heading("appD"))
	d.kv(v.Tool)
}

func (d *pdfDoc) title(s string) {
	d.f.SetFont("sans", "B", 16)
	d.f.MultiCell(0, 7, pdfText(s), "", "L", false)
	d.f.Ln(2)
}

// need starts a new page unless h mm are left on this one: a heading is
// not left alone at the foot of a page.
func (d *pdfDoc) need(h float64) {
	_, ph := d.f.GetPageSize()
	if d.f.GetY()+h > ph-pdfBottom {
		d.f.AddPage()
	}
}

func (d *pdfDoc) h2(id, s string) {
	d.need(30)
	d.f.Ln(3)
	if id != "" {
		d.f.SetLink(d.links[id], d.f.GetY(), -1)
		d.pages[id] = d.f.PageNo()
		d.f.Bookmark(pdfText(s), 0, -1)
	}
	d.f.SetFont("sans", "B", 12.5)
	d.f.MultiCell(0, 6, pdfText(s), "B", "L", false)
	d.f.Ln(2)
}

func (d *pdfDoc) h3(s string) {
	d.need(25)
	d.f.Ln(2)
	d.f.Bookmark(pdfText(s), 1, -1)
	d.f.SetFont("sans", "B", 10)
	d.f.MultiCell(0, 5, pdfText(s), "", "L", false)
	d.f.Ln(1)
}

func (d *pdfDoc) para(s string) {
	d.f.SetFont("sans", "", 9)
	d.f.MultiCell(0, pdfLine, pdfText(s), "", "L", false)
	d.f.Ln(1.5)
}

func (d *pdfDoc) bold(s string) {
	d.f.SetFont("sans", "B", 9)
	d.f.MultiCell(0, pdfLine, pdfText(s), "", "L", false)
	d.f.Ln(1.5)
}

func (d *pdfDoc) bullets(items []string) { d.list(items, func(int) string { return "•" }) }

func (d *pdfDoc) numbered(items []string) {
	d.list(items, func(i int) string { return fmt.Sprintf("%d.", i+1) })
}

func (d *pdfDoc) list(items []string, mark func(int) string) {
	d.f.SetFont("sans", "", 9)
	for i, s := range items {
		d.f.SetX(pdfMargin)
		d.f.CellFormat(7, pdfLine, mark(i), "", 0, "R", false, 0, "")
		d.f.SetLeftMargin(pdfMargin + 8)
		d.f.SetX(pdfMargin + 8)
		d.f.MultiCell(0, pdfLine, pdfText(s), "", "L", false)
		d.f.SetLeftMargin(pdfMargin)
		d.f.Ln(0.8)
	}
	if len(items) > 0 {
		d.f.Ln(1)
	}
}

func (d *pdfDoc) pre(s string) {
	d.f.SetFont("mono", "", 7)
	d.f.SetFillColor(246, 246, 246)
	d.f.MultiCell(0, pdfCell, pdfText(strings.TrimSuffix(s, "\n")), "1", "L", true)
	d.f.Ln(2)
}

// contents is the table of contents: each section with its page, linked.
func (d *pdfDoc) contents() {
	d.h2("", "Contents")
	d.f.SetFont("sans", "", 9)
	pw, _ := d.f.GetPageSize()
	width := pw - 2*pdfMargin
	for _, s := range sections {
		page := "?"
		if n, ok := d.tocPages[s.ID]; ok {
			page = fmt.Sprint(n)
		}
		y := d.f.GetY()
		d.f.CellFormat(width-15, pdfLine+0.6, pdfText(s.Title), "", 0, "L", false, d.links[s.ID], "")
		d.f.CellFormat(15, pdfLine+0.6, page, "", 1, "R", false, d.links[s.ID], "")
		d.f.SetDrawColor(200, 200, 200)
		d.f.Line(pdfMargin, y+pdfLine+0.6, pdfMargin+width, y+pdfLine+0.6)
		d.f.SetDrawColor(0, 0, 0)
	}
	d.f.Ln(3)
}

func (d *pdfDoc) kv(rows []kv) {
	t := make([][]string, 0, len(rows))
	for _, r := range rows {
		t = append(t, []string{r.K, r.V})
	}
	d.grid(nil, []float64{45, 135}, t, 8)
}

func (d *pdfDoc) table(head []string, widths []float64, rows [][]string) {
	d.grid(head, widths, rows, 7)
}

// grid draws a table whose cells wrap; a row that does not fit on the
// page continues on the next, and the header row is drawn again at the
// top of every page the table reaches.
func (d *pdfDoc) grid(head []string, widths []float64, rows [][]string, size float64) {
	f := d.f
	_, ph := f.GetPageSize()
	bottom := ph - pdfBottom
	lineH := size * 0.47
	split := func(cells []string) [][]string {
		out := make([][]string, len(cells))
		for i, c := range cells {
			lines := f.SplitText(pdfText(c), widths[i])
			if len(lines) == 0 {
				lines = []string{""}
			}
			out[i] = lines
		}
		return out
	}
	drawRow := func(lines [][]string, n int, from int, fill bool) {
		x, y := pdfMargin, f.GetY()
		h := float64(n)*lineH + 1
		for i, w := range widths {
			style := "D"
			if fill {
				style = "FD"
			}
			f.Rect(x, y, w, h, style)
			for j := 0; j < n && from+j < len(lines[i]); j++ {
				f.SetXY(x, y+0.5+float64(j)*lineH)
				f.CellFormat(w, lineH, lines[i][from+j], "", 0, "L", false, 0, "")
			}
			x += w
		}
		f.SetXY(pdfMargin, y+h)
	}
	var headLines [][]string
	headRows := 0
	header := func() {
		if head == nil {
			return
		}
		f.SetFont("sans", "B", size)
		f.SetFillColor(235, 235, 235)
		drawRow(headLines, headRows, 0, true)
		f.SetFont("sans", "", size)
	}
	f.SetDrawColor(150, 150, 150)
	f.SetLineWidth(0.15)
	if head != nil {
		f.SetFont("sans", "B", size)
		headLines = split(head)
		for _, l := range headLines {
			headRows = max(headRows, len(l))
		}
		if f.GetY()+float64(headRows+2)*lineH+2 > bottom {
			f.AddPage()
		}
		header()
	}
	f.SetFont("sans", "", size)
	// No automatic page break inside the table: it breaks rows itself.
	f.SetAutoPageBreak(false, pdfBottom)
	for _, cells := range rows {
		lines := split(cells)
		n := 0
		for _, l := range lines {
			n = max(n, len(l))
		}
		for from := 0; from < n; {
			room := int((bottom - f.GetY() - 1) / lineH)
			if room < 1 || (room < n-from && room < 3) {
				f.AddPage()
				header()
				continue
			}
			take := min(room, n-from)
			drawRow(lines, take, from, false)
			from += take
		}
	}
	f.SetAutoPageBreak(true, pdfBottom)
	f.SetDrawColor(0, 0, 0)
	f.Ln(2)
}

// pdfText makes text safe for the PDF font tables: control characters are
// shown escaped (as in the Markdown report), and characters beyond the
// Basic Multilingual Plane, which the embedded font's width table does not
// cover, become U+FFFD.
func pdfText(s string) string {
	s = termsafe.Lines(strings.ReplaceAll(s, "\r\n", "\n"))
	if !strings.ContainsFunc(s, func(r rune) bool { return r > 0xFFFF || r == '\t' || (unicode.IsControl(r) && r != '\n') }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r > 0xFFFF:
			b.WriteRune('\uFFFD')
		case r == '\t':
			b.WriteString("    ")
		case unicode.IsControl(r) && r != '\n':
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
