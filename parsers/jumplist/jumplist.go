// Package jumplist reads Windows jump lists, the per-application lists of
// recent and pinned items behind the taskbar and Start menu:
//
//   - *.automaticDestinations-ms: an OLE compound file whose numbered
//     streams each hold a shell link, and whose DestList stream lists the
//     entries with their last access time, entry number, path, host name,
//     pin status and (Windows 10) access count;
//   - *.customDestinations-ms: categories of shell links written one after
//     another (tasks, custom categories), each category closed by a footer.
//
// The compound file is read with github.com/richardlehane/mscfb; the
// DestList and custom destination structures (laid out as the public
// format notes, libyal's dtformats among them, describe them; the offsets
// were checked on the corpus files) and the shell links (parsers/lnk) are
// decoded here: no Go module for them is served. The file name's first
// part is the application ID (a hash of the AppUserModelID) and is kept
// on every event. Events of an automatic jump list carry the entry number
// as their record and offset 0: a stream's bytes are scattered over the
// compound file's sectors.
package jumplist

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lnk"
	"github.com/jejak-forensics/jejak/timeline"
)

// Parser names.
const (
	AutomaticName = "jumplist_automatic"
	CustomName    = "jumplist_custom"
)

// ErrFormat marks a jump list structure that cannot be read.
var ErrFormat = errors.New("jump list")

// maxFile bounds what is read of one jump list into memory, maxStream one
// stream of an automatic jump list (a link, or the DestList of at most
// a few thousand entries).
const (
	maxFile   = 256 << 20
	maxStream = 16 << 20
)

const dataset = "windows.jumplist"

var oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}

// destListName is "DestList" as a compound file directory entry stores it.
var destListName = utf16le("DestList")

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// Automatic reads *.automaticDestinations-ms files.
type Automatic struct{}

var (
	_ parsers.Parser       = (*Automatic)(nil)
	_ parsers.RandomAccess = (*Automatic)(nil)
)

// NewAutomatic returns the automatic jump list parser.
func NewAutomatic() *Automatic { return &Automatic{} }

// Name implements parsers.Parser.
func (*Automatic) Name() string { return AutomaticName }

// NeedsReaderAt implements parsers.RandomAccess: the compound file is read
// by sector.
func (*Automatic) NeedsReaderAt() bool { return true }

// Match accepts a compound file whose directory, when the head holds it
// (it usually does: jump lists are small), has a DestList stream; the
// file name is the tie-breaker when the directory lies further on.
func (*Automatic) Match(e *jfs.Entry, head []byte) bool {
	if !bytes.HasPrefix(head, oleMagic) {
		return false
	}
	if bytes.Contains(head, destListName) {
		return true
	}
	return fold.HasSuffix(e.Path, ".automaticdestinations-ms")
}

// Requires implements parsers.Requirer: an OLE compound file's magic.
func (*Automatic) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(string(oleMagic[:1]))}
}

// AppID is the application ID a jump list's file name starts with.
func AppID(p string) string {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if len(base) != 16 {
		return ""
	}
	for _, c := range strings.ToLower(base) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return strings.ToLower(base)
}

