package lnk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// ErrFormat marks a shell link structure that cannot be read.
var ErrFormat = errors.New("shell link")

// HeaderSize is the size of the ShellLinkHeader, also its first field.
const HeaderSize = 0x4c

// linkCLSID is the header's LinkCLSID, 00021401-0000-0000-C000-000000000046
// as stored.
var linkCLSID = []byte{0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

// LinkFlags ([MS-SHLLINK] 2.1.1).
const (
	hasLinkTargetIDList = 1 << 0
	hasLinkInfo         = 1 << 1
	hasName             = 1 << 2
	hasRelativePath     = 1 << 3
	hasWorkingDir       = 1 << 4
	hasArguments        = 1 << 5
	hasIconLocation     = 1 << 6
	isUnicode           = 1 << 7
)

// Link is what a shell link says about its target.
type Link struct {
	Flags      uint32
	Attributes uint32
	// The target's times as the link last saw them.
	Created, Accessed, Modified ntfs.Filetime
	FileSize                    uint32

	// IDListPath is the target path built from the shell item list;
	// IDListComplete is false when an item could not be read (its place
	// then holds a placeholder).
	IDListPath     string
	IDListComplete bool

	// LinkInfo: the local path (LocalBasePath + CommonPathSuffix), the
	// network path (NetName + "\" + CommonPathSuffix) and the volume.
	LocalPath   string
	NetworkPath string
	NetName     string
	DeviceName  string
	HasVolume   bool
	DriveType   uint32
	DriveSerial uint32
	VolumeLabel string

	Description, RelativePath, WorkingDir, Arguments, IconLocation string

	// EnvLocation is the EnvironmentVariableDataBlock's target.
	EnvLocation string
	// MachineID and the droids come from the TrackerDataBlock.
	MachineID                        string
	DroidVolume, DroidFile           string
	BirthDroidVolume, BirthDroidFile string
	// TrackerAt is the TrackerDataBlock's offset in the link, 0 if none.
	TrackerAt int

	// Size is how many bytes the link takes (through its terminal extra
	// data block), so that concatenated links can be walked.
	Size int
}

// IsLink reports whether b starts with a shell link header.
func IsLink(b []byte) bool {
	return len(b) >= 20 && binary.LittleEndian.Uint32(b) == HeaderSize && string(b[4:20]) == string(linkCLSID)
}

// TargetPath is the best path of the target: the local path, the network
// path (or the environment-variable target when it extends a bare
// share), the path the shell items give when all of them were read, the
// environment-variable target, the relative path; and which it was.
func (l *Link) TargetPath() (path, source string) {
	switch {
	case l.LocalPath != "":
		return l.LocalPath, "link_info"
	case l.NetworkPath != "":
		// A link may name only the share in LinkInfo and the whole path
		// in its environment block.
		if e := l.EnvLocation; len(e) > len(l.NetworkPath) && strings.EqualFold(e[:len(l.NetworkPath)], l.NetworkPath) {
			return e, "environment"
		}
		return l.NetworkPath, "network"
	case l.IDListPath != "" && l.IDListComplete:
		return l.IDListPath, "shell_items"
	case l.EnvLocation != "":
		return l.EnvLocation, "environment"
	case l.RelativePath != "":
		return l.RelativePath, "relative"
	}
	return "", ""
}

// Decode reads the shell link at the start of b. A header that is not a
// shell link's is an error; damage after it (a structure whose size or
// offsets leave it) is returned in warns, each naming its offset from the
// start of b, with what was read before it.
func Decode(b []byte) (l *Link, warns []error, err error) {
	le := binary.LittleEndian
	if len(b) < HeaderSize || !IsLink(b) {
		return nil, nil, fmt.Errorf("%w: no shell link header at offset 0", ErrFormat)
	}
	l = &Link{
		Flags:      le.Uint32(b[20:]),
		Attributes: le.Uint32(b[24:]),
		Created:    ntfs.Filetime(le.Uint64(b[28:])),
		Accessed:   ntfs.Filetime(le.Uint64(b[36:])),
		Modified:   ntfs.Filetime(le.Uint64(b[44:])),
		FileSize:   le.Uint32(b[52:]),
	}
	off := HeaderSize
	warn := func(at int, format string, a ...any) {
		warns = append(warns, fmt.Errorf("%w: offset %d: %s", ErrFormat, at, fmt.Sprintf(format, a...)))
	}
	// A structure that leaves the data ends the reading: what follows it
	// cannot be found.
	l.Size = len(b)
	if l.Flags&hasLinkTargetIDList != 0 {
		if off+2 > len(b) {
			warn(off, "LinkTargetIDList size past the end (%d bytes)", len(b))
			return l, warns, nil
		}
		n := int(le.Uint16(b[off:]))
		if off+2+n > len(b) {
			warn(off, "LinkTargetIDList of %d bytes past the end (%d bytes)", n, len(b))
			return l, warns, nil
		}
		var ok bool
		l.IDListPath, l.IDListComplete, ok = shellItemsPath(b[off+2 : off+2+n])
		if !ok {
			warn(off+2, "shell item list of %d bytes does not hold whole items", n)
		}
		off += 2 + n
	}
	if l.Flags&hasLinkInfo != 0 {
		if off+4 > len(b) {
			warn(off, "LinkInfo size past the end (%d bytes)", len(b))
			return l, warns, nil
		}
		n := int(le.Uint32(b[off:]))
		if n < 0x1c || off+n > len(b) {
			warn(off, "LinkInfo of %d bytes does not fit (%d bytes left)", n, len(b)-off)
			return l, warns, nil
		}
		if err := l.linkInfo(b[off:off+n], l.Flags&isUnicode != 0); err != nil {
			warn(off, "LinkInfo: %v", err)
		}
		off += n
	}
	for _, f := range []struct {
		flag uint32
		dst  *string
		name string
	}{
		{hasName, &l.Description, "description"},
		{hasRelativePath, &l.RelativePath, "relative path"},
		{hasWorkingDir, &l.WorkingDir, "working directory"},
		{hasArguments, &l.Arguments, "arguments"},
		{hasIconLocation, &l.IconLocation, "icon location"},
	} {
		if l.Flags&f.flag == 0 {
			continue
		}
		if off+2 > len(b) {
			warn(off, "%s string past the end", f.name)
			return l, warns, nil
		}
		n := int(le.Uint16(b[off:]))
		size := n
		if l.Flags&isUnicode != 0 {
			size = 2 * n
		}
		if off+2+size > len(b) {
			warn(off, "%s string of %d characters past the end", f.name, n)
			return l, warns, nil
		}
		if l.Flags&isUnicode != 0 {
			*f.dst = utf16String(b[off+2:off+2+size], false)
		} else {
			*f.dst = ansiString(b[off+2 : off+2+size])
		}
		off += 2 + size
	}
	// Extra data blocks until the terminal block (a size below 4).
	for {
		if off+4 > len(b) {
			// Links written by some tools end without the terminal block.
			l.Size = len(b)
			return l, warns, nil
		}
		n := int(le.Uint32(b[off:]))
		if n < 4 {
			l.Size = off + 4
			return l, warns, nil
		}
		if n < 8 || off+n > len(b) {
			warn(off, "extra data block of %d bytes does not fit (%d bytes left)", n, len(b)-off)
			return l, warns, nil
		}
		if l.extraBlock(b[off:off+n]) == sigTracker && l.MachineID+l.DroidFile != "" {
			l.TrackerAt = off
		}
		off += n
	}
}

// linkInfo reads the LinkInfo structure ([MS-SHLLINK] 2.3).
func (l *Link) linkInfo(b []byte, unicode bool) error {
	le := binary.LittleEndian
	hdr := int(le.Uint32(b[4:]))
	flags := le.Uint32(b[8:])
	volOff, baseOff := int(le.Uint32(b[12:])), int(le.Uint32(b[16:]))
	netOff, suffixOff := int(le.Uint32(b[20:])), int(le.Uint32(b[24:]))
	var baseU, suffixU int
	if hdr >= 0x24 && len(b) >= 0x24 {
		baseU, suffixU = int(le.Uint32(b[28:])), int(le.Uint32(b[32:]))
	}
	str := func(ansiAt, uniAt int) string {
		if uniAt > 0 && uniAt < len(b) {
			return utf16String(b[uniAt:], true)
		}
		if ansiAt > 0 && ansiAt < len(b) {
			return ansiString(cstr(b[ansiAt:]))
		}
		return ""
	}
	suffix := str(suffixOff, suffixU)
	var errs []string
	if flags&1 != 0 {
		if base := str(baseOff, baseU); base != "" {
			l.LocalPath = joinSuffix(base, suffix)
		}
		if volOff+16 <= len(b) && volOff > 0 {
			v := b[volOff:]
			vsize := int(le.Uint32(v))
			if vsize >= 16 && volOff+vsize <= len(b) {
				v = v[:vsize]
				l.HasVolume = true
				l.DriveType, l.DriveSerial = le.Uint32(v[4:]), le.Uint32(v[8:])
				labelOff := int(le.Uint32(v[12:]))
				if labelOff == 0x14 && vsize >= 0x14 {
					if u := int(le.Uint32(v[16:])); u > 0 && u < vsize {
						l.VolumeLabel = utf16String(v[u:], true)
					}
				} else if labelOff > 0 && labelOff < vsize {
					l.VolumeLabel = ansiString(cstr(v[labelOff:]))
				}
			} else {
				errs = append(errs, fmt.Sprintf("VolumeID of %d bytes at %d does not fit", vsize, volOff))
			}
		} else {
			errs = append(errs, fmt.Sprintf("VolumeID offset %d outside LinkInfo", volOff))
		}
	}
	if flags&2 != 0 {
		if netOff > 0 && netOff+20 <= len(b) {
			n := b[netOff:]
			nsize := int(le.Uint32(n))
			if nsize >= 20 && netOff+nsize <= len(b) {
				n = n[:nsize]
				nameOff, devOff := int(le.Uint32(n[8:])), int(le.Uint32(n[12:]))
				var nameU, devU int
				if nameOff > 0x14 && nsize >= 0x1c {
					nameU, devU = int(le.Uint32(n[20:])), int(le.Uint32(n[24:]))
				}
				sub := func(a, u int) string {
					if u > 0 && u < nsize {
						return utf16String(n[u:], true)
					}
					if a > 0 && a < nsize {
						return ansiString(cstr(n[a:]))
					}
					return ""
				}
				l.NetName = sub(nameOff, nameU)
				if flagsNet := le.Uint32(n[4:]); flagsNet&1 != 0 {
					l.DeviceName = sub(devOff, devU)
				}
				if l.NetName != "" {
					l.NetworkPath = joinSuffix(l.NetName+`\`, suffix)
					if suffix == "" {
						l.NetworkPath = l.NetName
					}
				}
			} else {
				errs = append(errs, fmt.Sprintf("CommonNetworkRelativeLink of %d bytes at %d does not fit", nsize, netOff))
			}
		} else {
			errs = append(errs, fmt.Sprintf("CommonNetworkRelativeLink offset %d outside LinkInfo", netOff))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func joinSuffix(base, suffix string) string {
	if suffix == "" {
		return base
	}
	if !strings.HasSuffix(base, `\`) {
		base += `\`
	}
	return base + suffix
}

// Extra data block signatures ([MS-SHLLINK] 2.5).
const (
	sigEnvironment = 0xa0000001
	sigTracker     = 0xa0000003
)

func (l *Link) extraBlock(b []byte) uint32 {
	le := binary.LittleEndian
	sig := le.Uint32(b[4:])
	switch sig {
	case sigEnvironment:
		if len(b) >= 8+260+520 {
			l.EnvLocation = utf16String(b[8+260:8+260+520], true)
			if l.EnvLocation == "" {
				l.EnvLocation = ansiString(cstr(b[8 : 8+260]))
			}
		}
	case sigTracker:
		if len(b) >= 0x60 {
			l.MachineID = ansiString(cstr(b[16:32]))
			l.DroidVolume, l.DroidFile = GUID(b[32:48]), GUID(b[48:64])
			l.BirthDroidVolume, l.BirthDroidFile = GUID(b[64:80]), GUID(b[80:96])
		}
	}
	return sig
}

// UUIDTime reads a version 1 (time-based) UUID in its string form: the
// 60-bit count of 100 ns since 1582-10-15 in its time fields, and the
// node, the MAC address of the machine that made it. Distributed link
// tracking object IDs are such UUIDs: their time is when the target's
// object ID was created.
func UUIDTime(s string) (t time.Time, mac string, ok bool) {
	var low, mid, hi uint64
	var node string
	if len(s) != 36 || s[14] != '1' {
		return time.Time{}, "", false
	}
	for _, f := range []struct {
		dst  *uint64
		from string
	}{{&low, s[0:8]}, {&mid, s[9:13]}, {&hi, s[15:18]}} {
		v, err := strconv.ParseUint(f.from, 16, 64)
		if err != nil {
			return time.Time{}, "", false
		}
		*f.dst = v
	}
	node = s[24:36]
	ticks := hi<<48 | mid<<32 | low
	const gregorianToUnix = 0x01b21dd213814000 // 100 ns ticks from 1582-10-15 to 1970-01-01
	if ticks < gregorianToUnix {
		return time.Time{}, "", false
	}
	ticks -= gregorianToUnix
	t = time.Unix(int64(ticks/10_000_000), int64(ticks%10_000_000)*100).UTC()
	parts := make([]string, 6)
	for i := range parts {
		parts[i] = node[2*i : 2*i+2]
	}
	return t, strings.Join(parts, ":"), true
}

// GUID formats 16 bytes stored as a Windows GUID (the first three fields
// little-endian).
func GUID(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// knownFolders names the root folder items a target path starts with.
var knownFolders = map[string]string{
	"20d04fe0-3aea-1069-a2d8-08002b30309d": "", // My Computer: the volume follows
	"59031a47-3f72-44a7-89c5-5595fe6b30ee": "%USERPROFILE%",
	"450d8fba-ad25-11d0-98a8-0800361b1103": "%USERPROFILE%\\Documents",
	"208d2c60-3aea-1069-a2d7-08002b30309d": "", // Network: a network location follows
	"871c5380-42a0-1069-a2ea-08002b30309d": "::{871C5380-42A0-1069-A2EA-08002B30309D}",
	"645ff040-5081-101b-9f08-00aa002f954e": "::{645FF040-5081-101B-9F08-00AA002F954E}",
}

// shellItemsPath builds a path from an IDList: root folder (a known
// folder or its GUID), volume ("C:\"), file entries (their long names
// from the 0xbeef0004 extension when present), network locations. An item
// of another kind is a placeholder and makes the path incomplete. ok is
// false when the items do not fill the list.
func shellItemsPath(b []byte) (path string, complete, ok bool) {
	le := binary.LittleEndian
	var parts []string
	complete = true
	off := 0
	for {
		if off+2 > len(b) {
			return join(parts), complete, false
		}
		n := int(le.Uint16(b[off:]))
		if n == 0 {
			return join(parts), complete, true
		}
		if n < 3 || off+n > len(b) {
			return join(parts), false, false
		}
		item := b[off : off+n]
		off += n
		class := item[2]
		switch {
		case class == 0x1f && n >= 20:
			g := GUID(item[4:20])
			if name, known := knownFolders[g]; known {
				if name != "" {
					parts = append(parts, name)
				}
			} else {
				parts = append(parts, "::{"+strings.ToUpper(g)+"}")
			}
		case class&0x70 == 0x20:
			name := ansiString(cstr(item[3:]))
			if name == "" {
				parts = append(parts, fmt.Sprintf("<shell item 0x%02x>", class))
				complete = false
				continue
			}
			parts = append(parts, strings.TrimSuffix(name, `\`))
		case class&0x70 == 0x30:
			name := fileEntryName(item)
			if name == "" {
				parts = append(parts, fmt.Sprintf("<shell item 0x%02x>", class))
				complete = false
				continue
			}
			parts = append(parts, name)
		case class&0x70 == 0x40 && n > 5:
			parts = append(parts, ansiString(cstr(item[5:])))
		default:
			parts = append(parts, fmt.Sprintf("<shell item 0x%02x>", class))
			complete = false
		}
	}
}

func join(parts []string) string {
	s := strings.Join(parts, `\`)
	if len(parts) == 1 && strings.HasSuffix(parts[0], ":") {
		s += `\`
	}
	return s
}

// fileEntryName is a file entry item's long name (its 0xbeef0004
// extension block) or else its primary name.
func fileEntryName(item []byte) string {
	le := binary.LittleEndian
	for i := 14; i+8 <= len(item); i += 2 {
		if le.Uint32(item[i+4:]) != 0xbeef0004 {
			continue
		}
		ext := item[i:]
		size, version := int(le.Uint16(ext)), int(le.Uint16(ext[2:]))
		if size < 8 || size > len(ext) {
			break
		}
		ext = ext[:size]
		at := 18
		if version >= 7 {
			at = 36
		}
		if version >= 3 {
			at += 2
		}
		if version >= 9 {
			at += 4
		}
		if version >= 8 {
			at += 4
		}
		if at < len(ext) {
			if s := utf16String(ext[at:], true); s != "" {
				return s
			}
		}
		break
	}
	if len(item) <= 14 {
		return ""
	}
	if item[2]&0x04 != 0 {
		return utf16String(item[14:], true)
	}
	return ansiString(cstr(item[14:]))
}

// utf16String decodes UTF-16LE, up to the first NUL when z is set.
func utf16String(b []byte, z bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 && z {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func cstr(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// ansiString decodes a string in the writer's code page, which the link
// does not name: UTF-8 when it is valid, else each byte as Latin-1 (right
// for ASCII and for Windows-1252's letters).
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
