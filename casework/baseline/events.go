package baseline

import (
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Dataset is event.dataset of every difference event.
const Dataset = "jejak.baseline"

// Parser is provenance.parser of the difference events.
const Parser = "baseline"

// TagBinary marks a difference in an executable or library.
const TagBinary = "baseline-binary"

// Later names the evidence a diff read.
type Later struct {
	SHA256 string
	Name   string
}

// Event turns a difference into a timeline event. Its ID is a hash of the
// reference's SHA-256, the later evidence, the path and the status, so a
// re-run of the same diff adds nothing to the store.
//
// The time: an added or changed file's mtime in the later evidence (when
// its content was last written: the moment that matters), else — a
// removed file, or a file system that gives no times to the walk (NTFS:
// its times come from the mft parser) — the reference's time (the
// baseline's capture), said so in timestamp_desc.
func (c Change) Event(ref *Reference, later Later) *timeline.Event {
	ev := &timeline.Event{}
	ts, desc := ref.Time, ref.Kind+" captured, file "+c.Status+" since"
	if c.After != nil && c.After.Mtime != nil {
		ts, desc = *c.After.Mtime, "file modified, "+c.Status+" since "+ref.Kind
	}
	if ts.IsZero() {
		ts = time.Unix(0, 0)
	}
	ev.Timestamp, ev.TimestampDesc = ts, desc
	typ := map[string]string{Added: "creation", Changed: "change", Removed: "deletion", Touched: "change"}[c.Status]
	ev.Event = timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{typ},
		Action: "baseline-" + c.Status, Dataset: Dataset, Provider: "jejak"}
	p := "/" + strings.TrimPrefix(c.Path, "/")
	ev.File = &timeline.File{Path: p, Name: path.Base(p)}
	cur := c.After
	if cur == nil {
		cur = c.Before
	}
	if cur != nil {
		if cur.Kind == "file" && cur.Size >= 0 {
			sz := cur.Size
			ev.File.Size = &sz
		}
		ev.File.Inode = cur.Inode
		switch cur.Kind {
		case "dir", "symlink":
			ev.File.Type = cur.Kind
			ev.File.TargetPath = cur.Link
		case "other":
			ev.File.Type = "device"
		}
	}
	d := map[string]string{
		"baseline.name":      ref.Name,
		"baseline.reference": ref.Kind,
		"baseline.sha256":    ref.SHA256,
		"baseline.status":    c.Status,
	}
	if len(c.Moved) > 0 {
		d["baseline.moved"] = strings.Join(c.Moved, ",")
	}
	if c.Executable {
		d["baseline.executable"] = "true"
		ev.Jejak.Tags = []string{TagBinary}
	}
	if c.Note != "" {
		d["baseline.note"] = c.Note
	}
	side := func(pre string, f *File) {
		if f == nil {
			return
		}
		for k, v := range map[string]string{"sha256": f.SHA256, "sha1": f.SHA1, "md5": f.MD5, "mode": f.Mode, "owner": f.Owner} {
			if v != "" {
				d["baseline."+pre+"_"+k] = v
			}
		}
		if f.Size >= 0 && f.Kind == "file" {
			d["baseline."+pre+"_size"] = strconv.FormatInt(f.Size, 10)
		}
		if f.Mtime != nil {
			d["baseline."+pre+"_mtime"] = f.Mtime.UTC().Format(time.RFC3339Nano)
		}
	}
	side("before", c.Before)
	side("after", c.After)
	ev.Jejak.Data = d
	ev.Message = message(c, ref)
	// The chain names the reference, and for a file of the later
	// evidence the volume and file system it was found in: one path in
	// two partitions is two rows.
	chain := []string{ref.Kind + ":" + ref.Name}
	if c.After != nil {
		if c.After.Volume != "" {
			chain = append(chain, strings.Fields(c.After.Volume)...)
		}
		chain = append(chain, c.After.FS+":"+c.After.Path)
	}
	ev.Jejak.Provenance = timeline.Provenance{
		EvidenceSHA256: later.SHA256, EvidenceName: later.Name,
		Chain:    chain,
		Path:     c.Path,
		Identity: ref.Kind + ":" + ref.SHA256,
		Offset:   -1,
		Parser:   Parser,
	}
	if c.Status == Removed {
		// Removed files are not in the later evidence: the row is about
		// the reference's entry.
		ev.Jejak.Provenance.Offset = 0
	}
	// The ID hashes the provenance (reference, evidence, path) and
	// timestamp_desc, which names the status: a path changed in one diff
	// and removed in a later one are two rows, a re-run adds none.
	ev.Finalize()
	return ev
}

func message(c Change, ref *Reference) string {
	var b strings.Builder
	b.WriteString(ref.Kind + " " + c.Status + ": /" + strings.TrimPrefix(c.Path, "/"))
	if len(c.Moved) > 0 {
		b.WriteString(" (" + strings.Join(c.Moved, ", ") + " moved)")
	}
	if c.Executable {
		switch c.Status {
		case Added:
			b.WriteString("; an executable or library not in the " + ref.Kind)
		default:
			b.WriteString("; an executable or library that differs from the " + ref.Kind)
		}
	}
	return b.String()
}
