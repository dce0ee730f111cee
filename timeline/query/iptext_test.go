package query

import (
	"math/rand"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// coverRanges are the ranges the cover tests use: addresses and CIDR
// blocks as KQL takes them, IPv4 (mapped), IPv6, with runs of zeros in
// various places, and ranges the cover gives up on.
var coverRanges = []string{
	"203.0.113.7", "10.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::", "::1.2.3.4",
	"2001:db8::7", "2001:db8:0:0:1::", "fe80::1:abcd", "1:0:0:2:0:0:0:3", "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
	"64:ff9b::c000:221", "10.0.0.0/8", "172.16.0.0/12", "10.1.2.0/24", "1.2.3.4/30", "192.168.0.0/16",
	"2001:db8::/32", "2001:db8::/64", "::ffff:0:0/96", "0.0.0.0/0", "::/0", "fe80::/10",
	"::/80", "::/96", "::fffe:ffff:ffff-::ffff:10.0.0.5", "::-::ffff:89.255.255.255", "::ffff:80.0.0.0-::ffff:89.255.255.255",
}

// coverRange reads a range of coverRanges: an address or block as KQL
// takes it, or two addresses joined by "-".
func coverRange(q string) (lo, hi netip.Addr, err error) {
	if a, b, ok := strings.Cut(q, "-"); ok {
		lo, err = netip.ParseAddr(a)
		if err == nil {
			hi, err = netip.ParseAddr(b)
		}
		return to16(lo), to16(hi), err
	}
	return ipRange(q)
}

// covered says whether s is one of exact or starts with one of prefixes.
func covered(s string, exact []string, prefixes []ipPrefix) bool {
	i := sort.SearchStrings(exact, s)
	if i < len(exact) && exact[i] == s {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p.p) {
			return true
		}
	}
	return false
}

// spellings returns texts of a: every place "::" may stand (none
// included), with and without an IPv4 tail, each hextet spelled as
// rng picks (zero padding, upper-case digits) or canonically.
func spellings(a netip.Addr, rng *rand.Rand, n int) []string {
	b := a.As16()
	var x [8]uint16
	for i := range x {
		x[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	hex := func(v uint16, odd bool) string {
		s := strconv.FormatUint(uint64(v), 16)
		if !odd {
			return s
		}
		s = strings.Repeat("0", rng.Intn(5-len(s))) + s
		var out []byte
		for _, c := range []byte(s) {
			if c >= 'a' && rng.Intn(2) == 0 {
				c -= 'a' - 'A'
			}
			out = append(out, c)
		}
		return string(out)
	}
	var out []string
	if a.Is4In6() {
		out = append(out, a.Unmap().String())
	}
	out = append(out, a.String())
	for k := 0; k < n; k++ {
		odd := k > 0
		for i := -1; i < 8; i++ { // "::" over [i, j), or none (i == -1)
			for j := i + 1; j <= 8; j++ {
				if i >= 0 && (j == i || x[j-1] != 0) {
					break
				}
				if i == -1 && j > 0 {
					break
				}
				for _, tail := range []bool{false, true} {
					var parts []string
					var s string
					end := 8
					if tail {
						end = 6
					}
					if i >= 0 && j > end {
						continue
					}
					for h := 0; h < end; h++ {
						if i >= 0 && h >= i && h < j {
							if h == i {
								parts = append(parts, "")
							}
							continue
						}
						parts = append(parts, hex(x[h], odd))
					}
					if tail {
						parts = append(parts, netip.AddrFrom4([4]byte(b[12:])).String())
					}
					s = strings.Join(parts, ":")
					if i == 0 {
						s = ":" + s
					}
					if i >= 0 && j == end && !tail {
						s += ":"
					}
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// TestIPTextCoverSpellings: every text netip reads as an address in the
// range, however it is spelled, is covered; texts of addresses just
// outside are not read as inside (kql_ip decides, the cover only
// narrows), and the cover of a single address is no more than a few
// dozen lookups.
func TestIPTextCoverSpellings(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, q := range coverRanges {
		t.Run(q, func(t *testing.T) {
			lo, hi, err := coverRange(q)
			if err != nil {
				t.Fatal(err)
			}
			exact, prefixes, ok := ipTextCover(lo, hi)
			// Ranges whose first hextet varies, or holding IPv4 addresses
			// whose first octet takes more than 16 values.
			whole := slices.Contains([]string{"0.0.0.0/0", "::/0", "::ffff:0:0/96", "fe80::/10", "::/80", "::-::ffff:89.255.255.255"}, q)
			if ok == whole {
				t.Fatalf("ok %v for %s", ok, q)
			}
			if !ok {
				return
			}
			if len(exact)+len(prefixes) > maxIPTerms {
				t.Errorf("%d terms", len(exact)+len(prefixes))
			}
			if !sort.StringsAreSorted(exact) {
				t.Errorf("exact not sorted: %v", exact)
			}
			l, h := lo.As16(), hi.As16()
			addrs := []netip.Addr{lo, hi}
			for k := 0; k < 20; k++ {
				var b [16]byte
				for i := range b {
					// A random address between lo and hi: the bytes
					// equal at both ends, then any.
					b[i] = l[i]
					if l[i] != h[i] {
						b[i] = byte(int(l[i]) + rng.Intn(int(h[i])-int(l[i])+1))
						for i++; i < 16; i++ {
							b[i] = byte(rng.Intn(256))
						}
						break
					}
				}
				if a := netip.AddrFrom16(b); !a.Less(lo) && !hi.Less(a) {
					addrs = append(addrs, a)
				}
			}
			for _, a := range addrs {
				for _, s := range spellings(a, rng, 8) {
					p, err := netip.ParseAddr(s)
					if err != nil || p.As16() != a.As16() {
						t.Fatalf("test's spelling %q of %s: %v %v", s, a, p, err)
					}
					if !covered(s, exact, prefixes) {
						t.Errorf("%q (%s) not covered by exact %v prefixes %v", s, a, exact, prefixes)
					}
				}
			}
		})
	}
}

// FuzzIPTextCover: any text kql_ip finds in a range is covered.
func FuzzIPTextCover(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "::ffff:203.0.113.7", "::FFFF:cb00:7107", "0:0::ffff:203.0.113.7", "2001:0DB8::0.0.0.7", "::1", "0::0:1", "10.9.8.7", "::ffff:a09:807", "1::"} {
		f.Add(s)
	}
	type cover struct {
		lo, hi   [16]byte
		exact    []string
		prefixes []ipPrefix
	}
	var covers []cover
	for _, q := range coverRanges {
		lo, hi, err := coverRange(q)
		if err != nil {
			f.Fatal(err)
		}
		if e, p, ok := ipTextCover(lo, hi); ok {
			covers = append(covers, cover{lo.As16(), hi.As16(), e, p})
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range covers {
			if ipIn(s, c.lo[:], c.hi[:]) && !covered(s, c.exact, c.prefixes) {
				t.Errorf("%q is in [%x, %x] and not covered", s, c.lo, c.hi)
			}
		}
	})
}
