package evtx

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
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

// TestNameOrders: a builder's messages, with the order of names kept by
// their strings (nameOrders), are the messages picked name by name, for
// lists of names seen again with other values, lists sharing their first
// name (one slot) but not the rest, and fresh copies of names seen.
func TestNameOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pool := []string{"SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
		"TargetUserName", "Data1", "Data2", "Data10", "a", "B", "b", "ProcessName", "ÆName", "Param1", "param1"}
	values := []string{"", "-", " ", " - ", "x", "SYSTEM", "0x3e7", "line\r\nbreak", "S-1-5-18", strings.Repeat("v", 120)}
	var lists [][]kv
	for range 40 {
		perm := rng.Perm(len(pool))[:1+rng.IntN(len(pool)-1)]
		l := make([]kv, len(perm))
		for i, p := range perm {
			l[i].k = pool[p]
		}
		if len(lists) > 0 && rng.IntN(3) == 0 {
			// An earlier list's first name and length, other names
			// after it (the same slot, the same length).
			e := lists[rng.IntN(len(lists))]
			l = []kv{{k: e[0].k}}
			for _, p := range rng.Perm(len(pool)) {
				if len(l) < len(e) && pool[p] != e[0].k {
					l = append(l, kv{k: pool[p]})
				}
			}
		} else if len(lists) > 0 && rng.IntN(3) == 0 {
			// The first name of an earlier list, the rest another.
			l[0].k = lists[rng.IntN(len(lists))][0].k
			seen := map[string]bool{}
			out := l[:0]
			for _, m := range l {
				if !seen[m.k] {
					seen[m.k] = true
					out = append(out, m)
				}
			}
			l = out
		}
		lists = append(lists, l)
	}
	var orders nameOrders
	for i := range 20000 {
		l := slices.Clone(lists[rng.IntN(len(lists))])
		if rng.IntN(10) == 0 {
			for j := range l {
				l[j].k = strings.Clone(l[j].k)
			}
		}
		for j := range l {
			l[j].v = values[rng.IntN(len(values))]
		}
		got := string(appendMessageBy(nil, "Microsoft-Windows-Security-Auditing", "4907", "", nil, l, &orders))
		want := string(appendMessage(nil, "Microsoft-Windows-Security-Auditing", "4907", "", nil, l))
		if got != want {
			t.Fatalf("case %d, members %q: %q, want %q", i, l, got, want)
		}
		shown := []field{{k: "user", v: "x"}}
		if got, want := string(appendMessageBy(nil, "p", "1", "s", shown, l, &orders)), string(appendMessage(nil, "p", "1", "s", shown, l)); got != want {
			t.Fatalf("case %d with fields shown: %q, want %q", i, got, want)
		}
	}
}

// TestMessageByParts: the messages a builder finds by their parts
// (messageCache.byParts, strings compared by address) are the ones a
// builder without the cache writes out, record after record of several
// logs, each read twice through one expander (so that its caches and
// memos hold the strings of the first reading).
func TestMessageByParts(t *testing.T) {
	x := new(expander)
	b := newBuilder()
	defer b.close()
	b.msgs = &x.msgs
	n := 0
	for _, rel := range []string{"logs/windows/security.evtx", "logs/windows/System2.evtx", "logs/windows/new-user-security.evtx",
		"logs/windows/sample-with-irregular-bool-values.evtx", "more/evtx/omer_mit/Security_short_selected.evtx"} {
		raw, err := os.ReadFile(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			for off := fileHeaderBlock; off+chunkSize <= len(raw); off += chunkSize {
				decodeChunk(x, raw[off:off+chunkSize], int64(off), true, func() bool { return false }, func(r *Record) {
					got, want := b.event(r).Message, toEvent(r).Message
					if got != want {
						t.Fatalf("%s record %d: message %q, want %q", rel, r.ID, got, want)
					}
					n++
				})
			}
		}
	}
	if n == 0 {
		t.Error("no records")
	}
}
