package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Hunt describes one stored hunt. Its JSON form is what `jejak report`
// and --json print of it.
type Hunt struct {
	Key         string          `json:"key"`
	Params      json.RawMessage `json:"params"` // a JSON object; empty means {}
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished"`
	ToolVersion string          `json:"tool_version"`
	Findings    int             `json:"findings"`
}

// Finding is one stored finding: the fields reports filter on and the
// finding itself as JSON (json.Marshal of a hunt.Finding), kept verbatim.
// The fields repeat members of Doc, and must agree with them (Check): the
// Elasticsearch store keeps only the document and reads them back from
// it, the SQLite store keeps both.
type Finding struct {
	ID       string
	RuleID   string
	Severity string
	First    time.Time
	Last     time.Time
	Events   int // number of events the finding cites
	Doc      json.RawMessage
}

// findingDoc is what Check reads of a finding's document.
type findingDoc struct {
	ID       *string         `json:"id"`
	RuleID   *string         `json:"rule_id"`
	Severity *string         `json:"severity"`
	First    *time.Time      `json:"first"`
	Last     *time.Time      `json:"last"`
	Events   elements        `json:"events"`
	Hunt     json.RawMessage `json:"hunt"`
}

// elements counts the members of a JSON array (null: none) without
// decoding them: a finding's events are most of its bytes, and decoding
// each into a json.RawMessage of its own cost Check 122 allocations a
// finding of 100 events instead of 13, and about twice the time
// (BenchmarkCheck). Written by hand: encoding/json has handed over one valid array,
// so only strings (which may hold commas and brackets) and nesting need
// telling apart.
type elements int

func (n *elements) UnmarshalJSON(b []byte) error {
	*n = 0
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '[' {
		return errors.New("events is not an array")
	}
	depth, inString, escaped, member := 0, false, false, false
	for _, c := range b[1 : len(b)-1] {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			*n++
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		member = true
	}
	if member {
		*n++
	}
	return nil
}

// Check says whether f can be stored alike in every store: Doc is one
// JSON object on one line whose id, rule_id, severity, first, last and the
// length of its events array are f's fields, and which has no "hunt"
// member (the Elasticsearch store adds that one).
func (f Finding) Check() error {
	if f.ID == "" {
		return errors.New("finding without an ID")
	}
	d := f.Doc
	if len(d) == 0 || d[0] != '{' || d[len(d)-1] != '}' {
		// Nothing around the object either: the Elasticsearch store
		// splices the hunt key in after the '{' and sends the bytes as
		// they are, which the case store keeps as they are.
		return fmt.Errorf("finding %s: document is not one JSON object, with nothing around it", f.ID)
	}
	if bytes.ContainsAny(f.Doc, "\r\n") {
		// One line: the Elasticsearch store sends it in a bulk request,
		// one document per line. (Inside a JSON string a line break is
		// always escaped, so a raw one is whitespace between tokens.)
		return fmt.Errorf("finding %s: document is not on one line (json.Marshal's form)", f.ID)
	}
	var doc findingDoc
	if err := json.Unmarshal(d, &doc); err != nil {
		return fmt.Errorf("finding %s: %w", f.ID, err)
	}
	var bad []string
	if doc.ID == nil || *doc.ID != f.ID {
		bad = append(bad, "id")
	}
	if doc.RuleID == nil || *doc.RuleID != f.RuleID {
		bad = append(bad, "rule_id")
	}
	if doc.Severity == nil || *doc.Severity != f.Severity {
		bad = append(bad, "severity")
	}
	if doc.First == nil || !doc.First.Equal(f.First) {
		bad = append(bad, "first")
	}
	if doc.Last == nil || !doc.Last.Equal(f.Last) {
		bad = append(bad, "last")
	}
	if int(doc.Events) != f.Events {
		bad = append(bad, "events")
	}
	if len(bad) > 0 {
		return fmt.Errorf("finding %s: the document's %v differ from the record's", f.ID, bad)
	}
	if doc.Hunt != nil {
		return fmt.Errorf("finding %s: the document has a \"hunt\" member of its own", f.ID)
	}
	return nil
}

// FindingFromDoc reads a Finding's fields back from its document: what a
// store that keeps only the document (Elasticsearch) returns. Times are
// in UTC, as every store returns them.
func FindingFromDoc(doc []byte) (Finding, error) {
	var d findingDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return Finding{}, fmt.Errorf("read finding: %w", err)
	}
	if d.ID == nil || d.RuleID == nil || d.Severity == nil || d.First == nil || d.Last == nil {
		return Finding{}, errors.New("read finding: document lacks id, rule_id, severity, first or last")
	}
	return Finding{ID: *d.ID, RuleID: *d.RuleID, Severity: *d.Severity,
		First: d.First.UTC(), Last: d.Last.UTC(), Events: int(d.Events), Doc: doc}, nil
}

// Check says whether h can be stored alike in every store: it has a key,
// and its parameters, when given, are one compact JSON object.
func (h Hunt) Check() error {
	if h.Key == "" {
		return errors.New("hunt without a key")
	}
	if len(h.Params) == 0 {
		return nil
	}
	var c bytes.Buffer
	if err := json.Compact(&c, h.Params); err != nil {
		return fmt.Errorf("hunt %s: params: %w", h.Key, err)
	}
	if c.Len() != len(h.Params) || h.Params[0] != '{' {
		return fmt.Errorf("hunt %s: params are not one compact JSON object", h.Key)
	}
	return nil
}

// CheckHunt is what PutHunt checks in every store before it writes
// anything: the hunt (Hunt.Check), each finding (Finding.Check), and that
// no two findings share an ID (the case store would refuse the second one
// half-way, and Elasticsearch keep one of them under the shared ID).
func CheckHunt(h Hunt, fs []Finding) error {
	if err := h.Check(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if err := f.Check(); err != nil {
			return fmt.Errorf("hunt %s: %w", h.Key, err)
		}
		if seen[f.ID] {
			return fmt.Errorf("hunt %s: two findings with ID %s", h.Key, f.ID)
		}
		seen[f.ID] = true
	}
	return nil
}
