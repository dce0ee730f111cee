package export

import (
	"sort"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// L2TCSVHeader is plaso's l2tcsv header (plaso/output/l2t_csv.py), the
// super-timeline CSV that log2timeline 0.x defined and that reviewers'
// tools (and spreadsheets built for them) still expect.
var L2TCSVHeader = []string{"date", "time", "timezone", "MACB", "source", "sourcetype",
	"type", "user", "host", "short", "desc", "version", "filename", "inode", "notes", "format", "extra"}

// l2tSource maps a jejak parser to plaso's short and long source names
// (plaso's formatters: LOG/Syslog, EVT/WinEVTX, FILE/File stat …). A parser
// missing here is "LOG" and its own name.
var l2tSource = map[string][2]string{
	"syslog":       {"LOG", "Log File"},
	"evtx":         {"EVT", "WinEVTX"},
	"evt":          {"EVT", "WinEVT"},
	"mft":          {"FILE", "NTFS MFT"},
	"usnjrnl":      {"FILE", "NTFS USN change"},
	"filestat":     {"FILE", "File stat"},
	"weblog":       {"WEBHIST", "Web server log"},
	"exif":         {"EXIF", "EXIF metadata"},
	"utmp":         {"LOG", "UTMP session"},
	"lastlog":      {"LOG", "Lastlog"},
	"registry":     {"REG", "Registry Key"},
	"prefetch":     {"LOG", "WinPrefetch"},
	"lnk":          {"LNK", "Windows Shortcut"},
	"jumplist":     {"LNK", "Windows Jump List"},
	"recyclebin":   {"RECBIN", "Recycle Bin"},
	"journal":      {"LOG", "systemd journal"},
	"bash_history": {"LOG", "Bash History"},
}

// L2TCSVRow renders one event as plaso's l2tcsv does: date and time in
// UTC (the timezone column says so; l2tcsv has no sub-second column, the
// exact time is in extra), MACB from what the time means, "-" for empty.
// extra carries what l2tcsv has no column for, as plaso does ("key: value"
// joined by "; "): the event's exact time, action, source IP, jejak's event
// ID and the evidence SHA-256, so a row still leads back to the bytes.
func L2TCSVRow(e *timeline.Event) []string {
	t := e.Timestamp.UTC()
	p := e.Jejak.Provenance
	src, ok := l2tSource[p.Parser]
	if !ok {
		src = [2]string{"LOG", p.Parser}
	}
	var user, host string
	if e.User != nil {
		user = e.User.Name
	}
	if e.Host != nil {
		host = e.Host.Name
	}
	short := e.Message
	if r := []rune(short); len(r) > 80 {
		short = string(r[:79]) + "…"
	}
	inode := p.Identity
	extra := map[string]string{
		"timestamp":       t.Format("2006-01-02T15:04:05.000000000Z"),
		"jejak_id":        e.Jejak.ID,
		"evidence_sha256": p.EvidenceSHA256,
		"offset":          formatInt(p.Offset),
	}
	if e.Event.Action != "" {
		extra["action"] = e.Event.Action
	}
	if e.Source != nil && e.Source.IP != "" {
		extra["source_ip"] = e.Source.IP
	}
	if p.Record != 0 {
		extra["record"] = formatInt(p.Record)
	}
	if t := e.Jejak.Time; t != nil && t.ZoneAssumed != "" {
		extra["zone_assumed"] = t.ZoneAssumed
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + extra[k]
	}
	return []string{
		t.Format("01/02/2006"), t.Format("15:04:05"), "UTC", macb(e.TimestampDesc),
		src[0], src[1], dashEmpty(e.TimestampDesc), dashEmpty(user), dashEmpty(host),
		dashEmpty(oneLineText(short)), dashEmpty(oneLineText(e.Message)), "2",
		dashEmpty(p.Display() + pathSuffix(p)), dashEmpty(inode), "-", dashEmpty(p.Parser),
		strings.Join(parts, "; "),
	}
}

// macb reads plaso's MACB letters from a timestamp_desc: Modification,
// Access, Change (metadata), Birth (creation); dots where a time is none
// of them (a log record's time).
func macb(desc string) string {
	out := []byte("....")
	// File events are one per distinct time, their desc naming each time
	// ("Content Modification Time; Metadata Modification Time"): the
	// letters of every part.
	for part := range strings.SplitSeq(desc, "; ") {
		macbPart(strings.ToLower(part), out)
	}
	return string(out)
}

func macbPart(d string, out []byte) {
	if strings.Contains(d, "modif") && !strings.Contains(d, "metadata") && !strings.Contains(d, "entry modif") {
		out[0] = 'M'
	}
	if strings.Contains(d, "access") {
		out[1] = 'A'
	}
	if strings.Contains(d, "metadata") || strings.Contains(d, "change") || strings.Contains(d, "entry modif") {
		out[2] = 'C'
	}
	if strings.Contains(d, "creat") || strings.Contains(d, "birth") {
		out[3] = 'B'
	}
}

func pathSuffix(p timeline.Provenance) string {
	if len(p.Chain) == 0 && p.Path != "" {
		return " » " + p.Path
	}
	return ""
}

func dashEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLineText keeps a CSV cell on one line: plaso writes its fields the
// same way, and line-based tools read l2tcsv.
func oneLineText(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
