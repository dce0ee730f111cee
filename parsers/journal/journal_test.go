package journal

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// testdata/sample.journal was written by Debian 12's systemd-journal-remote
// 252 (compact, zstd) from testdata/sample.export:
//
//	SYSTEMD_JOURNAL_COMPACT=1 /usr/lib/systemd/systemd-journal-remote \
//	    --output=sample.journal testdata/sample.export
//
// and cut after its last object, arena_size lowered to match (the rest is
// zeroes fallocate reserved; journald grows a file's arena the same way,
// and journalctl reads the cut file alike).
//
// It is stored gzipped: 3.7 MB of it is the data hash table, sized for
// journal-remote's maximum file size and nearly all zero.
const sampleGz = "testdata/sample.journal.gz"

// sampleBytes is the sample journal's content.
func sampleBytes(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(sampleGz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samplePath writes the sample journal to a file of the test's own.
func samplePath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "system@0001-sample.journal")
	if err := os.WriteFile(p, sampleBytes(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), samplePath(t))
}

// TestSampleGolden: the committed sample against journalctl, when present.
func TestSampleGolden(t *testing.T) {
	path := samplePath(t)
	res := parsertest.ParseFile(t, New(), path, nil)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 60 {
		t.Fatalf("err %v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	journalctl := oracle.Tool(t, "journalctl", "systemd")
	compareWithJournalctl(t, res.Events, journalctlJSON(t, journalctl, path))
}

// TestMatch: the signature decides, not the name; a text file named
// system.journal is not taken.
func TestMatch(t *testing.T) {
	b := sampleBytes(t)
	p := New()
	if !p.Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), b[:parsers.HeadSize]) {
		t.Error("Match rejects a journal named evidence.bin")
	}
	if p.Match(parsertest.BytesEntry("system.journal", nil, time.Time{}), []byte("Feb 14 12:05:01 host sshd[1]: hello\n")) {
		t.Error("Match takes a text file by its name")
	}
	bad := bytes.Clone(b[:parsers.HeadSize])
	binary.LittleEndian.PutUint64(bad[88:], 13) // header size not a multiple of 8
	if p.Match(parsertest.BytesEntry("x", nil, time.Time{}), bad) {
		t.Error("Match takes a header of size 13")
	}
}

