package hunt

import (
	"fmt"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// NTFS keeps two sets of MACB times per file: $STANDARD_INFORMATION, which
// any program may set (SetFileTime, timestomp tools), and $FILE_NAME, which
// only the kernel writes. A $SI creation earlier than the $FN creation, or
// $SI times with no sub-second part where $FN has one, are the classic
// traces of times set by hand.

const (
	attrSI = "$STANDARD_INFORMATION"
	attrFN = "$FILE_NAME"
)

type mftTimes struct {
	path      string
	si, fn    [4]time.Time // m, a, c, b
	hasSI     bool
	hasFN     bool
	refs      []EventRef
	deleted   bool
	lastFound time.Time
}

type timestomp struct {
	h       *hunter
	r       *Rule
	entries map[string]*mftTimes
}

func newTimestomp(h *hunter, r *Rule) (analyzer, error) {
	return &timestomp{h: h, r: r, entries: map[string]*mftTimes{}}, nil
}

func macbIndex(macb string) int {
	switch {
	case strings.Contains(macb, "m"):
		return 0
	case strings.Contains(macb, "a"):
		return 1
	case strings.Contains(macb, "c"):
		return 2
	case strings.Contains(macb, "b"):
		return 3
	}
	return -1
}

func (t *timestomp) observe(ev *timeline.Event) {
	d := ev.Jejak.Data
	attr := d["attribute"]
	if attr != attrSI && attr != attrFN || ev.File == nil {
		return
	}
	i := macbIndex(d["macb"])
	if i < 0 {
		return
	}
	if ev.Jejak.Time != nil && ev.Jejak.Time.OutOfRange {
		// A zero or impossible FILETIME (format tools leave $MFT's own SI
		// times so) says nothing about a hand-set clock; comparing it would
		// flag every volume's metadata files.
		return
	}
	// One file: the $MFT it is in and its entry and sequence numbers.
	k := fileKey(ev.Jejak.Provenance) + "\x00" + ev.File.Inode + "\x00" + d["mft_entry"] + "\x00" + d["sequence"]
	e := t.entries[k]
	if e == nil {
		e = &mftTimes{path: ev.File.Path}
		t.entries[k] = e
	}
	if attr == attrSI {
		e.si[i], e.hasSI = ev.Timestamp, true
		e.path = ev.File.Path
	} else if e.fn[i].IsZero() || ev.Timestamp.Before(e.fn[i]) {
		// A file has a FN per name (long and DOS); the earliest creation
		// is the kernel's first record of it.
		e.fn[i], e.hasFN = ev.Timestamp, true
	}
	if i == 3 || i == 0 {
		e.refs = append(e.refs, t.h.ref(ev))
	}
	for _, tag := range ev.Jejak.Tags {
		if tag == "deleted" {
			e.deleted = true
		}
	}
}

func (t *timestomp) finish() []Finding {
	var out []Finding
	after := t.h.cfg.After
	for _, e := range t.entries {
		if !e.hasSI || !e.hasFN {
			continue
		}
		var why []string
		siB, fnB := e.si[3], e.fn[3]
		if !siB.IsZero() && !fnB.IsZero() && siB.Before(fnB.Add(-time.Second)) {
			why = append(why, fmt.Sprintf("$SI creation %s is %s before $FN creation %s", ts(siB), span(siB, fnB), ts(fnB)))
		}
		zeroSI := true
		for _, x := range e.si {
			if x.IsZero() || x.Nanosecond() != 0 {
				zeroSI = false
			}
		}
		fnFrac := false
		for _, x := range e.fn {
			if !x.IsZero() && x.Nanosecond() != 0 {
				fnFrac = true
			}
		}
		if zeroSI && fnFrac {
			why = append(why, "all $SI times have zero sub-seconds while $FN times have them (set by a tool with one-second precision)")
		}
		if len(why) == 0 {
			continue
		}
		latest := time.Time{}
		for _, x := range append(e.si[:], e.fn[:]...) {
			if x.After(latest) {
				latest = x
			}
		}
		if !after.IsZero() && latest.Before(after) {
			continue
		}
		fd := newFinding(t.r, e.path, "", e.refs)
		state := ""
		if e.deleted {
			state = " (deleted)"
		}
		fd.Explanation = fmt.Sprintf("%s%s: %s", e.path, state, strings.Join(why, "; "))
		out = append(out, fd)
	}
	return out
}
