package evtx

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// TimestampDesc follows plaso: its windows:evtx:record event data maps
// creation_time (System/TimeCreated/@SystemTime) to "Creation Time" and the
// record header's written_time to "Content Modification Time"
// (plaso/data/timeliner.yaml). One event per record, on the creation time;
// the written time is kept in jejak.data.
const TimestampDesc = "Creation Time"

// TagRecovered is the jejak.tags entry of a record found outside every live
// record chain (chunk slack, a chunk without a valid header, a chunk past
// the file header's chunk count); jejak.data.recovered_from says which.
const TagRecovered = "recovered"

// EventData flattens EventData (named Data elements; unnamed ones become
// Data1..n in order; Binary as "Binary") or, failing that, UserData (every
// leaf element under it by name) into one map.
func EventData(ev *Element) map[string]string {
	m, _ := eventData(ev, nil, nil)
	return m
}

// kv is one name and value of EventData, in document order.
type kv struct{ k, v string }

// eventData is EventData that also returns its members as a list (built
// in scratch), which the message reads instead of walking the map; it
// fills out, which must be empty (a recycled block's map), or a new map
// when out is nil. The
// names are gathered first and the map is filled in one pass without
// checking each name: a repeated name, which setUnique must suffix, shows
// as a map shorter than the list, and only then is the map refilled with
// setUnique (and the list re-read from it).
func eventData(ev *Element, out map[string]string, scratch []kv) (map[string]string, []kv) {
	ps := scratch[:0]
	if ed := ev.Child("EventData"); ed != nil {
		unnamed := 0
		for k := ed.first; k != nil; k = k.next {
			name := k.Attr("Name")
			if name == "" {
				if k.Name != "Data" {
					name = k.Name
				} else {
					unnamed++
					name = "Data" + strconv.Itoa(unnamed)
				}
			}
			ps = append(ps, kv{name, k.Text})
		}
	}
	if ud := ev.Child("UserData"); ud != nil {
		for k := ud.first; k != nil; k = k.next {
			ps = flattenLeaves(k, ps)
		}
	}
	// A recovered record that lost its data template keeps the values as
	// unnamed Data elements, and one that lost names has elements named
	// by the lost name's offset; both sit right under Event, where a live
	// record never has them (see expander.orphan, decoder.name). They
	// are numbered after every member so far (setUnique keeps each one).
	unnamed := len(ps)
	for k := ev.firstKid(); k != nil; k = k.next {
		switch {
		case k.Name == "Data":
			unnamed++
			ps = append(ps, kv{"Data" + strconv.Itoa(unnamed), k.Text})
		case strings.HasPrefix(k.Name, unresolvedName):
			ps = flattenLeaves(k, ps)
		}
	}
	if out == nil {
		out = make(map[string]string, len(ps))
	}
	for _, p := range ps {
		out[p.k] = p.v
	}
	if len(out) == len(ps) {
		return out, ps
	}
	clear(out)
	for _, p := range ps {
		setUnique(out, p.k, p.v)
	}
	ps = ps[:0]
	for k, v := range out {
		ps = append(ps, kv{k, v})
	}
	return out, ps
}

func flattenLeaves(e *Element, ps []kv) []kv {
	if e.first == nil {
		return append(ps, kv{e.Name, e.Text})
	}
	for k := e.first; k != nil; k = k.next {
		ps = flattenLeaves(k, ps)
	}
	return ps
}

func (e *Element) firstKid() *Element {
	if e == nil {
		return nil
	}
	return e.first
}

// setUnique keeps every value: a repeated name gets a numeric suffix.
func setUnique(m map[string]string, k, v string) {
	if _, dup := m[k]; !dup {
		m[k] = v
		return
	}
	for i := 2; ; i++ {
		kk := k + "_" + strconv.Itoa(i)
		if _, dup := m[kk]; !dup {
			m[kk] = v
			return
		}
	}
}

// parseSystemTime reads "2016-07-08T18:12:51.6816408Z" (any fraction
// length) without the general-purpose layout machinery of time.Parse.
func parseSystemTime(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	ns := 0
	i := 19
	if i < len(s) && s[i] == '.' {
		i++
		scale := 100000000
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			ns += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	if i >= len(s) || s[i] != 'Z' {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), true
		}
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
}