// TestOnlineCopy copies a journal while systemd-journal-remote still has
// it open (state ONLINE, as any copy of a running system's journal), the
// way an acquisition of a live system takes it, and reads the copy: every
// entry journalctl lists in the copy is an event, with no warning.
func TestOnlineCopy(t *testing.T) {
	journalctl, remote := tools(t)
	entries := sampleEntries(1500)
	first, second := writeExport(entries[:1000]), writeExport(entries[1000:])
	dir := t.TempDir()
	out := filepath.Join(dir, "system.journal")
	cmd := exec.Command(remote, "--output="+out, "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	if _, err := stdin.Write(first); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.journal")
	deadline := time.Now().Add(20 * time.Second)
	for {
		// journal-remote writes an entry when it sees the next one start,
		// so the copy is taken once most of the first part is in.
		time.Sleep(100 * time.Millisecond)
		b, err := os.ReadFile(out)
		if err == nil && len(b) > minHeaderSize {
			if h, err := parseHeader(b); err == nil && h.nEntries >= 900 {
				if h.state != stateOnline {
					t.Fatalf("file state %s while open", stateName(h.state))
				}
				if err := os.WriteFile(copyPath, b, 0o600); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-journal-remote wrote too little in 20s: %s", stderr.Bytes())
		}
	}
	stdin.Write(second)
	res := parsertest.ParseFile(t, New(), copyPath, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %v", w)
	}
	compareWithJournalctl(t, res.Events, journalctlJSON(t, journalctl, copyPath))
}

// TestTruncatedTail cuts a journal inside its arena, as a copy cut short
// leaves it (journalctl refuses such a file): the entries whose objects
// are in the copy are read, the first ones the full file has, and what
// points past the end is a warning naming its offset.
func TestTruncatedTail(t *testing.T) {
	_, remote := tools(t)
	export := writeExport(sampleEntries(600))
	dir := t.TempDir()
	for _, compact := range []string{"0", "1"} {
		full := buildJournal(t, remote, dir, "c"+compact+".journal", export, true, "SYSTEMD_JOURNAL_COMPACT="+compact)
		all := parsertest.ParseFile(t, New(), full, nil)
		if len(all.Events) != 600 || len(all.Warnings) != 0 {
			t.Fatalf("full file: %d events, %d warnings", len(all.Events), len(all.Warnings))
		}
		b, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := parseHeader(b)
		// The hash tables come first; cut two thirds into what follows
		// the first entry array.
		cut := int64(h.entryArray + (usedEnd(b)-h.entryArray)*2/3)
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("system.journal", b[:cut], time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Events) == 0 || len(res.Events) >= 600 || len(res.Warnings) == 0 {
			t.Fatalf("compact=%s cut at %d: %d events, %d warnings", compact, cut, len(res.Events), len(res.Warnings))
		}
		for i, ev := range res.Events {
			if ev.Jejak.Data["journal.cursor"] != all.Events[i].Jejak.Data["journal.cursor"] || ev.Message != all.Events[i].Message {
				t.Fatalf("event %d of the cut file differs from the full file's", i)
			}
		}
		for _, w := range res.Warnings {
			if w.Offset <= 0 || w.Path != "system.journal" {
				t.Errorf("warning without offset or file: %v", w)
			}
		}
		t.Logf("compact=%s: cut at %d of %d: %d events, %d warnings, first: %v", compact, cut, len(b), len(res.Events), len(res.Warnings), res.Warnings[0])
	}
}

// TestXZAndLZ4 covers the two compressions Debian's systemd 252 reads but
// does not write (it writes zstd; $SYSTEMD_JOURNAL_COMPRESS came in 253):
// each large DATA object of a plain journal systemd-journal-remote wrote is
// compressed in place, XZ by the xz program, LZ4 by lz4.CompressBlock,
// with systemd's layout (xz stream; LZ4 64-bit size then block), the freed
// tail of the object an unused object so the arena stays walkable, and
// the header flag set. journalctl reading the result is the oracle.
func TestXZAndLZ4(t *testing.T) {
	journalctl, remote := tools(t)
	xzBin := oracle.Tool(t, "xz", "xz-utils")
	export := writeExport(sampleEntries(800))
	dir := t.TempDir()
	plain := buildJournal(t, remote, dir, "plain.journal", export, false, "SYSTEMD_JOURNAL_COMPACT=0")
	for _, c := range []struct {
		name   string
		flag   uint32
		obj    uint8
		encode func(p []byte) []byte
	}{
		{"xz", incompatXZ, objCompressedXZ, func(p []byte) []byte {
			cmd := exec.Command(xzBin, "--format=xz", "--check=none", "-c")
			cmd.Stdin = bytes.NewReader(p)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}},
		{"lz4", incompatLZ4, objCompressedLZ4, func(p []byte) []byte {
			out := make([]byte, 8+lz4.CompressBlockBound(len(p)))
			binary.LittleEndian.PutUint64(out, uint64(len(p)))
			n, err := lz4.CompressBlock(p, out[8:], nil)
			if err != nil || n == 0 {
				t.Fatalf("lz4: %d, %v", n, err)
			}
			return out[:8+n]
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := parseHeader(b)
			n := 0
			for off := h.headerSize; off+16 <= h.headerSize+h.arenaSize; {
				size := binary.LittleEndian.Uint64(b[off+8:])
				if size == 0 {
					break
				}
				next := off + (size+7)&^7
				if b[off] == objData && size-dataRegularSize >= 512 {
					z := c.encode(b[off+dataRegularSize : off+size])
					newSize := dataRegularSize + uint64(len(z))
					if gap := next - (off + (newSize+7)&^7); gap >= 16 {
						copy(b[off+dataRegularSize:], z)
						clear(b[off+newSize : next])
						b[off+1] |= c.obj
						binary.LittleEndian.PutUint64(b[off+8:], newSize)
						filler := off + (newSize+7)&^7
						binary.LittleEndian.PutUint64(b[filler+8:], gap) // type 0: unused
						n++
					}
				}
				off = next
			}
			if n == 0 {
				t.Fatal("no object compressed: the case tests nothing")
			}
			binary.LittleEndian.PutUint32(b[12:], binary.LittleEndian.Uint32(b[12:])|c.flag)
			file := filepath.Join(dir, c.name+".journal")
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			res := parsertest.ParseFile(t, New(), file, nil)
			if res.Err != nil || len(res.Warnings) != 0 {
				t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
			}
			want := journalctlJSON(t, journalctl, file)
			compareWithJournalctl(t, res.Events, want)
			long := 0
			for _, w := range want {
				if m, _ := w.get(t, "MESSAGE"); len(m) >= 512 {
					long++
				}
			}
			t.Logf("%d objects %s-compressed, %d long messages compared", n, c.name, long)
		})
	}
}

// TestDamagedObjects: a DATA object whose compressed bytes are broken and
// an entry array item pointing outside the file are warnings with offsets;
// every other entry is still read.
func TestDamagedObjects(t *testing.T) {
	b := sampleBytes(t)
	h, _ := parseHeader(b)
	// Break the first compressed DATA object.
	broken := false
	for off := h.headerSize; off+16 <= uint64(len(b)); {
		size := binary.LittleEndian.Uint64(b[off+8:])
		if size == 0 {
			break
		}
		if b[off] == objData && b[off+1]&objCompressedMask != 0 {
			for i := off + dataCompactSize; i < off+size; i++ {
				b[i] ^= 0x5a
			}
			broken = true
			break
		}
		off += (size + 7) &^ 7
	}
	if !broken {
		t.Fatal("sample holds no compressed object")
	}
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("system.journal", b, time.Time{}), time.UTC)
	clean := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("system.journal", sampleBytes(t), time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) != len(clean.Events) || len(res.Warnings) == 0 {
		t.Fatalf("broken field: err %v, %d events (clean %d), %d warnings", res.Err, len(res.Events), len(clean.Events), len(res.Warnings))
	}
	if !strings.Contains(res.Warnings[0].Error(), "zstd") {
		t.Errorf("warning %v does not name the compression", res.Warnings[0])
	}
}

