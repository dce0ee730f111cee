package postgresql

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/timeline"
)

// csvlog columns (PostgreSQL 9.0+; 13 added backend_type and later ones).
const (
	colTime = iota
	colUser
	colDB
	colPID
	colConnFrom
	colSession
	colSessionLine
	colCommandTag
	colSessionStart
	colVXID
	colXID
	colSeverity
	colSQLState
	colMessage
	colDetail
	colHint
	colInternalQuery
	colInternalQueryPos
	colContext
	colQuery
	colQueryPos
	colLocation
	colAppName
	minColumns
)

// parseCSV reads csvlog with encoding/csv: its fields are quoted and may
// span lines, which encoding/csv handles and reports offsets for.
func parseCSV(ctx context.Context, r io.Reader, src *parsers.Source, emit func(*timeline.Event) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var n int64
	for {
		off := cr.InputOffset()
		fields, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		n++
		if n%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		line := n
		if err == nil {
			l, _ := cr.FieldPos(0)
			line = int64(l)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				warn(src, off, int64(pe.StartLine), err)
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					// encoding/csv cannot resynchronise after a broken
					// quote: the rest of the file is one bad record.
					return nil
				}
				continue
			}
			return err
		}
		if len(fields) < minColumns {
			warn(src, off, line, fmt.Errorf("csvlog record with %d fields, want at least %d", len(fields), minColumns))
			continue
		}
		ev, err := csvEvent(fields, src)
		if err != nil {
			warn(src, off, line, err)
			continue
		}
		parsers.At(ev, off, line)
		if err := emit(ev); err != nil {
			return err
		}
	}
}

func csvEvent(f []string, src *parsers.Source) (*timeline.Event, error) {
	ts, zone, _ := strings.Cut(f[colTime], " ")
	if t2, z2, ok := strings.Cut(zone, " "); ok { // "2022-04-12 00:16:05.526 UTC"
		ts, zone = ts+" "+t2, z2
	} else {
		ts, zone = ts+" "+zone, ""
	}
	ev := newEvent(f[colSeverity], strings.Join(f, ","))
	if err := place(ev, ts, zone, src); err != nil {
		return nil, err
	}
	ev.Message = f[colSeverity] + ":  " + f[colMessage]
	dblog.SetUser(ev, f[colUser])
	dblog.SetDB(ev, f[colDB])
	dblog.SetPID(ev, f[colPID])
	if c := f[colConnFrom]; c != "" {
		host, port, _ := strings.Cut(c, ":")
		dblog.SetSource(ev, host, port)
	}
	for k, i := range map[string]int{"session_id": colSession, "session_line": colSessionLine,
		"command_tag": colCommandTag, "sql_state": colSQLState, "detail": colDetail, "hint": colHint,
		"context": colContext, "query": colQuery, "application_name": colAppName} {
		if f[i] != "" {
			ev.Jejak.Data[k] = f[i]
		}
	}
	classify(ev, f[colSeverity], f[colMessage])
	// A failed statement is in the query column of its ERROR record.
	if q := f[colQuery]; q != "" && ev.Event.Action == dblog.MessageAction {
		dblog.TagStatement(ev, q)
	}
	return ev, nil
}
