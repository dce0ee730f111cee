package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Error is a problem with a query, at a 1-based column counted in
// characters (runes), like encoding/csv's ParseError.
type Error struct {
	Query string
	Col   int
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("kql: column %d: %s", e.Col, e.Msg) }

// Caret returns the query and a second line pointing at the column, for a
// terminal.
func (e *Error) Caret() string {
	q := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(e.Query)
	return q + "\n" + strings.Repeat(" ", max(e.Col-1, 0)) + "^"
}

// Parse reads a query in the Kibana Query Language, following Kibana's own
// grammar (kuery.peggy): `or` binds looser than `and`, `not` tighter; the
// keywords are case-insensitive and need whitespace around them (so
// "cannot login" stops before "not ", exactly as Kibana rejects it); an
// unquoted value runs, spaces included, up to a special character or a
// keyword and is trimmed; `*` in an unquoted value is a wildcard; escapes
// are \t \r \n \uXXXX, a backslash before one of \():<>"*{} and before
// or/and/not, and in quoted strings \" and \\. An empty query matches all.
// Nested queries (field:{...}) and wildcard field names are not supported
// and are reported as errors.
func Parse(q string) (Expr, error) {
	p := &parser{src: q, rs: []rune(q)}
	p.spaces()
	if p.eof() {
		return &All{Col: 1}, nil
	}
	e, err := p.orQuery()
	if err != nil {
		return nil, err
	}
	p.spaces()
	if !p.eof() {
		return nil, p.unexpected()
	}
	return e, nil
}

type parser struct {
	src string
	rs  []rune
	i   int
}

func (p *parser) eof() bool { return p.i >= len(p.rs) }

func (p *parser) errAt(i int, format string, a ...any) error {
	return &Error{Query: p.src, Col: i + 1, Msg: fmt.Sprintf(format, a...)}
}

// unexpected describes the rune at p.i that no rule could take.
func (p *parser) unexpected() error {
	if p.eof() {
		return p.errAt(p.i, "unexpected end of query")
	}
	switch r := p.rs[p.i]; r {
	case ')':
		return p.errAt(p.i, "unexpected ')' with no '(' open")
	case ':':
		return p.errAt(p.i, "unexpected ':': a value holding ':' must be quoted or escaped (\\:), and two conditions need 'and' or 'or' between them")
	case '<', '>':
		return p.errAt(p.i, "unexpected %q: a range needs a field name on its left (field >= value)", string(r))
	case '{', '}':
		return p.errAt(p.i, "nested queries (field:{...}) are not supported")
	case '\\':
		return p.errAt(p.i, "invalid escape: a backslash escapes only \\():<>\"*{}, the keywords or/and/not, \\t \\r \\n and \\uXXXX")
	case '"':
		return p.errAt(p.i, "unexpected '\"': two conditions need 'and' or 'or' between them")
	case '(':
		return p.errAt(p.i, "unexpected '(': two conditions need 'and' or 'or' between them")
	default:
		if j, ok := p.keyword(p.i, "not"); ok && j > p.i {
			return p.errAt(p.i, "unexpected 'not': to search for the word, escape it (\\NOT) or quote the value")
		}
		return p.errAt(p.i, "unexpected %q: two conditions need 'and' or 'or' between them", string(r))
	}
}

// isSpace is KQL's whitespace.
func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\u00a0' }

// isTrimmed is what JavaScript's String.prototype.trim removes, which is
// how Kibana trims an unquoted literal.
func isTrimmed(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff':
		return true
	}
	return r >= '\u2000' && r <= '\u200a'
}

func isSpecial(r rune) bool { return strings.ContainsRune(`\():<>"*{}`, r) }

func (p *parser) spaces() {
	for !p.eof() && isSpace(p.rs[p.i]) {
		p.i++
	}
}

// keyword matches at i: for "or"/"and", Space+ word Space+; for "not", the
// word then Space+. It returns the index after the trailing spaces.
func (p *parser) keyword(i int, word string) (int, bool) {
	j := i
	if word != "not" {
		for j < len(p.rs) && isSpace(p.rs[j]) {
			j++
		}
		if j == i {
			return i, false
		}
	}
	if j+len(word) > len(p.rs) || !strings.EqualFold(string(p.rs[j:j+len(word)]), word) {
		return i, false
	}
	j += len(word)
	k := j
	for k < len(p.rs) && isSpace(p.rs[k]) {
		k++
	}
	if k == j {
		return i, false
	}
	return k, true
}

func (p *parser) anyKeyword(i int) bool {
	for _, w := range []string{"or", "and", "not"} {
		if _, ok := p.keyword(i, w); ok {
			return true
		}
	}
	return false
}

// group parses the inside of a parenthesis opened at open (p.i on it) and
// its closing ')'.
func (p *parser) group(open int, inner func() (Expr, error)) (Expr, error) {
	p.i++
	p.spaces()
	if p.eof() {
		return nil, p.errAt(open, "'(' is never closed")
	}
	x, err := inner()
	if err != nil {
		return nil, err
	}
	p.spaces()
	if p.eof() {
		return nil, p.errAt(open, "'(' is never closed")
	}
	if p.rs[p.i] != ')' {
		return nil, p.unexpected()
	}
	p.i++
	return x, nil
}

