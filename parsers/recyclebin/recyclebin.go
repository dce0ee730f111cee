// Package recyclebin reads the Windows Recycle Bin's index files: the $I
// files of $Recycle.Bin (Vista and later: version 1, a fixed 520-byte
// path; version 2, Windows 10 and later, a counted path) and the INFO2
// file of RECYCLER / RECYCLED (Windows 95 to XP and 2003: one record per
// deleted file). Each deleted file is an event at its deletion time with
// its original path and size; the user's SID is taken from the folder the
// index file lies in when that folder is named by one.
//
// No Go module for these formats is served here; they are decoded in this
// package, and rifiuti2 (rifiuti-vista, rifiuti2) is the oracle the tests
// compare with.
package recyclebin

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "recyclebin"

// ErrFormat marks a Recycle Bin structure that cannot be read.
var ErrFormat = errors.New("recycle bin index")

const (
	iHeader   = 24            // version, size, deletion time
	iV1Size   = iHeader + 520 // a version 1 $I file is exactly this long
	info2Head = 20
	// maxFile bounds what is read: an INFO2 of a million records is 800 MB;
	// none comes near that.
	maxFile = 256 << 20
)

// Parser reads $I and INFO2 files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the Recycle Bin parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match recognises both formats by structure: neither has a magic. A $I
// file has version 1 or 2, a deletion time in the plausible range, a path
// that starts like one ("C:\", "\\") and the length its version implies;
// a file named $I… is taken on the version and length alone. An INFO2
// has version 4 or 5, the record size that goes with it, a length of
// whole records and a first record whose path starts like one; the name
// INFO2 takes one without records.
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	size := e.Size
	if size < 0 {
		size = int64(len(head))
	}
	// The name is asked only of a head the structure takes without a
	// strong reason: most files of an image fail both structure tests on
	// their first bytes, and the name's ReplaceAll and Base cost more.
	if ok, strong := matchI(head, size); ok && (strong || strings.HasPrefix(baseName(e.Path), "$I")) {
		return true
	}
	ok, strong := matchINFO2(head, size)
	return ok && (strong || strings.EqualFold(baseName(e.Path), "INFO2"))
}

// Requires implements parsers.Requirer: a $I file's version (1 or 2, a
// little-endian uint64) or INFO2's (4 or 5, a uint32) is its first byte.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\x01\x02\x04\x05")}
}

// baseName is the last element of a path written with '/' or '\'.
func baseName(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}

func matchI(b []byte, size int64) (ok, strong bool) {
	if len(b) < iHeader+8 {
		return false, false
	}
	le := binary.LittleEndian
	version := le.Uint64(b)
	var p []byte
	switch version {
	case 1:
		if size != iV1Size {
			return false, false
		}
		p = b[iHeader:]
	case 2:
		n := int64(le.Uint32(b[iHeader:]))
		if size != iHeader+4+2*n || n == 0 {
			return false, false
		}
		p = b[iHeader+4:]
	default:
		return false, false
	}
	ft := ntfs.Filetime(le.Uint64(b[16:]))
	return true, !ft.OutOfRange() && pathStart(p, true)
}

func matchINFO2(b []byte, size int64) (ok, strong bool) {
	if len(b) < info2Head {
		return false, false
	}
	le := binary.LittleEndian
	version, rec := le.Uint32(b), int64(le.Uint32(b[12:]))
	if !(version == 5 && rec == 800) && !(version == 4 && rec == 280) {
		return false, false
	}
	if (size-info2Head)%rec != 0 {
		return false, false
	}
	if size == info2Head || len(b) < info2Head+4 {
		return true, false
	}
	r := b[info2Head:]
	// An emptied record's path has its first byte zeroed.
	return true, pathStart(r, false) || (r[0] == 0 && r[1] == ':' && r[2] == '\\')
}

// pathStart reports whether b starts like a Windows path: "X:\" or "\\",
// in UTF-16LE when wide.
func pathStart(b []byte, wide bool) bool {
	at := func(i int) byte {
		if wide {
			if 2*i+1 >= len(b) || b[2*i+1] != 0 {
				return 0
			}
			return b[2*i]
		}
		if i >= len(b) {
			return 0
		}
		return b[i]
	}
	c0, c1, c2 := at(0), at(1), at(2)
	drive := (c0|0x20) >= 'a' && (c0|0x20) <= 'z' && c1 == ':' && c2 == '\\'
	return drive || (c0 == '\\' && c1 == '\\')
}

