// Package mft puts an NTFS Master File Table on the timeline: for every
// entry, allocated or deleted, file or directory, one event per distinct
// time of its $STANDARD_INFORMATION and of each $FILE_NAME attribute, with
// jejak.data.macb naming the times it is ("m.cb": modified, metadata
// changed and created at that time; mactime's convention) and
// timestamp_desc naming them in MACB order joined by "; " (a lone time
// keeps plaso's description, "Last Access Time"). Both attributes are kept:
// $FILE_NAME times are set by the kernel only, so a $STANDARD_INFORMATION
// earlier than them is the classic sign of timestomping.
//
// An $MFTMirr, whose records look like an MFT's, is recognised by the
// sizes its own records give, or when it is a whole copy of a one-cluster
// MFT by its name (ntfs.Table.IsMirror), and adds no events: its records
// are copies of the $MFT's.
//
// It reads a $MFT yielded by the NTFS walker or extracted by any tool;
// records are decoded by forensics/fs/ntfs, which also resolves paths the
// way The Sleuth Kit does (deleted parents followed by sequence number,
// "$OrphanFiles/..." when the chain is broken).
//
// An entry whose attributes overflow into extension records has them
// named by its $ATTRIBUTE_LIST. A resident list is followed in the $MFT; a
// non-resident one (ntfs-3g makes it at about 20 hard links) lies in
// clusters of the volume, and is followed when the $MFT's reader gives the
// volume (ntfs.VolumeSource, the NTFS walker's). Read alone, the $MFT's
// extension records name their base: their names are the base entry's
// events where the scan meets them, each at its own offset in $MFT, and
// what cannot be put on an event (named streams of a record without a
// name; the paths under a folder whose names all moved out) is a warning
// naming the entry.
//
// Memory does not grow with the MFT: records are read in batches, paths
// resolved through ntfs.Table's bounded parent cache, and the events are
// built on every core in batches of 64 entries, a few batches at a time,
// and handed to emit in entry order (parallel.go, docs/PERFORMANCE.md).
package mft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "mft"

// Attribute names as written to jejak.data.attribute.
const (
	AttrSI = "$STANDARD_INFORMATION"
	AttrFN = "$FILE_NAME"
)

// Parser reads $MFT files.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the $MFT parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess: a path needs the parent
// records, read out of order.
func (*Parser) NeedsReaderAt() bool { return true }

// Match accepts a file whose first record is an MFT record of a plausible
// size, whatever its name ($MFT, MFT, mft.bin, an export).
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	n := ntfs.RecordSizeOf(head)
	if n == 0 || len(head) < 48 {
		return false
	}
	attr := int(head[20]) | int(head[21])<<8
	fixup := int(head[4]) | int(head[5])<<8
	return attr >= 42 && attr < n && fixup >= 40 && fixup < attr
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	if src.ReaderAt == nil {
		return errors.New("mft: random access needed")
	}
	var head [64]byte
	if n, _ := src.ReaderAt.ReadAt(head[:], 0); n < len(head) {
		return fmt.Errorf("mft: file too short (%d bytes)", n)
	}
	rs := ntfs.RecordSizeOf(head[:])
	if rs == 0 {
		return errors.New("mft: first record is not an MFT record")
	}
	size := src.Size
	if size < 0 {
		return errors.New("mft: size unknown")
	}
	t := ntfs.NewTable(src.ReaderAt, size, rs)
	if vol, cluster, ok := ntfs.VolumeOf(src.ReaderAt); ok {
		// The $MFT of a volume the walker reads: a non-resident
		// $ATTRIBUTE_LIST is followed there. A $MFT alone puts the
		// extension records it names on their base entry where they lie.
		t.SetVolume(vol, cluster)
	}
	src = src.As(Name)
	warn := func(entry uint64, off int64, err error) {
		// The MFT entry number is the record: it is what fls and
		// examiners quote.
		src.WarnErr(off, int64(entry), err)
	}
	if tail := size % int64(rs); tail != 0 {
		defer warn(t.Count(), size-tail, fmt.Errorf("%w: %d trailing bytes, less than one record", io.ErrUnexpectedEOF, tail))
	}
	if t.IsMirror(path.Base(src.Entry.Path)) {
		// An $MFTMirr (a volume's, or one exported beside its $MFT)
		// holds copies of the $MFT's first records: their times are the
		// $MFT's events already, and emitting them would put $MFT,
		// $MFTMirr, $LogFile and $Volume on the timeline twice. The
		// records are still decoded, so a damaged mirror is reported.
		return t.Scan(ctx, func(*ntfs.Record, int64) error { return nil }, warn)
	}
	// Events are built on every core and emitted in entry order on the
	// caller's goroutine (parallel.go).
	return scanTimeline(ctx, t, emit, warn)
}

