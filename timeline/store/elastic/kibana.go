package elastic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jejak-forensics/jejak/timeline/query"
)

// This file writes Kibana saved objects (Stack Management » Saved objects
// » Import) by hand, as NDJSON: Kibana publishes no Go client for them.
// The shapes follow what Kibana 8 itself exports: data views
// ("index-pattern"), Discover searches ("search"), aggregation-based
// visualizations ("visualization", a visState string) and a dashboard whose
// panelsJSON names each panel's visualization through a reference
// "<panelIndex>:panel_<panelIndex>". Each object carries the
// migrationVersion of the format it is written in, so Kibana migrates it on
// import as it would one of its own older exports. CheckKibanaObjects
// (kibana_check.go) is the test of every object against the templates.

// SavedSearch is a Discover search on the case timeline: a KQL query and
// the columns to show, sorted by time. ID is unique among a case's
// searches; the object's ID is "jejak-<ID>-<index>".
type SavedSearch struct {
	ID, Title, Description string
	KQL                    string
	Columns                []string
}

// The searches speak the template's ECS fields only, so they work on any
// index jejak fills; the test checks every field they name is mapped.
var savedSearches = []SavedSearch{
	{ID: "logons", Title: "jejak: successful logons",
		KQL:     `event.category:authentication and event.outcome:success`,
		Columns: []string{"host.name", "user.domain", "user.name", "source.ip", "winlog.logon.type", "event.action", "jejak.provenance.path"}},
	{ID: "failed-logons", Title: "jejak: failed logons",
		KQL:     `event.category:authentication and event.outcome:failure`,
		Columns: []string{"host.name", "user.name", "source.ip", "event.action", "winlog.event_data.SubStatus", "message"}},
	{ID: "account-changes", Title: "jejak: account and group changes",
		KQL:     `event.category:iam or winlog.event_id:(4720 or 4722 or 4723 or 4724 or 4725 or 4726 or 4728 or 4732 or 4738 or 4740 or 4756)`,
		Columns: []string{"host.name", "user.name", "user.target.name", "group.name", "event.action", "message"}},
	{ID: "log-clearing", Title: "jejak: audit logs cleared",
		KQL:     `winlog.event_id:(1102 or 104) or event.action:audit-log-cleared`,
		Columns: []string{"host.name", "user.name", "winlog.channel", "jejak.provenance.evidence_name", "message"}},
	{ID: "database-writes", Title: "jejak: database writes",
		KQL:     `event.category:database and event.type:(change or creation or deletion)`,
		Columns: []string{"host.name", "user.name", "process.name", "event.action", "message"}},
}

// TimelineViewID and FindingsViewID are the IDs of a case's two data
// views: the timeline index, and the findings index the hunt writes beside
// it (FindingsIndex).
func TimelineViewID(index string) string { return "jejak-view-" + index }
func FindingsViewID(index string) string { return "jejak-view-" + FindingsIndex(index) }

// FindingsTimeField is the findings data view's time field: when the
// activity a finding describes began.
const FindingsTimeField = "first"

// DashboardID is the ID of a case's dashboard.
func DashboardID(index string) string { return "jejak-dashboard-" + index }

// KQLQuote quotes s as a KQL phrase value (backslash and double quote
// escaped), so a value with spaces, colons or slashes matches as written.
func KQLQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// KibanaObjects returns the saved objects of a case index as NDJSON: the
// timeline and findings data views, the built-in searches, the
// visualizations and the dashboard. The searches made from the built-in
// rules come from casework.KibanaObjects, which adds them through
// KibanaObjectsWith.
func KibanaObjects(index string) ([]byte, error) { return KibanaObjectsWith(index, nil) }

