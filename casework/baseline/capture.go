package baseline

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ext4"
	"github.com/jejak-forensics/jejak/forensics/fs/fat"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/forensics/volume"
	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Source is what a capture reads: a walker, and where it can, each file's
// owner.
type Source struct {
	Walker jfs.Walker
	// Owner, when set, returns the owner of an entry ("uid:gid" or a SID),
	// "" when unknown. The fs.Entry model has no owner, so a folder source
	// reads it from the examiner's file system beside the walk.
	Owner func(*jfs.Entry) string
	// Kind says what was opened: "dir", "image" or "file" (a plain file or
	// an archive, walked through forensics/fs).
	Kind string
	// Prefix is the folder's path on the examiner's machine (slash
	// separated, no leading "/") for a folder source: facts are looked
	// for, and named, by prefix + path, so a capture of /etc finds
	// etc/passwd.
	Prefix string
}

// OpenSource opens a path for capture (or for diff as later evidence):
//   - a folder (a mounted tree, a folder of collected files) is walked as
//     it lies: archives in it are files to hash, not containers to expand
//     (the baseline is of the server's files, and a vendor manifest lists
//     the .jar, not its classes);
//   - a disk image (raw, split, E01, and what forensics/image opens) is
//     walked per partition through the ext4, FAT/exFAT and NTFS walkers,
//     again without expanding archives; NTFS's walker expands archives
//     itself, so there an archive is recorded as a container without a
//     hash (its members are counted, not recorded);
//   - anything else (a .tar.gz of a server's tree) through forensics/fs:
//     the archive's members are the files.
func OpenSource(ctx context.Context, p string, opts jfs.Options) (*Source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		root, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		return &Source{Walker: &dirWalker{root: root}, Owner: func(e *jfs.Entry) string {
			return ownerOf(filepath.Join(root, filepath.FromSlash(e.Path)))
		}, Kind: "dir", Prefix: strings.Trim(filepath.ToSlash(root), "/")}, nil
	}
	if _, isDisk, err := disk.Open(ctx, p, disk.Options{FS: opts}); isDisk {
		if err != nil {
			return nil, err
		}
		mw := &mediaWalker{path: p, opts: opts, owners: map[string]*ext4Owners{}}
		return &Source{Walker: mw, Owner: mw.owner, Kind: "image"}, nil
	}
	w, err := jfs.Open(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return &Source{Walker: w, Kind: "file"}, nil
}

// dirWalker walks a folder in lexical order, every entry (folders, links,
// special files too), without following links or expanding anything.
type dirWalker struct{ root string }

func (w *dirWalker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	return filepath.WalkDir(w.root, func(abs string, d iofs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(w.root, abs)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			report(&jfs.Problem{Chain: []string{"dir:" + rel}, Path: rel, Offset: -1, Err: fmt.Errorf("%w: %v", jfs.ErrUnreadable, err)})
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			report(&jfs.Problem{Chain: []string{"dir:" + rel}, Path: rel, Offset: -1, Err: fmt.Errorf("%w: %v", jfs.ErrUnreadable, err)})
			return nil
		}
		var open func() (io.ReadCloser, error)
		if fi.Mode().IsRegular() {
			open = func() (io.ReadCloser, error) { return rofile.Open(abs) }
		}
		e := jfs.NewEntry(rel, []string{"dir:" + rel}, fi.Size(), open, nil)
		e.Mode = fi.Mode()
		e.Times = statTimes(fi)
		if fi.Mode()&os.ModeSymlink != 0 {
			e.Link, _ = os.Readlink(abs)
		}
		return fn(ctx, e)
	})
}

// mediaWalker walks the file systems of a disk image without the archive
// expansion forensics/disk adds (see OpenSource).
type mediaWalker struct {
	path string
	opts jfs.Options
	// owners reads owners of the ext file systems being walked, by the
	// chain above the file system (see owner).
	owners map[string]*ext4Owners
}

// owner is the Source.Owner of an image: uid:gid for a file of an ext
// file system, "" elsewhere.
func (w *mediaWalker) owner(e *jfs.Entry) string {
	if len(e.Chain) == 0 || w.owners == nil {
		return ""
	}
	o := w.owners[strings.Join(e.Chain[:len(e.Chain)-1], " ")]
	if o == nil {
		return ""
	}
	return o.owner(e.Inode)
}

