package elastic

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// templateJSON is the composable index template body without its
// index_patterns, kept as a readable file so reviewers and `jejak es
// template` see exactly what Elasticsearch is told.
//
//go:embed template.json
var templateJSON []byte

// SchemaVersion is stored in the index's _meta; Open refuses an index that
// exists with another mapping, rather than writing into a foreign schema.
//
// 3: jejak.provenance.identity (which copy when two records share a path).
const SchemaVersion = 3

// TemplateName is the name of the index template jejak installs for index.
func TemplateName(index string) string { return "jejak-timeline-" + index }

// Template returns the composable index template for index, as installed by
// Open: explicit ECS mappings, `dynamic: false` (a field jejak does not map
// stays in _source but cannot grow the mapping), date_nanos @timestamp, ip
// fields, flattened free-form data.
func Template(index string) ([]byte, error) {
	var t map[string]any
	if err := json.Unmarshal(templateJSON, &t); err != nil {
		return nil, fmt.Errorf("embedded index template: %w", err)
	}
	t["index_patterns"] = []string{index}
	return json.MarshalIndent(t, "", "  ")
}

// MappedFields returns every leaf field of the template's mapping with its
// type, keyed by dotted path ("source.ip" → "ip"). Sub-fields such as
// "message.keyword" are included.
func MappedFields() (map[string]string, error) {
	var t struct {
		Template struct {
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(templateJSON, &t); err != nil {
		return nil, fmt.Errorf("embedded index template: %w", err)
	}
	out := map[string]string{}
	if err := walkProps("", t.Template.Mappings.Properties, out); err != nil {
		return nil, err
	}
	return out, nil
}

func walkProps(prefix string, props map[string]json.RawMessage, out map[string]string) error {
	for name, raw := range props {
		var f struct {
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
			Fields     map[string]struct {
				Type string `json:"type"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("mapping of %s%s: %w", prefix, name, err)
		}
		path := prefix + name
		if f.Properties != nil {
			if err := walkProps(path+".", f.Properties, out); err != nil {
				return err
			}
			continue
		}
		out[path] = f.Type
		for sub, sf := range f.Fields {
			out[path+"."+sub] = sf.Type
		}
	}
	return nil
}

// fieldCovered says whether a document field path is indexed by the
// mapping: either mapped itself or inside a flattened field.
func fieldCovered(mapped map[string]string, path string) bool {
	if _, ok := mapped[path]; ok {
		return true
	}
	for p := path; ; {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
		if mapped[p] == "flattened" {
			return true
		}
	}
}

// UnmappedFields lists the field paths of a JSON document that the
// template does not index (sorted). With dynamic: false such fields are kept
// in _source but are not searchable; jejak's tests require none.
func UnmappedFields(doc []byte) ([]string, error) {
	mapped, err := MappedFields()
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var missing []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if prefix != "" && mapped[strings.TrimSuffix(prefix, ".")] == "flattened" {
				return
			}
			for k, c := range x {
				walk(prefix+k+".", c)
			}
		case []any:
			for _, c := range x {
				walk(prefix, c)
			}
		default:
			p := strings.TrimSuffix(prefix, ".")
			if !fieldCovered(mapped, p) {
				missing = append(missing, p)
			}
		}
	}
	walk("", v)
	sort.Strings(missing)
	return slices.Compact(missing), nil
}