// KibanaObjectsWith is KibanaObjects with more timeline searches after the
// built-in ones (their IDs must not repeat one).
func KibanaObjectsWith(index string, more []SavedSearch) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	tl, fd := TimelineViewID(index), FindingsViewID(index)
	for _, v := range []struct{ id, title, time string }{
		{tl, index, "@timestamp"},
		{fd, FindingsIndex(index), FindingsTimeField},
	} {
		if err := enc.Encode(map[string]any{
			"type": "index-pattern", "id": v.id,
			"attributes":       map[string]any{"title": v.title, "name": "jejak " + v.title, "timeFieldName": v.time},
			"references":       []any{},
			"migrationVersion": map[string]string{"index-pattern": "8.0.0"},
		}); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	searches := append(append([]SavedSearch{}, savedSearches...), more...)
	for _, s := range searches {
		if seen[s.ID] {
			return nil, fmt.Errorf("kibana: two saved searches with ID %q", s.ID)
		}
		seen[s.ID] = true
		if err := encodeSearch(enc, fmt.Sprintf("jejak-%s-%s", s.ID, index), tl, "@timestamp", s); err != nil {
			return nil, err
		}
	}
	findings := SavedSearch{Title: "jejak: findings", Description: "Every finding the hunts stored, earliest first.",
		Columns: []string{"severity", "rule_id", "title", "technique", "key", "verdict", "last", "hunt"}}
	if err := encodeSearch(enc, "jejak-findings-"+index, fd, FindingsTimeField, findings); err != nil {
		return nil, err
	}
	var panels []any
	var refs []any
	for i, v := range dashboardPanels {
		view := tl
		if v.findings {
			view = fd
		}
		id := fmt.Sprintf("jejak-vis-%s-%s", v.id, index)
		if err := encodeVis(enc, id, view, v); err != nil {
			return nil, err
		}
		p := fmt.Sprintf("p%d", i+1)
		panels = append(panels, map[string]any{
			"version": "8.0.0", "type": "visualization", "panelIndex": p,
			"gridData":         map[string]any{"x": v.x, "y": v.y, "w": v.w, "h": v.h, "i": p},
			"embeddableConfig": map[string]any{"enhancements": map[string]any{}},
			"panelRefName":     "panel_" + p,
		})
		refs = append(refs, map[string]any{"name": p + ":panel_" + p, "type": "visualization", "id": id})
	}
	panelsJSON, err := json.Marshal(panels)
	if err != nil {
		return nil, err
	}
	source, err := json.Marshal(map[string]any{"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{}})
	if err != nil {
		return nil, err
	}
	if err := enc.Encode(map[string]any{
		"type": "dashboard", "id": DashboardID(index),
		"attributes": map[string]any{
			"title":       "jejak: " + index,
			"description": "Events over time per host, findings by severity and by rule, logons by source.",
			"panelsJSON":  string(panelsJSON),
			"optionsJSON": `{"hidePanelTitles":false,"useMargins":true}`,
			"timeRestore": false,
			"version":     1,
			"kibanaSavedObjectMeta": map[string]any{
				"searchSourceJSON": string(source),
			},
		},
		"references":       refs,
		"migrationVersion": map[string]string{"dashboard": "7.14.0"},
	}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// searchIndexRef is the reference name Kibana gives a search source's data
// view.
const searchIndexRef = "kibanaSavedObjectMeta.searchSourceJSON.index"

func encodeSearch(enc *json.Encoder, id, view, timeField string, s SavedSearch) error {
	source, err := json.Marshal(map[string]any{
		"query":        map[string]any{"query": s.KQL, "language": "kuery"},
		"filter":       []any{},
		"indexRefName": searchIndexRef,
	})
	if err != nil {
		return err
	}
	return enc.Encode(map[string]any{
		"type": "search", "id": id,
		"attributes": map[string]any{
			"title":                 s.Title,
			"description":           s.Description,
			"columns":               s.Columns,
			"sort":                  [][]string{{timeField, "asc"}},
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": string(source)},
		},
		"references":       []any{map[string]any{"name": searchIndexRef, "type": "index-pattern", "id": view}},
		"migrationVersion": map[string]string{"search": "7.9.3"},
	})
}

// panel is one visualization of the dashboard and its place on Kibana's
// 48-column grid.
type panel struct {
	id, title  string
	findings   bool // on the findings data view (else the timeline's)
	kql        string
	visType    string           // histogram, pie or table
	aggs       []map[string]any // after the count metric (id "1")
	x, y, w, h int
}

// terms is a terms aggregation bucket by count, largest first.
func terms(id, schema, field string, size int) map[string]any {
	return map[string]any{"id": id, "enabled": true, "type": "terms", "schema": schema, "params": map[string]any{
		"field": field, "size": size, "order": "desc", "orderBy": "1",
		"otherBucket": true, "otherBucketLabel": "Other", "missingBucket": true, "missingBucketLabel": "(none)"}}
}

var dashboardPanels = []panel{
	{id: "events-per-host", title: "jejak: events over time per host", visType: "histogram",
		aggs: []map[string]any{
			{"id": "2", "enabled": true, "type": "date_histogram", "schema": "segment", "params": map[string]any{
				"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": map[string]any{}}},
			terms("3", "group", "host.name", 10),
		}, x: 0, y: 0, w: 48, h: 15},
	{id: "findings-by-severity", title: "jejak: findings by severity", findings: true, visType: "pie",
		aggs: []map[string]any{terms("2", "segment", "severity", 10)},
		x:    0, y: 15, w: 16, h: 15},
	{id: "findings-by-rule", title: "jejak: findings by rule", findings: true, visType: "table",
		aggs: []map[string]any{terms("2", "bucket", "rule_id", 100), terms("3", "bucket", "title.keyword", 1)},
		x:    16, y: 15, w: 32, h: 15},
	{id: "logons-by-source", title: "jejak: logons by source", visType: "table",
		kql: `event.category:authentication`,
		aggs: []map[string]any{terms("2", "bucket", "source.ip", 50), terms("3", "bucket", "event.outcome", 3),
			terms("4", "bucket", "user.name", 5)},
		x: 0, y: 30, w: 48, h: 20},
}

// visParams are the chart options Kibana's editor writes for each type.
func visParams(t string) map[string]any {
	switch t {
	case "histogram":
		return map[string]any{
			"type": "histogram", "addTooltip": true, "addLegend": true, "legendPosition": "right",
			"times": []any{}, "addTimeMarker": false,
			"grid": map[string]any{"categoryLines": false},
			"categoryAxes": []any{map[string]any{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": true,
				"scale": map[string]any{"type": "linear"}, "labels": map[string]any{"show": true, "filter": true, "truncate": 100}, "title": map[string]any{}}},
			"valueAxes": []any{map[string]any{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": true,
				"scale":  map[string]any{"type": "linear", "mode": "normal"},
				"labels": map[string]any{"show": true, "rotate": 0, "filter": false, "truncate": 100}, "title": map[string]any{"text": "Events"}}},
			"seriesParams": []any{map[string]any{"show": true, "type": "histogram", "mode": "stacked",
				"data": map[string]any{"label": "Events", "id": "1"}, "valueAxis": "ValueAxis-1"}},
		}
	case "pie":
		return map[string]any{"type": "pie", "addTooltip": true, "addLegend": true, "legendPosition": "right", "isDonut": true,
			"labels": map[string]any{"show": true, "values": true, "last_level": true, "truncate": 100}}
	default:
		return map[string]any{"perPage": 20, "showPartialRows": false, "showMetricsAtAllLevels": false,
			"showTotal": false, "totalFunc": "sum", "percentageCol": ""}
	}
}

func encodeVis(enc *json.Encoder, id, view string, p panel) error {
	aggs := append([]map[string]any{{"id": "1", "enabled": true, "type": "count", "schema": "metric", "params": map[string]any{}}}, p.aggs...)
	vis, err := json.Marshal(map[string]any{"title": p.title, "type": p.visType, "params": visParams(p.visType), "aggs": aggs})
	if err != nil {
		return err
	}
	source, err := json.Marshal(map[string]any{
		"query":        map[string]any{"query": p.kql, "language": "kuery"},
		"filter":       []any{},
		"indexRefName": searchIndexRef,
	})
	if err != nil {
		return err
	}
	return enc.Encode(map[string]any{
		"type": "visualization", "id": id,
		"attributes": map[string]any{
			"title":                 p.title,
			"description":           "",
			"visState":              string(vis),
			"uiStateJSON":           "{}",
			"version":               1,
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": string(source)},
		},
		"references":       []any{map[string]any{"name": searchIndexRef, "type": "index-pattern", "id": view}},
		"migrationVersion": map[string]string{"visualization": "7.14.0"},
	})
}

// FindingsMappedFields is MappedFields for the findings index: every leaf
// field of its mapping with its type.
func FindingsMappedFields() (map[string]string, error) {
	var m struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal([]byte(findingsMapping), &m); err != nil {
		return nil, fmt.Errorf("findings mapping: %w", err)
	}
	out := map[string]string{}
	if err := walkProps("", m.Mappings.Properties, out); err != nil {
		return nil, err
	}
	return out, nil
}

// savedObject is the envelope of one NDJSON line of a saved-objects file.
type savedObject struct {
	Type       string                     `json:"type"`
	ID         string                     `json:"id"`
	Attributes map[string]json.RawMessage `json:"attributes"`
	References []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"references"`
}

// kibanaTypes are the saved-object types jejak writes.
var kibanaTypes = map[string]bool{"index-pattern": true, "search": true, "visualization": true, "dashboard": true}

// dashboardColumns is the width of Kibana's dashboard grid.
const dashboardColumns = 48

// CheckKibanaObjects checks a saved-objects NDJSON file the way an import
// would fail on it, as far as that can be told without a Kibana: every line
// an object of a known type with an ID unique for its type; every reference
// resolving to an object of the file of the type it names; every search
// source naming its data view through a reference; every dashboard panel
// on the 48-column grid, not overlapping another, and found through its
// reference. And every field an object names (a data view's time field,
// a search's columns, sort and KQL, a visualization's aggregations and
// query) is mapped by the template of the index its data view reads: the
// timeline template, or the findings mapping for the view on
// FindingsIndex of another view's index. Each problem is one error.
func CheckKibanaObjects(ndjson []byte) error {
	timelineFields, err := MappedFields()
	if err != nil {
		return err
	}
	findingsFields, err := FindingsMappedFields()
	if err != nil {
		return err
	}
	var objs []savedObject
	var errs []error
	bad := func(o savedObject, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s %q: %s", o.Type, o.ID, fmt.Sprintf(format, a...)))
	}
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			errs = append(errs, fmt.Errorf("line %d: empty", line))
			continue
		}
		var o savedObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		objs = append(objs, o)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	byKey := map[[2]string]savedObject{}
	titles := map[string]string{} // data view ID → its index
	for _, o := range objs {
		if !kibanaTypes[o.Type] {
			bad(o, "type is not one of index-pattern, search, visualization, dashboard")
		}
		if o.ID == "" || o.Attributes == nil || o.References == nil {
			bad(o, "needs an id, attributes and references")
		}
		k := [2]string{o.Type, o.ID}
		if _, dup := byKey[k]; dup {
			bad(o, "ID used twice")
		}
		byKey[k] = o
		if o.Type == "index-pattern" {
			titles[o.ID] = attrString(o, "title")
		}
	}
	// A view reads the findings mapping when its index is the findings
	// index of another view's.
	fieldsOf := map[string]map[string]string{}
	for id, t := range titles {
		fieldsOf[id] = timelineFields
		for _, other := range titles {
			if t == FindingsIndex(other) {
				fieldsOf[id] = findingsFields
			}
		}
	}
	mapped := func(o savedObject, view, what, f string) {
		m := fieldsOf[view]
		if m == nil {
			return // the missing view is reported with the reference
		}
		if !fieldCovered(m, f) {
			bad(o, "%s names field %q, which the mapping of %s does not hold", what, f, titles[view])
		}
	}
	for _, o := range objs {
		refs := map[string]string{} // reference name → the ID it names
		for _, r := range o.References {
			if r.Name == "" || r.Type == "" || r.ID == "" {
				bad(o, "reference %+v needs a name, a type and an id", r)
				continue
			}
			if _, dup := refs[r.Name]; dup {
				bad(o, "reference name %q used twice", r.Name)
			}
			refs[r.Name] = r.ID
			if _, ok := byKey[[2]string{r.Type, r.ID}]; !ok {
				bad(o, "reference %q names %s %q, which the file does not hold", r.Name, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "index-pattern":
			tf := attrString(o, "timeFieldName")
			if titles[o.ID] == "" {
				bad(o, "data view without a title (index pattern)")
			}
			if t := fieldsOf[o.ID][tf]; t != "date" && t != "date_nanos" {
				bad(o, "time field %q is not a date in the mapping of %s", tf, titles[o.ID])
			}
		case "search", "visualization":
			view := checkSource(o, refs, bad, mapped)
			if o.Type == "search" {
				var cols []string
				var sort [][]string
				_ = json.Unmarshal(o.Attributes["columns"], &cols)
				if err := json.Unmarshal(o.Attributes["sort"], &sort); err != nil || len(sort) == 0 {
					bad(o, "no sort")
				}
				for _, c := range cols {
					mapped(o, view, "column", c)
				}
				for _, s := range sort {
					if len(s) != 2 || (s[1] != "asc" && s[1] != "desc") {
						bad(o, "sort %v is not [field, asc|desc]", s)
						continue
					}
					mapped(o, view, "sort", s[0])
				}
				continue
			}
			var vis struct {
				Title string `json:"title"`
				Type  string `json:"type"`
				Aggs  []struct {
					ID     string         `json:"id"`
					Type   string         `json:"type"`
					Schema string         `json:"schema"`
					Params map[string]any `json:"params"`
				} `json:"aggs"`
			}
			if err := json.Unmarshal([]byte(attrString(o, "visState")), &vis); err != nil {
				bad(o, "visState: %v", err)
				continue
			}
			if vis.Title == "" || !slices.Contains([]string{"histogram", "line", "area", "pie", "table"}, vis.Type) {
				bad(o, "visState title %q type %q", vis.Title, vis.Type)
			}
			ids := map[string]bool{}
			for _, a := range vis.Aggs {
				if ids[a.ID] || a.ID == "" {
					bad(o, "aggregation ID %q missing or used twice", a.ID)
				}
				ids[a.ID] = true
				f, _ := a.Params["field"].(string)
				switch a.Type {
				case "count":
				case "terms", "date_histogram":
					mapped(o, view, a.Type+" aggregation", f)
					m := fieldsOf[view]
					if a.Type == "date_histogram" && m != nil && m[f] != "date" && m[f] != "date_nanos" {
						bad(o, "date_histogram on %q, not a date", f)
					}
					if m != nil && m[f] == "text" {
						bad(o, "terms on %q, a text field (not aggregatable)", f)
					}
				default:
					bad(o, "aggregation type %q is not one jejak writes", a.Type)
				}
			}
		case "dashboard":
			checkPanels(o, refs, bad)
		}
	}
	return errors.Join(errs...)
}

func attrString(o savedObject, name string) string {
	var s string
	_ = json.Unmarshal(o.Attributes[name], &s)
	return s
}

// checkSource checks a search source (a search's or a visualization's):
// its data view reached through indexRefName, and its KQL's fields. It
// returns the data view's ID.
func checkSource(o savedObject, refs map[string]string, bad func(savedObject, string, ...any), mapped func(savedObject, string, string, string)) string {
	var meta struct {
		Source string `json:"searchSourceJSON"`
	}
	_ = json.Unmarshal(o.Attributes["kibanaSavedObjectMeta"], &meta)
	var src struct {
		Query struct {
			Query    string `json:"query"`
			Language string `json:"language"`
		} `json:"query"`
		IndexRefName string `json:"indexRefName"`
	}
	if err := json.Unmarshal([]byte(meta.Source), &src); err != nil {
		bad(o, "searchSourceJSON: %v", err)
		return ""
	}
	view, ok := refs[src.IndexRefName]
	if !ok {
		bad(o, "searchSourceJSON names data view reference %q, which its references lack", src.IndexRefName)
	}
	if src.Query.Language != "kuery" {
		bad(o, "query language %q, not kuery", src.Query.Language)
	}
	if strings.TrimSpace(src.Query.Query) == "" {
		return view
	}
	e, err := query.Parse(src.Query.Query)
	if err != nil {
		bad(o, "KQL %q: %v", src.Query.Query, err)
		return view
	}
	for _, f := range kqlFields(e) {
		mapped(o, view, "KQL", f)
	}
	return view
}

// kqlFields lists the fields a parsed KQL query names (free text names
// message, which every timeline maps).
func kqlFields(e query.Expr) []string {
	switch x := e.(type) {
	case *query.And:
		var out []string
		for _, c := range x.X {
			out = append(out, kqlFields(c)...)
		}
		return out
	case *query.Or:
		var out []string
		for _, c := range x.X {
			out = append(out, kqlFields(c)...)
		}
		return out
	case *query.Not:
		return kqlFields(x.X)
	case *query.Match:
		if x.Field == "" {
			return nil
		}
		return []string{x.Field}
	case *query.Range:
		return []string{x.Field}
	}
	return nil
}

// checkPanels checks a dashboard's panels: each on the grid, none
// overlapping another, each found through its "<panelIndex>:<panelRefName>"
// reference.
func checkPanels(o savedObject, refs map[string]string, bad func(savedObject, string, ...any)) {
	type grid struct{ X, Y, W, H int }
	var panels []struct {
		PanelIndex   string `json:"panelIndex"`
		PanelRefName string `json:"panelRefName"`
		Type         string `json:"type"`
		GridData     struct {
			grid
			I string `json:"i"`
		} `json:"gridData"`
	}
	if err := json.Unmarshal([]byte(attrString(o, "panelsJSON")), &panels); err != nil {
		bad(o, "panelsJSON: %v", err)
		return
	}
	if len(panels) == 0 {
		bad(o, "no panels")
	}
	seen := map[string]bool{}
	var placed []grid
	for _, p := range panels {
		g := p.GridData.grid
		if p.PanelIndex == "" || seen[p.PanelIndex] || p.GridData.I != p.PanelIndex {
			bad(o, "panel index %q missing, used twice or not its gridData.i (%q)", p.PanelIndex, p.GridData.I)
		}
		seen[p.PanelIndex] = true
		if g.X < 0 || g.Y < 0 || g.W <= 0 || g.H <= 0 || g.X+g.W > dashboardColumns {
			bad(o, "panel %s at %+v is off the %d-column grid", p.PanelIndex, g, dashboardColumns)
		}
		for _, q := range placed {
			if g.X < q.X+q.W && q.X < g.X+g.W && g.Y < q.Y+q.H && q.Y < g.Y+g.H {
				bad(o, "panel %s at %+v overlaps the panel at %+v", p.PanelIndex, g, q)
			}
		}
		placed = append(placed, g)
		if _, ok := refs[p.PanelIndex+":"+p.PanelRefName]; !ok || p.PanelRefName == "" {
			bad(o, "panel %s: no reference %q", p.PanelIndex, p.PanelIndex+":"+p.PanelRefName)
		}
	}
}
