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
	"sort"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestAttributeListAgainstFLS walks a volume whose entries overflow into
// extension records through a non-resident $ATTRIBUTE_LIST (150 hard
// links, 200 named streams, a file in ~1000 fragments) and checks the
// walk against fls -r -m and icat: every file and named stream fls lists
// is delivered under each of its paths, with the bytes icat reads.
func TestAttributeListAgainstFLS(t *testing.T) {
	img, entries := ntfstest.AttrListVolume(t)
	for name, e := range entries {
		if !nonResidentList(t, img, e) {
			t.Fatalf("%s (entry %d): $ATTRIBUTE_LIST is resident; the volume does not test what it should", name, e)
		}
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	items, probs := fstest.Contract(t, walker(t, f, st.Size(), 0, 1))
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	byPath := map[string]fstest.Item{}
	for _, it := range items {
		byPath[it.Path] = it
	}
	want := map[uint64]int{}
	for _, l := range ntfstest.FLS(t, img, 0) {
		if l.FN || l.Dir || !strings.Contains(l.Meta, "-128-") || l.Name == "$BadClus:$Bad" || strings.HasPrefix(l.Name, "fill/") {
			continue
		}
		if _, ours := entries[strings.SplitN(l.Name, ":", 2)[0]]; !ours && !strings.HasPrefix(l.Name, "links/") {
			continue
		}
		want[l.Entry]++
		it, ok := byPath[l.Name]
		if !ok {
			t.Errorf("fls file %q (%s) not delivered", l.Name, l.Meta)
			continue
		}
		if !strings.HasPrefix(it.Inode, fmt.Sprint(l.Entry)+"-") || it.Size != l.Size {
			t.Errorf("%s: inode %s size %d, fls %s size %d", l.Name, it.Inode, it.Size, l.Meta, l.Size)
		}
		if it.SHA256 != icatSHA(t, img, l.Meta) {
			t.Errorf("%s: content differs from icat %s", l.Name, l.Meta)
		}
	}
	if n := want[entries["links/target"]]; n != 151 {
		t.Errorf("fls lists %d paths of links/target, want 151", n)
	}
	if n := want[entries["streams.txt"]]; n != 201 {
		t.Errorf("fls lists %d streams of streams.txt, want 201", n)
	}
	t.Logf("%d entries delivered; checked against fls: %v", len(items), want)
}

// icatSHA is the SHA-256 of what icat reads of entry-type-id meta.
func icatSHA(t *testing.T, img, meta string) string {
	t.Helper()
	sum := sha256.Sum256(oracle.Output(t, "icat", img, meta))
	return hex.EncodeToString(sum[:])
}

// nonResidentList says whether entry's record in img holds a non-resident
// $ATTRIBUTE_LIST, as istat reports it.
func nonResidentList(t *testing.T, img string, entry uint64) bool {
	t.Helper()
	for _, l := range strings.Split(string(oracle.Output(t, "istat", img, fmt.Sprint(entry))), "\n") {
		if strings.HasPrefix(l, "Type: $ATTRIBUTE_LIST") {
			return strings.Contains(l, "Non-Resident")
		}
	}
	return false
}

// TestDamagedAttributeList breaks the run list of the hard-linked file's
// non-resident $ATTRIBUTE_LIST in a copy of the volume (its cluster moved
// past the end of the volume): the walk reports it, naming the entry and
// the offset of the list in $MFT, and still delivers every path of the
// file, from the extension records that name their base.
func TestDamagedAttributeList(t *testing.T) {
	img, entries := ntfstest.AttrListVolume(t)
	vol, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(vol), int64(len(vol)), 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	entry := entries["links/target"]
	rec := mftOffset(t, vol) + int64(entry)*1024
	listOff, runs := listRuns(t, vol[rec:rec+1024])
	// The run's LCN bytes (after the header and length) set to 0x7f...:
	// a cluster far past the end of the volume.
	h := vol[rec+runs]
	nl, no := int(h&0xf), int(h>>4)
	for i := range no {
		vol[rec+runs+1+int64(nl)+int64(i)] = 0xff
	}
	vol[rec+runs+int64(nl+no)] = 0x7f
	items, probs, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(vol), int64(len(vol)), 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 1 || probs[0].Offset != int64(entry)*1024+listOff || !errors.Is(probs[0].Err, jfs.ErrCorrupt) ||
		!strings.Contains(probs[0].Err.Error(), fmt.Sprintf("MFT entry %d", entry)) {
		t.Fatalf("problems %v, want one for entry %d at $MFT offset %d", probs, entry, int64(entry)*1024+listOff)
	}
	t.Logf("reported: %v (offset %d)", probs[0], probs[0].Offset)
	paths := func(items []fstest.Item) []string {
		var out []string
		for _, it := range items {
			if strings.HasPrefix(it.Inode, fmt.Sprint(entry)+"-") {
				out = append(out, it.Path)
			}
		}
		sort.Strings(out)
		return out
	}
	if g, w := paths(items), paths(good); strings.Join(g, ",") != strings.Join(w, ",") || len(w) != 151 {
		t.Errorf("damaged list: %d paths of entry %d delivered, the sound volume %d (want 151)\nmissing or extra: %v", len(g), entry, len(w), diff(g, w))
	}
}

func diff(a, b []string) []string {
	in := map[string]int{}
	for _, s := range a {
		in[s]++
	}
	for _, s := range b {
		in[s]--
	}
	var out []string
	for s, n := range in {
		if n != 0 {
			out = append(out, fmt.Sprint(s, n))
		}
	}
	return out
}

// listRuns finds the non-resident $ATTRIBUTE_LIST of a record (fixups do
// not touch it: it lies in the first sector) and returns the offset of
// the attribute and of its mapping pairs in the record.
func listRuns(t *testing.T, rec []byte) (attr, runs int64) {
	t.Helper()
	le := binary.LittleEndian
	off := int(le.Uint16(rec[20:]))
	for off+16 < len(rec) {
		typ, n := le.Uint32(rec[off:]), int(le.Uint32(rec[off+4:]))
		if typ == ntfs.AttrAttributeList && rec[off+8] != 0 {
			return int64(off), int64(off) + int64(le.Uint16(rec[off+32:]))
		}
		if typ == 0xffffffff || n < 16 {
			break
		}
		off += n
	}
	t.Fatal("no non-resident $ATTRIBUTE_LIST in the record")
	return 0, 0
}
