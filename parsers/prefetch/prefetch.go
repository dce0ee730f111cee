// Package prefetch reads Windows Prefetch files (.pf, the "SCCA" format):
// versions 17 (XP, 2003), 23 (Vista, 7), 26 (8.1) and 30 (10, 11), the
// last usually stored MAM-compressed (LZXpress Huffman, [MS-XCA]). Each
// last-run time the file keeps (one before version 26, up to eight after)
// is an event saying the executable ran, with the run count, the prefetch
// hash, the volumes and how many files the program loaded.
//
// No Go module for prefetch or for LZXpress Huffman is served here, so the
// decoder and the decompressor are written in this package, after the
// format as libscca documents it and [MS-XCA] 2.2.4. sccainfo
// (libscca-utils) is the oracle the tests compare with.
package prefetch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "prefetch"

// ErrFormat marks a prefetch structure that cannot be read.
var ErrFormat = errors.New("prefetch format")

// maxFile bounds what is read of one file: real prefetch files are tens
// to hundreds of KiB, and a MAM header claiming more is damaged.
const maxFile = 64 << 20

// headerSize is the file header: version, "SCCA", an unknown value, the
// file size, the executable name (60 bytes of UTF-16), the hash, flags.
const headerSize = 84

// Parser reads prefetch files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the prefetch parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts an uncompressed prefetch file by its signature and version,
// and a MAM-compressed one when its first decoded bytes are such a header:
// the MAM signature alone is shared with other Windows 10 files.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	if knownHeader(head) {
		return true
	}
	if format, size, start, ok := mamHeader(head); ok && format == mamHuffman && size >= headerSize {
		// The head is cut short of the stream: decode just the first
		// bytes. A cut stream decodes them as well as a whole one.
		out, _ := DecompressHuffman(head[start:], 8)
		return knownHeader(out)
	}
	return false
}

// Requires implements parsers.Requirer: knownHeader's versions (a
// little-endian uint32 below 256 first) or a MAM header.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\x11\x17\x1a\x1e\x1fM")}
}

func knownHeader(b []byte) bool {
	if len(b) < 8 || string(b[4:8]) != "SCCA" {
		return false
	}
	switch binary.LittleEndian.Uint32(b) {
	case 17, 23, 26, 30, 31:
		return true
	}
	return false
}

// mamHuffman is the compression format in a MAM header that Windows 10
// writes prefetch files with (COMPRESSION_FORMAT_XPRESS_HUFF).
const mamHuffman = 4

// mamHeader reads "MAM", a byte whose low nibble is the compression format
// and whose high bit says a CRC-32 follows, and the decompressed size.
func mamHeader(b []byte) (format byte, size, start int, ok bool) {
	if len(b) < 8 || string(b[:3]) != "MAM" {
		return 0, 0, 0, false
	}
	format, start = b[3]&0x0f, 8
	if b[3]&0xf0 != 0 {
		start = 12
	}
	size = int(binary.LittleEndian.Uint32(b[4:]))
	return format, size, start, len(b) >= start
}

// File is what a prefetch file says.
type File struct {
	Version    uint32
	Executable string // the name in the header (at most 29 characters)
	Hash       uint32
	RunCount   uint32
	// Runs are the last-run slots in file order, latest first; a zero
	// slot (fewer runs than slots) is left out. At holds each slot's
	// offset in the (decompressed) file.
	Runs      []ntfs.Filetime
	RunsAt    []int
	Filenames []string
	Volumes   []Volume
}

// Volume is one entry of the volume information.
type Volume struct {
	Path    string
	Serial  uint32
	Created ntfs.Filetime
}

// layout says where a version keeps its fields (offsets from the start of
// the file, after libscca's documentation of the file information).
type layout struct {
	runTimes   int // offset of the first last-run FILETIME
	runSlots   int
	runCount   int
	metricSize int // file metrics entry: 20 bytes before version 23
	volumeSize int // volume information entry
}