// createdTime is parseSystemTime(created), but straight from the FILETIME
// the text was rendered from when created is the record's first FILETIME
// text (Record.fts, the same string, not only the same bytes) in the
// canonical form appendTime gives years 1601-9999 (28 bytes): that text
// parses back to exactly filetime(r.ft). fromFT says the shortcut was
// taken, and so that created is appendTime(t, 7).
func createdTime(r *Record, created string) (t time.Time, ok, fromFT bool) {
	if len(created) == 28 && len(r.fts) == 28 && unsafe.StringData(created) == unsafe.StringData(r.fts) {
		if t, ok := filetime(r.ft); ok {
			return t, true, true
		}
	}
	t, ok = parseSystemTime(created)
	return t, ok, false
}

// toEvent builds the timeline event for one record (with a builder of
// its own; the parser's workers keep theirs).
func toEvent(r *Record) *timeline.Event {
	b := newBuilder()
	defer b.close()
	return b.event(r)
}

// builder builds a worker's events: the message's bytes and the fields it
// shows are scratch reused from record to record, so that an event costs
// the allocations of what it keeps and no more.
type builder struct {
	msg   []byte
	shown [16]field
	data  []kv // the event's EventData members (see eventData)
	// blocks hands out eventBlocks, recycled ones first (see blockPool).
	blocks slab.Source[eventBlock]
	// msgs, when set, is where repeated messages are shared from: the
	// worker's expander's, kept from file to file.
	msgs *messageCache
	// orders are the name orders of recent EventData lists.
	orders nameOrders
	// rules are where each rule's fields were in its last EventData
	// list.
	rules ruleIndexes
}

func newBuilder() *builder { return &builder{blocks: blockPool.Source()} }

// close gives back the blocks the builder took and did not hand out.
func (b *builder) close() { b.blocks.Close() }

// system holds the children of System an event reads, found in one pass
// over them (each the first of its name, as Element.Child finds it).
type system struct {
	provider, eventID, timeCreated, level, task, opcode, keywords, version,
	execution, security, correlation, eventRecordID, channel, computer *Element
}

func readSystem(sys *Element) system {
	var s system
	for k := sys.firstKid(); k != nil; k = k.next {
		var p **Element
		switch k.Name {
		case "Provider":
			p = &s.provider
		case "EventID":
			p = &s.eventID
		case "TimeCreated":
			p = &s.timeCreated
		case "Level":
			p = &s.level
		case "Task":
			p = &s.task
		case "Opcode":
			p = &s.opcode
		case "Keywords":
			p = &s.keywords
		case "Version":
			p = &s.version
		case "Execution":
			p = &s.execution
		case "Security":
			p = &s.security
		case "Correlation":
			p = &s.correlation
		case "EventRecordID":
			p = &s.eventRecordID
		case "Channel":
			p = &s.channel
		case "Computer":
			p = &s.computer
		default:
			continue
		}
		if *p == nil {
			*p = k
		}
	}
	return s
}

