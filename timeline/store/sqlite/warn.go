package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// warnRows is how many warnings one INSERT stores. A skipped file is a
// warning, so an image of 300k small files has 300k of them: one row per
// INSERT cost 0.85 CPU-s of the 300k image's analyze, nearly all of it the
// statement's own overhead (and database/sql's conversion of nine
// arguments) rather than SQLite's work for a row this small.
const warnRows = 64

// warnCols is how many values a warning row binds; the run is bound once
// per statement, as ?1.
const warnCols = 8

// AddWarnings stores warnings of the current run, in the order given (the
// custody digest reads the table in rowid order), in one transaction.
//
// The rows go in multi-row INSERTs of up to warnRows rows, through the
// driver's connection (sql.Conn.Raw): each value is bound as the
// single-row INSERT this replaced bound it (run, kind, evidence, chain as
// JSON, path, parser, offset, record, message), so the stored rows are the
// same, value for value and rowid for rowid. What an INSERT's rows share
// (all but chain, path and message, for an image's skipped files) is
// bound once:
// the driver binds every parameter with a C call under SQLite's mutex and
// clears them all again after each statement.
//
// It runs on a pooled connection, not the event writer's: the ingest
// stores warnings from another goroutine while Write runs.
func (s *Store) AddWarnings(ctx context.Context, ws []timeline.Warning) error {
	return s.AddWarningsDigest(ctx, ws, nil)
}

// AddWarningsDigest is AddWarnings hashing the rows into d (see
// DigestWarnings) once their transaction committed; d nil hashes nothing.
// A failure breaks d's stream.
func (s *Store) AddWarningsDigest(ctx context.Context, ws []timeline.Warning, d *WarnDigest) error {
	if len(ws) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		d.fail("store warnings: %v", err)
		return err
	}
	defer conn.Close()
	run := s.run.Load()
	hashed := warnHashed{buf: d.buffer()}
	err = conn.Raw(func(dc any) error {
		return inRawTx(ctx, dc, "store warnings: ", func(c rawConn) error {
			// At most six shapes per call: warnRows rows and what is left,
			// each with its rows' shared values (the message too, or not) bound
			// once or not.
			stmts := map[warnShape]rawStmt{}
			defer func() {
				for _, st := range stmts {
					st.Close()
				}
			}()
			args := make([]driver.NamedValue, 0, 1+warnRows*warnCols)
			chains := make([]string, warnRows)
			ends := make([]int, warnRows)
			var buf []byte
			for lo := 0; lo < len(ws); lo += warnRows {
				part := ws[lo:min(lo+warnRows, len(ws))]
				// The chains as json.Marshal writes them (the store's
				// encoder, held to it by its tests), one string for the
				// part's: encoding/json's reflection and an allocation
				// per warning were a tenth of storing an image's skipped
				// files.
				buf = buf[:0]
				for i := range part {
					buf = appendChain(buf, part[i].Chain)
					ends[i] = len(buf)
				}
				text, at := string(buf), 0
				for i := range part {
					chains[i], at = text[at:ends[i]], ends[i]
				}
				shape := warnShape{n: len(part), shared: sharedWarnings(part)}
				shape.sharedMsg = shape.shared && sharedMessage(part)
				st, ok := stmts[shape]
				if !ok {
					if st, err = prepareWarnInsert(ctx, c, shape); err != nil {
						return err
					}
					stmts[shape] = st
				}
				a := append(args[:0], driver.NamedValue{Ordinal: 1, Value: run})
				if shape.shared {
					w := &part[0]
					a = append(a,
						driver.NamedValue{Ordinal: 2, Value: string(w.Kind)},
						driver.NamedValue{Ordinal: 3, Value: w.Evidence},
						driver.NamedValue{Ordinal: 4, Value: w.Parser},
						driver.NamedValue{Ordinal: 5, Value: w.Offset},
						driver.NamedValue{Ordinal: 6, Value: w.Record})
					if shape.sharedMsg {
						a = append(a, driver.NamedValue{Ordinal: 7, Value: w.Message})
					}
				}
				for i := range part {
					w := &part[i]
					n := len(a)
					if shape.sharedMsg {
						a = append(a,
							driver.NamedValue{Ordinal: n + 1, Value: chains[i]},
							driver.NamedValue{Ordinal: n + 2, Value: w.Path})
						continue
					}
					if shape.shared {
						a = append(a,
							driver.NamedValue{Ordinal: n + 1, Value: chains[i]},
							driver.NamedValue{Ordinal: n + 2, Value: w.Path},
							driver.NamedValue{Ordinal: n + 3, Value: w.Message})
						continue
					}
					a = append(a,
						driver.NamedValue{Ordinal: n + 1, Value: string(w.Kind)},
						driver.NamedValue{Ordinal: n + 2, Value: w.Evidence},
						driver.NamedValue{Ordinal: n + 3, Value: w.Parser},
						driver.NamedValue{Ordinal: n + 4, Value: w.Offset},
						driver.NamedValue{Ordinal: n + 5, Value: w.Record},
						driver.NamedValue{Ordinal: n + 6, Value: chains[i]},
						driver.NamedValue{Ordinal: n + 7, Value: w.Path},
						driver.NamedValue{Ordinal: n + 8, Value: w.Message})
				}
				res, err := st.ExecContext(ctx, a)
				if err != nil {
					return fmt.Errorf("store warnings of %s: %w", part[0].Path, err)
				}
				if d != nil {
					hashed.add(res, run, part, chains)
				}
			}
			return nil
		})
	})
	if err != nil {
		d.fail("%v", err)
		return err
	}
	d.commit(&hashed)
	return nil
}

