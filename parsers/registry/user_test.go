package registry

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
)

func setOf(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

var ripTimeLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)Z$`)

// TestUserAssistEqualsRegRipper: every UserAssist entry with a time, its
// decoded name, run count and last run equal RegRipper's userassist, on
// a Windows 10 and an XP NTUSER.DAT.
func TestUserAssistEqualsRegRipper(t *testing.T) {
	for _, rel := range []string{"windows/registry/NTUSER.DAT", "windows/registry/NTUSER-XP.DAT"} {
		t.Run(rel, func(t *testing.T) {
			path := parsertest.Corpus(t, rel)
			want := map[string]bool{}
			cur := ""
			for _, l := range rip(t, path, "userassist") {
				if m := ripTimeLine.FindStringSubmatch(l); m != nil {
					cur = m[1]
					continue
				}
				if strings.HasPrefix(l, "Value names with no time stamps") || strings.HasPrefix(l, "{") {
					cur = ""
				}
				if i := strings.LastIndex(l, " ("); cur != "" && strings.HasPrefix(l, "  ") && i > 0 {
					want[fmt.Sprintf("%s|%s|%s", strings.TrimSpace(l[:i]), strings.TrimSuffix(l[i+2:], ")"), cur)] = true
				}
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			have := map[string]bool{}
			for _, ev := range byAction(res)["userassist"] {
				have[fmt.Sprintf("%s|%s|%s", ev.Process.Executable, ev.Jejak.Data["registry.run_count"], sec(ev))] = true
			}
			if len(want) < 5 || setOf(want) != setOf(have) {
				t.Errorf("ours:\n%s\nRegRipper:\n%s", setOf(have), setOf(want))
			}
		})
	}
}

// TestMountPoints2EqualsRegRipper: the volumes and drives of MountPoints2
// and their keys' times equal RegRipper's mp2.
func TestMountPoints2EqualsRegRipper(t *testing.T) {
	for _, rel := range []string{"windows/registry/NTUSER.DAT", "windows/registry/NTUSER-XP.DAT"} {
		t.Run(rel, func(t *testing.T) {
			path := parsertest.Corpus(t, rel)
			want := map[string]bool{}
			cur := ""
			for _, l := range rip(t, path, "mp2") {
				if m := ripTimeLine.FindStringSubmatch(l); m != nil {
					cur = m[1]
					continue
				}
				if d, names, ok := strings.Cut(l, "Z - "); ok && len(d) == 19 {
					for _, n := range strings.Split(names, ",") {
						want[n+"|"+d] = true
					}
					continue
				}
				if cur != "" && strings.HasPrefix(l, "  {") {
					want[strings.TrimSpace(l)+"|"+cur] = true
				}
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			have := map[string]bool{}
			for _, ev := range byAction(res)["mountpoint"] {
				have[ev.Jejak.Data["registry.mount_target"]+"|"+sec(ev)] = true
			}
			if len(want) < 3 || setOf(want) != setOf(have) {
				t.Errorf("ours:\n%s\nRegRipper:\n%s", setOf(have), setOf(want))
			}
		})
	}
}

// TestAmcacheEqualsRegRipper: every InventoryApplicationFile entry's path,
// key time and SHA-1 (without Amcache's 0000 prefix) equal RegRipper's
// amcache.
func TestAmcacheEqualsRegRipper(t *testing.T) {
	path := parsertest.Corpus(t, "agpl/registry/Amcache.hve")
	want := map[string]bool{}
	var cur string
	inFiles := false
	for _, l := range rip(t, path, "amcache") {
		if strings.HasPrefix(l, "***") {
			inFiles = l == "***InventoryApplicationFile***"
			continue
		}
		if !inFiles {
			continue
		}
		if p, tm, ok := strings.Cut(l, "  LastWrite: "); ok {
			cur = p + "|" + strings.TrimSuffix(tm, "Z")
		}
		if h, ok := strings.CutPrefix(l, "Hash: "); ok && cur != "" {
			h, _, _ = strings.Cut(h, "WARN")
			want[cur+"|"+strings.TrimSpace(h)] = true
			cur = ""
		}
	}
	res := parsertest.ParseFile(t, New(), path, nil)
	have := map[string]bool{}
	for _, ev := range byAction(res)["amcache-file"] {
		have[ev.File.Path+"|"+sec(ev)+"|"+ev.Jejak.Data["registry.sha1"]] = true
	}
	if len(want) < 10 || setOf(want) != setOf(have) {
		t.Errorf("ours:\n%s\nRegRipper:\n%s", setOf(have), setOf(want))
	}
	// Link dates later than the entry itself are build hashes: flagged.
	flagged := 0
	for _, ev := range byAction(res)["amcache-link-date"] {
		if ev.Jejak.Time != nil && ev.Jejak.Time.OutOfRange {
			flagged++
		}
	}
	if flagged == 0 {
		t.Error("no link date flagged out of range")
	}
}

// TestShellbagsEqualRegRipper: UsrClass.dat's shellbags are the items
// RegRipper's shellbags lists (by their place in the BagMRU tree), and an
// item RegRipper gives an MRU time is the most recent of its key (MRU
// position 0) with that time.
func TestShellbagsEqualRegRipper(t *testing.T) {
	path := parsertest.Corpus(t, "windows/registry/UsrClass.dat")
	want := map[string]string{} // bag path → MRU time or ""
	re := regexp.MustCompile(`\[Desktop\\([0-9\\]*)\]$`)
	for _, l := range rip(t, path, "shellbags") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		want[strings.TrimSuffix(m[1], `\`)] = strings.TrimSpace(l[:strings.IndexByte(l, '|')])
	}
	res := parsertest.ParseFile(t, New(), path, nil)
	evs := byAction(res)["shellbag"]
	if len(evs) != len(want) || len(want) == 0 {
		t.Fatalf("%d shellbags, RegRipper %d", len(evs), len(want))
	}
	for _, ev := range evs {
		_, bag, _ := strings.Cut(ev.Jejak.Data["registry.key"], `BagMRU`)
		bag = strings.TrimPrefix(bag+`\`+ev.Jejak.Data["registry.value"], `\`)
		w, ok := want[bag]
		switch {
		case !ok:
			t.Errorf("%s: not listed by RegRipper", bag)
		case w == "" && ev.Jejak.Data["registry.mru_position"] == "0":
			t.Errorf("%s: MRU position 0, RegRipper gives no MRU time", bag)
		case w != "" && (ev.Jejak.Data["registry.mru_position"] != "0" || sec(ev) != w):
			t.Errorf("%s: %s position %s, RegRipper %s", bag, sec(ev), ev.Jejak.Data["registry.mru_position"], w)
		}
	}
}

// TestNTUserMRUsEqualRegRipper: RunMRU (in MRUList order), TypedPaths and
// the RDP client's servers, user hints and MRU, added to a copy of the
// corpus NTUSER.DAT by hivex, equal RegRipper's runmru, typedpaths and
// tsclient.
func TestNTUserMRUsEqualRegRipper(t *testing.T) {
	py := registrytest.HivexPython(t)
	src, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/NTUSER.DAT"))
	if err != nil {
		t.Fatal(err)
	}
	hive := filepath.Join(t.TempDir(), "NTUSER.DAT")
	if err := os.WriteFile(hive, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "testdata/mkntuser.py", hive).CombinedOutput(); err != nil {
		t.Fatalf("mkntuser.py: %v\n%s", err, out)
	}
	res := parsertest.ParseFile(t, New(), hive, nil)
	got := byAction(res)

	// RunMRU: the letters of MRUList name the values, most recent first.
	var order, runmru []string
	byLetter := map[string]string{}
	for _, l := range rip(t, hive, "runmru") {
		if v, ok := strings.CutPrefix(l, "MRUList = "); ok {
			order = strings.Split(v, "")
		} else if len(l) > 4 && l[1:4] == "   " {
			byLetter[l[:1]] = strings.TrimSuffix(l[4:], `\1`)
		}
	}
	for _, c := range order {
		runmru = append(runmru, byLetter[c])
	}
	if evs := got["run-mru"]; len(evs) != 1 || len(runmru) != 3 || !strings.HasSuffix(evs[0].Message, strings.Join(runmru, " | ")) {
		t.Errorf("RunMRU %v, RegRipper %v", evs, runmru)
	}

	var typed []string
	for _, l := range rip(t, hive, "typedpaths") {
		if strings.HasPrefix(l, "url") {
			typed = append(typed, strings.TrimSpace(strings.TrimSpace(l)[len("url1"):]))
		}
	}
	if evs := got["typed-paths"]; len(evs) != 1 || len(typed) != 2 || !strings.HasSuffix(evs[0].Message, strings.Join(typed, " | ")) {
		t.Errorf("TypedPaths %v, RegRipper %v", evs, typed)
	}

	want := map[string]bool{}
	server := ""
	var mru []string
	for _, l := range rip(t, hive, "tsclient") {
		if s, tm, ok := strings.Cut(l, "  LastWrite time: "); ok {
			server = s + "|" + strings.TrimSuffix(tm, "Z")
		}
		if h, ok := strings.CutPrefix(l, "  UsernameHint: "); ok {
			want[server+"|"+h] = true
		}
		if _, v, ok := strings.Cut(l, " -> "); ok {
			mru = append(mru, v)
		}
	}
	have := map[string]bool{}
	for _, ev := range got["rdp-client-server"] {
		have[ev.Destination.Address+"|"+sec(ev)+"|"+ev.Jejak.Data["registry.username_hint"]] = true
		if ev.User == nil || ev.User.Name == "" {
			t.Errorf("%s: no user", ev.Message)
		}
	}
	if len(want) != 2 || setOf(want) != setOf(have) {
		t.Errorf("RDP servers %v, RegRipper %v", have, want)
	}
	if evs := got["rdp-client-mru"]; len(evs) != 1 || !strings.HasSuffix(evs[0].Message, strings.Join(mru, " | ")) {
		t.Errorf("RDP MRU %v, RegRipper %v", evs, mru)
	}
}