// sidFolder is the name Windows gives each user's folder in the bin.
var sidFolder = regexp.MustCompile(`^S-1-\d+(-\d+)+$`)

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(src.R, maxFile+1))
	if err != nil {
		return fmt.Errorf("recyclebin: %s: read: %w", src.Entry.Path, err)
	}
	if len(b) > maxFile {
		return fmt.Errorf("recyclebin: %s: larger than %d bytes, not read as a Recycle Bin index", src.Entry.Path, maxFile)
	}
	var user *timeline.User
	dir := path.Base(path.Dir(strings.ReplaceAll(src.Entry.Path, `\`, "/")))
	if sidFolder.MatchString(dir) {
		user = &timeline.User{ID: dir}
	}
	le := binary.LittleEndian
	switch {
	case len(b) >= 8 && (le.Uint64(b) == 1 || le.Uint64(b) == 2):
		ev, err := decodeI(b, path.Base(strings.ReplaceAll(src.Entry.Path, `\`, "/")))
		if err != nil {
			return fmt.Errorf("recyclebin: %s: %w", src.Entry.Path, err)
		}
		ev.User = user
		if le.Uint64(b) == 1 && len(b) != iV1Size {
			src.Warnf(iHeader, 0, "%w: $I version 1 of %d bytes, not %d: path read from what there is", ErrFormat, len(b), iV1Size)
		}
		return emit(ev)
	case len(b) >= info2Head && (le.Uint32(b) == 4 || le.Uint32(b) == 5):
		return p.info2(ctx, b, user, src, emit)
	}
	return fmt.Errorf("recyclebin: %s: neither a $I file (version 1, 2) nor an INFO2 (version 4, 5) at offset 0", src.Entry.Path)
}

// decodeI reads a $I file named name.
func decodeI(b []byte, name string) (*timeline.Event, error) {
	le := binary.LittleEndian
	version := le.Uint64(b)
	if len(b) < iHeader+4 {
		return nil, fmt.Errorf("%w: $I header cut at %d bytes (offset 0)", ErrFormat, len(b))
	}
	size := int64(le.Uint64(b[8:]))
	ft := ntfs.Filetime(le.Uint64(b[16:]))
	var orig string
	switch version {
	case 1:
		// A short file still holds the start of the path: read it.
		orig = utf16z(b[iHeader:min(len(b), iV1Size)])
	case 2:
		n := int64(le.Uint32(b[iHeader:]))
		if int64(len(b)) < iHeader+4+2*n {
			return nil, fmt.Errorf("%w: $I version 2 path of %d characters at offset %d past the end (%d bytes)", ErrFormat, n, iHeader+4, len(b))
		}
		orig = utf16z(b[iHeader+4 : iHeader+4+2*n])
	}
	recycled := ""
	if strings.HasPrefix(name, "$I") {
		recycled = "$R" + name[2:]
	}
	ev := event(orig, size, ft, "$I version "+strconv.FormatUint(version, 10), recycled)
	ev.Jejak.Data["recyclebin.index"] = name
	ev.Jejak.Provenance.Offset = 16
	return ev, nil
}

func event(orig string, size int64, ft ntfs.Filetime, format, recycled string) *timeline.Event {
	as := ""
	if recycled != "" {
		as = " as " + recycled
	}
	ev := &timeline.Event{
		Timestamp:     ft.Time(),
		TimestampDesc: "Content Deletion Time",
		Message:       fmt.Sprintf("%s (%d bytes) deleted to the Recycle Bin%s", orig, size, as),
		Event: timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"deletion"},
			Action: "file-deleted-to-recycle-bin", Dataset: "windows.recyclebin"},
		File: &timeline.File{Path: orig, Name: orig[strings.LastIndexAny(orig, `\/`)+1:], Size: &size},
		Jejak: timeline.Jejak{Data: map[string]string{
			"recyclebin.format": format,
		}},
	}
	if recycled != "" {
		ev.Jejak.Data["recyclebin.recycled_name"] = recycled
	}
	if ft.OutOfRange() {
		ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
	}
	return ev
}

// info2 reads the records of an INFO2 file: the ANSI path (260 bytes),
// the record number, the drive number, the deletion time, the size and,
// in version 5, the path again in UTF-16 (520 bytes). A record whose file
// was removed from the bin since has its ANSI path's first byte zeroed;
// the drive number gives the letter back.
func (p *Parser) info2(ctx context.Context, b []byte, user *timeline.User, src *parsers.Source, emit func(*timeline.Event) error) error {
	le := binary.LittleEndian
	version, recSize := le.Uint32(b), int(le.Uint32(b[12:]))
	if recSize != 280 && recSize != 800 {
		return fmt.Errorf("recyclebin: %s: INFO2 record size %d at offset 12 (280 or 800 expected)", src.Entry.Path, recSize)
	}
	var n int64
	for off := info2Head; off < len(b); off += recSize {
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if off+recSize > len(b) {
			src.Warnf(int64(off), n, "%w: INFO2 record cut: %d of %d bytes", ErrFormat, len(b)-off, recSize)
			break
		}
		r := b[off : off+recSize]
		ansi := cstr(r[:260])
		index, drive := le.Uint32(r[260:]), le.Uint32(r[264:])
		ft := ntfs.Filetime(le.Uint64(r[268:]))
		size := int64(le.Uint32(r[276:]))
		emptied := len(ansi) == 0 && r[1] != 0
		if emptied {
			ansi = cstr(r[1:260])
		}
		orig := ""
		if recSize == 800 {
			orig = utf16z(r[280:800])
		}
		if orig == "" {
			orig = ansiString(ansi)
			if emptied && drive < 26 {
				orig = string(rune('A'+drive)) + orig
			}
		}
		if orig == "" && ft == 0 {
			// An unused record (all zeros): not a deletion.
			if !bytes.ContainsFunc(r, func(c rune) bool { return c != 0 }) {
				continue
			}
		}
		ext := ""
		if i := strings.LastIndexByte(orig, '.'); i > strings.LastIndexByte(orig, '\\') {
			ext = orig[i:]
		}
		recycled := ""
		if drive < 26 {
			recycled = fmt.Sprintf("D%c%d%s", 'a'+drive, index, ext)
		}
		ev := event(orig, size, ft, "INFO2 version "+strconv.Itoa(int(version)), recycled)
		ev.User = user
		ev.Jejak.Data["recyclebin.index"] = strconv.FormatUint(uint64(index), 10)
		ev.Jejak.Data["recyclebin.emptied"] = strconv.FormatBool(emptied)
		parsers.At(ev, int64(off), n)
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

func utf16z(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// ansiString decodes the writer's code page, which the file does not name:
// UTF-8 when valid, else each byte as Latin-1.
func ansiString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
