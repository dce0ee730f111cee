package evidence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// UncoveredError names a file that ingest would read for an item but that
// no registered hash covers: a segment that joined an image set after
// registration, or one of a set registered by an older jejak, which hashed
// only the file it was given.
type UncoveredError struct {
	Path   string // the evidence path
	File   string // the uncovered segment
	Legacy bool   // the item predates per-segment hashes
}

func (e *UncoveredError) Error() string {
	if e.Legacy {
		return fmt.Sprintf("%s: segment %s of its image set has no registered hash (the item was registered by a jejak that hashed only the file it was given, not every segment): re-register it with 'jejak evidence add CASE %s', which hashes each segment and keeps the item's ID",
			e.Path, e.File, e.Path)
	}
	return fmt.Sprintf("%s changed since it was registered: segment %s is now part of its image set but was not when it was registered, so no registered hash covers it", e.Path, e.File)
}

func (e *UncoveredError) Unwrap() error { return ErrChanged }

// maxListed bounds the differences an error spells out; the rest are
// counted, so a folder of 100,000 changed files gives a readable refusal.
const maxListed = 20

// Recheck confirms, before ingest reads an item, that every file it will
// read is the one registered: each file of a folder (none added, none
// missing), each segment of an image set. Without full, a file whose size
// and mtime equal the registration's is taken as unchanged and only the
// others are hashed (to say whether the content itself changed); with
// full, every file is hashed. Any difference is a refusal: an error
// wrapping ErrChanged that names each file (a *ChangedError or
// *UncoveredError each), also recorded in the custody log.
func (c *Case) Recheck(ctx context.Context, it *Item, full bool) error {
	err := c.check(ctx, it, full, nil)
	if errors.Is(err, ErrChanged) && ctx.Err() == nil {
		if lerr := c.Log("evidence_refused", map[string]any{
			"id": it.ID, "path": it.Path, "reason": "changed since registration", "during": "ingest", "error": err.Error(),
		}); lerr != nil {
			return errors.Join(err, lerr)
		}
	}
	return err
}

// check compares an item with its registration, calling report (when not
// nil) for every segment of a file item, ok or not, and for every file of
// a folder that differs.
func (c *Case) check(ctx context.Context, it *Item, full bool, report func(file string, err error)) error {
	if report == nil {
		report = func(string, error) {}
	}
	var diffs []error
	differ := func(file string, err error) {
		report(file, err)
		diffs = append(diffs, err)
	}
	var err error
	if it.Kind == "dir" {
		err = c.checkTree(ctx, it, full, differ)
	} else {
		err = checkSegments(ctx, it, full, report, differ)
	}
	if err != nil {
		return err
	}
	return joinDiffs(diffs)
}

func joinDiffs(diffs []error) error {
	if len(diffs) <= maxListed {
		return errors.Join(diffs...)
	}
	rest := len(diffs) - maxListed
	return errors.Join(append(diffs[:maxListed:maxListed], fmt.Errorf("... and %d more differences", rest))...)
}

// checkSegments checks a file item: the set of files ingest reads for it
// now must be the set registered, and each must hold its registered bytes.
func checkSegments(ctx context.Context, it *Item, full bool, ok, differ func(string, error)) error {
	was, legacy := segmentsOf(it)
	now := imageSegments(it.Path)
	inNow := map[string]bool{}
	for _, n := range now {
		inNow[n] = true
	}
	registered := map[string]bool{}
	for _, s := range was {
		registered[s.Path] = true
	}
	for _, n := range now {
		if !registered[n] {
			differ(n, &UncoveredError{Path: it.Path, File: n, Legacy: legacy})
		}
	}
	buf := make([]byte, hashBufSize)
	for _, s := range was {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(s.Path)
		if err != nil || !inNow[s.Path] {
			cur := "not part of the image set any more"
			if err != nil {
				cur = err.Error()
			}
			differ(s.Path, &ChangedError{Path: it.Path, File: fileOf(it, s.Path), What: "file", Registered: "present (sha256 " + s.SHA256 + ")", Current: cur})
			continue
		}
		if !full && unchanged(fi.Size(), fi.ModTime(), ctimeOf(fi), s.Size, s.ModTime, s.Changed) {
			ok(s.Path, nil)
			continue
		}
		// SHA-1 and MD5 are registered for the item's own file only (and
		// not yet while its registration is pending): what is compared
		// is computed, nothing more.
		want := withSHA256
		if s.Path == it.Path && it.SHA1 != "" {
			want |= withSHA1
		}
		if s.Path == it.Path && it.MD5 != "" {
			want |= withMD5
		}
		d, fi, err := hashFile(ctx, s.Path, buf, want, 0, -1, nil)
		if err != nil {
			return err
		}
		checks := []struct{ what, was, now string }{
			{"sha256", s.SHA256, d.SHA256},
			{"size", fmt.Sprint(s.Size), fmt.Sprint(d.Size)},
		}
		if s.Path == it.Path {
			checks = append(checks, []struct{ what, was, now string }{{"sha1", it.SHA1, d.SHA1}, {"md5", it.MD5, d.MD5}}...)
		}
		checks = append(checks, struct{ what, was, now string }{"mtime", s.ModTime.UTC().Format(time.RFC3339Nano), fi.ModTime().UTC().Format(time.RFC3339Nano)})
		var cerr error
		for _, x := range checks {
			if x.was != "" && x.was != x.now {
				cerr = &ChangedError{Path: it.Path, File: fileOf(it, s.Path), What: x.what, Registered: x.was, Current: x.now}
				break
			}
		}
		if cerr != nil {
			differ(s.Path, cerr)
		} else {
			ok(s.Path, nil)
		}
	}
	return nil
}

