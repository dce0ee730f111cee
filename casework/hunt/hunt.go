package hunt

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// transientSearcher is a Searcher that can hand out events valid only
// during fn, with Related left nil (the sqlite store: it then reuses its
// decoded events, and equal sub-objects of different events, an event
// meta, a host, a jejak.data map, may be one value shared by them). The
// hunt's pass over the timeline qualifies: no rule reads related.*, no
// rule keeps an *Event past its observe (clock.go keeps a copy; refPtr
// compares the event's ID besides its address), and no rule changes an
// event or anything it points to.
type transientSearcher interface {
	SearchTransient(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error
}

// Searcher is what a hunt reads: any timeline store (sqlite, elastic).
type Searcher interface {
	Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error
}

// Config says what to hunt for.
type Config struct {
	// After is the cut-off (when tabulation closed): findings are about
	// events from After on; earlier events are the baseline. Zero: no
	// baseline, everything is in scope.
	After time.Time
	// Before, when set, ends the hunt window (exclusive).
	Before time.Time
	// Rules to run; nil means Builtin(). Add Sigma rules from LoadSigma.
	Rules []*Rule
	// Watch lists paths (as seen inside the evidence, e.g. the database
	// folder) whose files must not change after the cut-off.
	Watch []string
	// WorkingHours, when set, flags logons outside them.
	WorkingHours *WorkingHours
	// Zone is the case zone, for working hours and readable times.
	Zone *time.Location
	// Progress, when set, is called every 100,000 events with the count.
	Progress func(events int64)
	// Examined, when set, is given the verdict on every log file whose
	// record sequence was judged (JEJAK-LOG-02), intact or not, in a stable
	// order: intact logs are not findings, but a report lists them.
	Examined func(LogVerdict)
	// MinSeverity drops findings below it from what Hunt returns.
	MinSeverity Severity
	// TempDir is where a check whose state would grow with the evidence
	// (timestomp's records per MFT entry, the sequence checks' entry per
	// log record) spills it: the case's temp folder, which casework
	// always sets. Empty: the system's temp folder (os.TempDir). Not part
	// of the hunt's parameters.
	TempDir string
}

// WorkingHours is a daily span in a zone; End before Start spans midnight.
type WorkingHours struct {
	Start, End time.Duration // since local midnight
	Zone       *time.Location
}

// ParseWorkingHours reads "07:00-19:00".
func ParseWorkingHours(s string, zone *time.Location) (*WorkingHours, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return nil, fmt.Errorf("working hours %q: want HH:MM-HH:MM", s)
	}
	parse := func(x string) (time.Duration, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("working hours %q: %q is not HH:MM", s, x)
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
	}
	start, err := parse(a)
	if err != nil {
		return nil, err
	}
	end, err := parse(b)
	if err != nil {
		return nil, err
	}
	if start == end {
		return nil, fmt.Errorf("working hours %q: start equals end", s)
	}
	if zone == nil {
		zone = time.UTC
	}
	return &WorkingHours{Start: start, End: end, Zone: zone}, nil
}

// Contains reports whether t falls inside the working hours.
func (w *WorkingHours) Contains(t time.Time) bool {
	l := t.In(w.Zone)
	d := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute +
		time.Duration(l.Second())*time.Second + time.Duration(l.Nanosecond())
	if w.Start < w.End {
		return d >= w.Start && d < w.End
	}
	return d >= w.Start || d < w.End
}

func (w *WorkingHours) String() string {
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return f(w.Start) + "-" + f(w.End) + " " + w.Zone.String()
}

// analyzer is a Go rule: it sees every event up to Before, in time order,
// and says what it found at the end.
type analyzer interface {
	observe(ev *timeline.Event)
	finish() []Finding
}

// analyzers lists every Go analyzer by the name rule files use. Explicit,
// so a reader sees what exists.
var analyzers = map[string]func(h *hunter, r *Rule) (analyzer, error){
	"brute-force":            newBruteForce,
	"first-seen":             newFirstSeen,
	"working-hours":          newWorkingHours,
	"account-change":         newAccountChange,
	"log-cleared":            newLogCleared,
	"log-integrity":          newLogIntegrity,
	"clock-change":           newClockChange,
	"sequence-time":          newSequenceTime,
	"timestomp":              newTimestomp,
	"watched-files":          newWatchedFiles,
	"db-write":               newDBWrite,
	"web-admin":              newWebAdmin,
	"photo-edited":           newPhotoEdited,
	"photo-after-cutoff":     newPhotoAfter,
	"deleted-photo-evidence": newDeletedPhoto,
	"password-spray":         newPasswordSpray,
	"kerberos-preauth":       newKerberosBurst,
	"pass-the-hash":          newPassTheHash,
	"explicit-credentials":   newExplicitCreds,
	"mssql-brute-force":      newMSSQLBurst,
	"linux-command":          newLinuxCommand,
	"deleted-log-file":       newDeletedLogFile,
	"service-install":        newServiceInstall,
	"scheduled-task":         newScheduledTask,
	"scheduled-task-removed": newTaskRemoved,
	"rdp-session":            newRDPSession,
	"settings-change":        newSettingsChange,
	"usb-first-connected":    newUSBFirst,
	"remote-access-session":  newRemoteAccess,
	"baseline-binary":        newBaselineBinary,
}

