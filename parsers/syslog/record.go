package syslog

import (
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Record builds the event of one record that comes from a source other than
// a syslog text file but carries a syslog record's parts (the systemd
// journal: SYSLOG_IDENTIFIER, _PID, _HOSTNAME, MESSAGE, PRIORITY,
// SYSLOG_FACILITY). The event is what Parse makes of the same record
// written as a line: message "ident[pid]: body", log.syslog, log.level,
// host, process, and the same normalised audit fields (sshd, sudo, su,
// account tools, PAM, logind, cron, database logons; see actions.go), so
// hunting treats both sources alike.
//
// facility and severity are -1 when unknown; t is the record's time, which
// carries its own zone. The caller sets provenance, and may change
// event.dataset (set to "syslog") and timestamp_desc.
func Record(ident, pid, body, host string, facility, severity int, t time.Time) *timeline.Event {
	blk := &block{}
	ev := &blk.ev
	ev.Timestamp = t.UTC()
	ev.TimestampDesc = timestampDesc
	ev.Event.Kind = "event"
	ev.Event.Dataset = "syslog"
	h := header{layout: layout3164, pri: -1, host: host, tag: ident, pid: pid, body: body}
	switch {
	case facility >= 0 && facility < 24 && severity >= 0 && severity < 8:
		h.pri = facility<<3 | severity
	case severity >= 0 && severity < 8:
		// A severity without a facility: a pri would claim facility kern.
		h.severity = severityNames[severity]
		ev.Event.Severity = severity
	}
	// The message keeps the body as the source holds it; the normalisers
	// get it as a line parser would, leading blanks removed.
	h.message = tagged(&h)
	ev.Message = h.message
	h.body = strings.TrimLeft(body, " \t")
	fill(blk, &h)
	return ev
}
