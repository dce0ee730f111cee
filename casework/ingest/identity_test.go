package ingest_test

// Two records under one name (a tar member appended with tar -r, a zip
// member renamed onto another, a deleted and a live file at one path) must
// each keep their events: the event ID hashes the record's identity in its
// container (Provenance.Identity), not only its path. Containers are built
// here by the real tools; each copy's event count is checked against the
// copy's own line count, read back by an independent reader (GNU tar
// --occurrence, Python's zipfile, icat), and the list of copies against
// the tool's own listing (tar -t, unzip -Z1, fls).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// authCopies cuts a real sshd log (crowdsec hub test data, MIT) into
// copies of different lengths, so each copy's events can be told by count.
func authCopies(t *testing.T, sizes ...int) [][]byte {
	t.Helper()
	lines := bytes.SplitAfter(readCorpus(t, "more/linux/auth/crowdsec_sshd-logs.log"), []byte("\n"))
	var out [][]byte
	for _, n := range sizes {
		if n > len(lines) {
			t.Fatalf("corpus log has %d lines, want %d", len(lines), n)
		}
		out = append(out, bytes.Join(lines[:n], nil))
	}
	return out
}

// ingestEvidence ingests one evidence path as 'jejak ingest' opens it.
func ingestEvidence(t *testing.T, path string) ([]*timeline.Event, []timeline.Warning, ingest.Summary) {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	w, err := disk.OpenEvidence(ctx, path, jfs.Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warns []timeline.Warning
	sink := &memSink{}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: tmp, Workers: 1,
		Warn: func(w timeline.Warning) { mu.Lock(); warns = append(warns, w); mu.Unlock() }},
		[]ingest.Item{{SHA256: "e", Name: filepath.Base(path), Walker: w}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	return sink.events, warns, sum
}

// checkIDs fails unless every event has its own ID and a second ingest of
// the same evidence gives exactly the same IDs (nothing new to add).
func checkIDs(t *testing.T, path string, evs []*timeline.Event) {
	t.Helper()
	ids := map[string]*timeline.Event{}
	for _, e := range evs {
		if o := ids[e.Jejak.ID]; o != nil {
			t.Errorf("ID %s shared by %s %q identity %q record %d and %s %q identity %q record %d", e.Jejak.ID,
				o.Jejak.Provenance.Chain, o.Jejak.Provenance.Path, o.Jejak.Provenance.Identity, o.Jejak.Provenance.Record,
				e.Jejak.Provenance.Chain, e.Jejak.Provenance.Path, e.Jejak.Provenance.Identity, e.Jejak.Provenance.Record)
		}
		ids[e.Jejak.ID] = e
	}
	again, _, _ := ingestEvidence(t, path)
	if len(again) != len(evs) {
		t.Errorf("second ingest: %d events, first %d", len(again), len(evs))
	}
	for _, e := range again {
		if ids[e.Jejak.ID] == nil {
			t.Errorf("second ingest made a new ID %s (%q %q): IDs are not deterministic", e.Jejak.ID, e.Jejak.Provenance.Path, e.Jejak.Provenance.Identity)
		}
	}
}

// copiesOf counts the parsed (not file-time) events of each identity under
// path, as a sorted list of counts, and returns the identities.
func copiesOf(evs []*timeline.Event, path string) ([]int, []string) {
	n := map[string]int{}
	for _, e := range evs {
		p := e.Jejak.Provenance
		if p.Path == path && p.Parser != "filestat" {
			n[p.Identity]++
		}
	}
	var counts []int
	var ids []string
	for id, c := range n {
		counts = append(counts, c)
		ids = append(ids, id)
	}
	sort.Ints(counts)
	sort.Strings(ids)
	return counts, ids
}

// lineCounts is the expected list: one count per copy.
func lineCounts(copies ...[]byte) []int {
	var c []int
	for _, b := range copies {
		c = append(c, nonBlankLines(b))
	}
	sort.Ints(c)
	return c
}

func runIn(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	oracle.Tool(t, name, name)
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A tar holding var/log/auth.log four times: created, appended twice with
// tar -r (the second time as ./var/log/auth.log) and once as
// var//log/auth.log. All four clean to one path; all four keep their events.
// Each tar format GNU tar writes: posix puts a PAX header before each
// member, which the identity's offset (the content's) steps over.
func TestTarDuplicateMembers(t *testing.T) {
	for _, format := range []string{"gnu", "posix", "ustar"} {
		t.Run(format, func(t *testing.T) { tarDuplicateMembers(t, format) })
	}
}

func tarDuplicateMembers(t *testing.T, format string) {
	copies := authCopies(t, 5, 9, 2, 14)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	ev := filepath.Join(dir, "logs.tar")
	names := []string{"var/log/auth.log", "var/log/auth.log", "./var/log/auth.log", "var//log/auth.log"}
	for i, name := range names {
		writeFile(t, filepath.Join(src, "var/log/auth.log"), copies[i])
		op := "-rf"
		if i == 0 {
			op = "-cf"
		}
		runIn(t, src, "tar", "--format="+format, op, ev, name)
	}
	// The oracle: tar's own listing, and each copy read back by GNU tar.
	listed := strings.Fields(string(runIn(t, dir, "tar", "-tf", ev)))
	var fromTar [][]byte
	seen := map[string]int{}
	for _, name := range listed {
		if filepath.Clean(name) != "var/log/auth.log" {
			continue
		}
		seen[name]++
		fromTar = append(fromTar, runIn(t, dir, "tar", "-xOf", ev, fmt.Sprintf("--occurrence=%d", seen[name]), name))
	}
	if len(fromTar) != len(names) {
		t.Fatalf("tar -t lists %d copies of var/log/auth.log (%q), want %d", len(fromTar), listed, len(names))
	}
	evs, _, sum := ingestEvidence(t, ev)
	got, ids := copiesOf(evs, "var/log/auth.log")
	if want := lineCounts(fromTar...); !slices.Equal(got, want) {
		t.Errorf("events per copy %v, want %v (each copy's lines, as tar extracts it); identities %q", got, want, ids)
	}
	// Each identity names the member's place in the listing and its
	// content's offset, as Python's tarfile reads them.
	wantIDs := pyLines(t, dir, `import os, sys, tarfile
for n, m in enumerate(tarfile.open(sys.argv[1]).getmembers(), 1):
    if os.path.normpath(m.name) == "var/log/auth.log":
        print("tar#%d@%d" % (n, m.offset_data))`, ev)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("identities %q, want %q (tarfile's member numbers and data offsets)", ids, wantIDs)
	}
	if sum.Duplicates != 0 || sum.Inserted != sum.Events {
		t.Errorf("summary: %d events, %d inserted, %d duplicates", sum.Events, sum.Inserted, sum.Duplicates)
	}
	checkIDs(t, ev, evs)
}

// A zip with three members named var/log/auth.log, one of them
// ./var/log/auth.log: written by zip under other names and renamed with
// zipnote, which rewrites the local and central headers.
func TestZipDuplicateMembers(t *testing.T) {
	oracle.Tool(t, "zipnote", "zip")
	py := oracle.Tool(t, "python3", "python3")
	copies := authCopies(t, 4, 11, 7)
	dir := t.TempDir()
	ev := filepath.Join(dir, "logs.zip")
	tmpNames := []string{"var/log/auth.log", "xar/log/auth.log", "yar/log/auth.log"}
	for i, name := range tmpNames {
		writeFile(t, filepath.Join(dir, "src", name), copies[i])
		runIn(t, filepath.Join(dir, "src"), "zip", "-q", "-X", ev, name)
	}
	notes := string(runIn(t, dir, "zipnote", ev))
	notes = strings.Replace(notes, "@ xar/log/auth.log\n", "@ xar/log/auth.log\n@=var/log/auth.log\n", 1)
	notes = strings.Replace(notes, "@ yar/log/auth.log\n", "@ yar/log/auth.log\n@=./var/log/auth.log\n", 1)
	cmd := exec.Command("zipnote", "-w", ev)
	cmd.Stdin = strings.NewReader(notes)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zipnote -w: %v\n%s", err, out)
	}
	listed := strings.Split(strings.TrimSpace(string(runIn(t, dir, "unzip", "-Z1", ev))), "\n")
	if want := []string{"var/log/auth.log", "var/log/auth.log", "./var/log/auth.log"}; !slices.Equal(listed, want) {
		t.Fatalf("unzip -Z1 lists %q, want %q", listed, want)
	}
	// Each member's line count as Python's zipfile reads it (by directory
	// entry, so duplicates are no problem for it).
	out := runIn(t, dir, py, "-c", `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for i in z.infolist():
    print(len([l for l in z.read(i).split(b"\n") if l.strip()]))`, ev)
	var want []int
	for _, f := range strings.Fields(string(out)) {
		var n int
		fmt.Sscan(f, &n)
		want = append(want, n)
	}
	sort.Ints(want)
	evs, _, _ := ingestEvidence(t, ev)
	got, ids := copiesOf(evs, "var/log/auth.log")
	if !slices.Equal(got, want) {
		t.Errorf("events per copy %v, want %v (zipfile's line counts); identities %q", got, want, ids)
	}
	// Each identity names the member's place in the central directory and
	// its content's offset (after its local header), as zipfile reads them.
	wantIDs := pyLines(t, dir, `import os, struct, sys, zipfile
d = open(sys.argv[1], "rb").read()
for n, i in enumerate(zipfile.ZipFile(sys.argv[1]).infolist(), 1):
    if os.path.normpath(i.filename) == "var/log/auth.log":
        nl, xl = struct.unpack("<HH", d[i.header_offset+26:i.header_offset+30])
        print("zip#%d@%d" % (n, i.header_offset + 30 + nl + xl))`, ev)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("identities %q, want %q (zipfile's member numbers and data offsets)", ids, wantIDs)
	}
	checkIDs(t, ev, evs)
}

