package jumplist

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lnk"
	"github.com/jejak-forensics/jejak/timeline"
)

// Custom reads *.customDestinations-ms files.
type Custom struct{}

var _ parsers.Parser = (*Custom)(nil)

// NewCustom returns the custom jump list parser.
func NewCustom() *Custom { return &Custom{} }

// Name implements parsers.Parser.
func (*Custom) Name() string { return CustomName }

// customFooter closes each category.
const customFooter = 0xbabffbab

// linkEntry is what precedes each link in a category: the shell link
// CLSID, and the link's own header (size 0x4c, the CLSID again).
var linkEntry = []byte{
	0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
	0x4c, 0x00, 0x00, 0x00,
	0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
}

// Match accepts the file header (version 2, a sane category count) when a
// first category type follows and the head holds a link entry: custom
// destinations have no magic of their own.
func (*Custom) Match(_ *jfs.Entry, head []byte) bool {
	if len(head) < 16+len(linkEntry) {
		return false
	}
	le := binary.LittleEndian
	if le.Uint32(head) != 2 || le.Uint32(head[4:]) == 0 || le.Uint32(head[4:]) > 1024 || le.Uint32(head[12:]) > 2 {
		return false
	}
	return bytes.Contains(head, linkEntry)
}

// Requires implements parsers.Requirer: the little-endian uint32 2 first.
func (*Custom) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\x02")}
}

// knownCategories names the category IDs of known categories.
var knownCategories = map[uint32]string{1: "Frequent", 2: "Recent"}

// Parse implements parsers.Parser: the header (version, category count,
// a reserved value), then per category its type (0 custom: name and entry
// count; 1 known: an ID, no entries here; 2 tasks: entry count), the
// entries (a CLSID and a shell link each) and the footer. When the
// structure breaks, the rest of the file is searched for links, each read
// with the loss reported.
func (p *Custom) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(CustomName)
	b, err := io.ReadAll(io.LimitReader(src.R, maxFile+1))
	if err != nil {
		return fmt.Errorf("jumplist: %s: read: %w", src.Entry.Path, err)
	}
	if len(b) > maxFile {
		return fmt.Errorf("jumplist: %s: larger than %d bytes, not read as a custom jump list", src.Entry.Path, maxFile)
	}
	le := binary.LittleEndian
	if len(b) < 12 || le.Uint32(b) != 2 {
		return fmt.Errorf("jumplist: %s: no custom destinations header (version 2) at offset 0", src.Entry.Path)
	}
	appID := AppID(src.Entry.Path)
	warn := func(off int64, err error) {
		src.WarnErr(off, 0, err)
	}
	var rec int64
	link := func(off int, category string) (int, error) {
		rec++
		l, warns, err := lnk.Decode(b[off:])
		if err != nil {
			warn(int64(off), err)
			return 0, nil
		}
		for _, w := range warns {
			warn(int64(off), w)
		}
		evs := lnk.Events(l, int64(off))
		if len(evs) == 0 {
			// Task links often carry no target times: the link is still
			// a record, reported, so it is not lost unseen.
			target, _ := l.TargetPath()
			if target == "" {
				target = l.IDListPath
			}
			warn(int64(off), fmt.Errorf("%w: link in category %q (target %q, arguments %q) has no target time set",
				ErrFormat, category, target, l.Arguments))
		}
		for _, ev := range evs {
			ev.Event.Dataset = dataset
			ev.Message = "jump list " + category + ": " + ev.Message
			ev.Jejak.Provenance.Record = rec
			ev.Jejak.Data["jumplist.app_id"] = appID
			ev.Jejak.Data["jumplist.kind"] = "custom"
			ev.Jejak.Data["jumplist.category"] = category
			dropEmpty(ev.Jejak.Data)
			if err := emit(ev); err != nil {
				return 0, err
			}
		}
		return l.Size, nil
	}
	ncat := le.Uint32(b[4:])
	off := 12
	broken := func(at int, format string, a ...any) error {
		warn(int64(at), fmt.Errorf("%w: %s; the rest of the file is searched for links", ErrFormat, fmt.Sprintf(format, a...)))
		return p.scan(b, at, link)
	}
	for c := uint32(0); c < ncat; c++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if off+4 > len(b) {
			return broken(off, "category %d of %d cut", c+1, ncat)
		}
		typ := le.Uint32(b[off:])
		var name string
		var n uint32
		switch typ {
		case 0:
			if off+6 > len(b) {
				return broken(off, "custom category %d cut", c+1)
			}
			chars := int(le.Uint16(b[off+4:]))
			if off+6+2*chars+4 > len(b) {
				return broken(off, "custom category %d name of %d characters past the end", c+1, chars)
			}
			name = utf16z(b[off+6 : off+6+2*chars])
			n = le.Uint32(b[off+6+2*chars:])
			off += 6 + 2*chars + 4
		case 1:
			if off+8 > len(b) {
				return broken(off, "known category %d cut", c+1)
			}
			id := le.Uint32(b[off+4:])
			name = knownCategories[id]
			if name == "" {
				name = "known category " + strconv.Itoa(int(int32(id)))
			}
			off += 8
		case 2:
			if off+8 > len(b) {
				return broken(off, "task category %d cut", c+1)
			}
			name, n = "Tasks", le.Uint32(b[off+4:])
			off += 8
		default:
			return broken(off, "category %d has unknown type %d", c+1, typ)
		}
		for i := uint32(0); i < n; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if off+len(linkEntry) > len(b) || !bytes.Equal(b[off:off+len(linkEntry)], linkEntry) {
				return broken(off, "category %q entry %d of %d is not a shell link", name, i+1, n)
			}
			size, err := link(off+16, name)
			if err != nil {
				return err
			}
			if size == 0 {
				return broken(off+16, "category %q entry %d unreadable", name, i+1)
			}
			off += 16 + size
		}
		if off+4 > len(b) || le.Uint32(b[off:]) != customFooter {
			return broken(off, "category %q has no footer", name)
		}
		off += 4
	}
	if off < len(b) {
		if rest := b[off:]; len(bytes.Trim(rest, "\x00")) > 0 {
			return broken(off, "%d bytes after the last category", len(rest))
		}
	}
	return nil
}

// scan reads every shell link found from off on, for a file whose
// category structure is damaged.
func (p *Custom) scan(b []byte, off int, link func(int, string) (int, error)) error {
	for off < len(b) {
		i := bytes.Index(b[off:], linkEntry)
		if i < 0 {
			return nil
		}
		at := off + i + 16
		size, err := link(at, "(damaged)")
		if err != nil {
			return err
		}
		off = at + max(size, 4)
	}
	return nil
}
