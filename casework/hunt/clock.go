package hunt

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// ---- clock changed ----

type clockChange struct {
	h   *hunter
	r   *Rule
	min time.Duration
	out []Finding
	// wtmp writes OLD_TIME then NEW_TIME; the pair is one change.
	oldTime map[string]*timeline.Event
}

func newClockChange(h *hunter, r *Rule) (analyzer, error) {
	min, err := r.durationParam("min_change", 2*time.Minute)
	if err != nil {
		return nil, err
	}
	return &clockChange{h: h, r: r, min: min, oldTime: map[string]*timeline.Event{}}, nil
}

// windowsTime reads the times 4616 and Kernel-General 1 write
// ("2024-02-14T11:02:03.4567890Z").
func windowsTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	return t, err == nil
}

func (c *clockChange) observe(ev *timeline.Event) {
	var from, to time.Time
	var who string
	switch {
	case ev.Winlog != nil && ev.Winlog.EventID == 4616 && strings.Contains(ev.Winlog.ProviderName, "Security-Auditing"):
		d := ev.Winlog.EventData
		f, ok1 := windowsTime(d["PreviousTime"])
		t, ok2 := windowsTime(d["NewTime"])
		if !ok1 || !ok2 {
			return
		}
		from, to = f, t
		who = useful(d["SubjectUserName"])
		if p := useful(d["ProcessName"]); p != "" {
			who += " via " + p
		}
	case ev.Winlog != nil && ev.Winlog.EventID == 1 && strings.Contains(ev.Winlog.ProviderName, "Kernel-General"):
		d := ev.Winlog.EventData
		f, ok1 := windowsTime(d["OldTime"])
		t, ok2 := windowsTime(d["NewTime"])
		if !ok1 || !ok2 {
			return
		}
		from, to = f, t
	case ev.Event.Action == "clock_change":
		// wtmp OLD_TIME (type 4) is stamped with the clock before the
		// change, NEW_TIME (type 3) with the clock after it.
		k := fileKey(ev.Jejak.Provenance)
		if o := c.oldTime[k]; o != nil && ev.Jejak.Provenance.Record == o.Jejak.Provenance.Record+1 {
			delete(c.oldTime, k)
			c.report(ev, o.Timestamp, ev.Timestamp, "", []EventRef{c.h.ref(o), c.h.ref(ev)})
			return
		}
		if ev.Jejak.Data["type"] == "4" { // OLD_TIME
			cp := *ev
			c.oldTime[k] = &cp
		}
		return
	default:
		return
	}
	c.report(ev, from, to, who, []EventRef{c.h.ref(ev)})
}

func (c *clockChange) report(ev *timeline.Event, from, to time.Time, who string, refs []EventRef) {
	d := to.Sub(from)
	if d.Abs() < c.min {
		return // time synchronisation nudges the clock by seconds all day
	}
	// Either side of the change being after the cut-off is in scope: a clock
	// set back to before the cut-off is exactly what this rule is for.
	if !c.h.inScope(ev.Timestamp) && !c.h.inScope(from) && !c.h.inScope(to) {
		return
	}
	dir := "forward"
	if d < 0 {
		dir = "back"
	}
	expl := fmt.Sprintf("system clock set %s by %s, from %s to %s", dir, span(time.Time{}, time.Time{}.Add(d.Abs())), ts(from), ts(to))
	if who != "" {
		expl += " by " + who
	}
	if h := hostOf(ev); h != "" {
		expl += " on " + h
	}
	if ev.Winlog != nil {
		expl += fmt.Sprintf(" (event %d, record %d)", ev.Winlog.EventID, ev.Winlog.RecordID)
	}
	if !c.h.cfg.After.IsZero() && (from.Before(c.h.cfg.After) != to.Before(c.h.cfg.After)) {
		expl += "; the change crosses the cut-off " + ts(c.h.cfg.After)
	}
	key := fmt.Sprintf("%s %s", fileLabel(ev.Jejak.Provenance), ts(ev.Timestamp))
	c.out = append(c.out, newFinding(c.r, key, expl, refs))
}

func (c *clockChange) finish() []Finding { return c.out }

// ---- sequence numbers contradicting timestamps ----

