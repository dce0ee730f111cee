package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	stdmaps "maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/zeros"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// headerDamageKind is one way to damage a file header, and what the two
// oracles make of the result (measured with libevtx-utils 20181227 and
// the evtx crate, pip evtx 0.14.0): a changed or zeroed signature makes
// both refuse the file; a wrong header block size makes evtxexport read
// nothing (it exits 0 without a word), and so does a zero chunk count in
// a clean header, while the crate reads both; the others both read.
type headerDamageKind struct {
	name             string
	damage           func(b []byte)
	eeRefuses        bool // evtxexport reads no record (exiting 0 or not)
	eeRefusesClean   bool // the same, when the dirty flag is clear
	crateRefuses     bool // the evtx crate raises on the file
	matchesAsAStream bool // Match takes it without random access (see damagedHeaderMatch)
}

func fixHeaderCRC(b []byte) {
	binary.LittleEndian.PutUint32(b[124:], crc32.ChecksumIEEE(b[:120]))
}

var headerDamageKinds = []headerDamageKind{
	{"signature-byte", func(b []byte) { b[3] ^= 0xff }, true, false, true, true},
	{"checksum", func(b []byte) { b[124] ^= 0x01 }, false, false, false, true},
	// The count changed and the checksum left as it was.
	{"chunk-count", func(b []byte) { b[42]++ }, false, false, false, true},
	// A consistent header (checksum recomputed) with a field no writer
	// leaves.
	{"chunk-count-0", func(b []byte) { binary.LittleEndian.PutUint16(b[42:], 0); fixHeaderCRC(b) }, false, true, false, true},
	{"header-size", func(b []byte) { binary.LittleEndian.PutUint32(b[32:], 0x81); fixHeaderCRC(b) }, false, false, false, true},
	{"version", func(b []byte) { binary.LittleEndian.PutUint16(b[38:], 4); fixHeaderCRC(b) }, false, false, false, true},
	{"block-size", func(b []byte) { binary.LittleEndian.PutUint16(b[40:], 0x1001); fixHeaderCRC(b) }, true, false, false, true},
	{"zeroed", func(b []byte) { clear(b[:fileHeaderBlock]) }, true, false, true, false},
}

