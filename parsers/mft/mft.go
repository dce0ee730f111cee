// Package mft puts an NTFS Master File Table on the timeline: for every
// entry, allocated or deleted, file or directory, one event per time of its
// $STANDARD_INFORMATION and of each $FILE_NAME attribute. Both are kept:
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
package mft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
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
	warn := func(entry uint64, off int64, err error) {
		src.Warn(&parsers.RecordError{Parser: Name, Path: src.Entry.Path, Offset: off, Record: int64(entry), Err: err})
	}
	if tail := size % int64(rs); tail != 0 {
		defer warn(t.Count(), size-tail, fmt.Errorf("%w: %d trailing bytes, less than one record", io.ErrUnexpectedEOF, tail))
	}
	emitRecord := func(r *ntfs.Record, off int64) error { return events(t, r, off, emit) }
	if t.IsMirror(path.Base(src.Entry.Path)) {
		// An $MFTMirr (a volume's, or one exported beside its $MFT)
		// holds copies of the $MFT's first records: their times are the
		// $MFT's events already, and emitting them would put $MFT,
		// $MFTMirr, $LogFile and $Volume on the timeline twice. The
		// records are still decoded, so a damaged mirror is reported.
		emitRecord = func(*ntfs.Record, int64) error { return nil }
	}
	return t.Scan(ctx, emitRecord, warn)
}

// timeKinds maps the four NTFS times to plaso's descriptions, in MACB order.
var timeKinds = [4]struct {
	desc, macb string
	get        func(*ntfs.MACB) ntfs.Filetime
}{
	{"Content Modification Time", "m...", func(m *ntfs.MACB) ntfs.Filetime { return m.Modified }},
	{"Last Access Time", ".a..", func(m *ntfs.MACB) ntfs.Filetime { return m.Accessed }},
	{"Metadata Modification Time", "..c.", func(m *ntfs.MACB) ntfs.Filetime { return m.Changed }},
	{"Creation Time", "...b", func(m *ntfs.MACB) ntfs.Filetime { return m.Created }},
}

func events(t *ntfs.Table, r *ntfs.Record, off int64, emit func(*timeline.Event) error) error {
	var size int64
	if d := r.Data(); d != nil {
		size = d.Size
	}
	var ads []string
	for _, s := range r.Streams {
		if s.Name != "" && s.StartVCN == 0 {
			ads = append(ads, s.Name)
		}
	}
	base := map[string]string{
		"mft_entry":        strconv.FormatUint(r.Entry, 10),
		"sequence":         strconv.FormatUint(uint64(r.Seq), 10),
		"mft_entry_offset": strconv.FormatInt(off, 10),
		"allocated":        strconv.FormatBool(r.InUse()),
		"directory":        strconv.FormatBool(r.IsDir()),
		"links":            strconv.FormatUint(uint64(r.Links), 10),
		"lsn":              strconv.FormatUint(r.LSN, 10),
	}
	if len(ads) > 0 {
		base["ads"] = strings.Join(ads, ",")
	}
	one := func(attr string, attrOff int, times *ntfs.MACB, p string, orphan bool, extra map[string]string) error {
		for _, k := range timeKinds {
			ft := k.get(times)
			data := make(map[string]string, len(base)+len(extra)+3)
			for k, v := range base {
				data[k] = v
			}
			for k, v := range extra {
				data[k] = v
			}
			data["attribute"], data["macb"] = attr, k.macb
			if orphan {
				data["orphan"] = "true"
			}
			sz := size
			ev := &timeline.Event{
				Timestamp:     ft.Time(),
				TimestampDesc: k.desc,
				Event:         timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"info"}, Dataset: "ntfs.mft", Action: "mft-entry"},
				File:          &timeline.File{Path: p, Name: path.Base(p), Inode: r.Inode(), Size: &sz},
				Jejak:         timeline.Jejak{Data: data},
			}
			if r.IsDir() {
				ev.Event.Type = append(ev.Event.Type, "directory")
			}
			if ft.OutOfRange() {
				ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
				data["filetime"] = strconv.FormatUint(uint64(ft), 10)
			}
			state := ""
			if !r.InUse() {
				ev.Jejak.Tags = []string{"deleted"}
				state = " (deleted)"
			}
			ev.Message = fmt.Sprintf("%s %s %s%s [%s]", attr, k.macb, p, state, r.Inode())
			// The attribute's own offset: an entry's SI and FN events share
			// timestamp_desc, and the event ID must still tell them apart.
			ev.Jejak.Provenance.Offset = off + int64(attrOff)
			ev.Jejak.Provenance.Record = int64(r.Entry)
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	}
	if r.SI != nil {
		p, orphan := t.Path(r, nil)
		if err := one(AttrSI, r.SI.Offset, &r.SI.Times, p, orphan, nil); err != nil {
			return err
		}
	}
	for i := range r.Names {
		fn := &r.Names[i]
		p, orphan := t.Path(r, fn)
		extra := map[string]string{
			"name_type":  fn.SpaceName(),
			"parent_ref": fmt.Sprintf("%d-%d", fn.ParentEntry, fn.ParentSeq),
		}
		if err := one(AttrFN, fn.Offset, &fn.Times, p, orphan, extra); err != nil {
			return err
		}
	}
	return nil
}
