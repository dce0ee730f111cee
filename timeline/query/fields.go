package query

import (
	"sort"
	"strings"
)

// fieldType is a field's type in jejak's Elasticsearch index template
// (timeline/store/elastic/template.json); it decides the query semantics on
// both stores. A test holds this table to the template.
type fieldType string

const (
	tKeyword   fieldType = "keyword"
	tText      fieldType = "text"
	tLong      fieldType = "long"
	tIP        fieldType = "ip"
	tDate      fieldType = "date_nanos"
	tBool      fieldType = "boolean"
	tFlattened fieldType = "flattened"
	tNoIndex   fieldType = "not indexed"
)

// field says how to find a field in both stores.
type field struct {
	name string // ECS path, as Elasticsearch knows it
	typ  fieldType
	// json is the path of the value in the stored document (differs from
	// name for sub-fields: message.keyword is $.message).
	json string
	// column is the events-table column holding the same value, if any.
	column string
	array  bool // the document holds a JSON array
	// ignoreAbove: longer strings are not indexed by Elasticsearch, so
	// they match nothing, not even "exists".
	ignoreAbove int
	// depth of a flattened object's leaves (winlog.event_data: 1,
	// log.syslog.structured_data: 2).
	depth int
	// key is the flattened key below a flattened root (the part after
	// "winlog.event_data.").
	key string
}

type fieldDef struct {
	typ         fieldType
	json        string
	column      string
	array       bool
	ignoreAbove int
	depth       int
}

// fields is the index template's mapping, by ECS path.
var fields = func() map[string]fieldDef {
	m := map[string]fieldDef{
		"@timestamp":      {typ: tDate, column: "ts"},
		"timestamp_desc":  {typ: tKeyword},
		"message":         {typ: tText},
		"message.keyword": {typ: tKeyword, json: "message", ignoreAbove: 1024},

		"event.category": {typ: tKeyword, array: true},
		"event.type":     {typ: tKeyword, array: true},
		"event.action":   {typ: tKeyword, column: "action"},
		"event.outcome":  {typ: tKeyword, column: "outcome"},
		"event.severity": {typ: tLong},
		"event.original": {typ: tNoIndex},

		"log.syslog.priority":        {typ: tLong},
		"log.syslog.facility.code":   {typ: tLong},
		"log.syslog.severity.code":   {typ: tLong},
		"log.syslog.structured_data": {typ: tFlattened, depth: 2},

		"host.name":   {typ: tKeyword, column: "host_name"},
		"user.name":   {typ: tKeyword, column: "user_name"},
		"source.ip":   {typ: tIP, column: "source_ip"},
		"source.port": {typ: tLong},

		"destination.ip":   {typ: tIP},
		"destination.port": {typ: tLong},

		"process.pid": {typ: tLong},
		"file.size":   {typ: tLong},

		"http.response.status_code": {typ: tLong},
		"http.response.body.bytes":  {typ: tLong},

		"user_agent.original.text": {typ: tText, json: "user_agent.original"},

		"winlog.event_data": {typ: tFlattened, depth: 1},

		"related.user": {typ: tKeyword, array: true},
		"related.ip":   {typ: tIP, array: true},

		"jejak.provenance.evidence_sha256": {typ: tKeyword, column: "evidence"},
		"jejak.provenance.chain":           {typ: tKeyword, array: true},
		"jejak.provenance.offset":          {typ: tLong},
		"jejak.provenance.record":          {typ: tLong},
		"jejak.provenance.parser":          {typ: tKeyword, column: "parser"},
		"jejak.time.year_inferred":         {typ: tBool},
		"jejak.time.out_of_range":          {typ: tBool},
		"jejak.data":                       {typ: tFlattened, depth: 1},
		"jejak.tags":                       {typ: tKeyword, array: true},
	}
	keywords := []string{
		"event.kind", "event.code", "event.dataset", "event.provider", "event.timezone",
		"log.level", "log.logger", "log.syslog.facility.name", "log.syslog.severity.name",
		"log.syslog.appname", "log.syslog.hostname", "log.syslog.msgid", "log.syslog.procid", "log.syslog.version",
		"host.hostname", "user.domain", "user.id",
		"user.effective.name", "user.effective.domain", "user.effective.id",
		"user.target.name", "user.target.domain", "user.target.id",
		"group.name", "group.id", "source.domain", "source.address", "destination.domain", "destination.address",
		"process.name", "process.executable", "process.command_line", "process.working_directory", "process.tty",
		"file.path", "file.name", "file.inode", "file.type", "file.target_path", "url.original", "url.path", "url.query", "url.domain",
		"http.version", "http.request.method", "http.request.referrer", "user_agent.original",
		"winlog.channel", "winlog.event_id", "winlog.record_id", "winlog.computer_name", "winlog.provider_name",
		"winlog.logon.type", "winlog.logon.id",
		"jejak.id", "jejak.provenance.evidence_name", "jejak.provenance.path", "jejak.provenance.identity",
		"jejak.time.zone_assumed", "jejak.time.year_basis",
	}
	for _, k := range keywords {
		m[k] = fieldDef{typ: tKeyword}
	}
	return m
}()

// lookup resolves a field name, including keys below flattened fields
// ("winlog.event_data.TargetUserName").
func lookup(name string) (field, bool) {
	if d, ok := fields[name]; ok {
		return mkField(name, d, ""), true
	}
	for root, d := range fields {
		if d.typ == tFlattened && strings.HasPrefix(name, root+".") && len(name) > len(root)+1 {
			return mkField(name, d, name[len(root)+1:]), true
		}
	}
	return field{}, false
}

func mkField(name string, d fieldDef, key string) field {
	f := field{name: name, typ: d.typ, json: d.json, column: d.column, array: d.array,
		ignoreAbove: d.ignoreAbove, depth: d.depth, key: key}
	if f.json == "" {
		f.json = name
	}
	if key != "" {
		f.json = strings.TrimSuffix(name, "."+key)
	}
	if d.typ == tFlattened {
		f.ignoreAbove = 8191
	}
	return f
}

// FieldTypes lists the searchable fields and their index types, for help
// output and for the test that holds this table to the index template.
func FieldTypes() map[string]string {
	out := make(map[string]string, len(fields))
	for k, d := range fields {
		t := string(d.typ)
		switch d.typ {
		case tText:
			t = "text"
		case tNoIndex:
			t = "keyword"
		}
		out[k] = t
	}
	return out
}

// suggest names the known field closest to a mistyped one.
func suggest(name string) string {
	best, bestD := "", 4
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	low := strings.ToLower(name)
	for _, k := range names {
		if strings.ToLower(k) == low {
			return k
		}
		if d := editDistance(low, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		for _, k := range names {
			if strings.HasSuffix(k, "."+name) {
				return k
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
