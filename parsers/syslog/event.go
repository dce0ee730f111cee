package syslog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// timestampDesc is what plaso's timeliner calls a syslog line's
// last_written_time.
const timestampDesc = "Content Modification Time"

// block holds an event and every sub-struct most records point to, so
// building an event is one allocation instead of up to ten. The pointers in
// ev point into the same block, which lives as long as any of them. What
// few records have is not in it, as every block is zeroed whether used or
// not (the allocator's zeroing of blocks was a fifth of the parser's CPU):
// sudo's and su's effective user and the account tools' group are
// allocated when a line names them (rare), and a priority's facility and
// severity point into codes, shared by every event.
type block struct {
	ev   timeline.Event
	log  timeline.Log
	sl   timeline.Syslog
	host timeline.Host
	proc timeline.Process
	user timeline.User
	src  timeline.Endpoint
	tn   timeline.TimeNote
	// related.user and related.ip as Finalize derives them (see related):
	// a user and an effective user, a source IP.
	rel     timeline.Related
	relUser [2]string
	relIP   [1]string
	// spare is the jejak.data map of the block's last record, emptied when
	// the next record has data (block.data): most sshd records have data,
	// and a map is two allocations.
	spare map[string]string
}

// reset readies a recycled block for its next record: zeroed, but for its
// data map, kept as it is: data empties it if the next record has data
// (clearing a map whose memory has gone cold was 40% of reset's time).
func reset(blk *block) {
	m := blk.spare
	*blk = block{}
	blk.spare = m
}

// facilityCodes and severityCodes are log.syslog.facility and .severity
// for every priority (0 to 191: parseLine refuses more, Record makes no
// more), which events share: nothing changes an event's codes once made.
var facilityCodes, severityCodes = func() (f [24]timeline.Code, s [8]timeline.Code) {
	for i := range f {
		f[i] = timeline.Code{Code: i, Name: facilityNames[i]}
	}
	for i := range s {
		s[i] = timeline.Code{Code: i, Name: severityNames[i]}
	}
	return f, s
}()

// builder turns parsed headers into events; it carries the per-file state
// (year inference, zone name) across records.
type builder struct {
	zone     *time.Location
	zoneName string
	years    *yearGuess
	blocks   slab.Source[block]
}

// blockPool is where every file's builder takes its blocks from, and where
// Parser.Recycle gives them back once the ingest has stored their events:
// a steady ingest then reuses the same few thousand blocks (the live
// batches') instead of allocating and zeroing 1 KiB per line, and the
// collector has next to nothing to do.
var blockPool = slab.NewPoolReset(slabBlocks, reset)

// slabBlocks is how many blocks are allocated at once, when none comes
// back to be reused (no Recycle: tests, jejak watch, or an ingest's first
// batches). A block is 1056 bytes, so the Go allocator fits only 7 in a
// span and fetched a new span for every 7 lines (a fifth of the parser's
// CPU on auth.log). 30 blocks with their pool's chunk pointers are 31,920
// bytes, the most that stays in the allocator's largest small size class
// (32 KiB): more went to the large-object path, with 8% more bytes for the
// same CPU (TestSlabFitsSizeClass). The cost: an event kept alive keeps
// its 29 neighbours' memory too, which ingest's batches (stored, then
// dropped or recycled) never notice.
const slabBlocks = 30

// Every event Parse emits is the first field of its block: Recycle finds
// the block from the event (a compile-time check that the offset is 0).
var _ = [1]struct{}{}[unsafe.Offsetof(block{}.ev)]

// Recycle implements timeline.Recycler: ev, which Parse emitted, is
// stored, and its block is reused for a later record of any file. Only
// events Parse emitted may be given (Record's are not from the pool).
func (*Parser) Recycle(ev *timeline.Event) {
	blockPool.Release((*block)(unsafe.Pointer(ev)))
}

func (b *builder) event(h *header, off, rec int64) *timeline.Event {
	blk := b.blocks.New()
	ev := &blk.ev
	ev.Message = h.message
	ev.TimestampDesc = timestampDesc
	ev.Event.Kind = "event"
	ev.Event.Dataset = "syslog"
	parsers.At(ev, off, rec)

	switch {
	case h.ts.hasZone:
		ev.Timestamp = time.Date(h.ts.year, time.Month(h.ts.month), h.ts.day, h.ts.hour, h.ts.min, h.ts.sec, h.ts.nsec, time.UTC).
			Add(-time.Duration(h.ts.zoneOff) * time.Second)
	case h.ts.hasYear:
		ev.Timestamp = time.Date(h.ts.year, time.Month(h.ts.month), h.ts.day, h.ts.hour, h.ts.min, h.ts.sec, h.ts.nsec, b.zone).UTC()
		blk.tn.ZoneAssumed = b.zoneName
		ev.Event.Timezone = b.zoneName
		ev.Jejak.Time = &blk.tn
	default:
		t, basis := b.years.place(&h.ts)
		ev.Timestamp = t.UTC()
		// Field by field: the block is fresh, so the rest is zero, and a
		// whole-struct store goes through the runtime's bulk write
		// barrier while a collection runs (most of a syslog ingest).
		blk.tn.ZoneAssumed, blk.tn.YearInferred, blk.tn.YearBasis = b.zoneName, true, basis
		ev.Event.Timezone = b.zoneName
		ev.Jejak.Time = &blk.tn
	}

	if h.layout == layoutComment {
		if n, ok := repeatCount(h.body, "last message repeated "); ok {
			ev.Jejak.Data = map[string]string{"repeat_count": n}
		}
		if h.host != "" {
			blk.host.Name = h.host
			ev.Host = &blk.host
		}
		return ev
	}

	fill(blk, h)
	return ev
}

