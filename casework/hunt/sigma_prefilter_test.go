package hunt

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/casework/casetest"
)

// TestSigmaPrefilterChangesNothing hunts the corpus's EVTX files and
// SigmaHQ's regression samples with every SigmaHQ Windows rule twice, with
// the prefilter and without: every finding, with its events, must be the
// same. Evaluating every rule on every event is the oracle the prefilter
// may only shortcut.
func TestSigmaPrefilterChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("hunts some 20,000 events with 2,400 rules twice")
	}
	rulesDir, err := filepath.Abs(filepath.Join(sharedSigma, "rules", "windows"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rulesDir); err != nil {
		t.Skipf("SigmaHQ snapshot not present (%v): the test needs ../shared/sigma", err)
	}
	rules, _, err := LoadSigma(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	withNeed := 0
	for _, r := range rules {
		if r.sigma.need != nil {
			withNeed++
		}
	}
	dir := t.TempDir()
	evtx := evtxFiles("../../../shared/corpus", filepath.Join(sharedSigma, "regression_data"))
	for n, p := range evtx {
		copyFile(t, p, filepath.Join(dir, fmt.Sprintf("%d-%s", n, filepath.Base(p))))
	}
	if len(evtx) == 0 {
		t.Skip("no EVTX files under ../shared")
	}
	st, sum := casetest.Build(t, dir)

	render := func() []string {
		var out []string
		for _, f := range hunt(t, st, Config{Rules: rules}) {
			var evs []string
			for _, e := range f.Events {
				evs = append(evs, e.ID)
			}
			slices.Sort(evs)
			out = append(out, f.RuleID+" "+strings.Join(evs, ","))
		}
		slices.Sort(out)
		return out
	}
	usePrefilter = false
	all := render()
	usePrefilter = true
	pre := render()
	if len(all) == 0 {
		t.Fatal("no finding at all: the comparison would prove nothing")
	}
	if !slices.Equal(all, pre) {
		for _, f := range all {
			if !slices.Contains(pre, f) {
				t.Errorf("lost with the prefilter: %.300s", f)
			}
		}
		for _, f := range pre {
			if !slices.Contains(all, f) {
				t.Errorf("only with the prefilter: %.300s", f)
			}
		}
	}
	t.Logf("%d rules (%d with a prefilter requirement), %d events of %d EVTX files: %d findings either way",
		len(rules), withNeed, sum.Events, len(evtx), len(all))
}

// TestSigmaNeed checks the requirements derived from small detections: a
// rule is only skipped for an event lacking every literal it states.
func TestSigmaNeed(t *testing.T) {
	for _, tc := range []struct {
		name, detection string
		want            string // "field:lit|field:lit", "" for none
	}{
		{"endswith", "sel:\n  Image|endswith: '\\\\Whoami.EXE'\ncondition: sel", `Image:\whoami.exe`},
		{"any of values", "sel:\n  Image|endswith: ['\\\\a.exe', '\\\\b.exe']\ncondition: sel", `Image:\a.exe|Image:\b.exe`},
		{"and picks the longer", "sel:\n  Image|endswith: '\\\\x.exe'\n  CommandLine|contains: 'secretdump'\ncondition: sel", `CommandLine:secretdump`},
		{"or of searches", "a:\n  Image: 'C:\\\\x.exe'\nb:\n  CommandLine|contains: 'mimi'\ncondition: a or b", `Image:c:\x.exe|CommandLine:mimi`},
		{"not gives nothing", "a:\n  Image: 'x'\ncondition: not a", ``},
		{"and not keeps the positive", "a:\n  Image|contains: 'evil'\nf:\n  User: 'SYSTEM'\ncondition: a and not f", `Image:evil`},
		{"regex gives nothing", "a:\n  CommandLine|re: 'evil'\ncondition: a", ``},
		{"cased gives nothing", "a:\n  CommandLine|cased: 'Evil'\ncondition: a", ``},
		{"null gives nothing", "a:\n  ParentImage: null\ncondition: a", ``},
		{"empty value gives nothing", "a:\n  Image: ['', 'x']\ncondition: a", ``},
		{"wildcard keeps s/k-free ASCII runs", "a:\n  CommandLine: '*net user * /add*'\ncondition: a", `CommandLine:net u`},
		{"all picks one", "a:\n  CommandLine|contains|all: [' -enc ', 'hidden']\ncondition: a", `CommandLine: -enc `},
		{"1 of pattern", "s1:\n  Image: 'ab'\ns2:\n  Image: 'cd'\nx:\n  Image: 'ef'\ncondition: 1 of s*", `Image:ab|Image:cd`},
		{"1 of with an unconstrained search", "s1:\n  Image: 'ab'\ns2:\n  Image|re: 'cd'\ncondition: 1 of s*", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n" + indent(tc.detection)
			r, err := sigma.ParseRule([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			sr, err := compileSigma(r)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range sr.need {
				got = append(got, a.field+":"+a.lit)
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("need %q, want %q", g, tc.want)
			}
		})
	}
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestAutomatonFindsEveryLiteral checks the Aho-Corasick scan against
// strings.Contains on random texts: every literal a text contains is
// found; for ASCII literals nothing else is; a non-ASCII literal may be
// reported where another non-ASCII text stands (bytes ≥ 0x80 share a
// class), which only makes a rule be evaluated.
func TestAutomatonFindsEveryLiteral(t *testing.T) {
	lits := []string{"he", "she", "his", "hers", "h", "\\cmd.exe", "cmd", "md.e", "é", "ré", "日本", "aaaa", "aa"}
	ids := make([]int32, len(lits))
	for i := range ids {
		ids[i] = int32(i)
	}
	a := newAutomaton(lits, ids)
	alphabet := []string{"h", "e", "s", "r", "i", "a", "\\", "c", "m", "d", ".", "x", "é", "日", "本", "ü", " "}
	rng := rand.New(rand.NewPCG(1, 2))
	found := make([]uint32, len(lits))
	for gen := uint32(1); gen <= 20000; gen++ {
		var b strings.Builder
		for range rng.IntN(24) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		text := b.String()
		a.scan(text, found, gen)
		for i, l := range lits {
			has, got := strings.Contains(text, l), found[i] == gen
			ascii := !strings.ContainsFunc(l, func(r rune) bool { return r >= utf8.RuneSelf })
			if has && !got {
				t.Fatalf("%q: literal %q not found", text, l)
			}
			if got && !has && ascii {
				t.Fatalf("%q: literal %q reported, not there", text, l)
			}
		}
	}
}

// FuzzAutomaton: whatever the literals and the text, a contained literal
// is found.
func FuzzAutomaton(f *testing.F) {
	f.Add("he\x00she\x00hers", "ushers")
	f.Add("\\powershell.exe\x00-enc", "C:\\x\\powershell.exe -enc AAA")
	f.Add("日本\x00本", "日本語")
	f.Fuzz(func(t *testing.T, joined, text string) {
		var lits []string
		var ids []int32
		for _, l := range strings.Split(joined, "\x00") {
			if l != "" {
				lits = append(lits, l)
				ids = append(ids, int32(len(ids)))
			}
		}
		if len(lits) == 0 || len(lits) > 64 {
			return
		}
		found := make([]uint32, len(lits))
		newAutomaton(lits, ids).scan(text, found, 1)
		for i, l := range lits {
			if strings.Contains(text, l) && found[i] != 1 {
				t.Fatalf("literal %q in %q not found", l, text)
			}
		}
	})
}

// TestAutomatonScanFold: scanning a value as it is finds every literal its
// strings.ToLower form contains — upper-case ASCII, and non-ASCII text
// whose lower case is ASCII (the Kelvin sign) or longer (İ).
func TestAutomatonScanFold(t *testing.T) {
	lits := []string{"k", "kel", "ps", "\\cmd.exe", "i̇", "é", "ab"}
	ids := make([]int32, len(lits))
	for i := range lits {
		ids[i] = int32(i)
	}
	a := newAutomaton(lits, ids)
	alphabet := []string{"K", "k", "\u212a", "E", "e", "L", "l", "P", "p", "S", "s", "\\", "C", "c", "M", "D", ".", "X", "x", "İ", "I", "É", "é", "A", "B", " "}
	rng := rand.New(rand.NewPCG(3, 4))
	found := make([]uint32, len(lits))
	for gen := uint32(1); gen <= 20000; gen++ {
		var b strings.Builder
		for range rng.IntN(24) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		text := b.String()
		a.scanFold(text, found, gen)
		low := strings.ToLower(text)
		for i, l := range lits {
			if strings.Contains(low, l) && found[i] != gen {
				t.Fatalf("%q (lower %q): literal %q not found", text, low, l)
			}
			if found[i] == gen && !strings.Contains(low, l) && !strings.ContainsFunc(text, func(r rune) bool { return r >= utf8.RuneSelf }) {
				t.Fatalf("%q: literal %q reported, not in %q", text, l, low)
			}
		}
	}
}

// TestWinDerivedFields: every key sigmaEventInto (and ecsFields) writes
// by name is in winDerivedFields, so the prefilter never reads from
// EventData a field the map would hold another value for. The keys are
// read from the source, so a key added there and not to the list fails.
func TestWinDerivedFields(t *testing.T) {
	src, err := os.ReadFile("sigmamap.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "func sigmaEventInto(")
	end := strings.Index(text, "// isSyslogRecord")
	if start < 0 || end < start {
		t.Fatal("sigmaEventInto and ecsFields not found in sigmamap.go")
	}
	body := text[start:end]
	// The Windows branch, then what follows both branches (ecsFields).
	other := strings.Index(body, "\n\t} else {\n")
	common := strings.Index(body, "\n\tif wanted(keywordsField)")
	if other < 0 || common < other {
		t.Fatal("sigmaEventInto's branches not found")
	}
	body = body[:other] + body[common:]
	var keys []string
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`\b(?:set|alias)\("([^"]+)"`),
		regexp.MustCompile(`m\["([^"]+)"\]\s*=`),
		regexp.MustCompile(`\{"[a-z]+", "([A-Za-z]+)"\}`),
		regexp.MustCompile(`wanted\("([^"]+)"\)`),
	} {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			keys = append(keys, m[1])
		}
	}
	if len(keys) < 40 {
		t.Fatalf("only %d keys read from sigmaEventInto: the patterns no longer fit the source", len(keys))
	}
	for _, k := range keys {
		if !winDerivedFields[k] {
			t.Errorf("sigmaEventInto writes %q, not in winDerivedFields", k)
		}
	}
	if !winDerivedFields[keywordsField] {
		t.Errorf("%s not in winDerivedFields", keywordsField)
	}
}
