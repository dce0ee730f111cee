package syslog

import (
	"errors"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/internal/civil"
)

// layout is the header shape a record was written in.
type layout uint8

const (
	_ layout = iota // the zero value: no header recognised yet
	// layout3164 is BSD syslog: "Mar 11 22:55:31 host tag[pid]: msg",
	// without year or zone.
	layout3164
	// layout3339 is rsyslog's high-precision file format:
	// "2020-05-31T00:00:45.698463+00:00 host tag[pid]: msg".
	layout3339
	// layout5424 is RFC 5424 as rsyslog's SyslogProtocol23Format writes it:
	// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG".
	layout5424
	// layoutComment is syslogd's own note with no host or tag:
	// "Nov 18 01:15:43: --- last message repeated 5 times ---".
	layoutComment
	// layoutUnix is journalctl -o short-unix: "1707912301.000000 host
	// tag[pid]: msg", seconds since the epoch (UTC by definition).
	layoutUnix
	// layoutFull is journalctl -o short-full: "Wed 2024-02-14 19:05:01 WIB
	// host tag[pid]: msg", a wall time with the zone's abbreviation.
	layoutFull
)

// stamp is a timestamp as written, before a year or zone is decided.
//
// Every stamp shape (RFC 3164, RFC 3339 as rsyslog and RFC 5424 write it,
// journalctl's short-unix and short-full) is read by hand below, digit by
// digit, rather than with time.Parse: a header costs no allocation, one
// pass decides both whether a line starts a record and what its time is,
// and time.Parse has no layout for a year-less stamp whose year is decided
// later from the whole file (yearGuess). The calendar checks time.Parse
// would make are made here too (month and day ranges, leap years, clock
// ranges), and a line that fails them is a counted warning.
type stamp struct {
	year, month, day     int
	hour, min, sec, nsec int
	hasYear, hasZone     bool
	zoneOff              int    // seconds east of UTC when hasZone
	zoneAbbr             string // a zone abbreviation still to resolve ("WIB", "CET")
	fracDigits           int    // digits of fractional seconds as written
}

// header is one parsed record start. All strings are substrings of the
// line, so parsing a line allocates nothing beyond the line itself.
type header struct {
	layout   layout
	pri      int // -1 when the line has no <PRI>
	ts       stamp
	host     string
	severity string // ChromeOS writes a severity word where the host goes
	tag      string // program as written, e.g. "/sbin/anacron", "sshd"
	pid      string // as written between [ and ]
	version  string // RFC 5424 VERSION
	msgid    string // RFC 5424 MSGID
	sd       string // RFC 5424 STRUCTURED-DATA as written, "" for "-"
	message  string // the event message: from the tag to the end of the line
	body     string // the text after the tag, leading blanks removed
	closed   bool   // the tag was closed by ':' ("tag:", "tag[pid]:", "tag[pid] <Level>:")
}

// Reasons a line that starts like a record is still rejected. They are
// sentinels so that a bad line costs no allocation until it is reported.
var (
	errMonth       = errors.New("unknown month name")
	errDate        = errors.New("date out of range")
	errTime        = errors.New("time of day out of range")
	errTimestamp   = errors.New("malformed timestamp")
	errPriority    = errors.New("priority above 191")
	errNoMessage   = errors.New("record has no host, tag or message after the timestamp")
	errNilTime     = errors.New("RFC 5424 record without a timestamp (NILVALUE): it cannot be placed on the timeline")
	errFields      = errors.New("RFC 5424 record with missing header fields")
	errSD          = errors.New("malformed RFC 5424 structured data")
	errNotSyslog   = errors.New("line is not a syslog record and follows no record it could continue")
	errTooLong     = errors.New("line longer than the 1 MiB limit")
	errContinued   = errors.New("continuation line beyond the 64 KiB message limit")
	errComment     = errors.New("comment line (starts with '#'), not a syslog record")
	errJournalNote = errors.New("journalctl note (\"-- ... --\"): no time, not a record")
	errTailHeader  = errors.New("head/tail file header (\"==> name <==\"): the records after it come from that file")
	errWeekday     = errors.New("weekday does not match the date")
	errNUL         = errors.New("line of NUL bytes only: file space allocated but never written (as after a crash)")
)

