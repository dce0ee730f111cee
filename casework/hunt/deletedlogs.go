package hunt

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// ---- log files deleted after the cut-off, from the file-system side ----
//
// A deleted file keeps its name (ext4 directory slack, an NTFS MFT entry
// not in use) and the times it had when last written; when it was deleted
// is not among them (ext4's dtime is not on the timeline, NTFS has none).
// What moves at a deletion is the folder: removing a name changes the
// parent directory's content (mtime, $SI M) and metadata (ctime, $SI C).
// So a deleted name under /var/log (or a Windows log folder, or a --watch
// path) whose parent folder changed after the cut-off is reported, with
// the file's rows and the folder's rows. Linux 5.19 and later wipe the
// name of a removed ext4 file; the inode is left, nameless (an orphan), and
// its metadata-change time is the folder's to the clock tick, which is how
// such a removal is found (orphanFindings).
//
// Rotation is not deletion: logrotate removes auth.log.4.gz and renames
// auth.log.3.gz onto it, and compresses auth.log.1 into auth.log.1.gz
// (or .2.gz) and removes it. A deleted name that is live again in the same
// folder, or whose compressed copy is live there, or a dated rotation
// (auth.log-20240101.gz) next to live dated rotations of the same log, is
// a rotation and not reported.

// logDirs are folders whose files are logs, normalised (normPath).
var logDirs = []string{"var/log", "windows/system32/winevt/logs", "windows/system32/logfiles"}

type deletedLogFile struct {
	h      *hunter
	r      *Rule
	watch  []string
	files  map[string]*delFile
	dirs   map[string]*dirChange
	live   map[string]bool // fs key + path of names not deleted
	inodes map[string]bool // fs key + inode of names not deleted
	// orphans by fs key + inode; created: fs key + folder → when files in
	// a log or watched folder were created (after the cut-off).
	orphans map[string]*orphan
	created map[string][]time.Time
}

type delFile struct {
	fs, path, norm, inode string
	refs                  []EventRef
	watched, winLog       bool
}

type dirChange struct {
	fs, path        string // file system key; the folder as the evidence names it
	refs            []EventRef
	what            []string
	ctimes          []time.Time // its metadata-change times after the cut-off
	winLog, watched bool
	named           bool // a deleted name in it was reported
}

// orphan is a deleted inode with no name left: Linux 5.19 and later wipe
// an ext4 directory entry when they remove it, so only the inode says a
// file went, and its metadata-change time is the removal's.
type orphan struct {
	fs, inode string
	ctime     time.Time
	refs      []EventRef
}

func newDeletedLogFile(h *hunter, r *Rule) (analyzer, error) {
	var ws []string
	for _, w := range h.cfg.Watch {
		if n := normPath(w); n != "" {
			ws = append(ws, n)
		}
	}
	return &deletedLogFile{h: h, r: r, watch: ws, files: map[string]*delFile{}, dirs: map[string]*dirChange{},
		live: map[string]bool{}, inodes: map[string]bool{}, orphans: map[string]*orphan{}, created: map[string][]time.Time{}}, nil
}

// fsKey names the file system an entry's name was read from: for a file
// listed from an image or folder (filestat) the container chain without the
// file itself; for an $MFT parsed as a file, that file.
func fsKey(ev *timeline.Event) string {
	p := ev.Jejak.Provenance
	if ev.Event.Dataset == "filestat" {
		c := p.Chain
		if len(c) > 0 {
			c = c[:len(c)-1]
		}
		return p.EvidenceSHA256 + "\x00" + strings.Join(c, "\x00")
	}
	return fileKey(p)
}

// File times as the mft and filestat parsers describe them. Their events
// are one per distinct time of a file (or of an NTFS attribute), and an
// event's timestamp_desc names every time it is, in MACB order joined by
// "; " ("Content Modification Time; Metadata Modification Time"): the
// checks below look for a time among the parts, never at the whole.
const (
	descChanged = "Metadata Modification Time"
	descCreated = "Creation Time"
)

// hasTime says whether a file event's timestamp_desc names the time desc
// among its parts.
func hasTime(eventDesc, desc string) bool {
	for part := range strings.SplitSeq(eventDesc, "; ") {
		if part == desc {
			return true
		}
	}
	return false
}

// changeWordsOf gives the changeWords of each time a file event stands
// for, in its order (none for an access time alone, or a log's time).
func changeWordsOf(desc string) []string {
	if w, ok := changeWords[desc]; ok {
		return []string{w} // one time: most events
	}
	var out []string
	for part := range strings.SplitSeq(desc, "; ") {
		if w, ok := changeWords[part]; ok {
			out = append(out, w)
		}
	}
	return out
}

