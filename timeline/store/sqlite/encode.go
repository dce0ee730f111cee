package sqlite

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/civil"
	"github.com/jejak-forensics/jejak/internal/digits"
	"github.com/jejak-forensics/jejak/timeline"
)

// appendEvent appends the ECS JSON of e to dst, byte for byte what
// json.Marshal(e) writes. encoding/json walks the struct by reflection and
// allocates the result; on the ingest path that cost as much CPU as SQLite's
// own inserts, while this appender writes into a reused buffer at several
// times the speed. The tests hold it to json.Marshal on parser output from
// the corpus, on every field of the model filled in, and under fuzzing; and
// Store falls back to json.Marshal whenever timeline.Event no longer has the
// shape this file was written for (see modelMatches).
//
// Times that RFC 3339 cannot hold (years outside 0-9999) and times not in
// UTC (events written without Finalize) go to json.Marshal too, so that its
// error or its zone offset is what the store sees.
func appendEvent(dst []byte, e *timeline.Event) ([]byte, error) {
	b, _, err := appendEventID(dst, e, e.Jejak.ID, nil)
	return b, err
}

// appendStored appends the document of e as the store keeps it: what
// appendEvent writes, without the 32 digits of the event ID (see
// stripID). They are left out as the document is written rather than cut
// out of it afterwards: finding them again from the document's end and
// moving its tail over them cost 1.2 of the 10 CPU-s appendEvent took on a
// 1 GB syslog. m, when not nil, is the writer's memo of the parts that
// repeat from event to event (see encMemo).
func appendStored(dst []byte, e *timeline.Event, m *encMemo) ([]byte, error) {
	start := len(dst)
	b, marshalled, err := appendEventID(dst, e, "", m)
	if err != nil || !marshalled {
		return b, err
	}
	// json.Marshal wrote the ID.
	doc, err := stripID(b[start:])
	return b[:start+len(doc)], err
}