var monthNames = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseLine reads the header of s. startLike is false when s does not even
// look like the start of a record (no timestamp where one belongs): such a
// line continues the previous record. When startLike is true and err is
// set, the line is a record that cannot be read.
func parseLine(s string, h *header) (startLike bool, err error) {
	*h = header{pri: -1}
	rest := s
	if len(rest) > 0 && rest[0] == '<' {
		pri, n := priority(rest)
		if n == 0 {
			return false, nil
		}
		if pri > 191 {
			return true, errPriority
		}
		h.pri = pri
		rest = rest[n:]
		if len(rest) >= 2 && isDigit(rest[0]) && (rest[1] == ' ' || (isDigit(rest[1]) && len(rest) > 2 && rest[2] == ' ')) {
			return true, parse5424(rest, h)
		}
	}
	// The four shapes exclude one another (FuzzStampShapes): a 3164 stamp
	// has a blank fourth where the others have a digit (RFC 3339, Unix
	// seconds), and at most two digits after it where short-full has a
	// year. So the common one is asked first, and its lines skip the
	// other three checks.
	if n, ok, err := read3164(rest, &h.ts); ok {
		if err != nil {
			return true, err
		}
		h.layout = layout3164
		rest = rest[n:]
		if len(rest) > 0 && rest[0] == ':' {
			return true, note(rest[1:], h)
		}
		if len(rest) == 0 || rest[0] != ' ' {
			return true, errTimestamp
		}
		// macOS syslogd writes its repeat note with no host:
		// "Aug 18 16:29:25 --- last message repeated 1 time ---".
		if t := trimBlanks(rest); strings.HasPrefix(t, "--- ") && strings.HasSuffix(t, " ---") {
			return true, note(t, h)
		}
		return true, afterStamp(rest, h, true)
	}
	switch {
	case looks3339(rest):
		n, err := parse3339(rest, &h.ts)
		if err != nil {
			return true, err
		}
		h.layout = layout3339
		if n == len(rest) || rest[n] != ' ' {
			return true, errNoMessage
		}
		return true, afterStamp(rest[n:], h, true)
	case looksUnix(rest):
		n := parseUnix(rest, &h.ts)
		h.layout = layoutUnix
		return true, afterStamp(rest[n:], h, true)
	case looksFull(rest):
		n, err := parseFull(rest, &h.ts)
		if err != nil {
			return true, err
		}
		h.layout = layoutFull
		return true, afterStamp(rest[n:], h, true)
	}
	return false, nil
}

// note reads syslogd's own note, "--- text ---" with the dashes optional.
func note(s string, h *header) error {
	h.layout = layoutComment
	c := strings.TrimSpace(s)
	c = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c, "---"), "---"))
	if c == "" {
		return errNoMessage
	}
	h.message, h.body = c, c
	return nil
}

// markText is the text syslogd (sysklogd, rsyslog's immark before v8) writes
// after the host when nothing else was logged for a while. It has no tag.
const markText = "-- MARK --"

