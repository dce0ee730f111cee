package hunt

import (
	"fmt"
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

func (c *clockChange) wants() interest {
	return interest{winIDs: []int{4616, 1}, actions: []string{"clock_change"}}
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

func (s *sequenceTime) wants() interest {
	if !s.feeds {
		return interest{}
	}
	return s.seqs.wants()
}

func (s *sequenceTime) observe(ev *timeline.Event) {
	if s.feeds {
		s.seqs.observe(ev)
	}
}

func (s *sequenceTime) finish() []Finding {
	var out []Finding
	l := s.seqs
	defer l.done()
	for _, f := range l.files {
		next, end := s.judge(f, &out)
		err := l.each(s.h.ctx, f, next)
		if err == nil {
			end()
		} else {
			s.h.fail(fmt.Errorf("%s: %s: %w", s.r.ID, fileLabel(f.prov), err))
			if s.h.ctx.Err() != nil {
				break
			}
		}
	}
	return out
}

// judge reads f's records in write order, one at a time: the latest-
// stamped record so far (high), and a run of records stamped more than
// the tolerance before it, which ends at the first record that is not.
func (s *sequenceTime) judge(f *seqFile, out *[]Finding) (next func(*seqEnt), end func()) {
	after := s.h.cfg.After
	l := s.seqs
	kind := f.kind
	var (
		n       int
		high    seqEnt // the latest-stamped record so far in write order
		highTS  time.Time
		inRun   bool
		r       seqEnt // the run's first record
		rTS     time.Time
		low     seqEnt // its earliest-stamped
		lowTS   time.Time
		lastRun seqEnt // and its last
		runLen  int
	)
	report := func() {
		inRun = false
		if !after.IsZero() && highTS.Before(after) && !lastRun.ts().After(after) {
			return // entirely before the cut-off
		}
		refs := []EventRef{l.ref(f, &high, "Creation Time", false), l.ref(f, &r, "Creation Time", false)}
		rID, lowID, lastID := r.eventID(), low.eventID(), lastRun.eventID()
		if lowID != rID {
			refs = append(refs, l.ref(f, &low, "Creation Time", false))
		}
		if lastID != rID && lastID != lowID {
			refs = append(refs, l.ref(f, &lastRun, "Creation Time", false))
		}
		label := fileLabel(f.prov)
		expl := fmt.Sprintf("in %s, %s %d was written after %s %d (%s) but is stamped %s, %s earlier",
			label, kind, r.seq, kind, high.seq, ts(highTS), ts(rTS), span(rTS, highTS))
		if runLen > 1 {
			expl += fmt.Sprintf("; %d records up to %s %d run back in time (down to %s)", runLen, kind, lastRun.seq, ts(lowTS))
		}
		expl += ": the clock was set back or records were inserted"
		if !after.IsZero() && !highTS.Before(after) && lowTS.Before(after) {
			expl += fmt.Sprintf(", and these records claim times before the cut-off %s", ts(after))
		}
		*out = append(*out, newFinding(s.r, fmt.Sprintf("%s %s %d", label, kind, r.seq), expl, refs))
	}
	end = func() {
		if inRun {
			report() // the last record ends the run
		}
	}
	next = func(e *seqEnt) {
		n++
		eTS := e.ts()
		if inRun {
			if highTS.Sub(eTS) > s.tolerance {
				runLen++
				lastRun = *e
				if eTS.Before(lowTS) {
					low, lowTS = *e, eTS
				}
				return
			}
			report()
		}
		if n == 1 || eTS.After(highTS) {
			high, highTS = *e, eTS
			return
		}
		if highTS.Sub(eTS) <= s.tolerance {
			return
		}
		inRun, runLen = true, 1
		r, rTS, low, lowTS, lastRun = *e, eTS, *e, eTS, *e
	}
	return next, end
}