func isDirEvent(ev *timeline.Event) bool {
	return ev.File.Type == "dir" || slices.Contains(ev.Event.Type, "directory")
}

// where says whether p is in a log folder (which one) or a watched path.
func (d *deletedLogFile) where(p string) (inLogs, winLog, watched bool) {
	for _, l := range logDirs {
		if under(p, l) {
			inLogs, winLog = true, l != "var/log"
		}
	}
	for _, w := range d.watch {
		if under(p, w) {
			watched = true
		}
	}
	return
}

func (d *deletedLogFile) wants() interest { return interest{file: true} }

func (d *deletedLogFile) observe(ev *timeline.Event) {
	if ev.File == nil || ev.File.Path == "" || (ev.Event.Dataset != "filestat" && ev.Event.Dataset != "ntfs.mft") {
		return
	}
	p := normPath(ev.File.Path)
	if strings.HasPrefix(p, "$orphanfiles/") {
		d.observeOrphan(ev)
		return
	}
	inLogs, winLog, watched := d.where(p)
	// Only names in log folders and watched paths are kept (live ones
	// too, for the rotation test): a whole disk's names would not fit.
	if !inLogs && !watched {
		return
	}
	fk := fsKey(ev)
	deleted := slices.Contains(ev.Jejak.Tags, "deleted")
	if !deleted {
		d.live[fk+"\x00"+p] = true
		if ev.File.Inode != "" {
			d.inodes[fk+"\x00"+ev.File.Inode] = true
		}
		words := changeWordsOf(ev.TimestampDesc)
		attr := ev.Jejak.Data["attribute"]
		// $FILE_NAME times of a folder are its entry in its own parent;
		// only $STANDARD_INFORMATION moves when a name inside it goes.
		if isDirEvent(ev) && len(words) > 0 && d.h.inScope(ev.Timestamp) && (attr == "" || strings.HasPrefix(attr, "$STANDARD")) {
			k := fk + "\x00" + p
			c := d.dirs[k]
			if c == nil {
				c = &dirChange{fs: fk, path: ev.File.Path, winLog: winLog, watched: watched && !inLogs}
				d.dirs[k] = c
			}
			c.refs = append(c.refs, d.h.ref(ev))
			if hasTime(ev.TimestampDesc, descChanged) {
				c.ctimes = append(c.ctimes, ev.Timestamp)
			}
			for _, word := range words {
				w := word
				if attr != "" {
					w += " ($SI)"
				}
				w += " at " + ts(ev.Timestamp)
				if !slices.Contains(c.what, w) {
					c.what = append(c.what, w)
				}
			}
		}
		if !isDirEvent(ev) && hasTime(ev.TimestampDesc, descCreated) && d.h.inScope(ev.Timestamp) {
			k := fk + "\x00" + path.Dir(p)
			d.created[k] = append(d.created[k], ev.Timestamp)
		}
		return
	}
	if isDirEvent(ev) {
		return
	}
	k := fk + "\x00" + p + "\x00" + ev.File.Inode
	f := d.files[k]
	if f == nil {
		f = &delFile{fs: fk, path: ev.File.Path, norm: p, inode: ev.File.Inode, watched: watched && !inLogs, winLog: winLog}
		d.files[k] = f
	}
	f.refs = append(f.refs, d.h.ref(ev))
}

func (d *deletedLogFile) observeOrphan(ev *timeline.Event) {
	if !slices.Contains(ev.Jejak.Tags, "deleted") || !d.h.inScope(ev.Timestamp) {
		return
	}
	if len(changeWordsOf(ev.TimestampDesc)) == 0 {
		return
	}
	fk := fsKey(ev)
	k := fk + "\x00" + ev.File.Inode
	o := d.orphans[k]
	if o == nil {
		o = &orphan{fs: fk, inode: ev.File.Inode}
		d.orphans[k] = o
	}
	o.refs = append(o.refs, d.h.ref(ev))
	if hasTime(ev.TimestampDesc, descChanged) {
		o.ctime = ev.Timestamp
	}
}

