package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

// ShimEntry is one entry of the Application Compatibility Cache
// (ShimCache): a path Windows checked and the last-modified time of that
// file ($STANDARD_INFORMATION) when it did.
type ShimEntry struct {
	Position int // 0-based place in the cache (most recent first)
	Path     string
	Modified ntfs.Filetime
	Offset   int // offset of the entry in the value data
}

// ShimFormat names the cache layouts decoded.
const (
	ShimWin8     = "Windows 8.0"
	ShimWin81    = "Windows 8.1"
	ShimWin10    = "Windows 10"
	ShimWin10C   = "Windows 10 Creators"
	ShimWin7x64  = "Windows 7/2008 R2 64-bit"
	ShimWin7x86  = "Windows 7 32-bit"
	ShimUnknown  = "unknown"
	shimSig00ts  = "00ts"
	shimSig10ts  = "10ts"
	shimWin7Sig  = 0xbadc0fee
	shimVistaSig = 0xbadc0ffe
	ShimVista64  = "Windows Vista/2008 64-bit"
	ShimVista32  = "Windows Vista/2008 32-bit"
	shimWin7Head = 128
)

// ErrShimTruncated marks a cache whose last entry is cut short.
var ErrShimTruncated = errors.New("ShimCache entry truncated")

// ParseShimCache decodes the AppCompatCache value's data (the layouts of
// libyal's winreg-kb "Application Compatibility Cache key"): Windows 8.0
// and 8.1 (header 0x80, entries "00ts"/"10ts" with a package name and
// flags before the time), Windows 10 (header 0x30) and 10 Creators Update
// and later (0x34, entries "10ts" with the time right after the path),
// Windows 7 / Server 2008 R2 (0xbadc0fee) and Vista / Server 2008
// (0xbadc0ffe), fixed-size entries pointing into the data. An entry cut
// by the end of the data ends the list with an error (ErrShimTruncated):
// the entries before it are returned, and it too when its path and time
// precede the cut. XP and 2003 layouts are not decoded.
func ParseShimCache(d []byte) (format string, entries []ShimEntry, err error) {
	if len(d) < 4 {
		return ShimUnknown, nil, fmt.Errorf("%w: %d bytes", ErrShimTruncated, len(d))
	}
	le := binary.LittleEndian
	hdr := le.Uint32(d)
	switch {
	case hdr == shimWin7Sig:
		return parseShimWin7(d)
	case hdr == 0x30 || hdr == 0x34:
		format = ShimWin10
		if hdr == 0x34 {
			format = ShimWin10C
		}
	case hdr == shimVistaSig:
		return parseShimVista(d)
	case len(d) >= 0x84 && string(d[0x80:0x84]) == shimSig00ts:
		// Windows 8.0 writes 0x80 or 0 as the first field.
		format, hdr = ShimWin8, 0x80
	case len(d) >= 0x84 && string(d[0x80:0x84]) == shimSig10ts:
		format, hdr = ShimWin81, 0x80
	default:
		return ShimUnknown, nil, fmt.Errorf("ShimCache header 0x%x not a known layout", hdr)
	}
	off := int(hdr)
	for pos := 0; off < len(d); pos++ {
		if off+14 > len(d) {
			return format, entries, fmt.Errorf("%w: entry %d at offset %d: %d bytes left", ErrShimTruncated, pos, off, len(d)-off)
		}
		sig := string(d[off : off+4])
		if sig != shimSig10ts && sig != shimSig00ts {
			// The cache ends where entries stop; a few zero bytes may pad it.
			break
		}
		size := int(le.Uint32(d[off+8:]))
		end := off + 12 + size
		pathLen := int(le.Uint16(d[off+12:]))
		p := off + 14
		// An entry cut by the end of the data (a value copied short) still
		// gives its path and time when they precede the cut: only its shim
		// data is lost, and the error says so.
		cut := end > len(d)
		limit := min(end, len(d))
		cutErr := func(what string) error {
			return fmt.Errorf("%w: entry %d at offset %d declares %d bytes, %d left: %s", ErrShimTruncated, pos, off, size+12, len(d)-off, what)
		}
		if p+pathLen > limit {
			return format, entries, cutErr("its path is cut")
		}
		e := ShimEntry{Position: pos, Path: utf16String(d[p : p+pathLen]), Offset: off}
		t := p + pathLen
		if format == ShimWin8 || format == ShimWin81 {
			// Package name (length-prefixed), insertion and shim flags.
			if t+2 > limit {
				return format, entries, cutErr("its time is cut")
			}
			t += 2 + int(le.Uint16(d[t:])) + 8
		}
		if t+8 > limit {
			return format, entries, cutErr("its time is cut")
		}
		e.Modified = ntfs.Filetime(le.Uint64(d[t:]))
		entries = append(entries, e)
		if cut {
			return format, entries, cutErr("its path and time were read, its data is cut")
		}
		off = end
	}
	return format, entries, nil
}

