package evidence

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hashBufSize is large because evidence is big and read once: fewer read
// calls, and the three hashes each see long runs.
const hashBufSize = 1 << 20

// Digests are the three hashes of one byte stream; a pass that did not
// compute one of them leaves it empty.
type Digests struct {
	Size   int64
	SHA256 string
	SHA1   string
	MD5    string
}

// hashSet says which of the three digests a pass computes. Only a file
// item's own bytes need all three: a folder's files, an image set's other
// segments and every re-check of them compare SHA-256 alone, and hashing
// MD5 (the slowest, 0.65-0.77 GB/s on one core here) for nothing cost a
// third of the hashing of an EVTX folder.
type hashSet uint8

const (
	withSHA256 hashSet = 1 << iota
	withSHA1
	withMD5
	allHashes = withSHA256 | withSHA1 | withMD5
)

// hashRing is how many blocks of a stream are in flight between the
// reader and the hashers: the caller's buffer cut in as many parts.
const hashRing = 4

// hashBlock is one part of the buffer; left counts the hashers that have
// not yet read it, and the last one hands it back to the reader. src is
// what they hash: the first bytes of b, or a run of zeros the reader
// passed over (a hole of a sparse file, zeroRuns).
type hashBlock struct {
	b    []byte
	src  []byte
	left atomic.Int32
}

// zeroRuns is a reader that can pass over its next bytes unread when they
// are zeros: sparseReader, at a hole of a sparse file.
type zeroRuns interface {
	io.Reader
	// zeros passes over the next n bytes and reports true when all of
	// them are zeros; otherwise it leaves the reader where it is.
	zeros(n int) bool
}

// zeroPart is the run of zeros the hashers hash for a part of a hole:
// never written, so it is one page of zeros the kernel maps over and
// over, and the holes of a sparse image are neither read nor cleared
// (clearing the parts was 0.1 CPU-s a pass over the bench's 1.1 GB of
// holes).
var zeroPart [hashBufSize / hashRing]byte

// newHashes returns the hashes want names and digests, which gives
// their sums once n bytes have been written to each; hashStream and
// hashAside share it so both passes name the same hashes alike.
func newHashes(want hashSet) (hs []hash.Hash, digests func(n int64) Digests) {
	var outs []*string
	var d Digests
	for _, k := range []struct {
		bit hashSet
		new func() hash.Hash
		out *string
	}{{withSHA256, sha256.New, &d.SHA256}, {withSHA1, sha1.New, &d.SHA1}, {withMD5, md5.New, &d.MD5}} {
		if want&k.bit != 0 {
			hs, outs = append(hs, k.new()), append(outs, k.out)
		}
	}
	return hs, func(n int64) Digests {
		d.Size = n
		for i, h := range hs {
			*outs[i] = hex.EncodeToString(h.Sum(nil))
		}
		return d
	}
}

// besideKey marks the context of a hash pass that runs beside another on
// its own goroutine (BeginEvidence: the SHA-256 pass beside the late
// pass): hashStream then reads and hashes on the caller's goroutine, one
// part after the other. With a goroutine per hash, the reader was woken on
// the hasher's core each time a part came back (the other core busy with
// the late pass, nothing stole it), so reads and hashing took turns on
// one core all the same, with ~1,400 hand-overs between them: the
// 300k NTFS image's SHA-256 pass, which the ingest waits for, ended at
// 1.03 s with the hasher running 0.89 s of it (runtime trace, real-time
// priority), 1.00 s in line.
type besideKey struct{}

