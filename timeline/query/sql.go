package query

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// SQL returns the filter as a boolean SQL expression over jejak's SQLite
// events table (columns ts, id, action, outcome, user_name, source_ip,
// host_name, parser, evidence; doc holds the ECS JSON), with its
// arguments. Fields with a column of their own use it (and its index);
// others are read with json_extract, arrays and flattened objects with
// json_each. Full-text and IP tests call kql_text and kql_ip (SQLFuncs).
//
// SQL assumes the table has all those columns; SQLColumns uses only the
// columns has reports (ts and id are required), so the same filter runs on
// case stores of every schema version.
func (f *Filter) SQL() (string, []any) { return f.SQLColumns(nil) }

// SQLColumns is SQL for a table with only the columns has reports (nil:
// all).
func (f *Filter) SQLColumns(has func(column string) bool) (string, []any) {
	if has == nil {
		has = func(string) bool { return true }
	}
	b := sqlBuilder{has: has}
	b.node(f.root)
	return b.String(), b.args
}

type sqlBuilder struct {
	strings.Builder
	args []any
	has  func(string) bool
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

func (b *sqlBuilder) node(n node) {
	switch n := n.(type) {
	case nAll:
		b.WriteString("1")
	case nNone:
		b.WriteString("0")
	case nAnd:
		b.list(n, " AND ")
	case nOr:
		b.list(n, " OR ")
	case nNot:
		// A condition on a missing field is NULL in SQL but false in
		// Elasticsearch; NOT must see false, or it would drop the very
		// events that lack the field.
		b.WriteString("NOT COALESCE(")
		b.node(n.x)
		b.WriteString(", 0)")
	case leaf:
		b.leaf(n)
	}
}

func (b *sqlBuilder) list(xs []node, sep string) {
	b.WriteByte('(')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.node(x)
	}
	b.WriteByte(')')
}

// jsonPath is the SQLite JSON path of a dotted field path; jejak's field
// names are plain identifiers, so no quoting is needed.
func jsonPath(p string) string { return "'$." + p + "'" }

func (b *sqlBuilder) leaf(l leaf) {
	f := l.f
	switch {
	case f.typ == tDate:
		b.WriteString("(" + f.column + " BETWEEN " + b.arg(l.nLo) + " AND " + b.arg(l.nHi) + ")")
		return
	case f.name == "jejak.id" && l.op == opEq && isLowerHex32(l.s):
		// events_id is keyed on the ID's bytes as TEXT (the store's
		// format 7, sqlite.IDKey): the same expression on both sides
		// reads it; a BLOB is never equal to TEXT.
		id, _ := hex.DecodeString(l.s)
		b.WriteString("CAST(id AS TEXT) = CAST(" + b.arg(id) + " AS TEXT)")
		return
	case f.column != "" && b.has(f.column):
		b.cond(l, f.column, true)
		return
	case f.typ == tFlattened:
		b.WriteString("EXISTS (SELECT 1 FROM json_each(doc, " + jsonPath(f.json) + ") AS a")
		v, key := "a.value", "a.key"
		if f.depth == 2 {
			b.WriteString(", json_each(a.value) AS b")
			v, key = "b.value", "a.key || '.' || b.key"
		}
		b.WriteString(" WHERE ")
		if f.key != "" {
			b.WriteString(key + " = " + b.arg(f.key) + " AND ")
		}
		b.cond(l, v, false)
		b.WriteString(")")
		return
	case f.array:
		b.WriteString("EXISTS (SELECT 1 FROM json_each(doc, " + jsonPath(f.json) + ") WHERE ")
		b.cond(l, "value", false)
		b.WriteString(")")
		return
	}
	b.cond(l, "json_extract(doc, "+jsonPath(f.json)+")", false)
}