// FuzzParse mutates the object area of the sample journal (everything
// after its hash tables, 24 KB of the 3.7 MB; the header and the nearly
// empty tables stay as systemd wrote them, so mutations reach the entry
// and data objects) and requires no panic and no hang. The seeds are the
// real object area and a cut copy of it.
func FuzzParse(f *testing.F) {
	b := sampleBytes(f)
	h, err := parseHeader(b)
	if err != nil {
		f.Fatal(err)
	}
	le := binary.LittleEndian
	split := max(le.Uint64(b[104:])+le.Uint64(b[112:]), le.Uint64(b[120:])+le.Uint64(b[128:]))
	if split <= h.headerSize || split >= uint64(len(b)) {
		f.Fatalf("hash tables end at %d in a %d-byte file", split, len(b))
	}
	prefix, objects := b[:split:split], b[split:]
	f.Add(objects)
	f.Add(objects[:len(objects)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		file := append(prefix, data...)
		src := &parsers.Source{
			Entry:    parsertest.BytesEntry("fuzz.journal", file, time.Time{}),
			R:        bytes.NewReader(file),
			ReaderAt: bytes.NewReader(file),
			Size:     int64(len(file)),
			Zone:     time.UTC,
			Warn:     func(*parsers.RecordError) {},
		}
		New().Parse(context.Background(), src, func(*timeline.Event) error { return nil })
	})
}

var update = flag.Bool("update", false, "rewrite testdata/sample.export and sample.journal with systemd-journal-remote")

