package registry

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
	"github.com/jejak-forensics/jejak/timeline"
)

// buildSoftware writes a SOFTWARE hive with hivex (testdata/mksoftware.py).
func buildSoftware(t *testing.T) string {
	py := registrytest.HivexPython(t)
	src, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "SOFTWARE")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "testdata/mksoftware.py", path).CombinedOutput(); err != nil {
		t.Fatalf("mksoftware.py: %v\n%s", err, out)
	}
	return path
}

// TestSoftwareEqualsRegRipper: Windows version and install time,
// installed programs, network profiles and Run/RunOnce entries of a
// SOFTWARE hive written by hivex equal RegRipper's winver, uninstall,
// networklist and run. Network profile times are SYSTEMTIMEs in local
// time: read in the case zone (here Asia/Jakarta), the zone recorded.
func TestSoftwareEqualsRegRipper(t *testing.T) {
	hive := buildSoftware(t)
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skip(err)
	}
	res := parsertest.Parse(context.Background(), New(), parsertest.FileEntry(t, hive), jakarta)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v %v", res.Err, res.Warnings)
	}
	if typ := res.Events[0].Jejak.Data["registry.hive"]; typ != TypeSOFTWARE {
		t.Fatalf("hive type %q", typ)
	}
	got := byAction(res)

	t.Run("winver", func(t *testing.T) {
		var product, install string
		for _, l := range rip(t, hive, "winver") {
			if v, ok := strings.CutPrefix(l, "ProductName"); ok {
				product = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "InstallTime"); ok {
				install = strings.TrimSuffix(strings.TrimSpace(v), "Z")
			}
		}
		v, i := got["windows-version"], got["windows-installed"]
		if len(v) != 1 || v[0].Jejak.Data["registry.product"] != product || len(i) != 1 || sec(i[0]) != install || i[0].Timestamp.Nanosecond() == 0 {
			t.Errorf("version %v install %v, RegRipper %q %q", v, i, product, install)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		want := map[string]bool{}
		for _, l := range rip(t, hive, "uninstall") {
			if strings.HasPrefix(l, "  ") {
				want[strings.TrimSpace(l)] = true
			}
		}
		have := map[string]bool{}
		for _, ev := range got["installed-program"] {
			have[ev.Jejak.Data["registry.display_name"]+" v."+ev.Jejak.Data["registry.version"]] = true
		}
		if len(want) != 3 || setOf(want) != setOf(have) {
			t.Errorf("ours %v, RegRipper %v", have, want)
		}
		// InstallDate is a day: read in the case zone, the zone noted.
		for _, ev := range got["program-installed"] {
			if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "Asia/Jakarta" || ev.Timestamp.In(jakarta).Hour() != 0 {
				t.Errorf("install date %v %+v", ev.Timestamp, ev.Jejak.Time)
			}
		}
		if n := len(got["program-installed"]); n != 2 {
			t.Errorf("%d install dates, want 2", n)
		}
	})

	t.Run("networklist", func(t *testing.T) {
		want := map[string]string{}
		for _, l := range rip(t, hive, "networklist") {
			k, v, ok := strings.Cut(strings.TrimSpace(l), ": ")
			if ok {
				want[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		first, last := got["network-first-connected"], got["network-last-connected"]
		if len(first) != 1 || len(last) != 1 {
			t.Fatalf("first %v last %v", first, last)
		}
		local := func(i int) string {
			return []*timeline.Event{first[0], last[0]}[i].Timestamp.In(jakarta).Format(time.DateTime)
		}
		if local(0) != want["DateCreated"] || local(1) != want["DateLastConnected"] || first[0].Jejak.Data["registry.gateway_mac"] != want["DefaultGatewayMac"] {
			t.Errorf("first %s last %s gateway %s, RegRipper %v", local(0), local(1), first[0].Jejak.Data["registry.gateway_mac"], want)
		}
		if first[0].Event.Timezone != "Asia/Jakarta" {
			t.Errorf("zone not recorded: %+v", first[0].Event)
		}
	})

	t.Run("run", func(t *testing.T) {
		want := map[string]bool{}
		for _, l := range rip(t, hive, "run") {
			if strings.HasPrefix(l, "  ") {
				want[strings.TrimSpace(l)] = true
			}
		}
		have := map[string]bool{}
		for _, ev := range got["autorun"] {
			have[ev.Jejak.Data["registry.value"]+" - "+ev.Process.CommandLine] = true
		}
		if len(want) != 3 || setOf(want) != setOf(have) {
			t.Errorf("ours %v, RegRipper %v", have, want)
		}
	})
}

// The parser contract on the hives hivex writes: the SYSTEM and SOFTWARE
// plugins' events too keep it (UTC, timestamp_desc, message, offsets in
// the file; truncated copies and a cancelled context).
func TestContractBuiltHives(t *testing.T) {
	parsertest.Contract(t, New(), buildSystem(t), buildSoftware(t))
}
