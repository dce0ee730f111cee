// Package disk turns a disk image into evidence: it recognises an image by
// content (EWF, a raw disk with a valid MBR or GPT, or a bare file system),
// opens the container and its partitions, walks each file system it
// supports, and sends every regular file through the archive expander so
// files inside images reach the parser registry like any other file.
package disk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ext4"
	"github.com/jejak-forensics/jejak/forensics/fs/fat"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/forensics/volume"
	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Options configure a disk walk.
type Options struct {
	// FS bounds the expansion of archives found inside the image.
	FS jfs.Options
}

// image is how images are opened for this walk: a compressed image's
// decompressed copy goes to the case's temporary folder, not to a
// process-wide one that another case's ingest may have set.
func (o Options) image() image.Options { return image.Options{TempDir: o.FS.TempDir} }

// ErrUnsupported is the cause of a Problem for a partition whose file
// system this build cannot walk.
var ErrUnsupported = errors.New("unsupported file system")

var ewfSignature = []byte("EVF\x09\x0d\x0a\xff\x00")

// Open recognises path by content. isDisk is false (with a nil walker and
// error) for anything that is not a disk image, a plain log or an archive
// for instance: the caller then uses fs.Open. An error with isDisk true
// means the path is an image that cannot be opened (an EWF set missing a
// segment, say).
func Open(ctx context.Context, path string, opts Options) (w jfs.Walker, isDisk bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, nil
	}
	f, err := rofile.Open(path) // O_NOATIME: sniffing must not touch the atime
	if err != nil {
		return nil, false, err
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if n == len(head) && bytes.Equal(head, ewfSignature) {
		img, err := image.OpenWith(path, opts.image())
		if err != nil {
			return nil, true, err
		}
		img.Close()
		return &walker{path: path, opts: opts}, true, nil
	}
	img, err := image.OpenWith(path, opts.image())
	if err != nil {
		return nil, false, nil // not an image we can read: let fs.Open judge
	}
	defer img.Close()
	if !LooksLikeDisk(img, img.Size()) {
		return nil, false, nil
	}
	return &walker{path: path, opts: opts}, true, nil
}

// LooksLikeDisk: a valid MBR or GPT, or a file system this package walks
// (a validated ext superblock, an NTFS boot sector, a FAT/exFAT boot
// sector whose geometry holds). Other file systems
// alone do not make a file a disk image: an ISO or a swap file is left to
// the plain-file path.
func LooksLikeDisk(r io.ReaderAt, size int64) bool {
	if size < 1024 {
		return false
	}
	sys, err := volume.Open(r, size)
	if err != nil {
		return false
	}
	if sys.Scheme == "mbr" || sys.Scheme == "gpt" {
		return len(sys.Partitions) > 0
	}
	switch volume.Detect(r) {
	case "ext2", "ext3", "ext4":
		_, err := ext4.NewWalker(r, size, nil)
		return err == nil
	case "ntfs":
		var sig [2]byte
		_, err := r.ReadAt(sig[:], 510)
		return err == nil && sig == [2]byte{0x55, 0xaa}
	case "fat", "exfat":
		// The whole boot sector checked (geometry, cluster count against
		// FAT type, FAT size), not only a signature: a small file ending
		// its first sector in 0x55AA is not a USB stick.
		_, err := fat.Probe(r, size)
		return err == nil
	}
	return false
}

type walker struct {
	path string
	opts Options
	// nested marks an image found inside evidence (a folder, an archive,
	// another image): prefix is the chain down to it, and its own files
	// were delivered by the walk that found it.
	nested bool
	prefix []string
	// r, when set, is a raw image read in place (a file of a file
	// system) of size bytes; path is then unused.
	r    io.ReaderAt
	size int64
}

