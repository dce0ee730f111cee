package elastic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// metaID is the ID of the one document of the case index.
const metaID = "case"

// CaseMeta is the case index's document: what case.json says, and the case
// folder's files verbatim (name → content), so a pulled folder has the
// very bytes the custody chain's digests were taken of.
type CaseMeta struct {
	Name          string            `json:"name"`
	Examiner      string            `json:"examiner"`
	Zone          string            `json:"zone"`
	Created       time.Time         `json:"created"`
	ToolVersion   string            `json:"tool_version"`
	SigningKey    string            `json:"signing_key,omitempty"`
	FormatVersion int               `json:"format_version"`
	PushedAt      time.Time         `json:"pushed_at"`
	PushedBy      string            `json:"pushed_by"`
	Files         map[string]string `json:"files"`
}

// PutMeta writes the case document.
func (c *CaseStore) PutMeta(ctx context.Context, m CaseMeta) error {
	_, err := c.put(ctx, PartCase, metaID, m, "", nil)
	return err
}

// Meta reads the case document.
func (c *CaseStore) Meta(ctx context.Context) (CaseMeta, error) {
	var m CaseMeta
	_, found, err := c.get(ctx, PartCase, metaID, &m)
	if err == nil && !found {
		err = fmt.Errorf("%w: %s holds no case document (push one with 'jejak case push CASE --es URL')", ErrNoCase, c.Index(PartCase))
	}
	return m, err
}

// ItemDoc is one evidence item: its registry entry as the case folder
// writes it (evidence.Item's JSON), its place in the registry, and for a
// folder its manifest file verbatim.
type ItemDoc struct {
	ID       string
	Order    int
	Item     json.RawMessage
	Manifest []byte
}

// PutEvidence writes the registry, replacing items of the same ID.
func (c *CaseStore) PutEvidence(ctx context.Context, items []ItemDoc) error {
	ids := make([]string, len(items))
	docs := make([]any, len(items))
	for i, it := range items {
		var m map[string]any
		if err := json.Unmarshal(it.Item, &m); err != nil {
			return fmt.Errorf("evidence %s: %w", it.ID, err)
		}
		m["order"] = it.Order
		if it.Manifest != nil {
			m["manifest_doc"] = it.Manifest // []byte: base64, the binary type
		}
		ids[i], docs[i] = it.ID, m
	}
	return c.bulkPut(ctx, PartEvidence, "index", ids, docs)
}

// Evidence reads the registry in registration order.
func (c *CaseStore) Evidence(ctx context.Context) ([]ItemDoc, error) {
	var out []ItemDoc
	err := c.scan(ctx, PartEvidence, "order", nil, func(src json.RawMessage) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(src, &m); err != nil {
			return err
		}
		var d ItemDoc
		if err := json.Unmarshal(m["id"], &d.ID); err != nil {
			return fmt.Errorf("evidence document without id: %w", err)
		}
		if err := json.Unmarshal(m["order"], &d.Order); err != nil {
			return fmt.Errorf("evidence %s: order: %w", d.ID, err)
		}
		if raw, ok := m["manifest_doc"]; ok {
			if err := json.Unmarshal(raw, &d.Manifest); err != nil {
				return fmt.Errorf("evidence %s: manifest: %w", d.ID, err)
			}
		}
		delete(m, "order")
		delete(m, "manifest_doc")
		item, err := json.Marshal(m)
		if err != nil {
			return err
		}
		d.Item = item
		out = append(out, d)
		return nil
	})
	return out, err
}

// RunDoc is one ingest run: one pushed from a case folder's store, or one
// worker's run over one item.
type RunDoc struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"` // "folder" or "worker"
	Worker      string          `json:"worker,omitempty"`
	Host        string          `json:"host,omitempty"`
	PID         int             `json:"pid,omitempty"`
	Item        []string        `json:"item,omitempty"` // evidence IDs
	SHA256      []string        `json:"sha256,omitempty"`
	Started     time.Time       `json:"started"`
	Finished    *time.Time      `json:"finished,omitempty"`
	State       string          `json:"state"`
	Error       string          `json:"error,omitempty"`
	ToolVersion string          `json:"tool_version,omitempty"`
	Events      int64           `json:"events"`
	Inserted    int64           `json:"inserted"`
	Duplicates  int64           `json:"duplicates"`
	Warnings    int64           `json:"warnings"`
	Summary     json.RawMessage `json:"summary,omitempty"`
}

// PutRuns writes runs, replacing those of the same ID.
func (c *CaseStore) PutRuns(ctx context.Context, runs []RunDoc) error {
	ids := make([]string, len(runs))
	docs := make([]any, len(runs))
	for i := range runs {
		ids[i], docs[i] = runs[i].ID, runs[i]
	}
	return c.bulkPut(ctx, PartRuns, "index", ids, docs)
}

// Runs reads every run, ordered by ID.
func (c *CaseStore) Runs(ctx context.Context) ([]RunDoc, error) {
	var out []RunDoc
	err := c.scan(ctx, PartRuns, "id", nil, func(src json.RawMessage) error {
		var r RunDoc
		if err := json.Unmarshal(src, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

type warningDoc struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Evidence string   `json:"evidence,omitempty"`
	Chain    []string `json:"chain,omitempty"`
	Path     string   `json:"path,omitempty"`
	Parser   string   `json:"parser,omitempty"`
	Offset   int64    `json:"offset"`
	Record   int64    `json:"record"`
	Message  string   `json:"message"`
}

// WarningID is a warning's document ID: a hash of all it says, so the same
// warning from a second run over the same evidence (a worker finishing an
// item another began) is stored once.
func WarningID(w timeline.Warning) string {
	b, _ := json.Marshal(w)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// PutWarnings stores warnings; one already there is kept.
func (c *CaseStore) PutWarnings(ctx context.Context, ws []timeline.Warning) error {
	ids := make([]string, len(ws))
	docs := make([]any, len(ws))
	for i, w := range ws {
		ids[i] = WarningID(w)
		docs[i] = warningDoc{ID: ids[i], Kind: string(w.Kind), Evidence: w.Evidence, Chain: w.Chain, Path: w.Path,
			Parser: w.Parser, Offset: w.Offset, Record: w.Record, Message: w.Message}
	}
	return c.bulkPut(ctx, PartWarnings, "create", ids, docs)
}

// Warnings streams every stored warning, ordered by ID.
func (c *CaseStore) Warnings(ctx context.Context, fn func(timeline.Warning) error) error {
	return c.scan(ctx, PartWarnings, "id", nil, func(src json.RawMessage) error {
		var d warningDoc
		if err := json.Unmarshal(src, &d); err != nil {
			return err
		}
		return fn(timeline.Warning{Kind: timeline.WarningKind(d.Kind), Evidence: d.Evidence, Chain: d.Chain, Path: d.Path,
			Parser: d.Parser, Offset: d.Offset, Record: d.Record, Message: d.Message})
	})
}