// event builds the timeline event for one record.
func (b *builder) event(r *Record) *timeline.Event {
	sys := readSystem(r.Event.Child("System"))
	prov := sys.provider
	provider := prov.Attr("Name")
	if provider == "" {
		provider = prov.Attr("EventSourceName")
	}
	eidText := trimSpace(sys.eventID.text())
	eid, _ := parseUint(eidText, 32)
	channel := sys.channel.text()
	computer := sys.computer.text()

	blk := b.blocks.New()
	ev := &blk.ev
	ev.TimestampDesc = TimestampDesc
	created := sys.timeCreated.Attr("SystemTime")
	t, ok, fromFT := createdTime(r, created)
	if ok {
		ev.Timestamp = t
	} else {
		ev.Timestamp = r.Written
	}
	recordID := r.ID
	if x, err := parseUint(trimSpace(sys.eventRecordID.text()), 64); err == nil && x != r.ID {
		// Logs saved from Event Viewer renumber the headers 1..n, and a
		// damaged chunk can hold a body rewritten under a stale header.
		// Event Viewer, Winlogbeat and evtxexport show the XML's
		// EventRecordID; the header's number stays in provenance
		// (jejak.data.header_record_id).
		recordID = x
	}
	if r.Recovered != "" {
		// Not in a live record chain: the examiner must see that this
		// row was carved, and from where (jejak.data.recovered_from).
		ev.Jejak.Tags = append(ev.Jejak.Tags, TagRecovered)
	}
	if blk.data == nil {
		blk.data = make(map[string]string, 14)
	}
	data := blk.data
	// reset leaves a recycled block's jejak.data as its last event left
	// it, since the records of a log mostly set the same System fields:
	// each member then overwrites a value in place, and the map holds no
	// other key when it has as many as were set (fillData sets each key
	// at most once). Otherwise it is emptied and filled again. Clearing
	// the map when its block came back cost about 330 instructions a
	// record (BenchmarkParseRecycled under callgrind), filling it in two
	// steps 90 more.
	//
	// A member whose value is the one the block's map was last given
	// (blk.held) is not set again: the System fields repeat from record
	// to record, their strings shared through the value caches, and a
	// comparison costs a tenth of a map assignment.
	if n := fillData(data, &blk.held, r, &sys, prov, created, t, ok, fromFT, recordID); len(data) != n {
		clear(data)
		blk.held = heldData{}
		fillData(data, &blk.held, r, &sys, prov, created, t, ok, fromFT, recordID)
	}
	ev.Jejak.Data = data
	parsers.At(ev, r.Offset, int64(r.ID))

	ed, members := eventData(r.Event, blk.eventData, b.data)
	blk.eventData, b.data = ed, members
	ev.Event.Kind = "event"
	ev.Event.Code = eidText
	ev.Event.Provider = provider
	blk.winlog = timeline.Winlog{Channel: channel, EventID: int(eid), RecordID: recordID,
		ComputerName: computer, ProviderName: provider, EventData: ed}
	ev.Winlog = &blk.winlog
	if computer != "" {
		blk.host.Name = computer
		ev.Host = &blk.host
	}
	summary, shown := "", b.shown[:0]
	if r := findRule(provider, uint32(eid)); r != nil {
		var vals ruleValues // on the stack: its strings are stored without write barriers
		b.rules.values(&vals, r, members, ed)
		summary, shown = normalizeInto(ev, r, &vals, ed, shown, &blk.norm)
	}
	var more [4]field
	shown = pickShown(shown, members, &b.orders, &more)
	if b.msgs == nil {
		b.msg = appendMessageShown(b.msg[:0], provider, eidText, summary, shown)
		ev.Message = string(b.msg)
	} else if p := b.msgs.byParts(provider, eidText, summary, shown); p.is(provider, eidText, summary, shown) {
		ev.Message = p.s
	} else {
		b.msg = appendMessageShown(b.msg[:0], provider, eidText, summary, shown)
		ev.Message = b.msgs.intern(b.msg)
		p.set(provider, eidText, summary, shown, ev.Message)
	}
	return ev
}

// fillData sets jejak.data's members of the record's event in data and
// returns how many it set, each key at most once: created, t, ok and
// fromFT are from createdTime, recordID the EventRecordID the event shows.
//
// held are the values of the System members data holds ("" for one it
// does not hold): a member whose value is held is not set again.
func fillData(data map[string]string, held *heldData, r *Record, sys *system, prov *Element, created string, t time.Time, ok, fromFT bool, recordID uint64) int {
	n := 0
	if !ok {
		data["time_source"] = "record header written time (no TimeCreated/@SystemTime)"
		n++
	}
	if !r.Written.IsZero() {
		var tb [32]byte
		switch {
		case fromFT && r.Written.Equal(t):
			// Windows writes a record when it creates it: the two times
			// are one text, and the attribute's string serves for both.
			// (created is t rendered as the written time would be.)
			data["written_time"] = created
		default:
			wt := appendTime(tb[:0], r.Written, 7)
			if string(wt) == created {
				data["written_time"] = created
			} else {
				data["written_time"] = string(wt)
			}
		}
		n++
	}
	// Each member set on its own, not by a loop over an array of the
	// eleven built first, which took about 240 instructions a record.
	set := func(k, v string, h *string) {
		switch {
		case v == "":
			*h = ""
		case v != *h:
			data[k] = v
			*h = v
			n++
		default:
			n++
		}
	}
	set("level", sys.level.text(), &held[0])
	set("task", sys.task.text(), &held[1])
	set("opcode", sys.opcode.text(), &held[2])
	set("keywords", sys.keywords.text(), &held[3])
	set("version", sys.version.text(), &held[4])
	set("process_id", sys.execution.Attr("ProcessID"), &held[5])
	set("thread_id", sys.execution.Attr("ThreadID"), &held[6])
	set("user_sid", sys.security.Attr("UserID"), &held[7])
	set("provider_guid", prov.Attr("Guid"), &held[8])
	set("activity_id", sys.correlation.Attr("ActivityID"), &held[9])
	set("qualifiers", sys.eventID.Attr("Qualifiers"), &held[10])
	if recordID != r.ID {
		data["header_record_id"] = strconv.FormatUint(r.ID, 10)
		n++
	}
	if r.Recovered != "" {
		data["recovered_from"] = r.Recovered
		n++
		if r.Partial != "" {
			data["recovered_partial"] = r.Partial
			n++
		}
	}
	if r.Anomaly != "" {
		data["record_anomaly"] = r.Anomaly
		n++
	}
	return n
}

