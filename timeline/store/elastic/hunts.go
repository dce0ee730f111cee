package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store"
)

// HuntsIndex names the index that holds one record per hunt of a case
// index (store.Hunt, with the order of its findings), beside
// FindingsIndex. The findings documents stay as they were before hunts
// had records: the finding's JSON with the hunt key in "hunt".
func HuntsIndex(index string) string { return index + "-hunts" }

// huntsMapping: strict, like the case indices; the parameters are kept
// in _source unparsed (no value refused for its shape), and so is the
// order of the findings, which only PutHunt and Findings read. A time
// date_nanos cannot hold (a hunt record without times) is kept unindexed
// and sorts last, as the case store sorts it.
const huntsMapping = `{
  "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
  "mappings": {
    "dynamic": "strict",
    "properties": {
      "key":          {"type": "keyword"},
      "params":       {"type": "object", "enabled": false},
      "started":      {"type": "date_nanos", "ignore_malformed": true},
      "finished":     {"type": "date_nanos", "ignore_malformed": true},
      "tool_version": {"type": "keyword"},
      "findings":     {"type": "long"},
      "order":        {"type": "keyword", "index": false, "doc_values": false}
    }
  }
}`

// huntDoc is a hunt's record in HuntsIndex. Times are written as
// RFC 3339 in UTC with nanoseconds, as the case store writes them.
type huntDoc struct {
	Key         string          `json:"key"`
	Params      json.RawMessage `json:"params"`
	Started     string          `json:"started"`
	Finished    string          `json:"finished"`
	ToolVersion string          `json:"tool_version"`
	Findings    int             `json:"findings"`
	Order       []string        `json:"order"`
}

func (d huntDoc) hunt() (store.Hunt, error) {
	h := store.Hunt{Key: d.Key, Params: d.Params, ToolVersion: d.ToolVersion, Findings: d.Findings}
	var err error
	if h.Started, err = time.Parse(time.RFC3339Nano, d.Started); err != nil {
		return h, fmt.Errorf("hunt %s: started: %w", d.Key, err)
	}
	if h.Finished, err = time.Parse(time.RFC3339Nano, d.Finished); err != nil {
		return h, fmt.Errorf("hunt %s: finished: %w", d.Key, err)
	}
	return h, nil
}

