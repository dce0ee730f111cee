package ntfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestFragmentedMFT walks volumes whose $MFT is in more extents than
// record 0 holds, against fls -r -m and icat: every file fls lists, live
// or deleted, under the same entry and path, and the $MFT's bytes as icat
// reads them. "ntfs-3g": as ntfs-3g grows it (the last extents in an
// extension record that lies in the first extent). "extension-past-first-
// extent": the same volume rewritten the way Windows leaves a $MFT grown
// in many fragments, its last extents in a record that only the second
// extent maps (record 0 maps the first, an extension record in it the
// second): go-ntfs reads extension records of the $MFT through the first
// extent alone, and lost the records past the second silently.
// "extension-unmapped": that record moved into the very part it maps, so
// nothing can map it: the walk reports the unmapped part and every record
// it cannot read, and delivers the rest.
func TestFragmentedMFT(t *testing.T) {
	img := ntfstest.FragmentedMFTVolume(t)
	ext := mftExtensions(t, img)
	if len(ext) == 0 {
		t.Fatalf("istat %s 0: no $DATA extent of the $MFT in an extension record; the volume does not test what it should", img)
	}
	t.Logf("$MFT $DATA extents in extension records (entry: VCN): %v", ext)
	vol, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ntfs-3g", func(t *testing.T) {
		if n := againstFLS(t, img, 0); n < 3000 {
			t.Errorf("%d files compared; the volume holds more", n)
		}
	})
	t.Run("tables", func(t *testing.T) {
		mftTables(t, img, ext)
	})
	t.Run("wiped-record", func(t *testing.T) {
		// A live file's record overwritten with a pattern: no record,
		// and no empty slot either. Reported at its offset in $MFT.
		b := bytes.Clone(vol)
		good, _, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(b), int64(len(b)), 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var victim fstest.Item
		for _, it := range good {
			if strings.HasPrefix(it.Path, "fill/") && !it.Deleted {
				victim = it
				break
			}
		}
		e, _, _ := strings.Cut(victim.Inode, "-")
		n, _ := strconv.ParseInt(e, 10, 64)
		if n == 0 || n >= firstRun(t, b) {
			t.Fatalf("no live fill/ file in the $MFT's first run (%+v)", victim)
		}
		rec := b[mftOffset(t, b)+n*fragRecord:][:fragRecord]
		for i := range rec {
			rec[i] = 0xA5
		}
		items, probs, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(b), int64(len(b)), 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) != 1 || probs[0].Path != "$MFT" || probs[0].Offset != n*fragRecord || !errors.Is(probs[0].Err, jfs.ErrCorrupt) {
			t.Fatalf("problems %v, want one at $MFT offset %d", probs, n*fragRecord)
		}
		t.Logf("reported: %v", probs[0])
		if len(items) != len(good)-1 {
			t.Errorf("%d entries delivered, want %d (all but %s)", len(items), len(good)-1, victim.Path)
		}
	})
	t.Run("stale-extension", func(t *testing.T) {
		// A copy of the extension record holding $MFT's name in a free
		// record, which the list does not name (as an extension record
		// the list dropped would be): its name is the $MFT's, delivered
		// on entry 0, and the $MFT itself only once.
		b := bytes.Clone(vol)
		le := binary.LittleEndian
		mft := mftOffset(t, b)
		var src, dst int64 = -1, -1
		for n := int64(1); n < 1000; n++ {
			r := b[mft+n*fragRecord : mft+(n+1)*fragRecord]
			base := le.Uint64(r[32:])
			switch {
			case string(r[:4]) == "FILE" && base>>48 != 0 && base&0xFFFFFFFFFFFF == 0 && src < 0:
				if rr := bytes.Clone(r); true {
					unfix(t, rr)
					if a := attrOffset0(rr, ntfs.AttrFileName); a > 0 {
						src = n
					}
				}
			case n > 24 && (string(r[:4]) != "FILE" || le.Uint16(r[22:])&ntfs.FlagInUse == 0) && dst < 0:
				dst = n
			}
		}
		if src < 0 || dst < 0 || firstRun(t, b) <= dst {
			t.Fatalf("no $MFT extension record with a name (%d) or free record in the first run (%d)", src, dst)
		}
		copy(b[mft+dst*fragRecord:], b[mft+src*fragRecord:mft+(src+1)*fragRecord])
		items, probs, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(b), int64(len(b)), 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			t.Errorf("problem: %v", p)
		}
		n := 0
		for _, it := range items {
			if strings.HasPrefix(it.Inode, "0-") {
				n++
				if it.Path != "$MFT" {
					t.Errorf("entry 0 delivered at %s", it.Path)
				}
			}
		}
		if n != 1 {
			t.Errorf("$MFT delivered %d times", n)
		}
	})
	t.Run("extension-past-first-extent", func(t *testing.T) {
		moved := filepath.Join(t.TempDir(), "moved.img")
		b := bytes.Clone(vol)
		s, _ := relocateExtent(t, b, true)
		if err := os.WriteFile(moved, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got := mftExtensions(t, moved)
		if got[s] == 0 {
			t.Fatalf("istat: extents %v, want one in entry %d", got, s)
		}
		t.Logf("extents now %v", got)
		if n := againstFLS(t, moved, 0); n < 3000 {
			t.Errorf("%d files compared; the volume holds more", n)
		}
	})
	t.Run("extension-unmapped", func(t *testing.T) {
		b := bytes.Clone(vol)
		s, from := relocateExtent(t, b, false)
		first := int64(from)
		items, probs, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(b), int64(len(b)), 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) == 0 {
			t.Fatal("no problem reported")
		}
		if p := probs[0]; p.Path != "$MFT" || p.Offset != 0 || !errors.Is(p.Err, jfs.ErrCorrupt) ||
			!strings.Contains(p.Err.Error(), fmt.Sprintf("extension record %d", s)) {
			t.Errorf("first problem %v at %d, want the $MFT map's naming record %d at offset 0", p, p.Offset, s)
		}
		// Every batch of records past the first extent is reported with
		// its offset in $MFT; nothing past it is delivered.
		size := mftSize(t, b)
		reported := map[int64]bool{}
		for _, p := range probs[1:] {
			if p.Path != "$MFT" || !errors.Is(p.Err, jfs.ErrCorrupt) {
				t.Errorf("problem %v", p)
			}
			reported[p.Offset] = true
		}
		for off := first * fragRecord; off < size; off = (off/(ntfs.ScanBatch*fragRecord) + 1) * ntfs.ScanBatch * fragRecord {
			if !reported[off] {
				t.Errorf("$MFT offset %d (past the mapped part) not reported", off)
			}
		}
		var before int
		for _, it := range items {
			e, _, _ := strings.Cut(it.Inode, "-")
			n, _ := strconv.ParseInt(e, 10, 64)
			if n >= first && it.Path != "$MFT" {
				t.Errorf("%s (%s) delivered from an unmapped part of $MFT", it.Path, it.Inode)
			}
			if n < first {
				before++
			}
		}
		t.Logf("%d problems, %d entries of the mapped part delivered", len(probs), before)
		if before < 1000 {
			t.Errorf("%d entries of the mapped part delivered", before)
		}
	})
}

