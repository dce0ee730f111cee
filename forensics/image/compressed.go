package image

// Compressed raw images: a dd/raw image compressed whole with gzip, xz,
// bzip2 or zstd (image.dd.gz, disk.raw.xz, usb.img.bz2, image.001.gz ...).
// These formats have no random access of their own (gzip and bzip2 cannot
// resume mid-stream without a saved decoder state, which compress/flate
// does not expose), so the media is decompressed once, streaming, into an
// unlinked temporary file in Options.TempDir, its SHA-256 computed on the way and
// reported in Info.Notes; it is never held in memory. The copy is made on
// the first read past the first MiB (or the first Size call): recognising
// and registering a compressed image costs one MiB of decompression, not
// the whole image. An xz file of several blocks needs no copy: it is read
// through its block index (compressed_xz.go). What a decompression found
// (size, SHA-256, damage) is remembered for the run, so a file opened
// again reports it before decompressing, and the new copy is checked
// against it.
//
// Only a stream whose first MiB is a disk (an MBR or GPT) or a file system
// is opened as an image: a compressed log stays a file for the archive
// expander.

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jejak-forensics/jejak/forensics/volume"
	"github.com/jejak-forensics/jejak/internal/rofile"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Options are what OpenWith is told besides the path.
type Options struct {
	// TempDir is the folder a compressed raw image (at the path or in its
	// backing chain) is decompressed into, as an unlinked temporary file:
	// a folder on a volume with room for the largest image (a case's
	// tmp/). Empty means the folder SetDefaultTempDir set, else
	// os.TempDir(). It travels with each open, not in a package variable,
	// so two cases read at once in one process (the Go API, a worker)
	// each keep their copies in their own folder.
	TempDir string
}

// defaultTempDir is the folder set by SetDefaultTempDir (nil: none).
var defaultTempDir atomic.Pointer[string]

// SetDefaultTempDir sets the folder used when Options.TempDir is empty:
// by Open, and by callers that reach Open through a package that does not
// pass Options. It is stored atomically, so setting it while images are
// opened elsewhere is not a data race; but it is one folder per process
// (the last set wins): a program reading several cases at once passes
// Options.TempDir to OpenWith instead.
func SetDefaultTempDir(dir string) { defaultTempDir.Store(&dir) }

// tempDir is the folder a decompressed copy goes to; "" means os.TempDir().
func (o Options) tempDir() string {
	if o.TempDir != "" {
		return o.TempDir
	}
	if d := defaultTempDir.Load(); d != nil {
		return *d
	}
	return ""
}

const compressedHead = 1 << 20

// compressedMaxMedia bounds a decompressed copy: 16 TiB, past any disk an
// examiner is handed in one file; a compression bomb stops there with a
// warning. The fuzz test lowers it.
var compressedMaxMedia int64 = 1 << 44

// Compressed is a compressed raw image read as the media it holds.
type Compressed struct {
	name   string
	format string     // gzip, xz, bzip2, zstd
	head   []byte     // the first MiB (or all) of the media
	xz     *xzIndexed // an xz file of several blocks, read through its index
	xzFile *os.File

	once    sync.Once
	tmp     *os.File // the decompressed copy, once made
	size    int64
	sum     string
	tmpDir  string
	warning string // a damaged stream: where it ended
	err     error  // the copy could not be made at all
	closed  bool
	mu      sync.Mutex
	key     mediaKey // the compressed file, as stat saw it at open
}

// mediaKey names a compressed file in one state: its path, size and
// modification time.
type mediaKey struct {
	path  string
	size  int64
	mtime int64
}

// mediaFact is what a decompression of a file found.
type mediaFact struct {
	size    int64
	sum     string
	warning string
}

// mediaFacts remembers, for this run, what each compressed file
// decompressed to. A file is opened more than once (recognised as a disk,
// then walked): a later Info reports the media's size, SHA-256 and damage
// before decompressing again, and the new copy's SHA-256 is checked
// against the earlier one.
var mediaFacts sync.Map // mediaKey -> mediaFact

