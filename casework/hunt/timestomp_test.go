package hunt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// buildDiskCase ingests disk images as 'jejak ingest' does.
func buildDiskCase(t *testing.T, images ...string) *sqlite.Store {
	t.Helper()
	st, _ := casetest.BuildDisk(t, images...)
	return st
}

// filetime is t as NTFS stores it: 100 ns ticks since 1601.
func filetime(t time.Time) uint64 {
	// 1601 to 1970 is 11644473600 s; a time.Duration spans only 292 years.
	return uint64(t.Unix()+11644473600)*10_000_000 + uint64(t.Nanosecond()/100)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setNTFSTimes sets a file's four NTFS times through ntfs-3g's
// system.ntfs_times attribute (creation, modification, access, MFT change,
// 100 ns each). ntfs-3g writes them into $STANDARD_INFORMATION and, keeping
// the two in step as it does on every update, into $FILE_NAME.
func setNTFSTimes(t *testing.T, path string, b, m, a, c time.Time) {
	t.Helper()
	var buf [32]byte
	for i, x := range []time.Time{b, m, a, c} {
		binary.LittleEndian.PutUint64(buf[8*i:], filetime(x))
	}
	if err := syscall.Setxattr(path, "system.ntfs_times", buf[:], 0); err != nil {
		t.Fatalf("setxattr system.ntfs_times %s: %v", path, err)
	}
}

// Content offsets of the four FILETIMEs in the two attributes.
var (
	siOff = map[byte]int{'B': 0, 'M': 8, 'C': 16, 'A': 24}
	fnOff = map[byte]int{'B': 8, 'M': 16, 'C': 24, 'A': 32} // after the parent reference
)

// editTimes overwrites times of MFT entry `entry` in an unmounted NTFS
// image: in its $STANDARD_INFORMATION (typ 0x10, as a timestomp tool's
// SetFileTime call does on Windows) or in every $FILE_NAME (typ 0x30, as
// the kernel does on a rename). The byte edit: find the FILE record
// (1024-byte aligned, record number at 0x2C), walk its attributes from the
// offset at 0x14 to the type, and write the FILETIMEs at the content
// offsets of siOff or fnOff. Both attributes are resident in the record's
// first sector, clear of the update-sequence bytes at 510, so no fixup
// changes; the test fails rather than write across them.
func editTimes(t *testing.T, img string, entry uint64, typ uint32, times map[byte]time.Time) {
	t.Helper()
	offs := siOff
	if typ == 0x30 {
		offs = fnOff
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	const rs = 1024
	edited := 0
	for off := 0; off+rs <= len(data) && edited == 0; off += rs {
		r := data[off : off+rs]
		if string(r[:4]) != "FILE" || uint64(binary.LittleEndian.Uint32(r[0x2C:])) != entry {
			continue
		}
		for p := int(binary.LittleEndian.Uint16(r[0x14:])); p+0x18 <= rs; {
			at, n := binary.LittleEndian.Uint32(r[p:]), int(binary.LittleEndian.Uint32(r[p+4:]))
			if at == 0xFFFFFFFF || n <= 0 {
				break
			}
			if at == typ {
				c := p + int(binary.LittleEndian.Uint16(r[p+0x14:]))
				if c+40 > 510 {
					t.Fatalf("entry %d: attribute 0x%x content at %d crosses the fixup bytes", entry, typ, c)
				}
				for k, v := range times {
					binary.LittleEndian.PutUint64(r[c+offs[k]:], filetime(v))
				}
				edited++
			}
			p += n
		}
	}
	if edited == 0 {
		t.Fatalf("no attribute 0x%x for MFT entry %d in %s", typ, entry, img)
	}
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// istatTimes reads TSK's istat report of an entry: attribute ("SI", "FN")
// to its Created, File Modified, MFT Modified and Accessed lines.
func istatTimes(t *testing.T, img string, entry uint64) map[string][4]time.Time {
	t.Helper()
	out := oracle.Output(t, "istat", img, fmt.Sprint(entry))
	res := map[string][4]time.Time{}
	cur := ""
	var v [4]time.Time
	idx := map[string]int{"Created:": 0, "File Modified:": 1, "MFT Modified:": 2, "Accessed:": 3}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "$STANDARD_INFORMATION Attribute Values"):
			cur, v = "SI", [4]time.Time{}
		case strings.HasPrefix(l, "$FILE_NAME Attribute Values"):
			cur, v = "FN", [4]time.Time{}
		case cur != "":
			k, val, ok := strings.Cut(l, "\t")
			i, known := idx[k]
			if !ok || !known {
				continue
			}
			ts, err := time.Parse("2006-01-02 15:04:05.000000000 (MST)", val)
			if err != nil {
				t.Fatalf("istat line %q: %v", l, err)
			}
			v[i] = ts
			if _, seen := res[cur]; !seen || i == 3 {
				res[cur] = v
			}
		}
	}
	return res
}