// hashStream reads r to its end exactly once and computes the digests of
// it that want names. SHA-1 and MD5 are kept only because examiners and
// older tools (ewfverify, court exhibits) quote them; SHA-256 is the
// identity.
//
// A stream longer than buf is hashed side by side: the caller's goroutine
// reads into the parts of buf in turn and each hash runs on a goroutine of
// its own over the same bytes, so registering an image costs about the
// slowest hash (MD5) rather than the sum of the three (8 s of one core for
// a 3 GiB image); a single hash still runs beside the reads. Parts of a
// quarter of buf (256 KiB) stay in the caches the hashers share. A stream
// that fits in buf is hashed in line.
func hashStream(ctx context.Context, r io.Reader, buf []byte, want hashSet, progress func(n int64)) (Digests, error) {
	hs, digests := newHashes(want)
	if err := ctx.Err(); err != nil {
		return Digests{}, err
	}
	if len(buf) < hashRing {
		buf = make([]byte, hashBufSize)
	}
	k, err := io.ReadFull(r, buf)
	n := int64(k)
	if k > 0 && progress != nil {
		progress(n)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		for _, h := range hs {
			h.Write(buf[:k]) // hash.Hash writes never fail
		}
		return digests(n), nil
	}
	if err != nil {
		return Digests{}, err
	}

	if ctx.Value(besideKey{}) != nil {
		// A pass beside another (BeginEvidence's SHA-256 beside its late
		// pass): read and hashed in line, a quarter of buf at a time.
		for _, h := range hs {
			h.Write(buf)
		}
		if n, err = hashParts(ctx, r, buf[:len(buf)/hashRing], hs, n, progress, nil); err != nil {
			return Digests{}, err
		}
		return digests(n), nil
	}

	// buf is full: its parts are the first blocks, all in flight at once.
	free := make(chan *hashBlock, hashRing)
	blocks := make([]*hashBlock, hashRing)
	part := len(buf) / hashRing
	for i := range blocks {
		end := (i + 1) * part
		if i == hashRing-1 {
			end = len(buf)
		}
		blocks[i] = &hashBlock{b: buf[i*part : end]}
	}
	ins := make([]chan *hashBlock, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		ins[i] = make(chan *hashBlock, hashRing)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for blk := range ins[i] {
				h.Write(blk.src)
				if blk.left.Add(-1) == 0 {
					free <- blk
				}
			}
		}()
	}
	// stop ends the hashers; once it returns none reads buf any more.
	stop := func() {
		for _, in := range ins {
			close(in)
		}
		wg.Wait()
	}
	send := func(blk *hashBlock, src []byte) {
		blk.src = src
		blk.left.Store(int32(len(hs)))
		for _, in := range ins {
			in <- blk
		}
	}
	for _, blk := range blocks {
		send(blk, blk.b)
	}
	zr, _ := r.(zeroRuns)
	for {
		var blk *hashBlock
		select {
		case blk = <-free:
		case <-ctx.Done():
			stop()
			return Digests{}, ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			stop()
			return Digests{}, err
		}
		if zr != nil && len(blk.b) <= len(zeroPart) && zr.zeros(len(blk.b)) {
			send(blk, zeroPart[:len(blk.b)])
			n += int64(len(blk.b))
			if progress != nil {
				progress(n)
			}
			continue
		}
		k, err := io.ReadFull(r, blk.b)
		if k > 0 {
			send(blk, blk.b[:k])
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			stop()
			return Digests{}, err
		}
	}
	stop()
	return digests(n), nil
}

// ChangedDuringHashError reports evidence that changed while it was read:
// its hash describes no single state of the file, so it is not recorded.
type ChangedDuringHashError struct {
	Path          string
	Before, After string // "size N, modified T"
}

func (e *ChangedDuringHashError) Error() string {
	return fmt.Sprintf("%s changed while it was being hashed (before: %s; after: %s): the evidence is live; image or copy it first, then register the copy",
		e.Path, e.Before, e.After)
}

func statLine(size int64, mtime time.Time) string {
	return fmt.Sprintf("size %d, modified %s", size, mtime.UTC().Format(time.RFC3339Nano))
}

// hashFile computes the digests want names of one regular file, read-only,
// refusing the result when the file's size or mtime moved under us, or
// when the path now names another file. done and total drive progress;
// base offsets done within a folder.
func hashFile(ctx context.Context, p string, buf []byte, want hashSet, base, total int64, progress func(done, total int64)) (Digests, os.FileInfo, error) {
	return hashFileBy(ctx, hashStream, p, buf, want, base, total, progress)
}