// mftTables scans the $MFT and the $MFTMirr the walk of img delivers as
// the mft parser does: the $MFT's extension records (ext, by entry) are
// merged into record 0, which has its name ($MFT) from one of them; the
// mirror, whose copy of record 0 names extension records it does not
// hold, is told for a mirror and scans with no problem.
func mftTables(t *testing.T, img string, ext map[uint64]uint64) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	files := map[string]*jfs.Entry{}
	err = walker(t, f, st.Size(), 0, 1).Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if e.Path == "$MFT" || e.Path == "$MFTMirr" {
			files[e.Path] = e
		}
		return nil
	}, nil)
	if err != nil || len(files) != 2 {
		t.Fatalf("walk: %v, %d of $MFT and $MFTMirr", err, len(files))
	}
	table := func(name string) *ntfs.Table {
		ra, _, err := files[name].ReaderAt()
		if err != nil {
			t.Fatal(err)
		}
		tab := ntfs.NewTable(ra, files[name].Size, fragRecord)
		if vol, cluster, ok := ntfs.VolumeOf(ra); ok {
			tab.SetVolume(vol, cluster)
		}
		return tab
	}
	bad := func(e uint64, off int64, err error) { t.Errorf("entry %d at %d: %v", e, off, err) }
	mft := table("$MFT")
	if mft.IsMirror("$MFT") {
		t.Error("$MFT taken for a mirror")
	}
	err = mft.Scan(context.Background(), func(r *ntfs.Record, _ int64) error {
		if ext[r.Entry] != 0 || r.Extension != 0 {
			t.Errorf("extension record %d delivered (as entry %d)", max(r.Entry, r.Extension), r.Entry)
		}
		n := r.LongName()
		if r.Entry == 0 && (n == nil || n.Name != "$MFT" || n.Ext == 0) {
			t.Errorf("record 0's name %+v, want $MFT from an extension record", n)
		}
		if r.Entry != 0 && n != nil && n.Name == "$MFT" {
			t.Errorf("entry %d named $MFT: an extension record of record 0 taken for a base record", r.Entry)
		}
		return nil
	}, bad)
	if err != nil {
		t.Fatal(err)
	}
	mirror := table("$MFTMirr")
	if !mirror.IsMirror("$MFTMirr") {
		t.Error("$MFTMirr not told for a mirror")
	}
	if err := mirror.Scan(context.Background(), func(*ntfs.Record, int64) error { return nil }, bad); err != nil {
		t.Fatal(err)
	}
}

