package export

import (
	"fmt"
	"slices"

	"github.com/jejak-forensics/jejak/timeline"
)

// Timesketch's JSONL import (timesketch_importer, or the web upload of a
// .jsonl file) reads one JSON object per line and requires three fields on
// every line: message, datetime (ISO 8601) and timestamp_desc. When
// timestamp (microseconds since the epoch) is absent it derives it from
// datetime with dateutil, so jejak writes both, from the same instant.
// Every other field is kept as a field of the event; Timesketch's UI lists
// and filters fields by name, so the ECS document is flattened to dotted
// names ("source.ip", "jejak.provenance.path") rather than nested objects.
// The names Timesketch strips on import (_id, _index, _source, _type,
// __ts_timeline_id) cannot occur: every ECS and jejak name starts with a
// letter or "@".
//
// TimesketchDatetime is the layout of the datetime field: microseconds (what
// Timesketch keeps) and an explicit +00:00, as in Timesketch's own examples.
// The exact instant, to the nanosecond, stays in @timestamp.
const TimesketchDatetime = "2006-01-02T15:04:05.000000-07:00"

// timesketchLead are the fields written first, in this order, so a reader
// of the file sees the required ones at the start of every line.
var timesketchLead = []string{"message", "datetime", "timestamp", "timestamp_desc"}

// AppendTimesketch appends one event as a line of Timesketch JSONL.
func AppendTimesketch(dst []byte, e *timeline.Event) ([]byte, error) {
	// Round-tripping through the event's own JSON keeps this in step with
	// the model: a field added to timeline.Event is exported without a
	// change here. The free-form maps arrive as JSON text (portable.go).
	m, err := portableDoc(e)
	if err != nil {
		return dst, fmt.Errorf("timesketch: %w", err)
	}
	flat := map[string]any{}
	flatten(flat, "", m)
	ts := e.Timestamp.UTC()
	flat["message"] = e.Message
	flat["datetime"] = ts.Format(TimesketchDatetime)
	flat["timestamp"] = ts.UnixMicro()
	flat["timestamp_desc"] = e.TimestampDesc

	keys := make([]string, 0, len(flat))
	for k := range flat {
		if !slices.Contains(timesketchLead, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = append(slices.Clip(timesketchLead), keys...)

	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSON(dst, k); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = appendJSON(dst, flat[k]); err != nil {
			return dst, fmt.Errorf("timesketch: field %s: %w", k, err)
		}
	}
	return append(dst, '}', '\n'), nil
}

// flatten writes v's leaves into out under dotted names. Arrays are leaves:
// OpenSearch indexes an array of strings as a multi-valued field, which is
// what event.category or related.ip are.
func flatten(out map[string]any, prefix string, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, x := range obj {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		flatten(out, name, x)
	}
}
