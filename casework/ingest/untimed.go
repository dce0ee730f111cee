package ingest

import "bytes"

// Some files under log names hold no time at all: a stock Debian /var/log
// has apt's planner dump (apt/eipp.log.xz) and fc-cache's output
// (fontconfig.log). No parser could place a line of them on the timeline;
// their one time is the file's own, which filestat already gave. Failing
// the run over them as an unread log (SkipKnownLog) would make every Debian
// /var/log fail, and listing them as unknown would hide that jejak did
// recognise them. They are skipped with their own reason, which is not a
// failure, and the format named.

// SkipUntimed is a file in a format jejak recognises that has no
// timestamps in its content (the format is named in the skip's detail).
const SkipUntimed = "recognised format with no timestamps"

// untimedFormats are content signatures of untimed formats: the start of
// the file as the writing program always begins it, specific enough that
// no log of another format starts so.
var untimedFormats = []struct {
	name   string
	prefix []byte // what the content starts with
}{
	// APT's External Installation Planner Protocol dump, written before
	// each dpkg run (apt-pkg/edsp.cc, EIPP::WriteRequest): a request
	// stanza, then the package universe as control stanzas.
	{name: "apt EIPP dump", prefix: []byte("Request: EIPP ")},
	// The External Dependency Solver Protocol request apt hands a solver,
	// written to a file by apt's dump solver (/usr/lib/apt/solvers/dump)
	// when someone debugs apt: the same stanzas, as untimed.
	{name: "apt EDSP dump", prefix: []byte("Request: EDSP ")},
	// fc-cache -v (fontconfig's fc-cache/fc-cache.c), which the fontconfig
	// package's postinst writes to /var/log/fontconfig.log: the font
	// directories, then one line per directory cached.
	{name: "fontconfig fc-cache log", prefix: []byte("Font directories:\n\t")},
}

// untimedFormat names the untimed format the head starts with, or "".
func untimedFormat(head []byte) string {
	for _, f := range untimedFormats {
		if bytes.HasPrefix(head, f.prefix) {
			return f.name
		}
	}
	return ""
}