// againstFLS compares the walk of img with fls -r -m: each file (unnamed
// or named $DATA) fls lists with its entry, path and deleted flag, and the
// reverse, save the unnamed reserved entries fls leaves out; the $MFT's
// bytes with icat's. It returns the number of files compared.
func againstFLS(t *testing.T, img string, sector int64) int {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	items, probs, err := fstest.Collect(context.Background(), walker(t, f, st.Size(), 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("problem: %v (offset %d)", p, p.Offset)
	}
	key := func(entry, path string, deleted bool) string { return fmt.Sprintf("%s|%s|%v", entry, path, deleted) }
	want := map[string]bool{}
	for _, l := range ntfstest.FLS(t, img, sector) {
		if l.FN || l.Dir || !strings.Contains(l.Meta, "-128-") || l.Name == "$BadClus:$Bad" {
			continue
		}
		want[key(fmt.Sprint(l.Entry), l.Name, l.Deleted)] = true
	}
	got := map[string]bool{}
	var mft fstest.Item
	for _, it := range items {
		e, _, _ := strings.Cut(it.Inode, "-")
		got[key(e, it.Path, it.Deleted)] = true
		if it.Path == "$MFT" {
			mft = it
		}
	}
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] && !strings.Contains(k, "|"+ntfs.OrphanDir+"/OrphanFile-") {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("fls files not delivered (%d): %.20q\ndelivered, not in fls (%d): %.20q", len(missing), missing, len(extra), extra)
	}
	sum := sha256.Sum256(oracle.Output(t, "icat", img, "0"))
	if mft.SHA256 != hex.EncodeToString(sum[:]) || mft.Size == 0 {
		t.Errorf("$MFT (%d bytes) differs from icat's", mft.Size)
	}
	return len(want)
}