// appendEventID is appendEvent writing id as the event ID, and reports
// whether it gave the event to json.Marshal, which writes e's own. m may
// be nil.
func appendEventID(dst []byte, e *timeline.Event, id string, m *encMemo) (_ []byte, marshalled bool, _ error) {
	start := len(dst)
	b := append(dst, `{"@timestamp":"`...)
	ts := len(b)
	b, ok := appendTimestamp(b, e.Timestamp)
	if !ok {
		b = e.Timestamp.AppendFormat(b, time.RFC3339Nano)
	}
	if len(b) < ts+5 || b[ts+4] != '-' || b[len(b)-1] != 'Z' {
		j, err := json.Marshal(e)
		if err != nil {
			return dst, true, err
		}
		return append(dst[:start], j...), true, nil
	}
	b = append(b, `","timestamp_desc":`...)
	b = appendString(b, e.TimestampDesc)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"event":`...)
	if m != nil && e.Event.Original == "" {
		b = append(b, m.meta.of(&e.Event)...)
	} else {
		b = appendEventMeta(b, &e.Event)
	}
	if e.Log != nil {
		b = append(b, `,"log":`...)
		b = appendLog(b, e.Log)
	}
	if e.Host != nil {
		var o object
		b = append(b, `,"host":`...)
		b = o.str(b, `"name":`, e.Host.Name)
		b = o.str(b, `"hostname":`, e.Host.Hostname)
		b = o.end(b)
	}
	if e.User != nil {
		b = append(b, `,"user":`...)
		b = appendUser(b, e.User)
	}
	if e.Source != nil {
		b = append(b, `,"source":`...)
		b = appendEndpoint(b, e.Source)
	}
	if e.Destination != nil {
		b = append(b, `,"destination":`...)
		b = appendEndpoint(b, e.Destination)
	}
	if p := e.Process; p != nil {
		var o object
		b = append(b, `,"process":`...)
		b = o.str(b, `"name":`, p.Name)
		b = o.int(b, `"pid":`, p.PID)
		b = o.str(b, `"executable":`, p.Executable)
		b = o.str(b, `"command_line":`, p.CommandLine)
		b = o.str(b, `"working_directory":`, p.WorkingDir)
		b = o.str(b, `"tty":`, p.TTY)
		b = o.end(b)
	}
	if f := e.File; f != nil {
		var o object
		b = append(b, `,"file":`...)
		b = o.str(b, `"path":`, f.Path)
		b = o.str(b, `"name":`, f.Name)
		b = o.str(b, `"inode":`, f.Inode)
		b = o.intPtr(b, `"size":`, f.Size)
		b = o.str(b, `"type":`, f.Type)
		b = o.str(b, `"target_path":`, f.TargetPath)
		b = o.end(b)
	}
	if u := e.URL; u != nil {
		var o object
		b = append(b, `,"url":`...)
		b = o.str(b, `"original":`, u.Original)
		b = o.str(b, `"path":`, u.Path)
		b = o.str(b, `"query":`, u.Query)
		b = o.str(b, `"domain":`, u.Domain)
		b = o.end(b)
	}
	if e.HTTP != nil {
		b = append(b, `,"http":`...)
		b = appendHTTP(b, e.HTTP)
	}
	if e.UserAgent != nil {
		var o object
		b = append(b, `,"user_agent":`...)
		b = o.str(b, `"original":`, e.UserAgent.Original)
		b = o.end(b)
	}
	if e.Winlog != nil {
		b = append(b, `,"winlog":`...)
		b = appendWinlog(b, e.Winlog)
	}
	if g := e.Group; g != nil {
		var o object
		b = append(b, `,"group":`...)
		b = o.str(b, `"name":`, g.Name)
		b = o.str(b, `"id":`, g.ID)
		b = o.end(b)
	}
	if r := e.Related; r != nil {
		var o object
		b = append(b, `,"related":`...)
		b = o.strs(b, `"user":`, r.User)
		b = o.strs(b, `"ip":`, r.IP)
		b = o.end(b)
	}
	b = append(b, `,"jejak":`...)
	b = appendJejak(b, &e.Jejak, id, m)
	return append(b, '}'), false, nil
}

// appendTimestamp appends t as t.AppendFormat(b, time.RFC3339Nano) writes
// it when t is in UTC and its year in 0-9999 (every event that went
// through Finalize), and reports false, b unchanged, for any other time.
// The time package writes each field of RFC 3339 through a general
// integer appender, about 500 instructions an event in an EVTX analyze;
// here the date comes from internal/civil and every field is a fixed
// number of digits.
func appendTimestamp(b []byte, t time.Time) ([]byte, bool) {
	const (
		minSec = -62167219200 // 0000-01-01T00:00:00Z
		maxSec = 253402300799 // 9999-12-31T23:59:59Z
	)
	sec := t.Unix()
	if t.Location() != time.UTC || sec < minSec || sec > maxSec {
		return b, false
	}
	year, month, day, rem := civil.Split(sec)
	hour, minute, second := rem/3600, rem/60%60, rem%60
	b = append(b, digits.Pairs[2*(year/100)], digits.Pairs[2*(year/100)+1], digits.Pairs[2*(year%100)], digits.Pairs[2*(year%100)+1], '-',
		digits.Pairs[2*month], digits.Pairs[2*month+1], '-',
		digits.Pairs[2*day], digits.Pairs[2*day+1], 'T',
		digits.Pairs[2*hour], digits.Pairs[2*hour+1], ':',
		digits.Pairs[2*minute], digits.Pairs[2*minute+1], ':',
		digits.Pairs[2*second], digits.Pairs[2*second+1])
	if ns := uint32(t.Nanosecond()); ns != 0 {
		// RFC3339Nano's fraction: up to nine digits, trailing zeros
		// dropped.
		p1, p2, p3, p4 := ns/1e7, ns/1e5%100, ns/1e3%100, ns/10%100
		frac := [10]byte{'.',
			digits.Pairs[2*p1], digits.Pairs[2*p1+1], digits.Pairs[2*p2], digits.Pairs[2*p2+1],
			digits.Pairs[2*p3], digits.Pairs[2*p3+1], digits.Pairs[2*p4], digits.Pairs[2*p4+1],
			byte('0' + ns%10)}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z'), true
}

// object writes the members of a JSON object whose fields are all
// omitempty, opening it with the first member and closing it in end.
type object struct{ open bool }

func (o *object) key(b []byte, key string) []byte {
	if o.open {
		b = append(b, ',')
	} else {
		b = append(b, '{')
		o.open = true
	}
	return append(b, key...)
}

func (o *object) end(b []byte) []byte {
	if !o.open {
		return append(b, '{', '}')
	}
	return append(b, '}')
}

// The members' writers test for an empty value where they are called
// (str, int, intPtr and strs inline) and write a member in a call: most
// of the fields an event could have are empty (a syslog document's
// process, file, url, user and log objects), and the calls that found
// them so were ~4 % of its encoding's instructions.

func (o *object) str(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return o.strMember(b, key, v)
}

//go:noinline
func (o *object) strMember(b []byte, key, v string) []byte {
	return appendString(o.key(b, key), v)
}

func (o *object) int(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return o.intMember(b, key, v)
}

//go:noinline
func (o *object) intMember(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(o.key(b, key), v, 10)
}

func (o *object) intPtr(b []byte, key string, v *int64) []byte {
	if v == nil {
		return b
	}
	return o.intMember(b, key, *v)
}

func (o *object) bool(b []byte, key string, v bool) []byte {
	if !v {
		return b
	}
	return append(o.key(b, key), "true"...)
}

func (o *object) strs(b []byte, key string, v []string) []byte {
	if len(v) == 0 {
		return b
	}
	return o.strsMember(b, key, v)
}

//go:noinline
func (o *object) strsMember(b []byte, key string, v []string) []byte {
	return appendStrings(o.key(b, key), v)
}

func appendEventMeta(b []byte, m *timeline.EventMeta) []byte {
	var o object
	b = o.str(b, `"kind":`, m.Kind)
	b = o.strs(b, `"category":`, m.Category)
	b = o.strs(b, `"type":`, m.Type)
	b = o.str(b, `"action":`, m.Action)
	b = o.str(b, `"outcome":`, m.Outcome)
	b = o.str(b, `"code":`, m.Code)
	b = o.str(b, `"dataset":`, m.Dataset)
	b = o.str(b, `"provider":`, m.Provider)
	b = o.int(b, `"severity":`, int64(m.Severity))
	b = o.str(b, `"timezone":`, m.Timezone)
	b = o.str(b, `"original":`, m.Original)
	return o.end(b)
}

func appendLog(b []byte, l *timeline.Log) []byte {
	var o object
	b = o.str(b, `"level":`, l.Level)
	b = o.str(b, `"logger":`, l.Logger)
	if s := l.Syslog; s != nil {
		var so object
		b = o.key(b, `"syslog":`)
		b = so.int(b, `"priority":`, int64(s.Priority))
		if s.Facility != nil {
			b = appendCode(so.key(b, `"facility":`), s.Facility)
		}
		if s.Severity != nil {
			b = appendCode(so.key(b, `"severity":`), s.Severity)
		}
		b = so.str(b, `"appname":`, s.Appname)
		b = so.str(b, `"hostname":`, s.Hostname)
		b = so.str(b, `"msgid":`, s.MsgID)
		b = so.str(b, `"procid":`, s.ProcID)
		b = so.str(b, `"version":`, s.Version)
		if len(s.StructuredData) > 0 {
			b = so.key(b, `"structured_data":`)
			b = append(b, '{')
			for i, k := range sortedKeys(s.StructuredData) {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, k)
				b = append(b, ':')
				b = appendStringMap(b, s.StructuredData[k])
			}
			b = append(b, '}')
		}
		b = so.end(b)
	}
	return o.end(b)
}

func appendCode(b []byte, c *timeline.Code) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	if c.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, c.Name)
	}
	return append(b, '}')
}

func appendUser(b []byte, u *timeline.User) []byte {
	var o object
	b = o.str(b, `"name":`, u.Name)
	b = o.str(b, `"domain":`, u.Domain)
	b = o.str(b, `"id":`, u.ID)
	if u.Effective != nil {
		b = appendUser(o.key(b, `"effective":`), u.Effective)
	}
	if u.Target != nil {
		b = appendUser(o.key(b, `"target":`), u.Target)
	}
	return o.end(b)
}

func appendEndpoint(b []byte, p *timeline.Endpoint) []byte {
	var o object
	b = o.str(b, `"ip":`, p.IP)
	b = o.int(b, `"port":`, int64(p.Port))
	b = o.str(b, `"domain":`, p.Domain)
	b = o.str(b, `"address":`, p.Address)
	return o.end(b)
}

func appendHTTP(b []byte, h *timeline.HTTP) []byte {
	var o object
	b = o.str(b, `"version":`, h.Version)
	if r := h.Request; r != nil {
		var ro object
		b = o.key(b, `"request":`)
		b = ro.str(b, `"method":`, r.Method)
		b = ro.str(b, `"referrer":`, r.Referrer)
		b = ro.end(b)
	}
	if r := h.Response; r != nil {
		var ro object
		b = o.key(b, `"response":`)
		b = ro.int(b, `"status_code":`, int64(r.StatusCode))
		if r.Body != nil {
			var bo object
			b = ro.key(b, `"body":`)
			b = bo.intPtr(b, `"bytes":`, r.Body.Bytes)
			b = bo.end(b)
		}
		b = ro.end(b)
	}
	return o.end(b)
}

func appendWinlog(b []byte, w *timeline.Winlog) []byte {
	var o object
	b = o.str(b, `"channel":`, w.Channel)
	b = o.int(b, `"event_id":`, int64(w.EventID))
	if w.RecordID != 0 {
		b = strconv.AppendUint(o.key(b, `"record_id":`), w.RecordID, 10)
	}
	b = o.str(b, `"computer_name":`, w.ComputerName)
	b = o.str(b, `"provider_name":`, w.ProviderName)
	if len(w.EventData) > 0 {
		b = appendStringMapIn(o.key(b, `"event_data":`), w.EventData, &eventDataOrders)
	}
	if l := w.Logon; l != nil {
		var lo object
		b = o.key(b, `"logon":`)
		b = lo.str(b, `"type":`, l.Type)
		b = lo.str(b, `"id":`, l.ID)
		b = lo.end(b)
	}
	return o.end(b)
}

// appendJejak writes j with id as its ID, through m when it is not nil.
func appendJejak(b []byte, j *timeline.Jejak, id string, m *encMemo) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	p := &j.Provenance
	if m != nil {
		b = append(b, m.headOf(p)...)
	} else {
		b = appendProvenanceHead(b, p)
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, p.Offset, 10)
	if p.Record != 0 {
		b = append(b, `,"record":`...)
		b = strconv.AppendInt(b, p.Record, 10)
	}
	if m != nil {
		b = append(b, m.tailOf(p.Parser, j.Time)...)
	} else {
		b = appendProvenanceTail(b, p.Parser, j.Time)
	}
	if len(j.Data) > 0 {
		b = append(b, `,"data":`...)
		b = appendStringMapIn(b, j.Data, &jejakDataOrders)
	}
	if len(j.Tags) > 0 {
		b = append(b, `,"tags":`...)
		b = appendStrings(b, j.Tags)
	}
	return append(b, '}')
}

// appendProvenanceHead writes the provenance up to its offset: what is
// the same for every event of one file.
func appendProvenanceHead(b []byte, p *timeline.Provenance) []byte {
	b = append(b, `,"provenance":{"evidence_sha256":`...)
	b = appendString(b, p.EvidenceSHA256)
	b = append(b, `,"evidence_name":`...)
	b = appendString(b, p.EvidenceName)
	b = append(b, `,"chain":`...)
	if p.Chain == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, p.Chain)
	}
	b = append(b, `,"path":`...)
	b = appendString(b, p.Path)
	if p.Identity != "" {
		b = append(b, `,"identity":`...)
		b = appendString(b, p.Identity)
	}
	return b
}

// appendProvenanceTail writes the provenance from its parser on, closing
// it, and the time note t.
func appendProvenanceTail(b []byte, parser string, t *timeline.TimeNote) []byte {
	b = append(b, `,"parser":`...)
	b = appendString(b, parser)
	b = append(b, '}')
	if t != nil {
		var o object
		b = append(b, `,"time":`...)
		b = o.str(b, `"zone_assumed":`, t.ZoneAssumed)
		b = o.bool(b, `"year_inferred":`, t.YearInferred)
		b = o.str(b, `"year_basis":`, t.YearBasis)
		b = o.bool(b, `"out_of_range":`, t.OutOfRange)
		b = o.end(b)
	}
	return b
}

// encMemo keeps the JSON of the provenance's head and tail (see
// appendProvenanceHead, appendProvenanceTail) for the values they were
// last written for. The events of one file come in runs, and their
// provenance differs only in offset and record: a text log's head
// (digest, name, chain, path) and tail (parser, the year's basis, the
// zone) are about 400 of the ~1,000 bytes of each syslog document.
// Comparing the fields with the last event's is cheaper than escaping
// them again; the bytes written are appendProvenanceHead's and
// appendProvenanceTail's by construction.
//
// The memo keeps its own copies of the strings it compares with: an
// event's strings may live in memory its parser reuses once the event is
// written. One writer goroutine each; the zero value is ready.
type encMemo struct {
	head    timeline.Provenance // the fields appendProvenanceHead writes
	headOK  bool
	headJS  []byte
	parser  string
	time    timeline.TimeNote
	hasTime bool
	tailOK  bool
	tailJS  []byte
	meta    metaMemo
}

// metaMemo keeps appendEventMeta's bytes for the event objects it wrote
// last, for events whose event.original is empty, one per slot. An
// event's object takes the slot its action, code, outcome and severity
// pick (metaSlotOf); the events of a file have few distinct ones (every
// $MFT event the same; an EVTX log's one per event ID, 33 in the
// corpus's security.evtx; the bench syslog's six in 500k lines), so a
// slot is mostly a hit (misses: 10 of 499,790 syslog events, 3,984 of
// 90,520 EVTX, 68 of 89,987 $MFT): five to seven strings escaped, about
// 300 instructions an event, against one comparison.
//
// A slot's strings are its own: copies laid end to end in its arena,
// which is overwritten only when all of them are replaced (the strings
// that pointed into it are then never compared again).
type metaMemo [1 << metaSlotBits]metaSlot

const metaSlotBits = 6

type metaSlot struct {
	ok       bool
	m        timeline.EventMeta
	cat, typ []string // m.Category and m.Type's storage
	arena    []byte
	js       []byte
}

// metaEqual reports whether a and b write the same event object: every
// field of timeline.EventMeta (TestMetaMemoFields), the two lists by
// their members (nil and empty both write nothing).
func metaEqual(a, b *timeline.EventMeta) bool {
	return a.Action == b.Action && a.Kind == b.Kind && a.Dataset == b.Dataset &&
		a.Outcome == b.Outcome && a.Code == b.Code && a.Provider == b.Provider &&
		a.Severity == b.Severity && a.Timezone == b.Timezone && a.Original == b.Original &&
		slices.Equal(a.Category, b.Category) && slices.Equal(a.Type, b.Type)
}

// metaSlotOf picks e's slot by its action, code, outcome and severity.
func metaSlotOf(e *timeline.EventMeta) uint {
	a := e.Action
	h := uint64(len(a)) ^ uint64(e.Severity)<<8
	if len(a) >= 8 {
		h ^= load64(a, 0) ^ bits.RotateLeft64(load64(a, len(a)-8), 29)
	} else {
		h ^= prefix(a)
	}
	h ^= bits.RotateLeft64(prefix(e.Code), 17)
	if o := e.Outcome; o != "" {
		h ^= uint64(o[0]) << 40
	}
	return uint((h * 0x9e3779b97f4a7c15) >> (64 - metaSlotBits))
}

// of returns appendEventMeta's bytes for e.
func (mm *metaMemo) of(e *timeline.EventMeta) []byte {
	sl := &mm[metaSlotOf(e)]
	if sl.ok && metaEqual(e, &sl.m) {
		return sl.js
	}
	sl.js = appendEventMeta(sl.js[:0], e)
	sl.arena = sl.arena[:0]
	own := func(s string) string {
		if s == "" {
			return ""
		}
		at := len(sl.arena)
		sl.arena = append(sl.arena, s...)
		return unsafe.String(&sl.arena[at], len(s))
	}
	sl.cat, sl.typ = sl.cat[:0], sl.typ[:0]
	for _, c := range e.Category {
		sl.cat = append(sl.cat, own(c))
	}
	for _, t := range e.Type {
		sl.typ = append(sl.typ, own(t))
	}
	sl.m = timeline.EventMeta{
		Kind: own(e.Kind), Category: sl.cat, Type: sl.typ, Action: own(e.Action),
		Outcome: own(e.Outcome), Code: own(e.Code), Dataset: own(e.Dataset),
		Provider: own(e.Provider), Severity: e.Severity, Timezone: own(e.Timezone),
		Original: own(e.Original),
	}
	sl.ok = true
	return sl.js
}

// headOf returns appendProvenanceHead's bytes for p.
func (m *encMemo) headOf(p *timeline.Provenance) []byte {
	h := &m.head
	if m.headOK && p.EvidenceSHA256 == h.EvidenceSHA256 && p.Path == h.Path &&
		p.EvidenceName == h.EvidenceName && p.Identity == h.Identity &&
		(p.Chain == nil) == (h.Chain == nil) && slices.Equal(p.Chain, h.Chain) {
		return m.headJS
	}
	m.headJS = appendProvenanceHead(m.headJS[:0], p)
	h.EvidenceSHA256 = strings.Clone(p.EvidenceSHA256)
	h.EvidenceName = strings.Clone(p.EvidenceName)
	h.Path = strings.Clone(p.Path)
	h.Identity = strings.Clone(p.Identity)
	if p.Chain == nil {
		h.Chain = nil
	} else {
		// Never nil, even empty: nil is the key of a nil chain ("null").
		h.Chain = make([]string, 0, len(p.Chain))
		for _, c := range p.Chain {
			h.Chain = append(h.Chain, strings.Clone(c))
		}
	}
	m.headOK = true
	return m.headJS
}

// tailOf returns appendProvenanceTail's bytes for parser and t.
func (m *encMemo) tailOf(parser string, t *timeline.TimeNote) []byte {
	if m.tailOK && parser == m.parser && (t != nil) == m.hasTime && (t == nil || *t == m.time) {
		return m.tailJS
	}
	m.tailJS = appendProvenanceTail(m.tailJS[:0], parser, t)
	m.parser = strings.Clone(parser)
	m.hasTime = t != nil
	m.time = timeline.TimeNote{}
	if t != nil {
		m.time = *t
		m.time.ZoneAssumed = strings.Clone(t.ZoneAssumed)
		m.time.YearBasis = strings.Clone(t.YearBasis)
	}
	m.tailOK = true
	return m.tailJS
}

func appendStrings(b []byte, v []string) []byte {
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendStringMap writes a map as encoding/json does: keys sorted, and a nil
// map as null. The pairs are gathered once (no second lookup per key) into
// a stack array and sorted there: an EVTX event's two maps (jejak.data and
// winlog.event_data, 10 to 30 keys) were a sorted key slice allocated and
// a map lookup per key for each.
func appendStringMap(b []byte, m map[string]string) []byte {
	return appendStringMapIn(b, m, nil)
}

// appendStringMapIn is appendStringMap that first tries the key order of
// the last map of m's size written with orders (nil: none), and leaves
// the order of m there when that fails. A parser's maps repeat their key
// set event after event (an EVTX log's jejak.data: the same 9 keys in
// every record; its event_data: one set per event ID); a lookup per key
// of the remembered order is a quarter of the cost of walking the map and
// sorting what the walk gives (BenchmarkStringMap).
//
// The remembered order is used only when m has as many keys and holds
// each of them, which makes them exactly m's keys (they are distinct),
// so the output never depends on the cache; the values are always m's.
func appendStringMapIn(b []byte, m map[string]string, orders *keyOrders) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	if len(m) == 1 {
		// Nothing to sort (a syslog event's jejak.data, one key): the
		// walk below would zero its 32 pairs for it.
		b = append(b, '{')
		for k, v := range m {
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v)
		}
		return append(b, '}')
	}
	var slot *keyOrderSlot
	if orders != nil && len(m) > 1 && len(m) <= len(orders) {
		slot = &orders[len(m)-1]
		if ko := slot.order.Load(); ko != nil {
			if out, ok := ko.append(b, m); ok {
				return out
			}
		}
	}
	var stack [32]pair
	ps := stack[:0]
	for k, v := range m {
		ps = append(ps, pair{prefix(k), k, v})
	}
	sortPairs(ps)
	if slot != nil && slot.misses.Add(1)%keyOrderPatience == 1 {
		// Not on every miss: maps of one size but many key sets (a
		// log whose lines vary) would allocate a new order for each
		// map, where every keyOrderPatience-th keeps that cost small
		// and a new steady set still takes the slot within a few maps.
		slot.order.Store(newKeyOrder(ps))
	}
	b = append(b, '{')
	for i := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, ps[i].k)
		b = append(b, ':')
		b = appendString(b, ps[i].v)
	}
	return append(b, '}')
}

// keyOrder is the sorted keys of a map, each with the JSON that leads
// its value in the output ('{' or ',', the quoted key, ':'), so that a
// map written in this order escapes only its values.
//
// Its keys are its own copies, never the map's strings: an order
// outlives the event it was taken from, and a parser may build its keys
// in memory it reuses for the next record (an unsafe.String over a read
// buffer); a key changed under an order would make a lookup of the old
// key find the new one and write the wrong name.
type keyOrder struct {
	keys  []string
	heads []string
}

func newKeyOrder(ps []pair) *keyOrder {
	ko := &keyOrder{keys: make([]string, len(ps)), heads: make([]string, len(ps))}
	var b []byte
	for i := range ps {
		k := ps[i].k
		b = append(b[:0], ',')
		if i == 0 {
			b[0] = '{'
		}
		b = appendString(b, k)
		b = append(b, ':')
		h := string(b)
		ko.heads[i] = h
		// A key that needed no escape is in its head, between the
		// quotes: the copy costs nothing more.
		if q := h[2 : len(h)-2]; q == k {
			ko.keys[i] = q
		} else {
			ko.keys[i] = strings.Clone(k)
		}
	}
	return ko
}

// append writes m with its keys in ko's order and reports false (b
// unchanged) when ko's keys are not m's. Every key is looked up before
// anything is written, so a miss leaves no output to undo.
func (ko *keyOrder) append(b []byte, m map[string]string) ([]byte, bool) {
	if len(ko.keys) != len(m) {
		return b, false
	}
	var stack [len(keyOrders{})]string
	vals := stack[:len(ko.keys)]
	for i, k := range ko.keys {
		v, ok := m[k]
		if !ok {
			return b, false
		}
		vals[i] = v
	}
	for i, h := range ko.heads[:len(vals)] {
		b = append(b, h...)
		b = appendString(b, vals[i])
	}
	return append(b, '}'), true
}

// keyOrders remembers, per map size (2 to 32 keys), the sorted keys of a
// recent map of that size. Each role (jejak.data, winlog.event_data) has
// its own, so that the maps of one do not evict the other's. The slots are
// shared by the store's encoding goroutines: each holds an immutable
// slice swapped whole, so they need no lock, and a lost race only costs a
// miss.
type keyOrders [32]keyOrderSlot

type keyOrderSlot struct {
	order  atomic.Pointer[keyOrder]
	misses atomic.Uint32
}

// keyOrderPatience: a slot takes a new order on one miss in this many.
const keyOrderPatience = 4

var jejakDataOrders, eventDataOrders keyOrders

// pair is a map entry with the first 8 bytes of its key as a big-endian
// number, so that most comparisons while sorting are one integer compare.
type pair struct {
	pre  uint64
	k, v string
}

// prefix is the first 8 bytes of s, big-endian, zero-padded: prefix(a) <
// prefix(b) implies a < b, and equal prefixes leave the order to the
// whole strings.
func prefix(s string) uint64 {
	if len(s) >= 8 {
		_ = s[7]
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var p uint64
	for i := 0; i < len(s); i++ {
		p |= uint64(s[i]) << (56 - 8*i)
	}
	return p
}

func (p *pair) less(q *pair) bool {
	if p.pre != q.pre {
		return p.pre < q.pre
	}
	return p.k < q.k
}

// sortPairs sorts by key: by insertion for the few keys events have, where
// it beats the general sort, else with slices.SortFunc.
func sortPairs(ps []pair) {
	if len(ps) > 32 {
		slices.SortFunc(ps, func(a, b pair) int {
			if a.pre != b.pre {
				return cmp.Compare(a.pre, b.pre)
			}
			return strings.Compare(a.k, b.k)
		})
		return
	}
	for i := 1; i < len(ps); i++ {
		x := ps[i]
		j := i
		for j > 0 && x.less(&ps[j-1]) {
			ps[j] = ps[j-1]
			j--
		}
		ps[j] = x
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plain marks the ASCII bytes encoding/json writes as they are; it escapes
// the others, including <, > and & (its default HTML-safe output).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// Word-at-a-time tests on 8 bytes (the classic "has a zero byte" trick):
// each is non-zero exactly when some byte of w matches.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// needsEscape reports (non-zero) whether any of the 8 bytes of w is one
// appendString does not copy as it is: a control (< 0x20), a non-ASCII
// byte, or one of " \ < > &. " and & differ only in bit 2 (0x22, 0x26),
// < and > only in bit 1 (0x3c, 0x3e), so one test covers each pair.
//
// Each test subtracts without masking out the bytes whose high bit was set
// before (the classic hasZero's &^w): such a byte is non-ASCII, which the
// first term reports anyway, and a borrow that crosses into the next byte
// comes from a byte that matched, so the result is non-zero exactly when
// some byte needs an escape (TestNeedsEscape). Five fewer instructions
// per word than with hasZero.
func needsEscape(w uint64) uint64 {
	return (w |
		(w - 0x20*ones) |
		(w ^ 0x5c*ones - ones) |
		((w | 0x04*ones) ^ 0x26*ones - ones) |
		((w | 0x02*ones) ^ 0x3e*ones - ones)) & highs
}

// load64 reads s[i:i+8] little-endian (the compiler makes it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendString quotes s with encoding/json's escapes: short forms for
// \b \f \n \r \t, \u00XX for other controls and <>&, \ufffd for each
// invalid UTF-8 byte, and \u2028, \u2029.
//
// Nearly every string of an event needs no escape, and most are short
// (an EVTX event's values: "0", "-", "0x3e7", a SID). s is checked 8
// bytes at a time, its last partial word too: a string of 8 bytes or
// more as one more word that overlaps the one before, a shorter one
// after it is copied, where it landed in b (when b has room), with the
// bytes after it masked off. The byte-at-a-time loop that checked the
// tails of strings was a third of appendString's instructions on EVTX
// events. A string of 16 bytes or more is checked by firstEscape (SSE2 on
// amd64, 16 bytes at a time). A string that needs an escape is written by
// appendEscaped, from its first word (or byte) that does.
func appendString(b []byte, s string) []byte {
	n := len(s)
	if n >= 16 {
		if i := firstEscape(s); i < n {
			return appendEscapedMemo(b, s, i)
		}
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	if n >= 8 {
		i := 0
		for ; i+8 < n; i += 8 {
			if needsEscape(load64(s, i)) != 0 {
				return appendEscaped(b, s, i)
			}
		}
		// i >= n-8: the last word covers s[i:].
		if needsEscape(load64(s, n-8)) != 0 {
			return appendEscaped(b, s, i)
		}
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	if n+2+8 <= cap(b)-len(b) {
		at := len(b) + 1
		b = append(b, '"')
		b = append(b, s...)
		// b has 8 bytes of room after s: one word holds s and what
		// follows it in b's spare capacity, replaced by plain bytes.
		keep := uint64(1)<<(8*n) - 1 // n < 8
		w := binary.LittleEndian.Uint64(b[at:at+8])&keep | 'a'*ones&^keep
		if needsEscape(w) == 0 {
			return append(b, '"')
		}
		b = b[:at-1]
	}
	return appendEscaped(b, s, 0)
}

// escMemo remembers the JSON of strings of 16 bytes or more that needed
// escaping, and appendEscapedMemo copies it when the same string comes
// again. Such strings repeat: in an EVTX log, a 4672 event's privilege
// list (274 bytes, 30 escapes, the same in every such event), the
// executable paths, the messages of events with the same values; in the
// corpus's security.evtx, 72 % of the strings that need an escape are
// one seen before in the same file. Escaping one costs a copy and a
// branch per escape (~1,000 instructions a string there); a hit is a
// comparison and one copy.
//
// A slot takes a string on the second time its fingerprint (length and
// three words of it) is seen there, so that strings that never repeat
// (most messages) do not allocate. An entry is immutable, its string an
// own copy (never the caller's memory, which a parser may reuse), and is
// used only when that copy equals s byte for byte: the output is
// appendEscaped's whatever the table holds. The slots are shared by the
// store's encoding goroutines, swapped whole (a lost race costs a miss).
var escMemo struct {
	ent  [escSlots]atomic.Pointer[escEntry]
	seen [escSlots]atomic.Uint64
}

const (
	escSlotBits = 9
	escSlots    = 1 << escSlotBits
	// escMemoMax: longer strings are escaped every time (an entry holds
	// the string twice).
	escMemoMax = 1024
)

type escEntry struct {
	s   string // an own copy
	out []byte // appendEscaped(nil, s, 0)
}

// appendEscapedMemo is appendEscaped(b, s, from) for len(s) >= 16.
func appendEscapedMemo(b []byte, s string, from int) []byte {
	n := len(s)
	if n > escMemoMax {
		return appendEscaped(b, s, from)
	}
	fp := (load64(s, 0) ^ bits.RotateLeft64(load64(s, n-8), 21) ^
		bits.RotateLeft64(load64(s, n/2-4), 42) ^ uint64(n)) * 0x9e3779b97f4a7c15
	slot := fp >> (64 - escSlotBits)
	if e := escMemo.ent[slot].Load(); e != nil && e.s == s {
		return append(b, e.out...)
	}
	start := len(b)
	b = appendEscaped(b, s, from)
	fp |= 1 // never the zero of an empty slot
	if seen := &escMemo.seen[slot]; seen.Load() != fp {
		seen.Store(fp)
	} else {
		escMemo.ent[slot].Store(&escEntry{s: strings.Clone(s), out: slices.Clone(b[start:])})
	}
	return b
}

// appendEscaped is appendString for s whose bytes before from need no
// escape. It goes from one byte that needs an escape to the next 8 bytes
// at a time: the lowest byte needsEscape marks in a word is the first
// that needs one (a borrow only ever carries upwards, out of a byte that
// matched), and the last partial word of a string of 8 bytes or more is
// read as the word that ends the string, its bytes already done shifted
// out. Windows paths and privilege lists (a backslash or a line break
// every few bytes) were looked at byte by byte from each escape to the
// next word boundary.
func appendEscaped(b []byte, s string, from int) []byte {
	b = append(b, '"')
	start := 0
	n := len(s)
	for i := from; i < n; {
		var m uint64
		switch c := s[i]; {
		case c < utf8.RuneSelf && !plain[c]:
			// An escape right after the one before (a message's
			// "\r\n\t\t"): this byte, without reading a word.
			m = 1 << 7
		case i+8 <= n:
			m = needsEscape(load64(s, i))
		case n >= 8:
			m = needsEscape(load64(s, n-8)) >> (8 * (i - (n - 8)))
		default:
			m = highs // a short string: byte by byte
		}
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if i >= n {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			if start < i {
				b = append(b, s[start:i]...)
			}
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// modelFingerprint is the SHA-256 of describeModel for the timeline.Event
// appendEvent was written for. When the model changes, the store falls back
// to encoding/json (correct, slower) and TestEncoderKnowsTheModel fails
// until appendEvent and this value are brought up to date.
const modelFingerprint = "31bc8b7bca21387f58580cc1a4455e921ef8980bd8ca10aef9cde0c7f1327097"

// modelMatches reports whether timeline.Event still has the shape
// appendEvent writes.
var modelMatches = sync.OnceValue(func() bool {
	sum := sha256.Sum256([]byte(describeModel()))
	return hex.EncodeToString(sum[:]) == modelFingerprint
})

// describeModel lists every type reachable from timeline.Event with its
// fields' names, types and JSON tags, one line per field.
func describeModel() string {
	var b strings.Builder
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || t == reflect.TypeFor[time.Time]() {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(&b, "%s.%s %s %q\n", t.Name(), f.Name, f.Type, f.Tag.Get("json"))
		}
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeFor[timeline.Event]())
	return b.String()
}
