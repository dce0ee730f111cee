package elastic

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// savedSearch is one of the Discover searches shipped for examiners.
type savedSearch struct {
	id, title, kql string
	columns        []string
}

// The searches speak the template's ECS fields only, so they work on any
// index jejak fills; the test checks every field they name is mapped.
var savedSearches = []savedSearch{
	{"logons", "jejak: successful logons",
		`event.category:authentication and event.outcome:success`,
		[]string{"host.name", "user.domain", "user.name", "source.ip", "winlog.logon.type", "event.action", "jejak.provenance.path"}},
	{"failed-logons", "jejak: failed logons",
		`event.category:authentication and event.outcome:failure`,
		[]string{"host.name", "user.name", "source.ip", "event.action", "winlog.event_data.SubStatus", "message"}},
	{"account-changes", "jejak: account and group changes",
		`event.category:iam or winlog.event_id:(4720 or 4722 or 4723 or 4724 or 4725 or 4726 or 4728 or 4732 or 4738 or 4740 or 4756)`,
		[]string{"host.name", "user.name", "user.target.name", "group.name", "event.action", "message"}},
	{"log-clearing", "jejak: audit logs cleared",
		`winlog.event_id:(1102 or 104) or event.action:audit-log-cleared`,
		[]string{"host.name", "user.name", "winlog.channel", "jejak.provenance.evidence_name", "message"}},
	{"database-writes", "jejak: database writes",
		`event.category:database and event.type:(change or creation or deletion)`,
		[]string{"host.name", "user.name", "process.name", "event.action", "message"}},
}

// KibanaObjects returns saved objects as NDJSON for Kibana's saved-objects
// import: a data view on index with @timestamp as its time field, and the
// searches above, each sorted by time and bound to that data view.
func KibanaObjects(index string) ([]byte, error) {
	viewID := "jejak-view-" + index
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{
		"type": "index-pattern", "id": viewID,
		"attributes": map[string]any{"title": index, "name": "jejak " + index, "timeFieldName": "@timestamp"},
		"references": []any{},
	}); err != nil {
		return nil, err
	}
	for _, s := range savedSearches {
		source, err := json.Marshal(map[string]any{
			"query":        map[string]any{"query": s.kql, "language": "kuery"},
			"filter":       []any{},
			"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
		})
		if err != nil {
			return nil, err
		}
		if err := enc.Encode(map[string]any{
			"type": "search", "id": fmt.Sprintf("jejak-%s-%s", s.id, index),
			"attributes": map[string]any{
				"title":                 s.title,
				"columns":               s.columns,
				"sort":                  [][]string{{"@timestamp", "asc"}},
				"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": string(source)},
			},
			"references": []any{map[string]any{
				"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": viewID,
			}},
		}); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
