package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// The case in the cluster: beside the timeline index <base> live one index
// per part of the case folder, each with a strict mapping (a field the
// mapping does not name is refused, never guessed), so several machines
// share one case:
//
//	<base>-case      one document: case metadata and the case files verbatim
//	<base>-evidence  the evidence registry, one document per item
//	<base>-custody   the custody chain, one document per entry (line verbatim)
//	<base>-runs      ingest runs: pushed ones and every worker's
//	<base>-warnings  what ingest could not read, one document per warning
//	<base>-claims    which worker holds which item, with a lease
//
// Findings stay where `jejak hunt --es` puts them (FindingsIndex).
const (
	PartCase     = "case"
	PartEvidence = "evidence"
	PartCustody  = "custody"
	PartRuns     = "runs"
	PartWarnings = "warnings"
	PartClaims   = "claims"
)

// CaseParts are the case indices, in the order Install creates them.
var CaseParts = []string{PartCase, PartEvidence, PartCustody, PartRuns, PartWarnings, PartClaims}

// CaseIndex names a part's index for a case whose timeline index is base.
func CaseIndex(base, part string) string { return base + "-" + part }

// CaseSchemaVersion is in each case index's _meta; a case index of another
// version is refused rather than written into.
const CaseSchemaVersion = 1

// caseProps are the strict mappings. Free-form parts the cluster need not
// search (the case files, a run's summary, an item's segments and folder
// manifest, a custody entry's details) are kept in _source unparsed:
// `enabled: false` objects and `index: false` text, so no value can be
// refused for its shape and nothing grows the mapping.
var caseProps = map[string]string{
	PartCase: `{
		"name": {"type": "keyword"}, "examiner": {"type": "keyword"}, "zone": {"type": "keyword"},
		"created": {"type": "date_nanos"}, "tool_version": {"type": "keyword"},
		"signing_key": {"type": "keyword", "index": false}, "format_version": {"type": "integer"},
		"pushed_at": {"type": "date_nanos"}, "pushed_by": {"type": "keyword"},
		"files": {"type": "object", "enabled": false}}`,
	PartEvidence: `{
		"id": {"type": "keyword"}, "order": {"type": "integer"}, "name": {"type": "keyword"},
		"path": {"type": "keyword", "ignore_above": 4096}, "kind": {"type": "keyword"}, "size": {"type": "long"},
		"sha256": {"type": "keyword"}, "sha1": {"type": "keyword"}, "md5": {"type": "keyword"},
		"mod_time": {"type": "date_nanos"}, "added_at": {"type": "date_nanos"},
		"examiner": {"type": "keyword"}, "tool_version": {"type": "keyword"},
		"files": {"type": "integer"}, "manifest": {"type": "keyword"},
		"segments": {"type": "object", "enabled": false},
		"manifest_doc": {"type": "binary"}}`,
	PartCustody: `{
		"seq": {"type": "long"}, "time": {"type": "date_nanos"}, "examiner": {"type": "keyword"},
		"action": {"type": "keyword"}, "hash": {"type": "keyword"}, "prev": {"type": "keyword"},
		"signer": {"type": "keyword", "index": false},
		"line": {"type": "text", "index": false}, "sig": {"type": "text", "index": false}}`,
	PartRuns: `{
		"id": {"type": "keyword"}, "source": {"type": "keyword"}, "worker": {"type": "keyword"},
		"host": {"type": "keyword"}, "pid": {"type": "long"}, "item": {"type": "keyword"},
		"sha256": {"type": "keyword"}, "started": {"type": "date_nanos"}, "finished": {"type": "date_nanos"},
		"state": {"type": "keyword"}, "error": {"type": "text"}, "tool_version": {"type": "keyword"},
		"events": {"type": "long"}, "inserted": {"type": "long"}, "duplicates": {"type": "long"},
		"warnings": {"type": "long"}, "summary": {"type": "object", "enabled": false}}`,
	PartWarnings: `{
		"id": {"type": "keyword"}, "kind": {"type": "keyword"}, "evidence": {"type": "keyword"},
		"chain": {"type": "keyword", "ignore_above": 4096}, "path": {"type": "keyword", "ignore_above": 4096},
		"parser": {"type": "keyword"}, "offset": {"type": "long"}, "record": {"type": "long"},
		"message": {"type": "text"}}`,
	PartClaims: `{
		"item": {"type": "keyword"}, "state": {"type": "keyword"}, "worker": {"type": "keyword"},
		"token": {"type": "keyword"}, "lease_until": {"type": "date_nanos"},
		"claimed_at": {"type": "date_nanos"}, "finished": {"type": "date_nanos"},
		"attempt": {"type": "integer"}, "events": {"type": "long"}, "error": {"type": "text"}}`,
}

