package registry

import (
	"encoding/binary"
	"fmt"
	"unicode"
)

// Deleted keys: Windows frees a deleted key's cells without wiping them,
// so a key node stays readable in free space until the space is reused.
// The hive bins are scanned for free cells (positive size) holding a key
// node; each one that reads cleanly (a plausible name and time) is an
// event tagged "deleted" and "recovered", under its old parent's path when that parent is
// still a live key. Its values are summarised when their cells still read.

// Tags of keys recovered from free cells: deleted (what they are, as the
// mft parser tags deleted files) and recovered (where they were read, as
// the evtx parser tags records from slack; ingest's accounting names it).
const (
	TagDeleted   = "deleted"
	TagRecovered = "recovered"
)

// FreeKeys returns the key nodes found in free cells, in file order.
func (h *Hive) FreeKeys() []*Key {
	if !h.freeDone {
		h.free, h.freeDone = h.scanFree(), true
	}
	return h.free
}

func (h *Hive) scanFree() []*Key {
	var out []*Key
	le := binary.LittleEndian
	d := h.data
	for bin := int64(baseBlockSize); bin+32 <= int64(len(d)); {
		if string(d[bin:bin+4]) != hbinMagic {
			break
		}
		size := int64(le.Uint32(d[bin+8:]))
		if size < 4096 || bin+size > int64(len(d)) {
			break
		}
		for c := bin + 32; c+4 <= bin+size; {
			cs := int64(int32(le.Uint32(d[c:])))
			free := cs > 0
			if cs < 0 {
				cs = -cs
			}
			if cs < 8 || c+cs > bin+size {
				break // damaged cell chain: the rest of the bin is not read
			}
			if free {
				out = append(out, keysIn(d, c, c+cs)...)
			}
			c += cs
		}
		bin += size
	}
	return out
}

// keysIn finds key nodes in the free region [start, end): at its start,
// and at every 8-byte boundary inside it (a free cell coalesced from
// several old cells keeps their contents), where an old cell's size field
// fits in the region.
func keysIn(d []byte, start, end int64) []*Key {
	var out []*Key
	le := binary.LittleEndian
	for p := start; p+4+76 <= end; p += 8 {
		if d[p+4] != 'n' || d[p+5] != 'k' {
			continue
		}
		size := int64(int32(le.Uint32(d[p:])))
		if size < 0 {
			size = -size
		}
		if p == start {
			size = end - start
		}
		if size < 80 || p+size > end {
			continue
		}
		if k, err := parseKey(d[p+4:p+size], p); err == nil && plausibleName(k.Name) && !k.Written.OutOfRange() {
			out = append(out, k)
		}
	}
	return out
}

func plausibleName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\\' {
			return false
		}
	}
	return true
}

// deleted emits the keys recovered from free cells.
func (w *walker) deleted(paths map[int64]string) error {
	for _, k := range w.hive.FreeKeys() {
		parent := fmt.Sprintf(`<unknown parent at 0x%x>`, k.Parent)
		if p, ok := paths[baseBlockSize+int64(k.Parent)]; ok {
			parent = p
		}
		path := joinKey(parent, k.Name)
		vals, errs := w.hive.Values(k)
		msg := summarise(path, vals)
		if len(errs) > 0 {
			msg += fmt.Sprintf(" (%d values not recovered)", len(errs))
		}
		w.st.Recovered++
		ev := w.keyEventOf(k, path, "(deleted) "+msg, len(vals))
		ev.Jejak.Tags = []string{TagDeleted, TagRecovered}
		if err := w.emit(ev); err != nil {
			return err
		}
	}
	return nil
}
