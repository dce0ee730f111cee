package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/jejak-forensics/jejak/timeline"
)

// Warnings are stored compactly (format 8): what rows share (kind,
// evidence, parser, the chain's head and, when it repeats, the message)
// once in warn_shapes, and per row in warn_rows only the run, the shape's
// number, the path, the offset and the record, with the chain and the
// message when the shape does not give them. The view warnings puts a
// warning's nine values back together, as the table of format 7 held
// them: an image of 300k small files has a warning per file no parser
// takes, each of which repeated the evidence's 64-character SHA-256, the
// chain (its head, then the path again) and a 110-character message, an
// 82 MB table; its rows are now about 40 bytes.
//
// A chain is stored as its JSON text (appendChain). When that text ends
// with the warning's path and `"]` (an image's file: ["raw:","ntfs:PATH"]),
// the shape holds the rest, its head, and the view gives the chain as
// head || path || '"]' (byte for byte the text, whatever the path holds).
// Otherwise the row holds the chain (warn_rows.chain not NULL).
const warnSchema = `
CREATE TABLE IF NOT EXISTS warn_shapes (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	evidence TEXT NOT NULL,
	chain_head TEXT,
	parser TEXT NOT NULL,
	message TEXT
);
CREATE TABLE IF NOT EXISTS warn_rows (
	run INTEGER NOT NULL,
	shape INTEGER NOT NULL,
	path TEXT NOT NULL,
	chain TEXT,
	message TEXT,
	offset INTEGER NOT NULL,
	record INTEGER NOT NULL
);
`

// warnView is the view jejak and the custody digest read warnings
// through, with the columns of format 7's table (and its rowid as a
// column), and its triggers, so that SQL written against that table
// (sqlite3, tests) still inserts, updates and deletes warnings: a row
// written through them has a shape of its own and holds its chain and
// message.
const warnView = `
CREATE VIEW IF NOT EXISTS warnings AS SELECT
	w.rowid AS rowid, w.run AS run, s.kind AS kind, s.evidence AS evidence,
	coalesce(w.chain, s.chain_head || w.path || '"]') AS chain, w.path AS path, s.parser AS parser,
	w.offset AS offset, w.record AS record, coalesce(w.message, s.message) AS message
FROM warn_rows w LEFT JOIN warn_shapes s ON s.id = w.shape;
CREATE TRIGGER IF NOT EXISTS warnings_insert INSTEAD OF INSERT ON warnings BEGIN
	INSERT INTO warn_shapes(kind, evidence, parser) VALUES (NEW.kind, NEW.evidence, NEW.parser);
	INSERT INTO warn_rows(run, shape, path, chain, message, offset, record)
		VALUES (NEW.run, last_insert_rowid(), NEW.path, NEW.chain, NEW.message, NEW.offset, NEW.record);
END;
CREATE TRIGGER IF NOT EXISTS warnings_delete INSTEAD OF DELETE ON warnings BEGIN
	DELETE FROM warn_rows WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER IF NOT EXISTS warnings_update INSTEAD OF UPDATE ON warnings BEGIN
	INSERT INTO warn_shapes(kind, evidence, parser) VALUES (NEW.kind, NEW.evidence, NEW.parser);
	UPDATE warn_rows SET run = NEW.run, shape = last_insert_rowid(), path = NEW.path, chain = NEW.chain,
		message = NEW.message, offset = NEW.offset, record = NEW.record WHERE rowid = OLD.rowid;
END;
`

// migrateWarnings makes format 7's table warnings (as every format before
// it had it) the tables of format 8, every row keeping its rowid and
// values: one shape per kind, evidence and parser, each row holding its
// chain and message. A custody digest of the table recorded before reads
// the view the same.
var migrateWarnings = []string{
	strings.TrimSpace(warnSchema),
	`INSERT INTO warn_shapes(kind, evidence, parser) SELECT DISTINCT kind, evidence, parser FROM warnings`,
	`INSERT INTO warn_rows(rowid, run, shape, path, chain, message, offset, record)
		SELECT w.rowid, w.run, s.id, w.path, w.chain, w.message, w.offset, w.record
		FROM warnings w JOIN warn_shapes s ON s.kind = w.kind AND s.evidence = w.evidence AND s.parser = w.parser
		ORDER BY w.rowid`,
	`DROP TABLE warnings`,
}