// CaseTemplate is the composable index template of one case index.
func CaseTemplate(base, part string) ([]byte, error) {
	props, ok := caseProps[part]
	if !ok {
		return nil, fmt.Errorf("no case index part %q", part)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(props), &p); err != nil {
		return nil, fmt.Errorf("mapping of %s: %w", part, err)
	}
	t := map[string]any{
		"index_patterns": []string{CaseIndex(base, part)},
		// Above the timeline's own template and any "jejak-*" one an
		// administrator installed from `jejak es template`.
		"priority": 300,
		"template": map[string]any{
			// One shard: these indices hold thousands of documents, not
			// millions; a replica where there is a second node.
			"settings": map[string]any{"index": map[string]any{"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
			"mappings": map[string]any{
				"dynamic":    "strict",
				"_meta":      map[string]any{"jejak_case_schema": CaseSchemaVersion, "part": part},
				"properties": p,
			},
		},
	}
	return json.MarshalIndent(t, "", "  ")
}

// CaseStore reads and writes the case indices beside a timeline index.
type CaseStore struct {
	s    *Store
	base string
}

// Case returns the case indices beside the store's timeline index.
func (s *Store) Case() *CaseStore { return &CaseStore{s: s, base: s.cfg.Index} }

// Index is the name of one part's index.
func (c *CaseStore) Index(part string) string { return CaseIndex(c.base, part) }

// Install puts the case templates and creates the case indices that are
// missing; existing ones are checked to be of this schema.
func (c *CaseStore) Install(ctx context.Context) error {
	cl := c.s.client
	for _, part := range CaseParts {
		t, err := CaseTemplate(c.base, part)
		if err != nil {
			return err
		}
		name := "jejak-case-" + c.Index(part)
		res, err := cl.Indices.PutIndexTemplate(name, bytes.NewReader(t), cl.Indices.PutIndexTemplate.WithContext(ctx))
		if err := answer("install index template "+name, res, err); err != nil {
			return err
		}
		res, err = cl.Indices.Create(c.Index(part), cl.Indices.Create.WithContext(ctx))
		if err := answer("create index "+c.Index(part), res, err, "resource_already_exists_exception"); err != nil {
			return err
		}
	}
	return c.Check(ctx)
}

// ErrNoCase: the cluster holds no case under this index name.
var ErrNoCase = errors.New("elasticsearch: no case")

// Check refuses case indices that are missing or of another schema.
func (c *CaseStore) Check(ctx context.Context) error {
	cl := c.s.client
	names := make([]string, len(CaseParts))
	for i, p := range CaseParts {
		names[i] = c.Index(p)
	}
	res, err := cl.Indices.GetMapping(cl.Indices.GetMapping.WithIndex(names...), cl.Indices.GetMapping.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("read mapping of the case indices of %s: %w", c.base, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: the cluster has no case indices for %s (push one with 'jejak case push CASE --es URL')", ErrNoCase, c.base)
	}
	if res.IsError() {
		return apiError("read mapping of the case indices of "+c.base, res)
	}
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Schema int `json:"jejak_case_schema"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return fmt.Errorf("read mapping of the case indices of %s: %w", c.base, err)
	}
	for _, n := range names {
		idx, ok := m[n]
		switch {
		case !ok:
			return fmt.Errorf("%w: index %s is missing", ErrNoCase, n)
		case idx.Mappings.Meta.Schema != CaseSchemaVersion:
			return fmt.Errorf("index %s was not created by this jejak (case schema %d, want %d)", n, idx.Mappings.Meta.Schema, CaseSchemaVersion)
		}
	}
	return nil
}

// answer turns a response into an error (nil for 2xx), closing its body.
// Error types listed in ok are not errors (e.g. an index already there).
func answer(what string, res *esapi.Response, err error, ok ...string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer res.Body.Close()
	if !res.IsError() {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	body, _ := io.ReadAll(res.Body)
	for _, t := range ok {
		if bytes.Contains(body, []byte(t)) {
			return nil
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return apiError(what, res)
}

// put writes one document. opType "create" fails with errConflict when the
// ID exists; seq/term, when set, make the write conditional on the version
// read (optimistic concurrency) and fail with errConflict otherwise.
func (c *CaseStore) put(ctx context.Context, part, id string, doc any, opType string, v *Version) (Version, error) {
	body, err := json.Marshal(doc)
	if err != nil {
		return Version{}, fmt.Errorf("encode %s document %s: %w", part, id, err)
	}
	cl := c.s.client
	opts := []func(*esapi.IndexRequest){cl.Index.WithContext(ctx), cl.Index.WithDocumentID(id)}
	if opType != "" {
		opts = append(opts, cl.Index.WithOpType(opType))
	}
	if v != nil {
		opts = append(opts, cl.Index.WithIfSeqNo(int(v.SeqNo)), cl.Index.WithIfPrimaryTerm(int(v.PrimaryTerm)))
	}
	res, err := cl.Index(c.Index(part), bytes.NewReader(body), opts...)
	if err != nil {
		return Version{}, fmt.Errorf("write %s/%s: %w", c.Index(part), id, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusConflict {
		return Version{}, errConflict
	}
	if res.IsError() {
		return Version{}, apiError("write "+c.Index(part)+"/"+id, res)
	}
	var r Version
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return Version{}, fmt.Errorf("write %s/%s: %w", c.Index(part), id, err)
	}
	return r, nil
}

var errConflict = errors.New("version conflict")

// Version is what optimistic concurrency compares: a document's sequence
// number and primary term as last read or written.
type Version struct {
	SeqNo       int64 `json:"_seq_no"`
	PrimaryTerm int64 `json:"_primary_term"`
}

// get reads one document in real time (no refresh needed); found is false
// for a missing one.
func (c *CaseStore) get(ctx context.Context, part, id string, into any) (Version, bool, error) {
	cl := c.s.client
	res, err := cl.Get(c.Index(part), id, cl.Get.WithContext(ctx))
	if err != nil {
		return Version{}, false, fmt.Errorf("read %s/%s: %w", c.Index(part), id, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, res.Body)
		return Version{}, false, nil
	}
	if res.IsError() {
		return Version{}, false, apiError("read "+c.Index(part)+"/"+id, res)
	}
	var r struct {
		Version
		Found  bool            `json:"found"`
		Source json.RawMessage `json:"_source"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return Version{}, false, fmt.Errorf("read %s/%s: %w", c.Index(part), id, err)
	}
	if !r.Found {
		return Version{}, false, nil
	}
	if err := json.Unmarshal(r.Source, into); err != nil {
		return Version{}, false, fmt.Errorf("read %s/%s: %w", c.Index(part), id, err)
	}
	return r.Version, true, nil
}

// getConflicted reads a document a write was just refused for (409: it
// exists). The refusal comes from the shard's primary, which may answer
// it while the winning write is still being copied to a replica; a GET
// may be served by that replica (Elasticsearch 8 has no preference for
// the primary), and not find the document yet. Seen in the 3-node CI
// phase: "claim of ... refused as existing but not found". So a document
// not found is asked for again, for a few seconds, before that is
// believed.
func (c *CaseStore) getConflicted(ctx context.Context, part, id string, into any) (Version, bool, error) {
	wait := 10 * time.Millisecond
	for deadline := time.Now().Add(5 * time.Second); ; {
		v, found, err := c.get(ctx, part, id, into)
		if found || err != nil || time.Now().After(deadline) {
			return v, found, err
		}
		select {
		case <-ctx.Done():
			return Version{}, false, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// refreshIndex makes a part's writes visible to search.
func (c *CaseStore) refreshIndex(ctx context.Context, part string) error {
	cl := c.s.client
	res, err := cl.Indices.Refresh(cl.Indices.Refresh.WithIndex(c.Index(part)), cl.Indices.Refresh.WithContext(ctx))
	return answer("refresh "+c.Index(part), res, err)
}

// scan streams every document of a part in the order of sortField (a
// unique keyword or number field), paging with search_after, after a
// refresh so every write is seen. A failed shard is an error, never a
// short list.
func (c *CaseStore) scan(ctx context.Context, part, sortField string, query map[string]any, fn func(src json.RawMessage) error) error {
	if err := c.refreshIndex(ctx, part); err != nil {
		return err
	}
	if query == nil {
		query = map[string]any{"match_all": map[string]any{}}
	}
	cl := c.s.client
	var after []json.RawMessage
	for {
		req := map[string]any{"size": 1000, "query": query, "sort": []any{map[string]any{sortField: "asc"}}}
		if after != nil {
			req["search_after"] = after
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		res, err := cl.Search(cl.Search.WithIndex(c.Index(part)), cl.Search.WithBody(bytes.NewReader(body)), cl.Search.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("search %s: %w", c.Index(part), err)
		}
		var r struct {
			Shards struct {
				Failed int `json:"failed"`
			} `json:"_shards"`
			Hits struct {
				Hits []struct {
					Source json.RawMessage   `json:"_source"`
					Sort   []json.RawMessage `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if res.IsError() {
			err := apiError("search "+c.Index(part), res)
			res.Body.Close()
			return err
		}
		dec := json.NewDecoder(res.Body)
		dec.UseNumber()
		err = dec.Decode(&r)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("search %s: %w", c.Index(part), err)
		}
		if r.Shards.Failed > 0 {
			return fmt.Errorf("search %s: %d shards failed, the answer would be short", c.Index(part), r.Shards.Failed)
		}
		for _, h := range r.Hits.Hits {
			if err := fn(h.Source); err != nil {
				return err
			}
		}
		if len(r.Hits.Hits) < 1000 {
			return nil
		}
		after = r.Hits.Hits[len(r.Hits.Hits)-1].Sort
	}
}

// bulkPut writes documents with the bulk API (op "index" replaces, op
// "create" keeps what is there: a 409 then is no error), refreshing the
// index after. Every item the cluster refuses is an error naming it.
func (c *CaseStore) bulkPut(ctx context.Context, part, op string, ids []string, docs []any) error {
	if len(ids) == 0 {
		return nil
	}
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		var buf bytes.Buffer
		for i := start; i < end; i++ {
			meta, _ := json.Marshal(map[string]any{op: map[string]any{"_id": ids[i]}})
			doc, err := json.Marshal(docs[i])
			if err != nil {
				return fmt.Errorf("encode %s document %s: %w", part, ids[i], err)
			}
			buf.Write(meta)
			buf.WriteByte('\n')
			buf.Write(doc)
			buf.WriteByte('\n')
		}
		cl := c.s.client
		res, err := cl.Bulk(bytes.NewReader(buf.Bytes()), cl.Bulk.WithIndex(c.Index(part)), cl.Bulk.WithContext(ctx),
			cl.Bulk.WithFilterPath("errors", "items.*.status", "items.*._id", "items.*.error.type", "items.*.error.reason"))
		if err != nil {
			return fmt.Errorf("write %s: %w", c.Index(part), err)
		}
		var r struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				ID     string `json:"_id"`
				Status int    `json:"status"`
				Error  struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"error"`
			} `json:"items"`
		}
		if res.IsError() {
			err := apiError("write "+c.Index(part), res)
			res.Body.Close()
			return err
		}
		err = json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("write %s: %w", c.Index(part), err)
		}
		if len(r.Items) != end-start {
			return fmt.Errorf("write %s: %d answers for %d documents", c.Index(part), len(r.Items), end-start)
		}
		var bad []string
		for _, it := range r.Items {
			for _, x := range it {
				if x.Status >= 300 && !(op == "create" && x.Status == http.StatusConflict) {
					bad = append(bad, fmt.Sprintf("%s: %d %s: %s", x.ID, x.Status, x.Error.Type, x.Error.Reason))
				}
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("elasticsearch refused %d of %d documents in %s:\n  %s", len(bad), end-start, c.Index(part), strings.Join(bad[:min(len(bad), 20)], "\n  "))
		}
	}
	return c.refreshIndex(ctx, part)
}

func seqID(seq int64) string { return strconv.FormatInt(seq, 10) }