// TestWriteSample rewrites the committed sample with -update.
func TestWriteSample(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/sample.journal")
	}
	_, remote := tools(t)
	export := writeExport(sampleEntries(60))
	if err := os.WriteFile("testdata/sample.export", export, 0o644); err != nil {
		t.Fatal(err)
	}
	out := buildJournal(t, remote, t.TempDir(), "sample.journal", export, true, "SYSTEMD_JOURNAL_COMPACT=1")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	end := usedEnd(b)
	h, _ := parseHeader(b)
	binary.LittleEndian.PutUint64(b[96:], end-h.headerSize) // arena_size
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b[:end])
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sampleGz, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// usedEnd is the end of a journal's last object.
func usedEnd(b []byte) uint64 {
	h, _ := parseHeader(b)
	size := binary.LittleEndian.Uint64(b[h.tailObject+8:])
	return h.tailObject + (size+7)&^7
}

// TestUnlinkedEntry: an entry object no entry array links (journald
// stopped between writing it and linking it; here the last array item is
// zeroed) is not in journalctl's list; it is an event tagged recovered,
// counted apart.
func TestUnlinkedEntry(t *testing.T) {
	b := sampleBytes(t)
	f := &file{br: newBlockReader(bytes.NewReader(b), int64(len(b)))}
	f.h, _ = parseHeader(b)
	f.compact = f.h.compact()
	f.warn = func(int64, int64, error) {}
	chain := f.walkArrays()
	last := chain[len(chain)-1]
	// Find the array item holding it (compact: 32-bit items) by walking
	// the chain, and zero it.
	if !f.compact {
		t.Fatal("sample is not compact")
	}
	i := -1
	for off := f.h.entryArray; off != 0; off = binary.LittleEndian.Uint64(b[off+16:]) {
		size := binary.LittleEndian.Uint64(b[off+8:])
		for p := off + arrayFixedSize; p+4 <= off+size; p += 4 {
			if uint64(binary.LittleEndian.Uint32(b[p:])) == last {
				i = int(p)
			}
		}
	}
	if i < 0 {
		t.Fatal("last entry's array item not found")
	}
	clear(b[i : i+4])
	path := filepath.Join(t.TempDir(), "system.journal")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var acct parsers.Accounting
	e := parsertest.FileEntry(t, path)
	fh, _ := os.Open(path)
	defer fh.Close()
	var evs []*timeline.Event
	var warns []*parsers.RecordError
	err := New().Parse(context.Background(), &parsers.Source{Entry: e, R: fh, ReaderAt: fh, Size: int64(len(b)), Zone: time.UTC,
		Warn: func(w *parsers.RecordError) { warns = append(warns, w) }, Account: func(a parsers.Accounting) { acct = a }},
		func(ev *timeline.Event) error { evs = append(evs, ev); return nil })
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %v", err, warns)
	}
	rec := evs[len(evs)-1]
	if acct.Live != int64(len(chain)-1) || acct.Recovered != 1 || acct.Declared != int64(len(chain)) ||
		rec.Jejak.Provenance.Offset != int64(last) || len(rec.Jejak.Tags) != 1 || rec.Jejak.Tags[0] != TagRecovered {
		t.Errorf("accounting %+v, last event at %d tags %v", acct, rec.Jejak.Provenance.Offset, rec.Jejak.Tags)
	}
	if journalctl, err := exec.LookPath("journalctl"); err == nil {
		if n := len(journalctlJSON(t, journalctl, path)); n != len(chain)-1 {
			t.Errorf("journalctl lists %d entries, want %d (the unlinked one not)", n, len(chain)-1)
		}
	}
}

// TestLocalJournals reads the journals of the machine the test runs on,
// if any, and compares each with journalctl.
func TestLocalJournals(t *testing.T) {
	var files []string
	for _, pat := range []string{"/var/log/journal/*/*.journal", "/var/log/journal/*/*.journal~", "/run/log/journal/*/*.journal"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no journal under /var/log/journal or /run/log/journal on this machine")
	}
	journalctl := oracle.Tool(t, "journalctl", "systemd")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := os.ReadFile(f); err != nil {
				t.Skipf("cannot read %s: %v", f, err)
			}
			res := parsertest.ParseFile(t, New(), f, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			compareWithJournalctl(t, res.Events, journalctlJSON(t, journalctl, f))
		})
	}
}
