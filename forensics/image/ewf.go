package image

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// EWF is an EWF (E01) image set read as the media it holds. Chunks are
// inflated on demand and kept in a small LRU cache; the image is never read
// whole. Only the chunk table (4 bytes per chunk) is held in memory.
type EWF struct {
	segs      []*ewfSegment
	groups    []chunkGroup
	chunks    int64 // entries over all groups
	chunkSize int64
	size      int64
	info      Info
	cache     *chunkCache
	zpool     sync.Pool // zlib readers, reused through zlib.Resetter
}

type ewfSegment struct {
	name    string
	r       io.ReaderAt
	c       io.Closer // nil for in-memory segments
	size    int64
	sectors [][2]int64 // payload ranges of sectors sections
}

// chunkGroup is one table's run of chunks.
type chunkGroup struct {
	seg     int
	base    int64
	entries []uint32
	first   int64 // number of the group's first chunk
	end     int64 // file offset no chunk of the group extends past
}

// ChunkError is a chunk that cannot be read back: its zlib stream is broken,
// its Adler-32 does not match, or its table entry points nowhere sensible.
// Other chunks stay readable.
type ChunkError struct {
	Chunk   int64  // chunk number, from 0
	Segment string // segment file holding it
	Offset  int64  // offset of the chunk's data in that file
	Err     error
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("ewf: chunk %d (%s, file offset %d): %v", e.Chunk, filepath.Base(e.Segment), e.Offset, e.Err)
}

func (e *ChunkError) Unwrap() error { return e.Err }

const (
	chunkCacheSize   = 32 // chunks; 1 MiB at the default 32 KiB chunk
	maxSectionRead   = 1 << 20
	maxSegmentsInSet = 14971 // .E01-.E99 then .EAA-.ZZZ
)

// OpenEWF opens the EWF set that path (any segment of it) belongs to. The
// siblings are found by the EWF naming scheme (.E01-.E99, .EAA-.ZZZ, and the
// same for .s01 and .L01); a missing one is a *MissingSegmentError.
func OpenEWF(path string) (*EWF, error) {
	return newEWF(func(n int) (*ewfSegment, error) {
		name, ok := ewfSegmentName(path, n)
		if !ok {
			return nil, fmt.Errorf("ewf: %s: cannot name segment %d (extension is not .E01-style)", path, n)
		}
		f, size, err := openSized(name, "")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MissingSegmentError{Missing: []string{name}, Set: path}
		}
		if err != nil {
			return nil, err
		}
		return &ewfSegment{name: name, r: f, c: f, size: size}, nil
	})
}

// ewfSegmentName names segment n of the set path belongs to, keeping the
// extension's letter and case: n 1-99 is .X01-.X99, from 100 on .XAA, .XAB,
// ... .XZZ, then the first letter moves on (.YAA ...).
func ewfSegmentName(path string, n int) (string, bool) {
	ext := filepath.Ext(path)
	if len(ext) != 4 {
		return "", false
	}
	letter := ext[1]
	upper := letter >= 'A' && letter <= 'Z'
	if !upper && !(letter >= 'a' && letter <= 'z') {
		return "", false
	}
	stem := strings.TrimSuffix(path, ext)
	if n >= 1 && n <= 99 {
		return fmt.Sprintf("%s.%c%02d", stem, letter, n), true
	}
	k := n - 100
	a, z := byte('a'), byte('z')
	if upper {
		a, z = 'A', 'Z'
	}
	first := int(letter) + k/676
	if k < 0 || first > int(z) {
		return "", false
	}
	return fmt.Sprintf("%s.%c%c%c", stem, byte(first), a+byte(k/26%26), a+byte(k%26)), true
}

// newEWF reads the section chains of segments 1, 2, ... (opened by open)
// until the one that ends with a done section.
func newEWF(open func(n int) (*ewfSegment, error)) (*EWF, error) {
	e := &EWF{cache: newChunkCache(chunkCacheSize)}
	var vol *volumeInfo
	for n := 1; ; n++ {
		if n > maxSegmentsInSet {
			e.Close()
			return nil, errors.New("ewf: too many segments")
		}
		s, err := open(n)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.segs = append(e.segs, s)
		e.info.Segments = append(e.info.Segments, s.name)
		last, err := e.loadSegment(n, s, &vol)
		var broken *brokenChainError
		if errors.As(err, &broken) && vol != nil {
			// A truncated or damaged segment: keep the chunks whose tables
			// were read, so the rest of the media stays readable.
			e.warnf("%v; chunks listed after that point are unreadable", broken.err)
			break
		}
		if err != nil {
			e.Close()
			return nil, err
		}
		if last == "done" {
			break
		}
	}
	if vol == nil {
		e.Close()
		return nil, errors.New("ewf: no volume or disk section in the first segment")
	}
	e.chunkSize = vol.SectorsPerChunk * vol.BytesPerSector
	e.size = vol.SectorCount * vol.BytesPerSector
	e.info.Format = "ewf"
	e.info.SectorSize = vol.BytesPerSector
	e.info.SectorCount = vol.SectorCount
	e.info.ChunkSize = e.chunkSize
	need := (e.size + e.chunkSize - 1) / e.chunkSize
	if e.chunks < need {
		e.info.Warnings = append(e.info.Warnings, fmt.Sprintf("tables list %d chunks, the media needs %d: reads past byte %d fail", e.chunks, need, e.chunks*e.chunkSize))
	} else if e.chunks > need {
		e.info.Warnings = append(e.info.Warnings, fmt.Sprintf("tables list %d chunks, the media needs %d: extra chunks ignored", e.chunks, need))
	}
	return e, nil
}

