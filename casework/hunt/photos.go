package hunt

import (
	"fmt"
	"slices"
	"strconv"
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
	prov                  timeline.Provenance
	refs                  []EventRef
	taken, modified       exifDate
	software, camera, gps string
	deletedTag            bool
}

// exifDate is one EXIF date of a photo as its event records it.
type exifDate struct {
	at  time.Time // the instant on the timeline
	raw string    // the tag's value, the camera's wall clock
	sub string    // its SubSecTime* digits
	// wall is raw with its sub-seconds read as if UTC (zero when raw does
	// not parse): two dates of one camera clock compare by it whatever
	// offsets they were placed with.
	wall time.Time
	// offset and source are exif.offset and exif.offset_source: the offset
	// the date was read with and the tag it came from ("case zone" when the
	// image had none).
	offset, source string
	// own says the offset is the date's own OffsetTime* tag: its instant
	// is the camera's word, not an inference.
	own bool
}

// ownOffsetTag is each EXIF date's own offset tag, as the exif parser
// names them in exif.tag and exif.offset_source.
var ownOffsetTag = map[string]string{
	"DateTimeOriginal": "OffsetTimeOriginal", "DateTimeDigitized": "OffsetTimeDigitized", "DateTime": "OffsetTime",
}

// offsetSourceCase is the exif parser's exif.offset_source of a date read
// in the case zone.
const offsetSourceCase = "case zone"

func newExifDate(ev *timeline.Event) exifDate {
	d := ev.Jejak.Data
	x := exifDate{at: ev.Timestamp, raw: d["exif.value"], sub: d["exif.subsec"], offset: d["exif.offset"], source: d["exif.offset_source"]}
	// Events stored before exif.offset_source existed carry exif.offset
	// only when the date's own tag gave it.
	x.own = x.source == ownOffsetTag[d["exif.tag"]] || x.source == "" && x.offset != ""
	if w, err := time.Parse("2006:01:02 15:04:05", x.raw); err == nil {
		if x.sub != "" {
			if f, err := strconv.ParseFloat("0."+x.sub, 64); err == nil {
				w = w.Add(time.Duration(f*1e9 + 0.5))
			}
		}
		x.wall = w
	}
	return x
}

// label is the date as the camera wrote it, with its sub-seconds.
func (x exifDate) label() string {
	if x.sub != "" {
		return x.raw + "." + x.sub
	}
	return x.raw
}

func (x exifDate) String() string {
	z := x.offset
	switch {
	case x.source == offsetSourceCase:
		z = "in the case zone"
	case !x.own && x.source != "":
		z += " from " + x.source
	}
	if z != "" {
		z = " " + z
	}
	return x.label() + z + " (" + ts(x.at) + ")"
}

// clockGap is how far modified is from taken on the camera's clock. Two
// dates each placed by its own offset tag compare as instants. Otherwise
// at least one offset is inferred (from a sibling tag or the case zone)
// and the camera wrote both from one wall clock, so their wall-clock
// values compare: the instants would differ by the inference, not by
// anything done to the photo.
func clockGap(taken, modified exifDate) (time.Duration, string) {
	if (taken.own && modified.own) || taken.wall.IsZero() || modified.wall.IsZero() {
		return modified.at.Sub(taken.at), "as instants"
	}
	return modified.wall.Sub(taken.wall), "on the camera's wall clock"
}

// maxZoneOffset is the widest UTC offset in use (Kiribati, +14:00).
const maxZoneOffset = 14 * time.Hour

// zoneStep is the granularity of every UTC offset in use (Nepal +05:45).
const zoneStep = 15 * time.Minute

// zoneAmount says d is, within tol, a whole number of quarter hours up to
// ±14 h: what a camera clock set to another zone, or a date read in the
// wrong one, produces. Such a gap alone is never evidence of an edit.
func zoneAmount(d, tol time.Duration) bool {
	a := d.Abs()
	if a <= tol || a > maxZoneOffset+tol {
		return false
	}
	r := a % zoneStep
	return r <= tol || zoneStep-r <= tol
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

// wants: the deleted tag of container times, and the EXIF events.
func (s *photoSet) wants() interest { return interest{tagged: true, parsers: []string{"exif"}} }

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
		ph.taken = newExifDate(ev)
	case "DateTime":
		ph.modified = newExifDate(ev)
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
	if ph.taken.raw != "" {
		parts = append(parts, "taken "+ph.taken.String())
	}
	if ph.modified.raw != "" {
		parts = append(parts, "modified "+ph.modified.String())
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
			var notes []string
			if !ph.taken.at.IsZero() && !ph.modified.at.IsZero() {
				gap, basis := clockGap(ph.taken, ph.modified)
				// To the millisecond: sub-second tags make a real gap
				// like 1h59m59.12s, which rounded to minutes misleads.
				amount := gap.Abs().Round(time.Millisecond).String()
				switch {
				case gap.Abs() <= p.tolerance:
				case zoneAmount(gap, p.tolerance):
					// A camera clock in another zone, or one date read at
					// the wrong offset, looks exactly like this: reported
					// only alongside real evidence of an edit.
					notes = append(notes, fmt.Sprintf("ModifyDate %s and DateTimeOriginal %s are %s apart %s, a whole zone offset (%s, tolerance %s), which by itself is not evidence of an edit",
						ph.modified.label(), ph.taken.label(), amount, basis, gap.Abs().Round(zoneStep), p.tolerance))
				default:
					why = append(why, fmt.Sprintf("ModifyDate %s differs from DateTimeOriginal %s by %s %s", ph.modified.label(), ph.taken.label(), amount, basis))
				}
			}
			if len(why) == 0 {
				continue
			}
			why = append(why, notes...)
			fd := newFinding(p.r, fileLabel(ph.prov), "", ph.refs)
			// An edit before the cut-off is still an altered exhibit, but
			// one after it is what this hunt is about.
			if !after.IsZero() && !ph.modified.at.IsZero() && ph.modified.at.Before(after) {
				fd.Severity = min(fd.Severity, Medium)
			}
			fd.Explanation = fmt.Sprintf("photo %s%s was edited: %s; %s", name, state, strings.Join(why, "; "), ph.describe())
			out = append(out, fd)
		case "after":
			if ph.taken.at.IsZero() || ph.taken.at.Before(after) {
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
