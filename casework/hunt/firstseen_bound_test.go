package hunt

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFirstSeenFoldReturn: past maxCandidates, scanning candidates idle the
// longest are folded and, beyond the busiest maxScanRows of a host, left as
// counts. One of those that comes back is counted again as a new source,
// and its attempts are not added to its earlier ones: here it misses the
// finding of its own it has with every candidate held. The scanning finding
// says so, with the number of such sources.
func TestFirstSeenFoldReturn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	cut := base.Add(time.Hour)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	at := base
	line := func(format string, args ...any) {
		fmt.Fprintf(w, "%s tab-d sshd[%d]: %s\n", at.Format(time.Stamp), 1000+at.Second(), fmt.Sprintf(format, args...))
		at = at.Add(time.Second)
	}
	line("Accepted password for operator from 192.0.2.10 port 50000 ssh2") // the baseline
	at = cut
	ip := func(s int) string { return fmt.Sprintf("198.51.%d.%d", s/250, s%250) }
	const scanners = 300
	for s := range scanners { // one attempt each
		line("Failed password for invalid user guest from %s port 4242 ssh2", ip(s))
	}
	// A scanner of the middle (folded by the time the last ones came, and
	// not among the busiest folded, which ties leave to the lowest
	// addresses) comes back for four more, five in all: a source of its
	// own with every candidate held.
	back := ip(260)
	for range 4 {
		line("Failed password for invalid user admin from %s port 4242 ssh2", back)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
	st := buildCase(t, path)
	cfg := Config{After: cut, Rules: []*Rule{ruleByID(t, "JEJAK-AUTH-03")}}

	keys := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Key)
		}
		slices.Sort(out)
		return out
	}
	scan := func(fs []Finding) Finding {
		for _, f := range fs {
			if f.Key == "scanning on tab-d" {
				return f
			}
		}
		t.Fatalf("no scanning finding in %v", keys(fs))
		return Finding{}
	}

	whole := hunt(t, st, cfg)
	if got := keys(whole); !slices.Equal(got, []string{back, "scanning on tab-d"}) {
		t.Fatalf("every candidate held: findings %v, want the returning source's own and the scanning one", got)
	}
	if e := scan(whole).Explanation; !strings.HasPrefix(e, fmt.Sprintf("%d sources never seen", scanners-1)) || strings.Contains(e, "came back") {
		t.Fatalf("every candidate held: scanning finding says %q", e)
	}

	old := maxCandidates
	maxCandidates = 20
	defer func() { maxCandidates = old }()
	bounded := hunt(t, st, cfg)
	if got := keys(bounded); !slices.Equal(got, []string{"scanning on tab-d"}) {
		t.Fatalf("folded: findings %v, want only the scanning one", got)
	}
	e := scan(bounded).Explanation
	for _, want := range []string{
		fmt.Sprintf("%d sources never seen", scanners+1), // the returning one twice
		fmt.Sprintf("%d failed attempts in all", scanners+4),
		"1 source, set aside as counts to bound memory, came back and is counted again as new",
	} {
		if !strings.Contains(e, want) {
			t.Errorf("folded: scanning finding %q does not say %q", e, want)
		}
	}
	if n := len(scan(bounded).Events); n != maxScanRows {
		t.Errorf("folded: scanning finding shows %d rows, want %d", n, maxScanRows)
	}
}

// TestKeySet checks the baseline's compact set against a map, with keys
// added in any order, duplicated, and looked up between merges.
func TestKeySet(t *testing.T) {
	var s keySet
	want := map[string]bool{}
	if !s.empty() {
		t.Fatal("new set not empty")
	}
	for i := range 20_000 {
		var k string
		switch i % 4 {
		case 0:
			k = fmt.Sprintf("10.%d.%d.%d", i%7, i%251, i%13)
		case 1:
			k = fmt.Sprintf("2001:db8::%x", i%977)
		case 2:
			k = fmt.Sprintf("user%d", i%1500)
		default:
			k = fmt.Sprintf("010.0.0.%d", i%9) // not canonical IPv4: kept as text
		}
		s.add(k)
		want[k] = true
		if i%3001 == 0 {
			if !s.has(k) {
				t.Fatalf("%q added, not found", k)
			}
		}
	}
	for k := range want {
		if !s.has(k) {
			t.Fatalf("%q added, not found", k)
		}
	}
	for _, k := range []string{"10.9.9.9", "2001:db8::ffff", "user99999", "", "010.0.0.10", "1.2.3.4"} {
		if s.has(k) != want[k] {
			t.Errorf("has(%q) = %v, want %v", k, s.has(k), want[k])
		}
	}
	if n := len(s.v4) + len(s.strs); n != len(want) {
		t.Errorf("%d keys held, want %d (duplicates merged)", n, len(want))
	}
}

// TestV4Key: the hand-written IPv4 reading takes exactly the addresses
// netip reads as IPv4, to the same number.
func TestV4Key(t *testing.T) {
	in := []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5",
		"1..2.3", ".1.2.3", "1.2.3.", "1.2.3.04", "10.0.0.100", "1.2.3.4 ", "a.b.c.d", "::1", "::ffff:1.2.3.4",
		"2001:db8::1", "1.2.3.-4", "123.45.67.89", "1234.5.6.7", "1.2.3.4%eth0", "", "99.99.99.999"}
	for i := range 2000 {
		in = append(in, fmt.Sprintf("%d.%d.%d.%d", i%300, i*7%256, i*13%260, i*31%256))
	}
	for _, k := range in {
		got, ok := v4Key(k)
		a, err := netip.ParseAddr(k)
		wantOK := err == nil && a.Is4()
		if ok != wantOK {
			t.Fatalf("v4Key(%q) ok = %v, netip says %v", k, ok, wantOK)
		}
		if ok {
			b := a.As4()
			if want := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]); got != want {
				t.Fatalf("v4Key(%q) = %#x, want %#x", k, got, want)
			}
		}
	}
}

// TestSystemAccountASCII: the ASCII path of systemAccount says what
// upper-casing the name said.
func TestSystemAccountASCII(t *testing.T) {
	ref := func(u string) bool {
		up := strings.ToUpper(u)
		switch up {
		case "", "-", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON", "LOCAL SYSTEM":
			return true
		}
		return strings.HasSuffix(u, "$") || strings.HasPrefix(up, "DWM-") || strings.HasPrefix(up, "UMFD-")
	}
	for _, u := range []string{"", "-", "system", "System", "SYSTEM", "systems", "local service", "Network Service",
		"anonymous logon", "Local System", "TAB-01$", "dwm-1", "DWM-", "dwm", "umfd-0", "UMFD", "operator", "root",
		"Administrator", "local  service", "NETWORK_SERVICE", "$x", "x$"} {
		if got, want := systemAccountASCII(u), ref(u); got != want {
			t.Errorf("systemAccountASCII(%q) = %v, want %v", u, got, want)
		}
	}
}