// hashFileBy is hashFile with the file's bytes hashed by stream
// (hashStream, or hashAside for a pass nothing waits for).
func hashFileBy(ctx context.Context, stream func(context.Context, io.Reader, []byte, hashSet, func(int64)) (Digests, error),
	p string, buf []byte, want hashSet, base, total int64, progress func(done, total int64)) (Digests, os.FileInfo, error) {
	f, err := openEvidence(p)
	if err != nil {
		return Digests{}, nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return Digests{}, nil, err
	}
	if !before.Mode().IsRegular() {
		return Digests{}, nil, fmt.Errorf("%s is not a regular file or folder (%s): not supported as evidence", p, before.Mode().Type())
	}
	if total < 0 {
		total = before.Size()
	}
	var pf func(int64)
	if progress != nil {
		pf = func(n int64) { progress(base+n, total) }
	}
	rd := holesSkipped(f, before.Size())
	if rl, ok := rd.(releaser); ok {
		defer rl.release() // before f.Close
	}
	d, err := stream(ctx, rd, buf, want, pf)
	if err != nil {
		return Digests{}, nil, fmt.Errorf("hash %s: %w", p, err)
	}
	after, err := f.Stat()
	if err != nil {
		return Digests{}, nil, err
	}
	now, err := os.Stat(p)
	if err != nil {
		return Digests{}, nil, fmt.Errorf("%s disappeared while it was being hashed: %w", p, err)
	}
	switch {
	case after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || d.Size != before.Size():
		return Digests{}, nil, &ChangedDuringHashError{Path: p,
			Before: statLine(before.Size(), before.ModTime()), After: statLine(after.Size(), after.ModTime())}
	case !os.SameFile(before, now):
		return Digests{}, nil, &ChangedDuringHashError{Path: p,
			Before: statLine(before.Size(), before.ModTime()), After: "the path now names another file"}
	}
	return d, before, nil
}

// ManifestFile is one regular file of a folder registered as evidence.
type ManifestFile struct {
	Path    string    `json:"path"` // slash separated, relative to the folder
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	SHA256  string    `json:"sha256"`
	// Changed is the inode change time at registration, for the fast
	// re-check before ingest only (a copy of the same files has other
	// ctimes and still the same tree hash).
	Changed time.Time `json:"ctime,omitzero"`
}

// Skipped is something in an evidence folder that has no content to hash
// (a symlink, a device, a socket). It is listed, never silently dropped;
// symlinks are not followed, so a folder cannot pull in files outside it.
type Skipped struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Target string `json:"target,omitempty"`
}

// Manifest is the per-file record of a folder registered as evidence.
type Manifest struct {
	ItemID     string         `json:"item_id"`
	Root       string         `json:"root"`
	TreeSHA256 string         `json:"tree_sha256"`
	Files      []ManifestFile `json:"files"`
	Skipped    []Skipped      `json:"skipped,omitempty"`
}