// priority reads "<N>" with 1 to 3 digits; n is 0 when s does not start so.
func priority(s string) (pri, n int) {
	i := 1
	for i < len(s) && i <= 3 && isDigit(s[i]) {
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i == 1 || i >= len(s) || s[i] != '>' {
		return 0, 0
	}
	return pri, i + 1
}

// afterStamp reads " host tag[pid]: body" (3164 and rsyslog). A first word
// that ends in ':' is a tag, not a host: kernel lines written without a
// hostname ("Nov 18 08:30:20 kernel: [997.39] ...") look like that.
func afterStamp(s string, h *header, hostOptional bool) error {
	s = trimBlanks(s)
	if s == "" {
		return errNoMessage
	}
	word := s
	if i := strings.IndexByte(s, ' '); i >= 0 {
		word = s[:i]
	}
	if hostOptional && word[len(word)-1] == ':' {
		parseTag(s, h)
		return nil
	}
	if h.layout == layout3339 && isSeverityWord(word) {
		h.severity = word
	} else {
		h.host = word
	}
	s = trimBlanks(s[len(word):])
	if s == "" {
		return errNoMessage
	}
	if strings.HasPrefix(s, markText) && strings.TrimSpace(s[len(markText):]) == "" {
		// "host -- MARK --": a liveness mark, not a program named "--".
		h.message, h.body = markText, markText
		return nil
	}
	// syslogd's repeat note after the host: sysklogd writes "host last
	// message repeated N times", others "host --- last message ... ---".
	// Both notes are tested only past their first bytes' check: nearly
	// every line is a tag, and the calls were ~5% of a line's header.
	// TrimRight(s, " ") keeps a prefix of s, so s must have it too.
	if strings.HasPrefix(s, "--- ") {
		if t := strings.TrimRight(s, " "); strings.HasPrefix(t, "--- ") && strings.HasSuffix(t, " ---") {
			return note(t, h)
		}
	}
	if s[0] == 'l' {
		if _, ok := repeatCount(s, "last message repeated "); ok {
			return note(s, h)
		}
	}
	parseTag(s, h)
	return nil
}

// parseTag splits "tag[pid]: body", "tag: body" or "tag body". The tag runs
// to the first ':', '[' or blank, as in plaso's reporter; the message keeps
// the tag so a reader of the timeline sees who wrote the line.
func parseTag(s string, h *header) {
	h.message = s
	k := 0
	for k < len(s) && s[k] != ':' && s[k] != '[' && s[k] != ' ' {
		k++
	}
	h.tag = s[:k]
	rest := s[k:]
	if len(rest) > 0 && rest[0] == '[' {
		if j := strings.IndexByte(rest, ']'); j > 0 {
			h.pid = rest[1:j]
			rest = rest[j+1:]
			// Apple's ASL writes the level between the pid and the colon:
			// "Docker[588] <Notice>: Reap ...".
			if len(rest) > 3 && rest[0] == ' ' && rest[1] == '<' {
				if e := strings.IndexByte(rest, '>'); e > 2 && e < 16 && e+1 < len(rest) && rest[e+1] == ':' {
					h.severity = rest[2:e]
					rest = rest[e+1:]
				}
			}
		}
	}
	if len(rest) > 0 && rest[0] == ':' {
		rest = rest[1:]
		h.closed = k > 0
	}
	h.body = trimBlanks(rest)
}

// trimBlanks is strings.TrimLeft(s, " ") without the call: a header asks
// it three times, and strings's cutset dispatch cost more than the loop
// (FuzzTrims compares them).
func trimBlanks(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

func isSeverityWord(w string) bool {
	switch w {
	case "EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG":
		return true
	}
	return false
}

// looks3164 is the shape check plaso uses to end a multi-line body:
// three word characters, blanks, one or two digits, a blank, hh:mm:ss.
func looks3164(s string) bool {
	if len(s) < 14 || !isWord(s[0]) || !isWord(s[1]) || !isWord(s[2]) || s[3] != ' ' {
		return false
	}
	i := 4
	for i < len(s) && s[i] == ' ' {
		i++
	}
	d := 0
	for i < len(s) && isDigit(s[i]) && d < 3 {
		i++
		d++
	}
	if d == 0 || d > 2 || len(s) < i+9 || s[i] != ' ' {
		return false
	}
	t := s[i+1:]
	return isDigit(t[0]) && isDigit(t[1]) && t[2] == ':' && isDigit(t[3]) && isDigit(t[4]) && t[5] == ':' && isDigit(t[6]) && isDigit(t[7])
}

// read3164 reads an RFC 3164 stamp at the start of s: ok says s has the
// shape (looks3164), n and err are parse3164's. The fixed layout nearly
// every line has is read in one pass (fixed3164); any other goes through
// looks3164 and parse3164.
func read3164(s string, st *stamp) (n int, ok bool, err error) {
	if fixed3164(s, st) {
		return len("Jan _2 15:04:05"), true, nil
	}
	if !looks3164(s) {
		return 0, false, nil
	}
	n, err = parse3164(s, st)
	return n, true, err
}

// fixed3164 reads "Mmm _d hh:mm:ss" (the day as two digits or a blank
// and a digit, followed by anything but a '.', which may start a fraction)
// when s starts with exactly that and the stamp is valid, as looks3164 and
// parse3164 would; it reports
// false, and leaves st alone, for anything else, an error included, which
// they then read and report (FuzzFixed3164 holds the two paths alike).
func fixed3164(s string, st *stamp) bool {
	if len(s) < 16 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || s[15] == '.' {
		return false
	}
	if !isDigit(s[5]) || !(s[4] == ' ' || isDigit(s[4])) ||
		!isDigit(s[7]) || !isDigit(s[8]) || !isDigit(s[10]) || !isDigit(s[11]) || !isDigit(s[13]) || !isDigit(s[14]) {
		return false
	}
	m := monthNumber(lower(s[0]), lower(s[1]), lower(s[2]))
	day := int(s[5] - '0')
	if s[4] != ' ' {
		day += 10 * int(s[4]-'0')
	}
	hour, min, sec := two(s[7:]), two(s[10:]), two(s[13:])
	if m == 0 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 {
		return false
	}
	st.month, st.day, st.hour, st.min, st.sec = m, day, hour, min, sec
	return true
}

// parse3164 reads "Mmm dd hh:mm:ss[.frac]" and returns the bytes used.
func parse3164(s string, st *stamp) (int, error) {
	m := monthNumber(lower(s[0]), lower(s[1]), lower(s[2]))
	if m == 0 {
		return 0, errMonth
	}
	i := 4
	for s[i] == ' ' {
		i++
	}
	day := 0
	for isDigit(s[i]) {
		day = day*10 + int(s[i]-'0')
		i++
	}
	i++ // the blank looks3164 checked
	st.month, st.day = m, day
	st.hour = two(s[i:])
	st.min = two(s[i+3:])
	st.sec = two(s[i+6:])
	i += 8
	if i < len(s) && s[i] == '.' && i+1 < len(s) && isDigit(s[i+1]) {
		i++
		i += frac(s[i:], st)
	}
	if day < 1 || day > 31 {
		return 0, errDate
	}
	if st.hour > 23 || st.min > 59 || st.sec > 60 {
		return 0, errTime
	}
	return i, nil
}

// monthNumber is the 1-based month of a lowercase three-letter name in
// monthNames, 0 for none: one switch on the three bytes where a loop over
// the names compared up to 36 (TestMonthNumber holds the two alike).
func monthNumber(a, b, c byte) int {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'j'<<16 | 'a'<<8 | 'n':
		return 1
	case 'f'<<16 | 'e'<<8 | 'b':
		return 2
	case 'm'<<16 | 'a'<<8 | 'r':
		return 3
	case 'a'<<16 | 'p'<<8 | 'r':
		return 4
	case 'm'<<16 | 'a'<<8 | 'y':
		return 5
	case 'j'<<16 | 'u'<<8 | 'n':
		return 6
	case 'j'<<16 | 'u'<<8 | 'l':
		return 7
	case 'a'<<16 | 'u'<<8 | 'g':
		return 8
	case 's'<<16 | 'e'<<8 | 'p':
		return 9
	case 'o'<<16 | 'c'<<8 | 't':
		return 10
	case 'n'<<16 | 'o'<<8 | 'v':
		return 11
	case 'd'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// looksUnix checks journalctl's short-unix stamp: 9 to 11 digits of
// seconds, a dot, 1 to 9 digits of fraction and a blank. The fraction is
// required, so a line that starts with a bare number is not taken.
func looksUnix(s string) bool {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < 9 || i > 11 || i >= len(s) || s[i] != '.' {
		return false
	}
	j := i + 1
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j-i-1 >= 1 && j-i-1 <= 9 && j < len(s) && s[j] == ' '
}

// parseUnix reads a stamp looksUnix accepted; it returns the bytes used.
func parseUnix(s string, st *stamp) int {
	var sec int64
	i := 0
	for ; s[i] != '.'; i++ {
		sec = sec*10 + int64(s[i]-'0')
	}
	i++
	i += frac(s[i:], st)
	t := time.Unix(sec, int64(st.nsec)).UTC()
	y, mo, d := t.Date()
	st.year, st.month, st.day = y, int(mo), d
	st.hour, st.min, st.sec = t.Clock()
	st.hasYear, st.hasZone, st.zoneOff = true, true, 0
	return i
}

// looksFull checks journalctl's short-full stamp: a weekday, "dddd-dd-dd
// dd:dd:dd", a zone abbreviation of up to 6 letters, digits or signs, and
// a blank.
func looksFull(s string) bool {
	if len(s) < 26 || !isLetter(s[0]) || !isLetter(s[1]) || !isLetter(s[2]) || s[3] != ' ' || s[14] != ' ' {
		return false
	}
	for i, c := range []byte("dddd-dd-dd dd:dd:dd ") {
		if c == 'd' && !isDigit(s[4+i]) || c != 'd' && s[4+i] != c {
			return false
		}
	}
	i := 24
	for i < len(s) && i < 31 && s[i] != ' ' && (isLetter(s[i]) || isDigit(s[i]) || s[i] == '+' || s[i] == '-') {
		i++
	}
	return i > 24 && i < len(s) && s[i] == ' '
}

var weekdays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// parseFull reads a stamp looksFull accepted. "UTC", "GMT" and numeric
// abbreviations ("+07", "-0330", as tzdata names many zones) are offsets;
// any other abbreviation is left in zoneAbbr for the parser to check
// against the case zone. The weekday must be the date's.
func parseFull(s string, st *stamp) (int, error) {
	st.year = int(s[4]-'0')*1000 + int(s[5]-'0')*100 + two(s[6:])
	st.month, st.day = two(s[9:]), two(s[12:])
	st.hour, st.min, st.sec = two(s[15:]), two(s[18:]), two(s[21:])
	st.hasYear = true
	if st.month < 1 || st.month > 12 || st.day < 1 || st.day > civil.DaysIn(st.month, st.year) {
		return 0, errDate
	}
	if st.hour > 23 || st.min > 59 || st.sec > 60 {
		return 0, errTime
	}
	wd := time.Date(st.year, time.Month(st.month), st.day, 0, 0, 0, 0, time.UTC).Weekday()
	if s[:3] != weekdays[wd] {
		return 0, errWeekday
	}
	end := 24 + strings.IndexByte(s[24:], ' ')
	abbr := s[24:end]
	switch {
	case abbr == "UTC" || abbr == "GMT":
		st.hasZone = true
	case abbr[0] == '+' || abbr[0] == '-':
		d := abbr[1:]
		if (len(d) != 2 && len(d) != 4) || strings.Trim(d, "0123456789") != "" {
			return 0, errTimestamp
		}
		off := two(d) * 3600
		if len(d) == 4 {
			off += two(d[2:]) * 60
		}
		if abbr[0] == '-' {
			off = -off
		}
		st.hasZone, st.zoneOff = true, off
	default:
		st.zoneAbbr = abbr
	}
	return end, nil
}

// looks3339 checks "dddd-dd-ddTdd:dd:dd".
func looks3339(s string) bool {
	if len(s) < 19 {
		return false
	}
	for i, c := range []byte("dddd-dd-ddTdd:dd:dd") {
		if c == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != c {
			return false
		}
	}
	return true
}

// parse3339 reads an RFC 3339 timestamp whose shape looks3339 accepted:
// optional fraction (up to nanoseconds), zone "Z", "±hh:mm" or "±hhmm", or
// none (then the case zone is assumed).
func parse3339(s string, st *stamp) (int, error) {
	if !looks3339(s) {
		return 0, errTimestamp
	}
	st.year = int(s[0]-'0')*1000 + int(s[1]-'0')*100 + two(s[2:])
	st.month, st.day = two(s[5:]), two(s[8:])
	st.hour, st.min, st.sec = two(s[11:]), two(s[14:]), two(s[17:])
	st.hasYear = true
	i := 19
	if i < len(s) && s[i] == '.' {
		i++
		n := frac(s[i:], st)
		if n == 0 {
			return 0, errTimestamp
		}
		i += n
	}
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			st.hasZone = true
			i++
		case '+', '-':
			neg := s[i] == '-'
			t := s[i+1:]
			var hh, mm int
			switch {
			case len(t) >= 5 && isDigit(t[0]) && isDigit(t[1]) && t[2] == ':' && isDigit(t[3]) && isDigit(t[4]):
				hh, mm = two(t), two(t[3:])
				i += 6
			case len(t) >= 4 && isDigit(t[0]) && isDigit(t[1]) && isDigit(t[2]) && isDigit(t[3]):
				hh, mm = two(t), two(t[2:])
				i += 5
			default:
				return 0, errTimestamp
			}
			if hh > 23 || mm > 59 {
				return 0, errTimestamp
			}
			st.zoneOff = hh*3600 + mm*60
			if neg {
				st.zoneOff = -st.zoneOff
			}
			st.hasZone = true
		}
	}
	if i < len(s) && s[i] != ' ' {
		return 0, errTimestamp
	}
	if st.month < 1 || st.month > 12 || st.day < 1 || st.day > civil.DaysIn(st.month, st.year) {
		return 0, errDate
	}
	if st.hour > 23 || st.min > 59 || st.sec > 60 {
		return 0, errTime
	}
	return i, nil
}

// frac reads fractional-second digits into st.nsec; digits past
// nanoseconds are read and dropped.
func frac(s string, st *stamp) int {
	n, ns := 0, 0
	for n < len(s) && isDigit(s[n]) {
		if n < 9 {
			ns = ns*10 + int(s[n]-'0')
		}
		n++
	}
	for k := n; k < 9; k++ {
		ns *= 10
	}
	st.nsec, st.fracDigits = ns, n
	return n
}

// parse5424 reads "VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID
// SP MSGID SP STRUCTURED-DATA [SP MSG]" (RFC 5424 section 6).
func parse5424(s string, h *header) error {
	h.layout = layout5424
	var f [6]string
	for k := range f {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			if k == 5 {
				f[k], s = s, ""
				break
			}
			return errFields
		}
		f[k], s = s[:i], s[i+1:]
		if f[k] == "" {
			// Every header field is NILVALUE or at least one character.
			return errFields
		}
	}
	h.version = f[0]
	if f[1] == "-" {
		return errNilTime
	}
	n, err := parse3339(f[1], &h.ts)
	if err != nil {
		return err
	}
	if n != len(f[1]) {
		return errTimestamp
	}
	h.host = nilValue(f[2])
	h.tag = nilValue(f[3])
	h.pid = nilValue(f[4])
	h.msgid = nilValue(f[5])
	if s == "" {
		return errFields
	}
	if s[0] == '-' {
		s = s[1:]
	} else if s[0] == '[' {
		n, ok := sdLen(s)
		if !ok {
			return errSD
		}
		h.sd, s = s[:n], s[n:]
	} else {
		return errSD
	}
	if s != "" && s[0] != ' ' {
		return errSD
	}
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimPrefix(s, "\ufeff")
	h.body = strings.TrimLeft(s, " ")
	return nil
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func two(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