func (p *parser) orQuery() (Expr, error) { return p.chain("or", "a condition", p.andQuery) }

func (p *parser) andQuery() (Expr, error) { return p.chain("and", "a condition", p.notQuery) }

// chain parses `next (op next)*`, the shape of every or/and level of both
// queries and value lists; one operand alone is returned as it is. After an
// operator at the end of the input it says what was expected, when told.
func (p *parser) chain(op, expected string, next func() (Expr, error)) (Expr, error) {
	start := p.i
	x, err := next()
	if err != nil {
		return nil, err
	}
	xs := []Expr{x}
	for {
		j, ok := p.keyword(p.i, op)
		if !ok {
			break
		}
		p.i = j
		if expected != "" && p.eof() {
			return nil, p.errAt(p.i, "expected %s after '%s'", expected, op)
		}
		y, err := next()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	if op == "or" {
		return &Or{Col: start + 1, X: xs}, nil
	}
	return &And{Col: start + 1, X: xs}, nil
}

func (p *parser) notQuery() (Expr, error) {
	start := p.i
	if j, ok := p.keyword(p.i, "not"); ok {
		p.i = j
		if p.eof() {
			return nil, p.errAt(p.i, "expected a condition after 'not'")
		}
		x, err := p.subQuery()
		if err != nil {
			return nil, err
		}
		return &Not{Col: start + 1, X: x}, nil
	}
	return p.subQuery()
}

func (p *parser) subQuery() (Expr, error) {
	if !p.eof() && p.rs[p.i] == '(' {
		return p.group(p.i, p.orQuery)
	}
	return p.expression()
}

func (p *parser) expression() (Expr, error) {
	start := p.i
	lit, ok, err := p.literal()
	if err != nil {
		return nil, err
	}
	if !ok {
		if p.eof() {
			return nil, p.errAt(p.i, "expected a condition")
		}
		return nil, p.unexpected()
	}
	afterLit := p.i
	p.spaces()
	if op, n := p.rangeOp(); n > 0 {
		if err := p.checkField(lit); err != nil {
			return nil, err
		}
		opAt := p.i
		p.i += n
		p.spaces()
		v, ok, err := p.literal()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.errAt(opAt, "expected a value after %q", string(p.rs[opAt:opAt+n]))
		}
		if v.IsWildcard() {
			return nil, p.errAt(v.Col-1, "a range value cannot hold a wildcard '*'")
		}
		return &Range{Col: start + 1, Field: lit.Text, FieldCol: lit.Col, Op: op, Value: v}, nil
	}
	if !p.eof() && p.rs[p.i] == ':' {
		if err := p.checkField(lit); err != nil {
			return nil, err
		}
		colon := p.i
		p.i++
		p.spaces()
		if p.eof() {
			return nil, p.errAt(colon, "expected a value after ':'")
		}
		x, err := p.listOfValues(lit.Text, lit.Col)
		if m, ok := x.(*Match); ok {
			m.Col = start + 1
		}
		return x, err
	}
	p.i = afterLit
	return &Match{Col: start + 1, Value: lit}, nil
}

func (p *parser) checkField(lit Value) error {
	if lit.IsWildcard() {
		return p.errAt(lit.Col-1, "wildcards in field names are not supported: name the field")
	}
	if lit.Text == "" {
		return p.errAt(lit.Col-1, "empty field name")
	}
	return nil
}

func (p *parser) rangeOp() (RangeOp, int) {
	if p.eof() {
		return "", 0
	}
	two := p.i+1 < len(p.rs) && p.rs[p.i+1] == '='
	switch p.rs[p.i] {
	case '<':
		if two {
			return LTE, 2
		}
		return LT, 1
	case '>':
		if two {
			return GTE, 2
		}
		return GT, 1
	}
	return "", 0
}

func (p *parser) listOfValues(field string, fieldCol int) (Expr, error) {
	if !p.eof() && p.rs[p.i] == '(' {
		return p.group(p.i, func() (Expr, error) { return p.orList(field, fieldCol) })
	}
	start := p.i
	v, ok, err := p.literal()
	if err != nil {
		return nil, err
	}
	if !ok {
		if p.eof() {
			return nil, p.errAt(p.i, "expected a value")
		}
		return nil, p.unexpected()
	}
	return &Match{Col: start + 1, Field: field, FieldCol: fieldCol, Value: v}, nil
}

func (p *parser) orList(field string, fieldCol int) (Expr, error) {
	return p.chain("or", "", func() (Expr, error) { return p.andList(field, fieldCol) })
}

func (p *parser) andList(field string, fieldCol int) (Expr, error) {
	return p.chain("and", "", func() (Expr, error) { return p.notList(field, fieldCol) })
}

func (p *parser) notList(field string, fieldCol int) (Expr, error) {
	start := p.i
	if j, ok := p.keyword(p.i, "not"); ok {
		p.i = j
		x, err := p.listOfValues(field, fieldCol)
		if err != nil {
			return nil, err
		}
		return &Not{Col: start + 1, X: x}, nil
	}
	return p.listOfValues(field, fieldCol)
}