// NTFS: a file deleted and another created at the same path, as an editor
// that saves to a temporary name does (write auth.tmp, delete auth.log,
// rename auth.tmp to auth.log). Both MFT entries keep the name; fls lists
// both, and both keep their events. The live one also gets a hard link,
// whose name gets the content's events too. The volume is made with
// mkntfs and written through ntfs-3g (FUSE).
func TestNTFSDeletedAndLiveAtOnePath(t *testing.T) {
	oracle.Tool(t, "fls", "sleuthkit")
	copies := authCopies(t, 6, 3)
	img := filepath.Join(t.TempDir(), "ntfs.img")
	ntfstest.Format(t, img, 8<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	logs := filepath.Join(mnt, "var", "log")
	writeFile(t, filepath.Join(logs, "auth.log"), copies[0])
	writeFile(t, filepath.Join(logs, "auth.tmp"), copies[1])
	if err := os.Remove(filepath.Join(logs, "auth.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(logs, "auth.tmp"), filepath.Join(logs, "auth.log")); err != nil {
		t.Fatal(err)
	}
	// A hard link: a second $FILE_NAME in the live entry.
	if err := os.Link(filepath.Join(logs, "auth.log"), filepath.Join(mnt, "hard.log")); err != nil {
		t.Fatal(err)
	}
	unmount()
	if t.Failed() {
		return
	}
	// fls lists the path twice, one of them deleted; icat reads each
	// entry's content as the oracle for its line count.
	var want, wantHard []int
	var entries []string
	for _, l := range strings.Split(string(oracle.Output(t, "fls", "-r", "-p", img)), "\n") {
		meta, name, ok := strings.Cut(l, ":\t")
		if !ok || (name != "var/log/auth.log" && name != "hard.log") {
			continue
		}
		f := strings.Fields(meta)
		entry := f[len(f)-1]
		n := nonBlankLines(oracle.Output(t, "icat", img, entry))
		if name == "hard.log" {
			wantHard = append(wantHard, n)
			continue
		}
		entries = append(entries, entry)
		want = append(want, n)
	}
	if len(entries) != 2 || len(wantHard) != 1 {
		t.Fatalf("fls lists var/log/auth.log %d times (%q) and hard.log %d times, want a deleted and a live entry, and the link", len(entries), entries, len(wantHard))
	}
	sort.Ints(want)
	evs, _, _ := ingestEvidence(t, img)
	got, ids := copiesOf(evs, "var/log/auth.log")
	if !slices.Equal(got, want) {
		t.Errorf("events per copy %v, want %v (icat of the entries fls lists: %q); identities %q", got, want, entries, ids)
	}
	// Each identity names the MFT entry fls lists ("66-128-2" is entry 66,
	// attribute type 128, id 2; the identity adds the sequence number).
	var gotEntries, wantEntries []string
	for _, id := range ids {
		e, _, _ := strings.Cut(strings.TrimPrefix(id, "mft:"), "-")
		gotEntries = append(gotEntries, e)
	}
	for _, e := range entries {
		n, _, _ := strings.Cut(e, "-")
		wantEntries = append(wantEntries, n)
	}
	slices.Sort(gotEntries)
	slices.Sort(wantEntries)
	if !slices.Equal(gotEntries, wantEntries) {
		t.Errorf("identities %q name MFT entries %q, fls lists %q", ids, gotEntries, wantEntries)
	}
	// Hard links are names of one entry: each name gets the content's
	// events, as each is a file fls lists.
	if got, _ := copiesOf(evs, "hard.log"); !slices.Equal(got, wantHard) {
		t.Errorf("hard.log: events %v, want %v (icat of its entry)", got, wantHard)
	}
	checkIDs(t, img, evs)
}

// ext4: a deleted name and a live one at var/log/auth.log (the deleted
// name kept in the directory block's slack, pointing at an inode another
// name keeps alive), plus a hard link. Hard links are two names of one
// inode: each name is a file as fls lists it, and each gets the content's
// events (under its own path). Built with mke2fs and debugfs.
func TestExt4DeletedAndLiveAtOnePath(t *testing.T) {
	oracle.Tool(t, "mke2fs", "e2fsprogs")
	oracle.Tool(t, "debugfs", "e2fsprogs")
	oracle.Tool(t, "fls", "sleuthkit")
	copies := authCopies(t, 8, 3)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), copies[0])
	writeFile(t, filepath.Join(dir, "b.txt"), copies[1])
	writeFile(t, filepath.Join(dir, "p.txt"), []byte("x\n"))
	img := filepath.Join(dir, "ext4.img")
	runIn(t, dir, "mke2fs", "-q", "-t", "ext4", img, "4M")
	// The deleted auth.log must survive in the slack: its predecessor
	// (a longer name) is deleted after it, and the new auth.log entry
	// takes only the predecessor's place.
	script := `mkdir var
mkdir var/log
mkdir stage
write p.txt var/log/pppppppppppppppppppp.log
write a.txt var/log/auth.log
write b.txt stage/b
ln var/log/auth.log hard.log
sif var/log/auth.log links_count 2
rm var/log/auth.log
rm var/log/pppppppppppppppppppp.log
ln stage/b var/log/auth.log
unlink stage/b
`
	cmd := exec.Command("debugfs", "-w", "-f", "-", img)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	want := map[string][]int{}
	inodes := map[string][]string{} // "inode:N", with "+deleted" for a deleted name
	var rows []string
	for _, l := range strings.Split(string(oracle.Output(t, "fls", "-r", "-p", img)), "\n") {
		meta, name, ok := strings.Cut(l, ":\t")
		if !ok || (name != "var/log/auth.log" && name != "hard.log") {
			continue
		}
		rows = append(rows, l)
		f := strings.Fields(meta)
		inode, _, _ := strings.Cut(f[len(f)-1], "(")
		want[name] = append(want[name], nonBlankLines(oracle.Output(t, "icat", img, inode)))
		k := "inode:" + inode
		if strings.Contains(meta, "*") {
			k += "+deleted"
		}
		inodes[name] = append(inodes[name], k)
	}
	if len(want["var/log/auth.log"]) != 2 || len(want["hard.log"]) != 1 {
		t.Fatalf("fls rows %q: want var/log/auth.log deleted and live, and hard.log", rows)
	}
	evs, _, _ := ingestEvidence(t, img)
	for name, w := range want {
		sort.Ints(w)
		got, ids := copiesOf(evs, name)
		if !slices.Equal(got, w) {
			t.Errorf("%s: events per copy %v, want %v (icat of each inode fls lists: %q); identities %q", name, got, w, rows, ids)
		}
		// The identity is the inode fls names, and a deleted name adds
		// its directory entry's place.
		var gotInodes []string
		for _, id := range ids {
			ino, dirent, _ := strings.Cut(id, " dirent@")
			if dirent != "" {
				ino += "+deleted"
			}
			gotInodes = append(gotInodes, ino)
		}
		slices.Sort(gotInodes)
		slices.Sort(inodes[name])
		if !slices.Equal(gotInodes, inodes[name]) {
			t.Errorf("%s: identities %q, fls lists %q", name, ids, inodes[name])
		}
	}
	checkIDs(t, img, evs)
}

