package evtx

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// messageReference is message as it was written before it learnt to pick
// the first names without sorting and to stop copying a value at the
// message's length: build every "k=v", fold, then cut. The fast message
// must give the same line for every input.
func messageReference(provider, eid, summary string, shown []field, ed map[string]string) string {
	var parts []string
	for _, f := range shown {
		v := f.v
		if f.dom != "" {
			v = f.dom + `\` + v
		}
		parts = append(parts, f.k+"="+v)
	}
	var sb strings.Builder
	sb.WriteString(provider + " " + eid)
	if summary != "" {
		sb.WriteString(" " + summary)
	}
	if len(parts) == 0 {
		var keys []string
		for k, v := range ed {
			if useful(v) != "" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys[:min(4, len(keys))] {
			parts = append(parts, k+"="+ed[k])
		}
	}
	for i, p := range parts {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteByte(' ')
		}
		writeOneLineReference(&sb, p)
		if sb.Len() > maxMessage {
			break
		}
	}
	s := sb.String()
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// writeOneLineReference is the folding as it was written with
// strings.Builder, before appendOneLine.
func writeOneLineReference(sb *strings.Builder, s string) {
	if !strings.ContainsAny(s, "\r\n\t") {
		sb.WriteString(s)
		return
	}
	space := false
	for _, r := range s {
		if r == '\r' || r == '\n' || r == '\t' || r == ' ' {
			space = true
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
}

func TestMessageMatchesReference(t *testing.T) {
	long := strings.Repeat("powershell -enc QQBCAEMA ", 40)
	multi := "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege  two  spaces\n\tSeDebugPrivilege"
	wide := strings.Repeat("é€", 200) // multi-byte runes across the cut
	cases := []struct {
		name    string
		summary string
		shown   []field
		ed      map[string]string
	}{
		{"user and process", "logon", []field{{k: "user", dom: "COUNTY", v: "it-temp"}, {k: "process", v: `C:\Windows\explorer.exe`}}, nil},
		{"long value cut", "script", []field{{k: "command_line", v: long}, {k: "user", v: "x"}}, nil},
		{"folded value", "privileges", []field{{k: "PrivilegeList", v: multi}}, nil},
		{"folded domain", "", []field{{k: "user", dom: "A\nB", v: "c  d"}}, nil},
		{"multibyte cut", "", []field{{k: "v", v: wide}}, nil},
		{"unknown event, first names", "", nil, map[string]string{
			"Zeta": "1", "alpha": "2", "Beta": "-", "gamma": " ", "Delta": "4", "Epsilon": "5", "Alpha": "6", "b": multi, "c": long}},
		{"unknown event, few names", "", nil, map[string]string{"x": "1", "Data1": "2"}},
		{"unknown event, none useful", "", nil, map[string]string{"x": "-", "y": ""}},
		{"long prefix", strings.Repeat("s", 320), []field{{k: "k", v: "v"}}, nil},
		{"invalid UTF-8 folded", "", []field{{k: "v", v: "a\xff\r\n\tb\xc3"}}, nil},
	}
	for _, c := range cases {
		got := message("Microsoft-Windows-Security-Auditing", "4624", c.summary, c.shown, c.ed)
		want := messageReference("Microsoft-Windows-Security-Auditing", "4624", c.summary, c.shown, c.ed)
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

// nameLess must order names as Go's string comparison does.
func TestNameLessMatchesCompare(t *testing.T) {
	names := []string{"", "a", "A", "ab", "b", "Data1", "Data10", "Data2", "SubjectUserName", "SubjectUserSid",
		"TargetUserName", "é", "\xff", "\x00", "Subject"}
	for _, a := range names {
		for _, b := range names {
			if nameLess(a, b) != (a < b) {
				t.Fatalf("nameLess(%q, %q) = %v", a, b, nameLess(a, b))
			}
		}
	}
}

// appendFieldParts is appendField as it was: each part checked for what
// folding would change before anything is appended.
func appendFieldParts(dst []byte, f field) []byte {
	if needsFold(f.k) || needsFold(f.dom) || needsFold(f.v) {
		s := f.k + "=" + f.v
		if f.dom != "" {
			s = f.k + "=" + f.dom + `\` + f.v
		}
		return appendOneLine(dst, s)
	}
	dst = appendCapped(dst, f.k)
	dst = append(dst, '=')
	if f.dom != "" {
		dst = appendCapped(dst, f.dom)
		dst = append(dst, '\\')
	}
	return appendCapped(dst, f.v)
}

// TestAppendFieldOnePass: appendField, which checks the bytes it
// appended once, gives what checking each part first gave, for fields
// with line breaks, tabs and runs of spaces anywhere (past the cap too),
// after messages of every length around the cap.
func TestAppendFieldOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab  \t\r\n=\\é")
	word := func() string {
		n := rng.IntN(40)
		if rng.IntN(8) == 0 {
			n = rng.IntN(400)
		}
		b := make([]byte, 0, n)
		for range n {
			if rng.IntN(4) == 0 {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
			} else {
				b = append(b, byte('a'+rng.IntN(26)))
			}
		}
		return string(b)
	}
	for i := range 20000 {
		f := field{k: word(), v: word()}
		if rng.IntN(3) == 0 {
			f.dom = word()
		}
		prefix := make([]byte, rng.IntN(maxMessage+20))
		for j := range prefix {
			prefix[j] = 'x'
		}
		got := appendField(append([]byte(nil), prefix...), f)
		want := appendFieldParts(append([]byte(nil), prefix...), f)
		if string(got) != string(want) {
			t.Fatalf("case %d: field %q after %d bytes: %q, want %q", i, f, len(prefix), got[len(prefix):], want[len(prefix):])
		}
	}
}