func (w *mediaWalker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	img, err := image.Open(w.path)
	if err != nil {
		return err
	}
	defer img.Close()
	prefix := []string{img.Info().Format + ":"}
	sys, err := volume.Open(img, img.Size())
	if err != nil {
		return err
	}
	for _, p := range sys.Problems {
		report(&jfs.Problem{Chain: prefix, Path: ".", Offset: p.Offset, Err: fmt.Errorf("%w: %s", jfs.ErrCorrupt, p.Msg)})
	}
	for _, p := range sys.Partitions {
		chain := prefix
		if sys.Scheme != "none" {
			chain = append(slices.Clone(prefix), fmt.Sprintf("partition:%d@%d", p.Index, p.Start))
		}
		size := p.Reader.Size()
		kind := volume.Detect(p.Reader)
		var fsw jfs.Walker
		var oerr error
		switch kind {
		case "ext2", "ext3", "ext4":
			fsw, oerr = ext4.NewWalker(p.Reader, size, chain)
			if w.owners != nil {
				w.owners[strings.Join(chain, " ")] = newExt4Owners(p.Reader)
			}
		case "ntfs":
			fsw, oerr = ntfs.New(p.Reader, size, chain, w.opts)
		case "fat", "exfat":
			fsw, oerr = fat.NewWalker(p.Reader, size, chain, fat.Options{Zone: w.opts.Zone})
		default:
			oerr = fmt.Errorf("%s file system not walked (partition %d at offset %d)", kind, p.Index, p.Start)
		}
		if oerr != nil {
			report(&jfs.Problem{Chain: chain, Path: ".", Offset: p.Start, Err: oerr})
			continue
		}
		if err := fsw.Walk(ctx, fn, report); err != nil {
			if ctx.Err() != nil {
				return err
			}
			report(&jfs.Problem{Chain: chain, Path: ".", Offset: p.Start, Err: err})
		}
	}
	return nil
}

// Options describe a capture.
type Options struct {
	Header Header
	// Now is the clock (the header's CapturedAt when that is zero).
	Now func() time.Time
	// Progress, when set, is called after each file.
	Progress func(files, bytes int64)
}

// Capture walks src and writes the baseline to out, streaming: one line
// per entry as it is read. It returns the trailer (also written).
func Capture(ctx context.Context, src *Source, out io.Writer, opts Options) (*Trailer, error) {
	h := opts.Header
	h.Type, h.FormatVersion = "header", FormatVersion
	if h.CapturedAt.IsZero() {
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		h.CapturedAt = now().UTC()
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, err
	}
	tr := &Trailer{Type: "trailer"}
	fc := newFactCollector()
	buf := make([]byte, 1<<20)
	err := src.Walker.Walk(ctx, func(ctx context.Context, e *jfs.Entry) error {
		if e.Deleted {
			tr.Deleted++
			return nil
		}
		f := entryRecord(e)
		if f == nil {
			tr.Members++
			return nil
		}
		if f.Kind == "source" || f.Path == "" || f.Path == "." {
			return nil
		}
		if src.Owner != nil {
			f.Owner = src.Owner(e)
		}
		switch f.Kind {
		case "dir":
			tr.Dirs++
		case "file":
			tr.Files++
			tr.Bytes += max(f.Size, 0)
			if !f.Container {
				var keep *bytes.Buffer
				fp := path.Join(src.Prefix, f.Path)
				if fc.wants(fp) {
					keep = &bytes.Buffer{}
				}
				if err := hashEntry(e, f, buf, keep, fc.limit(fp)); err != nil {
					f.Error = err.Error()
					tr.Errors++
					addProblem(&tr.Problems, &tr.ProblemCount, f.Path+": "+f.Error)
				} else {
					tr.Hashed++
					if keep != nil {
						fc.add(fp, keep.Bytes())
					}
				}
			}
		default:
			tr.Others++
			if f.Kind == "symlink" {
				fc.link(path.Join(src.Prefix, f.Path), f.Link)
			}
		}
		if opts.Progress != nil {
			opts.Progress(tr.Files, tr.Bytes)
		}
		return enc.Encode(f)
	}, func(p *jfs.Problem) {
		addProblem(&tr.Problems, &tr.ProblemCount, strings.Join(p.Chain, " » ")+": "+p.Error())
	})
	if err != nil {
		return nil, err
	}
	for _, f := range fc.facts() {
		f.Type = "fact"
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
		tr.Facts++
	}
	return tr, enc.Encode(tr)
}

