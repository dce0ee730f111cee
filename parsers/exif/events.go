package exif

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// clock is one EXIF date with the tags that complete it. The descriptions
// use plaso's vocabulary (plaso itself has no EXIF parser): the moment the
// picture was taken is its creation, the last save its content
// modification; "Digitized Time" and "GPS Time" have no plaso name.
type clock struct {
	record    int64
	tag, desc string
	date, sub string
	// offsets are the OffsetTime* tags that may place this clock, its own
	// first, then the stand-ins used when its own is absent (see
	// resolveOffset).
	offsets []string
	gps     bool
}

// The OffsetTime* tags (EXIF 2.31), by name; their values are "+07:00".
const (
	offsetTime          = "OffsetTime"
	offsetTimeOriginal  = "OffsetTimeOriginal"
	offsetTimeDigitized = "OffsetTimeDigitized"
)

// OffsetSourceCase is the exif.offset_source of a time read in the case
// zone because the image has no usable OffsetTime* tag at all.
const OffsetSourceCase = "case zone"

// OffsetSourceGPS is the exif.offset_source of the GPS time, which EXIF
// defines as UTC: a different clock from the camera's.
const OffsetSourceGPS = "GPS (UTC by definition)"

// The offset precedence. A camera writes DateTimeOriginal,
// DateTimeDigitized and, on an untouched photo, DateTime from one clock at
// one moment; many write only some of the OffsetTime* tags (often only
// OffsetTimeOriginal). Reading the dates without an offset in the case
// zone would put one clock in two zones and invent an edit, so a date
// without its own offset takes the offset the image gives for its nearest
// sibling: the two capture dates (Original, Digitized) stand in for each
// other first, then the last save's OffsetTime; the last save takes the
// capture offsets, Original first as it is the one most often written.
// Only an image with none of the three falls back to the case zone.
var clocks = []clock{
	{1, "DateTimeOriginal", "Creation Time", "IFD/Exif/DateTimeOriginal", "IFD/Exif/SubSecTimeOriginal",
		[]string{offsetTimeOriginal, offsetTimeDigitized, offsetTime}, false},
	{2, "DateTimeDigitized", "Digitized Time", "IFD/Exif/DateTimeDigitized", "IFD/Exif/SubSecTimeDigitized",
		[]string{offsetTimeDigitized, offsetTimeOriginal, offsetTime}, false},
	{3, "DateTime", "Content Modification Time", "IFD/DateTime", "IFD/Exif/SubSecTime",
		[]string{offsetTime, offsetTimeOriginal, offsetTimeDigitized}, false},
	{4, "GPSDateStamp+GPSTimeStamp", "GPS Time", "IFD/GPSInfo/GPSDateStamp", "", nil, true},
}

// OwnOffsetTag is the OffsetTime* tag that belongs to an EXIF date tag as
// named in exif.tag ("" for the GPS time and unknown tags): a date whose
// exif.offset_source is its own tag was placed by the camera's word, any
// other source is an inference.
func OwnOffsetTag(tag string) string {
	for _, c := range clocks {
		if c.tag == tag && len(c.offsets) > 0 {
			return c.offsets[0]
		}
	}
	return ""
}