// parseStatsBytes runs ParseStats on an in-memory file, as ingest would.
func parseStatsBytes(t *testing.T, name string, b []byte) (evs []*timeline.Event, warns []*parsers.RecordError, st Stats) {
	t.Helper()
	src := &parsers.Source{Entry: parsertest.BytesEntry(name, b, time.Time{}), ReaderAt: bytes.NewReader(b),
		Size: int64(len(b)), Zone: time.UTC, Warn: func(w *parsers.RecordError) { warns = append(warns, w) }}
	st, err := New(2).ParseStats(context.Background(), src, func(ev *timeline.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: Parse: %v", name, err)
	}
	return evs, warns, st
}

// streamEntry is a file without random access, as a member of a
// compressed stream is before ingest spools it.
func streamEntry(name string, b []byte) *jfs.Entry {
	return jfs.NewEntry(name, []string{"gzip:"}, -1,
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil)
}

// TestDamagedFileHeader damages the file header of every corpus EVTX file
// in each of headerDamageKinds and holds the result to the intact file:
// the same events (record IDs, times, event IDs, messages, live or
// recovered, offsets), the same accounting, one more warning, at offset 0,
// saying what is wrong, and jejak.data.file_header_damaged on every event.
// The intact file's records are evtxexport's (checked here again on its
// record IDs), so the oracle chain reaches the damaged copy, which
// evtxexport and the evtx crate refuse where eeRefuses and crateRefuses
// say (asserted: that is the reading jejak does better than both), and
// otherwise read the records we read.
func TestDamagedFileHeader(t *testing.T) {
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	files := allCorpusEVTX(t)
	// The shared corpus has over 20; the repository's redistributable
	// copy, 19.
	if parsertest.Shared() && len(files) < 20 || len(files) < 10 {
		t.Fatalf("only %d EVTX files in the corpus", len(files))
	}
	oraclesChecked := 0
	for _, rel := range files {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			intact, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(rel)
			want, wantWarns, wantSt := parseStatsBytes(t, name, intact)
			if len(want) == 0 {
				t.Fatalf("no events from the intact file")
			}
			if wantSt.HeaderDamage != "" {
				t.Fatalf("intact corpus file: header damage %q", wantSt.HeaderDamage)
			}
			wantRows := eventRows(t, want, false)
			// The intact file against evtxexport, on record IDs: each it
			// reads is one we read.
			ours, oursHdr := map[uint64]bool{}, map[uint64]bool{}
			for _, ev := range want {
				ours[ev.Winlog.RecordID] = true
				oursHdr[uint64(ev.Jejak.Provenance.Record)] = true
			}
			copies := map[string]headerDamageKind{}
			recs, _, _ := evtxexport(t, filepath.Join(dir, rel))
			eeReadsIntact := len(recs) > 0 // not ID1149's (see TestRDP1149)
			{
				for _, r := range recs {
					if !ours[r.ID] {
						t.Errorf("intact file: record %d, read by evtxexport, is not ours", r.ID)
					}
				}
			}
			for _, k := range headerDamageKinds {
				b := bytes.Clone(intact)
				k.damage(b)
				if k.name == "chunk-count" && binary.LittleEndian.Uint32(intact[120:])&chunkFlagNoCRC != 0 {
					// Written without checksums (Application_no_crc32):
					// a changed count is a header like any other, which
					// both oracles read as we do (TestReconcile's class
					// of a clean header's chunk count).
					continue
				}
				t.Run(k.name, func(t *testing.T) {
					head := b[:parsers.HeadSize]
					if !New(1).Match(parsertest.BytesEntry(name, b, time.Time{}), head) {
						t.Errorf("Match rejects the file")
					}
					if got := New(1).Match(streamEntry(name, b), head); got != k.matchesAsAStream {
						t.Errorf("Match without random access: %v, want %v", got, k.matchesAsAStream)
					}
					got, warns, st := parseStatsBytes(t, name, b)
					gotRows := eventRows(t, got, true)
					if len(gotRows) != len(wantRows) {
						t.Errorf("%d events, the intact file gives %d", len(gotRows), len(wantRows))
					}
					for i := range min(len(gotRows), len(wantRows)) {
						if gotRows[i] != wantRows[i] {
							t.Errorf("event %d differs from the intact file's:\n got %s\nwant %s", i, gotRows[i], wantRows[i])
							break
						}
					}
					// The accounting is the chunks': the same as intact.
					if st.HeaderDamage == "" || st.Chunks != wantSt.Chunks || st.Declared != wantSt.Declared ||
						st.Live != wantSt.Live || st.Recovered != wantSt.Recovered || st.SlackCopies != wantSt.SlackCopies ||
						st.Unreadable != wantSt.Unreadable || len(st.RecoveredFrom) != len(wantSt.RecoveredFrom) {
						t.Errorf("Stats %+v, intact %+v", st, wantSt)
					}
					var hw []*parsers.RecordError
					for _, w := range warns {
						if errors.Is(w.Err, errHeaderDamaged) {
							hw = append(hw, w)
						}
					}
					if len(hw) != 1 {
						t.Fatalf("%d header warnings, want 1: %v", len(hw), warns)
					}
					if hw[0].Offset != 0 || hw[0].Path != name || !strings.Contains(hw[0].Err.Error(), st.HeaderDamage) {
						t.Errorf("header warning %v: want offset 0, path %s and %q", hw[0], name, st.HeaderDamage)
					}
					// The same warnings at the same offsets, but for one:
					// a zeroed chunk the intact header counted, past the
					// last chunk with a signature, is not known as counted
					// (sample_with_a_bad_chunk_magic's chunks 10-15).
					lastSig := int64(fileHeaderBlock)
					for off := int64(fileHeaderBlock); off+8 <= int64(len(b)); off += chunkSize {
						if bytes.Equal(b[off:off+8], chunkMagic) {
							lastSig = off
						}
					}
					wantOffs := map[int64]int{0: 1}
					for _, w := range wantWarns {
						if !(strings.Contains(w.Err.Error(), "counted by the file header is zeroed") && w.Offset > lastSig) {
							wantOffs[w.Offset]++
						}
					}
					gotOffs := map[int64]int{}
					for _, w := range warns {
						gotOffs[w.Offset]++
					}
					if !stdmaps.Equal(gotOffs, wantOffs) {
						t.Errorf("warnings at offsets %v, want %v (the intact file's and the header's)", gotOffs, wantOffs)
					}
					path := filepath.Join(tmp, k.name+"-"+name)
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					copies[path] = k
					if eeReadsIntact {
						checkEvtxexportOnDamaged(t, b, path, k, ours)
					}
				})
			}
			// The evtx crate, once over every copy of the file: it
			// refuses a copy (raises on opening it) where the kind says
			// so, and otherwise reads only records we read.
			var paths []string
			for p := range copies {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			ids, ran := crateIDs(t, paths)
			for path, k := range copies {
				if !ran {
					break
				}
				got, read := ids[path]
				if read == k.crateRefuses {
					t.Errorf("%s: evtx crate reads it %v (%d records), want refusal %v", filepath.Base(path), read, len(got), k.crateRefuses)
				}
				for _, id := range got {
					if !oursHdr[id] {
						t.Errorf("%s: evtx crate reads record %d, we do not", filepath.Base(path), id)
					}
				}
				oraclesChecked++
			}
		})
	}
	t.Logf("%d damaged copies of %d files checked", oraclesChecked, len(files))
}

