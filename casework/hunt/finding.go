package hunt

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Finding is what a rule says about a set of events: the rule, how serious,
// when, which rows (walkable back to the evidence bytes), and one line a
// reader understands without opening the rows.
type Finding struct {
	// ID is a hash of the rule ID, the key and the event IDs: stable across
	// runs and stores, so reports and court exhibits can cite it.
	ID        string   `json:"id"`
	RuleID    string   `json:"rule_id"`
	Title     string   `json:"title"`
	Severity  Severity `json:"severity"`
	Technique string   `json:"technique,omitempty"` // MITRE ATT&CK ID, e.g. T1110.001
	// Key names what the finding is about within its rule (a source IP, a
	// log file, a user), so two findings of one rule can be told apart.
	Key         string    `json:"key"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	Explanation string    `json:"explanation"`
	// Verdict and Reasons are set by analyzers that judge something whole
	// (a log file: "rolled over" or "cleared / records removed").
	Verdict string     `json:"verdict,omitempty"`
	Reasons []string   `json:"reasons,omitempty"`
	Events  []EventRef `json:"events"`
}

// EventRef is one matching row: its ID and enough of it to find it in the
// evidence without the store.
type EventRef struct {
	ID            string              `json:"id"`
	Timestamp     time.Time           `json:"@timestamp"`
	TimestampDesc string              `json:"timestamp_desc"`
	Code          string              `json:"event_code,omitempty"` // event.code (EVTX event ID)
	RecordID      uint64              `json:"record_id,omitempty"`  // winlog.record_id
	Message       string              `json:"message,omitempty"`
	Provenance    timeline.Provenance `json:"provenance"`
	// State says what the row is other than a live record: "deleted" (a
	// deleted file's), "recovered" (a record carved from slack). A court
	// reads a finding on such a row differently.
	State []string `json:"state,omitempty"`
}

// stateTags are the event tags a finding's row carries over.
var stateTags = []string{"deleted", "recovered"}

const maxRefMessage = 240

func (h *hunter) ref(ev *timeline.Event) EventRef {
	r := EventRef{
		ID:            ev.Jejak.ID,
		Timestamp:     ev.Timestamp.UTC(),
		TimestampDesc: h.intern(ev.TimestampDesc),
		Code:          h.intern(ev.Event.Code),
		Message:       ev.Message,
		Provenance:    h.internProv(ev.Jejak.Provenance),
	}
	if ev.Winlog != nil {
		r.RecordID = ev.Winlog.RecordID
	}
	for _, t := range stateTags {
		if slices.Contains(ev.Jejak.Tags, t) {
			r.State = append(r.State, t)
		}
	}
	if len(r.Message) > maxRefMessage {
		cut := maxRefMessage
		for cut > 0 && !utf8Start(r.Message[cut]) {
			cut--
		}
		r.Message = r.Message[:cut] + "…"
	}
	return r
}

// refPtr is ref(ev) shared by the analyzers that hold the same event's
// row. Holding ev keeps its memory from being reused for a later event;
// the ID is compared too, for a store that decodes every event into one
// Event.
func (h *hunter) refPtr(ev *timeline.Event) *EventRef {
	if h.refEv != ev || h.refVal.ID != ev.Jejak.ID {
		r := h.ref(ev)
		h.refEv, h.refVal = ev, &r
	}
	return h.refVal
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// newFinding fills the rule's fields and the derived ones (span, ID).
func newFinding(r *Rule, key, explanation string, events []EventRef) Finding {
	f := Finding{RuleID: r.ID, Title: r.Title, Severity: r.Severity, Technique: r.Technique,
		Key: key, Explanation: explanation, Events: events}
	f.finish()
	return f
}

// finish sorts the events, sets the span and computes the ID.
func (f *Finding) finish() {
	slices.SortFunc(f.Events, func(a, b EventRef) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	f.Events = slices.CompactFunc(f.Events, func(a, b EventRef) bool { return a.ID == b.ID })
	if len(f.Events) > 0 {
		f.First = f.Events[0].Timestamp
		f.Last = f.Events[len(f.Events)-1].Timestamp
		for _, e := range f.Events {
			if e.Timestamp.After(f.Last) {
				f.Last = e.Timestamp
			}
		}
	}
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put("jejak-finding-v1")
	put(f.RuleID)
	put(f.Key)
	for _, e := range f.Events {
		put(e.ID)
	}
	f.ID = hex.EncodeToString(h.Sum(nil)[:16])
}

// SortFindings puts findings in report order: by first time, then the most
// severe first, then rule and key, and the ID as the last tie-breaker.
func SortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(a.RuleID, b.RuleID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Summary is one line of the end-of-hunt table: a rule, how many findings
// and matching events, and their span.
type Summary struct {
	RuleID    string    `json:"rule_id"`
	Title     string    `json:"title"`
	Severity  Severity  `json:"severity"` // the severity of the findings counted on this line
	Technique string    `json:"technique,omitempty"`
	Findings  int       `json:"findings"`
	Events    int       `json:"events"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// Summarize groups findings by rule and severity, most severe first, then
// by rule ID.
func Summarize(fs []Finding) []Summary {
	// One line per rule and severity: a rule's informational findings
	// (expected activity it states for completeness) are not counted
	// under its high ones.
	type key struct {
		rule string
		sev  Severity
	}
	by := map[key]*Summary{}
	for _, f := range fs {
		k := key{f.RuleID, f.Severity}
		s := by[k]
		if s == nil {
			s = &Summary{RuleID: f.RuleID, Title: f.Title, Severity: f.Severity, Technique: f.Technique, First: f.First, Last: f.Last}
			by[k] = s
		}
		s.Findings++
		s.Events += len(f.Events)
		if f.First.Before(s.First) {
			s.First = f.First
		}
		if f.Last.After(s.Last) {
			s.Last = f.Last
		}
	}
	out := make([]Summary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	return out
}
