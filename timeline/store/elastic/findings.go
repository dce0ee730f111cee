package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// FindingsIndex names the index that holds the hunt findings of a case
// index, so Kibana users see them beside the timeline.
func FindingsIndex(index string) string { return index + "-findings" }

// findingsMapping indexes what analysts filter findings on; the rest of
// each finding (explanations' detail, every event reference) is kept in
// _source unindexed, so no finding can be refused for its shape.
const findingsMapping = `{
  "settings": {"index": {"auto_expand_replicas": "0-1"}},
  "mappings": {
    "dynamic": false,
    "properties": {
      "hunt":        {"type": "keyword"},
      "id":          {"type": "keyword"},
      "rule_id":     {"type": "keyword"},
      "title":       {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
      "severity":    {"type": "keyword"},
      "technique":   {"type": "keyword"},
      "key":         {"type": "keyword", "ignore_above": 4096},
      "first":       {"type": "date_nanos", "ignore_malformed": true},
      "last":        {"type": "date_nanos", "ignore_malformed": true},
      "explanation": {"type": "text"},
      "verdict":     {"type": "keyword"},
      "events": {"properties": {
        "id":         {"type": "keyword"},
        "@timestamp": {"type": "date_nanos", "ignore_malformed": true},
        "record_id":  {"type": "long", "ignore_malformed": true},
        "provenance": {"properties": {
          "evidence_sha256": {"type": "keyword"},
          "path":            {"type": "keyword", "ignore_above": 4096},
          "parser":          {"type": "keyword"}
        }}
      }}
    }
  }
}`

// findingsLenient is the part of findingsMapping that lets a finding in
// whose times date_nanos cannot hold: one citing no event has zero times,
// one citing a FILETIME of zero starts in 1601. The value stays in _source
// (and comes back), only unindexed. Findings indices created before it
// was in findingsMapping get it by a mapping update, which the cluster
// allows for ignore_malformed.
const findingsLenient = `{"properties": {
  "first": {"type": "date_nanos", "ignore_malformed": true},
  "last":  {"type": "date_nanos", "ignore_malformed": true},
  "events": {"properties": {
    "@timestamp": {"type": "date_nanos", "ignore_malformed": true},
    "record_id":  {"type": "long", "ignore_malformed": true}
  }}
}}`

// FindingDoc is one finding to store: its ID and its JSON document, which
// must carry the hunt key in a "hunt" field.
type FindingDoc struct {
	ID  string
	Doc []byte
}