func layoutOf(version uint32, metricsOffset uint32) (layout, bool) {
	switch version {
	case 17:
		return layout{runTimes: 120, runSlots: 1, runCount: 144, metricSize: 20, volumeSize: 40}, true
	case 23:
		return layout{runTimes: 128, runSlots: 1, runCount: 152, metricSize: 32, volumeSize: 104}, true
	case 26:
		return layout{runTimes: 128, runSlots: 8, runCount: 208, metricSize: 32, volumeSize: 104}, true
	case 30, 31:
		// Version 30 comes in two file-information sizes: 220 bytes laid out as
		// version 26, and (later Windows 10 builds, 11) 212 bytes with the
		// run count 8 bytes earlier. The file metrics array follows the
		// file information at once, so its offset tells them apart.
		l := layout{runTimes: 128, runSlots: 8, runCount: 208, metricSize: 32, volumeSize: 96}
		if metricsOffset == headerSize+212 {
			l.runCount = 200
		}
		return l, true
	}
	return layout{}, false
}

// Decode reads an uncompressed prefetch file. Damage to the file name
// strings or the volume information is returned in warns (each naming its
// offset) with the rest of the file; a header or file information that
// cannot be read is an error.
func Decode(b []byte) (f *File, warns []error, err error) {
	le := binary.LittleEndian
	if len(b) < headerSize || string(b[4:8]) != "SCCA" {
		return nil, nil, fmt.Errorf("%w: no SCCA file header at offset 0", ErrFormat)
	}
	// The offsets and counts that start the file information are common
	// to every version.
	if len(b) < headerSize+36 {
		return nil, nil, fmt.Errorf("%w: file information at offset %d cut at %d bytes", ErrFormat, headerSize, len(b))
	}
	f = &File{Version: le.Uint32(b), Hash: le.Uint32(b[76:])}
	f.Executable = utf16z(b[16:76])
	metricsOff, metricsN := le.Uint32(b[84:]), le.Uint32(b[88:])
	l, ok := layoutOf(f.Version, metricsOff)
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown format version %d at offset 0", ErrFormat, f.Version)
	}
	if len(b) < l.runCount+4 {
		return nil, nil, fmt.Errorf("%w: file information at offset %d of version %d ends at %d, file has %d bytes", ErrFormat, headerSize, f.Version, l.runCount+4, len(b))
	}
	f.RunCount = le.Uint32(b[l.runCount:])
	for i := 0; i < l.runSlots; i++ {
		at := l.runTimes + 8*i
		if ft := ntfs.Filetime(le.Uint64(b[at:])); ft != 0 {
			f.Runs = append(f.Runs, ft)
			f.RunsAt = append(f.RunsAt, at)
		}
	}

	stringsOff, stringsSize := le.Uint32(b[100:]), le.Uint32(b[104:])
	volOff, volN, volSize := le.Uint32(b[108:]), le.Uint32(b[112:]), le.Uint32(b[116:])

	// The file names: the metrics entries point into the strings block;
	// when the metrics are damaged the strings are read in order.
	strs, ok := span(b, stringsOff, stringsSize)
	if !ok {
		warns = append(warns, fmt.Errorf("%w: file name strings at offset %d (%d bytes) outside the file of %d bytes", ErrFormat, stringsOff, stringsSize, len(b)))
	} else {
		var metrics []byte
		ok := metricsN <= 1<<20
		if ok {
			metrics, ok = span(b, metricsOff, metricsN*uint32(l.metricSize))
		}
		if !ok {
			warns = append(warns, fmt.Errorf("%w: file metrics array at offset %d (%d entries) outside the file; file names read in order", ErrFormat, metricsOff, metricsN))
			f.Filenames = splitUTF16z(strs)
		} else {
			for i := 0; i < int(metricsN); i++ {
				m := metrics[i*l.metricSize:]
				nameOff, nameLen := le.Uint32(m[8:]), le.Uint32(m[12:])
				if l.metricSize == 32 {
					nameOff, nameLen = le.Uint32(m[12:]), le.Uint32(m[16:])
				}
				s, ok := span(strs, nameOff, 2*nameLen)
				if !ok {
					warns = append(warns, fmt.Errorf("%w: file metrics entry %d at offset %d: name at %d (%d characters) outside the strings block of %d bytes",
						ErrFormat, i+1, int(metricsOff)+i*l.metricSize, nameOff, nameLen, len(strs)))
					continue
				}
				f.Filenames = append(f.Filenames, utf16z(s))
			}
		}
	}

	// The volumes: each entry's device path is an offset from the start
	// of the volume information.
	vols, ok := span(b, volOff, volSize)
	if !ok || uint64(volN)*uint64(l.volumeSize) > uint64(len(vols)) {
		if volN > 0 {
			warns = append(warns, fmt.Errorf("%w: volume information at offset %d (%d volumes, %d bytes) outside the file of %d bytes", ErrFormat, volOff, volN, volSize, len(b)))
		}
		return f, warns, nil
	}
	for i := 0; i < int(volN); i++ {
		v := vols[i*l.volumeSize:]
		pathOff, pathLen := le.Uint32(v), le.Uint32(v[4:])
		vol := Volume{Created: ntfs.Filetime(le.Uint64(v[8:])), Serial: le.Uint32(v[16:])}
		if s, ok := span(vols, pathOff, 2*pathLen); ok {
			vol.Path = utf16z(s)
		} else {
			warns = append(warns, fmt.Errorf("%w: volume %d at offset %d: device path at %d (%d characters) outside the volume information",
				ErrFormat, i+1, int(volOff)+i*l.volumeSize, pathOff, pathLen))
		}
		f.Volumes = append(f.Volumes, vol)
	}
	return f, warns, nil
}