// unchanged is the fast path: size, mtime and (when registered) ctime as
// at registration. The ctime catches an edit whose mtime was set back; a
// ctime that moved for another reason (chmod, a new hard link) only costs
// a hash.
func unchanged(size int64, mtime, ctime time.Time, wasSize int64, wasMtime, wasCtime time.Time) bool {
	return size == wasSize && mtime.Equal(wasMtime) && (wasCtime.IsZero() || ctime.Equal(wasCtime))
}

// fileOf names a segment in a ChangedError: empty for the item's own file,
// so single files read as before.
func fileOf(it *Item, p string) string {
	if p == it.Path {
		return ""
	}
	return p
}

// checkTree checks a folder item against its manifest: no file added or
// missing, each with its registered size, mtime and (when hashed) content.
func (c *Case) checkTree(ctx context.Context, it *Item, full bool, differ func(string, error)) error {
	man, err := c.Manifest(it)
	if err != nil {
		return err
	}
	// The manifest is a case file: one edited to match changed evidence
	// no longer gives the tree hash the registry (and custody log) hold.
	if th := TreeHash(man.Files); th != it.SHA256 {
		return &ChangedError{Path: it.Path, What: "manifest " + it.Manifest + " tree sha256", Registered: it.SHA256, Current: th}
	}
	l, err := listTree(ctx, it.Path)
	if err != nil {
		return err
	}
	cur := make(map[string]ManifestFile, len(l.files))
	for _, f := range l.files {
		cur[f.Path] = f
	}
	buf := make([]byte, hashBufSize)
	for _, w := range man.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		g, ok := cur[w.Path]
		delete(cur, w.Path)
		if !ok {
			differ(w.Path, &ChangedError{Path: it.Path, File: w.Path, What: "file", Registered: "present (sha256 " + w.SHA256 + ")", Current: "missing"})
			continue
		}
		if !full && unchanged(g.Size, g.ModTime, g.Changed, w.Size, w.ModTime, w.Changed) {
			continue
		}
		d, fi, err := hashFile(ctx, filepath.Join(it.Path, filepath.FromSlash(w.Path)), buf, withSHA256, 0, -1, nil)
		if err != nil {
			return err
		}
		switch {
		case d.SHA256 != w.SHA256:
			differ(w.Path, &ChangedError{Path: it.Path, File: w.Path, What: "sha256", Registered: w.SHA256, Current: d.SHA256})
		case !fi.ModTime().Equal(w.ModTime):
			differ(w.Path, &ChangedError{Path: it.Path, File: w.Path, What: "mtime", Registered: w.ModTime.Format(time.RFC3339Nano), Current: fi.ModTime().UTC().Format(time.RFC3339Nano)})
		}
	}
	for _, g := range l.files { // in path order
		if _, added := cur[g.Path]; added {
			differ(g.Path, &ChangedError{Path: it.Path, File: g.Path, What: "file", Registered: "absent", Current: "present (" + statLine(g.Size, g.ModTime) + ")"})
		}
	}
	return nil
}
