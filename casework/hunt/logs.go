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

// ---- log cleared ----

type logCleared struct {
	h *hunter
	r *Rule
	// clears groups clearing records by the file that holds them: a script
	// that clears every channel ('wevtutil cl' in a loop) or clears one log
	// again and again is one finding with every record as a row, not one
	// finding per record.
	clears map[string]*clearGroup
	order  []string
}

type clearGroup struct {
	names      []string // the logs cleared
	file, host string
	by         []string
	codes      []string
	refs       []EventRef
	records    []uint64
}

func newLogCleared(h *hunter, r *Rule) (analyzer, error) {
	return &logCleared{h: h, r: r, clears: map[string]*clearGroup{}}, nil
}

// clearedLog names the log an event says was cleared, or "" when the event
// is not a clearing: 1102 (Security, written by the Eventlog service) and
// 104 (System, names the cleared channel in its data).
func clearedLog(ev *timeline.Event) string {
	w := ev.Winlog
	if w == nil || !strings.Contains(w.ProviderName, "Eventlog") {
		return ""
	}
	switch w.EventID {
	case 1102:
		return "Security"
	case 104:
		if c := w.EventData["Channel"]; c != "" {
			return c
		}
		return w.Channel
	}
	return ""
}

func (l *logCleared) wants() interest { return interest{winIDs: []int{1102, 104}} }