// entryRecord builds the record of an entry, nil for a member of an
// archive (a chain layer after the file system's).
func entryRecord(e *jfs.Entry) *File {
	fsKind, vol, member := layers(e.Chain)
	if member {
		return nil
	}
	if e.Container && wrapper(fsKind) {
		// The archive given as the source, and its compression layer:
		// the source itself, hashed in the evidence registry.
		return &File{Kind: "source"}
	}
	f := &File{Type: "file", Path: strings.TrimPrefix(path.Clean("/"+e.Path), "/"), FS: fsKind, Volume: vol,
		Size: e.Size, Link: e.Link, Inode: e.Inode, Container: e.Container}
	switch {
	case e.Mode.IsDir():
		f.Kind = "dir"
	case e.Mode&iofs.ModeSymlink != 0:
		f.Kind = "symlink"
	case e.Mode.IsRegular():
		f.Kind = "file"
	default:
		f.Kind = "other"
	}
	if f.Kind == "dir" {
		f.Size = 0 // a directory's size is its allocation, not content
	}
	if unixModes(fsKind) {
		f.Mode = e.Mode.String()
	}
	f.Mtime, f.Atime, f.Ctime, f.Btime = tp(e.Times.Modified), tp(e.Times.Accessed), tp(e.Times.Changed), tp(e.Times.Born)
	f.Exec = f.Kind == "file" && (execName(f.Path) || (unixModes(fsKind) && e.Mode&0o111 != 0))
	return f
}

// layers splits a chain into the file system's kind, the layers above it
// (image, partition) and whether the entry is inside an archive found in
// that file system.
func layers(chain []string) (fsKind, vol string, member bool) {
	fsAt := -1
	for i, c := range chain {
		k, _, _ := strings.Cut(c, ":")
		switch k {
		case "dir", "file", "ext2", "ext3", "ext4", "ntfs", "fat", "exfat", "fat12", "fat16", "fat32", "vfat":
			if fsAt < 0 {
				fsAt = i
			}
		}
	}
	if fsAt < 0 {
		// An archive as the source (a .tar.gz of a server's tree): its
		// first layer that names members (tar, zip) is the "file system",
		// the compression layers above it the volume; a deeper layer is an
		// archive inside it.
		for i, c := range chain {
			if k, name, _ := strings.Cut(c, ":"); name != "" {
				return k, strings.Join(chain[:i], " "), len(chain) > i+1
			}
		}
		if len(chain) == 0 {
			return "", "", false
		}
		k, _, _ := strings.Cut(chain[len(chain)-1], ":")
		return k, strings.Join(chain[:len(chain)-1], " "), false
	}
	k, _, _ := strings.Cut(chain[fsAt], ":")
	if strings.HasPrefix(k, "fat") || k == "vfat" {
		k = "fat"
	}
	return k, strings.Join(chain[:fsAt], " "), len(chain) > fsAt+1
}

// wrapper: the layers of an archive given as the source above its
// members (the registered file, its compression).
func wrapper(fs string) bool {
	switch fs {
	case "file", "gzip", "bzip2", "xz", "zstd", "lz4":
		return true
	}
	return false
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// hashEntry reads the entry's content once into SHA-256, SHA-1 and MD5,
// sets the size read and the exec flag from the magic, and copies the
// content into keep when set (a fact file).
func hashEntry(e *jfs.Entry, f *File, buf []byte, keep *bytes.Buffer, limit int) error {
	rc, err := e.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	s256, s1, m5 := sha256.New(), sha1.New(), md5.New()
	ws := []io.Writer{s256, s1, m5}
	if keep != nil {
		ws = append(ws, &limitWriter{w: keep, n: limit})
	}
	var head [4]byte
	n, err := io.ReadFull(rc, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	mw := io.MultiWriter(ws...)
	mw.Write(head[:n])
	m, err := io.CopyBuffer(mw, rc, buf)
	if err != nil {
		return fmt.Errorf("read at offset %d: %w", int64(n)+m, err)
	}
	f.Size = int64(n) + m
	if bytes.HasPrefix(head[:n], []byte("\x7fELF")) || bytes.HasPrefix(head[:n], []byte("MZ")) {
		f.Exec = true
	}
	f.SHA256, f.SHA1, f.MD5 = sum(s256), sum(s1), sum(m5)
	return nil
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// limitWriter keeps the first n bytes and swallows the rest.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// execName says whether a name is that of an executable or library on
// Windows or Linux (.so and .so.N, kernel modules).
func execName(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch path.Ext(base) {
	case ".exe", ".dll", ".sys", ".so", ".ko", ".com", ".scr", ".ocx", ".cpl", ".drv", ".efi", ".msi", ".ps1", ".bat", ".cmd":
		return true
	}
	return strings.Contains(base, ".so.")
}