// compressionOf names the compression whose magic starts head, or "".
func compressionOf(head []byte) string {
	switch {
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		return "gzip"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case len(head) >= 10 && bytes.HasPrefix(head, []byte("BZh")) && head[3] >= '1' && head[3] <= '9' &&
		bytes.Equal(head[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		return "bzip2"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// decompressor returns a streaming reader of r's decompressed content.
func decompressor(format string, r io.Reader) (io.ReadCloser, error) {
	switch format {
	case "gzip":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return z, nil
	case "xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(z), nil
	case "bzip2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case "zstd":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression %q", format)
}

// openCompressedIfDisk opens path as a compressed raw image when head is a
// compression's magic and the decompressed start is a disk or a file
// system; ok is false otherwise (path is left to the next test).
func openCompressedIfDisk(path string, head []byte, o Options) (Image, bool, error) {
	format := compressionOf(head)
	if format == "" {
		return nil, false, nil
	}
	c, err := openCompressed(path, format, o)
	if err != nil || !headLooksLikeDisk(c.head) {
		return nil, false, nil // a damaged or non-disk stream: a plain file
	}
	return c, true, nil
}

// OpenCompressed opens path, a gzip, xz, bzip2 or zstd file, as a raw
// image whatever its content.
func OpenCompressed(path string) (*Compressed, error) {
	var head [16]byte
	f, err := rofile.Open(path)
	if err != nil {
		return nil, err
	}
	n, _ := io.ReadFull(f, head[:])
	f.Close()
	format := compressionOf(head[:n])
	if format == "" {
		return nil, fmt.Errorf("image: %s: not gzip, xz, bzip2 or zstd", path)
	}
	return openCompressed(path, format, Options{})
}

func openCompressed(path, format string, o Options) (*Compressed, error) {
	f, err := rofile.Open(path)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	z, err := decompressor(format, bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("image: %s: %s stream: %w", path, format, err)
	}
	defer z.Close()
	head := make([]byte, compressedHead)
	c := &Compressed{name: path, format: format, tmpDir: o.tempDir()}
	if st, err := f.Stat(); err == nil {
		c.key = mediaKey{path: path, size: st.Size(), mtime: st.ModTime().UnixNano()}
	}
	n := 0
	for n < len(head) {
		m, err := z.Read(head[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return nil, fmt.Errorf("image: %s: %s stream: %w", path, format, err)
			}
			// A stream damaged within its first MiB: what came before
			// is the media, as for damage further on.
			c.warning = fmt.Sprintf("%s: %s stream damaged (media offset %d): %v; the media ends there", filepath.Base(path), format, n, err)
			break
		}
	}
	c.head = head[:n:n]
	if format == "xz" && c.warning == "" {
		if st, err := f.Stat(); err == nil {
			if blocks, err := parseXZIndex(f, st.Size()); err == nil && len(blocks) > 1 {
				last := blocks[len(blocks)-1]
				c.xz = &xzIndexed{name: path, r: f, blocks: blocks, size: last.uOff + last.uLen, cache: newChunkCache(xzPieces),
					verified: make([]bool, len(blocks)), bad: make([]error, len(blocks))}
				c.xzFile, keep = f, true
			}
		}
	}
	return c, nil
}

// headLooksLikeDisk: the start of a media holds a partition table or a
// file system a disk reader walks. forensics/disk decides for good on the
// whole media; this only keeps compressed logs from being decompressed
// whole to find out.
func headLooksLikeDisk(head []byte) bool {
	r := bytes.NewReader(head)
	switch volume.Detect(r) {
	case "ntfs", "exfat", "fat", "ext2", "ext3", "ext4":
		return true
	}
	if len(head) >= 520 && string(head[512:520]) == "EFI PART" ||
		len(head) >= 4104 && string(head[4096:4104]) == "EFI PART" {
		return true
	}
	if len(head) < 512 || head[510] != 0x55 || head[511] != 0xaa {
		return false
	}
	used := 0
	for i := range 4 {
		e := head[446+16*i : 462+16*i]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
		if e[4] != 0 && binary.LittleEndian.Uint32(e[8:]) > 0 && binary.LittleEndian.Uint32(e[12:]) > 0 {
			used++
		}
	}
	return used > 0
}

// materialise decompresses the whole stream into the temporary copy.
func (c *Compressed) materialise() {
	c.once.Do(func() {
		if int64(len(c.head)) < compressedHead {
			// The whole media is the head: no copy needed.
			s := sha256.Sum256(c.head)
			c.mu.Lock()
			c.size, c.sum = int64(len(c.head)), hex.EncodeToString(s[:])
			c.mu.Unlock()
			return
		}
		err := c.copyOut()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	})
}

func (c *Compressed) copyOut() error {
	dir := c.tmpDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := rofile.Open(c.name)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &countingReader{r: f}
	z, err := decompressor(c.format, bufio.NewReaderSize(cr, 256<<10))
	if err != nil {
		return fmt.Errorf("image: %s: %s stream: %w", c.name, c.format, err)
	}
	defer z.Close()
	tmp, err := os.CreateTemp(dir, "jejak-decompressed-*.raw")
	if err != nil {
		return fmt.Errorf("image: %s: temporary copy: %w", c.name, err)
	}
	// Unlinked at once: the copy is gone when it is closed, or when the
	// process dies, and nobody else can open it meanwhile.
	os.Remove(tmp.Name())
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var n int64
	var warning string
	for {
		m, rerr := z.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			if _, err := tmp.Write(buf[:m]); err != nil {
				tmp.Close()
				return fmt.Errorf("image: %s: writing the temporary copy in %s at media offset %d: %w", c.name, dir, n, err)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if n >= compressedMaxMedia && rerr == nil {
			warning = fmt.Sprintf("%s: %s stream decompresses to more than %d bytes: the media is cut there", filepath.Base(c.name), c.format, compressedMaxMedia)
			break
		}
		if rerr != nil {
			// The media up to the damage is kept: the rest of the image
			// is still worth reading.
			warning = fmt.Sprintf("%s: %s stream damaged near compressed offset %d (media offset %d): %v; the media ends there",
				filepath.Base(c.name), c.format, cr.n, n, rerr)
			break
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if was, ok := mediaFacts.Load(c.key); ok && was.(mediaFact).sum != sum {
		// The same compressed file gave other media: the file changed
		// under the same size and time, or the reads are not reliable.
		warning = strings.TrimPrefix(warning+"; ", "; ") + fmt.Sprintf("%s: decompressed to other media than earlier in this run (sha256 %s, %d bytes; before %s, %d bytes)",
			filepath.Base(c.name), sum, n, was.(mediaFact).sum, was.(mediaFact).size)
	}
	mediaFacts.Store(c.key, mediaFact{size: n, sum: sum, warning: warning})
	c.mu.Lock()
	c.tmp, c.size, c.sum, c.warning = tmp, n, sum, warning
	c.mu.Unlock()
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// Size is the media size; the first call decompresses the whole stream
// unless it fits the first MiB. When the copy cannot be made it is 0 and
// Info says why.
func (c *Compressed) Size() int64 {
	if c.xz != nil {
		return c.xz.size
	}
	c.materialise()
	return c.size
}

func (c *Compressed) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("image: %s: negative offset %d", c.name, off)
	}
	if off+int64(len(p)) <= int64(len(c.head)) {
		return copy(p, c.head[off:]), nil
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, os.ErrClosed
	}
	if c.xz != nil {
		return c.xz.ReadAt(p, off)
	}
	c.materialise()
	if c.err != nil {
		return 0, c.err
	}
	if c.tmp == nil {
		if off >= int64(len(c.head)) {
			return 0, io.EOF
		}
		n := copy(p, c.head[off:])
		return n, io.EOF
	}
	return c.tmp.ReadAt(p, off)
}

func (c *Compressed) Info() Info {
	in := Info{Format: c.format + "-raw", Segments: []string{c.name}}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.xz != nil:
		in.Notes = append(in.Notes, fmt.Sprintf("xz-compressed raw image: %d bytes of media in %d blocks, read through the xz block index (no temporary copy; each block's own check verified as it is read)", c.xz.size, len(c.xz.blocks)))
	case c.err != nil:
		in.Warnings = append(in.Warnings, c.err.Error())
	case c.sum != "":
		where := "held in memory (under 1 MiB)"
		if c.tmp != nil {
			where = "decompressed into an unlinked temporary copy in " + c.dirName()
		}
		in.Notes = append(in.Notes, fmt.Sprintf("%s-compressed raw image: %d bytes of media %s, sha256 %s", c.format, c.size, where, c.sum))
	default:
		if f, ok := mediaFacts.Load(c.key); ok {
			f := f.(mediaFact)
			in.Notes = append(in.Notes, fmt.Sprintf("%s-compressed raw image: %d bytes of media, sha256 %s when decompressed earlier in this run; decompressed again on first use into an unlinked temporary copy in %s and checked against that", c.format, f.size, f.sum, c.dirName()))
			if f.warning != "" && c.warning == "" {
				in.Warnings = append(in.Warnings, f.warning)
			}
			break
		}
		in.Notes = append(in.Notes, fmt.Sprintf("%s-compressed raw image: decompressed on first use into an unlinked temporary copy in %s", c.format, c.dirName()))
	}
	if c.warning != "" {
		in.Warnings = append(in.Warnings, c.warning)
	}
	return in
}

func (c *Compressed) dirName() string {
	if c.tmpDir == "" {
		return os.TempDir()
	}
	return c.tmpDir
}

// MediaSHA256 is the SHA-256 of the decompressed media, computed while the
// copy was made ("" before).
func (c *Compressed) MediaSHA256() string { return c.sum }

func (c *Compressed) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	if c.xzFile != nil {
		err = c.xzFile.Close()
	}
	if c.tmp != nil {
		if terr := c.tmp.Close(); err == nil {
			err = terr
		}
	}
	return err
}

var _ Image = (*Compressed)(nil)