// unlisted is the warning for an extension record that the scan delivers
// on its own, as its base entry's (ntfs.Record.Extension: the base's
// $ATTRIBUTE_LIST lies outside the $MFT, or is damaged), and that holds
// named streams but neither a name nor times: no event of the entry can
// list them in its ads. Its names, when it has any, are events of the
// entry like the base record's own.
func unlisted(r *ntfs.Record) error {
	if r.Extension == 0 || len(r.Names) > 0 || r.SI != nil {
		return nil
	}
	var names []string
	for _, s := range r.Streams {
		if s.Ext != 0 && s.Type == ntfs.AttrData && s.Name != "" {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("extension record %d of MFT entry %d holds %d named streams (%s) not listed in the entry's ads: its $ATTRIBUTE_LIST is out of the $MFT, in clusters of the volume",
		r.Extension, r.Entry, len(names), strings.Join(names, ","))
}

type resolved struct {
	path   string
	orphan bool
}

// paths resolves the path of each of r's names, and last the one its
// $STANDARD_INFORMATION events use (its long name's), into out (reused
// from entry to entry).
func paths(t *ntfs.Table, r *ntfs.Record, out []resolved) []resolved {
	out = slices.Grow(out, len(r.Names)+1)[:len(r.Names)+1]
	long := r.LongName()
	for i := range r.Names {
		out[i].path, out[i].orphan = t.Path(r, &r.Names[i])
		if &r.Names[i] == long {
			out[len(r.Names)] = out[i]
		}
	}
	if long == nil {
		out[len(r.Names)].path, out[len(r.Names)].orphan = t.Path(r, nil)
	}
	return out
}

// timeKinds maps the four NTFS times to plaso's descriptions, in MACB order.
var timeKinds = [4]struct {
	desc string
	get  func(*ntfs.MACB) ntfs.Filetime
}{
	{"Content Modification Time", func(m *ntfs.MACB) ntfs.Filetime { return m.Modified }},
	{"Last Access Time", func(m *ntfs.MACB) ntfs.Filetime { return m.Accessed }},
	{"Metadata Modification Time", func(m *ntfs.MACB) ntfs.Filetime { return m.Changed }},
	{"Creation Time", func(m *ntfs.MACB) ntfs.Filetime { return m.Created }},
}

// macbOf and descOf give, for a set of the four times (bit i is
// timeKinds[i]), the mactime letters ("m.cb": a dot for a time not in the
// set) and the descriptions joined in MACB order with "; ". Made once: an
// event takes its strings from here and allocates none for them.
var macbOf, descOf = func() (macb, desc [16]string) {
	for set := 1; set < 16; set++ {
		letters := []byte("....")
		var descs []string
		for i, k := range timeKinds {
			if set&(1<<i) != 0 {
				letters[i] = "macb"[i]
				descs = append(descs, k.desc)
			}
		}
		macb[set], desc[set] = string(letters), strings.Join(descs, "; ")
	}
	return macb, desc
}()

// timeGroups splits an attribute's four times into its distinct times, as
// mactime merges a bodyfile line's equal times into one row: sets[j] holds
// the times equal to the j-th distinct one, in MACB order of their first
// time. Times are compared as raw FILETIMEs, so two out-of-range times are
// one event only when the same value was written.
func timeGroups(m *ntfs.MACB) (sets [4]uint8, times [4]ntfs.Filetime, n int) {
	for i, k := range timeKinds {
		ft := k.get(m)
		j := 0
		for j < n && times[j] != ft {
			j++
		}
		if j == n {
			times[n] = ft
			n++
		}
		sets[j] |= 1 << i
	}
	return sets, times, n
}

// Slices every event of a kind shares. Their capacity is their length, so
// a consumer that appends (ingest adds "deleted" to a deleted file's
// events) gets a copy; nothing in jejak changes one in place.
var (
	categoryFile = []string{"file"}
	typeFile     = []string{"info"}
	typeDir      = []string{"info", "directory"}
	tagsDeleted  = []string{"deleted"}
)

// events appends the entry's events to out: one per distinct time of each
// time attribute, its macb letters naming the times it is (mactime's
// convention; fls -m prints an attribute's four times on one line). On a
// volume most files were created and last written in one go, so an
// attribute has one or two distinct times, not four: the store's cost is
// per event (issue 15). Nothing is lost: every time of every attribute is
// an event's timestamp, and its macb and timestamp_desc say which.
//
// It runs for every MFT entry, so it is written to allocate little
// (issue 15: building the events was most of the MFT timeline's CPU):
//   - each event is a block (recycle.go) holding its File and size and
//     keeping its jejak.data map: blocks the ingest gives back once stored
//     (Parser.Recycle) are reused, map tables included, and fresh ones
//     come from a slab, many per allocation. macb and timestamp_desc come
//     from tables (macbOf, descOf).
//   - an event's jejak.data is a map of its own (consumers own it), 10 to
//     13 keys. A recycled block's map is emptied and filled key by key;
//     for fresh blocks the attribute's first map is filled key by key, the
//     others are clones of it (maps.Clone copies the table without
//     hashing again) and the last event takes the template itself.
//   - every string the entry's events hold that is not already a string
//     (numbers, inode, parent references, the messages) is written into
//     one buffer, made one string and sliced: one allocation.
func (b *builder) events(r *ntfs.Record, off int64, rs int, paths []resolved, out []*timeline.Event) []*timeline.Event {
	nattr := len(r.Names)
	if r.SI != nil {
		nattr++
	}
	if nattr == 0 {
		return out
	}
	var size int64
	if d := r.Data(); d != nil {
		size = d.Size
	}
	var ads string
	for _, s := range r.Streams {
		if s.Name != "" && s.StartVCN == 0 {
			if ads != "" {
				ads += ","
			}
			ads += s.Name
		}
	}
	dir, inUse := r.IsDir(), r.InUse()
	typ, state := typeFile, ""
	if dir {
		typ = typeDir
	}
	var tags []string
	if !inUse {
		tags, state = tagsDeleted, " (deleted)"
	}
	// The attributes in event order: $STANDARD_INFORMATION (under the
	// path of the long name), then each $FILE_NAME.
	type attribute struct {
		name   string
		off    int
		ext    uint64     // the extension record holding it, 0: the base's
		all    *ntfs.MACB // its four times
		path   string
		orphan bool
		fn     *ntfs.FileName
		// its distinct times (timeGroups)
		sets  [4]uint8
		times [4]ntfs.Filetime
		n     int
		// ends of its parent reference and of its messages in text
		ref, msg int
		msgLen   int
	}
	var attrsBuf [4]attribute
	attrs := attrsBuf[:0]
	if r.SI != nil {
		si := paths[len(r.Names)]
		attrs = append(attrs, attribute{name: AttrSI, off: r.SI.Offset, ext: r.SI.Ext, all: &r.SI.Times, path: si.path, orphan: si.orphan})
	}
	for i := range r.Names {
		fn := &r.Names[i]
		attrs = append(attrs, attribute{name: AttrFN, off: fn.Offset, ext: fn.Ext, all: &fn.Times, path: paths[i].path, orphan: paths[i].orphan, fn: fn})
	}
	nev := 0
	for i := range attrs {
		a := &attrs[i]
		a.sets, a.times, a.n = timeGroups(a.all)
		nev += a.n
	}
	// The text: "<entry>-<seq>" (the inode), the offset, links and LSN,
	// then per attribute its parent reference and one message per distinct
	// time, "<attr> <macb> <path><state> [<inode>]" (macb is always four
	// characters, so an attribute's messages are of one length).
	// It is written in the builder's scratch (kept from entry to entry),
	// so that the string made of it is the only allocation.
	buf := b.text[:0]
	defer func() { b.text = buf }()
	buf = strconv.AppendUint(buf, r.Entry, 10)
	eEntry := len(buf)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, uint64(r.Seq), 10)
	eInode := len(buf)
	buf = strconv.AppendInt(buf, off, 10) // an offset: signed
	eOff := len(buf)
	buf = strconv.AppendUint(buf, uint64(r.Links), 10)
	eLinks := len(buf)
	buf = strconv.AppendUint(buf, r.LSN, 10)
	eLSN := len(buf)
	for i := range attrs {
		a := &attrs[i]
		if a.fn != nil {
			buf = strconv.AppendUint(buf, a.fn.ParentEntry, 10)
			buf = append(buf, '-')
			buf = strconv.AppendUint(buf, uint64(a.fn.ParentSeq), 10)
		}
		a.ref = len(buf)
		start := len(buf)
		for _, set := range a.sets[:a.n] {
			buf = append(buf, a.name...)
			buf = append(buf, ' ')
			buf = append(buf, macbOf[set]...)
			buf = append(buf, ' ')
			buf = append(buf, a.path...)
			buf = append(buf, state...)
			buf = append(buf, " ["...)
			buf = append(buf, buf[:eInode]...)
			buf = append(buf, ']')
		}
		a.msg = len(buf)
		a.msgLen = (a.msg - start) / a.n
	}
	text := string(buf)
	entry, seq, inode := text[:eEntry], text[eEntry+1:eInode], text[:eInode]
	entryOff, links, lsn := text[eInode:eOff], text[eOff:eLinks], text[eLinks:eLSN]

	prev := eLSN
	for ai := range attrs {
		a := &attrs[ai]
		ref, msgs := text[prev:a.ref], text[a.ref:a.msg]
		prev = a.msg
		// What the attribute's events' data share, key by key.
		fill := func(m map[string]string) {
			m["mft_entry"] = entry
			m["sequence"] = seq
			m["mft_entry_offset"] = entryOff
			m["allocated"] = strconv.FormatBool(inUse)
			m["directory"] = strconv.FormatBool(dir)
			m["links"] = links
			m["lsn"] = lsn
			if ads != "" {
				m["ads"] = ads
			}
			m["attribute"] = a.name
			if a.fn != nil {
				m["name_type"] = a.fn.SpaceName()
				m["parent_ref"] = ref
			}
			if a.orphan {
				m["orphan"] = "true"
			}
		}
		// proto is filled once for the events whose block brings no map
		// of its own (a fresh one): they get clones of it, and the last
		// one the template itself; the hint leaves room for macb and
		// filetime, so neither a clone nor the template grows.
		var proto map[string]string
		file := timeline.File{Path: a.path, Name: path.Base(a.path), Inode: inode}
		for i, set := range a.sets[:a.n] {
			ft := a.times[i]
			blk := b.block()
			data := blk.data
			if data != nil {
				// A recycled block's map: emptied, its table kept.
				fill(data)
			} else {
				if proto == nil {
					proto = make(map[string]string, 14)
					fill(proto)
				}
				if i < a.n-1 {
					data = maps.Clone(proto)
				} else {
					data, proto = proto, nil
				}
				blk.data = data
			}
			data["macb"] = macbOf[set]
			blk.size = size
			blk.file = file
			blk.file.Size = &blk.size
			ev := &blk.ev
			ev.Timestamp = ft.Time()
			ev.TimestampDesc = descOf[set]
			ev.Event = timeline.EventMeta{Kind: "event", Category: categoryFile, Type: typ, Dataset: "ntfs.mft", Action: "mft-entry"}
			ev.File = &blk.file
			ev.Jejak.Data = data
			ev.Jejak.Tags = tags
			if ft.OutOfRange() {
				ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
				data["filetime"] = strconv.FormatUint(uint64(ft), 10)
			}
			ev.Message = msgs[i*a.msgLen : (i+1)*a.msgLen]
			// The attribute's own offset: an entry's SI and FN events may
			// share timestamp_desc, and the event ID must still tell them
			// apart. An attribute of an extension record (a hard link's
			// name past the base record) is at its offset in that record.
			ev.Jejak.Provenance.Offset = off + int64(a.off)
			if a.ext != 0 {
				ev.Jejak.Provenance.Offset = int64(a.ext)*int64(rs) + int64(a.off)
			}
			ev.Jejak.Provenance.Record = int64(r.Entry)
			out = append(out, ev)
		}
	}
	return out
}