// mftExtensions lists the $MFT's $DATA extents that istat places in other
// records than 0: entry → first VCN.
func mftExtensions(t *testing.T, img string) map[uint64]uint64 {
	t.Helper()
	oracle.Tool(t, "istat", "sleuthkit")
	row := regexp.MustCompile(`Type: 128-\d+ \tMFT Entry: (\d+) \tVCN: (\d+)`)
	out := map[uint64]uint64{}
	for _, m := range row.FindAllStringSubmatch(string(oracle.Output(t, "istat", img, "0")), -1) {
		e, _ := strconv.ParseUint(m[1], 10, 64)
		v, _ := strconv.ParseUint(m[2], 10, 64)
		if e != 0 {
			out[e] = v
		}
	}
	return out
}

// The volume FragmentedMFTVolume makes: 1 KiB clusters and records.
const fragRecord = 1024

// relocateExtent rewrites vol, a FragmentedMFTVolume, in place. Record 0
// keeps the first run of the $MFT's $DATA; extension record X (which lies
// in that run) takes the rest of record 0's runs; the extents X held go
// to a free record S, listed in record 0's $ATTRIBUTE_LIST. With
// reachable, S lies in the part X maps (a sound volume, which fls reads);
// without, in the part S itself maps (no extent read before it maps it).
// It returns S and the first VCN of the extents S holds.
func relocateExtent(t *testing.T, vol []byte, reachable bool) (uint64, uint64) {
	t.Helper()
	le := binary.LittleEndian
	mft := mftOffset(t, vol)
	r0 := vol[mft : mft+fragRecord]
	unfix(t, r0)
	dataAt := attrOffset(t, r0, ntfs.AttrData)
	ext0, _, _, err := ntfs.DataExtents(r0)
	if err != nil || len(ext0) != 1 || len(ext0[0].Runs) < 3 {
		t.Fatalf("record 0's $DATA: %v %+v", err, ext0)
	}
	runs := ext0[0].Runs
	// The attribute list, non-resident in one cluster.
	listAt := attrOffset(t, r0, ntfs.AttrAttributeList)
	lr, err := ntfs.DecodeRuns(r0[listAt+int(le.Uint16(r0[listAt+32:])):])
	if err != nil || len(lr) != 1 {
		t.Fatalf("$ATTRIBUTE_LIST runs %v %v", lr, err)
	}
	listSize := int(le.Uint64(r0[listAt+48:]))
	list := vol[lr[0].LCN*fragRecord : lr[0].LCN*fragRecord+fragRecord]
	// Row of the extension record holding the $DATA past record 0's.
	var xRow = -1
	for at := 0; at < listSize; at += int(le.Uint16(list[at+4:])) {
		if le.Uint32(list[at:]) == ntfs.AttrData && le.Uint64(list[at+16:])&0xFFFFFFFFFFFF != 0 {
			xRow = at
		}
	}
	if xRow < 0 {
		t.Fatal("no $DATA row for an extension record in the $MFT's list")
	}
	x := le.Uint64(list[xRow+16:]) & 0xFFFFFFFFFFFF
	// Record n where the $MFT's runs place it (a cluster is a record).
	all := runs
	rec := func(n uint64) []byte {
		vcn := int64(n)
		for _, r := range all {
			if vcn < r.Length {
				return vol[(r.LCN+vcn)*fragRecord : (r.LCN+vcn+1)*fragRecord]
			}
			vcn -= r.Length
		}
		t.Fatalf("record %d past the $MFT", n)
		return nil
	}
	xRec := rec(x)
	unfix(t, xRec)
	orig := bytes.Clone(xRec)
	extX, _, _, err := ntfs.DataExtents(xRec)
	if err != nil || len(extX) != 1 || extX[0].First != ext0[0].Last+1 {
		t.Fatalf("record %d's $DATA: %v %+v", x, err, extX)
	}
	all = append(slices.Clone(runs), extX[0].Runs...)
	// Record 0 keeps runs[:k], X takes runs[k:]: k as small as lets them
	// fit in X.
	xData := attrOffset(t, xRec, ntfs.AttrData)
	hdr := int(le.Uint16(xRec[xData+32:]))
	k := 1
	for ; k < len(runs) && xData+align8(hdr+len(encodeRuns(runs[k:]))+1)+8 > fragRecord-8; k++ {
	}
	var keep int64
	for _, r := range runs[:k] {
		keep += r.Length
	}
	if k >= len(runs)-1 || x >= uint64(keep) {
		t.Fatalf("cannot split %d runs (record %d)", len(runs), x)
	}
	last0 := ext0[0].Last
	// S: a free record in X's part (reachable) or in its own (not).
	lo, hi := uint64(keep), last0
	if !reachable {
		lo, hi = extX[0].First, extX[0].Last
	}
	s := uint64(0)
	for n := lo; n <= hi; n++ {
		if b := rec(n); string(b[:4]) != "FILE" || le.Uint16(b[22:])&ntfs.FlagInUse == 0 {
			s = n
			break
		}
	}
	if s == 0 {
		t.Fatalf("no free record in %d..%d", lo, hi)
	}
	// Record 0: $DATA maps VCN 0..keep-1.
	le.PutUint64(r0[dataAt+24:], uint64(keep-1))
	putRuns(t, r0[dataAt:dataAt+int(le.Uint32(r0[dataAt+4:]))], runs[:k])
	// X: $DATA maps VCN keep..last0, rebuilt at its length.
	xa := make([]byte, align8(hdr+len(encodeRuns(runs[k:]))+1))
	copy(xa, xRec[xData:xData+hdr])
	le.PutUint32(xa[4:], uint32(len(xa)))
	le.PutUint64(xa[16:], uint64(keep))
	le.PutUint64(xa[24:], last0)
	copy(xa[hdr:], encodeRuns(runs[k:]))
	clear(xRec[xData:])
	copy(xRec[xData:], xa)
	le.PutUint32(xRec[xData+len(xa):], 0xFFFFFFFF)
	le.PutUint32(xRec[24:], uint32(xData+len(xa)+8))
	// S: what X held, under S's number and sequence.
	sRec := rec(s)
	seq := uint16(1)
	if string(sRec[:4]) == "FILE" {
		seq = le.Uint16(sRec[16:]) + 1
	}
	copy(sRec, orig)
	le.PutUint16(sRec[16:], seq)
	le.PutUint32(sRec[44:], uint32(s))
	// The list: X's row now starts at VCN keep; a row for S, at the VCN
	// X's extents started at, after it.
	le.PutUint64(list[xRow+8:], uint64(keep))
	n := int(le.Uint16(list[xRow+4:]))
	row := bytes.Clone(list[xRow : xRow+n])
	le.PutUint64(row[8:], extX[0].First)
	le.PutUint64(row[16:], s|uint64(seq)<<48)
	copy(list[xRow+2*n:], list[xRow+n:listSize])
	copy(list[xRow+n:], row)
	le.PutUint64(r0[listAt+48:], uint64(listSize+n))
	le.PutUint64(r0[listAt+56:], uint64(listSize+n))
	// S in use in the $MFT's bitmap (one cluster, record 0's $BITMAP).
	bmAt := attrOffset(t, r0, 0xB0)
	br, err := ntfs.DecodeRuns(r0[bmAt+int(le.Uint16(r0[bmAt+32:])):])
	if err != nil || len(br) == 0 {
		t.Fatalf("$MFT $BITMAP runs %v %v", br, err)
	}
	vol[br[0].LCN*fragRecord+int64(s/8)] |= 1 << (s % 8)
	refix(r0)
	refix(xRec)
	refix(sRec)
	t.Logf("record 0 maps VCN 0-%d, record %d VCN %d-%d, record %d VCN %d-%d", keep-1, x, keep, last0, s, extX[0].First, extX[0].Last)
	return s, extX[0].First
}