// literal reads a quoted string or an unquoted literal; ok is false when
// neither starts at p.i.
func (p *parser) literal() (Value, bool, error) {
	if p.eof() {
		return Value{}, false, nil
	}
	if p.rs[p.i] == '"' {
		v, err := p.quoted()
		return v, err == nil, err
	}
	return p.unquoted()
}

func (p *parser) quoted() (Value, error) {
	open := p.i
	p.i++
	var b []rune
	for {
		if p.eof() {
			return Value{}, p.errAt(open, "the quoted string is never closed (a '\"' inside must be escaped as \\\")")
		}
		r := p.rs[p.i]
		if r == '"' {
			p.i++
			return Value{Col: open + 1, Text: string(b), Quoted: true}, nil
		}
		if r == '\\' && p.i+1 < len(p.rs) {
			if c, n := p.escapedWhitespace(p.i); n > 0 {
				b = append(b, c)
				p.i += n
				continue
			}
			if c, n := p.escapedUnicode(p.i); n > 0 {
				b = append(b, c...)
				p.i += n
				continue
			}
			if nx := p.rs[p.i+1]; nx == '\\' || nx == '"' {
				b = append(b, nx)
				p.i += 2
				continue
			}
		}
		b = append(b, r)
		p.i++
	}
}

func (p *parser) escapedWhitespace(i int) (rune, int) {
	if i+1 >= len(p.rs) || p.rs[i] != '\\' {
		return 0, 0
	}
	switch p.rs[i+1] {
	case 't':
		return '\t', 2
	case 'r':
		return '\r', 2
	case 'n':
		return '\n', 2
	}
	return 0, 0
}

// escapedUnicode reads \uXXXX sequences at i, joining a UTF-16 surrogate
// pair written as two escapes (as JavaScript strings do).
func (p *parser) escapedUnicode(i int) ([]rune, int) {
	unit := func(i int) (uint16, bool) {
		if i+6 > len(p.rs) || p.rs[i] != '\\' || p.rs[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(p.rs[i+2:i+6]), 16, 16)
		return uint16(n), err == nil
	}
	u, ok := unit(i)
	if !ok {
		return nil, 0
	}
	if utf16.IsSurrogate(rune(u)) {
		if lo, ok := unit(i + 6); ok && utf16.IsSurrogate(rune(lo)) {
			if r := utf16.DecodeRune(rune(u), rune(lo)); r != '\ufffd' {
				return []rune{r}, 12
			}
		}
		return []rune{'\ufffd'}, 6
	}
	return []rune{rune(u)}, 6
}

func (p *parser) unquoted() (Value, bool, error) {
	start := p.i
	var b []rune
	var wild []int
	for !p.eof() {
		r := p.rs[p.i]
		if r == '\\' {
			if c, n := p.escapedWhitespace(p.i); n > 0 {
				b = append(b, c)
				p.i += n
				continue
			}
			if p.i+1 < len(p.rs) && isSpecial(p.rs[p.i+1]) {
				b = append(b, p.rs[p.i+1])
				p.i += 2
				continue
			}
			if c, n := p.escapedUnicode(p.i); n > 0 {
				b = append(b, c...)
				p.i += n
				continue
			}
			if kw := p.escapedKeyword(p.i); kw != "" {
				b = append(b, []rune(kw)...)
				p.i += 1 + len(kw)
				continue
			}
			if p.i+1 >= len(p.rs) {
				return Value{}, false, p.errAt(p.i, "the query ends in a lone backslash")
			}
			return Value{}, false, p.errAt(p.i, "invalid escape \\%c: a backslash escapes only \\():<>\"*{}, the keywords or/and/not, \\t \\r \\n and \\uXXXX", p.rs[p.i+1])
		}
		if r == '*' {
			wild = append(wild, len(b))
			b = append(b, r)
			p.i++
			continue
		}
		if isSpecial(r) || p.anyKeyword(p.i) {
			break
		}
		b = append(b, r)
		p.i++
	}
	if p.i == start {
		return Value{}, false, nil
	}
	lo, hi := 0, len(b)
	for lo < hi && isTrimmed(b[lo]) && !contains(wild, lo) {
		lo++
	}
	for hi > lo && isTrimmed(b[hi-1]) && !contains(wild, hi-1) {
		hi--
	}
	var w []int
	for _, i := range wild {
		w = append(w, i-lo)
	}
	col := start + 1
	for k := start; k < p.i && isSpace(p.rs[k]); k++ {
		col++
	}
	return Value{Col: col, Text: string(b[lo:hi]), Wild: w}, true, nil
}

func (p *parser) escapedKeyword(i int) string {
	for _, kw := range []string{"or", "and", "not"} {
		j := i + 1
		if j+len(kw) <= len(p.rs) && strings.EqualFold(string(p.rs[j:j+len(kw)]), kw) {
			return string(p.rs[j : j+len(kw)])
		}
	}
	return ""
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
