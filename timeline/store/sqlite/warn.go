package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
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
	// plan is the memory of the last call's plan, for the next.
	plan warnPlan
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
// SQLite's mutex and clears them all again after each statement. A run
// of at least warnArrayRows rows that share all but their path (an
// image's skipped files, one after another) goes in one INSERT from a
// JSON array of the paths (warnArrayInsert).
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
	p := &sh.plan
	defer p.reset(nil)
	planWarnings(p, ws, sh.ids)
	var run int64
	tx := func() error {
		run = s.run.Load()
		return conn.Raw(func(dc any) error {
			return inRawTx(ctx, dc, "store warnings: ", func(c rawConn) error {
				return p.insert(ctx, c, run, sh.ids)
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
		p.hash(&hashed, run)
		d.commit(&hashed)
	}
	return nil
}

// warnPlan is what addWarnings works out for its warnings before their
// transaction: each one's chain as stored, the key of its shape, and the
// runs of rows stored from a JSON array.
type warnPlan struct {
	ws []timeline.Warning
	// text holds the chains as json.Marshal writes them (the store's
	// encoder, held to it by its tests) of the warnings whose shape does
	// not give their head, one after another: ws[i]'s ends at ends[i].
	// The chain of a warning whose shape gives its head is that head,
	// its path and "].
	text []byte
	ends []int
	// keys are the shapes' keys, each once per run of warnings that
	// have it; ws[i]'s is keys[keyOf[i]].
	keys  []warnShapeKey
	keyOf []int32
	// arrays are runs of rows stored by one INSERT from a JSON array of
	// their paths (see warnArrayRows), in order; the array of run r is
	// arrayText[r.at:r.end].
	arrays    []warnArray
	arrayText []byte
	// results are the INSERTs' results, in order, and the rows each
	// inserted.
	results []warnResult
	scratch []byte
}

// reset makes p the plan of ws, empty, keeping its memory.
func (p *warnPlan) reset(ws []timeline.Warning) {
	p.ws = ws
	p.text, p.arrayText, p.scratch = p.text[:0], p.arrayText[:0], p.scratch[:0]
	clear(p.keys)
	p.keys, p.arrays = p.keys[:0], p.arrays[:0]
	clear(p.results)
	p.results = p.results[:0]
	p.ends = slices.Grow(p.ends[:0], len(ws))[:len(ws)]
	p.keyOf = slices.Grow(p.keyOf[:0], len(ws))[:len(ws)]
}

// warnArray is a run of rows stored from a JSON array of their paths.
type warnArray struct {
	lo, hi  int // ws[lo:hi]
	at, end int // the array, in arrayText
}

// warnResult is an INSERT's result and the rows it inserted, ws[lo:hi].
type warnResult struct {
	res    driver.Result
	lo, hi int
}

// warnArrayRows is how many rows a run must have at least to be stored
// from a JSON array: below it, the run's rows go in the multi-row INSERTs
// with the rows around them.
const warnArrayRows = 16

// chain is ws[i]'s chain as stored, when its shape does not give its head.
func (p *warnPlan) chain(i int) []byte {
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.text[start:p.ends[i]]
}

// planWarnings gives each warning's chain as stored (appendChain) and the
// key of its shape: the chain's head when the chain ends with the path,
// the message when a shape already has it or it repeats among ws (a
// message of one warning, a record's naming its line, is the row's own);
// and the runs of rows stored from a JSON array of their paths: rows
// whose shape gives both their chain and message (an image's skipped
// files), with the same shape, offset and record, and a path that
// appendString writes as it is (so that SQLite's JSON reads it back byte
// for byte: no escape, so no invalid UTF-8 either).
func planWarnings(p *warnPlan, ws []timeline.Warning, ids map[warnShapeKey]int64) {
	p.reset(ws)
	var repeats map[string]int32
	// Room for the arrays as they mostly are: each path, quoted.
	paths := 0
	for i := range ws {
		paths += len(ws[i].Path)
	}
	p.arrayText = slices.Grow(p.arrayText, paths+3*len(ws))
	text, scratch := p.text, p.scratch
	// The run of rows that may be stored from an array: from runLo, its
	// array from runAt in arrayText (runLo < 0: none).
	runLo, runAt := -1, 0
	endRun := func(hi int) {
		if runLo < 0 {
			return
		}
		if hi-runLo >= warnArrayRows {
			p.arrayText = append(p.arrayText, ']')
			p.arrays = append(p.arrays, warnArray{lo: runLo, hi: hi, at: runAt, end: len(p.arrayText)})
		} else {
			p.arrayText = p.arrayText[:runAt]
		}
		runLo = -1
	}
	// like: the row before had a head, and the last name of its chain
	// was prefix and its path, both written as they are: a row with the
	// same kind, evidence, parser and message whose chain differs only
	// in its path, written as it is too, has the same key, and its chain
	// is the head, its path and "], without writing it out.
	like, prefix := false, ""
	prevHead := false
	for i := range ws {
		w := &ws[i]
		plain := plainJSON(w.Path, &scratch)
		var k *warnShapeKey
		if like && plain && sameButChain(w, &ws[i-1]) && chainLike(w.Chain, ws[i-1].Chain, prefix, w.Path) {
			p.keyOf[i] = p.keyOf[i-1]
			k = &p.keys[p.keyOf[i]]
		} else {
			like = false
			start := len(text)
			text = appendChain(text, w.Chain)
			chain := text[start:]
			n := len(chain) - len(w.Path) - 2
			hasHead := n >= 0 && string(chain[n+len(w.Path):]) == `"]` && string(chain[n:n+len(w.Path)]) == w.Path
			if i > 0 && hasHead == prevHead {
				// The same key as the row before.
				prev, pk := &ws[i-1], &p.keys[p.keyOf[i-1]]
				if sameButChain(w, prev) && (!hasHead || string(chain[:n]) == pk.head) {
					p.keyOf[i] = p.keyOf[i-1]
					k = pk
				}
			}
			prevHead = hasHead
			if k == nil {
				nk := warnShapeKey{kind: string(w.Kind), evidence: w.Evidence, parser: w.Parser, message: w.Message, hasMsg: true}
				if hasHead {
					nk.head, nk.hasHead = string(chain[:n]), true
				}
				if _, ok := ids[nk]; !ok {
					if repeats == nil {
						repeats = messageRepeats(ws)
					}
					if repeats[w.Message] < 2 {
						nk.message, nk.hasMsg = "", false
					}
				}
				p.keyOf[i] = int32(len(p.keys))
				p.keys = append(p.keys, nk)
				k = &p.keys[len(p.keys)-1]
			}
			if hasHead {
				// The chain is the head, the path and "]: not kept.
				text = text[:start]
				if c := w.Chain; plain && len(c) > 0 && strings.HasSuffix(c[len(c)-1], w.Path) {
					last := c[len(c)-1]
					prefix = last[:len(last)-len(w.Path)]
					like = plainJSON(prefix, &scratch)
				}
			}
		}
		p.ends[i] = len(text)

		// The run of rows stored from an array.
		if runLo >= 0 && (p.keyOf[i] != p.keyOf[runLo] || w.Offset != ws[runLo].Offset || w.Record != ws[runLo].Record) {
			endRun(i)
		}
		if !k.hasHead || !k.hasMsg || !plain {
			// A path with an escape is bound, and ends the run.
			endRun(i)
			continue
		}
		if runLo < 0 {
			runLo, runAt = i, len(p.arrayText)
			p.arrayText = append(p.arrayText, '[', '"')
		} else {
			p.arrayText = append(p.arrayText, ',', '"')
		}
		p.arrayText = append(p.arrayText, w.Path...)
		p.arrayText = append(p.arrayText, '"')
	}
	endRun(len(ws))
	p.text, p.scratch = text, scratch
}

// sameButChain reports whether w and v have the same kind, evidence,
// parser and message.
func sameButChain(w, v *timeline.Warning) bool {
	return w.Kind == v.Kind && w.Evidence == v.Evidence && w.Parser == v.Parser && w.Message == v.Message
}

// chainLike reports whether chain is prev but for its last name, which is
// prefix and path.
func chainLike(chain, prev []string, prefix, path string) bool {
	n := len(chain)
	if n == 0 || n != len(prev) {
		return false
	}
	last := chain[n-1]
	if len(last) != len(prefix)+len(path) || last[:len(prefix)] != prefix || last[len(prefix):] != path {
		return false
	}
	for i := range n - 1 {
		if chain[i] != prev[i] {
			return false
		}
	}
	return true
}

// plainJSON reports whether appendString writes s as it is, between its
// quotes (every escape writes more bytes than it replaces); scratch is a
// buffer for the check.
func plainJSON(s string, scratch *[]byte) bool {
	if len(s) >= 16 && firstEscape(s) == len(s) {
		return true
	}
	*scratch = appendString((*scratch)[:0], s)
	return len(*scratch) == len(s)+2
}

// messageRepeats counts the warnings of ws with each message.
func messageRepeats(ws []timeline.Warning) map[string]int32 {
	m := map[string]int32{}
	for i := 0; i < len(ws); {
		j := i + 1
		for j < len(ws) && ws[j].Message == ws[i].Message {
			j++
		}
		m[ws[i].Message] += int32(j - i)
		i = j
	}
	return m
}

// insert inserts p's warnings in the transaction open on c, keeping each
// INSERT's result.
func (p *warnPlan) insert(ctx context.Context, c rawConn, run int64, ids map[warnShapeKey]int64) error {
	// At most seven statements per call: warnRows rows and what is left,
	// each in three forms, and the array's.
	stmts := map[warnShape]rawStmt{}
	var shapeIns, arrayIns rawStmt
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
		for _, st := range []rawStmt{shapeIns, arrayIns} {
			if st != nil {
				st.Close()
			}
		}
	}()
	ws, keys := p.ws, p.keys
	lastKey := int32(-1)
	var lastID int64
	shapeID := func(ki int32) (int64, error) {
		if ki == lastKey {
			return lastID, nil
		}
		k := &keys[ki]
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
		lastKey, lastID = ki, id
		return id, nil
	}

	args := make([]driver.NamedValue, 0, 4+warnRows*warnCols)
	shapes := make([]int64, warnRows)
	// rows inserts ws[lo:hi] in multi-row INSERTs of up to warnRows rows.
	rows := func(lo, hi int) error {
		for ; lo < hi; lo += warnRows {
			end := min(lo+warnRows, hi)
			part, pkeys := ws[lo:end], p.keyOf[lo:end]
			form := warnShared | warnNoText
			for i := range part {
				id, err := shapeID(pkeys[i])
				if err != nil {
					return err
				}
				shapes[i] = id
				if k := &keys[pkeys[i]]; !k.hasHead || !k.hasMsg {
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
				k := &keys[pkeys[i]]
				var chain, msg any
				if !k.hasHead {
					chain = string(p.chain(lo + i))
				}
				if !k.hasMsg {
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
			p.results = append(p.results, warnResult{res: res, lo: lo, hi: end})
		}
		return nil
	}

	lo := 0
	for _, r := range p.arrays {
		if err := rows(lo, r.lo); err != nil {
			return err
		}
		id, err := shapeID(p.keyOf[r.lo])
		if err != nil {
			return err
		}
		if arrayIns == nil {
			if arrayIns, err = prepareRaw(ctx, c, "warnings insert", warnArrayInsert); err != nil {
				return err
			}
		}
		w := &ws[r.lo]
		res, err := arrayIns.ExecContext(ctx, []driver.NamedValue{
			{Ordinal: 1, Value: run}, {Ordinal: 2, Value: id}, {Ordinal: 3, Value: w.Offset},
			{Ordinal: 4, Value: w.Record}, {Ordinal: 5, Value: string(p.arrayText[r.at:r.end])}})
		if err != nil {
			return fmt.Errorf("store warnings of %s: %w", w.Path, err)
		}
		p.results = append(p.results, warnResult{res: res, lo: r.lo, hi: r.hi})
		lo = r.hi
	}
	return rows(lo, len(ws))
}

// warnArrayInsert stores a run of rows whose shape gives their chain and
// message, which share it, their offset and their record (?1 to ?4), from
// the JSON array of their paths (?5), in the array's order: json_each
// gives its elements in that order, and SQLite numbers the rows in the
// order they are inserted. A JSON array bound once, where a multi-row
// INSERT bound each path: the driver copies each text it binds into
// memory of its own, and frees and unbinds it again after the statement.
// OR FAIL rather than the default ABORT: a statement that cannot abort
// half-way needs no statement journal.
const warnArrayInsert = `INSERT OR FAIL INTO warn_rows(run, shape, offset, record, path)
	SELECT ?1, ?2, ?3, ?4, value FROM json_each(?5) ORDER BY rowid`

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
