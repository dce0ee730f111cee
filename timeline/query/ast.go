package query

import (
	"strings"
)

// Expr is a parsed KQL expression: *And, *Or, *Not, *Match, *Range or
// *All. Parse builds it; Compile checks it against the field schema.
type Expr interface {
	// Pos is the 1-based column (in runes) where the expression starts.
	Pos() int
	// String renders the expression back as KQL that parses to the same
	// tree, with explicit parentheses.
	String() string
}

// All matches every event: the empty query, and free text "*".
type All struct{ Col int }

// And matches when every operand matches.
type And struct {
	Col int
	X   []Expr
}

// Or matches when any operand matches.
type Or struct {
	Col int
	X   []Expr
}

// Not matches when its operand does not.
type Not struct {
	Col int
	X   Expr
}

// Match is `field:value`, or free text (Field == "") which searches message.
type Match struct {
	Col      int
	Field    string
	FieldCol int
	Value    Value
}

// Range is `field < value` and the other comparisons.
type Range struct {
	Col      int
	Field    string
	FieldCol int
	Op       RangeOp
	Value    Value
}

// RangeOp is a comparison operator of a Range.
type RangeOp string

// The range operators, named as Elasticsearch's range query names them.
const (
	LT  RangeOp = "lt"
	LTE RangeOp = "lte"
	GT  RangeOp = "gt"
	GTE RangeOp = "gte"
)

// Value is a literal as written: the text after KQL escapes are resolved,
// whether it was quoted, and, for unquoted values, which runes are
// wildcards (an escaped \* is a literal star).
type Value struct {
	Col    int
	Text   string
	Quoted bool
	// Wild marks the rune indexes of Text that are unescaped '*'.
	Wild []int
}

// IsWildcard says whether the value holds an unescaped '*'.
func (v Value) IsWildcard() bool { return len(v.Wild) > 0 }

// IsExists says whether the value is a lone unescaped '*'.
func (v Value) IsExists() bool { return v.Text == "*" && len(v.Wild) == 1 }

// Segments splits a wildcard value into its literal parts: "ad*n*" gives
// ["ad", "n", ""], joined by a wildcard between each.
func (v Value) Segments() []string {
	var segs []string
	var cur strings.Builder
	wild := map[int]bool{}
	for _, i := range v.Wild {
		wild[i] = true
	}
	i := 0
	for _, r := range v.Text {
		if wild[i] {
			segs = append(segs, cur.String())
			cur.Reset()
		} else {
			cur.WriteRune(r)
		}
		i++
	}
	return append(segs, cur.String())
}

func (e *All) Pos() int   { return e.Col }
func (e *And) Pos() int   { return e.Col }
func (e *Or) Pos() int    { return e.Col }
func (e *Not) Pos() int   { return e.Col }
func (e *Match) Pos() int { return e.Col }
func (e *Range) Pos() int { return e.Col }

func (e *All) String() string { return "*" }

func (e *And) String() string { return join(e.X, " and ") }

func (e *Or) String() string { return join(e.X, " or ") }

func (e *Not) String() string {
	if _, ok := e.X.(*Not); ok {
		// KQL has no "not not": the inner one needs parentheses.
		return "not (" + e.X.String() + ")"
	}
	return "not " + e.X.String()
}

func (e *Match) String() string {
	if e.Field == "" {
		return e.Value.String()
	}
	return quoteField(e.Field) + ":" + e.Value.String()
}

func (e *Range) String() string {
	op := map[RangeOp]string{LT: "<", LTE: "<=", GT: ">", GTE: ">="}[e.Op]
	return quoteField(e.Field) + " " + op + " " + e.Value.String()
}

func join(xs []Expr, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// String renders the value in KQL: quoted values quoted, unquoted ones with
// every special character and keyword escaped except their wildcards.
func (v Value) String() string {
	if v.Quoted || v.Text == "" {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range v.Text {
			switch r {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case '\t':
				b.WriteString(`\t`)
			case '\r':
				b.WriteString(`\r`)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	wild := map[int]bool{}
	for _, i := range v.Wild {
		wild[i] = true
	}
	return escapeUnquoted(v.Text, wild)
}

func quoteField(f string) string { return escapeUnquoted(f, nil) }

// escapeUnquoted writes s as an unquoted KQL literal. Whitespace is written
// as \uXXXX: a raw space could start a keyword (" or ", "not "), and KQL
// trims raw whitespace at the ends of a literal.
func escapeUnquoted(s string, wild map[int]bool) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		switch {
		case wild[i]:
			b.WriteRune('*')
		case strings.ContainsRune(`\():<>"*{}`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case isSpace(r) || r < 0x20 || isTrimmed(r):
			b.WriteString(`\u`)
			const hex = "0123456789abcdef"
			if r > 0xffff {
				// \uXXXX holds one UTF-16 unit; write the surrogate pair.
				hi, lo := surrogates(r)
				b.WriteString(string([]byte{hex[hi>>12], hex[hi>>8&15], hex[hi>>4&15], hex[hi&15]}))
				b.WriteString(`\u`)
				r = rune(lo)
			}
			b.WriteString(string([]byte{hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]}))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func surrogates(r rune) (hi, lo uint16) {
	r -= 0x10000
	return uint16(0xd800 + (r>>10)&0x3ff), uint16(0xdc00 + r&0x3ff)
}