func (e *EWF) warnf(format string, args ...any) {
	e.info.Warnings = append(e.info.Warnings, fmt.Sprintf(format, args...))
}

// brokenChainError is a section chain that stops early (truncated file,
// damaged descriptor); what was read before it is still usable.
type brokenChainError struct{ err error }

func (e *brokenChainError) Error() string { return e.err.Error() }
func (e *brokenChainError) Unwrap() error { return e.err }

// loadSegment walks one segment's section chain and returns the type of its
// last section ("next" or "done").
func (e *EWF) loadSegment(n int, s *ewfSegment, vol **volumeInfo) (string, error) {
	var hdr [ewfFileHeaderSize]byte
	if _, err := s.r.ReadAt(hdr[:], 0); err != nil {
		return "", fmt.Errorf("ewf: %s: reading file header: %w", s.name, err)
	}
	num, err := parseFileHeader(hdr[:])
	if err != nil {
		return "", fmt.Errorf("ewf: %s: %w", s.name, err)
	}
	if num != n {
		return "", fmt.Errorf("ewf: %s is segment %d of its set, expected segment %d", s.name, num, n)
	}
	var pending *tableInfo
	var pendingDesc sectionDesc
	flush := func() {
		if pending != nil {
			if !pending.Valid {
				e.warnf("%s: table at offset %d: %v (no valid table2 mirror; entries used as they are)", s.name, pendingDesc.Offset, pending.Err)
			}
			e.addGroup(len(e.segs)-1, s, pendingDesc, pending)
			pending = nil
		}
	}
	broken := func(err error) error { return &brokenChainError{err} }
	var desc [ewfDescSize]byte
	off := int64(ewfFileHeaderSize)
	for {
		if off+ewfDescSize > s.size {
			return "", broken(fmt.Errorf("ewf: %s: truncated: section descriptor at offset %d runs past the end of the file (%d bytes); the chain has no done or next section", s.name, off, s.size))
		}
		if _, err := s.r.ReadAt(desc[:], off); err != nil {
			return "", broken(fmt.Errorf("ewf: %s: reading section at offset %d: %w", s.name, off, err))
		}
		d, err := parseSectionDesc(desc[:], off)
		if err != nil {
			return "", broken(fmt.Errorf("ewf: %s: %w", s.name, err))
		}
		payload := int64(0)
		if d.Size > ewfDescSize {
			payload = d.Size - ewfDescSize
		}
		if off+ewfDescSize+payload > s.size {
			return "", broken(fmt.Errorf("ewf: %s: section %q at offset %d claims %d bytes, past the end of the file", s.name, d.Type, off, d.Size))
		}
		at := off + ewfDescSize
		if d.Type != "table2" {
			flush()
		}
		switch d.Type {
		case "done", "next":
			return d.Type, nil
		case "header2", "header":
			if e.info.Metadata == nil {
				if b, err := readSection(s, at, payload); err != nil {
					e.warnf("%s: %s section at offset %d: %v", s.name, d.Type, off, err)
				} else if m, err := parseHeader(b, d.Type == "header2"); err != nil {
					e.warnf("%s: %s section at offset %d: %v", s.name, d.Type, off, err)
				} else {
					e.info.Metadata = m
				}
			}
		case "volume", "disk":
			if *vol == nil {
				b, err := readSection(s, at, min(payload, 4096))
				if err != nil {
					return "", broken(fmt.Errorf("ewf: %s: %s section at offset %d: %w", s.name, d.Type, off, err))
				}
				v, err := parseVolume(b)
				if err != nil {
					return "", broken(fmt.Errorf("ewf: %s: %s section at offset %d: %w", s.name, d.Type, off, err))
				}
				*vol = &v
			}
		case "sectors":
			s.sectors = append(s.sectors, [2]int64{at, at + payload})
		case "table", "table2":
			t, err := readTable(s, at, payload)
			if err != nil {
				return "", broken(fmt.Errorf("ewf: %s: %s section at offset %d: %w", s.name, d.Type, off, err))
			}
			switch {
			case d.Type == "table":
				pending, pendingDesc = &t, d
			case pending != nil && !pending.Valid && t.Valid:
				e.warnf("%s: table at offset %d: %v; read its table2 mirror at offset %d instead", s.name, pendingDesc.Offset, pending.Err, off)
				pending, pendingDesc = &t, d
				flush()
			default:
				flush() // the table was good (or table2 no better): the mirror adds nothing
			}
		case "hash":
			if b, err := readSection(s, at, min(payload, 4096)); err != nil {
				e.warnf("%s: hash section at offset %d: %v", s.name, off, err)
			} else if md5, err := parseHash(b); err != nil {
				e.warnf("%s: hash section at offset %d: %v", s.name, off, err)
			} else if md5 != nil {
				e.info.Stored.MD5 = fmt.Sprintf("%x", md5)
			}
		case "digest":
			if b, err := readSection(s, at, min(payload, 4096)); err != nil {
				e.warnf("%s: digest section at offset %d: %v", s.name, off, err)
			} else if md5, sha1, err := parseDigest(b); err != nil {
				e.warnf("%s: digest section at offset %d: %v", s.name, off, err)
			} else {
				if md5 != nil {
					e.info.Stored.MD5 = fmt.Sprintf("%x", md5)
				}
				if sha1 != nil {
					e.info.Stored.SHA1 = fmt.Sprintf("%x", sha1)
				}
			}
		case "error2":
			if b, err := readSection(s, at, min(payload, maxSectionRead)); err != nil {
				e.warnf("%s: error2 section at offset %d: %v", s.name, off, err)
			} else if r, err := parseError2(b); err != nil {
				e.warnf("%s: error2 section at offset %d: %v", s.name, off, err)
			} else {
				e.info.AcquisitionErrors = append(e.info.AcquisitionErrors, r...)
			}
		}
		if d.Next <= off {
			return "", broken(fmt.Errorf("ewf: %s: section %q at offset %d points back to offset %d (loop)", s.name, d.Type, off, d.Next))
		}
		off = d.Next
	}
}