// eventRows is each event as JSON, in emit order. On a damaged copy the
// file_header_damaged note must be on every event, and is then removed so
// the rest compares with the intact file's events.
func eventRows(t *testing.T, evs []*timeline.Event, damagedCopy bool) []string {
	t.Helper()
	out := make([]string, len(evs))
	for i, ev := range evs {
		note, ok := ev.Jejak.Data["file_header_damaged"]
		if damagedCopy != ok || (ok && note != "true") {
			t.Fatalf("event %d: file_header_damaged %q (present %v), want it only on a damaged copy", i, note, ok)
		}
		delete(ev.Jejak.Data, "file_header_damaged")
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if damagedCopy {
			ev.Jejak.Data["file_header_damaged"] = note
		}
		out[i] = string(b)
	}
	return out
}

// checkEvtxexportOnDamaged runs evtxexport on the damaged copy: it reads
// nothing where the kind says so (exiting 0 without a word on some), or
// only records we read.
func checkEvtxexportOnDamaged(t *testing.T, b []byte, path string, k headerDamageKind, ours map[uint64]bool) {
	t.Helper()
	recs, ok, stderr := evtxexport(t, path)
	refuses := k.eeRefuses || (k.eeRefusesClean && binary.LittleEndian.Uint32(b[120:])&fileFlagDirty == 0)
	if refuses != (len(recs) == 0) {
		t.Errorf("evtxexport: %d records (exit ok %v, stderr %q); want refusal %v", len(recs), ok, firstLine(stderr), refuses)
	}
	for _, r := range recs {
		if !ours[r.ID] {
			t.Errorf("evtxexport reads record %d, we do not", r.ID)
		}
	}
}

