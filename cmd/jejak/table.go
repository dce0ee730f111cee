package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// column is one column 'jejak timeline' and 'jejak search' can print.
type column struct {
	name, header string
	// max is the column's widest cell when the table is fitted to a width;
	// a column with a share instead takes that share of what is left.
	max, share int
	cell       func(ev *timeline.Event, zone *time.Location) string
	// keepEnd: when cut, keep the end (a path's file name) not the start.
	keepEnd bool
}

var columns = []column{
	{name: "time", header: "TIME", max: 35, cell: func(ev *timeline.Event, z *time.Location) string {
		return ev.Timestamp.In(z).Format("2006-01-02T15:04:05.000000000Z07:00")
	}},
	{name: "desc", header: "DESC", max: 20, cell: func(ev *timeline.Event, _ *time.Location) string { return ev.TimestampDesc }},
	{name: "parser", header: "PARSER", max: 12, cell: func(ev *timeline.Event, _ *time.Location) string { return ev.Jejak.Provenance.Parser }},
	{name: "action", header: "ACTION", max: 22, cell: func(ev *timeline.Event, _ *time.Location) string { return dash(ev.Event.Action) }},
	{name: "host", header: "HOST", max: 16, cell: func(ev *timeline.Event, _ *time.Location) string {
		if ev.Host != nil {
			return dash(ev.Host.Name)
		}
		return "-"
	}},
	{name: "user", header: "USER", max: 16, cell: func(ev *timeline.Event, _ *time.Location) string {
		if ev.User != nil {
			return dash(ev.User.Name)
		}
		return "-"
	}},
	{name: "ip", header: "SOURCE IP", max: 39, cell: func(ev *timeline.Event, _ *time.Location) string {
		if ev.Source != nil {
			return dash(ev.Source.IP)
		}
		return "-"
	}},
	{name: "message", header: "MESSAGE", share: 3, cell: func(ev *timeline.Event, _ *time.Location) string { return ev.Message }},
	{name: "source", header: "SOURCE", share: 2, keepEnd: true, cell: func(ev *timeline.Event, _ *time.Location) string {
		p := ev.Jejak.Provenance
		return fmt.Sprintf("%s @%d", p.Display(), p.Offset)
	}},
}

const defaultColumns = "time,desc,parser,action,message,source"

func columnNames() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// tableFlags are the display flags of 'timeline' and 'search'.
func tableFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tz", Usage: "show times in IANA `ZONE` (\"case\" for the case zone; default UTC); --from/--to are unaffected"},
		&cli.StringFlag{Name: "columns", Value: defaultColumns, Usage: "`LIST` of columns, comma-separated, from: " + columnNames()},
		&cli.IntFlag{Name: "width", Usage: "fit rows to `N` characters, cutting long cells with … (default: the terminal's width; 0 when not a terminal: never cut)"},
	}
}

// tableStyle is how events are printed.
type tableStyle struct {
	json  bool
	zone  *time.Location
	cols  []column
	width int // 0: never cut
}

func tableStyleOf(c *cli.Context, caseZone *time.Location, stdout io.Writer) (tableStyle, error) {
	st := tableStyle{json: c.Bool("json"), zone: time.UTC}
	switch z := c.String("tz"); z {
	case "", "UTC":
	case "case":
		st.zone = caseZone
	default:
		if err := checkZone("tz", z); err != nil {
			return st, err
		}
		st.zone, _ = time.LoadLocation(z)
	}
	for _, name := range strings.Split(c.String("columns"), ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		found := false
		for _, col := range columns {
			if col.name == name {
				st.cols = append(st.cols, col)
				found = true
			}
		}
		if !found {
			return st, usagef("--columns: no column %q; the columns are %s", name, columnNames())
		}
	}
	switch {
	case c.IsSet("width"):
		if st.width = c.Int("width"); st.width < 0 {
			return st, usagef("--width must not be negative")
		}
	default:
		if f, ok := stdout.(*os.File); ok && isTerminal(stdout) {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
				st.width = w
			}
		}
	}
	return st, nil
}

// limits gives each column its widest cell for the table width: the fixed
// columns their max, the others their share of what is left. When that
// leaves the shared columns under 12 characters each, the fixed ones
// shrink in proportion (to 4 at least: a very narrow width may still
// overflow).
func (st tableStyle) limits() []int {
	lim := make([]int, len(st.cols))
	if st.width == 0 {
		return lim
	}
	gaps := 2 * (len(st.cols) - 1)
	fixed, shares, nShared := 0, 0, 0
	for _, c := range st.cols {
		if c.share == 0 {
			fixed += c.max
		} else {
			shares += c.share
			nShared++
		}
	}
	scale := 1.0
	if room := st.width - gaps - 12*nShared; fixed > 0 && room < fixed {
		scale = max(float64(room), 0) / float64(fixed)
	}
	used := gaps
	for i, c := range st.cols {
		if c.share == 0 {
			lim[i] = max(int(float64(c.max)*scale), 4)
			used += lim[i]
		}
	}
	for i, c := range st.cols {
		if c.share > 0 {
			lim[i] = max((st.width-used)*c.share/shares, 4)
		}
	}
	return lim
}

// printEvents writes the events a search streams: a table, or one ECS JSON
// document per line. It returns how many it wrote.
func printEvents(w io.Writer, st tableStyle, search func(func(*timeline.Event) error) error) (int64, error) {
	out := bufio.NewWriterSize(w, 1<<16)
	var n int64
	if st.json {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		err := search(func(ev *timeline.Event) error { n++; return enc.Encode(ev) })
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		return n, err
	}
	lim := st.limits()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := make([]string, len(st.cols))
	for i, c := range st.cols {
		row[i] = c.header
		if c.name == "time" {
			row[i] = "TIME (" + st.zone.String() + ")"
		}
	}
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	err := search(func(ev *timeline.Event) error {
		n++
		for i, c := range st.cols {
			row[i] = cut(oneLine(c.cell(ev, st.zone)), lim[i], c.keepEnd)
		}
		if _, err := fmt.Fprintln(tw, strings.Join(row, "\t")); err != nil {
			return err
		}
		// tabwriter holds every row until Flush: align blocks of rows so a
		// timeline of millions streams in constant memory.
		if n%500 == 0 {
			return tw.Flush()
		}
		return nil
	})
	if err == nil {
		err = tw.Flush()
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

// cut shortens s to at most n characters (0: no limit) with an ellipsis,
// keeping the start, or the end when keepEnd.
func cut(s string, n int, keepEnd bool) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if keepEnd {
		return "…" + string(r[len(r)-(n-1):])
	}
	return string(r[:n-1]) + "…"
}
