package report

import "fmt"

// completenessText is the report's statement of completeness (nil when the
// report was not given one), and what to say in place of the counts of the
// latest ingest run when the custody log records none: "never ingested"
// only when no run is recorded and the timeline is empty.
func completenessText(r *Report) (lines []string, incomplete bool, noIngest string) {
	c := r.Completeness
	if c != nil {
		lines, incomplete = c.Lines(), !c.Complete
	}
	switch {
	case r.Events == 0 && (c == nil || c.Runs == 0):
		noIngest = "The case was never ingested: no event was read."
	case c != nil && len(c.Incomplete) > 0:
		noIngest = fmt.Sprintf("No ingest run that ended is recorded in the custody log: the case timeline holds %d events, "+
			"written by the runs that did not complete listed under export.Completeness at the top; how much they read is stated there.", r.Events)
	default:
		noIngest = fmt.Sprintf("No ingest run is recorded in the custody log, yet the case timeline holds %d events.", r.Events)
	}
	return lines, incomplete, noIngest
}
