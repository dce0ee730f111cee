package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
)

// --machine-zone reads the zone-less logs of a Windows evidence item in
// the zone its SYSTEM hive states. The evidence is built here by real
// tools: a SYSTEM hive written by hivex (SE Asia Standard Time, UTC+7;
// parsers/registry/testdata/mksystem.py) and plaso's setupapi.dev.log
// (local times, no zone), put where Windows keeps them on an NTFS volume
// made by mkntfs and filled through ntfs-3g, and in a folder whose names
// are spelled in another case. With --tz UTC and the flag, every setupapi
// event is 7 h earlier than without it, says it was read as Asia/Bangkok,
// and the summary (text and JSON) names the hive it came from; without
// the flag the case zone is used and the ZONE MISMATCH warning stands.
func TestMachineZoneApplied(t *testing.T) {
	oracle.Tool(t, "mkntfs", "ntfs-3g")
	oracle.Tool(t, "ntfs-3g", "ntfs-3g")
	dir := t.TempDir()

	// The hive, from the SAM hive of plaso's corpus rewritten by hivex.
	hive := filepath.Join(dir, "SYSTEM")
	registrytest.WriteSystemHive(t, hive)
	hiveBytes, err := os.ReadFile(hive)
	if err != nil {
		t.Fatal(err)
	}
	logBytes, err := os.ReadFile(parsertest.Corpus(t, "windows/logs/setupapi.dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(root, hivePath, logPath string) {
		t.Helper()
		for p, b := range map[string][]byte{hivePath: hiveBytes, logPath: logBytes} {
			p = filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The NTFS image.
	img := filepath.Join(dir, "windows.img")
	ntfstest.Format(t, img, 64<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	put(mnt, "Windows/System32/config/SYSTEM", "Windows/INF/setupapi.dev.log")
	unmount()

	// The folder: a copy of a system volume on a case-sensitive file
	// system, its names in another case than Windows spells them.
	folder := filepath.Join(dir, "volume-copy")
	put(folder, "WINDOWS/system32/Config/system", "windows/inf/setupapi.dev.log")

	// A disk: the volume as the first partition of an MBR, 1 MiB in.
	vol, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	mbr := make([]byte, 1<<20)
	e := mbr[446:462]
	e[4] = 0x07 // NTFS
	binary.LittleEndian.PutUint32(e[8:], 2048)
	binary.LittleEndian.PutUint32(e[12:], uint32(len(vol)/512))
	mbr[510], mbr[511] = 0x55, 0xaa
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, append(mbr, vol...), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, ev := range []struct{ name, path, hive string }{
		{"image", img, "Windows/System32/config/SYSTEM"},
		{"disk", disk, "partition:1@1048576/Windows/System32/config/SYSTEM"},
		{"folder", folder, "WINDOWS/system32/Config/system"},
	} {
		t.Run(ev.name, func(t *testing.T) {
			base := filepath.Join(dir, "case-"+ev.name)
			_, errs, code := jejak(t, "analyze", ev.path, "--out", base, "--tz", "UTC", "-q")
			if code != exitOK {
				t.Fatalf("without --machine-zone: exit %d\n%s", code, errs)
			}
			if strings.Contains(errs, "zone of ") || !strings.Contains(errs, "ZONE MISMATCH") {
				t.Errorf("without --machine-zone the case zone must be used and the mismatch said:\n%s", errs)
			}
			mz := filepath.Join(dir, "case-mz-"+ev.name)
			_, errs, code = jejak(t, "analyze", ev.path, "--out", mz, "--tz", "UTC", "-q", "--machine-zone")
			if code != exitOK {
				t.Fatalf("--machine-zone: exit %d\n%s", code, errs)
			}
			line := fmt.Sprintf("zone of %s: Asia/Bangkok from its SYSTEM hive %s (SE Asia Standard Time)", filepath.Base(ev.path), ev.hive)
			if !strings.Contains(errs, line) {
				t.Errorf("summary lacks %q:\n%s", line, errs)
			}
			if strings.Contains(errs, "ZONE MISMATCH") {
				t.Errorf("the machine's zone was applied, yet the summary says ZONE MISMATCH:\n%s", errs)
			}

			want := setupapiTimes(t, base)
			got := setupapiTimes(t, mz)
			if len(want) < 10 || len(got) != len(want) {
				t.Fatalf("setupapi events: %d without the flag, %d with it", len(want), len(got))
			}
			for k, w := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("%s: missing with --machine-zone", k)
				case w.zone != "UTC" || g.zone != "Asia/Bangkok":
					t.Errorf("%s: zone_assumed %q without the flag, %q with it; want UTC, Asia/Bangkok", k, w.zone, g.zone)
				case w.at.Sub(g.at) != 7*time.Hour:
					t.Errorf("%s: %s without the flag, %s with it: want 7h earlier", k, w.at, g.at)
				}
			}

			// The JSON summary names the zone and its hive.
			js := filepath.Join(dir, "case-json-"+ev.name)
			out, errs, code := jejak(t, "analyze", ev.path, "--out", js, "--tz", "UTC", "-q", "--machine-zone", "--json")
			if code != exitOK {
				t.Fatalf("--json: exit %d\n%s", code, errs)
			}
			var sum struct {
				ItemZones   []struct{ Name, Zone, Source string } `json:"item_zones"`
				ZoneAssumed map[string]int64                      `json:"zone_assumed"`
			}
			if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &sum); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			if len(sum.ItemZones) != 1 || sum.ItemZones[0].Zone != "Asia/Bangkok" || !strings.Contains(sum.ItemZones[0].Source, ev.hive) {
				t.Errorf("item_zones = %+v", sum.ItemZones)
			}
			if sum.ZoneAssumed["Asia/Bangkok"] < int64(len(want)) || sum.ZoneAssumed["UTC"] != 0 {
				t.Errorf("zone_assumed = %v, want at least %d as Asia/Bangkok and none as UTC", sum.ZoneAssumed, len(want))
			}
		})
	}
}

type zonedTime struct {
	at   time.Time
	zone string
}

// setupapiTimes maps each setupapi event of a case, by its provenance
// (record and description), to its UTC time and assumed zone.
func setupapiTimes(t *testing.T, cs string) map[string]zonedTime {
	t.Helper()
	m := map[string]zonedTime{}
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, exitOK, "timeline", cs, "--json")), "\n") {
		var ev struct {
			Timestamp time.Time `json:"@timestamp"`
			Desc      string    `json:"timestamp_desc"`
			Jejak     struct {
				Provenance struct {
					Offset int64  `json:"offset"`
					Record int64  `json:"record"`
					Parser string `json:"parser"`
				} `json:"provenance"`
				Time struct {
					ZoneAssumed string `json:"zone_assumed"`
				} `json:"time"`
			} `json:"jejak"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		p := ev.Jejak.Provenance
		if p.Parser != "setupapi" {
			continue
		}
		m[fmt.Sprintf("offset %d record %d %s", p.Offset, p.Record, ev.Desc)] = zonedTime{ev.Timestamp, ev.Jejak.Time.ZoneAssumed}
	}
	return m
}

// A SYSTEM hive that cannot be read leaves the item in the case zone, and
// a warning of kind zone says so, naming the reason.
func TestMachineZoneUnreadableHive(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "evidence")
	hive := filepath.Join(ev, "Windows", "System32", "config", "SYSTEM")
	if err := os.MkdirAll(filepath.Dir(hive), 0o755); err != nil {
		t.Fatal(err)
	}
	// A hive's base block signature, then nothing a hive needs.
	if err := os.WriteFile(hive, append([]byte("regf"), make([]byte, 8192)...), 0o644); err != nil {
		t.Fatal(err)
	}
	logBytes, err := os.ReadFile(parsertest.Corpus(t, "windows/logs/setupapi.dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ev, "setupapi.dev.log"), logBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(dir, "case")
	_, errs, _ := jejak(t, "analyze", ev, "--out", cs, "--tz", "UTC", "-q", "--machine-zone")
	if strings.Contains(errs, "zone of ") {
		t.Errorf("an unreadable hive gave a zone:\n%s", errs)
	}
	for k, z := range setupapiTimes(t, cs) {
		if z.zone != "UTC" {
			t.Fatalf("%s: read as %s, want the case zone UTC", k, z.zone)
		}
	}
	w, _, _ := jejak(t, "warnings", cs)
	if !strings.Contains(w, "[zone]") || !strings.Contains(w, "SYSTEM hive of this evidence could not be read") {
		t.Errorf("no zone warning for the unreadable hive:\n%s", w)
	}
}