// withHunt is a finding's document as FindingsIndex keeps it: the hunt key
// first, then the finding's own members, byte for byte. It is what
// json.Marshal of struct{Hunt string `json:"hunt"`; hunt.Finding} gave
// before store.Finding existed, so documents stored then and now are alike.
func withHunt(key string, doc []byte) []byte {
	k, _ := json.Marshal(key) // a string always marshals
	out := make([]byte, 0, len(doc)+len(k)+10)
	out = append(out, `{"hunt":`...)
	out = append(out, k...)
	if rest := bytes.TrimSpace(doc[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, doc[1:]...)
}

// withoutHunt takes withHunt's member off again, for any document of
// the hunt: those withHunt made give back the finding's exact bytes;
// one written otherwise is rebuilt without the member.
func withoutHunt(key string, doc []byte) ([]byte, error) {
	k, _ := json.Marshal(key)
	prefix := append(append([]byte(`{"hunt":`), k...), ',')
	if bytes.HasPrefix(doc, prefix) {
		return append([]byte{'{'}, doc[len(prefix):]...), nil
	}
	if bytes.Equal(doc, append(prefix[:len(prefix)-1], '}')) {
		return []byte(`{}`), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("finding of hunt %s: %w", key, err)
	}
	delete(m, "hunt")
	return json.Marshal(m)
}

// PutHunt stores a hunt's findings in FindingsIndex (replacing those an
// earlier run of the same hunt stored, and checking the count: see
// ReplaceFindings) and then its record, with the findings' order, in
// HuntsIndex (store.Findings).
func (s *Store) PutHunt(ctx context.Context, h store.Hunt, fs []store.Finding) error {
	// Checked whole before anything is written: the cluster has no
	// transaction, and a hunt refused half-way would leave its earlier
	// findings deleted and its record naming them.
	if err := store.CheckHunt(h, fs); err != nil {
		return fmt.Errorf("store findings: %w", err)
	}
	docs := make([]FindingDoc, len(fs))
	order := make([]string, len(fs))
	for i, f := range fs {
		docs[i] = FindingDoc{ID: f.ID, Doc: withHunt(h.Key, f.Doc)}
		order[i] = f.ID
	}
	if err := s.ReplaceFindings(ctx, h.Key, docs); err != nil {
		return err
	}
	params := h.Params
	if len(params) == 0 {
		params = json.RawMessage(`{}`)
	}
	rec := huntDoc{Key: h.Key, Params: params, Started: h.Started.UTC().Format(time.RFC3339Nano),
		Finished: h.Finished.UTC().Format(time.RFC3339Nano), ToolVersion: h.ToolVersion, Findings: len(fs), Order: order}
	// Not escaped for HTML: json.Marshal would rewrite a '<' in the
	// parameters as \u003c, and Hunts would hand back other bytes than the
	// case store does.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return err
	}
	index := HuntsIndex(s.cfg.Index)
	if err := s.createIndex(ctx, index, huntsMapping); err != nil {
		return err
	}
	res, err := s.client.Index(index, &body, s.client.Index.WithDocumentID(h.Key),
		s.client.Index.WithRefresh("true"), s.client.Index.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("record hunt %s in %s: %w", h.Key, index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return apiError("record hunt "+h.Key+" in "+index, res)
	}
	return nil
}

// createIndex creates index with its settings and mapping unless it
// exists already.
func (s *Store) createIndex(ctx context.Context, index, mapping string) error {
	res, err := s.client.Indices.Create(index, s.client.Indices.Create.WithBody(strings.NewReader(mapping)),
		s.client.Indices.Create.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("create index %s: %w", index, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.IsError() && !bytes.Contains(body, []byte("resource_already_exists_exception")) {
		res.Body = io.NopCloser(bytes.NewReader(body))
		return apiError("create index "+index, res)
	}
	return nil
}

// searchIndex runs one search request on index; a missing index is no error
// and no hits (found false). A failed shard is an error.
func (s *Store) searchIndex(ctx context.Context, index string, req map[string]any, into any) (found bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return false, err
	}
	res, err := s.client.Search(s.client.Search.WithIndex(index), s.client.Search.WithBody(bytes.NewReader(body)),
		s.client.Search.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("search %s: %w", index, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if res.IsError() {
		return false, apiError("search "+index, res)
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return false, fmt.Errorf("search %s: %w", index, err)
	}
	var sh struct {
		Shards struct {
			Failed int `json:"failed"`
		} `json:"_shards"`
	}
	if err := json.Unmarshal(raw, &sh); err != nil {
		return false, fmt.Errorf("search %s: %w", index, err)
	}
	if sh.Shards.Failed > 0 {
		return false, fmt.Errorf("search %s: %d shards failed, results would be incomplete", index, sh.Shards.Failed)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return false, fmt.Errorf("search %s: %w", index, err)
	}
	return true, nil
}

// Hunts lists the hunts of the case index, the latest first, then by key
// (store.Findings). A hunt whose findings were stored without a record
// (ReplaceFindings alone, as jejak did before HuntsIndex) is listed too,
// after those with one, with its key and its number of findings only.
func (s *Store) Hunts(ctx context.Context) ([]store.Hunt, error) {
	var out []store.Hunt
	seen := map[string]bool{}
	// Hunts are a handful per case; one page of 10,000 is all of them. The
	// whole _source, order and all: with source filtering the cluster
	// writes the document out again, and the parameters' bytes change.
	var r struct {
		Hits struct {
			Hits []struct {
				Source huntDoc `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if _, err := s.searchIndex(ctx, HuntsIndex(s.cfg.Index), map[string]any{
		"size": 10000, "query": map[string]any{"match_all": map[string]any{}},
		"sort": []any{map[string]any{"finished": "desc"}, map[string]any{"key": "asc"}},
	}, &r); err != nil {
		return nil, err
	}
	for _, hit := range r.Hits.Hits {
		h, err := hit.Source.hunt()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
		seen[h.Key] = true
	}
	var agg struct {
		Aggregations struct {
			Hunts struct {
				Buckets []struct {
					Key      string `json:"key"`
					DocCount int    `json:"doc_count"`
				} `json:"buckets"`
			} `json:"hunts"`
		} `json:"aggregations"`
	}
	if _, err := s.searchIndex(ctx, FindingsIndex(s.cfg.Index), map[string]any{
		"size": 0, "aggs": map[string]any{"hunts": map[string]any{"terms": map[string]any{"field": "hunt", "size": 10000}}},
	}, &agg); err != nil {
		return nil, err
	}
	var bare []store.Hunt
	for _, b := range agg.Aggregations.Hunts.Buckets {
		if !seen[b.Key] {
			bare = append(bare, store.Hunt{Key: b.Key, Params: json.RawMessage(`{}`), Findings: b.DocCount})
		}
	}
	sort.Slice(bare, func(i, j int) bool { return bare[i].Key < bare[j].Key })
	return append(out, bare...), nil
}

// Findings streams a hunt's findings in the order PutHunt was given them;
// an empty key means the latest hunt (store.Findings). The findings of a
// hunt stored without a record come in ID order.
func (s *Store) Findings(ctx context.Context, huntKey string, fn func(store.Finding) error) error {
	if huntKey == "" {
		hs, err := s.Hunts(ctx)
		if err != nil || len(hs) == 0 {
			return err
		}
		huntKey = hs[0].Key
	}
	index := FindingsIndex(s.cfg.Index)
	// A read cancelled from inside fn stops within cancelCheck findings,
	// not at the end of the page in hand, and never ends without an error
	// (the last page used to).
	n := 0
	emit := func(src []byte) error {
		if n++; n%cancelCheck == 1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		doc, err := withoutHunt(huntKey, src)
		if err != nil {
			return err
		}
		f, err := store.FindingFromDoc(doc)
		if err != nil {
			return fmt.Errorf("hunt %s in %s: %w", huntKey, index, err)
		}
		return fn(f)
	}
	var rec struct {
		Hits struct {
			Hits []struct {
				Source huntDoc `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if _, err := s.searchIndex(ctx, HuntsIndex(s.cfg.Index), map[string]any{
		"size": 1, "query": map[string]any{"term": map[string]any{"key": huntKey}},
	}, &rec); err != nil {
		return err
	}
	if len(rec.Hits.Hits) == 0 {
		return s.bareFindings(ctx, index, huntKey, emit)
	}
	order := rec.Hits.Hits[0].Source.Order
	// The record names the findings in order: fetched by ID in chunks
	// (mget answers in the order asked), so a hunt of any size streams.
	for lo := 0; lo < len(order); lo += 500 {
		ids := make([]string, 0, 500)
		for _, id := range order[lo:min(lo+500, len(order))] {
			ids = append(ids, huntKey+"-"+id)
		}
		body, _ := json.Marshal(map[string]any{"ids": ids})
		res, err := s.client.Mget(bytes.NewReader(body), s.client.Mget.WithIndex(index), s.client.Mget.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("read findings of hunt %s from %s: %w", huntKey, index, err)
		}
		if res.IsError() {
			err := apiError("read findings of hunt "+huntKey+" from "+index, res)
			res.Body.Close()
			return err
		}
		var out struct {
			Docs []struct {
				ID     string          `json:"_id"`
				Found  bool            `json:"found"`
				Source json.RawMessage `json:"_source"`
			} `json:"docs"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("read findings of hunt %s from %s: %w", huntKey, index, err)
		}
		if len(out.Docs) != len(ids) {
			return fmt.Errorf("read findings of hunt %s from %s: %d answers for %d IDs", huntKey, index, len(out.Docs), len(ids))
		}
		for _, d := range out.Docs {
			if !d.Found {
				return fmt.Errorf("%s lacks finding %s, which hunt %s's record names", index, d.ID, huntKey)
			}
			if err := emit(d.Source); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// bareFindings streams the findings of a hunt that has no record, in ID
// order, paging with search_after.
func (s *Store) bareFindings(ctx context.Context, index, huntKey string, emit func([]byte) error) error {
	var after []any
	for {
		q := map[string]any{
			"query": map[string]any{"term": map[string]any{"hunt": huntKey}},
			"size":  1000,
			"sort":  []any{map[string]any{"id": "asc"}},
		}
		if after != nil {
			q["search_after"] = after
		}
		var r struct {
			Hits struct {
				Hits []struct {
					Source json.RawMessage `json:"_source"`
					Sort   []any           `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		found, err := s.searchIndex(ctx, index, q, &r)
		if err != nil || !found {
			return err
		}
		for _, h := range r.Hits.Hits {
			if err := emit(h.Source); err != nil {
				return err
			}
		}
		if len(r.Hits.Hits) < 1000 {
			return ctx.Err()
		}
		after = r.Hits.Hits[len(r.Hits.Hits)-1].Sort
		if len(after) == 0 {
			return errors.New("list findings: a page ended without its sort values")
		}
	}
}