// crateIDs runs the evtx crate over each file and returns the header
// record IDs it reads; a file it refuses (raising on open) is missing from
// the map, and per-record errors are skipped as the crate's own
// iteration does. ran is false when python3 or the module is missing.
func crateIDs(t *testing.T, paths []string) (ids map[string][]uint64, ran bool) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import evtx").Run() != nil {
		t.Log("python evtx module not installed: the evtx crate half is skipped (pip install evtx)")
		return nil, false
	}
	const script = `
import sys, evtx
for p in sys.argv[1:]:
    try:
        it = evtx.PyEvtxParser(p).records()
    except Exception as e:
        print(p + "\tREFUSED")
        continue
    ids = []
    while True:
        try:
            ids.append(str(next(it)["event_record_id"]))
        except StopIteration:
            break
        except Exception:
            continue
    print(p + "\t" + " ".join(ids))
`
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).Output()
	if err != nil {
		t.Fatalf("evtx crate: %v", err)
	}
	ids = map[string][]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		p, rest, _ := strings.Cut(line, "\t")
		if rest == "REFUSED" {
			continue
		}
		ids[p] = []uint64{}
		for _, f := range strings.Fields(rest) {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("evtx crate line %q", line)
			}
			ids[p] = append(ids[p], n)
		}
	}
	return ids, true
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// TestMatchDamagedHeaderNeedsChunks holds damaged-header detection to its
// rule: chunk signatures at 4096 + n·65536, and only then. Chance data
// never matches: seeded random files, random files with a zeroed head,
// random heads over real chunks; nor does any other file of the corpus
// (logs, images, documents, binaries of every format it holds).
func TestMatchDamagedHeaderNeedsChunks(t *testing.T) {
	p := New(1)
	match := func(b []byte) bool {
		return p.Match(parsertest.BytesEntry("x", b, time.Time{}), b[:min(len(b), parsers.HeadSize)])
	}
	rng := rand.New(rand.NewPCG(11, 5))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	sizes := []int{fileHeaderBlock, fileHeaderBlock + 8, fileHeaderBlock + chunkSize, fileHeaderBlock + 3*chunkSize + 100}
	for i := range 400 {
		b := random(sizes[i%len(sizes)])
		if match(b) {
			t.Fatalf("random file %d (%d bytes) matches", i, len(b))
		}
		clear(b[:fileHeaderBlock]) // a zeroed head: the chunk slots decide
		if match(b) {
			t.Fatalf("random file %d with a zeroed head matches", i)
		}
	}
	// Real chunks behind a head that is not a header block: no match,
	// the head must look like a damaged header first.
	sec, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(sec)
	copy(b, random(fileHeaderBlock))
	if match(b) {
		t.Errorf("a random head over real chunks matches")
	}
	// A zeroed head over real chunks matches; over chunks most of which
	// are something else, it does not.
	b = bytes.Clone(sec)
	clear(b[:fileHeaderBlock])
	if !match(b) {
		t.Errorf("a zeroed head over real chunks does not match")
	}
	for i := 1; i < slotsChecked; i++ {
		copy(b[fileHeaderBlock+i*chunkSize:], "NotChnk\x00")
	}
	if match(b) {
		t.Errorf("one chunk signature among %d slots of other bytes matches", slotsChecked-1)
	}
	// Parse holds to the same rule (a stream member is taken on its head
	// alone, see damagedHeaderMatch): without the file signature and with
	// no chunk signature, the file is refused as a whole, not read as
	// chunks without headers.
	b = bytes.Clone(sec)
	b[3] ^= 0xff
	for off := fileHeaderBlock; off < len(b); off += chunkSize {
		b[off] ^= 0xff
	}
	if !New(1).Match(streamEntry("Security.evtx", b), b[:parsers.HeadSize]) {
		t.Errorf("a stream member keeping its header fields is not taken on its head")
	}
	res := parsertest.Parse(context.Background(), New(1), parsertest.BytesEntry("Security.evtx", b, time.Time{}), time.UTC)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "not an EVTX file") || len(res.Events) != 0 {
		t.Errorf("no file or chunk signature: Parse gives %d events, error %v", len(res.Events), res.Err)
	}
	// A file cut inside its first chunk's signature.
	b = bytes.Clone(sec[:fileHeaderBlock+600])
	clear(b[:fileHeaderBlock])
	if !match(b) {
		t.Errorf("a zeroed head over one short chunk does not match")
	}
	if match(b[:fileHeaderBlock+4]) {
		t.Errorf("a zeroed head with 4 bytes of a chunk signature matches")
	}

	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	others := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(strings.ToLower(path), ".evtx") {
			return nil
		}
		e := parsertest.FileEntry(t, path)
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		head := make([]byte, parsers.HeadSize)
		n, _ := io.ReadFull(f, head)
		f.Close()
		others++
		if p.Match(e, head[:n]) {
			t.Errorf("%s, not an EVTX file, matches", path)
		}
		return nil
	})
	if others < 100 && parsertest.Shared() || others < 50 {
		t.Errorf("only %d other corpus files", others)
	}
	t.Logf("%d non-EVTX corpus files, none matched", others)
	// The files Debian packages installed on this machine: programs,
	// libraries, locale catalogues, compressed documentation.
	system, zeroHeads := 0, 0
	for _, root := range []string{"/usr/lib", "/usr/share/locale", "/var/lib/dpkg", "/var/cache/debconf"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || system >= 20000 {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() || strings.HasSuffix(strings.ToLower(path), ".evtx") {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return nil
			}
			head := make([]byte, parsers.HeadSize)
			n, _ := io.ReadFull(f, head)
			f.Close()
			system++
			if n == parsers.HeadSize && zeros.All(head[fileHeaderSize:]) {
				zeroHeads++
			}
			if p.Match(parsertest.FileEntry(t, path), head[:n]) {
				t.Errorf("%s, not an EVTX file, matches", path)
			}
			return nil
		})
	}
	t.Logf("%d system files (%d with a head zero past byte 128), none matched", system, zeroHeads)
}

