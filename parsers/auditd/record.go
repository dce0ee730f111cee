package auditd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// kv is one field of a record, in the order the kernel or tool wrote it.
type kv struct {
	Key, Value string
}

// record is one line of audit.log.
type record struct {
	Type   string
	Node   string
	Key    string // "sec.ms:serial", the identity auditd gives an event
	Time   time.Time
	Serial uint64
	Fields []kv
	Words  []string // bare words (AVC "denied { read } for", "config changed,")
	Body   string   // the text after the header, as written
	Raw    string
	Offset int64
	Line   int64
}

var (
	errNoType   = errors.New("no type= field")
	errNoHeader = errors.New("no msg=audit(<seconds>.<millis>:<serial>) header")
	errBadTime  = errors.New("bad time or serial in msg=audit(...) header")
)

// parseRecord reads one line:
//
//	[node=NAME ]type=TYPE msg=audit(SEC.MS:SERIAL): key=value ...[\x1d ENRICHED=value ...]
func parseRecord(line string) (*record, error) {
	r := &record{Raw: line}
	s := line
	if strings.HasPrefix(s, "node=") {
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			return nil, errNoType
		}
		r.Node = s[len("node="):end]
		s = s[end+1:]
	}
	if !strings.HasPrefix(s, "type=") {
		return nil, errNoType
	}
	s = s[len("type="):]
	end := strings.IndexByte(s, ' ')
	if end <= 0 {
		return nil, errNoType
	}
	r.Type = s[:end]
	s = s[end+1:]
	if !strings.HasPrefix(s, "msg=audit(") {
		return nil, errNoHeader
	}
	s = s[len("msg=audit("):]
	end = strings.IndexByte(s, ')')
	if end < 0 {
		return nil, errNoHeader
	}
	stamp := s[:end]
	s = s[end+1:]
	// DAEMON_* records written by auditd itself have no colon after ")".
	s = strings.TrimPrefix(s, ":")
	s = strings.TrimLeft(s, " ")
	t, serial, err := parseStamp(stamp)
	if err != nil {
		return nil, err
	}
	r.Key, r.Time, r.Serial = stamp, t, serial
	r.Body = s

	raw, enriched, hasEnriched := strings.Cut(s, "\x1d")
	r.Fields, r.Words = parseFields(raw, r.Type, r.Fields, r.Words)
	if hasEnriched {
		// auditd's log_format=ENRICHED appends the interpreted values
		// (names for uids, syscall names) in upper case after 0x1d.
		r.Fields, _ = parseFields(enriched, "", r.Fields, nil)
	}
	return r, nil
}

// parseStamp reads "1364481363.243:24287". The fraction is milliseconds as
// auditd writes three digits; a shorter one is read as a decimal fraction.
func parseStamp(s string) (time.Time, uint64, error) {
	ts, ser, ok := strings.Cut(s, ":")
	if !ok {
		return time.Time{}, 0, errBadTime
	}
	secs, frac, ok := strings.Cut(ts, ".")
	if !ok || secs == "" || frac == "" || len(frac) > 9 {
		return time.Time{}, 0, errBadTime
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, 0, errBadTime
	}
	f, err := strconv.ParseUint(frac, 10, 64)
	if err != nil {
		return time.Time{}, 0, errBadTime
	}
	for i := len(frac); i < 9; i++ {
		f *= 10
	}
	serial, err := strconv.ParseUint(ser, 10, 64)
	if err != nil {
		return time.Time{}, 0, errBadTime
	}
	return time.Unix(sec, int64(f)).UTC(), serial, nil
}

// parseFields splits "k=v k2="quoted" k3='nested k=v' word ..." in order.
// A msg='...' value from user-space tools holds its own key=values, which
// are merged in place as auditd's own interpretation does.
func parseFields(s, typ string, fields []kv, words []string) ([]kv, []string) {
	prefix := ""
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return fields, words
		}
		var tok string
		eq := -1
		i := 0
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			if s[i] == '=' && eq < 0 {
				eq = i
				break
			}
			i++
		}
		if eq <= 0 {
			// A bare word. The SELinux LOGIN record writes "old auid=" and
			// "new auid="; keep the qualifier on the key.
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			tok = s[:end]
			s = s[end:]
			if tok == "old" || tok == "new" {
				prefix = tok + "-"
			} else {
				words = append(words, tok)
			}
			continue
		}
		key := prefix + s[:eq]
		prefix = ""
		s = s[eq+1:]
		var val string
		quoted := false
		switch {
		case strings.HasPrefix(s, "\""):
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
			quoted = true
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			var inner string
			if end < 0 {
				inner, s = s[1:], ""
			} else {
				inner, s = s[1:1+end], s[2+end:]
			}
			if key == "msg" {
				fields, words = parseFields(inner, typ, fields, words)
				continue
			}
			val, quoted = inner, true
		default:
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if !quoted && hexEncoded(key, typ) {
			val = decodeHex(val)
		}
		fields = append(fields, kv{key, val})
		if key == "saddr" && typ == "SOCKADDR" {
			fields = append(fields, sockaddr(val)...)
		}
	}
}

// sockaddr decodes the hex struct sockaddr of a SOCKADDR record for the
// Internet families (as go-libaudit and ausearch -i do); others stay hex.
func sockaddr(v string) []kv {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < 2 {
		return nil
	}
	port := func() string { return strconv.Itoa(int(b[2])<<8 | int(b[3])) }
	switch fam := int(b[0]) | int(b[1])<<8; {
	case fam == 2 && len(b) >= 8:
		a := netip.AddrFrom4([4]byte(b[4:8]))
		return []kv{{"family", "ipv4"}, {"addr", a.String()}, {"port", port()}}
	case fam == 10 && len(b) >= 24:
		a := netip.AddrFrom16([16]byte(b[8:24]))
		return []kv{{"family", "ipv6"}, {"addr", a.String()}, {"port", port()}}
	case fam == 1:
		return []kv{{"family", "unix"}, {"path", string(bytes.TrimRight(b[2:], "\x00"))}}
	}
	return nil
}

// hexEncoded says whether a bare value of this field is hex when it is not
// quoted: the kernel and libaudit hex-encode "untrusted strings" (anything
// with a space, quote or control byte) for exactly these fields.
func hexEncoded(key, typ string) bool {
	switch key {
	case "proctitle", "acct", "cmd", "comm", "exe", "cwd", "name", "path", "data",
		"old-acct", "new-acct", "grp", "new_group", "old_group", "root_dir", "key":
		return true
	}
	if typ == "EXECVE" && len(key) > 1 && key[0] == 'a' && key[1] >= '0' && key[1] <= '9' {
		return !strings.HasSuffix(key, "_len")
	}
	return false
}

// decodeHex returns the decoded text of an even-length upper-case hex
// value, NUL separators (proctitle's argv) read as spaces; anything else is
// returned unchanged ("(null)", "?", numbers of odd length).
func decodeHex(v string) string {
	if len(v) < 2 || len(v)%2 != 0 {
		return v
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return v
		}
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	b = bytes.TrimRight(b, "\x00")
	return strings.ReplaceAll(string(b), "\x00", " ")
}