// parseShimVista reads the Windows Vista / Server 2008 layout: an 8-byte
// header (signature, count), then fixed entries whose path is an (offset,
// length) into the data: 32 bytes on 64-bit systems, 24 on 32-bit ones.
func parseShimVista(d []byte) (string, []ShimEntry, error) {
	le := binary.LittleEndian
	if len(d) < 8 {
		return ShimUnknown, nil, fmt.Errorf("%w: Vista header of %d bytes", ErrShimTruncated, len(d))
	}
	n := int(le.Uint32(d[4:]))
	format, size := ShimVista32, 24
	if len(d) >= 8+32 && le.Uint32(d[12:]) == 0 {
		format, size = ShimVista64, 32
	}
	var out []ShimEntry
	for i := range n {
		off := 8 + i*size
		if off+size > len(d) {
			return format, out, fmt.Errorf("%w: entry %d of %d at offset %d", ErrShimTruncated, i, n, off)
		}
		e := d[off:]
		plen := int(le.Uint16(e))
		var po int
		var ft uint64
		if size == 32 {
			po, ft = int(le.Uint64(e[8:])), le.Uint64(e[16:])
		} else {
			po, ft = int(le.Uint32(e[4:])), le.Uint64(e[8:])
		}
		if po < 0 || po+plen > len(d) {
			return format, out, fmt.Errorf("%w: entry %d path at %d outside the data", ErrShimTruncated, i, po)
		}
		out = append(out, ShimEntry{Position: i, Path: utf16String(d[po : po+plen]), Modified: ntfs.Filetime(ft), Offset: off})
	}
	return format, out, nil
}

// parseShimWin7 reads the Windows 7 layout: a 128-byte header with the
// entry count at 4, then fixed entries whose path is an (offset, length)
// into the value data: 48 bytes on 64-bit systems, 32 on 32-bit ones.
func parseShimWin7(d []byte) (string, []ShimEntry, error) {
	le := binary.LittleEndian
	if len(d) < shimWin7Head {
		return ShimUnknown, nil, fmt.Errorf("%w: Windows 7 header of %d bytes", ErrShimTruncated, len(d))
	}
	n := int(le.Uint32(d[4:]))
	// 64-bit entries: the path offset is a uint64 at 8, within the data.
	format, size := ShimWin7x86, 32
	if len(d) >= shimWin7Head+48 {
		if po := le.Uint64(d[shimWin7Head+8:]); po > 0 && po < uint64(len(d)) && le.Uint32(d[shimWin7Head+4:]) == 0 {
			format, size = ShimWin7x64, 48
		}
	}
	var out []ShimEntry
	for i := range n {
		off := shimWin7Head + i*size
		if off+size > len(d) {
			return format, out, fmt.Errorf("%w: entry %d of %d at offset %d", ErrShimTruncated, i, n, off)
		}
		e := d[off:]
		plen := int(le.Uint16(e))
		var po int
		var ft uint64
		if size == 48 {
			po, ft = int(le.Uint64(e[8:])), le.Uint64(e[16:])
		} else {
			po, ft = int(le.Uint32(e[4:])), le.Uint64(e[8:])
		}
		if po < 0 || po+plen > len(d) {
			return format, out, fmt.Errorf("%w: entry %d path at %d outside the data", ErrShimTruncated, i, po)
		}
		out = append(out, ShimEntry{Position: i, Path: utf16String(d[po : po+plen]), Modified: ntfs.Filetime(ft), Offset: off})
	}
	return format, out, nil
}

// shimCache emits each ShimCache entry at the file's last-modified time it
// records. The entry's place (0 = most recent) is kept: the cache holds no
// time of its own.
func (w *walker) shimCache(cs *Key, csPath string) error {
	for _, p := range []string{`Control\Session Manager\AppCompatCache`, `Control\Session Manager\AppCompatibility`} {
		k := w.hive.Lookup(cs, p)
		if k == nil {
			continue
		}
		v := w.hive.ValueMap(k)["appcompatcache"]
		if v == nil {
			continue
		}
		format, entries, err := ParseShimCache(v.Data)
		if err != nil {
			w.warn(v.Offset, fmt.Errorf("%s\\%s\\AppCompatCache: %d entries read: %w", csPath, p, len(entries), err))
		}
		for _, e := range entries {
			if err := w.emitFinding(finding{when: e.Modified, desc: "File Last Modified",
				msg: fmt.Sprintf("ShimCache entry %d (%s): %s", e.Position, format, e.Path),
				key: csPath + `\` + p, off: v.Offset, dataset: "windows.registry.shimcache", action: "shimcache-entry",
				cat: []string{"file"}, file: &timeline.File{Path: e.Path, Name: baseName(e.Path)},
				data: map[string]string{"registry.value": "AppCompatCache", "registry.position": strconv.Itoa(e.Position),
					"registry.format": format}}); err != nil {
				return err
			}
		}
	}
	return nil
}
