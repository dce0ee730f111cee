package baseline

import (
	"context"
	"path"
	"sort"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Reference is what later evidence is compared with: a captured baseline
// or a vendor's manifest.
type Reference struct {
	Kind   string // "baseline" or "manifest"
	Name   string
	SHA256 string    // of the baseline or manifest file
	Time   time.Time // when the baseline was captured (or the manifest's file time)
	// ByName says the manifest names files without their folders (an
	// NSRL RDS list): a file matches any entry of its base name, nothing
	// is "removed", and a name listed is trusted when one of its hashes
	// matches.
	ByName bool
	// Fold says the reference's paths ignore case (a baseline of NTFS or
	// FAT, a Windows manifest).
	Fold  bool
	Files []*File
	// SourceSHA256 is the evidence a baseline was captured from.
	SourceSHA256 string

	index     map[string][]int // Key(path, false) → Files
	foldIndex map[string][]int // Key(path, true) → Files
	// parents are the folders the reference's paths lie in (both keys).
	parents map[string]bool
}

// holds says whether a folder holds any of the reference's paths.
func (r *Reference) holds(p string, fold bool) bool {
	return r.parents[Key(p, fold)]
}

// FromBaseline makes a reference of a baseline read back.
func FromBaseline(b *Baseline, sha256 string) *Reference {
	r := &Reference{Kind: "baseline", Name: b.Header.Name, SHA256: sha256, Time: b.Header.CapturedAt, Files: b.Files,
		SourceSHA256: b.Header.SourceSHA256}
	for _, f := range b.Files {
		if CaseInsensitive(f.FS) {
			r.Fold = true
			break
		}
	}
	return r
}

func (r *Reference) build() {
	r.index, r.foldIndex, r.parents = map[string][]int{}, map[string][]int{}, map[string]bool{}
	for i, f := range r.Files {
		p := f.Path
		if !r.ByName {
			for _, fold := range []bool{false, true} {
				for d := path.Dir(Key(p, fold)); d != "." && d != "/" && !r.parents[d]; d = path.Dir(d) {
					r.parents[d] = true
				}
			}
		}
		if r.ByName {
			p = path.Base(Key(p, false))
		}
		k := Key(p, false)
		r.index[k] = append(r.index[k], i)
		fk := Key(p, true)
		r.foldIndex[fk] = append(r.foldIndex[fk], i)
	}
}

// Status of a difference.
const (
	Added   = "added"
	Changed = "changed"
	Removed = "removed"
	// Touched: only times moved (reported, not an event: a read moves
	// the atime, a restore the ctime).
	Touched = "touched"
)

// Change is one difference.
type Change struct {
	Status string `json:"status"`
	Path   string `json:"path"`
	// Moved lists what differs: "kind", "size", "sha256" (or "sha1",
	// "md5": the strongest hash both sides have), "mode", "owner", "link",
	// "mtime", "atime", "ctime", "btime".
	Moved []string `json:"moved,omitempty"`
	// Executable: an executable or library (ELF/PE magic, name, +x)
	// whose content differs from the reference's (or that is new).
	Executable bool  `json:"executable,omitempty"`
	Before     *File `json:"before,omitempty"`
	After      *File `json:"after,omitempty"`
	// Note says why a comparison was partial ("no hash on one side").
	Note string `json:"note,omitempty"`
}

// Result counts a diff.
type Result struct {
	Added     int64 `json:"added"`
	Changed   int64 `json:"changed"`
	Removed   int64 `json:"removed"`
	Unchanged int64 `json:"unchanged"`
	Touched   int64 `json:"touched"`
	// Executables counts changed or added executables and libraries.
	Executables int64 `json:"executables"`
	// Metadata counts a file system's own files (NTFS $-files, ext's
	// lost+found) present on one side only: not the server's files.
	Metadata int64 `json:"file_system_metadata"`
	// Deleted counts deleted entries the later evidence's file system
	// still lists: deleted files are absent, so their paths count as
	// removed unless a live file has them.
	Deleted int64 `json:"deleted_entries"`
	// Implied counts folders listed on one side only whose files the
	// other side has: a manifest or tar lists no folders, NTFS's walk
	// gives none.
	Implied int64 `json:"folders_implied"`
	// Unlisted counts files whose name a by-name list (NSRL) does not hold.
	Unlisted     int64    `json:"unlisted"`
	Members      int64    `json:"archive_members_skipped"`
	Problems     []string `json:"problems,omitempty"` // the first MaxProblems
	ProblemCount int64    `json:"problem_count"`
}

// Diff walks the later evidence and compares each file with the
// reference. fn gets each difference (Touched too) as it is found, the
// removals at the end in path order.
func Diff(ctx context.Context, ref *Reference, later *Source, fn func(Change) error) (*Result, error) {
	if ref.index == nil {
		ref.build()
	}
	res := &Result{}
	seen := make([]bool, len(ref.Files))
	buf := make([]byte, 1<<20)
	// Folders that hold a later entry exist even when the walker does
	// not deliver folders themselves (NTFS's yields $DATA streams only).
	parents := map[string]bool{}
	err := later.Walker.Walk(ctx, func(ctx context.Context, e *jfs.Entry) error {
		if e.Deleted {
			res.Deleted++
			return nil
		}
		f := entryRecord(e)
		if f == nil {
			res.Members++
			return nil
		}
		if f.Kind == "source" || f.Path == "" || f.Path == "." {
			return nil
		}
		if later.Owner != nil {
			f.Owner = later.Owner(e)
		}
		fold := ref.Fold || CaseInsensitive(f.FS)
		for d := path.Dir(Key(f.Path, fold)); d != "." && d != "/" && !parents[d]; d = path.Dir(d) {
			parents[d] = true
		}
		if f.Kind == "file" && !f.Container {
			if err := hashEntry(e, f, buf, nil, 0); err != nil {
				f.Error = err.Error()
				addProblem(&res.Problems, &res.ProblemCount, f.Path+": "+f.Error)
			}
		}
		idx := ref.lookup(f.Path, fold)
		for _, i := range idx {
			seen[i] = true
		}
		if len(idx) == 0 {
			if fsMetadata(f) {
				res.Metadata++
				return nil
			}
			if f.Kind == "dir" && ref.holds(f.Path, fold) {
				// The reference lists files under it but not folders
				// (a manifest, a tar without folder entries, NTFS).
				res.Implied++
				return nil
			}
			if ref.ByName {
				// A name list (NSRL) is a catalogue of known files, not
				// the server's build: a name it does not list is unknown
				// to it, not added. Counted.
				if f.Kind == "file" {
					res.Unlisted++
				}
				return nil
			}
			res.Added++
			c := Change{Status: Added, Path: f.Path, After: f, Executable: f.Exec}
			if c.Executable {
				res.Executables++
			}
			return fn(c)
		}
		c := compare(ref, idx, f)
		switch c.Status {
		case "":
			res.Unchanged++
			return nil
		case Touched:
			res.Touched++
		case Changed:
			res.Changed++
			if c.Executable {
				res.Executables++
			}
		}
		return fn(c)
	}, func(p *jfs.Problem) {
		addProblem(&res.Problems, &res.ProblemCount, strings.Join(p.Chain, " » ")+": "+p.Error())
	})
	if err != nil {
		return res, err
	}
	if ref.ByName {
		return res, nil
	}
	var removed []*File
	for i, f := range ref.Files {
		if seen[i] {
			continue
		}
		if fsMetadata(f) {
			res.Metadata++
			continue
		}
		if f.Kind == "dir" && (parents[Key(f.Path, false)] || parents[Key(f.Path, true)]) {
			res.Implied++
			continue
		}
		removed = append(removed, f)
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].Path < removed[j].Path })
	for _, f := range removed {
		res.Removed++
		if err := fn(Change{Status: Removed, Path: f.Path, Before: f}); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (r *Reference) lookup(p string, fold bool) []int {
	if r.ByName {
		p = path.Base(Key(p, false))
	}
	if fold {
		return r.foldIndex[Key(p, true)]
	}
	return r.index[Key(p, false)]
}

// fsMetadata: a file system's own files, which a folder copy of the same
// tree does not have.
func fsMetadata(f *File) bool {
	first, _, _ := strings.Cut(f.Path, "/")
	switch f.FS {
	case "ntfs":
		return strings.HasPrefix(first, "$") || first == "System Volume Information"
	case "ext2", "ext3", "ext4":
		return first == "lost+found"
	case "fat", "exfat":
		return first == "System Volume Information"
	}
	return false
}

// compare one later file with its reference entries (one, or several for
// a by-name manifest: any match is enough).
func compare(ref *Reference, idx []int, f *File) Change {
	var best Change
	for n, i := range idx {
		c := compareOne(ref, ref.Files[i], f)
		if c.Status == "" || n == 0 {
			best = c
		}
		if c.Status == "" {
			break
		}
	}
	return best
}

func compareOne(ref *Reference, b, f *File) Change {
	c := Change{Path: f.Path, Before: b, After: f}
	var content []string
	if b.Kind != "" && b.Kind != f.Kind {
		content = append(content, "kind")
	}
	if f.Kind == "file" && b.Kind != "dir" {
		if h := commonHash(b, f); h != "" {
			if hashOf(b, h) != hashOf(f, h) {
				content = append(content, h)
			}
		} else if b.Kind == "file" {
			c.Note = "no common hash: compared by size"
		}
		if b.Size >= 0 && f.Size >= 0 && (ref.Kind == "baseline" || b.Size > 0) && b.Size != f.Size {
			content = append(content, "size")
		}
	}
	if b.Mode != "" && f.Mode != "" && b.Mode != f.Mode {
		content = append(content, "mode")
	}
	if b.Owner != "" && f.Owner != "" && b.Owner != f.Owner {
		content = append(content, "owner")
	}
	if b.Link != f.Link && b.Kind == "symlink" && f.Kind == "symlink" {
		content = append(content, "link")
	}
	// A folder's times move whenever an entry in it is added, removed or
	// renamed, which those entries' own rows report: not compared.
	var times []string
	for _, t := range []struct {
		name string
		a, b *time.Time
	}{{"mtime", b.Mtime, f.Mtime}, {"atime", b.Atime, f.Atime}, {"ctime", b.Ctime, f.Ctime}, {"btime", b.Btime, f.Btime}} {
		if f.Kind != "dir" && t.a != nil && t.b != nil && !sameTime(*t.a, *t.b, b.FS, f.FS) {
			times = append(times, t.name)
		}
	}
	c.Moved = append(content, times...)
	switch {
	case len(content) > 0:
		c.Status = Changed
		c.Executable = f.Exec || b.Exec
	case len(times) > 0 && !(len(times) == 1 && times[0] == "atime"):
		c.Status = Touched
	default:
		c.Moved = nil
	}
	return c
}

// sameTime compares two times at the coarser precision of the two
// layers: FAT keeps 2 s for mtime (10 ms with exFAT's increments), a tar
// header whole seconds.
func sameTime(a, b time.Time, fsa, fsb string) bool {
	prec := time.Duration(0)
	for _, fs := range []string{fsa, fsb} {
		switch fs {
		case "fat":
			prec = max(prec, 2*time.Second)
		case "tar", "zip", "exfat":
			prec = max(prec, 2*time.Second)
		}
	}
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	if prec == 0 {
		return d == 0
	}
	return d < prec
}

func commonHash(a, b *File) string {
	switch {
	case a.SHA256 != "" && b.SHA256 != "":
		return "sha256"
	case a.SHA1 != "" && b.SHA1 != "":
		return "sha1"
	case a.MD5 != "" && b.MD5 != "":
		return "md5"
	}
	return ""
}

func hashOf(f *File, h string) string {
	switch h {
	case "sha256":
		return strings.ToLower(f.SHA256)
	case "sha1":
		return strings.ToLower(f.SHA1)
	}
	return strings.ToLower(f.MD5)
}
