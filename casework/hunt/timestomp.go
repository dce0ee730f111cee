package hunt

import (
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

// slotRef is what a finding's row needs of one event, kept small: a large
// $MFT has a million entries and only a few are ever flagged, so the full
// EventRef is built in finish, for those.
type slotRef struct {
	id, desc, msg string
	off           int64
}

// mftTimes is what the hunt keeps of one MFT entry, until finish: one per
// entry of every $MFT in the case, so it is kept small (at 300k entries
// it was most of the hunt's heap, and of its collector's work). Times are
// Unix nanoseconds (the out-of-range ones are not kept, so 1980-2100
// fits); each slot points at the event that gave it, and an event that
// is several times of its attribute (macb "m.cb") is one ref.
type mftTimes struct {
	path         string
	prov         timeline.Provenance // the entry's record; its events differ in Offset only
	si, fn       [4]int64
	hasSI, hasFN uint8   // bit i: slot i was seen
	siRef, fnRef [4]int8 // index in refs of the slot's event
	refs         []slotRef
	state        []string // deleted, recovered: carried to every row
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

type timestomp struct {
	h *hunter
	r *Rule
	// entries by MFT entry: the $MFT file it is in (interned), its inode
	// and its entry-sequence, joined with NULs (key is the scratch the key
	// is built in, so that looking up an entry seen before allocates
	// nothing).
	entries map[string]*mftTimes
	key     []byte
}

func newTimestomp(h *hunter, r *Rule) (analyzer, error) {
	return &timestomp{h: h, r: r, entries: map[string]*mftTimes{}}, nil
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
	t.key = append(append(t.key[:0], t.h.fileKeyOf(ev.Jejak.Provenance)...), 0)
	t.key = append(append(append(append(append(t.key, ev.File.Inode...), 0), d["mft_entry"]...), 0), d["sequence"]...)
	e := t.entries[string(t.key)]
	if e == nil {
		e = &mftTimes{path: ev.File.Path, prov: t.h.internProv(ev.Jejak.Provenance)}
		for _, tag := range stateTags {
			if slices.Contains(ev.Jejak.Tags, tag) {
				e.state = append(e.state, tag)
			}
		}
		t.entries[string(t.key)] = e
	}
	if attr == attrSI {
		e.path = ev.File.Path
	}
	at := ev.Timestamp.UnixNano()
	ref := int8(-1) // the event's index in e.refs, once a slot takes it
	take := func() int8 {
		if ref < 0 && len(e.refs) < 127 {
			e.refs = append(e.refs, slotRef{id: ev.Jejak.ID, desc: t.h.intern(ev.TimestampDesc), msg: ev.Message, off: ev.Jejak.Provenance.Offset})
			ref = int8(len(e.refs) - 1)
		}
		return ref
	}
	for i := range e.si {
		bit := uint8(1) << i
		if set&bit == 0 {
			continue
		}
		if attr == attrSI {
			e.si[i], e.siRef[i] = at, take()
			e.hasSI |= bit
		} else if e.hasFN&bit == 0 || at < e.fn[i] {
			// A file has a FN per name (long and DOS, one per hard link);
			// the earliest is the kernel's first record of it, and
			// comparing with it flags the fewest files.
			e.fn[i], e.fnRef[i] = at, take()
			e.hasFN |= bit
		}
	}
}

// rows builds the finding's rows: the events of the entry's $SI times and
// of the $FN times the checks compared, each once (one event is every time
// of its attribute that has its timestamp), in MACB order of their first
// time, $SI before $FN.
func (e *mftTimes) rows() []EventRef {
	var out []EventRef
	var seen refSet
	add := func(has uint8, i int, idx int8, at int64) {
		if has&(1<<i) == 0 || idx < 0 || seen.has(idx) {
			return
		}
		seen.set(idx)
		r, ts := e.refs[idx], time.Unix(0, at)
		p := e.prov
		p.Offset = r.off
		msg := r.msg
		if len(msg) > maxRefMessage {
			cut := maxRefMessage
			for cut > 0 && !utf8Start(msg[cut]) {
				cut--
			}
			msg = msg[:cut] + "…"
		}
		out = append(out, EventRef{ID: r.id, Timestamp: ts.UTC(), TimestampDesc: r.desc, Message: msg, Provenance: p, State: e.state})
	}
	for i := range e.si {
		add(e.hasSI, i, e.siRef[i], e.si[i])
		add(e.hasFN, i, e.fnRef[i], e.fn[i])
	}
	return out
}

// refSet is a set of an entry's ref indexes (at most 127).
type refSet [2]uint64

func (u *refSet) has(i int8) bool { return u[i/64]&(1<<(i%64)) != 0 }
func (u *refSet) set(i int8)      { u[i/64] |= 1 << (i % 64) }

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
	after := t.h.cfg.After
	for _, me := range t.entries {
		e := me.view()
		v := e.check()
		if len(v.why) == 0 {
			continue
		}
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
				continue
			}
			sev = min(sev, Low)
			when = fmt.Sprintf(" All of its times are before the cut-off (latest %s).", ts(latest))
		}
		fd := newFinding(t.r, me.path, "", me.rows())
		fd.Severity = sev
		state := ""
		if slices.Contains(me.state, "deleted") {
			state = " (deleted)"
		}
		notes := ""
		if len(v.notes) > 0 {
			notes = " Note: " + strings.Join(v.notes, "; ") + "."
			if v.copied {
				notes += " Its creation time is the kernel's, so the whole-second times may be the source's (ranked low)."
			}
		}
		fd.Explanation = fmt.Sprintf("%s%s: %s.%s%s", me.path, state, strings.Join(v.why, "; "), notes, when)
		out = append(out, fd)
	}
	return out
}