// The planted times: the update.exe, a careful stomp, two copies.
var (
	t2016    = time.Date(2016, 3, 1, 10, 0, 0, 0, time.UTC)
	updM     = time.Date(2017, 5, 4, 12, 34, 56, 123456700, time.UTC)
	updA     = time.Date(2017, 5, 4, 12, 35, 10, 765432100, time.UTC)
	dropFN   = time.Date(2017, 5, 4, 12, 40, 0, 111111100, time.UTC)
	stomp    = time.Date(2015, 1, 2, 3, 4, 5, 678901200, time.UTC)
	copyM    = time.Date(2015, 6, 1, 8, 0, 0, 123456700, time.UTC)
	extractM = time.Date(2015, 6, 1, 8, 0, 0, 0, time.UTC) // a zip's whole seconds
	futureM  = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // set forward, whole seconds
)

// TestTimestompPlantedNTFS builds a real NTFS volume with mkntfs and plants
// files with the times a Windows machine would give them: update.exe as in
// the issue ($SI B/M/A whole 2016 seconds; $FN M/A/C and $SI C 2017 with
// sub-seconds; $FN B carried back to 2016 by a rename, so SI<FN does not
// hold), dropper.dll stomped with sub-seconds below its $FN creation, a
// copy whose modification time went below its creation (with and without
// sub-seconds) and a benign file. TSK's istat is the oracle that the volume
// holds the planted times; the analyzer must flag exactly the stomped
// files and the whole-second copy (low), with every reason.
//
// Two ways to plant, each a subtest: through the ntfs-3g driver (FUSE),
// and, where FUSE is missing, with ntfscp and byte edits only.
func TestTimestompPlantedNTFS(t *testing.T) {
	oracle.Tool(t, "istat", "sleuthkit")
	newVolume := func(t *testing.T) (dir, img string) {
		dir = t.TempDir()
		img = filepath.Join(dir, "planted.ntfs")
		ntfstest.Format(t, img, 16<<20, "-L", "planted")
		return dir, img
	}
	t.Run("ntfs-3g", func(t *testing.T) {
		dir, img := newVolume(t)
		checkPlanted(t, img, plantFUSE(t, dir, img))
	})
	t.Run("ntfscp", func(t *testing.T) {
		dir, img := newVolume(t)
		checkPlanted(t, img, plantBytes(t, dir, img))
	})
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", name, args, err, out)
	}
}

