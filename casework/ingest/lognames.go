package ingest

import (
	"iter"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/parsers"
)

// A file no parser takes is usually a document or a program, and not worth
// failing a run for. A file named like a log that jejak should read is
// different: skipping it leaves a hole in the timeline an examiner must
// hear about, so it counts as a failure (SkipKnownLog). The names are the
// ones system and server software writes under its own name; a generic
// "*.log" counts only inside a log folder, where it is sure to be a log.

// logNames are well-known base names, lower case, after the compression
// and rotation suffixes are stripped.
var logNames = map[string]bool{
	// syslog daemons (Debian, Red Hat, BSD, macOS)
	"auth.log": true, "secure": true, "messages": true, "syslog": true, "kern.log": true,
	"daemon.log": true, "user.log": true, "mail.log": true, "maillog": true, "cron": true,
	"cron.log": true, "system.log": true, "authlog": true, "boot.log": true,
	// accounting (binary); not faillog, which jejak has no parser for and
	// every Debian system has
	"wtmp": true, "btmp": true, "utmp": true, "wtmpx": true, "utmpx": true, "lastlog": true,
	// audit, packages
	"audit.log": true, "dpkg.log": true, "history.log": true,
	// web servers
	"access.log": true, "access_log": true, "error.log": true, "error_log": true,
	"ssl_access_log": true, "ssl_error_log": true, "ssl_request_log": true,
	"other_vhosts_access.log": true,
	// databases (SQL Server's ERRORLOG, MySQL, PostgreSQL)
	"errorlog": true, "mysqld.log": true, "mariadb.log": true, "postgresql.log": true,
	// Windows firewall
	"pfirewall.log": true,
}

var (
	// rotated: auth.log.1, messages-20240101, syslog.0, secure.old.
	rotated = regexp.MustCompile(`([.-](\d{1,3}|\d{8}|\d{10}|old|bak))+$`)
	// compressed: the decompressed member keeps the name; a copy may not.
	compressed = regexp.MustCompile(`\.(gz|bz2|xz|zst|lz4|z|lzma)$`)
	// database logs named after their server with a suffix.
	dbLog = regexp.MustCompile(`^(postgresql|postgres|mysql|mysqld|mariadb)[-_.].*\.(log|csv)$`)
)

// mayStrip says whether rotated or compressed can match base: both are
// anchored at its end, which must then be a digit, "old", "bak" or a
// compression suffix. A cheap test first, because knownLogName runs for
// every file no parser recognised (hundreds of thousands in an image).
func mayStrip(base string) bool {
	if base == "" {
		return false
	}
	if c := base[len(base)-1]; c >= '0' && c <= '9' {
		return true
	}
	for _, s := range []string{"old", "bak", ".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".lzma"} {
		if strings.HasSuffix(base, s) {
			return true
		}
	}
	return false
}

// mayBeDBLog is dbLog's prefix, tested before the expression.
func mayBeDBLog(base string) bool {
	return strings.HasPrefix(base, "postgres") || strings.HasPrefix(base, "mysql") || strings.HasPrefix(base, "mariadb")
}

// knownLogName reports whether a file with this path is a well-known log.
// dirs are the paths of the containers around it (its chain), so a file in
// an archive of /var/log counts as well.
func knownLogName(p string, chain []string) bool {
	return knownLog(p, path.Clean(p) == p, chain)
}

// knownLog is knownLogName for a path the caller knows to be clean or not
// (a path.Join result is): ingest asks it for every file no parser
// recognised (300k in an image), and the folder names are then cut from p
// in one pass, with no path.Clean to tell how.
//
// The base name is looked at first: the folders can only veto a log's
// name (a program's folder) or make a generic .log one (a log folder), so
// a base name that is neither (most files: documents, programs, the
// bench's file0001234.txt) answers alone, with no folder cut or lowered.
func knownLog(p string, clean bool, chain []string) bool {
	kind := baseKind(path.Base(p))
	if kind == notLogBase {
		return false
	}
	logDir, programDir := dirKinds(p, clean)
	if !logDir && programDir {
		// /usr/sbin/cron, /etc/init.d/syslog, a locale's "messages":
		// programs and settings that share a log's name. Inside a log
		// folder, a well-known name or any .log below counts whatever.
		return false
	}
	if kind == logNameBase || logDir {
		return true
	}
	// A generic .log counts inside a log folder: the path itself (above)
	// or a container around it (an archive of /var/log).
	for _, c := range chain {
		_, member, _ := strings.Cut(c, ":")
		if inLogDir(member + "/") {
			return true
		}
	}
	return false
}

// knownLogIn is knownLog(path.Join(dir, p), true, chain), the question
// ingest asks of a file no parser took (dir the evidence item's name, p
// the file's path in it), without joining and cleaning the two when p's
// last name answers alone: path.Clean keeps a last name that is not "",
// "." or "..", so it is the joined path's base, and a base that is
// neither a log's name nor a .log is no known log whatever its folders
// (knownLog). That is most files of an image: the join and the folder
// cut were 5 % of the instructions of an ingest of the bench's 30k-file
// NTFS image, whose every file is text no parser takes.
func knownLogIn(dir, p string, chain []string) bool {
	if b := p[strings.LastIndexByte(p, '/')+1:]; b != "" && b != "." && b != ".." && baseKind(b) == notLogBase {
		return false
	}
	return knownLog(path.Join(dir, p), true, chain)
}