func emitEvents(tags tagSet, base int64, src *parsers.Source, emit func(*timeline.Event) error) error {
	common := map[string]string{}
	for _, k := range []string{"Make", "Model", "Software"} {
		if v := clean(tags.str("IFD/" + k)); v != "" {
			common[strings.ToLower(k)] = v
		} else if v := clean(tags.str("IFD/Exif/" + k)); v != "" {
			common[strings.ToLower(k)] = v
		}
	}
	if lat, ok := coordinate(tags, "IFD/GPSInfo/GPSLatitude", "IFD/GPSInfo/GPSLatitudeRef", "S"); ok {
		common["gps.latitude"] = strconv.FormatFloat(lat, 'f', -1, 64)
	}
	if lon, ok := coordinate(tags, "IFD/GPSInfo/GPSLongitude", "IFD/GPSInfo/GPSLongitudeRef", "W"); ok {
		common["gps.longitude"] = strconv.FormatFloat(lon, 'f', -1, 64)
	}
	if alt, ok := altitude(tags); ok {
		common["gps.altitude"] = strconv.FormatFloat(alt, 'f', -1, 64)
	}
	for _, c := range clocks {
		raw := clean(tags.str(c.date))
		if raw == "" {
			continue
		}
		ev := &timeline.Event{
			TimestampDesc: c.desc,
			Event:         timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"info"}, Dataset: "exif"},
			File:          &timeline.File{Path: src.Entry.Path},
		}
		parsers.At(ev, base, c.record)
		data := map[string]string{"exif.tag": c.tag, "exif.value": raw}
		for k, v := range common {
			data[k] = v
		}
		var err error
		if c.gps {
			err = gpsTime(ev, raw, tags)
			data["exif.offset"] = "+00:00"
			data["exif.offset_source"] = OffsetSourceGPS
		} else {
			err = localTime(ev, c, raw, tags, src, data)
		}
		if err != nil {
			src.Warnf(base, c.record, "%s %q: %w", c.tag, raw, err)
			continue
		}
		ev.Jejak.Data = data
		ev.Message = message(c, raw, data)
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

func message(c clock, raw string, d map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "EXIF %s %s", c.tag, raw)
	if d["make"] != "" || d["model"] != "" {
		fmt.Fprintf(&b, " camera %s", strings.TrimSpace(d["make"]+" "+d["model"]))
	}
	if d["software"] != "" {
		fmt.Fprintf(&b, " software %s", d["software"])
	}
	if d["gps.latitude"] != "" {
		fmt.Fprintf(&b, " at %s,%s", d["gps.latitude"], d["gps.longitude"])
	}
	return b.String()
}

// localTime reads "YYYY:MM:DD hh:mm:ss" with its SubSecTime* and the
// offset resolveOffset picks; the offset used and where it came from are
// recorded (exif.offset, exif.offset_source), and a time whose own offset
// tag is absent carries the zone it was read in as an assumption.
func localTime(ev *timeline.Event, c clock, raw string, tags tagSet, src *parsers.Source, data map[string]string) error {
	wall, err := time.Parse("2006:01:02 15:04:05", raw)
	if err != nil {
		return err
	}
	if sub := digits(clean(tags.str(c.sub))); sub != "" {
		frac, _ := strconv.ParseFloat("0."+sub, 64)
		wall = wall.Add(time.Duration(frac*1e9 + 0.5))
		data["exif.subsec"] = sub
	}
	loc, source := resolveOffset(c, tags, data)
	if loc == nil {
		loc, source = src.Zone, OffsetSourceCase
		if loc == nil {
			loc = time.UTC
		}
	} else {
		data["exif.offset"] = loc.String()
	}
	data["exif.offset_source"] = source
	ev.Timestamp = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(),
		wall.Nanosecond(), loc).UTC()
	if source != c.offsets[0] {
		ev.Event.Timezone = loc.String()
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: loc.String()}
	}
	return nil
}

// resolveOffset returns the first usable offset among c.offsets (a fixed
// zone named like the tag's value, "+07:00") and the tag it came from, or
// nil when the image has none. A present but unreadable offset tag (EXIF
// writes "   :  " for unknown) is skipped and the first such is kept in
// exif.offset_invalid ("OffsetTime=   :  "), so the reader sees why it
// was not used.
func resolveOffset(c clock, tags tagSet, data map[string]string) (*time.Location, string) {
	for _, name := range c.offsets {
		raw := clean(tags.str("IFD/Exif/" + name))
		if raw == "" {
			continue
		}
		secs, ok := parseOffset(raw)
		if !ok {
			if data["exif.offset_invalid"] == "" {
				data["exif.offset_invalid"] = fmt.Sprintf("%s=%q", name, strings.TrimRight(tags.str("IFD/Exif/"+name), "\x00"))
			}
			continue
		}
		return time.FixedZone(offsetName(secs), secs), name
	}
	return nil, ""
}