// warnRows is how many warnings one INSERT stores. A skipped file is a
// warning, so an image of 300k small files has 300k of them: one row per
// INSERT cost 0.85 CPU-s of the 300k image's analyze, nearly all of it the
// statement's own overhead (and database/sql's conversion of its
// arguments) rather than SQLite's work for a row this small.
const warnRows = 64

// warnCols is how many values a warning row binds; the run is bound once
// per statement, as ?1.
const warnCols = 6

// warnShapeKey is a row of warn_shapes. hasHead and hasMsg: the shape
// gives the chain's head (chain_head not NULL) and the message.
type warnShapeKey struct {
	kind, evidence, head, parser, message string
	hasHead, hasMsg                       bool
}

// warnShapes are the shapes this Store inserted, by key, for its later
// warnings. A shape another Store (or process) inserted is inserted
// again: two rows of warn_shapes alike are harmless. Dropped whenever a
// transaction of warnings fails, since its shapes are gone with it.
type warnShapes struct {
	mu  sync.Mutex
	ids map[warnShapeKey]int64
}

// AddWarnings stores warnings of the current run, in the order given (the
// custody digest reads them in rowid order), in one transaction.
//
// It runs on a pooled connection, not the event writer's: the ingest
// stores warnings from another goroutine while Write runs.
func (s *Store) AddWarnings(ctx context.Context, ws []timeline.Warning) error {
	return s.AddWarningsDigest(ctx, ws, nil)
}

// AddWarningsDigest is AddWarnings hashing the warnings into d (see
// DigestWarnings) once their transaction committed; d nil hashes nothing.
// A failure breaks d's stream.
//
// The rows go in multi-row INSERTs of up to warnRows rows, through the
// driver's connection (sql.Conn.Raw), what an INSERT's rows share (run,
// shape, offset, record; an image's skipped files share all of them)
// bound once: the driver binds every parameter with a C call under
// SQLite's mutex and clears them all again after each statement.
func (s *Store) AddWarningsDigest(ctx context.Context, ws []timeline.Warning, d *WarnDigest) error {
	return s.addWarnings(ctx, ws, d, nil)
}

// AddWarningsBetweenWrites is AddWarningsDigest with its transaction run
// between two of the write-behind's (BetweenWrites), and only the
// transaction: the chains' text and the rows' shapes are worked out
// before it and the digest hashed after it, while the event inserter,
// which waits for the transaction, goes on. On the 300k image's analyze
// they were 0.15 of the 0.36 CPU-s its warnings took inside the gap.
func (s *Store) AddWarningsBetweenWrites(ctx context.Context, ws []timeline.Warning, d *WarnDigest) error {
	return s.addWarnings(ctx, ws, d, s.BetweenWrites)
}

// addWarnings stores ws, its transaction run by between when it is not
// nil.
func (s *Store) addWarnings(ctx context.Context, ws []timeline.Warning, d *WarnDigest, between func(func() error) error) error {
	if len(ws) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		d.fail("store warnings: %v", err)
		return err
	}
	defer conn.Close()
	sh := &s.warnShapes
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.ids == nil {
		sh.ids = map[warnShapeKey]int64{}
	}
	chains, keys := warnKeys(ws, sh.ids)
	var run int64
	results := make([]driver.Result, 0, (len(ws)+warnRows-1)/warnRows)
	tx := func() error {
		run = s.run.Load()
		return conn.Raw(func(dc any) error {
			return inRawTx(ctx, dc, "store warnings: ", func(c rawConn) error {
				return insertWarnings(ctx, c, run, ws, chains, keys, sh.ids, &results)
			})
		})
	}
	if between != nil {
		err = between(tx)
	} else {
		err = tx()
	}
	if err != nil {
		clear(sh.ids)
		d.fail("%v", err)
		return err
	}
	if d != nil {
		hashed := warnHashed{buf: d.buffer()}
		for i, res := range results {
			lo := i * warnRows
			hi := min(lo+warnRows, len(ws))
			hashed.add(res, run, ws[lo:hi], chains[lo:hi])
		}
		d.commit(&hashed)
	}
	return nil
}