// hunter is one run: the config, the analyzers and the string interner
// that keeps event references small.
type hunter struct {
	cfg      Config
	zone     *time.Location
	strs     map[string]string
	chains   map[string][]string
	anas     []analyzer
	anaRules []*Rule // the rule of each analyzer
	sigmas   []*sigmaMatches
	// claimants are the rules another loaded rule yields to; claims maps
	// an event row to those of them whose findings hold it (overlap.go).
	claimants map[string][]string // rule ID → the loaded rules yielding to it
	claims    map[string][]string
	// store and ctx let an analyzer read rows back at finish instead of
	// holding them all (first-seen, auth.go); errs collects what failed.
	store Searcher
	ctx   context.Context
	errs  error
	// cmds caches split command lines (anticmd.go).
	cmds map[string][]simpleCmd
	// brutes are the brute-force rules' shared episodes (auth.go).
	brutes map[bruteTrackKey]*bruteTrack
	// lastChain is the chain internProv gave last.
	lastChain []string
	// seqs: the record lists the sequence checks share (seqlist.go).
	seqs *seqLists
	// refEv and refVal: the event refPtr gave a row for last, and it.
	refEv  *timeline.Event
	refVal *EventRef
	// lastProv and lastKey: the provenance fileKeyOf keyed last, and its
	// key; keysByPath, the ones it keyed before.
	lastProv   timeline.Provenance
	lastKey    string
	keysByPath map[string]*fileKeyed
}

// fail records an analyzer's error: Hunt returns it with the findings.
func (h *hunter) fail(err error) { h.errs = errors.Join(h.errs, err) }