// logBase is what a file's base name says of it (baseKind).
type logBase uint8

const (
	notLogBase  logBase = iota // no log's name, wherever it is
	logNameBase                // a well-known log's name: a log unless in a program's folder
	dotLogBase                 // a generic .log: a log in a log folder only
)

// baseKind classes a base name, in any case, after its compression and
// rotation suffixes are stripped.
func baseKind(base string) logBase {
	if n := len(base); n >= 2 {
		// A name whose last two bytes, lowered, end no name the rules
		// below take (logEndings) is no log's, answered with no lowered
		// copy and no suffix tests: most names of an image (".txt",
		// ".dll", ".xml").
		a, b := base[n-2], base[n-1]
		if a < utf8.RuneSelf && b < utf8.RuneSelf && !('0' <= b && b <= '9') && !logEndings.has(lowerASCII(a), lowerASCII(b)) {
			return notLogBase
		}
	}
	return baseRules(base)
}

// baseRules is baseKind without its first test: the rules alone, which
// TestBaseKindEndings holds that test to.
func baseRules(base string) logBase {
	base = strings.ToLower(base)
	for mayStrip(base) {
		b := compressed.ReplaceAllString(base, "")
		b = rotated.ReplaceAllString(b, "")
		if b == base {
			break
		}
		base = b
	}
	switch {
	case logNames[base], mayBeDBLog(base) && dbLog.MatchString(base),
		strings.HasSuffix(base, ".evtx"), strings.HasSuffix(base, ".evt"),
		// systemd journals: system.journal, user-1000.journal, archived
		// system@…journal and unclean *.journal~ files.
		strings.HasSuffix(base, ".journal"), strings.HasSuffix(base, ".journal~"):
		return logNameBase
	case strings.HasSuffix(base, ".log"):
		return dotLogBase
	}
	return notLogBase
}

// endingSet is a set of two-byte endings: for each last byte, the set of
// the bytes before it.
type endingSet [256]parsers.ByteSet

func (e *endingSet) add(s string) { e[s[len(s)-1]].Add(s[len(s)-2]) }

func (e *endingSet) has(a, b byte) bool { return e[b].Has(a) }

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// logEndings holds the last two bytes of every lowered name baseKind may
// class as a log, but those ending in a digit (rotated, which it asks in
// full): every name of logNames; what mayStrip strips (so that a stripped
// name is asked in full); dbLog's and the suffixes' endings. A name whose
// ending is not here matches none of them, before or after stripping (a
// name that mayStrip does not take is not stripped). TestBaseKindEndings
// compares with the rules alone.
var logEndings = func() *endingSet {
	e := new(endingSet)
	for name := range logNames {
		e.add(name)
	}
	for _, s := range []string{
		"old", "bak", ".gz", ".xz", ".zst", ".z", ".lzma", // mayStrip (".bz2" and ".lz4" end in a digit)
		".log", ".csv", // dbLog
		".evtx", ".evt", ".journal", ".journal~", ".log", // the suffixes
	} {
		e.add(s)
	}
	return e
}()

// dirKinds answers inLogDir and inProgramDir for p at once: one cut of
// its folder names, each lowered once.
func dirKinds(p string, clean bool) (logDir, programDir bool) {
	prev := ""
	for d := range cutDirNames(p, clean) {
		d = strings.ToLower(d)
		if d == "log" || d == "logs" {
			logDir = true
		}
		// /var/lib holds server data (MySQL's logs among it), not programs.
		if programDirs[d] && !(d == "lib" && prev == "var") {
			programDir = true
		}
		prev = d
	}
	return logDir, programDir
}

// inLogDir reports whether a folder named log or logs is on the path (var/log
// is one).
func inLogDir(p string) bool {
	for d := range dirNames(p) {
		if d = strings.ToLower(d); d == "log" || d == "logs" {
			return true
		}
	}
	return false
}

// dirNames yields the folder names of path.Dir(p), as cut at "/" once every
// "\\" is a "/". A path without a backslash that path.Join has cleaned (the
// caller's, and every entry's) is its own Dir up to its last "/": its names
// are cut from it in place, with none of the copies of the general case
// (these run for every file no parser recognised, 300k in an image).
func dirNames(p string) iter.Seq[string] {
	return cutDirNames(p, path.Clean(p) == p)
}

// cutDirNames is dirNames for a p known to be clean or not.
func cutDirNames(p string, clean bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		var dir string
		if i := strings.LastIndexByte(p, '/'); i > 0 && clean && !strings.ContainsRune(p, '\\') {
			dir = p[:i]
		} else {
			dir = path.Dir(strings.ReplaceAll(p, `\`, "/"))
		}
		for {
			d, rest, more := strings.Cut(dir, "/")
			if !yield(d) || !more {
				return
			}
			dir = rest
		}
	}
}

// programDirs hold programs, libraries, settings and documentation, never
// logs.
var programDirs = map[string]bool{
	"bin": true, "sbin": true, "lib": true, "lib32": true, "lib64": true, "libexec": true,
	"etc": true, "include": true, "share": true, "src": true, "doc": true, "man": true,
	"locale": true, "site-packages": true, "dist-packages": true, "node_modules": true,
}
