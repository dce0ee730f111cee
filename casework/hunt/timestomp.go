package hunt

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// NTFS keeps two sets of MACB times per file: $STANDARD_INFORMATION, which
// any program may set (SetFileTime, timestomp tools), and $FILE_NAME, which
// only the kernel writes (at creation and on rename or move). The checks are
// MFTECmd's, each stated in the finding's explanation:
//
//   - SI<FN: the $SI creation is earlier than the $FN creation. The kernel
//     writes both from one clock reading when it creates the file, so only
//     a hand-set (or an archiver-restored) $SI creation goes below it.
//   - uSecZeros: a $SI time a user can set (B, M, A) has no sub-second part
//     while the entry's kernel-written times ($FN, $SI C) have one: set by
//     a tool or API call with one-second precision. MFTECmd tests the
//     millisecond field of B and M; we test the whole 100 ns remainder (a
//     time set with millisecond precision, as Java and JavaScript tools do,
//     is not a one-second tool) and A as well.
//   - SI M < FN M with zero sub-seconds: the content time was put back
//     below the kernel's record of the file, by a one-second tool.
//   - Copied: $SI M earlier than $SI B. A copy or an archive extraction
//     keeps the source's modification time and takes a new creation time,
//     so this is a note that explains a whole-second M, never a finding.

const (
	attrSI = "$STANDARD_INFORMATION"
	attrFN = "$FILE_NAME"
)

// MACB order of the arrays below.
const (
	tsM = iota
	tsA
	tsC
	tsB
)

var macbNames = [4]string{"M (modified)", "A (accessed)", "C (MFT changed)", "B (created)"}

// mftTimes is what the check keeps of the MFT entry it is judging: its
// times, as Unix nanoseconds (the out-of-range ones are not kept, so
// 1980-2100 fits), and for each slot the event that gave it, an index in
// the entry's events (an event that is several times of its attribute,
// macb "m.cb", is one row).
type mftTimes struct {
	si, fn       [4]int64
	hasSI, hasFN uint8  // bit i: slot i was seen
	siRef, fnRef [4]int // index in the entry's events of the slot's event
}

// mftView is an entry's times as the checks read them.
type mftView struct {
	si, fn       [4]time.Time
	hasSI, hasFN [4]bool
}

func (e *mftTimes) view() mftView {
	var v mftView
	for i := range v.si {
		if v.hasSI[i] = e.hasSI&(1<<i) != 0; v.hasSI[i] {
			v.si[i] = time.Unix(0, e.si[i]).UTC()
		}
		if v.hasFN[i] = e.hasFN&(1<<i) != 0; v.hasFN[i] {
			v.fn[i] = time.Unix(0, e.fn[i]).UTC()
		}
	}
	return v
}

// timestomp writes every $SI and $FN event as a record keyed by its MFT
// entry into a spillSorter (timestomp_spill.go) and judges the entries one
// at a time at the end: its memory is bounded whatever the size of the
// $MFT. What a record holds is in timestomp_record.go.
type timestomp struct {
	h     *hunter
	r     *Rule
	sort  *spillSorter
	tabs  recTables
	rec   []byte     // scratch the record is built in
	evs   []mftEvent // the entry being judged
	group []byte     // its records, copied from the sorter
	seen  []bool     // rows taken, by event index
}

func newTimestomp(h *hunter, r *Rule) (analyzer, error) {
	return &timestomp{h: h, r: r, sort: newSpillSorter(h.spillDir(), spillLimit), tabs: newRecTables()}, nil
}

// macbSet reads the times an MFT event stands for from its macb letters:
// bit tsM, tsA, tsC, tsB for "m", "a", "c", "b". The parser emits one
// event per distinct time of an attribute ("m.cb": modified, MFT changed
// and created at that time), so an event fills every slot it names.
func macbSet(macb string) (set uint8) {
	for i, l := range [4]byte{'m', 'a', 'c', 'b'} {
		if strings.IndexByte(macb, l) >= 0 {
			set |= 1 << i
		}
	}
	return set
}

func (t *timestomp) wants() interest { return interest{file: true} }

func (t *timestomp) observe(ev *timeline.Event) {
	if ev.File == nil {
		return // not an MFT time: no data map lookup (EVTX rows carry one)
	}
	d := ev.Jejak.Data
	attr := d["attribute"]
	if attr != attrSI && attr != attrFN {
		return
	}
	set := macbSet(d["macb"])
	if set == 0 {
		return
	}
	if ev.Jejak.Time != nil && ev.Jejak.Time.OutOfRange {
		// A zero or impossible FILETIME (format tools leave $MFT's own SI
		// times so) says nothing about a hand-set clock; comparing it would
		// flag every volume's metadata files.
		return
	}
	var klen int
	t.rec, klen = t.tabs.encode(t.h, t.rec[:0], ev, attr == attrSI, set)
	t.sort.add(t.rec, klen)
}

