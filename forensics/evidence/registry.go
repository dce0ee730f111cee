package evidence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Item is one piece of registered evidence.
type Item struct {
	// ID is the first 12 hex digits of SHA256 (longer only if two items
	// ever shared those), so the same bytes get the same ID in every case.
	ID   string `json:"id"`
	Name string `json:"name"` // base name of Path
	Path string `json:"path"` // absolute path as given (symlinks not resolved)
	Kind string `json:"kind"` // "file" or "dir"
	Size int64  `json:"size"` // bytes; for a folder, the sum of its files
	// SHA256 is the file's hash or, for a folder, its TreeHash. SHA1 and MD5
	// exist for files only: a folder has no single byte stream to hash.
	SHA256      string    `json:"sha256"`
	SHA1        string    `json:"sha1,omitempty"`
	MD5         string    `json:"md5,omitempty"`
	ModTime     time.Time `json:"mod_time"`
	AddedAt     time.Time `json:"added_at"`
	Examiner    string    `json:"examiner"`
	ToolVersion string    `json:"tool_version"`
	Files       int       `json:"files,omitempty"`    // folder: regular files hashed
	Manifest    string    `json:"manifest,omitempty"` // folder: manifest file, relative to the case
	// Segments are the files ingest reads for a file item, each hashed:
	// the file alone, or every segment of the split raw or EWF set it
	// belongs to. Items registered before segments were hashed have none
	// (see Recheck).
	Segments []SegmentFile `json:"segments,omitempty"`
}

type registry struct {
	FormatVersion int     `json:"format_version"`
	Items         []*Item `json:"items"`
}

var (
	// ErrDuplicate: the content is already registered from another path.
	ErrDuplicate = errors.New("content already registered")
	// ErrChanged: evidence no longer matches what was registered.
	ErrChanged = errors.New("evidence changed since registration")
)

// DuplicateError refuses a second item for content already registered from
// another path. One content is one piece of evidence (its ID is its hash);
// seeing it again elsewhere is recorded in the custody log as
// "evidence_duplicate" instead, naming both paths.
type DuplicateError struct {
	Path     string
	Existing *Item
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s has the same content (sha256 %s) as evidence %s registered from %s: not registered twice; the sighting is recorded in the custody log",
		e.Path, e.Existing.SHA256, e.Existing.ID, e.Existing.Path)
}

func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// ChangedError reports evidence that no longer matches its registration.
type ChangedError struct {
	Path       string // the evidence path
	File       string // for a folder, the first file that differs (relative)
	What       string // what differs: "sha256", "size", "mtime", "file missing", ...
	Registered string
	Current    string
}

func (e *ChangedError) Error() string {
	where := e.Path
	if e.File != "" {
		where += " (file " + e.File + ")"
	}
	return fmt.Sprintf("%s changed since it was registered: %s was %s, is now %s", where, e.What, e.Registered, e.Current)
}

func (e *ChangedError) Unwrap() error { return ErrChanged }

func (c *Case) loadRegistry() (*registry, error) {
	var r registry
	if err := readJSON(c.path(registryFile), &r); err != nil {
		return nil, err
	}
	if r.FormatVersion < 1 || r.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s: format version %d not supported", c.path(registryFile), r.FormatVersion)
	}
	for i, it := range r.Items {
		if it == nil || it.ID == "" || it.SHA256 == "" || it.Path == "" {
			return nil, fmt.Errorf("%s is malformed: item %d lacks id, sha256 or path", c.path(registryFile), i+1)
		}
	}
	return &r, nil
}

// Evidence lists the registered items in registration order.
func (c *Case) Evidence() ([]*Item, error) {
	r, err := c.loadRegistry()
	if err != nil {
		return nil, err
	}
	return r.Items, nil
}