// Parse implements parsers.Parser.
func (p *Automatic) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(AutomaticName)
	ra := src.ReaderAt
	if ra == nil {
		b, err := io.ReadAll(io.LimitReader(src.R, maxFile+1))
		if err != nil {
			return fmt.Errorf("jumplist: %s: read: %w", src.Entry.Path, err)
		}
		if len(b) > maxFile {
			return fmt.Errorf("jumplist: %s: larger than %d bytes without random access, not read", src.Entry.Path, maxFile)
		}
		ra = bytes.NewReader(b)
	}
	doc, err := mscfb.New(ra)
	if err != nil {
		return fmt.Errorf("jumplist: %s: compound file header at offset 0: %w", src.Entry.Path, err)
	}
	appID := AppID(src.Entry.Path)
	warn := func(rec int64, err error) {
		src.WarnErr(0, rec, err)
	}
	// Streams are read whole (each a link of a few KiB, or the DestList);
	// their bytes are not contiguous in the file, so events carry the
	// entry number as record and offset 0.
	streams := map[string][]byte{}
	var names []string
	for _, f := range doc.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() || len(f.Path) > 0 {
			continue
		}
		if f.Size > maxStream || f.Size < 0 {
			warn(0, fmt.Errorf("%w: stream %q of %d bytes (more than a jump list stream holds) not read", ErrFormat, f.Name, f.Size))
			continue
		}
		b := make([]byte, f.Size)
		n, err := io.ReadFull(f, b)
		if err != nil {
			warn(0, fmt.Errorf("%w: stream %q: read %d of %d bytes: %v", ErrFormat, f.Name, n, f.Size, err))
			b = b[:n]
		}
		streams[f.Name] = b
		names = append(names, f.Name)
	}
	if dl, ok := streams["DestList"]; ok {
		if err := destList(dl, appID, src, emit); err != nil {
			return err
		}
	} else {
		warn(0, fmt.Errorf("%w: no DestList stream", ErrFormat))
	}
	// The numbered streams (entry numbers in hex) in entry order.
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.ParseUint(names[i], 16, 64)
		b, _ := strconv.ParseUint(names[j], 16, 64)
		return a < b || (a == b && names[i] < names[j])
	})
	for _, name := range names {
		if name == "DestList" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		num, err := strconv.ParseUint(name, 16, 32)
		if err != nil {
			warn(0, fmt.Errorf("%w: stream %q is neither DestList nor an entry number; not read", ErrFormat, name))
			continue
		}
		l, warns, err := lnk.Decode(streams[name])
		if err != nil {
			warn(int64(num), fmt.Errorf("stream %q: %w", name, err))
			continue
		}
		for _, w := range warns {
			warn(int64(num), fmt.Errorf("stream %q: %w", name, w))
		}
		evs := lnk.Events(l, 0)
		if len(evs) == 0 {
			warn(int64(num), fmt.Errorf("%w: stream %q: link has no target time set (target %q)", ErrFormat, name, l.IDListPath))
		}
		for _, ev := range evs {
			ev.Event.Dataset = dataset
			ev.Message = "jump list entry " + name + ": " + ev.Message
			parsers.At(ev, 0, int64(num))
			ev.Jejak.Data["jumplist.app_id"] = appID
			ev.Jejak.Data["jumplist.entry_number"] = strconv.FormatUint(num, 10)
			ev.Jejak.Data["jumplist.kind"] = "automatic"
			dropEmpty(ev.Jejak.Data)
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func dropEmpty(d map[string]string) {
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
}

// destList reads the DestList stream: a 32-byte header (version, entry
// count, pinned count, ...) and the entries. Version 1 (Windows 7, 8)
// entries are 114 bytes before the path; versions 3 and 4 (Windows 10)
// 130 bytes, with an access count, and 4 bytes after the path.
func destList(b []byte, appID string, src *parsers.Source, emit func(*timeline.Event) error) error {
	le := binary.LittleEndian
	warn := func(rec int64, err error) {
		src.WarnErr(0, rec, err)
	}
	if len(b) < 32 {
		warn(0, fmt.Errorf("%w: DestList of %d bytes has no header", ErrFormat, len(b)))
		return nil
	}
	version, count := le.Uint32(b), le.Uint32(b[4:])
	var fixed, trail int
	switch version {
	case 1:
		fixed = 114
	case 3, 4:
		fixed, trail = 130, 4
	default:
		warn(0, fmt.Errorf("%w: DestList version %d not known; entries not read", ErrFormat, version))
		return nil
	}
	off := 32
	var read uint32
	for ; off < len(b); read++ {
		if off+fixed > len(b) {
			warn(int64(read+1), fmt.Errorf("%w: DestList entry at stream offset %d cut (%d bytes left)", ErrFormat, off, len(b)-off))
			break
		}
		e := b[off:]
		n := int(le.Uint16(e[fixed-2:]))
		if off+fixed+2*n+trail > len(b) {
			warn(int64(read+1), fmt.Errorf("%w: DestList entry at stream offset %d: path of %d characters past the end", ErrFormat, off, n))
			break
		}
		path := utf16z(e[fixed : fixed+2*n])
		num := le.Uint32(e[88:])
		ft := ntfs.Filetime(le.Uint64(e[100:]))
		pin := int32(le.Uint32(e[108:]))
		host := cstr(e[72:88])
		d := map[string]string{
			"jumplist.app_id":           appID,
			"jumplist.kind":             "automatic",
			"jumplist.entry_number":     strconv.FormatUint(uint64(num), 10),
			"jumplist.hostname":         host,
			"jumplist.destlist_version": strconv.Itoa(int(version)),
			"jumplist.droid_volume":     lnk.GUID(e[8:24]),
			"jumplist.droid_file":       lnk.GUID(e[24:40]),
		}
		pinned := "unpinned"
		if pin >= 0 {
			pinned = "pinned at " + strconv.Itoa(int(pin))
		}
		d["jumplist.pin_status"] = pinned
		if version >= 3 {
			d["jumplist.access_count"] = strconv.FormatUint(uint64(le.Uint32(e[116:])), 10)
		}
		dropEmpty(d)
		ev := &timeline.Event{
			Timestamp:     ft.Time(),
			TimestampDesc: "Last Access Time",
			Message:       fmt.Sprintf("jump list %s: entry %d %s last accessed on %s (%s)", appID, num, path, host, pinned),
			Event: timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"access"},
				Action: "jumplist-entry-accessed", Dataset: dataset},
			Host:  &timeline.Host{Name: host},
			Jejak: timeline.Jejak{Data: d},
		}
		if path != "" {
			ev.File = &timeline.File{Path: path, Name: path[strings.LastIndexAny(path, `\/`)+1:]}
		}
		if host == "" {
			ev.Host = nil
		}
		if ft.OutOfRange() {
			ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
		}
		ev.Jejak.Provenance.Record = int64(num)
		if ft == 0 {
			warn(int64(num), fmt.Errorf("%w: DestList entry %d (%s) has no access time", ErrFormat, num, path))
		} else if err := emit(ev); err != nil {
			return err
		}
		off += fixed + 2*n + trail
	}
	if read != count {
		warn(0, fmt.Errorf("%w: DestList header declares %d entries, %d read", ErrFormat, count, read))
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

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}
