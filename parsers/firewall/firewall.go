// Package firewall parses the Windows Firewall log (pfirewall.log): a
// W3C-shaped text log whose #Fields: directive names the columns and whose
// times are local time of the machine that wrote it ("#Time Format: Local").
package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "winfirewall"

// TimeDesc follows plaso's winfirewall parser (last_written_time).
const TimeDesc = "Last Written Time"

// defaultFields are the columns Windows XP SP2 and later write, used when a
// file starts without its header (a log cut at rotation).
var defaultFields = strings.Fields("date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path")

// Parser reads pfirewall.log.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the Windows Firewall log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts the header Windows writes at the top of every log.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	// Both tests need a '#': a head without one is not searched for the
	// long #Fields: line.
	if bytes.IndexByte(head, '#') < 0 {
		return false
	}
	return bytes.HasPrefix(head, []byte("#Version:")) &&
		bytes.Contains(head, []byte("#Software: Microsoft Windows Firewall")) ||
		bytes.Contains(head, []byte("#Fields: date time action protocol src-ip dst-ip"))
}

// Parse implements parsers.Parser.
func (*Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	fields := defaultFields
	timeFormat := ""
	lr := lines.NewReader(src.R)
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return nil
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		warn := func(e error) {
			src.WarnErr(off, num, e)
		}
		if errors.Is(err, lines.ErrTooLong) {
			warn(err)
			continue
		}
		if err != nil {
			return err
		}
		if num == 1 {
			line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
		}
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		if s[0] == '#' {
			name, value, _ := strings.Cut(s[1:], ":")
			switch strings.ToLower(name) {
			case "fields":
				if f := strings.Fields(value); len(f) > 0 {
					fields = f
				}
			case "time format":
				timeFormat = strings.TrimSpace(value)
			case "version", "software", "remark", "date", "start-date", "end-date":
			default:
				// Not a directive Windows writes: a comment someone
				// added. It is no record, and is not passed over silently.
				warn(errors.New("comment line, not a log record or W3C directive"))
			}
			continue
		}
		ev, err := record(s, fields, zone, timeFormat)
		if err != nil {
			warn(err)
			continue
		}
		parsers.At(ev, off, num)
		if err := emit(ev); err != nil {
			return err
		}
	}
}

func record(line string, fields []string, zone *time.Location, timeFormat string) (*timeline.Event, error) {
	vals := strings.Fields(line)
	if len(vals) != len(fields) {
		return nil, fmt.Errorf("%d values for %d #Fields: columns", len(vals), len(fields))
	}
	col := make(map[string]string, len(fields))
	for i, f := range fields {
		if vals[i] != "-" {
			col[strings.ToLower(f)] = vals[i]
		}
	}
	// "#Time Format: Local" is what Windows writes; a UTC log would say so.
	loc := zone
	utc := strings.EqualFold(timeFormat, "UTC")
	if utc {
		loc = time.UTC
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", col["date"]+" "+col["time"], loc)
	if err != nil {
		return nil, fmt.Errorf("bad date/time: %w", err)
	}
	action := col["action"]
	if action == "" {
		return nil, errors.New("no action")
	}
	ev := &timeline.Event{
		Timestamp:     ts.UTC(),
		TimestampDesc: TimeDesc,
		Event: timeline.EventMeta{Kind: "event", Category: []string{"network"}, Type: eventType(action),
			Action: strings.ToLower(action), Dataset: "windows.firewall", Provider: "Microsoft Windows Firewall"},
	}
	if !utc {
		ev.Event.Timezone = loc.String()
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: loc.String()}
	}
	switch strings.ToUpper(action) {
	case "DROP":
		ev.Event.Outcome = "failure"
	case "ALLOW", "OPEN", "CLOSE", "OPEN-INBOUND":
		ev.Event.Outcome = "success"
	}
	ev.Source = endpoint(col["src-ip"], col["src-port"])
	ev.Destination = endpoint(col["dst-ip"], col["dst-port"])
	data := map[string]string{}
	// ECS network.* has no place in timeline.Event yet, so the transport
	// and direction go to jejak.data under their ECS names.
	if proto := col["protocol"]; proto != "" {
		data["network.transport"] = strings.ToLower(proto)
	}
	switch strings.ToUpper(col["path"]) {
	case "RECEIVE":
		data["network.direction"] = "inbound"
	case "SEND":
		data["network.direction"] = "outbound"
	}
	for k, v := range col {
		switch k {
		case "date", "time", "action", "src-ip", "dst-ip", "src-port", "dst-port":
		case "pid":
			if pid, err := strconv.ParseInt(v, 10, 64); err == nil {
				ev.Process = &timeline.Process{PID: pid}
			}
		default:
			data[k] = v
		}
	}
	ev.Jejak.Data = data
	ev.Message = message(action, col)
	return ev, nil
}

func eventType(action string) []string {
	switch strings.ToUpper(action) {
	case "DROP":
		return []string{"connection", "denied"}
	case "ALLOW":
		return []string{"connection", "allowed"}
	case "OPEN", "OPEN-INBOUND":
		return []string{"connection", "start"}
	case "CLOSE":
		return []string{"connection", "end"}
	default:
		return []string{"info"}
	}
}

func endpoint(ip, port string) *timeline.Endpoint {
	if ip == "" {
		return nil
	}
	e := &timeline.Endpoint{IP: ip}
	if p, err := strconv.Atoi(port); err == nil {
		e.Port = p
	}
	return e
}

// message reads like plaso's: "DROP [ TCP RECEIVE ] From: a :80 > b :1774".
func message(action string, col map[string]string) string {
	var b strings.Builder
	b.WriteString(action)
	if col["protocol"] != "" || col["path"] != "" {
		fmt.Fprintf(&b, " [ %s %s ]", col["protocol"], col["path"])
	}
	if col["src-ip"] != "" {
		fmt.Fprintf(&b, " From: %s :%s > %s :%s", col["src-ip"], col["src-port"], col["dst-ip"], col["dst-port"])
	}
	if v := col["size"]; v != "" {
		fmt.Fprintf(&b, " Size (bytes): %s", v)
	}
	if v := col["tcpflags"]; v != "" {
		fmt.Fprintf(&b, " Flags [%s]", v)
	}
	if v := col["info"]; v != "" {
		fmt.Fprintf(&b, " Info: %s", v)
	}
	return b.String()
}