func readSection(s *ewfSegment, at, n int64) ([]byte, error) {
	if n > maxSectionRead {
		return nil, fmt.Errorf("section payload of %d bytes is implausibly large", n)
	}
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, at); err != nil {
		return nil, err
	}
	return b, nil
}

// readTable reads a table's header and entries but not what follows them:
// in SMART and EnCase 1 files the chunks themselves live in the table section.
func readTable(s *ewfSegment, at, payload int64) (tableInfo, error) {
	if payload < ewfTableHeader {
		return tableInfo{}, fmt.Errorf("payload of %d bytes is too small", payload)
	}
	var h [ewfTableHeader]byte
	if _, err := s.r.ReadAt(h[:], at); err != nil {
		return tableInfo{}, err
	}
	count := int64(binary.LittleEndian.Uint32(h[0:4]))
	n := min(ewfTableHeader+4*count+4, payload)
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, at); err != nil {
		return tableInfo{}, err
	}
	t := parseTable(b, at)
	if t.Entries == nil && t.Err != nil {
		return t, t.Err
	}
	return t, nil
}

// addGroup appends a table's chunks, working out where its last chunk ends:
// the end of the sectors section holding it, else of the table section
// (chunks inside the table), else of the file.
func (e *EWF) addGroup(si int, s *ewfSegment, d sectionDesc, t *tableInfo) {
	if len(t.Entries) == 0 {
		return
	}
	g := chunkGroup{seg: si, base: t.Base, entries: t.Entries, first: e.chunks, end: s.size}
	last := t.Base + int64(t.Entries[len(t.Entries)-1]&0x7fffffff)
	tableEnd := d.Offset + d.Size
	switch {
	case last >= d.Offset && last < tableEnd:
		g.end = tableEnd
	default:
		for _, sp := range s.sectors {
			if last >= sp[0] && last < sp[1] {
				g.end = sp[1]
			}
		}
	}
	e.groups = append(e.groups, g)
	e.chunks += int64(len(t.Entries))
}

// Size is the media size: sector count times bytes per sector.
func (e *EWF) Size() int64 { return e.size }

// Info describes the set; Info().Stored holds the acquisition hashes.
func (e *EWF) Info() Info {
	i := e.info
	i.Segments = append([]string(nil), e.info.Segments...)
	i.Warnings = append([]string(nil), e.info.Warnings...)
	return i
}