// Point 8: bytes after a tar's end-of-archive marker are reported with
// their offset; another tar joined after the first (cat a.tar b.tar, which
// GNU tar reads with --ignore-zeros) is walked on, with a warning.
func TestTarTrailingData(t *testing.T) {
	copies := authCopies(t, 3, 5)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src/a.log"), copies[0])
	writeFile(t, filepath.Join(dir, "src/b.log"), copies[1])
	runIn(t, filepath.Join(dir, "src"), "tar", "-cf", filepath.Join(dir, "a.tar"), "a.log")
	runIn(t, filepath.Join(dir, "src"), "tar", "-cf", filepath.Join(dir, "b.tar"), "b.log")
	a, err := os.ReadFile(filepath.Join(dir, "a.tar"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "b.tar"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("garbage", func(t *testing.T) {
		ev := filepath.Join(dir, "garbage.tar")
		writeFile(t, ev, append(slices.Clone(a), []byte("\x00\x00not a tar, appended after the end\n")...))
		evs, warns, _ := ingestEvidence(t, ev)
		if got, _ := copiesOf(evs, "a.log"); !slices.Equal(got, lineCounts(copies[0])) {
			t.Errorf("a.log events %v, want %v", got, lineCounts(copies[0]))
		}
		w := trailing(warns)
		if len(w) != 1 || w[0].Offset != int64(len(a)+2) {
			t.Fatalf("want one trailing-data warning at offset %d (the tar is %d bytes), got %+v", len(a)+2, len(a), w)
		}
	})
	t.Run("joined", func(t *testing.T) {
		ev := filepath.Join(dir, "joined.tar")
		writeFile(t, ev, append(slices.Clone(a), b...))
		listed := strings.Fields(string(runIn(t, dir, "tar", "--ignore-zeros", "-tf", ev)))
		if !slices.Equal(listed, []string{"a.log", "b.log"}) {
			t.Fatalf("tar -i -t lists %q", listed)
		}
		evs, warns, _ := ingestEvidence(t, ev)
		for i, name := range listed {
			if got, _ := copiesOf(evs, name); !slices.Equal(got, lineCounts(copies[i])) {
				t.Errorf("%s: events %v, want %v", name, got, lineCounts(copies[i]))
			}
		}
		w := trailing(warns)
		if len(w) != 1 || w[0].Offset != int64(len(a)) {
			t.Fatalf("want one warning at offset %d, where the second tar starts, got %+v", len(a), w)
		}
		checkIDs(t, ev, evs)
	})
}

// Point 8: a member whose central directory record was cut out of a real
// zip (a Python byte edit) is recovered from its local header, tagged
// deleted, and reported with the header's offset. Both kinds zip writes:
// to a file (sizes in the local headers) and to a pipe (sizes in data
// descriptors after the content).
func TestZipMemberMissingFromDirectory(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		for _, cut := range []string{"a.log", "b.log", "c.log"} {
			t.Run(fmt.Sprintf("streamed=%v/cut=%s", streamed, cut), func(t *testing.T) { zipMemberMissing(t, streamed, cut) })
		}
	}
}

func zipMemberMissing(t *testing.T, streamed bool, cut string) {
	py := oracle.Tool(t, "python3", "python3")
	copies := authCopies(t, 3, 6, 4)
	dir := t.TempDir()
	names := []string{"a.log", "b.log", "c.log"}
	ev := filepath.Join(dir, "logs.zip")
	for i, n := range names {
		writeFile(t, filepath.Join(dir, "src", n), copies[i])
	}
	if streamed {
		// Output is a pipe: zip cannot seek back and writes descriptors.
		writeFile(t, ev, runIn(t, filepath.Join(dir, "src"), "zip", "-q", "-X", "-", "a.log", "b.log", "c.log"))
	} else {
		runIn(t, filepath.Join(dir, "src"), "zip", "-q", "-X", ev, "a.log", "b.log", "c.log")
	}
	if flags := string(runIn(t, dir, py, "-c", "import sys, zipfile; print(sorted({i.flag_bits & 8 for i in zipfile.ZipFile(sys.argv[1]).infolist()}))", ev)); (flags == "[8]\n") != streamed {
		t.Fatalf("data descriptor flags %q, streamed %v", flags, streamed)
	}
	// Drop cut's central directory record; fix the end record's counts,
	// size and offset. Prints cut's local header offset.
	out := runIn(t, dir, py, "-c", `import struct, sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
e = d.rfind(b"PK\x05\x06")
n, size, off = struct.unpack("<HII", d[e+10:e+20])
cd, pos, keep, hdr = d[off:off+size], 0, b"", None
for i in range(n):
    nl, xl, cl = struct.unpack("<HHH", cd[pos+28:pos+34])
    end = pos + 46 + nl + xl + cl
    if cd[pos+46:pos+46+nl] == sys.argv[2].encode():
        hdr = struct.unpack("<I", cd[pos+42:pos+46])[0]
    else:
        keep += cd[pos:end]
    pos = end
tail = bytearray(d[e:])
struct.pack_into("<HHII", tail, 8, n-1, n-1, len(keep), off)
open(p, "wb").write(d[:off] + keep + tail)
print(hdr)`, ev, cut)
	var hdr int64
	if _, err := fmt.Sscan(string(out), &hdr); err != nil {
		t.Fatalf("python: %q", out)
	}
	left := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == cut })
	if listed := strings.Fields(string(runIn(t, dir, "unzip", "-Z1", ev))); !slices.Equal(listed, left) {
		t.Fatalf("after the edit unzip -Z1 lists %q, want %q", listed, left)
	}
	evs, warns, _ := ingestEvidence(t, ev)
	for i, n := range names {
		got, ids := copiesOf(evs, n)
		if !slices.Equal(got, lineCounts(copies[i])) {
			t.Errorf("%s: events %v, want %v; identities %q", n, got, lineCounts(copies[i]), ids)
		}
	}
	for _, e := range evs {
		p := e.Jejak.Provenance
		if p.Parser == "filestat" {
			continue
		}
		deleted := slices.Contains(e.Jejak.Tags, "deleted")
		if (p.Path == cut) != deleted || (p.Path == cut) != strings.HasPrefix(p.Identity, "zip-local@") {
			t.Fatalf("%s: tags %q identity %q: only %s's events are recovered and tagged deleted", p.Path, e.Jejak.Tags, p.Identity, cut)
		}
	}
	w := trailing(warns)
	if len(w) != 1 || w[0].Offset != hdr || w[0].Path != cut {
		t.Fatalf("want one warning for %s at its local header offset %d, got %+v", cut, hdr, w)
	}
	checkIDs(t, ev, evs)
}

