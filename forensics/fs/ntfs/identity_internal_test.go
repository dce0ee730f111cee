package ntfs

import (
	"fmt"
	"math"
	"testing"
)

// TestEntryIdentity: the walker's entry says "mft:" and the record's inode
// (Record.Inode, "entry-seq" in decimal) as its identity, and the inode
// itself, for every width of entry and sequence number.
func TestEntryIdentity(t *testing.T) {
	w := &Walker{chain: []string{"partition:1@1048576"}}
	for _, c := range []struct {
		entry uint64
		seq   uint16
	}{{0, 0}, {5, 1}, {9, 10}, {99, 100}, {123456, 42}, {1<<48 - 1, math.MaxUint16}, {math.MaxUint64, 7}} {
		r := &Record{Entry: c.entry, Seq: c.seq}
		e := w.entry(r, Stream{Resident: true, Content: []byte("x"), Size: 1}, "ntfs:Users/a.txt", nil)
		if e.Path != "Users/a.txt" || e.Chain[1] != "ntfs:Users/a.txt" {
			t.Errorf("path %q, chain %q", e.Path, e.Chain)
		}
		if want := fmt.Sprintf("%d-%d", c.entry, c.seq); r.Inode() != want {
			t.Errorf("entry %d seq %d: Inode %q, want %q", c.entry, c.seq, r.Inode(), want)
		}
		if e.Inode != r.Inode() || e.Identity != "mft:"+r.Inode() {
			t.Errorf("entry %d seq %d: inode %q identity %q, want %q and %q", c.entry, c.seq, e.Inode, e.Identity, r.Inode(), "mft:"+r.Inode())
		}
	}
}
