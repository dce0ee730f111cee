package dpkg

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzFirstLinePrechecks: the dpkg, apt term and alternatives Match answer
// as their first-line checks without the byte prechecks before them.
func FuzzFirstLinePrechecks(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 03:04:05 install foo:amd64 <none> 1.0\n", "2024-01-02 03:04:05 status installed x 1\r\n",
		"\r\nLog started: 2024-01-02  03:04:05\n", "Log started: x\n",
		"update-alternatives 2024-01-02 03:04:05: run with --install\n", "update-alternatives x\n", "", "\r",
	} {
		f.Add([]byte(s))
	}
	d, term, alt := New(), NewAptTerm(), NewAlternatives()
	f.Fuzz(func(t *testing.T, head []byte) {
		first, _, _ := bytes.Cut(head, []byte("\n"))
		line := strings.TrimRight(string(first), "\r")
		_, rest, ok := splitStamp(line)
		action, _, _ := strings.Cut(rest, " ")
		if got, want := d.Match(nil, head), ok && dpkgActions[action]; got != want {
			t.Errorf("Dpkg.Match(%q) = %v, splitStamp says %v", head, got, want)
		}
		_, _, want := altLine(line)
		if got := alt.Match(nil, head); got != want {
			t.Errorf("Alternatives.Match(%q) = %v, altLine says %v", head, got, want)
		}
		tf, _, _ := bytes.Cut(bytes.TrimLeft(head, "\r\n"), []byte("\n"))
		s, ok := strings.CutPrefix(strings.TrimRight(string(tf), "\r"), termStarted)
		if ok {
			_, err := time.Parse(aptLayout, strings.TrimSpace(s))
			ok = err == nil
		}
		if got := term.Match(nil, head); got != ok {
			t.Errorf("AptTerm.Match(%q) = %v, without precheck %v", head, got, ok)
		}
	})
}
