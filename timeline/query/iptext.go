package query

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// maxIPTerms bounds the index lookups an IP condition on a column is
// written as (see ipTextCover); beyond it the condition scans.
const maxIPTerms = 64

// ipTextCover lists strings that cover every text netip.ParseAddr reads
// as an address in [lo, hi] (16-byte forms, as kql_ip compares them):
// each such text equals one of exact or starts with one of prefixes. The
// source_ip column holds an event's source.ip as the parser wrote it, so
// one address has many texts: 203.0.113.7, ::ffff:203.0.113.7,
// ::FFFF:cb00:7107, 0:0:0:0:0:ffff:cb00:7107 and more (IPv6 hextets of 1
// to 4 hex digits in either case, "::" in any run of zeros, an IPv4 tail;
// IPv4 octets have no leading zeros). The cover follows the texts a
// writer is likely to use (lower case, no padding) to the end, as exact
// strings, and ends every other spelling at its first odd character, as a
// prefix: a lookup of each is a short range of the column's index, and
// kql_ip then decides each row as before. ok is false when the cover
// would need more than maxIPTerms lookups, or is the whole column (a
// range whose first hextet varies).
func ipTextCover(lo, hi netip.Addr) (exact []string, prefixes []ipPrefix, ok bool) {
	l, h := lo.As16(), hi.As16()
	c := ipCover{}
	var x [8]uint16
	v := 8 // the first hextet that varies in [lo, hi]
	for i := range x {
		x[i] = uint16(l[2*i])<<8 | uint16(l[2*i+1])
		if v == 8 && (l[2*i] != h[2*i] || l[2*i+1] != h[2*i+1]) {
			v = i
		}
	}
	if v == 0 {
		return nil, nil, false
	}
	c.x, c.v = x, v
	// The IPv4 texts of the IPv4-mapped addresses in the range.
	mlo, mhi := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}), netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff})
	if mlo.Less(lo) {
		mlo = lo
	}
	if hi.Less(mhi) {
		mhi = hi
	}
	if !mhi.Less(mlo) {
		c.lo4, c.hi4 = mlo.As4(), mhi.As4()
		c.dotted("")
	}
	// The IPv4 tails of an IPv6 text (gen, at the seventh hextet, when
	// the six before are fixed).
	c.lo4, c.hi4 = [4]byte(l[12:]), [4]byte(h[12:])
	c.gen("", 0, false, true)
	if c.fail {
		return nil, nil, false
	}
	exact, prefixes = c.reduce()
	if len(exact)+len(prefixes) > maxIPTerms {
		return nil, nil, false
	}
	return exact, prefixes, true
}

type ipCover struct {
	x        [8]uint16
	v        int
	lo4, hi4 [4]byte
	exact    []string
	pre      []ipPrefix
	fail     bool
}

// ipPrefix is a prefix of the cover; odd: of spellings writers seldom use
// (upper case, padding, "::" for part of a run), so few rows, if any,
// hold it.
type ipPrefix struct {
	p   string
	odd bool
}

func (c *ipCover) main(p string) { c.pre = append(c.pre, ipPrefix{p, false}) }
func (c *ipCover) odd(p string)  { c.pre = append(c.pre, ipPrefix{p, true}) }