// FuzzMatchDamagedHeader: Match takes a file without the EVTX signature
// only when chunk signatures bear it out, and Parse on what Match takes
// never panics and warns about a damaged header once. The input is a
// patch over a damaged file's first 8 KiB (see fstest.PatchedSeedBytes),
// not the 8 KiB themselves, which Go's minimiser took the fuzzer's whole
// time over (12 executions in 11 s).
func FuzzMatchDamagedHeader(f *testing.F) {
	sec, err := os.ReadFile(parsertest.Corpus(f, "more/evtx/mitre_cc0/ID4624-Mimikatz_pass_the_hash.evtx"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, k := range headerDamageKinds {
		b := bytes.Clone(sec)
		k.damage(b)
		seeds = append(seeds, b[:fileHeaderBlock+4096])
	}
	seeds = append(seeds, make([]byte, fileHeaderBlock+16))
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		b := fstest.PatchedSeedBytes(seeds, which, size, off, patch)
		e := parsertest.BytesEntry("f.evtx", b, time.Time{})
		if !New(1).Match(e, b[:min(len(b), parsers.HeadSize)]) {
			return
		}
		if !bytes.HasPrefix(b, fileMagic) {
			sig, other := chunkSlots(bytes.NewReader(b), int64(len(b)))
			if !chunksBearOut(sig, other) {
				t.Fatalf("matched without a file signature: %d chunk signatures, %d other slots", sig, other)
			}
		}
		n := 0
		src := &parsers.Source{Entry: e, ReaderAt: bytes.NewReader(b), Size: int64(len(b)), Zone: time.UTC,
			Warn: func(w *parsers.RecordError) {
				if errors.Is(w.Err, errHeaderDamaged) {
					n++
				}
			}}
		New(1).Parse(context.Background(), src, func(*timeline.Event) error { return nil })
		if n > 1 {
			t.Fatalf("%d header warnings", n)
		}
	})
}

// TestDamagedHeaderZeroedChunk: a chunk zeroed whole between chunks in use
// is a hole in the log. With the header intact, its chunk count says so;
// with the header damaged, the chunks after it that bear a signature do,
// and the hole is warned at the chunk's offset all the same.
func TestDamagedHeaderZeroedChunk(t *testing.T) {
	sec, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	const hole = 5
	off := int64(fileHeaderBlock + hole*chunkSize)
	b := bytes.Clone(sec)
	clear(b[off : off+chunkSize])
	zeroedAt := func(warns []*parsers.RecordError) (n int) {
		for _, w := range warns {
			if w.Offset == off && strings.Contains(w.Err.Error(), "zeroed") {
				n++
			}
		}
		return n
	}
	_, warns, st := parseStatsBytes(t, "security.evtx", b)
	if zeroedAt(warns) != 1 || st.HeaderDamage != "" {
		t.Errorf("intact header: %d warnings of the zeroed chunk %d, want 1", zeroedAt(warns), hole)
	}
	clear(b[:fileHeaderBlock])
	evs, warns2, st2 := parseStatsBytes(t, "security.evtx", b)
	if zeroedAt(warns2) != 1 || st2.HeaderDamage == "" || len(warns2) != len(warns)+1 || st2.Live != st.Live {
		t.Errorf("zeroed header: %d warnings of the zeroed chunk %d (want 1), %d warnings (want %d), %d live records (want %d)",
			zeroedAt(warns2), hole, len(warns2), len(warns)+1, st2.Live, st.Live)
	}
	// The zeroed chunks at the end of the file (preallocated, unused)
	// are not holes.
	last := st2.Chunks - 1
	if binary.LittleEndian.Uint64(b[fileHeaderBlock+last*chunkSize:]) != 0 {
		t.Fatalf("security.evtx's last chunk is not zeroed")
	}
	for _, w := range warns2 {
		if w.Offset > off && strings.Contains(w.Err.Error(), "zeroed") {
			t.Errorf("unused chunk warned: %v", w)
		}
	}
	if len(evs) == 0 {
		t.Fatal("no events")
	}
}