// warnKeys gives each warning's chain as stored (appendChain) and the key
// of its shape: the chain's head when the chain ends with the path, the
// message when a shape already has it or it repeats among ws (a message
// of one warning, a record's naming its line, is the row's own).
func warnKeys(ws []timeline.Warning, ids map[warnShapeKey]int64) ([]string, []warnShapeKey) {
	// The chains as json.Marshal writes them (the store's encoder, held
	// to it by its tests), one string for all.
	ends := make([]int, len(ws))
	var buf []byte
	for i := range ws {
		buf = appendChain(buf, ws[i].Chain)
		ends[i] = len(buf)
	}
	text, at := string(buf), 0
	chains := make([]string, len(ws))
	for i := range ws {
		chains[i], at = text[at:ends[i]], ends[i]
	}
	repeats := map[string]int32{}
	for i := range ws {
		repeats[ws[i].Message]++
	}
	keys := make([]warnShapeKey, len(ws))
	for i := range ws {
		w, chain := &ws[i], chains[i]
		k := warnShapeKey{kind: string(w.Kind), evidence: w.Evidence, parser: w.Parser, message: w.Message, hasMsg: true}
		if n := len(chain) - len(w.Path) - 2; n >= 0 && chain[n+len(w.Path):] == `"]` && chain[n:n+len(w.Path)] == w.Path {
			k.head, k.hasHead = chain[:n], true
		}
		if i > 0 && k == keys[i-1] {
			keys[i] = k
			continue
		}
		if _, ok := ids[k]; !ok && repeats[w.Message] < 2 {
			k.message, k.hasMsg = "", false
		}
		keys[i] = k
	}
	return chains, keys
}

