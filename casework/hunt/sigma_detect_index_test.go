package hunt

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/casework/casetest"
)

// TestDetectionWindows checks the channels and IDs derived from small
// detections of "product: windows" rules: derived only when every way to
// match names a plain channel.
func TestDetectionWindows(t *testing.T) {
	for _, tc := range []struct {
		name, logsource, detection string
		want                       string // "channel:ids|…", "" for none
	}{
		{"channel and ids", "product: windows", "sel:\n  Channel: Security\n  EventID: [4624, '4625']\ncondition: sel", "security:[4624 4625]"},
		{"channel only", "product: windows", "sel:\n  Channel: System\n  Provider_Name: x\ncondition: sel", "system:[]"},
		{"or of searches", "product: windows", "a:\n  Channel: A\n  EventID: 1\nb:\n  Channel: B\ncondition: a or b", "a:[1]|b:[]"},
		{"or with a search without channel", "product: windows", "a:\n  Channel: A\nb:\n  EventID: 2\ncondition: a or b", ""},
		{"and not keeps the positive", "product: windows", "a:\n  Channel: A\n  EventID: 1\nf:\n  Address: LOCAL\ncondition: a and not f", "a:[1]"},
		{"not gives nothing", "product: windows", "a:\n  Channel: A\ncondition: not a", ""},
		{"1 of pattern", "product: windows", "s1:\n  Channel: A\ns2:\n  Channel: B\nx:\n  Foo: y\ncondition: 1 of s*", "a:[]|b:[]"},
		{"1 of them with one unconstrained", "product: windows", "s1:\n  Channel: A\nx:\n  Foo: y\ncondition: 1 of them", ""},
		{"all of them: one suffices", "product: windows", "s1:\n  Channel: A\nx:\n  Foo: y\ncondition: all of them", "a:[]"},
		{"wildcard channel", "product: windows", "sel:\n  Channel: 'Microsoft-*'\ncondition: sel", ""},
		{"modifier on channel", "product: windows", "sel:\n  Channel|contains: Security\ncondition: sel", ""},
		{"padded id keeps the channel", "product: windows", "sel:\n  Channel: Security\n  EventID: '04624'\ncondition: sel", "security:[]"},
		{"id with a modifier keeps the channel", "product: windows", "sel:\n  Channel: Security\n  EventID|gt: 4000\ncondition: sel", "security:[]"},
		{"keywords", "product: windows", "sel:\n  - evil\ncondition: sel", ""},
		{"list of maps: each needs a channel", "product: windows", "sel:\n  - Channel: A\n  - EventID: 3\ncondition: sel", ""},
		{"a service says it already", "product: windows\n  service: security", "sel:\n  Channel: Security\ncondition: sel", ""},
		{"not windows", "product: linux", "sel:\n  Channel: Security\ncondition: sel", ""},
		{"non-ASCII channel", "product: windows", "sel:\n  Channel: 'ſecurity'\ncondition: sel", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "title: t\nlogsource:\n  " + tc.logsource + "\ndetection:\n" + indent(tc.detection)
			r, err := sigma.ParseRule([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			sr, err := compileSigma(r)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sr.derived {
				got = append(got, fmt.Sprintf("%s:%v", s.channel, s.ids))
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("derived %q, want %q", g, tc.want)
			}
		})
	}
	// The built-in Remote Desktop rule is the one this is for.
	want := "microsoft-windows-terminalservices-remoteconnectionmanager/operational:[1149]|" +
		"microsoft-windows-terminalservices-localsessionmanager/operational:[21 25]|security:[4624]"
	var got []string
	for _, s := range ruleByID(t, "JEJAK-AUTH-06").sigma.derived {
		got = append(got, fmt.Sprintf("%s:%v", s.channel, s.ids))
	}
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("JEJAK-AUTH-06 derived %q, want %q", g, want)
	}
}

// TestDetectionIndexChangesNothing hunts the corpus's EVTX files with the
// built-in rules with and without the rules indexed by their detection
// (usePrefilter false asks every rule about every Windows event): the
// findings must be the same, and the Remote Desktop rule must have some.
func TestDetectionIndexChangesNothing(t *testing.T) {
	evtx := corpusEVTX(t)
	dir := t.TempDir()
	for n, p := range evtx {
		copyFile(t, p, filepath.Join(dir, fmt.Sprintf("%d-%s", n, filepath.Base(p))))
	}
	st, _ := casetest.Build(t, dir)
	render := func() []string {
		var out []string
		for _, f := range hunt(t, st, Config{}) {
			out = append(out, f.ID+" "+f.RuleID+" "+f.Explanation)
		}
		slices.Sort(out)
		return out
	}
	usePrefilter = false
	all := render()
	usePrefilter = true
	indexed := render()
	if !slices.Equal(all, indexed) {
		t.Errorf("findings differ: %d without the index, %d with", len(all), len(indexed))
	}
	rdp := 0
	for _, f := range indexed {
		if strings.Contains(f, " JEJAK-AUTH-06 ") {
			rdp++
		}
	}
	if rdp == 0 {
		t.Error("no JEJAK-AUTH-06 finding in the corpus: the comparison proves nothing for it")
	}
	t.Logf("%d findings either way, %d of JEJAK-AUTH-06", len(all), rdp)
}
