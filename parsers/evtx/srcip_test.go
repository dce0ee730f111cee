package evtx

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// The source IP's shortcut (normalizeInto) keeps a dotted IPv4 address
// as written when netip reads it as IPv4: that must be what net.ParseIP
// and To4().String() give, and netip must read no such text net.ParseIP
// refuses.
func TestIPv4ShortcutMatchesParseIP(t *testing.T) {
	cases := []string{"0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.0.01", "01.2.3.4", "1.2.3",
		"1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "::ffff:1.2.3.4", "::1",
		"1.2.3.4%eth0", "fe80::1%eth0", "0x1.2.3.4", "1..2.3", "", "-", "1.2.3.4/8", "+1.2.3.4"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		s := ""
		for i := range 4 {
			if i > 0 {
				s += "."
			}
			switch r.IntN(8) {
			case 0:
				s += "0" + strconv.Itoa(r.IntN(300))
			case 1:
				s += strconv.Itoa(r.IntN(1000))
			default:
				s += strconv.Itoa(r.IntN(256))
			}
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			continue
		}
		p := net.ParseIP(s)
		if p == nil || p.To4() == nil || p.To4().String() != s {
			t.Fatalf("%q: netip reads IPv4 %v, net.ParseIP %v", s, a, p)
		}
	}
}