// insertWarnings inserts ws, whose chains and shapes' keys warnKeys gave,
// in the transaction open on c, each INSERT's result appended to results.
func insertWarnings(ctx context.Context, c rawConn, run int64, ws []timeline.Warning, chains []string, keys []warnShapeKey,
	ids map[warnShapeKey]int64, results *[]driver.Result) error {
	// At most six statements per call: warnRows rows and what is left,
	// each in three forms.
	stmts := map[warnShape]rawStmt{}
	var shapeIns rawStmt
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
		if shapeIns != nil {
			shapeIns.Close()
		}
	}()
	var lastKey warnShapeKey
	var lastID int64 = -1
	shapeID := func(k *warnShapeKey) (int64, error) {
		if lastID >= 0 && *k == lastKey {
			return lastID, nil
		}
		id, ok := ids[*k]
		if !ok {
			if shapeIns == nil {
				var err error
				if shapeIns, err = prepareRaw(ctx, c, "warning shape insert",
					`INSERT INTO warn_shapes(kind, evidence, chain_head, parser, message) VALUES (?,?,?,?,?)`); err != nil {
					return 0, err
				}
			}
			var head, msg any
			if k.hasHead {
				head = k.head
			}
			if k.hasMsg {
				msg = k.message
			}
			res, err := shapeIns.ExecContext(ctx, []driver.NamedValue{
				{Ordinal: 1, Value: k.kind}, {Ordinal: 2, Value: k.evidence}, {Ordinal: 3, Value: head},
				{Ordinal: 4, Value: k.parser}, {Ordinal: 5, Value: msg}})
			if err != nil {
				return 0, fmt.Errorf("store a warning shape: %w", err)
			}
			if id, err = res.LastInsertId(); err != nil {
				return 0, err
			}
			ids[*k] = id
		}
		lastKey, lastID = *k, id
		return id, nil
	}

	args := make([]driver.NamedValue, 0, 4+warnRows*warnCols)
	shapes := make([]int64, warnRows)
	for lo := 0; lo < len(ws); lo += warnRows {
		hi := min(lo+warnRows, len(ws))
		part, pkeys := ws[lo:hi], keys[lo:hi]
		form := warnShared | warnNoText
		for i := range part {
			id, err := shapeID(&pkeys[i])
			if err != nil {
				return err
			}
			shapes[i] = id
			if !pkeys[i].hasHead || !pkeys[i].hasMsg {
				form &^= warnNoText
			}
			if id != shapes[0] || part[i].Offset != part[0].Offset || part[i].Record != part[0].Record {
				form &^= warnShared
			}
		}
		if form&warnShared == 0 {
			form = 0
		}
		key := warnShape{n: len(part), form: form}
		st, ok := stmts[key]
		if !ok {
			var err error
			if st, err = prepareWarnInsert(ctx, c, key); err != nil {
				return err
			}
			stmts[key] = st
		}
		a := append(args[:0], driver.NamedValue{Ordinal: 1, Value: run})
		if form&warnShared != 0 {
			a = append(a,
				driver.NamedValue{Ordinal: 2, Value: shapes[0]},
				driver.NamedValue{Ordinal: 3, Value: part[0].Offset},
				driver.NamedValue{Ordinal: 4, Value: part[0].Record})
		}
		for i := range part {
			w := &part[i]
			n := len(a)
			if form&warnNoText != 0 {
				a = append(a, driver.NamedValue{Ordinal: n + 1, Value: w.Path})
				continue
			}
			var chain, msg any
			if !pkeys[i].hasHead {
				chain = chains[lo+i]
			}
			if !pkeys[i].hasMsg {
				msg = w.Message
			}
			if form&warnShared != 0 {
				a = append(a,
					driver.NamedValue{Ordinal: n + 1, Value: w.Path},
					driver.NamedValue{Ordinal: n + 2, Value: chain},
					driver.NamedValue{Ordinal: n + 3, Value: msg})
				continue
			}
			a = append(a,
				driver.NamedValue{Ordinal: n + 1, Value: shapes[i]},
				driver.NamedValue{Ordinal: n + 2, Value: w.Path},
				driver.NamedValue{Ordinal: n + 3, Value: chain},
				driver.NamedValue{Ordinal: n + 4, Value: msg},
				driver.NamedValue{Ordinal: n + 5, Value: w.Offset},
				driver.NamedValue{Ordinal: n + 6, Value: w.Record})
		}
		res, err := st.ExecContext(ctx, a)
		if err != nil {
			return fmt.Errorf("store warnings of %s: %w", part[0].Path, err)
		}
		*results = append(*results, res)
	}
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

// The forms of a warnings insert.
const (
	// warnShared: the rows share their shape, offset and record, bound
	// once as ?2 to ?4.
	warnShared = 1 << iota
	// warnNoText: and no row holds a chain or message of its own (an
	// image's skipped files): a row binds its path alone.
	warnNoText
)

// warnShape is what a prepared warnings insert is for: n rows of a form.
type warnShape struct {
	n, form int
}

// prepareWarnInsert prepares the INSERT of a shape's warnings: the run as
// ?1; then, shared, the values the rows share once as ?2 to ?4 and each
// row's path (chain and message NULL) or path, chain and message; or else
// each row's six values. The columns are listed with the shared ones
// first, so that their numbers come before the plain ?s (SQLite numbers a
// ? one above the largest number before it).
func prepareWarnInsert(ctx context.Context, c rawConn, shape warnShape) (rawStmt, error) {
	var b strings.Builder
	if shape.form&warnShared != 0 {
		b.WriteString(`INSERT INTO warn_rows(run, shape, offset, record, path, chain, message) VALUES `)
	} else {
		b.WriteString(`INSERT INTO warn_rows(run, shape, path, chain, message, offset, record) VALUES `)
	}
	for i := range shape.n {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case shape.form&warnNoText != 0:
			b.WriteString("(?1,?2,?3,?4,?,NULL,NULL)")
		case shape.form&warnShared != 0:
			b.WriteString("(?1,?2,?3,?4,?,?,?)")
		default:
			b.WriteString("(?1,?,?,?,?,?,?)")
		}
	}
	return prepareRaw(ctx, c, "warnings insert", b.String())
}
