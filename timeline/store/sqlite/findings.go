package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store"
)

// Findings of hunts live beside the events. A hunt is identified by a key
// its caller derives from the hunt's parameters (cut-off, window, rule
// files and their hashes, watched paths, ...): hunting again with the same
// parameters replaces that hunt's findings (a deterministic hunt gives the
// same rows), while a hunt with other parameters is kept beside it, so a
// report can cite each.
const findingsSchema = `
CREATE TABLE IF NOT EXISTS hunts (
	key TEXT PRIMARY KEY,
	params TEXT NOT NULL,
	started TEXT NOT NULL,
	finished TEXT NOT NULL,
	tool_version TEXT NOT NULL,
	findings INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
	hunt TEXT NOT NULL,
	id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	rule_id TEXT NOT NULL,
	severity TEXT NOT NULL,
	first INTEGER NOT NULL,
	last INTEGER NOT NULL,
	events INTEGER NOT NULL,
	doc BLOB NOT NULL,
	PRIMARY KEY (hunt, id)
);
CREATE INDEX IF NOT EXISTS findings_rule ON findings(rule_id, first);
`

// HuntRecord and FindingRecord are the names this package gave the
// records before both stores shared them (package store); they stay so
// callers not yet moved to store.Hunt and store.Finding keep building.
type (
	HuntRecord    = store.Hunt
	FindingRecord = store.Finding
)

// findingsTables creates the tables on first use (IF NOT EXISTS is cheap),
// leaving sqlite.go's schema alone: stores never hunted stay as they were.
func (s *Store) findingsTables(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, findingsSchema); err != nil {
		return fmt.Errorf("create findings tables: %w", err)
	}
	return nil
}

// ReplaceFindings is PutHunt under the name it had before store.Findings.
func (s *Store) ReplaceFindings(ctx context.Context, h HuntRecord, fs []FindingRecord) error {
	return s.PutHunt(ctx, h, fs)
}

// PutHunt stores a hunt's findings in report order, replacing those of an
// earlier hunt with the same key, in one transaction (store.Findings).
func (s *Store) PutHunt(ctx context.Context, h store.Hunt, fs []store.Finding) error {
	// The same checks as the Elasticsearch store's, so a hunt one store
	// takes the other takes too, and both read back the same records.
	if err := store.CheckHunt(h, fs); err != nil {
		return fmt.Errorf("store findings: %w", err)
	}
	if err := s.findingsTables(ctx); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store findings of hunt %s: %w", h.Key, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE hunt = ?`, h.Key); err != nil {
		return fmt.Errorf("replace findings: %w", err)
	}
	params := string(h.Params)
	if params == "" {
		params = "{}"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hunts(key, params, started, finished, tool_version, findings) VALUES(?,?,?,?,?,?)
		ON CONFLICT(key) DO UPDATE SET params=excluded.params, started=excluded.started, finished=excluded.finished,
		tool_version=excluded.tool_version, findings=excluded.findings`,
		h.Key, params, h.Started.UTC().Format(time.RFC3339Nano), h.Finished.UTC().Format(time.RFC3339Nano), h.ToolVersion, len(fs)); err != nil {
		return fmt.Errorf("record hunt: %w", err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO findings(hunt, id, seq, rule_id, severity, first, last, events, doc) VALUES(?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, f := range fs {
		if _, err := st.ExecContext(ctx, h.Key, f.ID, i, f.RuleID, f.Severity, findingNanos(f.First), findingNanos(f.Last), f.Events, []byte(f.Doc)); err != nil {
			return fmt.Errorf("store finding %s: %w", f.ID, err)
		}
	}
	return tx.Commit()
}

// Hunts lists the stored hunts, the latest first.
func (s *Store) Hunts(ctx context.Context) ([]HuntRecord, error) {
	if err := s.findingsTables(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key, params, started, finished, tool_version, findings FROM hunts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HuntRecord
	for rows.Next() {
		var h HuntRecord
		var params, started, finished string
		if err := rows.Scan(&h.Key, &params, &started, &finished, &h.ToolVersion, &h.Findings); err != nil {
			return nil, err
		}
		h.Params = json.RawMessage(params)
		if h.Started, err = time.Parse(time.RFC3339Nano, started); err != nil {
			return nil, fmt.Errorf("hunt %s: started: %w", h.Key, err)
		}
		if h.Finished, err = time.Parse(time.RFC3339Nano, finished); err != nil {
			return nil, fmt.Errorf("hunt %s: finished: %w", h.Key, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Ordered here, not by SQL: the stored times are RFC 3339 text with as
	// many fractional digits as they need, which do not sort as text
	// ("…:00Z" sorts after "…:00.5Z").
	slices.SortStableFunc(out, func(a, b HuntRecord) int {
		if c := b.Finished.Compare(a.Finished); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// Findings streams a hunt's findings in the order they were stored; an
// empty key means the latest hunt.
func (s *Store) Findings(ctx context.Context, huntKey string, fn func(FindingRecord) error) error {
	if err := s.findingsTables(ctx); err != nil {
		return err
	}
	if huntKey == "" {
		hs, err := s.Hunts(ctx)
		if err != nil || len(hs) == 0 {
			return err
		}
		huntKey = hs[0].Key
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, rule_id, severity, first, last, events, doc FROM findings WHERE hunt = ? ORDER BY seq`, huntKey)
	if err != nil {
		return fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f FindingRecord
		var first, last int64
		var doc []byte
		if err := rows.Scan(&f.ID, &f.RuleID, &f.Severity, &first, &last, &f.Events, &doc); err != nil {
			return err
		}
		f.Doc = json.RawMessage(doc)
		// The span is read from the document: the columns hold it in
		// Unix nanoseconds, which cannot say a finding has no span (zero
		// times) or one outside 1678-2262 (a FILETIME of zero), and rows
		// stored before they were saturated hold wrapped values there.
		first1, last1, err := docSpan(doc)
		if err != nil {
			return fmt.Errorf("finding %s of hunt %s: %w", f.ID, huntKey, err)
		}
		f.First, f.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		if first1 != nil && last1 != nil {
			f.First, f.Last = first1.UTC(), last1.UTC()
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// findingNanos is t in Unix nanoseconds for the first and last columns (what a
// query on findings_rule orders by), saturated where int64 ends: beyond,
// time.UnixNano is undefined, and a FILETIME of zero would wrap into the
// 22nd century.
func findingNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// docSpan reads the top-level "first" and "last" of a finding's document,
// nil when absent. It stops once it has both: a finding's JSON has them
// before its events (casework/hunt.Finding's field order), which are most
// of its bytes: for a finding citing 100 events (9 KB) this takes 5-9 µs
// where json.Unmarshal of the two times took 200-280 µs, measured on a
// loaded machine; BenchmarkFindingsRead reads a whole hunt back.
func docSpan(doc []byte) (first, last *time.Time, err error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("document is not a JSON object")
	}
	for dec.More() && (first == nil || last == nil) {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		switch tok {
		case "first", "last":
			t := new(time.Time)
			if err := dec.Decode(t); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", tok, err)
			}
			if tok == "first" {
				first = t
			} else {
				last = t
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, err
			}
		}
	}
	return first, last, nil
}