func (l *logCleared) observe(ev *timeline.Event) {
	if !l.h.inScope(ev.Timestamp) {
		return
	}
	name := clearedLog(ev)
	if name == "" {
		return
	}
	w := ev.Winlog
	by := ""
	if ev.User != nil && ev.User.Name != "" {
		by = ev.User.Name
		if ev.User.Domain != "" {
			by = ev.User.Domain + `\` + ev.User.Name
		}
	}
	file := fileLabel(ev.Jejak.Provenance)
	k := fileKey(ev.Jejak.Provenance)
	g := l.clears[k]
	if g == nil {
		g = &clearGroup{file: file, host: w.ComputerName}
		l.clears[k] = g
		l.order = append(l.order, k)
	}
	if !slices.Contains(g.names, name) {
		g.names = append(g.names, name)
	}
	if by != "" && !slices.Contains(g.by, by) {
		g.by = append(g.by, by)
	}
	if c := strconv.Itoa(int(w.EventID)); !slices.Contains(g.codes, c) {
		g.codes = append(g.codes, c)
	}
	g.refs = append(g.refs, l.h.ref(ev))
	g.records = append(g.records, w.RecordID)
}

func (l *logCleared) finish() []Finding {
	var out []Finding
	for _, k := range l.order {
		g := l.clears[k]
		where := ""
		if g.host != "" {
			where = " on " + g.host
		}
		by := ""
		if len(g.by) > 0 {
			by = " by " + listNames(g.by, 5)
		}
		key := fmt.Sprintf("%s record %d", g.file, g.records[0])
		if len(g.refs) == 1 {
			r := g.refs[0]
			expl := fmt.Sprintf("%s log cleared%s%s at %s (event %s, record %d in %s)",
				g.names[0], by, where, l.h.tsLocal(r.Timestamp), r.Code, r.RecordID, g.file)
			out = append(out, newFinding(l.r, key, expl, g.refs))
			continue
		}
		slices.Sort(g.records)
		fd := newFinding(l.r, key, "", g.refs)
		what := g.names[0] + " log"
		if len(g.names) > 1 {
			what = fmt.Sprintf("%d logs (%s)", len(g.names), listNames(g.names, 8))
		}
		fd.Explanation = fmt.Sprintf("%s cleared, %d clearing records%s%s, first at %s, last at %s (event %s, records %d-%d in %s)",
			what, len(g.refs), by, where, l.h.tsLocal(fd.First), l.h.tsLocal(fd.Last), strings.Join(g.codes, "/"),
			g.records[0], g.records[len(g.records)-1], g.file)
		out = append(out, fd)
	}
	return out
}

// ---- log integrity: record sequences and a verdict per EVTX file ----

// slackSource is the jejak.data.recovered_from parsers/evtx gives records
// carved from chunk slack: older copies left by a clear or a wrap, outside
// the live sequence (one may repeat a live ID). They are not judged, but a
// gap they fall in says so.
const slackSource = "chunk slack"

// logIntegrity judges each EVTX file's record sequence; its records are
// in the lists it shares with sequenceTime (seqlist.go).
type logIntegrity struct {
	h     *hunter
	r     *Rule
	seqs  *seqLists
	feeds bool
}

func newLogIntegrity(h *hunter, r *Rule) (analyzer, error) {
	l := &logIntegrity{h: h, r: r}
	l.seqs, l.feeds = seqListsFor(h, l, true)
	return l, nil
}

func (l *logIntegrity) wants() interest {
	if !l.feeds {
		return interest{}
	}
	return l.seqs.wants()
}

func (l *logIntegrity) observe(ev *timeline.Event) {
	if l.feeds {
		l.seqs.observe(ev)
	}
}

// gap is a jump in a file's record numbers: missing records between
// two present, slack of them recovered from chunk slack.
type gap struct {
	after, before seqEnt
	missing       uint64
	slack         int
}

// liveRecs reads the records of f log integrity judges, in order of
// EventRecordID: the live ones (not carved from chunk slack), the first
// read of two with one ID (the order each gives ties: the order read).
// slackBelow, when set, is given with each the number of distinct slack
// IDs below its ID, and slackAt whenever a slack record has the ID of
// the live record given last.
func (l *logIntegrity) liveRecs(f *seqFile, fn func(e *seqEnt, slackBelow int), slackAt func()) error {
	var (
		n         int
		lastSeq   uint64
		slackN    int // distinct slack IDs so far
		lastSlack uint64
	)
	return l.seqs.each(l.h.ctx, f, func(e *seqEnt) {
		if e.has(recSlack) {
			if slackN == 0 || e.seq != lastSlack {
				slackN++
				lastSlack = e.seq
			}
			if n > 0 && e.seq == lastSeq && slackAt != nil {
				slackAt()
			}
			return
		}
		if n > 0 && e.seq == lastSeq {
			return // one ID twice: the first read is kept
		}
		n++
		lastSeq = e.seq
		below := slackN
		if slackN > 0 && lastSlack == e.seq {
			below-- // slack of this very ID, read before it
		}
		fn(e, below)
	})
}

// Verdicts, as a report states them.
const (
	VerdictComplete = "complete"
	VerdictRolled   = "rolled over"
	VerdictCleared  = "cleared / records removed"
	VerdictExported = "exported copy"
)

// LogVerdict is what the log-integrity analyzer concluded about one log
// file, finding or not: a report's "Logs examined" table lists every one,
// so an intact log is a line there rather than a finding to read.
type LogVerdict struct {
	File    string    `json:"file"` // evidence » containers » path
	Log     string    `json:"log"`  // channel, else the file name
	Host    string    `json:"host,omitempty"`
	Records int       `json:"records"`
	FirstID uint64    `json:"first_id"`
	LastID  uint64    `json:"last_id"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	Verdict string    `json:"verdict"`
	Reasons []string  `json:"reasons,omitempty"`
	// Finding is the ID of the JEJAK-LOG-02 finding the verdict raised;
	// empty when the log showed no gap, clear or roll-over that matters.
	Finding string `json:"finding,omitempty"`
}

func (l *logIntegrity) finish() []Finding {
	var out []Finding
	var examined []LogVerdict
	s := l.seqs
	defer s.done()
	for _, f := range s.files {
		if f.kind != "record" {
			continue // wtmp, USN: sequence vs time's
		}
		fd, lv, ok, err := l.judge(f)
		if err != nil {
			l.h.fail(fmt.Errorf("%s: %s: %w", l.r.ID, fileLabel(f.prov), err))
			if l.h.ctx.Err() != nil {
				break
			}
			continue
		}
		if !ok {
			continue // only slack records: no live log to judge
		}
		if fd != nil {
			out = append(out, *fd)
		}
		examined = append(examined, lv)
	}
	if l.h.cfg.Examined != nil {
		// Map order is random; the report's table must not be.
		slices.SortFunc(examined, func(a, b LogVerdict) int {
			if c := strings.Compare(a.File, b.File); c != 0 {
				return c
			}
			if c := cmp.Compare(a.FirstID, b.FirstID); c != 0 {
				return c
			}
			return cmp.Compare(a.LastID, b.LastID)
		})
		for _, lv := range examined {
			l.h.cfg.Examined(lv)
		}
	}
	return out
}

// judge is the verdict on one EVTX file, and its finding when notable.
// It reads the file's records once in EventRecordID order, keeping only
// what the verdict names (first, last, clearing records, gaps), and once
// more for an exported copy, sorted by header number.
func (l *logIntegrity) judge(f *seqFile) (fd *Finding, lv LogVerdict, ok bool, err error) {
	after := l.h.cfg.After
	s := l.seqs
	var (
		n           int
		first, last seqEnt
		minTS       time.Time
		maxTS       time.Time
		exported    bool
		clears      []seqEnt
		seqGaps     []gap
		// slack IDs below the first record, and below and at the last.
		slackFirst, slackBelow int
		slackAtLast            bool
	)
	err = l.liveRecs(f, func(e *seqEnt, below int) {
		t := e.ts()
		if n == 0 {
			first, slackFirst, minTS, maxTS = *e, below, t, t
		} else {
			if e.seq > last.seq+1 && !exported {
				// An exported copy's gaps are by header number;
				// once it is one, these are of no use.
				seqGaps = append(seqGaps, gap{after: last, before: *e, missing: e.seq - last.seq - 1,
					slack: below - slackBelow - b2i(slackAtLast)})
			}
			if t.Before(minTS) {
				minTS = t
			}
			if t.After(maxTS) {
				maxTS = t
			}
		}
		n++
		last, slackBelow, slackAtLast = *e, below, false
		if e.hdr != 0 && e.hdr != e.seq {
			exported = true
		}
		if e.has(recClears) {
			clears = append(clears, *e)
		}
	}, func() { slackAtLast = true })
	if err != nil || n == 0 {
		return nil, lv, false, err
	}
	label := fileLabel(f.prov)
	name := f.channel
	if name == "" {
		name = baseName(f.prov)
	}
	var reasons []string
	refs := []EventRef{s.ref(f, &first, "Creation Time", true)}
	// notable: the verdict is a finding. Only a gap, a clearing record,
	// or a roll-over that may have overwritten records from after the
	// cut-off is; an intact log (complete, exported, or rolled over
	// before the cut-off) is a line in the report's table. Every log
	// used to be a finding, and an examiner read one per EVTX file.
	notable := false
	sev := Informational
	raise := func(s Severity) { sev = max(sev, s); notable = true }
	verdict := VerdictComplete

	for _, c := range clears {
		verdict = VerdictCleared
		cts := c.ts()
		reasons = append(reasons, fmt.Sprintf("record %d (event %s) at %s records that the log was cleared", c.seq, s.codes[c.code], ts(cts)))
		refs = append(refs, s.ref(f, &c, "Creation Time", true))
		if after.IsZero() || !cts.Before(after) {
			raise(l.r.Severity)
		} else {
			raise(Low)
		}
	}
	if exported {
		if verdict == VerdictComplete {
			verdict = VerdictExported
		}
		reasons = append(reasons, "record headers are renumbered 1..n while EventRecordIDs keep the original numbers: the file was saved from a log (Event Viewer 'Save', wevtutil epl with a query), so gaps in EventRecordID reflect that selection, not deletion")
		var firstHdr uint64
		if seqGaps, firstHdr, err = l.hdrGaps(f); err != nil {
			return nil, lv, false, err
		}
		if firstHdr > 1 {
			reasons = append(reasons, fmt.Sprintf("the saved copy starts at header record %d, not 1", firstHdr))
		}
	}
	var missing uint64
	for _, g := range seqGaps {
		missing += g.missing
		verdict = VerdictCleared
		what := "records"
		if exported {
			what = "header records"
		}
		a, b := g.after.seq, g.before.seq
		if exported {
			a, b = g.after.hdr, g.before.hdr
		}
		beforeTS := g.before.ts()
		reason := fmt.Sprintf("%s %d-%d missing (%d) between %s and %s", what, a+1, b-1, g.missing, ts(g.after.ts()), ts(beforeTS))
		if g.slack > 0 && !exported {
			reason += fmt.Sprintf("; %d of them recovered from chunk slack (rows tagged recovered)", g.slack)
		}
		reasons = append(reasons, reason)
		refs = append(refs, s.ref(f, &g.after, "Creation Time", true), s.ref(f, &g.before, "Creation Time", true))
		if after.IsZero() || !beforeTS.Before(after) {
			raise(l.r.Severity)
		} else {
			raise(Low)
		}
	}
	firstTS, lastTS := first.ts(), last.ts()
	if !exported && first.seq > 1 {
		if verdict == VerdictComplete {
			verdict = VerdictRolled
		}
		reason := fmt.Sprintf("the oldest record is %d (%s): records 1-%d are not in the file; a log that reached its maximum size overwrites its oldest records (retention policy)", first.seq, ts(firstTS), first.seq-1)
		if slackFirst > 0 {
			reason += fmt.Sprintf("; %d of them recovered from chunk slack (rows tagged recovered)", slackFirst)
		}
		reasons = append(reasons, reason)
		// Overwritten records older than the cut-off are retention;
		// when the oldest kept record is after it, what was logged
		// around the cut-off may be gone, and that is worth a line
		// among the findings (low: a full log does this by itself).
		if !after.IsZero() && firstTS.After(after) {
			raise(Low)
		}
	}
	if !after.IsZero() && firstTS.After(after) {
		reasons = append(reasons, fmt.Sprintf("the oldest record (%s) is after the cut-off %s: the log holds nothing from before it", ts(firstTS), ts(after)))
	}
	if !after.IsZero() && lastTS.Before(after) {
		reasons = append(reasons, fmt.Sprintf("the newest record (%s) is before the cut-off %s: nothing was logged after it", ts(lastTS), ts(after)))
	}
	if verdict == VerdictComplete {
		reasons = append(reasons, fmt.Sprintf("records %d-%d all present", first.seq, last.seq))
	}
	refs = append(refs, s.ref(f, &last, "Creation Time", true))
	lv = LogVerdict{File: label, Log: name, Host: f.winHost, Records: n, FirstID: first.seq, LastID: last.seq,
		First: minTS, Last: maxTS, Verdict: verdict, Reasons: reasons}
	if notable {
		f1 := newFinding(l.r, label, "", refs)
		fd = &f1
		fd.Severity = sev
		fd.Verdict = verdict
		fd.Reasons = reasons
		fd.First, fd.Last = lv.First, lv.Last
		host := ""
		if f.winHost != "" {
			host = " of " + f.winHost
		}
		fd.Explanation = fmt.Sprintf("%s log%s (%s): %s — %d records, IDs %d-%d", name, host, label, verdict, n, first.seq, last.seq)
		if missing > 0 {
			fd.Explanation += fmt.Sprintf(", %d missing in %s", missing, plural(len(seqGaps), "gap", "gaps"))
		}
		if len(clears) > 0 {
			fd.Explanation += fmt.Sprintf(", %s", plural(len(clears), "clearing record", "clearing records"))
		}
		lv.Finding = fd.ID
	}
	return fd, lv, true, nil
}

// hdrGaps reads the records of an exported copy again, sorted by header
// number (spilled like the rest past the budget), for its gaps, and says
// the first header number.
func (l *logIntegrity) hdrGaps(f *seqFile) (gaps []gap, firstHdr uint64, err error) {
	s := l.seqs
	hf := &seqFile{prov: f.prov, kind: f.kind, byHdr: true}
	s.byHdr = hf
	defer func() { s.held -= len(hf.recs); s.byHdr = nil }()
	err = l.liveRecs(f, func(e *seqEnt, _ int) {
		var o *oddRec
		if e.has(recOdd) {
			o = &oddRec{id: e.oddID, ts: e.oddTS}
		}
		s.add(hf, e.seqRec, o)
	}, nil)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	var prev seqEnt
	err = s.each(l.h.ctx, hf, func(e *seqEnt) {
		if n == 0 {
			firstHdr = e.hdr
		} else if e.hdr > prev.hdr+1 {
			gaps = append(gaps, gap{after: prev, before: *e, missing: e.hdr - prev.hdr - 1})
		}
		n++
		prev = *e
	})
	return gaps, firstHdr, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