// eventBlock holds the event and the parts every record has, allocated
// together, and what a recycled block keeps, emptied (reset): the event's
// two maps (jejak.data and winlog.event_data) and the normBlock of an
// event normalizeInto gave ECS fields to. The event is the first field (a
// compile-time check that its offset is 0): Parser.Recycle finds the
// block from the event.
type eventBlock struct {
	ev              timeline.Event
	winlog          timeline.Winlog
	host            timeline.Host
	data, eventData map[string]string
	// held is what fillData last set in data, kept with it.
	held heldData
	norm *normBlock
}

// heldData are the values of the System members (level to qualifiers, in
// fillData's order) a block's jejak.data map holds, "" for those it does
// not: the map must hold each non-empty one (fillData sets it only when
// its value changes). Nothing but fillData removes a key from the map or
// changes its value; ParseStats adds a key (file_header_damaged), which
// fillData's count of the members set finds.
type heldData [11]string

var _ = [1]struct{}{}[unsafe.Offsetof(eventBlock{}.ev)]

// blockSlab is how many eventBlocks are allocated at once when none comes
// back to be reused: the most that stays within the allocator's largest
// small size class (TestBlockSlabFitsSizeClass).
const blockSlab = 39

// blockPool is where every builder takes its blocks from, and where
// Parser.Recycle gives them back once the ingest has stored their events
// (as parsers/syslog and parsers/mft do). The two maps were a third of
// the parser's allocations and an eighth of its CPU, made from nothing
// for every record; a recycled block's are emptied and filled again.
var blockPool = slab.NewPoolReset(blockSlab, reset)

// reset readies a recycled block for its next record: zeroed, but for its
// maps and its normBlock, which it keeps: the winlog.event_data map
// emptied, the normBlock zeroed, and the jejak.data map as it is (see
// fillData).
func reset(blk *eventBlock) {
	d, ed, nb, held := blk.data, blk.eventData, blk.norm, blk.held
	*blk = eventBlock{}
	blk.data, blk.held = d, held
	if ed != nil {
		clear(ed)
		blk.eventData = ed
	}
	if nb != nil {
		*nb = normBlock{}
		blk.norm = nb
	}
}

// Recycle implements timeline.Recycler: ev, which Parse emitted, is
// stored, and its block, maps included, makes a later record's event, of
// any file. Only events Parse emitted may be given.
func (*Parser) Recycle(ev *timeline.Event) {
	blockPool.Release((*eventBlock)(unsafe.Pointer(ev)))
}

const maxMessage = 300

// field is one "key=value" of a message; a user is DOMAIN\name.
type field struct{ k, dom, v string }

