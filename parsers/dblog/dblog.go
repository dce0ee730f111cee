// Package dblog holds what the database log parsers share: telling a
// statement that changes data from one that reads it, and reading the zone
// names databases print. The parsers live in dblog/postgresql and
// dblog/mysql; both read lines with parsers/lines.
package dblog

import (
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// WriteTag marks an event whose statement modifies data or privileges.
const WriteTag = "db_write"

// writeVerbs are the statements that change data, schema or privileges:
// the tallies an audit protects live in the tables they touch.
var writeVerbs = map[string]bool{
	"UPDATE": true, "DELETE": true, "INSERT": true, "DROP": true, "ALTER": true, "GRANT": true,
	"REVOKE": true, "TRUNCATE": true, "CREATE": true, "REPLACE": true, "MERGE": true, "RENAME": true,
	"LOAD": true, "COPY": true, "UPSERT": true,
}

// Classify returns the statement's leading verb (upper case) and whether it
// modifies data. Leading comments and parentheses are skipped; a WITH
// statement is a write when its main verb after the CTEs is; COPY is a
// write only when it copies FROM a source into a table.
func Classify(stmt string) (verb string, write bool) {
	s := skipNoise(stmt)
	verb = firstWord(s)
	switch verb {
	case "WITH":
		for _, w := range words(s) {
			if w == "INSERT" || w == "UPDATE" || w == "DELETE" || w == "MERGE" {
				return verb, true
			}
		}
		return verb, false
	case "COPY":
		up := strings.ToUpper(s)
		return verb, strings.Contains(up, " FROM ") && !strings.Contains(up, " TO ")
	case "SELECT":
		// SELECT ... INTO new_table creates a table (PostgreSQL, SQL Server).
		up := strings.ToUpper(s)
		return verb, strings.Contains(up, " INTO ") && !strings.Contains(up, " INTO @") &&
			!strings.Contains(up, " INTO OUTFILE") && !strings.Contains(up, " INTO DUMPFILE")
	}
	return verb, writeVerbs[verb]
}

func skipNoise(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n(;")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*") && !strings.HasPrefix(s, "/*!"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		case strings.HasPrefix(s, "/*!"):
			// MySQL executable comment: its content is the statement.
			s = strings.TrimLeft(s[3:], "0123456789")
		default:
			return s
		}
	}
}

func firstWord(s string) string {
	end := strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') })
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r == '_')
	})
}

// TagStatement sets event.type and the db_write tag for a statement.
func TagStatement(ev *timeline.Event, stmt string) {
	verb, write := Classify(stmt)
	if verb != "" {
		if ev.Jejak.Data == nil {
			ev.Jejak.Data = map[string]string{}
		}
		ev.Jejak.Data["db.statement.verb"] = verb
	}
	if write {
		ev.Event.Type = appendOnce(ev.Event.Type, "change")
		ev.Jejak.Tags = appendOnce(ev.Jejak.Tags, WriteTag)
	} else {
		ev.Event.Type = appendOnce(ev.Event.Type, "access")
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// zoneOffsets are abbreviations that name one offset wherever they are
// printed. Ambiguous ones (CST, IST, BST, ...) are left out on purpose:
// those are read in the case zone and the assumption is recorded.
var zoneOffsets = map[string]int{
	"UTC": 0, "GMT": 0, "Z": 0, "UT": 0,
	"PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "EST": -5, "EDT": -4, "CDT": -5, "AKST": -9, "AKDT": -8, "HST": -10,
	"CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "WET": 0, "WEST": 1, "MSK": 3,
	"JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "WIB": 7, "WITA": 8, "WIT": 9, "PHT": 8,
	"AEST": 10, "AEDT": 11, "ACST": 9, "AWST": 8, "NZST": 12, "NZDT": 13,
}

// ResolveZone turns the zone text a database printed after a time into a
// location. A numeric offset or an unambiguous abbreviation is used as is;
// the case zone is used when it is itself known by that abbreviation at
// that time; otherwise ok is false and the caller reads the time in the
// case zone and records the assumption.
func ResolveZone(abbr string, wall time.Time, caseZone *time.Location) (loc *time.Location, ok bool) {
	if caseZone == nil {
		caseZone = time.UTC
	}
	if abbr == "" {
		return caseZone, false
	}
	if off, ok := ParseNumericZone(abbr); ok {
		return time.FixedZone(abbr, off), true
	}
	local := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, caseZone)
	if name, _ := local.Zone(); name == abbr {
		return caseZone, true
	}
	if h, ok := zoneOffsets[strings.ToUpper(abbr)]; ok {
		return time.FixedZone(abbr, h*3600), true
	}
	return caseZone, false
}

// ParseNumericZone reads +hh, +hhmm and +hh:mm as seconds east of UTC.
func ParseNumericZone(s string) (int, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	d := strings.ReplaceAll(s[1:], ":", "")
	if len(d) != 2 && len(d) != 4 {
		return 0, false
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	off := n * 3600
	if len(d) == 4 {
		off = (n/100)*3600 + (n%100)*60
	}
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// Place sets the event time from a wall clock read in loc; when the zone
// was assumed it records that on the event.
func Place(ev *timeline.Event, wall time.Time, loc *time.Location, assumed bool) {
	ev.Timestamp = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(),
		wall.Nanosecond(), loc).UTC()
	if assumed {
		ev.Event.Timezone = loc.String()
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: loc.String()}
	}
}
