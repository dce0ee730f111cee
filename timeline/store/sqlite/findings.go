package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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

// HuntRecord describes one stored hunt.
type HuntRecord struct {
	Key         string          `json:"key"`
	Params      json.RawMessage `json:"params"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished"`
	ToolVersion string          `json:"tool_version"`
	Findings    int             `json:"findings"`
}

// FindingRecord is one stored finding: the columns reports filter on and
// the finding itself as JSON, verbatim.
type FindingRecord struct {
	ID       string
	RuleID   string
	Severity string
	First    time.Time
	Last     time.Time
	Events   int
	Doc      json.RawMessage
}

// findingsTables creates the tables on first use (IF NOT EXISTS is cheap),
// leaving sqlite.go's schema alone: stores never hunted stay as they were.
func (s *Store) findingsTables(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, findingsSchema); err != nil {
		return fmt.Errorf("create findings tables: %w", err)
	}
	return nil
}

// ReplaceFindings stores a hunt's findings in report order, replacing
// those of an earlier hunt with the same key, in one transaction.
func (s *Store) ReplaceFindings(ctx context.Context, h HuntRecord, fs []FindingRecord) error {
	if h.Key == "" {
		return errors.New("store findings: empty hunt key")
	}
	if err := s.findingsTables(ctx); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
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
		if _, err := st.ExecContext(ctx, h.Key, f.ID, i, f.RuleID, f.Severity, f.First.UnixNano(), f.Last.UnixNano(), f.Events, []byte(f.Doc)); err != nil {
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
	rows, err := s.db.QueryContext(ctx, `SELECT key, params, started, finished, tool_version, findings FROM hunts ORDER BY finished DESC, key`)
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
		h.Started, _ = time.Parse(time.RFC3339Nano, started)
		h.Finished, _ = time.Parse(time.RFC3339Nano, finished)
		out = append(out, h)
	}
	return out, rows.Err()
}

// Findings streams a hunt's findings in the order they were stored; an
// empty key means the latest hunt.
func (s *Store) Findings(ctx context.Context, huntKey string, fn func(FindingRecord) error) error {
	if err := s.findingsTables(ctx); err != nil {
		return err
	}
	if huntKey == "" {
		err := s.db.QueryRowContext(ctx, `SELECT key FROM hunts ORDER BY finished DESC, key LIMIT 1`).Scan(&huntKey)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
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
		f.First, f.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		f.Doc = json.RawMessage(doc)
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}