// plantFUSE mounts the volume with ntfs-3g and writes the files through
// the driver: times with touch and ntfs-3g's system.ntfs_times attribute,
// copies with cp. ntfs-3g keeps $FN equal to $SI when times are set through
// system.ntfs_times, so the stomps themselves ($SI diverging from $FN) are
// byte edits after unmounting, as editTimes documents.
func plantFUSE(t *testing.T, dir, img string) map[string]uint64 {
	// Mount skips the test where FUSE is missing; the ntfscp subtest
	// plants without it.
	mnt, unmount := ntfstest.Mount(t, img)
	write := func(name, body string) string {
		p := filepath.Join(mnt, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	upd := write("update.exe", "MZ planted")
	setNTFSTimes(t, upd, t2016, updM, updA, updA)
	drop := write("dropper.dll", "MZ dll")
	setNTFSTimes(t, drop, dropFN, dropFN.Add(2*time.Second), dropFN.Add(3*time.Second), dropFN.Add(3*time.Second))
	// touch sets $SI M and A only and leaves $FN with the creation's
	// times, as a copy on Windows does.
	src := filepath.Join(dir, "source.txt")
	if err := os.WriteFile(src, []byte("minutes of the count\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(mnt, "copied.txt")
	runTool(t, "cp", src, copied)
	runTool(t, "touch", "-d", copyM.Format("2006-01-02 15:04:05.0000000Z07:00"), copied)
	extracted := filepath.Join(mnt, "extracted.txt")
	runTool(t, "cp", src, extracted)
	runTool(t, "touch", "-d", extractM.Format("2006-01-02 15:04:05Z07:00"), extracted)
	// Set forward with one-second precision: no copy explains it.
	future := write("future.txt", "scheduled")
	runTool(t, "touch", "-d", futureM.Format("2006-01-02 15:04:05Z07:00"), future)
	benign := write("benign.txt", "nothing to see")
	if err := os.Mkdir(filepath.Join(mnt, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("reports/tally.csv", "a,b\n")

	entries := map[string]uint64{}
	for _, p := range []string{upd, drop, copied, extracted, future, benign} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		entries[filepath.Base(p)] = st.Sys().(*syscall.Stat_t).Ino // ntfs-3g's inode is the MFT entry
	}
	unmount()
	editTimes(t, img, entries["update.exe"], 0x10, map[byte]time.Time{'B': t2016, 'M': t2016, 'A': t2016})
	editTimes(t, img, entries["dropper.dll"], 0x10, map[byte]time.Time{'B': stomp, 'M': stomp, 'A': stomp.Add(time.Hour)})
	return entries
}

// plantBytes needs no FUSE: ntfscp (ntfs-3g's library, no mount) writes
// the files with the current time in both attributes, and byte edits
// (editTimes) set what the driver and the stomps would have.
func plantBytes(t *testing.T, dir, img string) map[string]uint64 {
	ntfscp := oracle.Tool(t, "ntfscp", "ntfs-3g")
	ifind := oracle.Tool(t, "ifind", "sleuthkit")
	entries := map[string]uint64{}
	for _, name := range []string{"update.exe", "dropper.dll", "copied.txt", "extracted.txt", "future.txt", "benign.txt"} {
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		runTool(t, ntfscp, "-q", img, src, name)
		out, err := exec.Command(ifind, "-n", name, img).Output()
		if err != nil {
			t.Fatalf("ifind -n %s: %v", name, err)
		}
		var e uint64
		if _, err := fmt.Sscan(string(out), &e); err != nil {
			t.Fatalf("ifind -n %s: %q", name, out)
		}
		entries[name] = e
	}
	si, fn := uint32(0x10), uint32(0x30)
	editTimes(t, img, entries["update.exe"], fn, map[byte]time.Time{'B': t2016, 'M': updM, 'A': updA, 'C': updA})
	editTimes(t, img, entries["update.exe"], si, map[byte]time.Time{'B': t2016, 'M': t2016, 'A': t2016})
	editTimes(t, img, entries["dropper.dll"], fn, map[byte]time.Time{'B': dropFN, 'M': dropFN.Add(2 * time.Second), 'A': dropFN.Add(3 * time.Second), 'C': dropFN.Add(3 * time.Second)})
	editTimes(t, img, entries["dropper.dll"], si, map[byte]time.Time{'B': stomp, 'M': stomp, 'A': stomp.Add(time.Hour)})
	editTimes(t, img, entries["copied.txt"], si, map[byte]time.Time{'M': copyM, 'A': copyM})
	editTimes(t, img, entries["extracted.txt"], si, map[byte]time.Time{'M': extractM, 'A': extractM})
	editTimes(t, img, entries["future.txt"], si, map[byte]time.Time{'M': futureM, 'A': futureM})
	return entries
}

// checkPlanted checks the planted volume with istat, then hunts it.
func checkPlanted(t *testing.T, img string, entries map[string]uint64) {
	t.Helper()
	u := istatTimes(t, img, entries["update.exe"])
	if u["SI"][0] != t2016 || u["SI"][1] != t2016 || u["SI"][3] != t2016 || u["SI"][2].Nanosecond() == 0 {
		t.Fatalf("istat update.exe $SI = %v, want B/M/A %v and C with sub-seconds", u["SI"], t2016)
	}
	if u["FN"][0] != t2016 || u["FN"][1] != updM || u["FN"][3] != updA {
		t.Fatalf("istat update.exe $FN = %v", u["FN"])
	}
	d := istatTimes(t, img, entries["dropper.dll"])
	if d["SI"][0] != stomp || d["FN"][0] != dropFN {
		t.Fatalf("istat dropper.dll $SI B %v $FN B %v, want %v and %v", d["SI"][0], d["FN"][0], stomp, dropFN)
	}
	for n, m := range map[string]time.Time{"copied.txt": copyM, "extracted.txt": extractM} {
		c := istatTimes(t, img, entries[n])
		if c["SI"][1] != m || !c["SI"][1].Before(c["SI"][0]) || c["SI"][0] != c["FN"][0] || c["SI"][0].Nanosecond() == 0 {
			t.Fatalf("istat %s: want $SI M %v before $SI B, $SI B = $FN B with sub-seconds; got SI %v FN %v", n, m, c["SI"], c["FN"])
		}
	}

	st := buildDiskCase(t, img)
	byName := func(fs []Finding) map[string]Finding {
		m := map[string]Finding{}
		for _, f := range byRule(fs, "JEJAK-TIME-03") {
			name := filepath.Base(strings.TrimSuffix(f.Key, " (deleted)"))
			if i := strings.Index(name, " "); i > 0 {
				name = name[:i]
			}
			if _, dup := m[name]; dup {
				t.Errorf("two findings for %s: one per file expected", name)
			}
			m[name] = f
		}
		return m
	}
	cut := mustTime(t, "2017-01-01T00:00:00Z")
	got := byName(hunt(t, st, Config{After: cut}))

	type want struct {
		sev      Severity
		contains []string
		absent   []string
	}
	wants := map[string]want{
		"update.exe": {High, []string{
			"uSecZeros: $SI B (created) 2016-03-01T10:00:00Z, $SI M (modified) 2016-03-01T10:00:00Z, $SI A (accessed) 2016-03-01T10:00:00Z with zero sub-seconds",
			"$FN M", "$SI C",
			"$SI modification 2016-03-01T10:00:00Z (zero sub-seconds) is",
			"before $FN modification 2017-05-04T12:34:56.1234567Z",
		}, []string{"SI<FN", "Copied"}},
		"dropper.dll": {High, []string{
			"SI<FN: $SI creation 2015-01-02T03:04:05.6789012Z", "before $FN creation 2017-05-04T12:40:00.1111111Z",
		}, []string{"uSecZeros", "zero sub-seconds"}},
		"extracted.txt": {Low, []string{
			"uSecZeros: $SI M (modified) 2015-06-01T08:00:00Z, $SI A (accessed) 2015-06-01T08:00:00Z",
			"Copied: $SI modification 2015-06-01T08:00:00.0000000Z is before $SI creation",
		}, []string{"SI<FN"}},
		"future.txt": {Medium, []string{
			"uSecZeros: $SI M (modified) 2030-01-01T00:00:00Z, $SI A (accessed) 2030-01-01T00:00:00Z with zero sub-seconds",
		}, []string{"SI<FN", "Copied", "before $FN modification"}},
	}
	for name, f := range got {
		t.Logf("%s %s: %s", f.Severity, name, f.Explanation)
	}
	for name, w := range wants {
		f, ok := got[name]
		if !ok {
			t.Errorf("%s not flagged; findings: %v", name, got)
			continue
		}
		if f.Severity != w.sev {
			t.Errorf("%s: severity %s, want %s (%s)", name, f.Severity, w.sev, f.Explanation)
		}
		for _, s := range w.contains {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q:\n%s", name, s, f.Explanation)
			}
		}
		for _, s := range w.absent {
			if strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation has %q:\n%s", name, s, f.Explanation)
			}
		}
		// The rows: the events of the entry's four $SI times and of the
		// four $FN times compared, each event once. An event is every
		// time of its attribute that has its timestamp (its macb letters,
		// in the message after the attribute), so the rows' letters are
		// the four times of each attribute, each once.
		ids := map[string]bool{}
		var si, fn string
		for _, ev := range f.Events {
			if ids[ev.ID] {
				t.Errorf("%s: row %s twice", name, ev.Message)
			}
			ids[ev.ID] = true
			fields := strings.Fields(ev.Message)
			if len(fields) < 2 || !strings.Contains(ev.Message, name) {
				t.Errorf("%s: row %q", name, ev.Message)
				continue
			}
			switch fields[0] {
			case attrSI:
				si += strings.ReplaceAll(fields[1], ".", "")
			case attrFN:
				fn += strings.ReplaceAll(fields[1], ".", "")
			}
		}
		for attr, letters := range map[string]string{attrSI: si, attrFN: fn} {
			if len(letters) != 4 || !strings.ContainsRune(letters, 'm') || !strings.ContainsRune(letters, 'a') ||
				!strings.ContainsRune(letters, 'c') || !strings.ContainsRune(letters, 'b') {
				t.Errorf("%s: %s rows give times %q, want m, a, c and b once each", name, attr, letters)
			}
		}
	}
	for name, f := range got {
		if _, ok := wants[name]; !ok {
			t.Errorf("false finding on %s: %s", name, f.Explanation)
		}
	}

	// A cut-off after everything on the volume (ntfs-3g set each file's
	// $SI C to the time of planting): the touched creations stay, ranked
	// low and saying so; the whole-second copy is dropped.
	later := byName(hunt(t, st, Config{After: time.Now().Add(time.Hour)}))
	for _, name := range []string{"update.exe", "dropper.dll"} {
		f, ok := later[name]
		if !ok || f.Severity != Low || !strings.Contains(f.Explanation, "before the cut-off") {
			t.Errorf("cut-off after the stomp: %s = %+v, want low, before the cut-off", name, f)
		}
	}
	if f, ok := later["extracted.txt"]; ok {
		t.Errorf("whole-second copy before the cut-off reported: %s", f.Explanation)
	}
}

// TestTimestompNoFalseFindings runs the analyzer over NTFS volumes written
// by other people's tools and never stomped: Debian's forensics-samples
// images (made on Linux with mkntfs and ntfs-3g), dfir_ntfs's test volume
// and orphaned $MFT. With no cut-off every entry counts,
// and none may be flagged. mkntfs writes its metadata files and root
// directory with whole-second times in both attributes, and the driver
// later moves only $SI C: that is a creator's one-second clock, not a hand
// set time (see check): counting $SI C alone as the kernel's sub-seconds
// would flag the root folder of both forensics-samples volumes.
func TestTimestompNoFalseFindings(t *testing.T) {
	xz := oracle.Tool(t, "xz", "xz-utils")
	dir := t.TempDir()
	unpack := func(name, src string, cmd ...string) string {
		if _, err := os.Stat(src); err != nil {
			t.Logf("skipping %s: %v", name, err)
			return ""
		}
		dst := filepath.Join(dir, name)
		f, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command(cmd[0], append(cmd[1:], src)...)
		c.Stdout = f
		if err := c.Run(); err != nil {
			t.Fatalf("%v %s: %v", cmd, src, err)
		}
		f.Close()
		return dst
	}
	var images []string
	for _, s := range []string{"ntfs", "multiple"} {
		if p := unpack("fs."+s, filepath.Join(oracle.SamplesDir, "fs."+s+".xz"), xz, "-dc"); p != "" {
			images = append(images, p)
		}
	}
	if corpus, err := parsertest.CorpusDir(); err == nil {
		// GPL-3.0 (dfir_ntfs): read from the shared corpus, never copied in.
		if p := unpack("ntfs_index.raw", filepath.Join(corpus, "more/disk/ntfs/ntfs_index.raw.gz"), "gzip", "-dc"); p != "" {
			images = append(images, p)
		}
	}
	if len(images) == 0 {
		t.Skip("no NTFS image: apt-get install -y forensics-samples-ntfs forensics-samples-multiple, or the shared corpus")
	}
	for _, c := range []struct {
		name string
		st   *sqlite.Store
	}{
		{"images", buildDiskCase(t, images...)},
		{"orphan.mft", buildCase(t, "more/disk/mft/orphan.mft")},
	} {
		// Not a vacuous pass: the entries with both attributes the checks
		// compared.
		entries := map[string]bool{}
		err := c.st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
			if d := ev.Jejak.Data; d["attribute"] == attrFN && ev.File != nil {
				entries[fileKey(ev.Jejak.Provenance)+"|"+d["mft_entry"]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 20 {
			t.Errorf("%s: only %d MFT entries with $FN on the timeline", c.name, len(entries))
		}
		fs := byRule(hunt(t, c.st, Config{}), "JEJAK-TIME-03")
		t.Logf("%s: %d MFT entries checked, %d timestomp findings", c.name, len(entries), len(fs))
		for _, f := range fs {
			t.Errorf("%s: false timestomp finding: %s", c.name, f.Explanation)
		}
	}
}
