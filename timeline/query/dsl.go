package query

import (
	"math"
	"strings"
	"time"
	"unicode"
)

// DSL returns the filter as an Elasticsearch query (the value of "query"
// in a search body) for jejak's index template: term, wildcard, range and
// exists on keyword, long, ip, boolean and flattened fields; match and
// match_phrase on text fields. Bounds come resolved from Compile, so the
// cluster and SQLite compare against the same values.
func (f *Filter) DSL() map[string]any { return dsl(f.root) }

type obj = map[string]any

func dsl(n node) obj {
	switch n := n.(type) {
	case nAll:
		return obj{"match_all": obj{}}
	case nNone:
		return obj{"match_none": obj{}}
	case nAnd:
		xs := make([]any, len(n))
		for i, x := range n {
			xs[i] = dsl(x)
		}
		return obj{"bool": obj{"filter": xs}}
	case nOr:
		xs := make([]any, len(n))
		for i, x := range n {
			xs[i] = dsl(x)
		}
		return obj{"bool": obj{"should": xs, "minimum_should_match": 1}}
	case nNot:
		return obj{"bool": obj{"must_not": []any{dsl(n.x)}}}
	case leaf:
		return dslLeaf(n)
	}
	return obj{"match_none": obj{}}
}

func dslLeaf(l leaf) obj {
	name := l.f.name
	if l.op == opExists {
		return obj{"exists": obj{"field": name}}
	}
	switch l.f.typ {
	case tKeyword, tFlattened:
		switch l.op {
		case opEq:
			return obj{"term": obj{name: obj{"value": l.s}}}
		case opWild:
			if l.f.key != "" {
				return keyedWildcard(name, l.f.key, l.ws)
			}
			return obj{"wildcard": obj{name: obj{"value": esWildcard(l.ws)}}}
		case opRange:
			r := obj{}
			if l.sLo != nil {
				r[map[bool]string{true: "gt", false: "gte"}[l.sLoExcl]] = *l.sLo
			}
			if l.sHi != nil {
				r[map[bool]string{true: "lt", false: "lte"}[l.sHiExcl]] = *l.sHi
			}
			return obj{"range": obj{name: r}}
		}
	case tText:
		switch l.op {
		case opAny:
			return obj{"match": obj{name: obj{"query": l.s}}}
		case opPhrase:
			return obj{"match_phrase": obj{name: obj{"query": l.s}}}
		case opTextWild:
			xs := make([]any, len(l.pats))
			for i, p := range l.pats {
				xs[i] = obj{"wildcard": obj{name: obj{"value": esWildcard(p)}}}
			}
			if len(xs) == 1 {
				return xs[0].(obj)
			}
			return obj{"bool": obj{"should": xs, "minimum_should_match": 1}}
		}
	case tLong:
		switch l.op {
		case opEq:
			return obj{"term": obj{name: obj{"value": l.n}}}
		case opRange:
			r := obj{}
			if l.nLo != math.MinInt64 {
				r["gte"] = l.nLo
			}
			if l.nHi != math.MaxInt64 {
				r["lte"] = l.nHi
			}
			return obj{"range": obj{name: r}}
		}
	case tBool:
		return obj{"term": obj{name: obj{"value": l.b}}}
	case tIP:
		if l.ipLo == l.ipHi {
			return obj{"term": obj{name: obj{"value": l.ipLo.Unmap().String()}}}
		}
		return obj{"range": obj{name: obj{"gte": l.ipLo.Unmap().String(), "lte": l.ipHi.Unmap().String()}}}
	case tDate:
		r := obj{"format": "strict_date_optional_time_nanos",
			"gte": time.Unix(0, l.nLo).UTC().Format(time.RFC3339Nano)}
		if l.nHi != math.MaxInt64 {
			r["lte"] = time.Unix(0, l.nHi).UTC().Format(time.RFC3339Nano)
		}
		return obj{"range": obj{name: r}}
	}
	return obj{"match_none": obj{}}
}

// esWildcard writes the segments as a Lucene wildcard pattern: '*' between
// them, and Lucene's specials (* ? \) escaped inside them.
func esWildcard(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('*')
		}
		for _, r := range s {
			if r == '*' || r == '?' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// keyedWildcard matches a pattern against one key of a flattened field.
// Elasticsearch refuses a wildcard query there, and a query_string (what
// Kibana sends) is exact only for a pure prefix ("adm*"), which it runs as
// a prefix query on the key. Any other pattern it matches, unrewritten,
// against the terms the keyed field indexes, "key\x00value" (8.19;
// elastic/elasticsearch#138427): "*services.exe" matched every key's
// values, and "C:*.exe" nothing. So the pattern is given the key's own
// "key\x00" prefix here, which makes it exact. TestKeyedFlattenedWildcards
// holds both stores to the same hits, and fails if a later Elasticsearch
// rewrites the pattern itself.
func keyedWildcard(name, key string, segs []string) obj {
	if len(segs) == 2 && segs[1] == "" && segs[0] != "" {
		return obj{"prefix": obj{name: obj{"value": segs[0]}}}
	}
	return obj{"query_string": obj{"fields": []any{name}, "query": qsWildcard([]string{key + "\x00"}) + qsWildcard(segs)}}
}

// qsWildcard writes the segments as one query_string term: '*' between
// them, every query_string special and whitespace escaped inside them.
func qsWildcard(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('*')
		}
		for _, r := range s {
			if strings.ContainsRune(`+-=&|><!(){}[]^"~*?:\\/`, r) || unicode.IsSpace(r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
