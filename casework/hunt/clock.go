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
//
// Its records are in the lists it shares with logIntegrity (seqlist.go).
type sequenceTime struct {
	h         *hunter
	r         *Rule
	tolerance time.Duration
	seqs      *seqLists
	feeds     bool
}

func newSequenceTime(h *hunter, r *Rule) (analyzer, error) {
	tol, err := r.durationParam("tolerance", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	s := &sequenceTime{h: h, r: r, tolerance: tol}
	s.seqs, s.feeds = seqListsFor(h, s, false)
	return s, nil
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
	if s.feeds {
		s.seqs.observe(ev)
	}
}

func (s *sequenceTime) finish() []Finding {
	var out []Finding
	after := s.h.cfg.After
	l := s.seqs
	defer l.done()
	all := func(*seqRec) bool { return true }
	for _, f := range l.files {
		recs := l.take(f, all)
		slices.SortStableFunc(recs, func(a, b seqRec) int { return cmp.Compare(a.seq, b.seq) })
		kind := f.kind
		var high seqRec // the latest-stamped record so far in write order
		var highTS time.Time
		for i := 0; i < len(recs); i++ {
			r := recs[i]
			rTS := l.ts(&r)
			if i == 0 || rTS.After(highTS) {
				high, highTS = r, rTS
				continue
			}
			if highTS.Sub(rTS) <= s.tolerance {
				continue
			}
			// A run of records stamped earlier than one written before them.
			j := i
			low, lowTS := r, rTS
			for j+1 < len(recs) && highTS.Sub(l.ts(&recs[j+1])) > s.tolerance {
				j++
				if t := l.ts(&recs[j]); t.Before(lowTS) {
					low, lowTS = recs[j], t
				}
			}
			run := recs[i : j+1]
			i = j
			lastRun := &run[len(run)-1]
			if !after.IsZero() && highTS.Before(after) && !l.ts(lastRun).After(after) {
				continue // entirely before the cut-off
			}
			refs := []EventRef{l.ref(f, &high, "Creation Time", false), l.ref(f, &r, "Creation Time", false)}
			rID, lowID, lastID := l.id(&r), l.id(&low), l.id(lastRun)
			if lowID != rID {
				refs = append(refs, l.ref(f, &low, "Creation Time", false))
			}
			if lastID != rID && lastID != lowID {
				refs = append(refs, l.ref(f, lastRun, "Creation Time", false))
			}
			label := fileLabel(f.prov)
			expl := fmt.Sprintf("in %s, %s %d was written after %s %d (%s) but is stamped %s, %s earlier",
				label, kind, r.seq, kind, high.seq, ts(highTS), ts(rTS), span(rTS, highTS))
			if len(run) > 1 {
				expl += fmt.Sprintf("; %d records up to %s %d run back in time (down to %s)", len(run), kind, lastRun.seq, ts(lowTS))
			}
			expl += ": the clock was set back or records were inserted"
			if !after.IsZero() && !highTS.Before(after) && lowTS.Before(after) {
				expl += fmt.Sprintf(", and these records claim times before the cut-off %s", ts(after))
			}
			fd := newFinding(s.r, fmt.Sprintf("%s %s %d", label, kind, r.seq), expl, refs)
			out = append(out, fd)
		}
	}
	return out
}