// Hunt reads the case timeline once and returns the findings in report
// order.
func Hunt(ctx context.Context, store Searcher, cfg Config) ([]Finding, error) {
	if !cfg.After.IsZero() && !cfg.Before.IsZero() && !cfg.Before.After(cfg.After) {
		return nil, fmt.Errorf("hunt window: before %s is not after after %s", cfg.Before.Format(time.RFC3339), cfg.After.Format(time.RFC3339))
	}
	h, err := newHunter(ctx, store, cfg)
	defer func() {
		// The sequence checks' spill file, when the hunt ends before
		// they finish (a read error, a cancel): that error is the
		// hunt's; after they finish, done has released it already.
		if h.seqs != nil {
			_ = h.seqs.release()
		}
	}()
	if err != nil {
		return nil, err
	}
	disp := newDispatch(h.anas) // each event to the analyzers that want it (dispatch.go)
	var n int64
	var sigmaErr error
	sigmaIdx := newSigmaIndex(h.sigmas) // the rules each event's log source can meet
	search := store.Search
	if t, ok := store.(transientSearcher); ok {
		search = t.SearchTransient
	}
	if p, ok := store.(projectedSearcher); ok {
		// Only the map entries some rule can read (proj.go).
		if proj := projection(sigmaIdx); proj != nil {
			search = func(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
				return p.SearchProjected(ctx, q, proj, fn)
			}
		}
	}
	err = search(ctx, timeline.Query{To: cfg.Before}, func(ev *timeline.Event) error {
		n++
		if n%100000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if cfg.Progress != nil {
				cfg.Progress(n)
			}
		}
		disp.observe(ev)
		if len(h.sigmas) > 0 && h.inScope(ev.Timestamp) {
			var m map[string]any
			sigmaIdx.next()
			for _, s := range sigmaIdx.candidates(ev) {
				if !s.rule.sigma.applies(ev) {
					continue
				}
				if m == nil {
					m = sigmaIdx.event(ev)
				}
				if !sigmaIdx.mayMatch(s, m) {
					continue // cannot match (sigma_prefilter.go)
				}
				ok, err := s.rule.sigma.matches(ctx, m)
				if err != nil {
					sigmaErr = errors.Join(sigmaErr, fmt.Errorf("rule %s on event %s: %w", s.rule.ID, ev.Jejak.ID, err))
					continue
				}
				if ok {
					s.add(ev)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hunt: read timeline: %w", err)
	}
	if cfg.Progress != nil {
		cfg.Progress(n)
	}
	// A rule finishes after the rules it yields to (overlap.go), so the
	// rows they claimed are known when it judges its own.
	fins := make([]finisher, 0, len(h.anas)+len(h.sigmas))
	for i, a := range h.anas {
		fins = append(fins, finisher{rule: h.anaRules[i], finish: a.finish})
	}
	for _, s := range h.sigmas {
		fins = append(fins, finisher{rule: s.rule, finish: s.finish})
	}
	fins, err = finishOrder(fins)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, f := range fins {
		fs := f.finish()
		h.claim(f.rule, fs)
		out = append(out, fs...)
	}
	if cfg.MinSeverity > Informational {
		out = slices.DeleteFunc(out, func(f Finding) bool { return f.Severity < cfg.MinSeverity })
	}
	SortFindings(out)
	// A rule erring on one event (a bad regular expression in a user's
	// Sigma file, say) does not hide the others' findings; it is reported.
	return out, errors.Join(sigmaErr, h.errs)
}

// newHunter makes a hunt's analyzers and Sigma rules from cfg. The
// hunter it returns, even with an error, is the caller's to release
// (h.seqs).
func newHunter(ctx context.Context, store Searcher, cfg Config) (*hunter, error) {
	h := &hunter{cfg: cfg, zone: cfg.Zone, strs: map[string]string{}, chains: map[string][]string{},
		claimants: map[string][]string{}, claims: map[string][]string{}, store: store, ctx: ctx}
	if h.zone == nil {
		h.zone = time.UTC
	}
	rules := cfg.Rules
	if rules == nil {
		var err error
		if rules, err = Builtin(); err != nil {
			return h, err
		}
	}
	for _, r := range rules {
		for _, id := range r.YieldsTo {
			h.claimants[id] = append(h.claimants[id], r.ID)
		}
	}
	for _, r := range rules {
		if r.Analyzer != "" {
			mk, ok := analyzers[r.Analyzer]
			if !ok {
				return h, fmt.Errorf("rule %s: unknown analyzer %q", r.ID, r.Analyzer)
			}
			a, err := mk(h, r)
			if err != nil {
				return h, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			if a != nil {
				h.anas = append(h.anas, a)
				h.anaRules = append(h.anaRules, r)
			}
			continue
		}
		if r.sigma == nil {
			return h, fmt.Errorf("rule %s has neither analyzer nor detection", r.ID)
		}
		h.sigmas = append(h.sigmas, &sigmaMatches{h: h, rule: r, byFile: map[string][]EventRef{}})
	}
	return h, nil
}

// inScope: at or after the cut-off (the store query already ends at
// Before).
func (h *hunter) inScope(t time.Time) bool {
	return h.cfg.After.IsZero() || !t.Before(h.cfg.After)
}

func (h *hunter) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := h.strs[s]; ok {
		return v
	}
	h.strs[s] = s
	return s
}

func (h *hunter) internProv(p timeline.Provenance) timeline.Provenance {
	p.EvidenceSHA256 = h.intern(p.EvidenceSHA256)
	p.EvidenceName = h.intern(p.EvidenceName)
	p.Path = h.intern(p.Path)
	p.Parser = h.intern(p.Parser)
	if h.lastChain != nil && slices.Equal(p.Chain, h.lastChain) {
		// Rows come in runs from one file: no key to join for them.
		p.Chain = h.lastChain
		return p
	}
	key := strings.Join(p.Chain, "\x00")
	if c, ok := h.chains[key]; ok {
		p.Chain = c
	} else {
		h.chains[key] = p.Chain
	}
	if p.Chain != nil {
		h.lastChain = p.Chain
	}
	return p
}

// fileKey names the file an event was read from (evidence, chain, path,
// and the identity that tells two copies at one path apart).
func fileKey(p timeline.Provenance) string {
	return p.EvidenceSHA256 + "\x00" + strings.Join(p.Chain, "\x00") + "\x00" + p.Path + "\x00" + p.Identity
}

// fileKeyOf is fileKey(p), built once for a run of rows from one file:
// the EVTX record-sequence rules key every record by its file, and a key
// built per record, twice, was a sixth of an EVTX hunt's own time.
//
// When many files cover the same hours (1000 EVTX copies) consecutive rows
// are of different files, and the key was built, a string of every part,
// for nearly every row: the keys made are kept by path, the part that
// tells files apart most cheaply, and a row's is found there unless two
// files share a path.
func (h *hunter) fileKeyOf(p timeline.Provenance) string {
	l := &h.lastProv
	if h.lastKey != "" && sameFile(p, l) {
		return h.lastKey
	}
	e := h.keysByPath[p.Path]
	if e == nil || !sameFile(p, &e.prov) {
		if h.keysByPath == nil {
			h.keysByPath = map[string]*fileKeyed{}
		} else if len(h.keysByPath) >= maxKeysByPath {
			clear(h.keysByPath) // a cache: bounded, whatever the files
		}
		e = &fileKeyed{prov: p, key: fileKey(p)}
		e.prov.Chain = slices.Clone(p.Chain) // compared with later rows' chains
		h.keysByPath[p.Path] = e
	}
	h.lastProv, h.lastKey = e.prov, e.key
	return h.lastKey
}

// maxKeysByPath bounds fileKeyOf's keys kept by path.
const maxKeysByPath = 1 << 14

// fileKeyed is a provenance fileKeyOf keyed, and its key.
type fileKeyed struct {
	prov timeline.Provenance
	key  string
}

// sameFile reports whether p and q name the same file as fileKey does.
func sameFile(p timeline.Provenance, q *timeline.Provenance) bool {
	return p.Path == q.Path && p.EvidenceSHA256 == q.EvidenceSHA256 && p.Identity == q.Identity && slices.Equal(p.Chain, q.Chain)
}

// fileLabel is the file as a reader names it.
func fileLabel(p timeline.Provenance) string {
	if len(p.Chain) > 0 {
		return p.Display()
	}
	return p.EvidenceName + " » " + p.Path
}

// baseName is the last element of a provenance path.
func baseName(p timeline.Provenance) string { return path.Base(strings.ReplaceAll(p.Path, `\`, "/")) }

// ts formats a time for explanations: UTC, to the second (nanoseconds
// when the second alone would hide an order).
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// tsLocal adds the case zone when it is not UTC.
func (h *hunter) tsLocal(t time.Time) string {
	if h.zone == time.UTC {
		return ts(t)
	}
	return ts(t) + " (" + t.In(h.zone).Format("15:04:05 MST") + ")"
}

// sigmaMatches collects one Sigma rule's matches, grouped by file: one
// finding per rule and log file, with every matching record.
type sigmaMatches struct {
	h      *hunter
	rule   *Rule
	byFile map[string][]EventRef
	labels map[string]string
}

func (s *sigmaMatches) add(ev *timeline.Event) {
	k := fileKey(ev.Jejak.Provenance)
	if s.labels == nil {
		s.labels = map[string]string{}
	}
	if _, ok := s.labels[k]; !ok {
		s.labels[k] = fileLabel(ev.Jejak.Provenance)
	}
	s.byFile[k] = append(s.byFile[k], s.h.ref(ev))
}

func (s *sigmaMatches) finish() []Finding {
	var out []Finding
	for k, refs := range s.byFile {
		// Rows a rule this one yields to has in a finding are not
		// counted here (overlap.go).
		left := leftTo{}
		refs = slices.DeleteFunc(refs, func(r EventRef) bool {
			if id := s.h.claimedFor(s.rule, r.ID); id != "" {
				left[id]++
				return true
			}
			return false
		})
		if len(refs) == 0 {
			continue
		}
		label := s.labels[k]
		codes := map[string]int{}
		var order []string
		for _, r := range refs {
			c := r.Code
			if c == "" {
				c = "-"
			}
			if codes[c] == 0 {
				order = append(order, c)
			}
			codes[c]++
		}
		var parts []string
		for _, c := range order {
			if c == "-" {
				parts = append(parts, fmt.Sprintf("%d", codes[c]))
			} else {
				parts = append(parts, fmt.Sprintf("%d× event %s", codes[c], c))
			}
		}
		f := newFinding(s.rule, label, "", refs)
		f.Explanation = fmt.Sprintf("%s matched Sigma rule %q (%s) in %s, %s to %s",
			plural(len(f.Events), "event", "events"), s.rule.Title, strings.Join(parts, ", "), label, ts(f.First), ts(f.Last))
		if first := f.Events[0]; first.RecordID != 0 {
			f.Explanation += fmt.Sprintf("; first record %d", first.RecordID)
		}
		f.Explanation += left.String()
		out = append(out, f)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