// fill sets what a record's header and body say beyond its time: log.syslog,
// log.level, host, process, the message shape and the normalised audit
// fields. Record shares it, so journal entries read like syslog lines.
func fill(blk *block, h *header) {
	ev := &blk.ev
	ev.Log = &blk.log
	ev.Log.Syslog = &blk.sl
	sl := &blk.sl
	sl.Hostname = h.host
	sl.Appname = h.tag
	sl.ProcID = h.pid
	sl.MsgID = h.msgid
	sl.Version = h.version
	if h.pri >= 0 {
		sl.Priority = h.pri
		if f := h.pri >> 3; f < len(facilityCodes) {
			sl.Facility = &facilityCodes[f]
		} else {
			sl.Facility = &timeline.Code{Code: f, Name: facilityName(f)}
		}
		sl.Severity = &severityCodes[h.pri&7]
		ev.Log.Level = severityNames[h.pri&7]
		ev.Event.Severity = h.pri & 7
	}
	if h.severity != "" {
		ev.Log.Level = levelName(h.severity)
	}
	if h.sd != "" {
		sl.StructuredData = parseSD(h.sd)
	}
	if h.host != "" {
		blk.host.Name = h.host
		ev.Host = &blk.host
	}
	if h.tag != "" {
		blk.proc.Name = h.tag
		if i := strings.LastIndexByte(h.tag, '/'); i >= 0 && i < len(h.tag)-1 {
			blk.proc.Executable = h.tag
			blk.proc.Name = h.tag[i+1:]
		}
		if pid, ok := parsePID(h.pid); ok {
			blk.proc.PID = pid
		}
		ev.Process = &blk.proc
	}
	if h.layout == layout5424 {
		// The 5424 header splits what 3164 writes as "tag[pid]: msg"; the
		// message is rebuilt that way so both read alike on a timeline.
		ev.Message = tagged(h)
	}
	if ev.Message == "" {
		// An RFC 5424 record may carry no MSG and no APP-NAME; the row
		// still needs a message, and this one says what was found.
		ev.Message = "(no message)"
	}
	normalise(blk, blk.proc.Name, h.body)
	related(blk)
}

// related sets related.user and related.ip as timeline.Event.Finalize
// derives them once the event is emitted (the user's, effective user's and
// target user's names, then the source and destination IPs, each once, in
// that order), in the block's own storage. Finalize then finds every name
// already there and adds nothing, where it allocated the struct and two
// slices for nearly every syslog event (Finalize went from 3.45 to 2.71
// CPU-s in the 1 GB bench analyze). Nothing changes user or source after
// fill; should a name be missing, Finalize adds it as ever.
// TestRelatedAsFinalize holds the two alike on the corpus.
func related(blk *block) {
	ev := &blk.ev
	users, ips := ev.RelatedNames(blk.relUser[:0], blk.relIP[:0])
	if len(users) == 0 && len(ips) == 0 {
		return
	}
	// Finalize leaves a list it has nothing for nil.
	if len(users) > 0 {
		blk.rel.User = users
	}
	if len(ips) > 0 {
		blk.rel.IP = ips
	}
	ev.Related = &blk.rel
}

// zoneByAbbr places a wall time written with a zone abbreviation
// (journalctl -o short-full): the case zone must use that abbreviation at
// that time, on either side of a daylight-saving change, which also settles
// the repeated hour. Otherwise the abbreviation names another zone, and the
// record is reported rather than placed by a guess.
func (b *builder) zoneByAbbr(st *stamp) error {
	t := time.Date(st.year, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, b.zone)
	for _, probe := range [...]time.Time{t, t.Add(-3 * time.Hour), t.Add(3 * time.Hour)} {
		if name, off := probe.Zone(); name == st.zoneAbbr {
			st.hasZone, st.zoneOff = true, off
			return nil
		}
	}
	return fmt.Errorf("zone abbreviation %q is not one the case zone %s uses at that time: the record is not placed (give the --tz that writes %q)",
		st.zoneAbbr, b.zoneName, st.zoneAbbr)
}

// parsePID is strconv.ParseInt(s, 10, 64) for a tag's pid: most are a
// few digits, read here without the general parser, and the many tags
// without one (sudo, su) cost no error value (TestParsePID, FuzzParsePID).
func parsePID(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || i == 18 {
			// A sign, a blank, or more digits than surely fit.
			n, err := strconv.ParseInt(s, 10, 64)
			return n, err == nil
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func tagged(h *header) string {
	switch {
	case h.tag == "":
		return h.body
	case h.pid == "":
		return h.tag + ": " + h.body
	}
	return h.tag + "[" + h.pid + "]: " + h.body
}

// setData adds one jejak.data entry to an event.
func setData(ev *timeline.Event, k, v string) {
	if ev.Jejak.Data == nil {
		ev.Jejak.Data = make(map[string]string, 2)
	}
	ev.Jejak.Data[k] = v
}

// repeatCount reads the N of "<prefix>N times" (or "1 time", as macOS
// syslogd writes it).
func repeatCount(body, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(body, prefix)
	if !ok {
		return "", false
	}
	n, _, ok := strings.Cut(rest, " time")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return "", false
	}
	return n, true
}

// levelName writes a severity word (ChromeOS's "ERR", ASL's "<Error>") as
// the syslog severity name, so one level reads alike from every source.
func levelName(w string) string {
	switch l := strings.ToLower(w); l {
	case "emergency", "panic":
		return "emerg"
	case "critical":
		return "crit"
	case "error":
		return "err"
	case "warn":
		return "warning"
	default:
		return l
	}
}

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

var facilityNames = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func facilityName(f int) string {
	if f < len(facilityNames) {
		return facilityNames[f]
	}
	return ""
}