// rotated: the deleted name is a log rotation's doing (see above).
func (d *deletedLogFile) rotated(f *delFile) bool {
	if d.live[f.fs+"\x00"+f.norm] {
		return true
	}
	for _, ext := range []string{".gz", ".xz", ".bz2", ".zst"} {
		if d.live[f.fs+"\x00"+f.norm+ext] {
			return true
		}
	}
	if f.inode != "" && f.inode != "0" && d.inodes[f.fs+"\x00"+f.inode] {
		// The inode lives on under another name: moved, not deleted.
		return true
	}
	base := path.Base(f.norm)
	stem := unrotated(base)
	if suffix := strings.TrimPrefix(base, stem); !datedSuffix(suffix) {
		return false
	}
	dir := path.Dir(f.norm)
	for k := range d.live {
		fs, p, _ := strings.Cut(k, "\x00"+dir+"/")
		if fs != f.fs || strings.Contains(p, "/") {
			continue
		}
		if unrotated(p) == stem && datedSuffix(strings.TrimPrefix(p, stem)) {
			return true
		}
	}
	return false
}

// datedSuffix: "-20240101" or "-20240101.gz", as logrotate's dateext
// writes.
func datedSuffix(s string) bool {
	s, _, _ = strings.Cut(s, ".")
	return len(s) >= 9 && s[0] == '-' && allDigits(s[1:])
}

func (d *deletedLogFile) finish() []Finding {
	var out []Finding
	for _, f := range d.files {
		dir := path.Dir(f.norm)
		c := d.dirs[f.fs+"\x00"+dir]
		if c == nil || d.rotated(f) {
			continue
		}
		c.named = true
		refs := append(slices.Clone(f.refs), c.refs...)
		fd := newFinding(d.r, f.path, "", refs)
		what := "log file"
		switch {
		case f.winLog:
			fd.Technique = "T1070.001"
		case f.watched:
			what = "watched file"
			fd.Technique = "T1070.004"
		}
		inode := ""
		if f.inode != "" {
			inode = " (inode " + f.inode + ")"
		}
		last := f.refs[0].Timestamp
		for _, r := range f.refs {
			if r.Timestamp.After(last) {
				last = r.Timestamp
			}
		}
		slices.Sort(c.what)
		parent := path.Dir(strings.ReplaceAll(f.path, `\`, "/"))
		fd.Explanation = fmt.Sprintf("%s %s%s is deleted and its folder %s changed after the cut-off (%s): removing a name moves these times, so the deletion may be that change; the file's own times end at %s",
			what, f.path, inode, parent, listNames(c.what, 4), ts(last))
		out = append(out, fd)
	}
	return append(out, d.orphanFindings()...)
}

// orphanFindings: a log or watched folder whose metadata changed after the
// cut-off at the very time (to the nanosecond the file system keeps) an
// orphan inode's did, with no deleted name found in it, lost a file whose
// name was wiped. When a file was created in the folder in the minute
// before, it is a rotation: logrotate compressing (auth.log.2.gz written,
// auth.log.2 removed) or making a new log, journald archiving a journal and
// removing the oldest; not reported.
//
// The kernel's clock ticks in milliseconds, so two removals in one tick
// (a script) share a time; an orphan matching several folders is not
// reported when any of them was rotating.
func (d *deletedLogFile) orphanFindings() []Finding {
	var out []Finding
	for _, o := range d.orphans {
		if o.ctime.IsZero() {
			continue
		}
		var folders []*dirChange
		rotating := false
		for dk, c := range d.dirs {
			if c.fs != o.fs || !slices.ContainsFunc(c.ctimes, o.ctime.Equal) {
				continue
			}
			if slices.ContainsFunc(d.created[dk], func(t time.Time) bool {
				return !t.After(o.ctime) && o.ctime.Sub(t) <= time.Minute
			}) {
				rotating = true
			}
			if !c.named {
				folders = append(folders, c)
			}
		}
		if rotating {
			continue
		}
		for _, c := range folders {
			refs := append(slices.Clone(o.refs), c.refs...)
			fd := newFinding(d.r, c.path+" inode "+o.inode, "", refs)
			what := "log folder"
			switch {
			case c.winLog:
				fd.Technique = "T1070.001"
			case c.watched:
				what = "watched folder"
				fd.Technique = "T1070.004"
			}
			slices.Sort(c.what)
			fd.Explanation = fmt.Sprintf("a file was removed from the %s %s after the cut-off: inode %s is deleted with no name left (ext4 on Linux 5.19 and later wipes a removed name) and its metadata changed at %s, the same instant as the folder (%s)",
				what, c.path, o.inode, ts(o.ctime), listNames(c.what, 4))
			if o.ctime.Nanosecond() == 0 {
				fd.Explanation += "; the times are whole seconds, so the match is to the second only"
			}
			out = append(out, fd)
		}
	}
	return out
}