// Walk opens the image afresh (each walk reads it read-only and closes
// it), then walks every partition in table order.
func (w *walker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	if w.r != nil {
		return w.walkMedia(ctx, w.r, w.size, append(slices.Clone(w.prefix), "raw:"), fn, report)
	}
	img, err := image.OpenWith(w.path, w.opts.image())
	if err != nil {
		return err
	}
	defer img.Close()
	info := img.Info()
	prefix := append(slices.Clone(w.prefix), info.Format+":")
	// The image files' own times, as for any registered file: when the
	// copy was made or last touched is part of its custody. (An image
	// found inside evidence had them delivered by the walk that found it.)
	for _, seg := range info.Segments {
		if w.nested {
			break
		}
		e, err := jfs.EvidenceFile(seg)
		if err != nil {
			report(&jfs.Problem{Chain: []string{"file:" + filepath.Base(seg)}, Path: filepath.Base(seg), Offset: -1, Err: fmt.Errorf("%w: %v", jfs.ErrUnreadable, err)})
			continue
		}
		if err := fn(ctx, e); err != nil {
			return err
		}
	}
	for _, msg := range info.Warnings {
		report(&jfs.Problem{Chain: prefix, Path: ".", Offset: -1, Err: fmt.Errorf("%w: %s", jfs.ErrCorrupt, msg)})
	}
	for _, r := range info.AcquisitionErrors {
		report(&jfs.Problem{Chain: prefix, Path: ".", Offset: r.Start * info.SectorSize,
			Err: fmt.Errorf("%w: acquisition could not read sectors %d-%d (zeros in the image)", jfs.ErrUnreadable, r.Start, r.Start+r.Count-1)})
	}
	err = w.walkMedia(ctx, img, img.Size(), prefix, fn, report)
	// What the container learnt while it was read (a compressed image's
	// temporary copy and its SHA-256, a VHDX log replayed) is known only
	// now: notes for the summary, not problems.
	for _, n := range img.Info().Notes {
		report(&jfs.Problem{Chain: prefix, Path: ".", Offset: -1, Err: fmt.Errorf("%w: %s", jfs.ErrNote, n)})
	}
	return err
}

// walkMedia walks the partitions of the media r (size bytes); prefix is
// the chain down to the media ("ewf:", or "dir:case/x.E01" and "ewf:").
func (w *walker) walkMedia(ctx context.Context, img io.ReaderAt, size int64, prefix []string, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	sys, err := volume.Open(img, size)
	if err != nil {
		return err
	}
	for _, p := range sys.Problems {
		report(&jfs.Problem{Chain: prefix, Path: ".", Offset: p.Offset, Err: fmt.Errorf("%w: %s", jfs.ErrCorrupt, p.Msg)})
	}

	x := jfs.NewExpander(ctx, w.opts.FS, fn, report)
	var stop error // set when fn asked to stop
	// selfExpanding is set for a file system walker that expands the
	// archives it holds itself (NTFS): what it yields is delivered as it
	// is, not sniffed and expanded a second time.
	selfExpanding := false
	deliver := func(ctx context.Context, e *jfs.Entry) error {
		var err error
		if !e.Mode.IsRegular() || selfExpanding {
			// Directories, links, devices, FIFOs, sockets: times only,
			// nothing to expand; or already expanded.
			err = fn(ctx, e)
		} else {
			err = x.Entry(e)
		}
		if err != nil && stop == nil {
			stop = err
		}
		return err
	}
	for _, p := range sys.Partitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		chain := prefix
		where := "the image"
		if sys.Scheme != "none" {
			chain = append(slices.Clone(prefix), fmt.Sprintf("partition:%d@%d", p.Index, p.Start))
			where = fmt.Sprintf("partition %d at offset %d", p.Index, p.Start)
		}
		size := p.Reader.Size()
		kind := volume.Detect(p.Reader)
		var fsw jfs.Walker
		var oerr error
		selfExpanding = false
		switch kind {
		case "ext2", "ext3", "ext4":
			fsw, oerr = ext4.NewWalker(p.Reader, size, chain)
		case "ntfs":
			var nw *ntfs.Walker
			if nw, oerr = ntfs.New(p.Reader, size, chain, w.opts.FS); oerr == nil {
				fsw, selfExpanding = nw, true
			}
		case "fat", "exfat":
			fsw, oerr = fat.NewWalker(p.Reader, size, chain, fat.Options{Zone: w.opts.FS.Zone})
		default:
			oerr = fmt.Errorf("%w: %s in %s", ErrUnsupported, fsName(kind), where)
		}
		if oerr != nil {
			if !errors.Is(oerr, ErrUnsupported) {
				oerr = fmt.Errorf("%s file system in %s: %w", kind, where, oerr)
			}
			report(&jfs.Problem{Chain: append(slices.Clone(chain), kind+":"), Path: ".", Offset: p.Start, Err: oerr})
			continue
		}
		if err := fsw.Walk(ctx, deliver, report); err != nil {
			if stop != nil || ctx.Err() != nil {
				return err
			}
			// The file system could not be walked at all (no root
			// directory, say): the other partitions still can.
			report(&jfs.Problem{Chain: append(slices.Clone(chain), kind+":"), Path: ".", Offset: p.Start,
				Err: fmt.Errorf("%s file system in %s: %w", kind, where, err)})
		}
	}
	return nil
}