// appendField appends the field to the message on one line (see
// appendOneLine).
//
// The field is appended as it is and then checked for what folding would
// change, in one pass over the bytes appended (the '=' and backslash between
// its parts are never folded), rather than each part before; a field the
// cap cut short is checked part by part, whole.
func appendField(dst []byte, f field) []byte {
	start := len(dst)
	n := len(f.k) + 1 + len(f.v)
	dst = appendCapped(dst, f.k)
	dst = append(dst, '=')
	if f.dom != "" {
		n += len(f.dom) + 1
		dst = appendCapped(dst, f.dom)
		dst = append(dst, '\\')
	}
	dst = appendCapped(dst, f.v)
	if len(dst)-start == n {
		if !needsFold(unsafe.String(&dst[start], n)) {
			return dst
		}
	} else if !needsFold(f.k) && !needsFold(f.dom) && !needsFold(f.v) {
		return dst
	}
	// Folding works on the whole "k=v" text; build it only here.
	s := f.k + "=" + f.v
	if f.dom != "" {
		s = f.k + "=" + f.dom + `\` + f.v
	}
	return appendOneLine(dst[:start], s)
}

// parseUint is strconv.ParseUint(s, 10, bits), for bits 32 or 64: a
// string of decimal digits short enough not to overflow (every event ID
// and record ID) is read here, without ParseUint's general checks; any
// other string goes to ParseUint.
func parseUint(s string, bits int) (uint64, error) {
	maxLen := 19
	if bits == 32 {
		maxLen = 9
	}
	if len(s) == 0 || len(s) > maxLen {
		return strconv.ParseUint(s, 10, bits)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return strconv.ParseUint(s, 10, bits)
		}
		n = n*10 + uint64(c)
	}
	return n, nil
}

// trimSpace is strings.TrimSpace, returning at once a string that starts
// and ends with an ASCII byte that is not a space (every value Windows
// writes in the fields it is used on).
func trimSpace(s string) string {
	if n := len(s); n > 0 && s[0] > ' ' && s[0] < utf8.RuneSelf && s[n-1] > ' ' && s[n-1] < utf8.RuneSelf {
		return s
	}
	return strings.TrimSpace(s)
}

// needsFold says whether appendOneLine would change s. Long values
// (script blocks, certificate blobs) are searched with IndexByte, much
// faster there than ContainsAny; the shorter ones most fields hold (a
// message's "k=v", mostly 10-60 bytes) 8 bytes at a time, the last 8
// bytes read as one word too (overlapping the word before), in one loop
// rather than three calls.
func needsFold(s string) bool {
	if len(s) > 64 {
		return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\t') >= 0
	}
	if len(s) < 8 {
		return foldByte(s)
	}
	// Only a word with a byte below 0x0e (hasLess, which never misses
	// one) is looked at byte by byte.
	p := unsafe.StringData(s)
	word := func(i int) uint64 {
		return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), i)), 8))
	}
	for i := 0; i < len(s)-8; i += 8 {
		if w := word(i); (w-0x0e0e0e0e0e0e0e0e)&^w&0x8080808080808080 != 0 && foldByte(s[i:i+8]) {
			return true
		}
	}
	last := len(s) - 8
	w := word(last)
	return (w-0x0e0e0e0e0e0e0e0e)&^w&0x8080808080808080 != 0 && foldByte(s[last:])
}

// foldByte says whether s holds a line break or a tab.
func foldByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= '\r' && (c == '\n' || c == '\r' || c == '\t') {
			return true
		}
	}
	return false
}

// appendCapped appends as much of s as can show in the message (dst is
// the message so far): one byte past maxMessage tells appendMessage to
// cut there, so the rest of a long value need not be copied.
func appendCapped(dst []byte, s string) []byte {
	if room := maxMessage + 1 - len(dst); len(s) > room {
		s = s[:max(room, 0)]
	}
	return append(dst, s...)
}

// message is a short line an examiner can read without opening the XML:
// provider, event ID, what happened and the key data.
func message(provider, eid, summary string, shown []field, ed map[string]string) string {
	members := make([]kv, 0, len(ed))
	for k, v := range ed {
		members = append(members, kv{k, v})
	}
	return string(appendMessage(make([]byte, 0, 128), provider, eid, summary, shown, members))
}

// appendMessage appends the message (see message) to dst, which must be
// empty: the cap at maxMessage counts from its start. Builders pass the
// same buffer for every record and copy the line out once. members are
// the event's EventData, each name once, in any order.
func appendMessage(dst []byte, provider, eid, summary string, shown []field, members []kv) []byte {
	return appendMessageBy(dst, provider, eid, summary, shown, members, nil)
}

// appendMessageBy is appendMessage, the names of an unknown event's
// members put in order by orders when it is not nil.
func appendMessageBy(dst []byte, provider, eid, summary string, shown []field, members []kv, orders *nameOrders) []byte {
	var more [4]field
	return appendMessageShown(dst, provider, eid, summary, pickShown(shown, members, orders, &more))
}

// pickShown returns the fields a message shows: shown, or for an event
// without (an unknown one) the values of its first four useful members
// by name, in more; the names put in order by orders when it is not nil.
func pickShown(shown []field, members []kv, orders *nameOrders, more *[4]field) []field {
	// The members' order is looked up only for an event without shown
	// fields: one with them (half of a Security log's records) never
	// reads it.
	var order []uint8
	if len(shown) == 0 {
		order = orders.of(members)
	}
	if order != nil {
		// The members' names in order, known for these names: the first
		// useful ones are the four smallest.
		nf := 0
		for _, j := range order {
			m := &members[j]
			if useful(m.v) == "" {
				continue
			}
			more[nf] = field{k: m.k, v: m.v}
			if nf++; nf == len(more) {
				break
			}
		}
		shown = more[:nf]
	} else if len(shown) == 0 {
		// Unknown events: the first few data values, in name order for a
		// stable line.
		// The 4 smallest names are picked as they come: sorting every
		// name of a large EventData was a tenth of the parser's CPU.
		var first [4]kv
		nf := 0
		for _, m := range members {
			if useful(m.v) == "" {
				continue
			}
			i := nf
			for i > 0 && nameLess(m.k, first[i-1].k) {
				i--
			}
			if i == len(first) {
				continue
			}
			if nf < len(first) {
				nf++
			}
			// Shifted one by one: copy on this array of strings is a
			// runtime call (typedslicecopy) for a move of a few words.
			for j := nf - 1; j > i; j-- {
				first[j] = first[j-1]
			}
			first[i] = m
		}
		for i, m := range first[:nf] {
			more[i] = field{k: m.k, v: m.v}
		}
		shown = more[:nf]
	}
	return shown
}

// appendMessageShown appends the message of the fields shown (see
// message) to dst, which must be empty.
func appendMessageShown(dst []byte, provider, eid, summary string, shown []field) []byte {
	dst = append(dst, provider...)
	dst = append(dst, ' ')
	dst = append(dst, eid...)
	if summary != "" {
		dst = append(dst, ' ')
		dst = append(dst, summary...)
	}
	for i, f := range shown {
		if i == 0 {
			dst = append(dst, ": "...)
		} else {
			dst = append(dst, ' ')
		}
		dst = appendField(dst, f)
		if len(dst) > maxMessage {
			break
		}
	}
	if len(dst) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(dst[cut]) {
			cut--
		}
		dst = append(dst[:cut], "…"...)
	}
	return dst
}

// nameOrders remembers the order of the names of recent EventData
// lists (a builder's): an unknown event's message shows the values of
// its four smallest useful names, and the names of a template's events
// are the same strings from record to record (those of the kept
// definition), so that comparing their addresses finds their order,
// where picking the four smallest compared names for every record.
type nameOrders struct {
	slots [nameOrderSlots]nameOrder
}

const nameOrderSlots = 16

// nameOrder is a list of names and the order of its indices by name.
type nameOrder struct {
	names []string
	order []uint8
}

// of returns the indices of members in the order of their names, which
// must differ: from the slot of the same names (the same strings, by
// address and length: a name kept in the slot is never freed, nor are
// its bytes changed), else sorted and kept. nil when orders is nil or
// members has none or more than 255.
func (orders *nameOrders) of(members []kv) []uint8 {
	if orders == nil || len(members) == 0 || len(members) > 255 {
		return nil
	}
	h := uint(uintptr(unsafe.Pointer(unsafe.StringData(members[0].k))))>>3 ^ uint(len(members))*0x9e3779b9
	sl := &orders.slots[h%nameOrderSlots]
	if len(sl.names) == len(members) {
		same := true
		for i := range members {
			a, b := members[i].k, sl.names[i]
			if len(a) != len(b) || unsafe.StringData(a) != unsafe.StringData(b) {
				same = false
				break
			}
		}
		if same {
			return sl.order
		}
	}
	sl.names, sl.order = sl.names[:0], sl.order[:0]
	for i := range members {
		sl.names = append(sl.names, members[i].k)
		sl.order = append(sl.order, uint8(i))
	}
	slices.SortFunc(sl.order, func(a, b uint8) int { return strings.Compare(sl.names[a], sl.names[b]) })
	return sl.order
}

// nameLess is a < b, deciding on the first bytes when they differ
// without calling the runtime's comparison (about 11 comparisons a
// record pick the four names of an unknown event's message).
func nameLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// appendOneLine folds the line breaks and tabs Windows puts inside values
// (privilege lists, multi-line descriptions) into single spaces.
func appendOneLine(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, "\r\n\t") {
		return append(dst, s...)
	}
	space := false
	for _, r := range s {
		if r == '\r' || r == '\n' || r == '\t' || r == ' ' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