// judgeTimes takes the events of one MFT entry, in the order the hunt read
// them, and fills its times: every $SI event sets the slots it names (the
// last one read wins), a $FN event a slot only when earlier than what the
// slot holds.
func judgeTimes(evs []mftEvent) mftTimes {
	var e mftTimes
	for k := range evs {
		ev := &evs[k]
		for i := range e.si {
			bit := uint8(1) << i
			if ev.set&bit == 0 {
				continue
			}
			if ev.si {
				e.si[i], e.siRef[i] = ev.at, k
				e.hasSI |= bit
			} else if e.hasFN&bit == 0 || ev.at < e.fn[i] {
				// A file has a FN per name (long and DOS, one per hard link);
				// the earliest is the kernel's first record of it, and
				// comparing with it flags the fewest files.
				e.fn[i], e.fnRef[i] = ev.at, k
				e.hasFN |= bit
			}
		}
	}
	return e
}

// rows builds the finding's rows: the events of the entry's $SI times and
// of the $FN times the checks compared, each once (one event is every time
// of its attribute that has its timestamp), in MACB order of their first
// time, $SI before $FN. Every slot's event is a row, however many names
// the entry has.
func (t *timestomp) rows(e *mftTimes, evs []mftEvent, state []string) []EventRef {
	var out []EventRef
	t.seen = append(t.seen[:0], make([]bool, len(evs))...)
	first := &evs[0]
	add := func(has uint8, i, idx int, at int64) {
		if has&(1<<i) == 0 || t.seen[idx] {
			return
		}
		t.seen[idx] = true
		r := &evs[idx]
		p := t.tabs.provs[first.prov]
		p.Offset, p.Record = r.off, first.record
		out = append(out, EventRef{ID: string(r.id), Timestamp: time.Unix(0, at).UTC(), TimestampDesc: t.tabs.descs[r.desc],
			Message: string(r.msg), Provenance: p, State: state})
	}
	for i := range e.si {
		add(e.hasSI, i, e.siRef[i], e.si[i])
		add(e.hasFN, i, e.fnRef[i], e.fn[i])
	}
	return out
}

func frac(x time.Time) bool { return x.Nanosecond() != 0 }

// verdict is what the checks found on one entry.
type verdict struct {
	why    []string // the reasons, each a finding on its own
	notes  []string // context that is no finding by itself
	strong bool     // creation time tampered with: SI<FN or a whole-second B
	copied bool     // the whole-second times are explained by a copy or extraction
}

func (e *mftView) check() verdict {
	var v verdict
	if !e.hasSI[tsB] && !e.hasSI[tsM] || !anyOf(e.hasFN[:]) {
		return v // MFTECmd also needs both attributes; a lone one proves nothing
	}
	si, fn := e.si, e.fn
	if e.hasSI[tsB] && e.hasFN[tsB] && si[tsB].Before(fn[tsB]) {
		v.why = append(v.why, fmt.Sprintf("SI<FN: $SI creation %s is %s before $FN creation %s",
			tsFine(si[tsB]), span(si[tsB], fn[tsB]), tsFine(fn[tsB])))
		v.strong = true
	}
	// Kernel-written times with a sub-second part: the volume keeps 100 ns
	// times, so a whole second among the settable ones stands out.
	var kernel []string
	for i := range fn {
		if e.hasFN[i] && frac(fn[i]) {
			kernel = append(kernel, "$FN "+macbNames[i][:1])
		}
	}
	fnFrac := len(kernel) > 0
	if e.hasSI[tsC] && frac(si[tsC]) {
		kernel = append(kernel, "$SI C")
	}
	var zero []string
	zeroB := false
	for _, i := range []int{tsB, tsM, tsA} {
		if e.hasSI[i] && !frac(si[i]) {
			if !fnFrac && e.hasFN[i] && fn[i].Equal(si[i]) {
				// The creator wrote whole seconds into both attributes
				// (mkntfs does for the root and the metadata files) and
				// nobody set this one since: only $SI C moved.
				continue
			}
			zero = append(zero, fmt.Sprintf("$SI %s %s", macbNames[i], ts(si[i])))
			zeroB = zeroB || i == tsB
		}
	}
	if len(zero) > 0 && len(kernel) > 0 {
		v.why = append(v.why, fmt.Sprintf("uSecZeros: %s with zero sub-seconds while %s carry them",
			strings.Join(zero, ", "), strings.Join(kernel, ", ")))
		v.strong = v.strong || zeroB
	}
	if e.hasSI[tsM] && e.hasFN[tsM] && !frac(si[tsM]) && si[tsM].Before(fn[tsM]) {
		v.why = append(v.why, fmt.Sprintf("$SI modification %s (zero sub-seconds) is %s before $FN modification %s",
			ts(si[tsM]), span(si[tsM], fn[tsM]), tsFine(fn[tsM])))
	}
	if e.hasSI[tsM] && e.hasSI[tsB] && si[tsM].Before(si[tsB]) {
		v.notes = append(v.notes, fmt.Sprintf("Copied: $SI modification %s is before $SI creation %s, as a copy or archive extraction leaves it",
			tsFine(si[tsM]), tsFine(si[tsB])))
		// The copy explains a whole-second M only when the creation is the
		// kernel's own: sub-seconds, and equal to the $FN creation.
		v.copied = !v.strong && frac(si[tsB]) && e.hasFN[tsB] && si[tsB].Equal(fn[tsB])
	}
	return v
}

