package hunt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// photoEditors are words in EXIF Software that name an image editor, not a
// camera's or phone's firmware.
var photoEditors = []string{
	"gimp", "photoshop", "lightroom", "adobe", "paint.net", "pixelmator", "affinity", "snapseed", "picsart",
	"acdsee", "corel", "paintshop", "paint shop", "darktable", "rawtherapee", "luminar", "capture one",
	"photoscape", "fotor", "krita", "irfanview", "xnview", "photodirector", "picasa", "photo editor",
}

func editor(software string) bool {
	s := strings.ToLower(software)
	for _, e := range photoEditors {
		if strings.Contains(s, e) {
			return true
		}
	}
	return false
}

// photo gathers one image's EXIF events (one per EXIF date).
type photo struct {
	prov                   timeline.Provenance
	refs                   []EventRef
	taken, modified, digit time.Time
	takenRaw, modifiedRaw  string
	software, camera, gps  string
	deletedTag             bool
}

// photoSet collects the EXIF events of every image and which files are
// deleted; the three photo rules share its logic, each with its own copy.
type photoSet struct {
	h       *hunter
	photos  map[string]*photo
	deleted map[string]bool
}

func newPhotoSet(h *hunter) *photoSet {
	return &photoSet{h: h, photos: map[string]*photo{}, deleted: map[string]bool{}}
}

func (s *photoSet) observe(ev *timeline.Event) {
	p := ev.Jejak.Provenance
	if slices.Contains(ev.Jejak.Tags, "deleted") {
		// Container times (filestat, $MFT) say a file is deleted; the EXIF
		// events of its content do not carry that themselves.
		s.deleted[fileKey(p)] = true
	}
	if p.Parser != "exif" {
		return
	}
	k := fileKey(p)
	ph := s.photos[k]
	if ph == nil {
		ph = &photo{prov: s.h.internProv(p)}
		s.photos[k] = ph
	}
	ph.refs = append(ph.refs, s.h.ref(ev))
	d := ev.Jejak.Data
	switch d["exif.tag"] {
	case "DateTimeOriginal":
		ph.taken, ph.takenRaw = ev.Timestamp, d["exif.value"]
	case "DateTime":
		ph.modified, ph.modifiedRaw = ev.Timestamp, d["exif.value"]
	case "DateTimeDigitized":
		ph.digit = ev.Timestamp
	}
	ph.software = d["software"]
	ph.camera = strings.TrimSpace(d["make"] + " " + d["model"])
	if d["gps.latitude"] != "" {
		ph.gps = d["gps.latitude"] + "," + d["gps.longitude"]
	}
	if slices.Contains(ev.Jejak.Tags, "deleted") {
		ph.deletedTag = true
	}
}

func (s *photoSet) isDeleted(k string, ph *photo) bool { return ph.deletedTag || s.deleted[k] }

func (ph *photo) describe() string {
	var parts []string
	if ph.takenRaw != "" {
		parts = append(parts, "taken "+ph.takenRaw+" ("+ts(ph.taken)+")")
	}
	if ph.modifiedRaw != "" {
		parts = append(parts, "modified "+ph.modifiedRaw+" ("+ts(ph.modified)+")")
	}
	if ph.camera != "" {
		parts = append(parts, "camera "+ph.camera)
	}
	if ph.software != "" {
		parts = append(parts, "software "+ph.software)
	}
	if ph.gps != "" {
		parts = append(parts, "GPS "+ph.gps)
	}
	return strings.Join(parts, ", ")
}

type photoRule struct {
	*photoSet
	r         *Rule
	kind      string
	tolerance time.Duration
}

func newPhotoRule(h *hunter, r *Rule, kind string) (analyzer, error) {
	tol, err := r.durationParam("tolerance", 2*time.Second)
	if err != nil {
		return nil, err
	}
	if kind == "after" && h.cfg.After.IsZero() {
		return nil, nil
	}
	return &photoRule{photoSet: newPhotoSet(h), r: r, kind: kind, tolerance: tol}, nil
}

func newPhotoEdited(h *hunter, r *Rule) (analyzer, error)  { return newPhotoRule(h, r, "edited") }
func newPhotoAfter(h *hunter, r *Rule) (analyzer, error)   { return newPhotoRule(h, r, "after") }
func newDeletedPhoto(h *hunter, r *Rule) (analyzer, error) { return newPhotoRule(h, r, "deleted") }

func (p *photoRule) finish() []Finding {
	var out []Finding
	after := p.h.cfg.After
	for k, ph := range p.photos {
		deleted := p.isDeleted(k, ph)
		name := ph.prov.Path
		state := ""
		if deleted {
			state = " (deleted)"
		}
		var why []string
		switch p.kind {
		case "edited":
			if ph.software != "" && editor(ph.software) {
				why = append(why, fmt.Sprintf("EXIF Software is %q, an image editor", ph.software))
			}
			if !ph.taken.IsZero() && !ph.modified.IsZero() && ph.modified.Sub(ph.taken).Abs() > p.tolerance {
				why = append(why, fmt.Sprintf("ModifyDate %s differs from DateTimeOriginal %s by %s", ph.modifiedRaw, ph.takenRaw, span(time.Time{}, time.Time{}.Add(ph.modified.Sub(ph.taken).Abs()))))
			}
			if len(why) == 0 {
				continue
			}
			fd := newFinding(p.r, fileLabel(ph.prov), "", ph.refs)
			// An edit before the cut-off is still an altered exhibit, but
			// one after it is what this hunt is about.
			if !after.IsZero() && !ph.modified.IsZero() && ph.modified.Before(after) {
				fd.Severity = min(fd.Severity, Medium)
			}
			fd.Explanation = fmt.Sprintf("photo %s%s was edited: %s; %s", name, state, strings.Join(why, "; "), ph.describe())
			out = append(out, fd)
		case "after":
			if ph.taken.IsZero() || ph.taken.Before(after) {
				continue
			}
			fd := newFinding(p.r, fileLabel(ph.prov), "", ph.refs)
			fd.Explanation = fmt.Sprintf("photo %s%s was taken after the cut-off %s: %s", name, state, ts(after), ph.describe())
			out = append(out, fd)
		case "deleted":
			if !deleted {
				continue
			}
			fd := newFinding(p.r, fileLabel(ph.prov), "", ph.refs)
			fd.Explanation = fmt.Sprintf("deleted photo %s recovered with its EXIF: %s", name, ph.describe())
			out = append(out, fd)
		}
	}
	return out
}