// offsetName writes an offset as EXIF does, "+07:00".
func offsetName(secs int) string {
	sign := '+'
	if secs < 0 {
		sign, secs = '-', -secs
	}
	return fmt.Sprintf("%c%02d:%02d", sign, secs/3600, secs/60%60)
}

// parseOffset reads an EXIF offset "+HH:MM" / "-HH:MM" (any zone on earth
// is within ±14 h). "Z", which exiftool accepts when writing, means +00:00.
func parseOffset(s string) (int, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	if digits(s[1:3]) != s[1:3] || digits(s[4:6]) != s[4:6] {
		return 0, false
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[4:6])
	if m >= 60 || h*60+m > 14*60 {
		return 0, false
	}
	secs := (h*60 + m) * 60
	if s[0] == '-' {
		secs = -secs
	}
	return secs, true
}

// gpsTime joins GPSDateStamp and GPSTimeStamp, which EXIF defines as UTC.
func gpsTime(ev *timeline.Event, date string, tags tagSet) error {
	d, err := time.Parse("2006:01:02", date)
	if err != nil {
		return err
	}
	hms := tags.rationals("IFD/GPSInfo/GPSTimeStamp")
	if len(hms) != 3 {
		return fmt.Errorf("GPSTimeStamp has %d parts", len(hms))
	}
	var secs float64
	for i, r := range hms {
		if r.Denominator == 0 {
			return fmt.Errorf("GPSTimeStamp: zero denominator")
		}
		secs += float64(r.Numerator) / float64(r.Denominator) * []float64{3600, 60, 1}[i]
	}
	ev.Timestamp = d.Add(time.Duration(secs*1e9 + 0.5)).Truncate(time.Millisecond).UTC()
	return nil
}

var number = regexp.MustCompile(`\d+(?:\.\d+)?`)

// coordinate returns decimal degrees, negative for refNeg (S or W). A
// coordinate written as ASCII instead of rationals (seen in the wild) is
// read as exiftool reads it: its first three numbers are d, m, s.
func coordinate(tags tagSet, key, refKey, refNeg string) (float64, bool) {
	var dms []float64
	if rs := tags.rationals(key); len(rs) > 0 {
		for _, r := range rs {
			if r.Denominator == 0 {
				return 0, false
			}
			dms = append(dms, float64(r.Numerator)/float64(r.Denominator))
		}
	} else if s := tags.str(key); s != "" {
		for _, n := range number.FindAllString(s, 3) {
			f, _ := strconv.ParseFloat(n, 64)
			dms = append(dms, f)
		}
	}
	if len(dms) == 0 {
		return 0, false
	}
	v := dms[0]
	if len(dms) > 1 {
		v += dms[1] / 60
	}
	if len(dms) > 2 {
		v += dms[2] / 3600
	}
	if strings.EqualFold(strings.TrimSpace(tags.str(refKey)), refNeg) {
		v = -v
	}
	return v, true
}

func altitude(tags tagSet) (float64, bool) {
	rs := tags.rationals("IFD/GPSInfo/GPSAltitude")
	if len(rs) != 1 || rs[0].Denominator == 0 {
		return 0, false
	}
	v := float64(rs[0].Numerator) / float64(rs[0].Denominator)
	if ref, ok := tags["IFD/GPSInfo/GPSAltitudeRef"].([]byte); ok && len(ref) == 1 && ref[0] == 1 && v != 0 {
		v = -v
	}
	return v, true
}

func clean(s string) string { return strings.TrimSpace(strings.TrimRight(s, "\x00")) }

func digits(s string) string {
	for i, c := range s {
		if c < '0' || c > '9' {
			return s[:i]
		}
	}
	return s
}
