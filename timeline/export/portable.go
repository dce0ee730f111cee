package export

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jejak-forensics/jejak/timeline"
)

// Exports are loaded into indices jejak does not configure: Timesketch's,
// or any Elasticsearch/OpenSearch index with default dynamic mapping. Two
// parts of an event have free-form keys — winlog.event_data (an EVTX
// record's EventData names) and jejak.data (parser detail) — and in such an
// index each key would become a field of its own: a case reaches the
// 1,000-field limit (google/timesketch#3889), and dotted keys such as
// "db.statement" beside "db.statement.verb" become objects and leaves of
// one name, which the mapping refuses. So exports write each of the two as
// one string holding a JSON object (keys sorted): every other field is
// fixed by timeline.Event, the field count stays bounded for any case, no
// name can be a prefix of another, and `jq '.jejak.data | fromjson'` reads
// the map back. jejak's own Elasticsearch index keeps them as maps
// (flattened fields, through its template).

// freeFormMaps are the paths of the free-form maps in an event document.
var freeFormMaps = [][2]string{{"winlog", "event_data"}, {"jejak", "data"}}

// portableDoc returns e's ECS document as a map, with the free-form maps as
// JSON text. Numbers stay json.Number, exactly as encoded.
func portableDoc(e *timeline.Event) (map[string]any, error) {
	doc, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for _, p := range freeFormMaps {
		parent, ok := m[p[0]].(map[string]any)
		if !ok {
			continue
		}
		if v, ok := parent[p[1]]; ok {
			b, err := json.Marshal(v) // map keys sorted
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", p[0], p[1], err)
			}
			parent[p[1]] = string(b)
		}
	}
	return m, nil
}

// appendJSON appends v as compact JSON without HTML escaping.
func appendJSON(dst []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}