// ReplaceFindings stores a hunt's findings in FindingsIndex, replacing the
// findings an earlier run of the same hunt (same key) stored, as the case
// store does; other hunts' findings stay. It checks the index then holds
// exactly len(docs) findings of that hunt.
func (s *Store) ReplaceFindings(ctx context.Context, huntKey string, docs []FindingDoc) error {
	index := FindingsIndex(s.cfg.Index)
	res, err := s.client.Indices.Create(index, s.client.Indices.Create.WithBody(strings.NewReader(findingsMapping)),
		s.client.Indices.Create.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("create index %s: %w", index, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.IsError() {
		if !bytes.Contains(body, []byte("resource_already_exists_exception")) {
			res.Body = io.NopCloser(bytes.NewReader(body))
			return apiError("create index "+index, res)
		}
		mres, err := s.client.Indices.PutMapping([]string{index}, strings.NewReader(findingsLenient),
			s.client.Indices.PutMapping.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("update the mapping of %s: %w", index, err)
		}
		defer mres.Body.Close()
		if mres.IsError() {
			return apiError("update the mapping of "+index, mres)
		}
	}
	// The hunt's earlier findings that this run does not make again are
	// deleted by ID (delete_by_query needs the reindex module, which not
	// every cluster has).
	earlier, err := s.findingIDs(ctx, index, huntKey)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(docs))
	for _, d := range docs {
		keep[huntKey+"-"+d.ID] = true
	}
	var stale bytes.Buffer
	for _, id := range earlier {
		if !keep[id] {
			meta, _ := json.Marshal(map[string]any{"delete": map[string]any{"_index": index, "_id": id}})
			stale.Write(meta)
			stale.WriteByte('\n')
		}
	}
	if stale.Len() > 0 {
		res, err := s.client.Bulk(&stale, s.client.Bulk.WithContext(ctx), s.client.Bulk.WithRefresh("true"))
		if err != nil {
			return fmt.Errorf("remove earlier findings of hunt %s: %w", huntKey, err)
		}
		defer res.Body.Close()
		if res.IsError() {
			return apiError("remove earlier findings of hunt "+huntKey, res)
		}
	}
	if len(docs) > 0 {
		var buf bytes.Buffer
		for _, d := range docs {
			meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": index, "_id": huntKey + "-" + d.ID}})
			buf.Write(meta)
			buf.WriteByte('\n')
			buf.Write(bytes.TrimSpace(d.Doc))
			buf.WriteByte('\n')
		}
		res, err = s.client.Bulk(&buf, s.client.Bulk.WithContext(ctx), s.client.Bulk.WithRefresh("true"))
		if err != nil {
			return fmt.Errorf("store findings in %s: %w", index, err)
		}
		defer res.Body.Close()
		if res.IsError() {
			return apiError("store findings in "+index, res)
		}
		var br struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				ID    string          `json:"_id"`
				Error json.RawMessage `json:"error"`
			} `json:"items"`
		}
		if err := json.NewDecoder(res.Body).Decode(&br); err != nil {
			return fmt.Errorf("store findings in %s: %w", index, err)
		}
		if br.Errors {
			var bad []string
			for _, it := range br.Items {
				for _, r := range it {
					if len(r.Error) > 0 {
						bad = append(bad, r.ID+": "+string(r.Error))
					}
				}
			}
			return fmt.Errorf("store findings in %s: %d refused: %s", index, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
		}
	}
	cnt, _ := json.Marshal(map[string]any{"query": map[string]any{"term": map[string]any{"hunt": huntKey}}})
	cres, err := s.client.Count(s.client.Count.WithIndex(index), s.client.Count.WithBody(bytes.NewReader(cnt)),
		s.client.Count.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("count findings in %s: %w", index, err)
	}
	defer cres.Body.Close()
	if cres.IsError() {
		return apiError("count findings in "+index, cres)
	}
	var c struct {
		Count int `json:"count"`
	}
	if err := json.NewDecoder(cres.Body).Decode(&c); err != nil {
		return err
	}
	if c.Count != len(docs) {
		return fmt.Errorf("%s holds %d findings of hunt %s, want %d", index, c.Count, huntKey, len(docs))
	}
	return nil
}

// findingIDs lists the document IDs of one hunt's findings, paging by ID.
func (s *Store) findingIDs(ctx context.Context, index, huntKey string) ([]string, error) {
	var ids []string
	var after []any
	for {
		q := map[string]any{
			"query":   map[string]any{"term": map[string]any{"hunt": huntKey}},
			"_source": false,
			"size":    1000,
			"sort":    []any{map[string]any{"id": "asc"}},
		}
		if after != nil {
			q["search_after"] = after
		}
		body, _ := json.Marshal(q)
		res, err := s.client.Search(s.client.Search.WithIndex(index), s.client.Search.WithBody(bytes.NewReader(body)),
			s.client.Search.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("list findings in %s: %w", index, err)
		}
		if res.IsError() {
			defer res.Body.Close()
			return nil, apiError("list findings in "+index, res)
		}
		var r struct {
			Hits struct {
				Hits []struct {
					ID   string `json:"_id"`
					Sort []any  `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		err = json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list findings in %s: %w", index, err)
		}
		for _, h := range r.Hits.Hits {
			ids = append(ids, h.ID)
		}
		if len(r.Hits.Hits) < 1000 {
			return ids, nil
		}
		after = r.Hits.Hits[len(r.Hits.Hits)-1].Sort
	}
}
