package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// zoneAbbrev maps abbreviations examiners type to the IANA zone meant; the
// abbreviations themselves are ambiguous (IST is India, Ireland or Israel),
// so they are only ever suggested, never taken.
var zoneAbbrev = map[string][]string{
	"WIB":  {"Asia/Jakarta", "Asia/Pontianak"},
	"WITA": {"Asia/Makassar"},
	"WIT":  {"Asia/Jayapura"},
	"SGT":  {"Asia/Singapore"},
	"MYT":  {"Asia/Kuala_Lumpur"},
	"PHT":  {"Asia/Manila"},
	"ICT":  {"Asia/Bangkok", "Asia/Ho_Chi_Minh"},
	"JST":  {"Asia/Tokyo"},
	"KST":  {"Asia/Seoul"},
	"IST":  {"Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"},
	"AEST": {"Australia/Sydney", "Australia/Brisbane"},
	"BST":  {"Europe/London"},
	"CEST": {"Europe/Berlin", "Europe/Paris"},
	"EAT":  {"Africa/Nairobi"},
	"WAT":  {"Africa/Lagos"},
	"SAST": {"Africa/Johannesburg"},
	"BRT":  {"America/Sao_Paulo"},
	"ART":  {"America/Argentina/Buenos_Aires"},
	"EDT":  {"America/New_York"},
	"CDT":  {"America/Chicago"},
	"PDT":  {"America/Los_Angeles"},
	"PST":  {"America/Los_Angeles"},
}

// offsetZones are places suggested for a bare UTC offset, by offset in
// minutes: zones that keep that offset all year.
var offsetZones = map[int][]string{
	-300: {"America/Bogota", "America/Lima"},
	-180: {"America/Sao_Paulo", "America/Argentina/Buenos_Aires"},
	0:    {"UTC", "Africa/Abidjan"},
	60:   {"Africa/Lagos"},
	120:  {"Africa/Johannesburg"},
	180:  {"Africa/Nairobi", "Europe/Istanbul"},
	240:  {"Asia/Dubai"},
	300:  {"Asia/Karachi", "Asia/Tashkent"},
	330:  {"Asia/Kolkata"},
	345:  {"Asia/Kathmandu"},
	360:  {"Asia/Dhaka"},
	420:  {"Asia/Jakarta", "Asia/Bangkok", "Asia/Ho_Chi_Minh"},
	480:  {"Asia/Makassar", "Asia/Singapore", "Asia/Kuala_Lumpur", "Asia/Manila"},
	540:  {"Asia/Jayapura", "Asia/Tokyo", "Asia/Seoul"},
	600:  {"Australia/Brisbane"},
	720:  {"Pacific/Fiji"},
}

var offsetSyntax = regexp.MustCompile(`^(?i:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$`)

// checkZone accepts an IANA zone name and refuses anything else as a usage
// error that says what to type instead.
func checkZone(flag, name string) error {
	if name == "Local" {
		return usagef("--%s Local: the machine's local zone is not reproducible; name an IANA zone such as Asia/Jakarta", flag)
	}
	if _, err := time.LoadLocation(name); err == nil && name != "" {
		return nil
	}
	msg := fmt.Sprintf("--%s %q is not an IANA zone name (Area/City, as in the tz database)", flag, name)
	if z, ok := zoneAbbrev[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return usagef("%s; for %s use --%s %s", msg, strings.ToUpper(name), flag, strings.Join(z, " or "))
	}
	if m := offsetSyntax.FindStringSubmatch(strings.TrimSpace(name)); m != nil {
		h, _ := strconv.Atoi(m[2])
		mins := h * 60
		if m[3] != "" {
			mm, _ := strconv.Atoi(m[3])
			mins += mm
		}
		if m[1] == "-" {
			mins = -mins
		}
		hint := ""
		if mins%60 == 0 && mins/60 >= -12 && mins/60 <= 14 {
			// POSIX-style Etc zones have the sign reversed: UTC+07:00 is Etc/GMT-7.
			hint = fmt.Sprintf("Etc/GMT%+d (fixed UTC%s%02d:00; note the reversed sign)", -mins/60, m[1], h)
			if mins == 0 {
				hint = "UTC"
			}
		}
		if places, ok := offsetZones[mins]; ok {
			if hint != "" {
				hint = " or " + hint
			}
			hint = "the zone of the place, e.g. " + strings.Join(places, ", ") + hint
		}
		if hint != "" {
			return usagef("%s; a fixed offset ignores daylight saving: use %s", msg, hint)
		}
	}
	return usagef("%s; e.g. Asia/Jakarta, Europe/Berlin, America/New_York, UTC", msg)
}
