package query

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Options tune compilation.
type Options struct {
	// Zone is where a date without an offset is read (Kibana's
	// dateFormat:tz); nil means UTC.
	Zone *time.Location
}

// Filter is a checked query, ready to run on either store: SQL gives the
// SQLite form, DSL the Elasticsearch one. Both are built from the same
// typed tree, with every bound already resolved (dates rounded, IPs and
// numbers parsed), so neither store interprets the query text itself.
type Filter struct {
	src  string
	root node
}

// String returns the query text the filter was compiled from.
func (f *Filter) String() string { return f.src }

// node is the typed tree: nAll, nNone, nAnd, nOr, nNot, or a leaf.
type node interface{}

type (
	nAll  struct{}
	nNone struct{}
	nAnd  []node
	nOr   []node
	nNot  struct{ x node }
)

type leafOp int

const (
	opEq       leafOp = iota // keyword, long, boolean: equal
	opWild                   // keyword: wildcard on the whole value
	opExists                 // any type
	opRange                  // keyword (strings), long, date, ip: [lo, hi]
	opAny                    // text: any of toks
	opPhrase                 // text: toks in sequence
	opTextWild               // text: a token matches one of pats
)

type leaf struct {
	f  field
	op leafOp
	s  string   // opEq on keyword, text query as typed (for DSL)
	b  bool     // opEq on boolean
	n  int64    // opEq on long
	ws []string // opWild: segments around each '*'
	// opRange bounds, inclusive; nil pointer or empty means open. Keyword
	// ranges keep the operator semantics (lo/hi exclusive flags).
	sLo, sHi         *string
	sLoExcl, sHiExcl bool
	nLo, nHi         int64
	ipLo, ipHi       netip.Addr
	toks             []string
	pats             [][]string // opTextWild: segments of each pattern
}

// New parses and compiles a query.
func New(src string, opt Options) (*Filter, error) {
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return Compile(src, e, opt)
}

// Compile checks e against jejak's fields and resolves its values.
func Compile(src string, e Expr, opt Options) (*Filter, error) {
	if opt.Zone == nil {
		opt.Zone = time.UTC
	}
	c := &compiler{src: src, opt: opt}
	n, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	return &Filter{src: src, root: n}, nil
}

type compiler struct {
	src string
	opt Options
}

func (c *compiler) errf(col int, format string, a ...any) error {
	return &Error{Query: c.src, Col: col, Msg: fmt.Sprintf(format, a...)}
}