// span returns b[off:off+n] when it lies inside b.
func span(b []byte, off, n uint32) ([]byte, bool) {
	end := uint64(off) + uint64(n)
	if end > uint64(len(b)) {
		return nil, false
	}
	return b[off:end], true
}

// utf16z decodes UTF-16LE up to the first NUL.
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

// splitUTF16z splits a block of NUL-terminated UTF-16LE strings.
func splitUTF16z(b []byte) []string {
	var out []string
	start := 0
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			if i > start {
				out = append(out, utf16z(b[start:i]))
			}
			start = i + 2
		}
	}
	return out
}

// ExecutablePath is the file name string that names the executable: the
// one whose last component is the header's name. The header keeps 29
// characters, so a longer name matches on its first 29.
func (f *File) ExecutablePath() string {
	name := strings.ToUpper(f.Executable)
	if name == "" {
		return ""
	}
	for _, s := range f.Filenames {
		base := strings.ToUpper(s[strings.LastIndexByte(s, '\\')+1:])
		if base == name || (len([]rune(f.Executable)) == 29 && strings.HasPrefix(base, name)) {
			return s
		}
	}
	return ""
}

// filesSample is how many loaded file names the message and data show.
const filesSample = 10

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(src.R, maxFile+1))
	if err != nil {
		return fmt.Errorf("prefetch: %s: read: %w", src.Entry.Path, err)
	}
	if len(raw) > maxFile {
		return fmt.Errorf("prefetch: %s: larger than %d bytes, not a prefetch file", src.Entry.Path, maxFile)
	}
	data, compressed := raw, false
	if format, size, start, ok := mamHeader(raw); ok {
		if format != mamHuffman {
			return fmt.Errorf("prefetch: %s: MAM compression format %d at offset 3 not supported (only 4, LZXpress Huffman)", src.Entry.Path, format)
		}
		if size > maxFile {
			return fmt.Errorf("prefetch: %s: MAM header at offset 4 claims %d bytes decompressed", src.Entry.Path, size)
		}
		data, err = DecompressHuffman(raw[start:], size)
		if err != nil {
			// What was decoded before the damage may hold the header and
			// the run times: read it, and say what was lost.
			src.Warnf(int64(start), 0, "decompressed %d of %d bytes: %w", len(data), size, err)
		}
		compressed = true
	}
	f, warns, err := Decode(data)
	if err != nil {
		return fmt.Errorf("prefetch: %s: %w", src.Entry.Path, err)
	}
	for _, w := range warns {
		src.WarnErr(0, 0, w)
	}
	if len(f.Runs) == 0 {
		src.Warnf(0, 0, "%w: no last-run time set (run count %d): nothing to place on the timeline", ErrFormat, f.RunCount)
		return nil
	}
	return emitRuns(f, compressed, emit)
}

