package export

import (
	"fmt"
	"strings"
	"time"
)

// Completeness says whether the case timeline holds everything its
// registered evidence gives: every ingest run that did not complete (killed,
// interrupted, failed, still running) until a later completed run read the
// same items, and every registered item no completed run read. Reports,
// export manifests and the commands that read the timeline state it, so a
// partial timeline is never presented as a whole one.
type Completeness struct {
	Complete bool `json:"complete"`
	// Runs counts the ingest runs recorded in the case store.
	Runs int `json:"ingest_runs"`
	// Incomplete are the runs that make the timeline incomplete, oldest
	// first.
	Incomplete []IncompleteRun `json:"incomplete_runs,omitempty"`
	// NotIngested are registered items ("ID name") that no completed run
	// read, outside the runs above.
	NotIngested []string `json:"not_ingested,omitempty"`
}

// IncompleteRun is an ingest run that did not complete.
type IncompleteRun struct {
	Run int64 `json:"run"`
	// State is "killed" (recorded as running, its process gone), "running"
	// (its process is still there), "running elsewhere" (started on another
	// host: whether it still runs cannot be told from here), "interrupted"
	// or "failed".
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	// Items are the evidence items it was given, as "ID name".
	Items []string `json:"items"`
	// Files and Events are what it had read by its last progress record
	// (ProgressAt), LastFile the file it was reading then.
	Files      int64     `json:"files_read"`
	Events     int64     `json:"events_read"`
	LastFile   string    `json:"last_file,omitempty"`
	ProgressAt time.Time `json:"progress_at,omitzero"`
	PID        int       `json:"pid,omitempty"`
	Host       string    `json:"host,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Lines states the completeness in sentences, for a report and for the
// banner of the commands that read the timeline. A complete timeline gets
// one line.
func (c *Completeness) Lines() []string {
	if c.Complete {
		if c.Runs == 0 {
			return []string{"No ingest run is recorded and no evidence is registered: there is nothing to read."}
		}
		return []string{fmt.Sprintf("Complete: %d ingest run(s) recorded; every registered evidence item was read by a run that completed, "+
			"and no run left the timeline partial.", c.Runs)}
	}
	var out []string
	out = append(out, "INCOMPLETE TIMELINE: the case timeline may lack events of its evidence; counts, findings and exports made from it are partial.")
	for _, r := range c.Incomplete {
		out = append(out, r.sentence())
	}
	if len(c.NotIngested) > 0 {
		out = append(out, fmt.Sprintf("Registered but read by no completed ingest run: %s.", strings.Join(c.NotIngested, ", ")))
	}
	out = append(out, "An ingest run that completes ('jejak ingest CASE') clears this.")
	return out
}

func (r IncompleteRun) sentence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ingest run %d, started %s, ", r.Run, r.Started.UTC().Format(time.RFC3339))
	proc := ""
	if r.PID > 0 {
		proc = fmt.Sprintf(" (pid %d on %s)", r.PID, hostOrDash(r.Host))
	}
	switch r.State {
	case "killed":
		fmt.Fprintf(&b, "never ended: its process%s is gone (killed, or the machine stopped)", proc)
	case "running":
		fmt.Fprintf(&b, "is still running%s", proc)
	case "running elsewhere":
		fmt.Fprintf(&b, "is recorded as running%s; from this host it cannot be told whether it still runs", proc)
	case "interrupted":
		b.WriteString("was interrupted")
	default:
		b.WriteString("failed")
	}
	if r.Error != "" && r.State != "interrupted" {
		fmt.Fprintf(&b, " (%s)", r.Error)
	} else if r.State == "interrupted" {
		b.WriteString(" (Ctrl-C or SIGTERM)")
	}
	if r.ProgressAt.IsZero() {
		b.WriteString("; no progress was recorded")
	} else {
		fmt.Fprintf(&b, "; by %s it had read %d file(s) and %d events", r.ProgressAt.UTC().Format(time.RFC3339), r.Files, r.Events)
		if r.LastFile != "" {
			fmt.Fprintf(&b, " and was reading %s", r.LastFile)
		}
	}
	if len(r.Items) > 0 {
		fmt.Fprintf(&b, ". Evidence it was reading: %s", strings.Join(r.Items, ", "))
	}
	return b.String() + "."
}

// EndedBy says in words how a run that did not complete ended, from the
// error its custody entry records.
func EndedBy(errMsg string) string {
	if strings.Contains(errMsg, "context canceled") {
		return "it was interrupted (Ctrl-C or SIGTERM)"
	}
	return "it failed: " + errMsg
}

func hostOrDash(h string) string {
	if h == "" {
		return "-"
	}
	return h
}