// gen covers the IPv6 texts that start with p, which has spelled the
// hextets before i (used: with the one "::"; open: nothing, or "::", ends
// p, so no ':' comes before the next hextet).
func (c *ipCover) gen(p string, i int, used, open bool) {
	if len(c.exact)+len(c.pre) > 8*maxIPTerms {
		c.fail = true
	}
	if c.fail {
		return
	}
	if i == 8 {
		c.exact = append(c.exact, p)
		return
	}
	sep := ":"
	if open {
		sep = ""
	}
	if i >= c.v {
		// The rest varies: every text that goes on from here.
		if p+sep == "" {
			c.fail = true
			return
		}
		c.main(p + sep)
		return
	}
	if i == 6 {
		// An IPv4 tail replaces the last two hextets.
		c.dotted(p + sep)
	}
	if !used && c.x[i] == 0 {
		cp := p + "::"
		if i > 0 && c.x[i-1] == 0 {
			// "::" from inside a run of zeros ("0::ffff:…"): rare.
			c.odd(cp)
		} else {
			// "::" for the whole run, i to j-1, followed to the end;
			// for part of it ("::0:ffff:…"), a zero hextet follows:
			// rare.
			j := i + 1
			for j < 8 && j < c.v && c.x[j] == 0 {
				j++
			}
			switch {
			case j == c.v:
				// The run may go on into the hextets that vary.
				c.main(cp)
			default:
				c.gen(cp, j, true, true)
				if j > i+1 {
					c.odd(cp + "0")
				}
			}
		}
	}
	canon := strconv.FormatUint(uint64(c.x[i]), 16)
	q := p + sep
	c.gen(q+canon, i+1, used, false)
	// Every other spelling of the hextet: padded with zeros, or with an
	// upper-case digit.
	if len(canon) < 4 {
		if c.x[i] == 0 {
			c.odd(q + "00")
		} else {
			c.odd(q + "0")
		}
	}
	for k := 0; k < len(canon); k++ {
		if d := canon[k]; d >= 'a' && d <= 'f' {
			c.odd(q + canon[:k] + string(d-'a'+'A'))
		}
	}
}

// dotted covers the IPv4 texts, after p, of the last four bytes in
// [lo4, hi4]: an IPv4 octet has one text (no leading zeros), so the
// octets equal at both ends are spelled out and the first that varies
// ends a prefix per value, or, for more than 16 values, the prefix ends
// before it.
func (c *ipCover) dotted(p string) {
	var b strings.Builder
	b.WriteString(p)
	k := 0
	for ; k < 4 && c.lo4[k] == c.hi4[k]; k++ {
		if k > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(int(c.lo4[k])))
	}
	if k == 4 {
		c.exact = append(c.exact, b.String())
		return
	}
	if k > 0 {
		b.WriteByte('.')
	}
	base := b.String()
	if int(c.hi4[k])-int(c.lo4[k]) >= 16 {
		// Many values (a /8, a /24): every text after the equal
		// octets.
		if base == "" {
			c.fail = true
			return
		}
		c.main(base)
		return
	}
	for o := int(c.lo4[k]); o <= int(c.hi4[k]); o++ {
		if k == 3 {
			c.exact = append(c.exact, base+strconv.Itoa(o))
		} else {
			c.main(base + strconv.Itoa(o) + ".")
		}
	}
}

// reduce drops the prefixes and exact strings another prefix covers, and
// duplicates.
func (c *ipCover) reduce() (exact []string, prefixes []ipPrefix) {
	sort.Slice(c.pre, func(i, j int) bool { return c.pre[i].p < c.pre[j].p })
	for _, p := range c.pre {
		if n := len(prefixes); n > 0 && strings.HasPrefix(p.p, prefixes[n-1].p) {
			continue // sorted: a prefix of p comes before it
		}
		prefixes = append(prefixes, p)
	}
	sort.Strings(c.exact)
	for _, e := range c.exact {
		if n := len(exact); n > 0 && exact[n-1] == e {
			continue
		}
		i := sort.Search(len(prefixes), func(i int) bool { return prefixes[i].p >= e })
		// The prefix of e, if any, sorts right before e (or is e).
		if i < len(prefixes) && prefixes[i].p == e || i > 0 && strings.HasPrefix(e, prefixes[i-1].p) {
			continue
		}
		exact = append(exact, e)
	}
	return exact, prefixes
}

// prefixEnd is the least string above every string that starts with p
// (p ends with an ASCII byte: a digit, a letter, ':' or '.').
func prefixEnd(p string) string {
	return p[:len(p)-1] + string(p[len(p)-1]+1)
}