func anyOf(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

// tsFine is ts with the 100 ns digits the checks are about.
func tsFine(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func (t *timestomp) finish() []Finding {
	var out []Finding
	var cur []byte // the key of the entry being gathered
	judge := func() {
		if len(t.evs) > 0 {
			if f, ok := t.judge(t.evs); ok {
				out = append(out, f)
			}
		}
		t.evs, t.group = t.evs[:0], t.group[:0]
	}
	err := t.sort.each(t.h.ctx, func(rec []byte, klen int) error {
		if len(t.evs) > 0 && !bytes.Equal(rec[:klen], cur) {
			judge()
		}
		// The records are copied into group, which the events point into;
		// group may move as it grows, so the events are decoded once the
		// entry is whole (at judge), from the offsets kept here.
		start := len(t.group)
		t.group = append(t.group, rec...)
		cur = t.group[start : start+klen]
		t.evs = append(t.evs, mftEvent{span: [2]int{start, len(t.group)}, klen: klen})
		return nil
	})
	if err == nil {
		judge()
	} else {
		t.h.fail(fmt.Errorf("timestomp: %w", err))
	}
	return out
}

// judge runs the checks on one MFT entry's events and builds its finding.
func (t *timestomp) judge(evs []mftEvent) (Finding, bool) {
	for k := range evs {
		if err := evs[k].decode(t.group); err != nil {
			t.h.fail(err)
			return Finding{}, false
		}
	}
	me := judgeTimes(evs)
	e := me.view()
	v := e.check()
	if len(v.why) == 0 {
		return Finding{}, false
	}
	after := t.h.cfg.After
	// When: the latest of the entry's times. The $FN and $SI C times
	// are the kernel's and move when the times are set by hand.
	latest := time.Time{}
	for i := range e.si {
		if e.hasSI[i] && e.si[i].After(latest) {
			latest = e.si[i]
		}
		if e.hasFN[i] && e.fn[i].After(latest) {
			latest = e.fn[i]
		}
	}
	sev := t.r.Severity
	switch {
	case v.strong:
	case v.copied:
		sev = min(sev, Low)
	default:
		sev = min(sev, Medium)
	}
	when := ""
	if !after.IsZero() && latest.Before(after) {
		// Everything happened before the cut-off: a tampered creation
		// is still worth a line, a lone whole-second time is not.
		if !v.strong {
			return Finding{}, false
		}
		sev = min(sev, Low)
		when = fmt.Sprintf(" All of its times are before the cut-off (latest %s).", ts(latest))
	}
	// The entry's path is its $SI event's (the long name's), else its
	// first event's; its state (deleted, recovered) is its first event's.
	path := evs[0].path
	for k := range evs {
		if evs[k].si {
			path = evs[k].path
		}
	}
	var stateList []string
	for i, tag := range stateTags {
		if evs[0].state&(1<<i) != 0 {
			stateList = append(stateList, tag)
		}
	}
	fd := newFinding(t.r, string(path), "", t.rows(&me, evs, stateList))
	fd.Severity = sev
	state := ""
	if slices.Contains(stateList, "deleted") {
		state = " (deleted)"
	}
	notes := ""
	if len(v.notes) > 0 {
		notes = " Note: " + strings.Join(v.notes, "; ") + "."
		if v.copied {
			notes += " Its creation time is the kernel's, so the whole-second times may be the source's (ranked low)."
		}
	}
	fd.Explanation = fmt.Sprintf("%s%s: %s.%s%s", path, state, strings.Join(v.why, "; "), notes, when)
	return fd, true
}