// fsNames are the names examiners know the file systems this build does
// not walk by, for the warning that names them.
var fsNames = map[string]string{
	"btrfs": "Btrfs", "xfs": "XFS", "iso9660": "ISO 9660", "hfsplus": "HFS+", "apfs": "APFS",
	"lvm2": "LVM2 physical volume", "luks": "LUKS encrypted volume", "swap": "Linux swap",
	"unknown": "unrecognised content (no boot sector or superblock jejak knows)",
}

func fsName(kind string) string {
	if n, ok := fsNames[kind]; ok {
		return n
	}
	return kind
}

// OpenFound is the fs.ImageOpener of a walk: it opens a disk image met
// inside evidence (in a folder, an archive, another image) when its
// content is one, as Open does for a registered file. A raw file must
// pass the same test as a registered one (looksLikeDisk); a container
// format (EWF, QCOW2, VMDK, VHD/VHDX) that does not open is an error, so
// the examiner is told (an E01 whose later segments are not beside it).
func OpenFound(ctx context.Context, src jfs.ImageSource) (jfs.Walker, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	opts := Options{FS: src.Opts}
	prefix := slices.Clone(src.Entry.Chain)
	if src.Path == "" {
		if !LooksLikeDisk(src.R, src.Size) || !holdsFileSystem(src.R, src.Size) {
			return nil, nil, nil
		}
		return &walker{opts: opts, nested: true, prefix: prefix, r: src.R, size: src.Size}, nil, nil
	}
	img, err := image.OpenWith(src.Path, opts.image())
	if err != nil {
		if container(src.Path) {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	defer img.Close()
	info := img.Info()
	if (info.Format == "raw" || info.Format == "split-raw") && !(LooksLikeDisk(img, img.Size()) && holdsFileSystem(img, img.Size())) {
		return nil, nil, nil
	}
	var others []string
	for _, seg := range info.Segments {
		if filepath.Clean(seg) != filepath.Clean(src.Path) {
			others = append(others, seg)
		}
	}
	return &walker{path: src.Path, opts: opts, nested: true, prefix: prefix}, others, nil
}

// holdsFileSystem is the further test a raw file found inside evidence
// must pass (an examiner who registers a file means it as an image; a file
// met inside one is only a candidate): a bare file system must fit in the
// file. NTFS's own $Boot, the first 8 KiB of a volume, starts with the
// volume's boot sector and is no disk; neither is a boot sector saved
// alone. A partitioned disk passes (its partitions were checked against
// its size by volume.Open).
func holdsFileSystem(r io.ReaderAt, size int64) bool {
	sys, err := volume.Open(r, size)
	if err != nil {
		return false
	}
	if sys.Scheme != "none" {
		return true
	}
	var declared int64
	switch volume.Detect(r) {
	case "ext2", "ext3", "ext4":
		w, err := ext4.NewWalker(r, size, nil)
		if err != nil {
			return false
		}
		declared = int64(w.Info().Blocks) * w.Info().BlockSize
	case "ntfs":
		var b [0x30]byte
		if _, err := r.ReadAt(b[:], 0); err != nil {
			return false
		}
		// Total sectors (0x28) leave out the backup boot sector after them.
		declared = int64(binary.LittleEndian.Uint64(b[0x28:])) * int64(binary.LittleEndian.Uint16(b[0x0B:]))
	case "fat", "exfat":
		w, err := fat.NewWalker(r, size, nil, fat.Options{})
		if err != nil {
			return false
		}
		declared = w.Info().Bytes
	default:
		return false
	}
	return declared > 0 && declared <= size
}

// container says whether the file at path starts with the signature of a
// disk-image container (not raw bytes).
func container(path string) bool {
	f, err := rofile.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	for _, m := range [][]byte{ewfSignature, []byte("QFI\xfb"), []byte("KDMV"), []byte("# Disk DescriptorFile"), []byte("vhdxfile"), []byte("conectix")} {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

// OpenEvidence opens any evidence path as one walker: a disk image (raw,
// split raw, E01; partitions; NTFS, ext4, FAT and exFAT) when its content says so, else
// a plain file, folder or archive.
func OpenEvidence(ctx context.Context, path string, opts jfs.Options) (jfs.Walker, error) {
	if opts.Images == nil {
		// Disk images inside folders, archives and other images are
		// opened as disks too.
		opts.Images = OpenFound
	}
	w, isDisk, err := Open(ctx, path, Options{FS: opts})
	if isDisk || err != nil {
		return w, err
	}
	return jfs.Open(ctx, path, opts)
}