// AddEvidence registers a file or folder without changing it: it is opened
// read-only (without touching its access time where the OS allows), a
// file's bytes are read once to compute SHA-256, SHA-1 and MD5 together (a
// folder's files, SHA-256 each), and it is refused if its size or mtime
// moved while it was read.
//
// Adding a registered path again whose content is unchanged is a no-op that
// returns the existing item and writes nothing. A registered path whose
// content changed is refused with a *ChangedError naming both hashes; content
// already registered from another path is refused with a *DuplicateError.
// Both refusals are recorded in the custody log.
func (c *Case) AddEvidence(ctx context.Context, path string, progress func(done, total int64)) (*Item, error) {
	it, man, _, err := c.hashItem(ctx, path, allHashes, progress)
	if err != nil {
		return nil, err
	}
	// After the registrations that began before (BeginEvidence).
	if err := c.commitPending(); err != nil {
		return nil, err
	}
	return c.register(it, man, "")
}

// hashItem hashes the file or folder at path for registering it: a
// folder's files and an image set's segments SHA-256 each, and of a file
// item's own bytes the digests self names. fi is the file's state when it
// was read (nil for a folder).
func (c *Case) hashItem(ctx context.Context, path string, self hashSet, progress func(done, total int64)) (it *Item, man *Manifest, fi os.FileInfo, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("add evidence: %w", err)
	}
	// A FIFO would block the first read until a writer comes (forever),
	// a device may act on open: refused before anything is opened.
	if err := rofile.Check(abs, st.Mode()); err != nil {
		return nil, nil, nil, fmt.Errorf("add evidence: %w", err)
	}
	if err := c.checkOutside(abs, st.IsDir()); err != nil {
		return nil, nil, nil, err
	}
	it = &Item{Name: filepath.Base(abs), Path: abs, Examiner: c.examiner, ToolVersion: c.toolVersion, ModTime: st.ModTime().UTC()}
	if st.IsDir() {
		man, it.Size, err = hashTree(ctx, abs, progress)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("add evidence: %w", err)
		}
		it.Kind, it.SHA256, it.Files = "dir", man.TreeSHA256, len(man.Files)
		return it, man, nil, nil
	}
	segs, d, fi, err := hashSegments(ctx, abs, self, progress)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("add evidence: %w", err)
	}
	it.Kind, it.Size, it.SHA256, it.SHA1, it.MD5 = "file", d.Size, d.SHA256, d.SHA1, d.MD5
	it.ModTime = fi.ModTime().UTC()
	it.Segments = segs
	return it, man, fi, nil
}

