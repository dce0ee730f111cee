// Package defender parses Microsoft Defender's support log, the Microsoft
// Protection Log (ProgramData\Microsoft\Windows Defender\Support\
// MPLog-YYYYMMDD-hhmmss.log), UTF-16LE or UTF-8 text of timestamped lines:
//
//	2022-11-23T09:10:55.472Z ProcessImageName: svchost.exe, Pid: 7836, TotalTime: 6070, Count: 24, MaxTime: 828, MaxTimeFile: \Device\HarddiskVolume1\Downloads\binary.exe, EstimatedImpact: 100%
//	2022-11-23T09:12:01.003Z DETECTION_CLEANEVENT MPSOURCE_REALTIME MP_THREAT_ACTION_QUARANTINE 0x80508023 Backdoor:Win64/CobaltStrike.NP!dha file:\\DC01\ADMIN$\8fe9c39.exe
//
// Every timestamped line is an event; a line without a time continues the
// one before. The performance-impact lines (evidence that a program ran
// and of a file it touched) and the detection lines are normalised. Times
// ending in Z are UTC; a time without it is read in the case zone,
// recorded as assumed.
package defender

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "defender_mplog"

// TimeDesc is the time of a log entry.
const TimeDesc = "Log Entry Time"

// Event actions.
const (
	ActionImpact     = "defender-scan-impact"
	ActionDetected   = "malware-detected"
	ActionRemediated = "malware-remediated"
)

// Data keys.
const (
	KeyThreat = "defender.threat"
	KeyAction = "defender.action"
	KeySource = "defender.source"
	KeyCount  = "defender.file_count"
	KeyImpact = "defender.estimated_impact"
)

var (
	lineRe      = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?)(Z?)\s+(.*)$`)
	impactRe    = regexp.MustCompile(`^ProcessImageName: ([^,]*), (?:Pid: (\d+), )?TotalTime: (\d+), Count: (\d+), MaxTime: (\d+), MaxTimeFile: (.*?), EstimatedImpact: (\d+)%`)
	detectionRe = regexp.MustCompile(`^(DETECTION(?:EVENT|_CLEANEVENT|_ADD|)) (MPSOURCE_\S+)(?: (MP_THREAT_ACTION_\S+))?(?: (0x[0-9a-fA-F]+))? (\S+) (?:file:)?(.*?);?\s*$`)
)

// Parser reads MPLog files.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the MPLog parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts a head, UTF-16 or UTF-8, whose first line is an MPLog
// line; the ISO time alone is too common, so the line must also be one of
// the kinds only Defender writes, or the file must be named MPLog-*.
func (p *Parser) Match(e *jfs.Entry, head []byte) bool {
	// Both tests below need a first line starting with lineRe's time,
	// so with a digit: other heads are not decoded (FuzzMatchPrecheck).
	if !parsers.HeadStartsWithDigit(head) {
		return false
	}
	s, _ := lines.DecodeHead(head)
	first, _, _ := strings.Cut(s, "\n")
	first = strings.TrimRight(first, "\r")
	if p.MatchLine(e, []byte(first)) {
		return true
	}
	if e == nil || !strings.HasPrefix(strings.ToLower(baseName(e.Path)), "mplog-") {
		return false
	}
	m := lineRe.FindStringSubmatch(first)
	return m != nil && validTime(m[1])
}

// Requires implements parsers.Requirer: the first bytes
// HeadStartsWithDigit may be true of (a UTF-16 BOM, a UTF-8 BOM, a digit).
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.Digits.Union(parsers.BytesOf("\xff\xef"))}
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// MatchLine implements parsers.LineMatcher: a performance-impact or a
// detection line.
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	// Detection scores every sampled line of every unrecognised text file
	// with it: lineRe's fixed time shape is asked first, and a line of
	// another kind costs no run of the expression (FuzzMatchLinePrecheck).
	if !timeShaped(line) {
		return false
	}
	m := lineRe.FindSubmatch(line)
	if m == nil || !validTime(string(m[1])) {
		return false
	}
	return impactRe.Match(m[3]) || detectionRe.Match(m[3])
}

// timeShaped reports whether line starts as lineRe requires:
// 2006-01-02T15:04:05 (ASCII digits, as \d), and a space or more after.
func timeShaped(line []byte) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(line) <= len(shape) {
		return false
	}
	for i := range len(shape) {
		c := line[i]
		if shape[i] == 'd' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != shape[i] {
			return false
		}
	}
	return true
}

func validTime(s string) bool {
	_, err := parseTime(s, time.UTC)
	return err == nil
}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	return time.ParseInLocation("2006-01-02T15:04:05.9999999", s, loc)
}

// Parse implements parsers.Parser.
func (*Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	warn := func(off, num int64, err error) {
		src.WarnErr(off, num, err)
	}
	br := bufio.NewReaderSize(src.R, 64<<10)
	head, _ := br.Peek(8)
	_, isUTF16 := lines.DecodeHead(head)
	var pend *timeline.Event
	flush := func() error {
		if pend == nil {
			return nil
		}
		ev := pend
		pend = nil
		return emit(ev)
	}
	lr := lines.NewTextReader(br, isUTF16)
	err := lr.Each(ctx, func(line string, off, num int64) error {
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) == "" {
				return nil
			}
			if pend == nil {
				warn(off, num, errors.New("line without a time before any log record"))
				return nil
			}
			pend.Message += "\n" + strings.TrimRight(line, " ")
			return nil
		}
		loc := zone
		if m[2] == "Z" {
			loc = time.UTC
		}
		t, perr := parseTime(m[1], loc)
		if perr != nil {
			warn(off, num, fmt.Errorf("bad time: %w", perr))
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		ev := &timeline.Event{Timestamp: t.UTC(), TimestampDesc: TimeDesc, Message: strings.TrimSpace(m[3]),
			Event: timeline.EventMeta{Kind: "event", Dataset: "defender.mplog", Provider: "Microsoft Defender"}}
		if m[2] != "Z" {
			ev.Event.Timezone = zone.String()
			ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
		}
		parsers.At(ev, off, num)
		normalise(ev, ev.Message)
		pend = ev
		return nil
	}, warn)
	if err != nil {
		return err
	}
	return flush()
}

func normalise(ev *timeline.Event, msg string) {
	if m := impactRe.FindStringSubmatch(msg); m != nil {
		ev.Event.Action = ActionImpact
		ev.Event.Category = []string{"process", "file"}
		ev.Event.Type = []string{"info"}
		ev.Process = &timeline.Process{Name: strings.TrimSpace(m[1])}
		if pid, err := strconv.ParseInt(m[2], 10, 64); err == nil {
			ev.Process.PID = pid
		}
		if f := strings.TrimSpace(m[6]); f != "" {
			ev.File = &timeline.File{Path: f, Name: baseName(f)}
		}
		ev.Jejak.Data = map[string]string{KeyCount: m[4], KeyImpact: m[7]}
		return
	}
	if m := detectionRe.FindStringSubmatch(msg); m != nil {
		ev.Event.Action = ActionDetected
		if m[1] == "DETECTION_CLEANEVENT" {
			ev.Event.Action = ActionRemediated
		}
		ev.Event.Kind = "alert"
		ev.Event.Category = []string{"malware"}
		ev.Event.Type = []string{"info"}
		data := map[string]string{KeyThreat: m[5], KeySource: m[2]}
		if m[3] != "" {
			data[KeyAction] = m[3]
		}
		ev.Jejak.Data = data
		if f := strings.TrimSpace(m[6]); f != "" {
			ev.File = &timeline.File{Path: f, Name: baseName(f)}
		}
	}
}