// TreeHash is a folder's SHA-256 identity: the SHA-256 of its manifest
// written as sha256sum writes it, one "<sha256>  <relative path>\n" line per
// regular file, sorted by the path's bytes. That makes it reproducible with
// coreutils alone:
//
//	find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed 's|  \./|  |' | sha256sum
//
// Size is implied by the content hash. Mtimes are deliberately not hashed,
// so a copy of the same files (cp without -p) is recognised as the same
// evidence; they are kept in the manifest and checked by VerifyEvidence.
func TreeHash(files []ManifestFile) string {
	h := sha256.New()
	for _, f := range files {
		io.WriteString(h, sumLine(f.SHA256, f.Path))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sumLine formats like sha256sum, which escapes a name holding a backslash
// or newline and flags the line with a leading backslash.
func sumLine(sum, name string) string {
	if strings.ContainsAny(name, "\\\n") {
		name = strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(name)
		return "\\" + sum + "  " + name + "\n"
	}
	return sum + "  " + name + "\n"
}

// listing is a folder's regular files (sorted by path) and what was skipped.
type listing struct {
	files   []ManifestFile // SHA256 empty until hashed
	skipped []Skipped
	total   int64
}

// listTree lists root without following symlinks. Folders are opened with
// openEvidence too, so reading them leaves their access times alone.
func listTree(ctx context.Context, root string) (*listing, error) {
	l := &listing{}
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := openEvidence(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("list %s: %w", filepath.Join(root, rel), err)
		}
		for _, e := range ents {
			r := path.Join(rel, e.Name())
			switch t := e.Type(); {
			case t.IsDir():
				if err := walk(r); err != nil {
					return err
				}
			case t.IsRegular():
				fi, err := e.Info()
				if err != nil {
					return err
				}
				l.files = append(l.files, ManifestFile{Path: r, Size: fi.Size(), ModTime: fi.ModTime().UTC(), Changed: ctimeOf(fi)})
				l.total += fi.Size()
			case t&fs.ModeSymlink != 0:
				target, _ := os.Readlink(filepath.Join(root, filepath.FromSlash(r)))
				l.skipped = append(l.skipped, Skipped{Path: r, Type: "symlink", Target: target})
			default:
				l.skipped = append(l.skipped, Skipped{Path: r, Type: t.String()})
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	// ReadDir sorts per folder, which puts "a/b" before "a.txt"; the tree
	// hash needs one global byte order, as `LC_ALL=C sort` gives.
	sort.Slice(l.files, func(i, j int) bool { return l.files[i].Path < l.files[j].Path })
	sort.Slice(l.skipped, func(i, j int) bool { return l.skipped[i].Path < l.skipped[j].Path })
	return l, nil
}

// hashTree hashes every regular file under root in path order and checks,
// by listing the folder again, that nothing was added, removed or changed
// meanwhile.
func hashTree(ctx context.Context, root string, progress func(done, total int64)) (*Manifest, int64, error) {
	l, err := listTree(ctx, root)
	if err != nil {
		return nil, 0, err
	}
	buf := make([]byte, hashBufSize)
	var done int64
	for i := range l.files {
		mf := &l.files[i]
		p := filepath.Join(root, filepath.FromSlash(mf.Path))
		d, fi, err := hashFile(ctx, p, buf, withSHA256, done, l.total, progress)
		if err != nil {
			return nil, 0, err
		}
		if fi.Size() != mf.Size || !fi.ModTime().Equal(mf.ModTime) {
			return nil, 0, &ChangedDuringHashError{Path: p, Before: statLine(mf.Size, mf.ModTime), After: statLine(fi.Size(), fi.ModTime())}
		}
		mf.SHA256 = d.SHA256
		done += d.Size
	}
	again, err := listTree(ctx, root)
	if err != nil {
		return nil, 0, err
	}
	if err := sameListing(root, l, again); err != nil {
		return nil, 0, err
	}
	return &Manifest{Root: root, TreeSHA256: TreeHash(l.files), Files: l.files, Skipped: l.skipped}, l.total, nil
}

func sameListing(root string, a, b *listing) error {
	if len(a.files) != len(b.files) {
		return &ChangedDuringHashError{Path: root,
			Before: fmt.Sprintf("%d files", len(a.files)), After: fmt.Sprintf("%d files", len(b.files))}
	}
	for i := range a.files {
		x, y := a.files[i], b.files[i]
		if x.Path != y.Path || x.Size != y.Size || !x.ModTime.Equal(y.ModTime) {
			return &ChangedDuringHashError{Path: filepath.Join(root, filepath.FromSlash(x.Path)),
				Before: x.Path + ", " + statLine(x.Size, x.ModTime), After: y.Path + ", " + statLine(y.Size, y.ModTime)}
		}
	}
	return nil
}