// register records a hashed item in the registry and the custody log, or
// refuses it, as AddEvidence says. id, when not empty, is the ID the item
// was promised while its registration was pending (see BeginEvidence):
// another ID now is an error, nothing written.
func (c *Case) register(it *Item, man *Manifest, id string) (*Item, error) {
	abs := it.Path
	var out *Item
	err := c.withLockNow(func(w *custodyWriter) error {
		// Reload under the lock: another process may have registered since.
		reg, err := c.loadRegistry()
		if err != nil {
			return err
		}
		for _, old := range reg.Items {
			if old.Path != abs {
				continue
			}
			var cerr error
			switch {
			case old.SHA256 != it.SHA256 || old.Kind != it.Kind:
				cerr = &ChangedError{Path: abs, What: "sha256", Registered: old.SHA256, Current: it.SHA256}
			case old.Kind == "file" && len(old.Segments) == 0:
				// Registered by a jejak that hashed the named file
				// only: adding it again hashes each segment of its
				// set, recorded as such; the ID stays.
				old.Segments = it.Segments
				if _, err := w.append("evidence_segments", map[string]any{
					"id": old.ID, "path": abs, "segments": it.Segments,
					"reason": "segment hashes added to an item registered without them",
				}); err != nil {
					return err
				}
				if err := writeJSONAtomic(c.path(registryFile), reg); err != nil {
					return err
				}
				out = old
				return nil
			case old.Kind == "file":
				cerr = sameSegments(abs, old.Segments, it.Segments)
			}
			if cerr == nil {
				out = old
				return nil
			}
			if _, err := w.append("evidence_refused", map[string]any{
				"path": abs, "id": old.ID, "reason": "changed since registration",
				"registered_sha256": old.SHA256, "current_sha256": it.SHA256, "error": cerr.Error(),
			}); err != nil {
				return err
			}
			return cerr
		}
		for _, old := range reg.Items {
			if old.SHA256 != it.SHA256 {
				continue
			}
			if _, err := w.append("evidence_duplicate", map[string]any{
				"path": abs, "sha256": it.SHA256, "id": old.ID, "registered_path": old.Path,
			}); err != nil {
				return err
			}
			return &DuplicateError{Path: abs, Existing: old}
		}
		it.ID = uniqueID(reg.Items, it.SHA256)
		if id != "" && it.ID != id {
			return fmt.Errorf("%s: another process registered evidence whose ID begins as this one's (%s) while it was hashed: run it again", abs, id)
		}
		it.AddedAt = c.now()
		if man != nil {
			man.ItemID = it.ID
			it.Manifest = filepath.ToSlash(filepath.Join(manifestDir, it.ID+".json"))
			if err := writeJSONAtomic(c.path(it.Manifest), man); err != nil {
				return err
			}
		}
		// The custody entry goes first: after a crash between the two
		// writes the log over-reports an addition, it never hides one.
		if _, err := w.append("evidence_add", itemDetails(it)); err != nil {
			return err
		}
		reg.Items = append(reg.Items, it)
		if err := writeJSONAtomic(c.path(registryFile), reg); err != nil {
			return err
		}
		out = it
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add evidence: %w", err)
	}
	return out, nil
}

func itemDetails(it *Item) map[string]any {
	d := map[string]any{
		"id": it.ID, "name": it.Name, "path": it.Path, "kind": it.Kind, "size": it.Size,
		"sha256": it.SHA256, "mod_time": it.ModTime.Format(time.RFC3339Nano),
	}
	if it.Kind == "file" {
		d["sha1"], d["md5"] = it.SHA1, it.MD5
	} else {
		d["files"], d["manifest"] = it.Files, it.Manifest
	}
	return d
}

func uniqueID(items []*Item, sum string) string {
	for n := 12; n < len(sum); n += 4 {
		id, taken := sum[:n], false
		for _, it := range items {
			taken = taken || it.ID == id
		}
		if !taken {
			return id
		}
	}
	return sum
}

// checkOutside refuses evidence inside the case folder, or a folder that
// holds the case: its hash would change with every custody entry.
func (c *Case) checkOutside(abs string, isDir bool) error {
	ev, cs := realPath(abs), realPath(c.dir)
	if within(ev, cs) || (isDir && within(cs, ev)) {
		return fmt.Errorf("add evidence: %s overlaps the case folder %s: keep evidence outside the case", abs, c.dir)
	}
	return nil
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Manifest loads the per-file manifest of a folder item.
func (c *Case) Manifest(it *Item) (*Manifest, error) {
	if it.Kind != "dir" || it.Manifest == "" {
		return nil, fmt.Errorf("evidence %s is not a folder: it has no manifest", it.ID)
	}
	var m Manifest
	if err := readJSON(c.path(filepath.FromSlash(it.Manifest)), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// VerifyEvidence re-hashes an item and compares it with its registration:
// every segment of an image set, every file of a folder (none added or
// missing). It returns an error joining one *ChangedError (or
// *UncoveredError) per file that differs. The outcome is recorded in the
// custody log as "verify".
func (c *Case) VerifyEvidence(ctx context.Context, it *Item) error {
	return c.VerifyEvidenceEach(ctx, it, nil)
}

// VerifyEvidenceEach is VerifyEvidence calling report for every segment of
// a file item (ok or not) and for every file of a folder that differs.
func (c *Case) VerifyEvidenceEach(ctx context.Context, it *Item, report func(file string, err error)) error {
	verr := c.check(ctx, it, true, report)
	details := map[string]any{"id": it.ID, "path": it.Path, "sha256": it.SHA256, "result": "ok"}
	switch {
	case errors.Is(verr, ErrChanged):
		details["result"], details["error"] = "mismatch", verr.Error()
	case verr != nil:
		if ctx.Err() != nil {
			return verr // interrupted: nothing was verified, nothing to record
		}
		details["result"], details["error"] = "error", verr.Error()
	}
	if err := c.Log("verify", details); err != nil {
		return errors.Join(verr, err)
	}
	return verr
}