// compileAll compiles the operands of an and or an or.
func (c *compiler) compileAll(xs []Expr) ([]node, error) {
	out := make([]node, 0, len(xs))
	for _, x := range xs {
		n, err := c.compile(x)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (c *compiler) compile(e Expr) (node, error) {
	switch e := e.(type) {
	case *All:
		return nAll{}, nil
	case *And:
		out, err := c.compileAll(e.X)
		if err != nil {
			return nil, err
		}
		return nAnd(out), nil
	case *Or:
		out, err := c.compileAll(e.X)
		if err != nil {
			return nil, err
		}
		return nOr(out), nil
	case *Not:
		n, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		return nNot{n}, nil
	case *Match:
		return c.match(e)
	case *Range:
		return c.rng(e)
	}
	return nil, fmt.Errorf("kql: unknown expression %T", e)
}

func (c *compiler) field(name string, col int) (field, error) {
	f, ok := lookup(name)
	if !ok {
		if s := suggest(name); s != "" {
			return f, c.errf(col, "unknown field %q (did you mean %s?)", name, s)
		}
		return f, c.errf(col, "unknown field %q", name)
	}
	if f.typ == tNoIndex {
		return f, c.errf(col, "field %s is stored but not indexed, so it cannot be searched", name)
	}
	return f, nil
}

func (c *compiler) match(m *Match) (node, error) {
	v := m.Value
	if m.Field == "" {
		// Free text searches message, the one full-text field every
		// event has.
		if v.IsExists() {
			return nAll{}, nil
		}
		f, _ := lookup("message")
		return c.text(f, v)
	}
	f, err := c.field(m.Field, m.FieldCol)
	if err != nil {
		return nil, err
	}
	if v.IsExists() {
		if f.typ == tDate {
			return dateLeaf(f, 0, math.MaxInt64), nil
		}
		return leaf{f: f, op: opExists}, nil
	}
	switch f.typ {
	case tText:
		return c.text(f, v)
	case tKeyword, tFlattened:
		if v.IsWildcard() {
			return leaf{f: f, op: opWild, ws: v.Segments()}, nil
		}
		if f.ignoreAbove > 0 && len([]rune(v.Text)) > f.ignoreAbove {
			return nNone{}, nil
		}
		return leaf{f: f, op: opEq, s: v.Text}, nil
	case tLong:
		if v.IsWildcard() {
			return nil, c.errf(v.Col, "%s is a number field: wildcards do not apply (use a range: %s >= N)", f.name, f.name)
		}
		x, frac, err := parseNumber(v.Text)
		if err != nil {
			return nil, c.errf(v.Col, "%s is a number field: %q is not a number", f.name, v.Text)
		}
		if frac {
			return nNone{}, nil
		}
		return leaf{f: f, op: opEq, n: x}, nil
	case tBool:
		switch strings.ToLower(v.Text) {
		case "true":
			return leaf{f: f, op: opEq, b: true}, nil
		case "false":
			return leaf{f: f, op: opEq, b: false}, nil
		}
		return nil, c.errf(v.Col, "%s is a boolean field: use true or false, not %q", f.name, v.Text)
	case tIP:
		if v.IsWildcard() {
			return nil, c.errf(v.Col, "%s is an IP field: wildcards do not apply; use CIDR notation (10.0.0.0/8)", f.name)
		}
		lo, hi, err := ipRange(v.Text)
		if err != nil {
			return nil, c.errf(v.Col, "%s is an IP field: %q is not an IP address or CIDR block", f.name, v.Text)
		}
		return leaf{f: f, op: opRange, ipLo: lo, ipHi: hi}, nil
	case tDate:
		if v.IsWildcard() {
			return nil, c.errf(v.Col, "%s is a date field: wildcards do not apply (use a range)", f.name)
		}
		lo, hi, err := parseDate(v.Text, c.opt.Zone)
		if err != nil {
			return nil, c.errf(v.Col, "%s: %v", f.name, err)
		}
		return dateLeaf(f, lo, hi), nil
	}
	return nil, c.errf(m.FieldCol, "field %s cannot be searched", f.name)
}

func (c *compiler) text(f field, v Value) (node, error) {
	if v.IsWildcard() {
		pats := textPatterns(v)
		if len(pats) == 0 {
			return nNone{}, nil
		}
		return leaf{f: f, op: opTextWild, pats: pats, s: v.Text}, nil
	}
	toks := Tokens(v.Text)
	if len(toks) == 0 {
		// Elasticsearch's match on a query that analyses to nothing
		// matches no document.
		return nNone{}, nil
	}
	if v.Quoted {
		return leaf{f: f, op: opPhrase, toks: toks, s: v.Text}, nil
	}
	return leaf{f: f, op: opAny, toks: toks, s: v.Text}, nil
}

// textPatterns splits a wildcard value on whitespace into per-token
// patterns (each a list of literal segments around '*'), lowercased as
// the standard analyzer lowercases what it indexes.
func textPatterns(v Value) [][]string {
	wild := map[int]bool{}
	for _, i := range v.Wild {
		wild[i] = true
	}
	var pats [][]string
	var segs []string
	var cur strings.Builder
	started := false
	flush := func() {
		if started {
			pats = append(pats, append(segs, cur.String()))
		}
		segs, started = nil, false
		cur.Reset()
	}
	i := 0
	for _, r := range v.Text {
		switch {
		case wild[i]:
			segs = append(segs, cur.String())
			cur.Reset()
			started = true
		case isTrimmed(r):
			flush()
		default:
			cur.WriteString(strings.ToLower(string(r)))
			started = true
		}
		i++
	}
	flush()
	return pats
}

func dateLeaf(f field, lo, hi int64) node {
	// date_nanos holds 1970 to 2262; Elasticsearch does not index an event
	// outside that, so no condition on @timestamp can match it.
	lo = max(lo, 0)
	if hi < lo {
		return nNone{}
	}
	return leaf{f: f, op: opRange, nLo: lo, nHi: hi}
}

func (c *compiler) rng(r *Range) (node, error) {
	f, err := c.field(r.Field, r.FieldCol)
	if err != nil {
		return nil, err
	}
	v := r.Value
	switch f.typ {
	case tKeyword, tFlattened:
		// A range on a keyword compares strings byte by byte, as Lucene
		// does (so winlog.event_id >= 4600 is a string comparison: the
		// template maps it as keyword).
		l := leaf{f: f, op: opRange}
		s := v.Text
		switch r.Op {
		case GT:
			l.sLo, l.sLoExcl = &s, true
		case GTE:
			l.sLo = &s
		case LT:
			l.sHi, l.sHiExcl = &s, true
		case LTE:
			l.sHi = &s
		}
		if f.key != "" {
			// Elasticsearch wants both bounds on a keyed flattened field;
			// the open end becomes one no indexed value lies beyond, here
			// and in SQL alike.
			if l.sLo == nil {
				l.sLo = new(string)
			}
			if l.sHi == nil {
				top := strings.Repeat("\U0010FFFF", 16)
				l.sHi = &top
			}
		}
		return l, nil
	case tLong:
		floor, ceil, err := numberBounds(v.Text)
		if err != nil {
			return nil, c.errf(v.Col, "%s is a number field: %q is not a number", f.name, v.Text)
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch r.Op {
		case GT:
			if floor == math.MaxInt64 {
				return nNone{}, nil
			}
			lo = floor + 1
		case GTE:
			lo = ceil
		case LT:
			if ceil == math.MinInt64 {
				return nNone{}, nil
			}
			hi = ceil - 1
		case LTE:
			hi = floor
		}
		return leaf{f: f, op: opRange, nLo: lo, nHi: hi}, nil
	case tDate:
		lo, hi, err := parseDate(v.Text, c.opt.Zone)
		if err != nil {
			return nil, c.errf(v.Col, "%s: %v", f.name, err)
		}
		switch r.Op {
		case GT:
			return dateLeaf(f, hi+1, math.MaxInt64), nil
		case GTE:
			return dateLeaf(f, lo, math.MaxInt64), nil
		case LT:
			return dateLeaf(f, 0, lo-1), nil
		case LTE:
			return dateLeaf(f, 0, hi), nil
		}
	case tIP:
		a, err := netip.ParseAddr(v.Text)
		if err != nil {
			return nil, c.errf(v.Col, "%s is an IP field: %q is not an IP address", f.name, v.Text)
		}
		a = to16(a)
		lo, hi := netip.IPv6Unspecified(), maxIP
		switch r.Op {
		case GT:
			if a == maxIP {
				return nNone{}, nil
			}
			lo = a.Next()
		case GTE:
			lo = a
		case LT:
			if a == netip.IPv6Unspecified() {
				return nNone{}, nil
			}
			hi = a.Prev()
		case LTE:
			hi = a
		}
		return leaf{f: f, op: opRange, ipLo: lo, ipHi: hi}, nil
	case tText:
		return nil, c.errf(r.FieldCol, "%s is a full-text field: ranges do not apply (try %s.keyword)", f.name, f.name)
	case tBool:
		return nil, c.errf(r.FieldCol, "%s is a boolean field: ranges do not apply", f.name)
	}
	return nil, c.errf(r.FieldCol, "field %s cannot be compared", f.name)
}

// numberBounds reads a number as the nearest integers below and above it
// (equal for an integer), clamped to the long range.
func numberBounds(s string) (floor, ceil int64, err error) {
	if x, err := strconv.ParseInt(s, 10, 64); err == nil {
		return x, x, nil
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(fl) {
		return 0, 0, fmt.Errorf("not a number")
	}
	clamp := func(f float64) int64 {
		switch {
		case f >= math.MaxInt64:
			return math.MaxInt64
		case f <= math.MinInt64:
			return math.MinInt64
		}
		return int64(f)
	}
	return clamp(math.Floor(fl)), clamp(math.Ceil(fl)), nil
}

// parseNumber reads an integer, or a decimal (frac reports a fractional
// part; x is then truncated toward zero).
func parseNumber(s string) (x int64, frac bool, err error) {
	if x, err := strconv.ParseInt(s, 10, 64); err == nil {
		return x, false, nil
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(fl) || math.IsInf(fl, 0) || fl >= math.MaxInt64 || fl < math.MinInt64 {
		return 0, false, fmt.Errorf("not a number")
	}
	t := math.Trunc(fl)
	return int64(t), t != fl, nil
}

var maxIP = netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

// to16 is the form Elasticsearch indexes every IP in: 16 bytes, IPv4 as
// IPv4-mapped IPv6, so all addresses sort on one line.
func to16(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// ipRange reads an address or CIDR block as an inclusive 16-byte range.
func ipRange(s string) (lo, hi netip.Addr, err error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return lo, hi, fmt.Errorf("bad IP")
		}
		return to16(a), to16(a), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return lo, hi, err
	}
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	b := to16(p.Addr()).As16()
	var l, h [16]byte
	for i := 0; i < 16; i++ {
		keep := min(max(bits-8*i, 0), 8)
		mask := byte(0xff << (8 - keep))
		l[i] = b[i] & mask
		h[i] = b[i] | ^mask
	}
	return netip.AddrFrom16(l), netip.AddrFrom16(h), nil
}