func emitRuns(f *File, compressed bool, emit func(*timeline.Event) error) error {
	exe := f.ExecutablePath()
	var sample []string
	for _, s := range f.Filenames[:min(len(f.Filenames), filesSample)] {
		sample = append(sample, s[strings.LastIndexByte(s, '\\')+1:])
	}
	var vpaths, serials, created []string
	for _, v := range f.Volumes {
		vpaths = append(vpaths, v.Path)
		serials = append(serials, fmt.Sprintf("%08X", v.Serial))
		created = append(created, v.Created.Time().Format("2006-01-02T15:04:05.0000000Z"))
	}
	hash := fmt.Sprintf("%08X", f.Hash)
	data := map[string]string{
		"prefetch.version":      strconv.Itoa(int(f.Version)),
		"prefetch.hash":         hash,
		"prefetch.run_count":    strconv.Itoa(int(f.RunCount)),
		"prefetch.files_loaded": strconv.Itoa(len(f.Filenames)),
		"prefetch.files_sample": strings.Join(sample, ", "),
	}
	if len(f.Volumes) > 0 {
		data["prefetch.volume_path"] = strings.Join(vpaths, ", ")
		data["prefetch.volume_serial"] = strings.Join(serials, ", ")
		data["prefetch.volume_created"] = strings.Join(created, ", ")
	}
	if compressed {
		data["prefetch.compression"] = "MAM LZXpress Huffman"
	}
	more := ""
	if n := len(f.Filenames) - len(sample); n > 0 {
		more = fmt.Sprintf(" (+%d more)", n)
	}
	shown := exe
	if shown == "" {
		shown = f.Executable
	}
	for i, ft := range f.Runs {
		desc, what := "Last Time Executed", "last run"
		if i > 0 {
			desc, what = "Previous Execution Time", fmt.Sprintf("earlier run %d of %d kept", i+1, len(f.Runs))
		}
		d := make(map[string]string, len(data)+1)
		for k, v := range data {
			d[k] = v
		}
		d["prefetch.run_slot"] = strconv.Itoa(i + 1)
		ev := &timeline.Event{
			Timestamp:     ft.Time(),
			TimestampDesc: desc,
			Message: fmt.Sprintf("prefetch %s-%s: %s executed (%s; run count %d); %d files loaded: %s%s",
				f.Executable, hash, shown, what, f.RunCount, len(f.Filenames), strings.Join(sample, ", "), more),
			Event: timeline.EventMeta{Kind: "event", Category: []string{"process"}, Type: []string{"start"},
				Action: "program-executed", Dataset: "windows.prefetch"},
			Process: &timeline.Process{Name: f.Executable, Executable: exe},
			Jejak:   timeline.Jejak{Data: d},
		}
		if exe != "" {
			ev.Process.Name = path.Base(strings.ReplaceAll(exe, `\`, "/"))
		}
		if ft.OutOfRange() {
			ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
		}
		// Offsets of a compressed file's fields are in the decompressed
		// bytes, which the evidence does not hold: the event points at the
		// file's start.
		if !compressed {
			ev.Jejak.Provenance.Offset = int64(f.RunsAt[i])
		}
		ev.Jejak.Provenance.Record = int64(i + 1)
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}
