package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// RunState is where an ingest run stands. A run is recorded as running
// before it reads any evidence and becomes complete only at its successful
// end, so a run killed outright (kill -9, a power loss) stays "running":
// whoever opens the case later sees that its timeline may lack events.
type RunState string

const (
	// RunRunning: started and not ended. Once its process is gone, the run
	// was killed.
	RunRunning RunState = "running"
	// RunComplete: every registered item it was given was read to the end
	// (record warnings aside, which the run's warnings list).
	RunComplete RunState = "complete"
	// RunInterrupted: cancelled (SIGINT, SIGTERM) part way through.
	RunInterrupted RunState = "interrupted"
	// RunFailed: ended by an error part way through.
	RunFailed RunState = "failed"
	// RunRefused: stopped before it read any evidence into the store (an
	// item changed since registration, an image that does not open). EndRun
	// removes such a run's record, so that the store is exactly as it was
	// before (the custody log's digest of it still holds); a store written
	// by an earlier build may hold refused runs, which change nothing.
	RunRefused RunState = "refused"
)

// RunItem is an evidence item a run was given.
type RunItem struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// RunStart is what is recorded when a run starts.
type RunStart struct {
	Started     time.Time
	ToolVersion string
	// Items are the evidence items the run is given; nil when not known.
	Items []RunItem
	// PID and Host name the process, so a later command can tell a run
	// still going from one whose process died.
	PID  int
	Host string
}

// RunProgress is how far a run got, recorded now and then while it runs:
// after a kill -9 it is the last word of the run.
type RunProgress struct {
	Files    int64     `json:"files"`
	Events   int64     `json:"events"`
	Bytes    int64     `json:"bytes"`
	LastFile string    `json:"last_file,omitempty"`
	At       time.Time `json:"at"`
}

// RunRecord is a stored run.
type RunRecord struct {
	ID          int64
	Started     time.Time
	Finished    time.Time // zero while running, or when killed
	ToolVersion string
	// State is RunComplete for a run recorded before states were: such a
	// run has a finish time (one without is RunRunning).
	State    RunState
	Items    []RunItem // nil for runs recorded before items were
	PID      int
	Host     string
	Progress RunProgress
	Error    string
}

// runColumns are the runs columns added after the first layout; stores
// written by an older jejak get them on open (NULL in their old rows).
var runColumns = []struct{ name, decl string }{
	{"state", "TEXT"},
	{"items", "TEXT"},
	{"pid", "INTEGER"},
	{"host", "TEXT"},
	{"progress", "TEXT"},
	{"error", "TEXT"},
}

// addRunColumns adds the columns of runColumns a store lacks.
func (s *Store) addRunColumns(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT name FROM pragma_table_info('runs')`)
	if err != nil {
		return err
	}
	var have []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		have = append(have, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range runColumns {
		if contains(have, c.name) {
			continue
		}
		if _, err := s.w.ExecContext(ctx, `ALTER TABLE runs ADD COLUMN `+c.name+` `+c.decl); err != nil {
			return fmt.Errorf("add runs.%s: %w", c.name, err)
		}
	}
	return nil
}

// SetRunProgress records how far the current run got. It waits for a batch
// being written to finish (writes and this share one connection), so it
// belongs on a goroutine of its own, as ingest's progress callback is.
func (s *Store) SetRunProgress(ctx context.Context, p RunProgress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// On the writer's connection, which the write-behind's transaction
	// holds: asked to end it after its batch.
	defer s.wantGap()()
	_, err = s.w.ExecContext(ctx, `UPDATE runs SET progress=? WHERE id=?`, string(b), s.run.Load())
	return err
}

// EndRun ends the current run's writes (as FinishWrites does: call that
// first to learn of repeated events, since summary is stored as given) and
// records its end: its state, the error that ended it, and its summary.
func (s *Store) EndRun(ctx context.Context, finished time.Time, state RunState, errMsg string, summary any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	// A write-behind insert that failed is the error of every later call
	// (stopBehind), reported already by a Write or FinishWrites: a run
	// ending on it (failed, interrupted) is still recorded so, not left
	// "running" as a killed process's, and the error returned after.
	var behindErr error
	if _, err := s.finishWrites(ctx); err != nil {
		if s.behindErr == nil || err != s.behindErr || state == RunComplete {
			return err
		}
		behindErr = err
	}
	if state == RunRefused {
		// Nothing was read: leave no trace in the store either (the
		// refusal itself is the caller's to log).
		if _, err := s.w.ExecContext(ctx, `DELETE FROM warn_rows WHERE run=?`, s.run.Load()); err != nil {
			return err
		}
		_, err = s.w.ExecContext(ctx, `DELETE FROM runs WHERE id=?`, s.run.Load())
		return cmp.Or(err, behindErr)
	}
	_, err = s.w.ExecContext(ctx, `UPDATE runs SET finished=?, summary=?, state=?, error=? WHERE id=?`,
		finished.UTC().Format(time.RFC3339Nano), string(b), string(state), nullable(errMsg), s.run.Load())
	return cmp.Or(err, behindErr)
}

// Runs returns every recorded ingest run, oldest first.
func (s *Store) Runs(ctx context.Context) ([]RunRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, started, finished, tool_version, state, items, pid, host, progress, error FROM runs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []RunRecord
	for rows.Next() {
		var r RunRecord
		var started string
		var finished, state, items, host, progress, errMsg sql.NullString
		var pid sql.NullInt64
		if err := rows.Scan(&r.ID, &started, &finished, &r.ToolVersion, &state, &items, &pid, &host, &progress, &errMsg); err != nil {
			return nil, err
		}
		if r.Started, err = time.Parse(time.RFC3339Nano, started); err != nil {
			return nil, fmt.Errorf("run %d: start time %q: %w", r.ID, started, err)
		}
		if finished.Valid {
			if r.Finished, err = time.Parse(time.RFC3339Nano, finished.String); err != nil {
				return nil, fmt.Errorf("run %d: finish time %q: %w", r.ID, finished.String, err)
			}
		}
		switch {
		case state.Valid:
			r.State = RunState(state.String)
		case finished.Valid:
			r.State = RunComplete
		default:
			r.State = RunRunning
		}
		if items.Valid {
			if err := json.Unmarshal([]byte(items.String), &r.Items); err != nil {
				return nil, fmt.Errorf("run %d: items: %w", r.ID, err)
			}
			if r.Items == nil {
				r.Items = []RunItem{}
			}
		}
		if progress.Valid {
			if err := json.Unmarshal([]byte(progress.String), &r.Progress); err != nil {
				return nil, fmt.Errorf("run %d: progress: %w", r.ID, err)
			}
		}
		r.PID, r.Host, r.Error = int(pid.Int64), host.String, errMsg.String
		out = append(out, r)
	}
	return out, rows.Err()
}