// Close closes every segment file.
func (e *EWF) Close() error {
	var first error
	for _, s := range e.segs {
		if s.c != nil {
			if err := s.c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// ReadAt reads media bytes. A range touching a chunk that cannot be decoded
// returns the bytes before that chunk and a *ChunkError.
func (e *EWF) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("ewf", p, off, e.size, e.readChunk)
}

// readChunk fills the start of p from the chunk that holds off.
func (e *EWF) readChunk(p []byte, off int64) (int, error) {
	c := off / e.chunkSize
	data, err := e.chunk(c)
	if err != nil {
		return 0, err
	}
	return copy(p, data[off-c*e.chunkSize:]), nil
}

// chunk returns the decoded bytes of chunk c (shorter for the media's last).
func (e *EWF) chunk(c int64) ([]byte, error) {
	if b, ok := e.cache.get(c); ok {
		return b, nil
	}
	b, err := e.decodeChunk(c)
	if err != nil {
		return nil, err
	}
	e.cache.put(c, b)
	return b, nil
}

func (e *EWF) decodeChunk(c int64) ([]byte, error) {
	gi := sort.Search(len(e.groups), func(i int) bool {
		return e.groups[i].first+int64(len(e.groups[i].entries)) > c
	})
	if gi == len(e.groups) {
		return nil, &ChunkError{Chunk: c, Offset: -1, Err: fmt.Errorf("no table lists this chunk (the image holds %d chunks)", e.chunks)}
	}
	g := &e.groups[gi]
	s := e.segs[g.seg]
	i := c - g.first
	raw := g.entries[i]
	off := g.base + int64(raw&0x7fffffff)
	end := g.end
	if i+1 < int64(len(g.entries)) {
		if next := g.base + int64(g.entries[i+1]&0x7fffffff); next > off {
			end = next
		}
	}
	cerr := func(format string, args ...any) error {
		return &ChunkError{Chunk: c, Segment: s.name, Offset: off, Err: fmt.Errorf(format, args...)}
	}
	end = min(end, s.size)
	if end <= off {
		return nil, cerr("table entry points at or past the end of its data (end %d)", end)
	}
	dataLen := min(e.chunkSize, e.size-c*e.chunkSize)
	out := make([]byte, dataLen)
	if raw&0x80000000 != 0 {
		// Incompressible chunks are stored raw, so a zlib stream is never much
		// longer than the chunk; the bound matters when end is the file's end.
		stored := make([]byte, min(end-off, e.chunkSize+1024))
		if _, err := s.r.ReadAt(stored, off); err != nil && err != io.EOF {
			return nil, cerr("reading: %v", err)
		}
		if err := e.inflate(out, stored); err != nil {
			return nil, cerr("%v", err)
		}
		return out, nil
	}
	// A last chunk may hold the tail of a partial sector the media size
	// leaves out: its checksum covers all that was stored.
	switch stored := end - off; {
	case stored >= dataLen+4:
		buf := make([]byte, min(stored, e.chunkSize+4))
		if _, err := s.r.ReadAt(buf, off); err != nil {
			return nil, cerr("reading: %v", err)
		}
		if c+1 < e.chunks || int64(len(buf)) < dataLen+4 {
			buf = buf[:dataLen+4]
		}
		k := len(buf) - 4
		want := binary.LittleEndian.Uint32(buf[k:])
		if got := adler32.Checksum(buf[:k]); got != want {
			return nil, cerr("Adler-32 mismatch: computed 0x%08x, stored 0x%08x", got, want)
		}
		copy(out, buf)
	case stored == dataLen:
		// Early writers store uncompressed chunks without a checksum.
		if _, err := s.r.ReadAt(out, off); err != nil {
			return nil, cerr("reading: %v", err)
		}
	default:
		return nil, cerr("uncompressed chunk has %d stored bytes, needs %d", stored, dataLen+4)
	}
	return out, nil
}

// inflate decodes a zlib chunk into out. The stream must fill out and may
// hold up to a whole chunk (a last chunk can carry the tail of a partial
// sector); zlib checks its Adler-32 trailer when the stream ends.
func (e *EWF) inflate(out, stored []byte) error {
	br := bytes.NewReader(stored)
	var zr io.ReadCloser
	if v := e.zpool.Get(); v != nil {
		zr = v.(io.ReadCloser)
		if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
			return fmt.Errorf("zlib: %w", err)
		}
	} else {
		var err error
		if zr, err = zlib.NewReader(br); err != nil {
			return fmt.Errorf("zlib: %w", err)
		}
	}
	defer e.zpool.Put(zr)
	if _, err := io.ReadFull(zr, out); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return errors.New("zlib stream ends before the chunk is full")
		}
		return fmt.Errorf("zlib: %w", err)
	}
	// Drain the rest (a partial sector at most) so the trailer is checked.
	rest, err := io.Copy(io.Discard, io.LimitReader(zr, e.chunkSize-int64(len(out))+1))
	switch {
	case err != nil:
		return fmt.Errorf("zlib: %w", err)
	case int64(len(out))+rest > e.chunkSize:
		return errors.New("zlib stream holds more than one chunk of data")
	}
	return nil
}

var _ Image = (*EWF)(nil)
