// Package export writes what leaves a case for other tools and for court:
// the timeline as CSV (columns in the spirit of plaso's l2tcsv, but with UTC
// nanosecond times and full provenance), JSON Lines (the stored ECS
// document, byte for byte) or Timesketch's JSONL import format; a findings
// report (Markdown or HTML); and the manifest that binds an output file to
// the case it came from. Rows come in the store's total order (@timestamp,
// then jejak.id), and nothing here reads a clock, so the same case always
// exports to the same bytes.
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Format names an export format.
type Format string

const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
	// Timesketch is Timesketch's JSONL import format (see timesketch.go).
	Timesketch Format = "timesketch"
	// L2TCSV is plaso's l2tcsv (log2timeline CSV), see l2tcsv.go.
	L2TCSV Format = "l2tcsv"
)

// Formats lists what Write accepts, for help texts and flag validation.
var Formats = []Format{CSV, JSONL, Timesketch, L2TCSV}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown export format %q (want one of csv, jsonl, timesketch, l2tcsv)", s)
}

// Searcher is the part of a store an export needs.
type Searcher interface {
	Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error
}

// Write exports every event matching q to w and returns how many it wrote.
func Write(ctx context.Context, w io.Writer, f Format, s Searcher, q timeline.Query) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var row func(*timeline.Event) error
	var cw *csv.Writer
	switch f {
	case CSV:
		cw = csv.NewWriter(bw)
		if err := cw.Write(CSVHeader); err != nil {
			return 0, err
		}
		row = func(e *timeline.Event) error { return cw.Write(NeutralizeRow(CSVRow(e))) }
	case JSONL:
		// The ECS document with the free-form maps as JSON text, so the
		// file loads into any index (portable.go).
		var line []byte
		row = func(e *timeline.Event) error {
			doc, err := portableDoc(e)
			if err != nil {
				return err
			}
			if line, err = appendJSON(line[:0], doc); err != nil {
				return err
			}
			_, err = bw.Write(append(line, '\n'))
			return err
		}
	case L2TCSV:
		cw = csv.NewWriter(bw)
		if err := cw.Write(L2TCSVHeader); err != nil {
			return 0, err
		}
		row = func(e *timeline.Event) error { return cw.Write(NeutralizeRow(L2TCSVRow(e))) }
	case Timesketch:
		var line []byte
		row = func(e *timeline.Event) error {
			var err error
			if line, err = AppendTimesketch(line[:0], e); err != nil {
				return err
			}
			_, err = bw.Write(line)
			return err
		}
	default:
		return 0, fmt.Errorf("unknown export format %q", f)
	}
	err := s.Search(ctx, q, func(e *timeline.Event) error {
		n++
		return row(e)
	})
	if err != nil {
		return n, fmt.Errorf("export %s: %w", f, err)
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, fmt.Errorf("write export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write export: %w", err)
	}
	return n, nil
}

// A CSV export is opened by reviewers in spreadsheets, and a spreadsheet
// runs a cell that starts with =, +, - or @ as a formula (DDE included:
// =cmd|'/c calc'!A1), also after a leading tab or carriage return. Evidence
// is written by whoever attacked the system, so every cell that starts
// with one of these is neutralised as OWASP's CSV injection guidance
// says: one single quote is put in front, which a spreadsheet shows as
// text. A cell that already starts with a quote gets one too, so the rule
// is reversible: a reader that wants the original removes one leading
// quote from every cell that has one. Plain numbers ("-1", "-0.5") are
// left alone: a spreadsheet reads them as numbers, never as formulas.
// JSON Lines is the machine-faithful export and is written unchanged.

// Neutralize returns cell as it is safe to open in a spreadsheet (see
// above); Restore undoes it.
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		if isPlainNumber(cell) {
			return cell
		}
		return "'" + cell
	}
	return cell
}

// Restore returns the cell Neutralize was given.
func Restore(cell string) string {
	return strings.TrimPrefix(cell, "'")
}

// NeutralizeRow neutralises every cell of row in place and returns it.
func NeutralizeRow(row []string) []string {
	for i, c := range row {
		row[i] = Neutralize(c)
	}
	return row
}

// isPlainNumber reports whether s is an optional sign, digits and at most
// one decimal point with digits on both sides: what a spreadsheet takes
// for a number and nothing else.
func isPlainNumber(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	intPart, frac, dot := strings.Cut(s, ".")
	return allDigits(intPart) && (!dot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CSVHeader names the CSV columns. The first five are what a reader of a
// super-timeline scans; the rest walk the row back to the evidence bytes.
var CSVHeader = []string{
	"datetime", "timestamp_desc", "event.action", "event.outcome", "message",
	"user.name", "source.ip", "source.port", "host.name", "process.name",
	"evidence_sha256", "evidence_name", "chain", "path", "identity", "offset", "record", "parser",
	"zone_assumed", "year_inferred", "id",
}

// CSVRow renders one event in CSVHeader's columns.
func CSVRow(e *timeline.Event) []string {
	var user, ip, port, host, proc string
	if e.User != nil {
		user = e.User.Name
	}
	if e.Source != nil {
		ip = e.Source.IP
		if e.Source.Port != 0 {
			port = strconv.Itoa(e.Source.Port)
		}
	}
	if e.Host != nil {
		host = e.Host.Name
	}
	if e.Process != nil {
		proc = e.Process.Name
	}
	var zone, year string
	if e.Jejak.Time != nil {
		zone = e.Jejak.Time.ZoneAssumed
		if e.Jejak.Time.YearInferred {
			year = "true"
		}
	}
	p := e.Jejak.Provenance
	var record string
	if p.Record != 0 {
		record = strconv.FormatInt(p.Record, 10)
	}
	return []string{
		e.Timestamp.UTC().Format(time.RFC3339Nano), e.TimestampDesc, e.Event.Action, e.Event.Outcome, e.Message,
		user, ip, port, host, proc,
		p.EvidenceSHA256, p.EvidenceName, strings.Join(p.Chain, " > "), p.Path, p.Identity, strconv.FormatInt(p.Offset, 10), record, p.Parser,
		zone, year, e.Jejak.ID,
	}
}