// attrOffset0 is attrOffset's answer, 0 when there is no such attribute.
func attrOffset0(rec []byte, typ uint32) int {
	le := binary.LittleEndian
	for off := int(le.Uint16(rec[20:])); off+16 <= len(rec); {
		at, n := le.Uint32(rec[off:]), int(le.Uint32(rec[off+4:]))
		if at == typ {
			return off
		}
		if at == 0xFFFFFFFF || n < 16 {
			break
		}
		off += n
	}
	return 0
}

// firstRun is the number of records the $MFT's first run holds, the
// records at their place from the boot sector's $MFT cluster on.
func firstRun(t *testing.T, vol []byte) int64 {
	t.Helper()
	r0 := bytes.Clone(vol[mftOffset(t, vol):][:fragRecord])
	unfix(t, r0)
	ext, _, _, err := ntfs.DataExtents(r0)
	if err != nil || len(ext) == 0 || len(ext[0].Runs) == 0 {
		t.Fatalf("record 0: %v", err)
	}
	return ext[0].Runs[0].Length
}

func mftSize(t *testing.T, vol []byte) int64 {
	t.Helper()
	r0 := bytes.Clone(vol[mftOffset(t, vol):][:fragRecord])
	unfix(t, r0)
	_, size, _, err := ntfs.DataExtents(r0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func align8(n int) int { return (n + 7) &^ 7 }

// encodeRuns writes mapping pairs (the inverse of ntfs.DecodeRuns), the
// terminating zero left out.
func encodeRuns(runs []ntfs.Run) []byte {
	var out []byte
	var prev int64
	for _, r := range runs {
		l := minBytes(r.Length, false)
		d := minBytes(r.LCN-prev, true)
		out = append(out, byte(len(d))<<4|byte(len(l)))
		out = append(append(out, l...), d...)
		prev = r.LCN
	}
	return out
}

// minBytes is v little-endian in as few bytes as hold it (signed: with
// the sign in the top bit).
func minBytes(v int64, signed bool) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	n := 8
	for n > 1 {
		top, next := b[n-1], b[n-2]
		if !signed && top == 0 || signed && (top == 0 && next < 0x80 || top == 0xFF && next >= 0x80) {
			n--
			continue
		}
		break
	}
	return bytes.Clone(b[:n])
}

// putRuns writes runs over the mapping pairs of non-resident attribute a
// (which must hold them), zeros after.
func putRuns(t *testing.T, a []byte, runs []ntfs.Run) {
	t.Helper()
	ro := int(binary.LittleEndian.Uint16(a[32:]))
	enc := encodeRuns(runs)
	if ro+len(enc)+1 > len(a) {
		t.Fatalf("%d bytes of runs do not fit in %d", len(enc), len(a)-ro)
	}
	clear(a[ro:])
	copy(a[ro:], enc)
}

// attrOffset finds the first attribute of type typ in a record.
func attrOffset(t *testing.T, rec []byte, typ uint32) int {
	t.Helper()
	off := attrOffset0(rec, typ)
	if off == 0 {
		t.Fatalf("no attribute 0x%x in the record", typ)
	}
	return off
}

// unfix puts back the bytes the update sequence replaced; refix replaces
// them again (with the same check value), as a write of the record does.
func unfix(t *testing.T, rec []byte) {
	t.Helper()
	le := binary.LittleEndian
	fo, fc := int(le.Uint16(rec[4:])), int(le.Uint16(rec[6:]))
	for i := 1; i < fc; i++ {
		end := i*512 - 2
		if !bytes.Equal(rec[end:end+2], rec[fo:fo+2]) {
			t.Fatalf("fixup mismatch in sector %d", i-1)
		}
		copy(rec[end:end+2], rec[fo+2*i:fo+2*i+2])
	}
}

func refix(rec []byte) {
	le := binary.LittleEndian
	fo, fc := int(le.Uint16(rec[4:])), int(le.Uint16(rec[6:]))
	for i := 1; i < fc; i++ {
		end := i*512 - 2
		copy(rec[fo+2*i:fo+2*i+2], rec[end:end+2])
		copy(rec[end:end+2], rec[fo:fo+2])
	}
}