// cond writes the test of one value v (a column, json_extract or a
// json_each value). column says v is a typed column rather than JSON.
func (b *sqlBuilder) cond(l leaf, v string, column bool) {
	f := l.f
	switch f.typ {
	case tKeyword, tFlattened:
		if !column {
			// Elasticsearch indexes a JSON number in a keyword field as
			// its text (winlog.event_id 4624 is "4624").
			v = "CAST(" + v + " AS TEXT)"
		}
		b.WriteByte('(')
		switch l.op {
		case opEq:
			b.WriteString(v + " = " + b.arg(l.s))
		case opWild:
			b.wild(v, l.ws)
		case opExists:
			b.WriteString(v + " IS NOT NULL")
		case opRange:
			var parts []string
			if l.sLo != nil {
				op := " >= "
				if l.sLoExcl {
					op = " > "
				}
				parts = append(parts, v+op+b.arg(*l.sLo))
			}
			if l.sHi != nil {
				op := " <= "
				if l.sHiExcl {
					op = " < "
				}
				parts = append(parts, v+op+b.arg(*l.sHi))
			}
			b.WriteString(strings.Join(parts, " AND "))
		}
		if f.ignoreAbove > 0 {
			b.WriteString(" AND length(" + v + ") <= " + strconv.Itoa(f.ignoreAbove))
		}
		b.WriteByte(')')
	case tText:
		// kql_text gets the value as a BLOB: the driver hands a function
		// a TEXT argument only up to its first NUL, a BLOB whole, and
		// Elasticsearch analyzes the whole value. The cast only retags
		// the value; its bytes are not converted.
		if l.op != opExists {
			v = "CAST(" + v + " AS BLOB)"
		}
		switch l.op {
		case opExists:
			b.WriteString("(" + v + " IS NOT NULL)")
		case opAny:
			b.WriteString("kql_text(" + v + ", 'any', " + b.arg(strings.Join(l.toks, sepList)) + ")")
		case opPhrase:
			b.WriteString("kql_text(" + v + ", 'phrase', " + b.arg(strings.Join(l.toks, sepList)) + ")")
		case opTextWild:
			pats := make([]string, len(l.pats))
			for i, p := range l.pats {
				pats[i] = strings.Join(p, sepSeg)
			}
			b.WriteString("kql_text(" + v + ", 'wild', " + b.arg(strings.Join(pats, sepList)) + ")")
		}
	case tLong:
		switch l.op {
		case opExists:
			b.WriteString("(typeof(" + v + ") IN ('integer', 'real'))")
		case opEq:
			b.WriteString("(" + v + " = " + b.arg(l.n) + ")")
		case opRange:
			b.WriteString("(" + v + " BETWEEN " + b.arg(l.nLo) + " AND " + b.arg(l.nHi) + ")")
		}
	case tBool:
		switch l.op {
		case opExists:
			b.WriteString("(" + v + " IS NOT NULL)")
		case opEq:
			b.WriteString("(" + v + " = " + b.arg(b2i(l.b)) + ")")
		}
	case tIP:
		lo, hi := l.ipLo.As16(), l.ipHi.As16()
		if l.op == opExists {
			lo, hi = [16]byte{}, maxIP.As16()
		}
		// As a BLOB, whole: "10.0.0.1\x00x" is no address (see tText).
		test := "kql_ip(CAST(" + v + " AS BLOB), " + b.arg(lo[:]) + ", " + b.arg(hi[:]) + ")"
		// On a column, the texts an address in the range can have
		// (ipTextCover) are also tested: SQLite looks them up in the
		// column's index when it can, and kql_ip decides each row found.
		// kql_ip comes first, so a row read in a scan is not compared
		// with each text too.
		exact, prefixes, ok := []string(nil), []ipPrefix(nil), false
		if column && l.op == opRange && narrowIPRange(l.ipLo, l.ipHi) {
			exact, prefixes, ok = ipTextCover(l.ipLo, l.ipHi)
		}
		if !ok {
			b.WriteString(test)
			return
		}
		b.WriteString("(" + test + " AND (")
		for i, e := range exact {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString(v + " = " + b.arg(e))
		}
		for i, p := range prefixes {
			if i > 0 || len(exact) > 0 {
				b.WriteString(" OR ")
			}
			ge, lt := v+" >= "+b.arg(p.p), v+" < "+b.arg(prefixEnd(p.p))
			if p.odd {
				// SQLite estimates a range without statistics to hold
				// a sixteenth of the rows, so a few dozen cost more
				// than a scan to it: one of odd spellings holds next
				// to none.
				ge, lt = "likelihood("+ge+", 0.001)", "likelihood("+lt+", 0.001)"
			}
			b.WriteString("(" + ge + " AND " + lt + ")")
		}
		b.WriteString("))")
	}
}

// narrowIPRange says whether [lo, hi] holds at most 65,536 addresses (an
// address, an IPv4 /16 or IPv6 /112 block, or narrower): those are looked
// up in the source_ip index. A wider block may hold most of the events
// (10.0.0.0/8 of a LAN), and SQLite, which has no statistics of the
// column, would read them all through the index and sort them: 'jejak
// search' of 10.0.0.0/8 --limit 20 on 2M syslog events took 30-53 s so,
// 3.4 s scanning in time order.
func narrowIPRange(lo, hi netip.Addr) bool {
	l, h := lo.As16(), hi.As16()
	return [14]byte(l[:14]) == [14]byte(h[:14])
}

// wild writes the test of the keyword value v against a KQL wildcard given
// as its literal segments. It calls kql_wild with v as a BLOB rather than
// using SQLite's GLOB: GLOB stops at the first NUL of the value, where
// Elasticsearch compares the whole value ("x\x00y" would miss *y and match
// x*). A test of v that also looked for a NUL to keep GLOB for the other
// values would evaluate v twice, and v may be a view's column that
// decompresses the document (user_name): one call is cheaper.
func (b *sqlBuilder) wild(v string, segs []string) {
	b.WriteString("kql_wild(CAST(" + v + " AS BLOB), " + b.arg(strings.Join(segs, sepSeg)) + ")")
}

func isLowerHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