// appendChain appends chain as json.Marshal writes a []string: null
// when nil.
func appendChain(b []byte, chain []string) []byte {
	if chain == nil {
		return append(b, "null"...)
	}
	return appendStrings(b, chain)
}

// warnShape is what a prepared warnings insert is for: n rows, whose
// values other than chain, path and message are bound once (shared) or
// not.
type warnShape struct {
	n      int
	shared bool
	// sharedMsg: the message too (an image's files that no parser
	// takes mostly share one), bound once as ?7.
	sharedMsg bool
}

// sharedMessage reports whether the warnings all have the same message.
func sharedMessage(ws []timeline.Warning) bool {
	for i := 1; i < len(ws); i++ {
		if ws[i].Message != ws[0].Message {
			return false
		}
	}
	return true
}

// sharedWarnings reports whether the warnings share every value but their
// chain, path and message, as an image's skipped files do (a file's chain
// ends in its own name).
func sharedWarnings(ws []timeline.Warning) bool {
	w0 := &ws[0]
	for i := 1; i < len(ws); i++ {
		w := &ws[i]
		if w.Kind != w0.Kind || w.Evidence != w0.Evidence ||
			w.Parser != w0.Parser || w.Offset != w0.Offset || w.Record != w0.Record {
			return false
		}
	}
	return true
}

// prepareWarnInsert prepares the INSERT of a shape's warnings: the run as
// ?1; then, shared, the values the rows share once as ?2 to ?6 and each
// row's chain, path and message, or else each row's eight values. The columns
// are listed with the shared ones first, so that their numbers come before
// the plain ?s (SQLite numbers a ? one above the largest number before
// it).
func prepareWarnInsert(ctx context.Context, c rawConn, shape warnShape) (rawStmt, error) {
	var b strings.Builder
	if shape.sharedMsg {
		// The message before chain and path, so that ?7 comes before
		// the plain ?s (as above).
		b.WriteString(`INSERT INTO warnings(run, kind, evidence, parser, offset, record, message, chain, path) VALUES `)
	} else {
		b.WriteString(`INSERT INTO warnings(run, kind, evidence, parser, offset, record, chain, path, message) VALUES `)
	}
	for i := range shape.n {
		if i > 0 {
			b.WriteByte(',')
		}
		if shape.sharedMsg {
			b.WriteString("(?1,?2,?3,?4,?5,?6,?7,?,?)")
		} else if shape.shared {
			b.WriteString("(?1,?2,?3,?4,?5,?6,?,?,?)")
		} else {
			b.WriteString("(?1,?,?,?,?,?,?,?,?)")
		}
	}
	return prepareRaw(ctx, c, "warnings insert", b.String())
}