// pyLines runs a Python script and returns its output lines, sorted.
func pyLines(t *testing.T, dir, script string, args ...string) []string {
	t.Helper()
	py := oracle.Tool(t, "python3", "python3")
	out := strings.Fields(string(runIn(t, dir, py, append([]string{"-c", script}, args...)...)))
	sort.Strings(out)
	return out
}

// trailing keeps the container warnings about data outside the container's
// structure.
func trailing(ws []timeline.Warning) []timeline.Warning {
	var out []timeline.Warning
	for _, w := range ws {
		if w.Kind == timeline.WarnContainer && strings.Contains(w.Message, jfs.ErrTrailingData.Error()) {
			out = append(out, w)
		}
	}
	return out
}

// A listed member whose local header is damaged (its signature zeroed) is
// reported where it lies, and the reading of local headers resumes after
// it: a member cut from the directory further on is still recovered.
func TestZipUnlistedAfterDamage(t *testing.T) {
	py := oracle.Tool(t, "python3", "python3")
	copies := authCopies(t, 3, 6, 4)
	dir := t.TempDir()
	ev := filepath.Join(dir, "logs.zip")
	for i, n := range []string{"a.log", "b.log", "c.log"} {
		writeFile(t, filepath.Join(dir, "src", n), copies[i])
	}
	runIn(t, filepath.Join(dir, "src"), "zip", "-q", "-X", ev, "a.log", "b.log", "c.log")
	out := runIn(t, dir, py, "-c", `import struct, sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
e = d.rfind(b"PK\x05\x06")
n, size, off = struct.unpack("<HII", d[e+10:e+20])
cd, pos, keep, hdr = d[off:off+size], 0, b"", {}
for i in range(n):
    nl, xl, cl = struct.unpack("<HHH", cd[pos+28:pos+34])
    end = pos + 46 + nl + xl + cl
    name = bytes(cd[pos+46:pos+46+nl]).decode()
    hdr[name] = struct.unpack("<I", cd[pos+42:pos+46])[0]
    if name != "c.log":
        keep += cd[pos:end]
    pos = end
d[hdr["b.log"]:hdr["b.log"]+4] = b"\0\0\0\0"
tail = bytearray(d[e:])
struct.pack_into("<HHII", tail, 8, n-1, n-1, len(keep), off)
open(p, "wb").write(d[:off] + keep + tail)
print(hdr["b.log"], hdr["c.log"])`, ev)
	var bHdr, cHdr int64
	if _, err := fmt.Sscan(string(out), &bHdr, &cHdr); err != nil {
		t.Fatalf("python: %q", out)
	}
	evs, warns, _ := ingestEvidence(t, ev)
	for i, n := range []string{"a.log", "c.log"} {
		c := copies[i*2]
		if got, _ := copiesOf(evs, n); !slices.Equal(got, lineCounts(c)) {
			t.Errorf("%s: events %v, want %v", n, got, lineCounts(c))
		}
	}
	w := trailing(warns)
	if len(w) != 2 || w[0].Offset != bHdr || w[1].Offset != cHdr || w[1].Path != "c.log" {
		t.Fatalf("want warnings at b.log's damaged header (%d) and c.log's unlisted one (%d), got %+v", bHdr, cHdr, w)
	}
}