// sequenceTime looks, per file, at records in the order they were written
// (EVTX record IDs, wtmp record order, USN) and reports where the
// timestamps run backwards beyond a tolerance: the clock was set back or
// records were inserted, and a timestamp there cannot place an event on
// the right side of the cut-off.
type sequenceTime struct {
	h         *hunter
	r         *Rule
	tolerance time.Duration
	files     map[string]*seqFile
	// lastK and lastF: the file the event before was of (rows come in
	// runs from one file; its key is the same string, compared at once).
	lastK string
	lastF *seqFile
}

func newSequenceTime(h *hunter, r *Rule) (analyzer, error) {
	tol, err := r.durationParam("tolerance", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return &sequenceTime{h: h, r: r, tolerance: tol, files: map[string]*seqFile{}}, nil
}

// sequenceOf is the write-order number of an event, and its kind.
func sequenceOf(ev *timeline.Event) (uint64, string, bool) {
	p := ev.Jejak.Provenance
	switch {
	case ev.Winlog != nil && ev.Winlog.RecordID != 0:
		return ev.Winlog.RecordID, "record", true
	case p.Parser == "utmp" && p.Record > 0:
		return uint64(p.Record), "wtmp record", true
	case p.Parser == "usnjrnl":
		if n, err := strconv.ParseUint(ev.Jejak.Data["usn"], 10, 64); err == nil {
			return n, "USN", true
		}
	}
	return 0, "", false
}

func (s *sequenceTime) observe(ev *timeline.Event) {
	seq, kind, ok := sequenceOf(ev)
	if !ok {
		return
	}
	k := s.h.fileKeyOf(ev.Jejak.Provenance)
	f := s.lastF
	if f == nil || k != s.lastK {
		if f = s.files[k]; f == nil {
			f = &seqFile{prov: s.h.internProv(ev.Jejak.Provenance), channel: kind, host: hostOf(ev)}
			s.files[k] = f
		}
		s.lastK, s.lastF = k, f
	}
	f.recs = append(f.recs, seqRec{seq: seq, hdr: uint64(ev.Jejak.Provenance.Record), ts: ev.Timestamp,
		id: ev.Jejak.ID, off: ev.Jejak.Provenance.Offset, code: ev.Event.Code})
}

func (s *sequenceTime) finish() []Finding {
	var out []Finding
	after := s.h.cfg.After
	for _, f := range s.files {
		recs := f.recs
		slices.SortStableFunc(recs, func(a, b seqRec) int { return cmp.Compare(a.seq, b.seq) })
		kind := f.channel
		var high seqRec // the latest-stamped record so far in write order
		for i := 0; i < len(recs); i++ {
			r := recs[i]
			if i == 0 || r.ts.After(high.ts) {
				high = r
				continue
			}
			if high.ts.Sub(r.ts) <= s.tolerance {
				continue
			}
			// A run of records stamped earlier than one written before them.
			j := i
			low := r
			for j+1 < len(recs) && high.ts.Sub(recs[j+1].ts) > s.tolerance {
				j++
				if recs[j].ts.Before(low.ts) {
					low = recs[j]
				}
			}
			run := recs[i : j+1]
			i = j
			if !after.IsZero() && high.ts.Before(after) && !run[len(run)-1].ts.After(after) {
				continue // entirely before the cut-off
			}
			refs := []EventRef{f.ref(high, "Creation Time"), f.ref(r, "Creation Time")}
			if low.id != r.id {
				refs = append(refs, f.ref(low, "Creation Time"))
			}
			if last := run[len(run)-1]; last.id != r.id && last.id != low.id {
				refs = append(refs, f.ref(last, "Creation Time"))
			}
			label := fileLabel(f.prov)
			expl := fmt.Sprintf("in %s, %s %d was written after %s %d (%s) but is stamped %s, %s earlier",
				label, kind, r.seq, kind, high.seq, ts(high.ts), ts(r.ts), span(r.ts, high.ts))
			if len(run) > 1 {
				expl += fmt.Sprintf("; %d records up to %s %d run back in time (down to %s)", len(run), kind, run[len(run)-1].seq, ts(low.ts))
			}
			expl += ": the clock was set back or records were inserted"
			if !after.IsZero() && !high.ts.Before(after) && low.ts.Before(after) {
				expl += fmt.Sprintf(", and these records claim times before the cut-off %s", ts(after))
			}
			fd := newFinding(s.r, fmt.Sprintf("%s %s %d", label, kind, r.seq), expl, refs)
			out = append(out, fd)
		}
	}
	return out
}
