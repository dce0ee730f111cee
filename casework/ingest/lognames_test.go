package ingest

import (
	"path"
	"slices"
	"strings"
	"testing"
)

func TestKnownLogName(t *testing.T) {
	cases := []struct {
		path  string
		chain []string
		want  bool
	}{
		{"var/log/auth.log", nil, true},
		{"auth.log", nil, true},
		{"var/log/auth.log.1", nil, true},
		{"var/log/auth.log.2.gz", nil, true},
		{"var/log/secure", nil, true},
		{"var/log/secure-20240101", nil, true},
		{"messages", nil, true},
		{"var/log/messages.1", nil, true},
		{"var/log/syslog.7.gz", nil, true},
		{"var/log/kern.log", nil, true},
		{"var/log/daemon.log.3", nil, true},
		{"var/log/apache2/access.log.1", nil, true},
		{"etc/httpd/logs/access_log", nil, true},
		{"var/log/httpd/error_log-20240101", nil, true},
		{"Program Files/Microsoft SQL Server/MSSQL15.MSSQLSERVER/MSSQL/Log/ERRORLOG", nil, true},
		{"MSSQL/Log/ERRORLOG.1", nil, true},
		{"Windows/System32/winevt/Logs/Security.evtx", nil, true},
		{"copies/System.evtx", nil, true},
		{"var/log/journal/0f1e/system.journal", nil, true},
		{"var/log/journal/0f1e/system@00060c1f3c2f8e6a-5d2e0b1c9a8f7e6d.journal~", nil, true},
		{"run/log/journal/0f1e/user-1000.journal", nil, true},
		{"var/log/wtmp", nil, true},
		{"var/log/btmp.1", nil, true},
		{"var/run/utmp", nil, true},
		{"var/log/lastlog", nil, true},
		{"var/log/faillog", nil, false},
		{"var/lib/lastlog/lastlog2.db", nil, false},
		{"var/log/audit/audit.log.4", nil, true},
		{"var/log/postgresql/postgresql-15-main.log", nil, true},
		{"data/postgresql-2024-01-01_000000.log", nil, true},
		{"var/lib/mysql/mysql-slow.log", nil, true},
		{"var/log/cloud-init.log", nil, true},
		{"srv/app/logs/app.log", nil, true},
		{"var/log/Xorg.0.log", nil, true},
		// a .log in an archive kept in /var/log: its container says so
		{"cloud-init.log", []string{"dir:var/log/old.tar", "tar:cloud-init.log"}, true},
		{"cloud-init.log", []string{"dir:evidence/old.tar", "tar:cloud-init.log"}, false},
		// ordinary names, and programs or settings named like logs
		{"home/ann/notes.txt", nil, false},
		{"home/ann/build.log", nil, false},
		{"report.docx", nil, false},
		{"usr/sbin/cron", nil, false},
		{"etc/init.d/syslog", nil, false},
		{"usr/share/locale/de/LC_MESSAGES/messages", nil, false},
		{"usr/lib/python3/dist-packages/secure", nil, false},
		{"home/ann/syslog.c", nil, false},
		{"home/ann/messages.json", nil, false},
	}
	for _, c := range cases {
		if got := knownLogName(c.path, c.chain); got != c.want {
			t.Errorf("knownLogName(%q, %q) = %v, want %v", c.path, c.chain, got, c.want)
		}
	}
}

// TestLogNamePrechecks: the cheap tests knownLogName makes before its
// regular expressions never skip a name one of them would match.
func TestLogNamePrechecks(t *testing.T) {
	bases := []string{"", "auth.log", "syslog", "postgresql-15-main", "mysql", "mysqld", "mariadb", "postgres",
		"file0001234.txt", "x", "messages", "error_log", "old", "bak", "z", "gz", ".", "-", "a.b.c"}
	suffixes := []string{"", ".1", ".12", ".123", ".1234", "-20240101", "-2024010112", ".old", ".bak", "-old", "old", "bak",
		".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".lzma", ".tgz", ".gz.1", ".1.gz", ".log", ".csv", "_x.log", ".Z", "9"}
	n := 0
	for _, b := range bases {
		for _, s1 := range suffixes {
			for _, s2 := range suffixes {
				name := b + s1 + s2
				n++
				if !mayStrip(name) && (compressed.MatchString(name) || rotated.MatchString(name)) {
					t.Errorf("mayStrip(%q) false, but a suffix expression matches", name)
				}
				if !mayBeDBLog(name) && dbLog.MatchString(name) {
					t.Errorf("mayBeDBLog(%q) false, but dbLog matches", name)
				}
			}
		}
	}
	t.Logf("%d names", n)
}

// TestDirNames: the folder names cut in place are the ones of the general
// case (path.Dir after backslashes become slashes), for clean paths and for
// the ones that take the general way.
func TestDirNames(t *testing.T) {
	for _, p := range []string{
		"auth.log", "var/log/auth.log", "/var/log/auth.log", "evidence/var/LOG/x", "a//b/c", "a/./b/c", "a/../log/c",
		`Windows\System32\winevt\Logs\Security.evtx`, `log\..\x`, "dir0001/file0000001.txt", "/x", "", ".", "a/b/",
		"Ünïcode/Logs/ſyslog",
	} {
		want := strings.Split(path.Dir(strings.ReplaceAll(p, `\`, "/")), "/")
		got := slices.Collect(dirNames(p))
		if !slices.Equal(got, want) {
			t.Errorf("dirNames(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestKnownLogClean: the caller's word that a path is clean (a path.Join
// result) gives the answer knownLogName finds by cleaning it, and a path
// said to be unclean is cut the general way.
func TestKnownLogClean(t *testing.T) {
	for _, p := range []string{
		"var/log/auth.log", "usr/sbin/cron", "var/lib/mysql/mysql-slow.log", "a/../var/log/x.log",
		"var/log/../bin/syslog", `Windows\System32\winevt\Logs\x.log`, "usr/share/log/messages",
		"etc/LOG/app.log", "Lib/syslog", "./var//log/secure", "dir0001/file0000001.txt", "",
	} {
		j := path.Join("evidence", p)
		if got, want := knownLog(j, true, nil), knownLogName(j, nil); got != want {
			t.Errorf("knownLog(%q, clean) = %v, knownLogName says %v", j, got, want)
		}
		if got, want := knownLog(p, false, nil), knownLogName(p, nil); got != want {
			t.Errorf("knownLog(%q, unclean) = %v, knownLogName says %v", p, got, want)
		}
	}
}

// knownLogBefore is knownLog as it was before it looked at the base name
// first (folders cut and lowered for every file): the reference
// TestKnownLogBaseFirst holds it to.
func knownLogBefore(p string, clean bool, chain []string) bool {
	logDir, programDir := dirKinds(p, clean)
	if !logDir && programDir {
		return false
	}
	base := strings.ToLower(path.Base(p))
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
		strings.HasSuffix(base, ".journal"), strings.HasSuffix(base, ".journal~"):
		return true
	case strings.HasSuffix(base, ".log"):
		if logDir {
			return true
		}
		for _, c := range chain {
			_, member, _ := strings.Cut(c, ":")
			if inLogDir(member + "/") {
				return true
			}
		}
	}
	return false
}

// logNameGrid is folders, base names and chains whose combinations cross
// every branch of knownLog: log and program folders (and both), well-known
// names (rotated, compressed, in upper case), generic .log files, other
// names, and chains in and out of a log folder.
var logNameGrid = struct {
	dirs, bases []string
	chains      [][]string
}{
	dirs: []string{"", "var/log", "usr/sbin", "var/log/bin", "usr/lib/log", "var/lib/mysql", "home/ann", "Program Files/MSSQL/Log",
		"etc/LOGS", `Windows\System32\winevt\Logs`, "a/../var/log", "var/log/../bin", "./x//log", "dir0001"},
	bases: []string{"auth.log", "AUTH.LOG.1", "syslog.7.gz", "secure-20240101", "messages", "cron", "app.log", "Xorg.0.log",
		"postgresql-15-main.log", "mysql-slow.log", "System.evtx", "x.evt", "system.journal", "user@1.journal~", "wtmp",
		"ERRORLOG", "file0001234.txt", "notes.txt", "syslog.c", "build.log.gz", "", ".", "..", "log", "a\\b.log"},
	chains: [][]string{nil, {"dir:var/log/old.tar", "tar:x"}, {"dir:evidence/old.tar", "tar:x"}, {`raw:`, `ntfs:Windows\Logs\a.zip`}},
}

// TestKnownLogBaseFirst: knownLog, which answers from the base name alone
// when it is no log's, says what it said when it cut the folders first,
// for clean and unclean paths.
func TestKnownLogBaseFirst(t *testing.T) {
	g := logNameGrid
	n, known := 0, 0
	for _, d := range g.dirs {
		for _, b := range g.bases {
			for _, chain := range g.chains {
				for _, p := range []string{d + "/" + b, b, path.Join("evidence.img", d, b)} {
					for _, clean := range []bool{true, false} {
						if clean && path.Clean(p) != p {
							continue
						}
						n++
						got, want := knownLog(p, clean, chain), knownLogBefore(p, clean, chain)
						if got != want {
							t.Errorf("knownLog(%q, %v, %q) = %v, before %v", p, clean, chain, got, want)
						}
						if want {
							known++
						}
					}
				}
			}
		}
	}
	if known == 0 || known == n {
		t.Fatalf("%d of %d paths known: the grid does not cross both answers", known, n)
	}
	t.Logf("%d paths, %d known logs", n, known)
}

// TestKnownLogIn: knownLogIn, which skips the join for a last name that is
// no log's, answers as knownLog of the joined path, including paths whose
// last name the join changes ("..", ".", a trailing slash) and empty ones.
func TestKnownLogIn(t *testing.T) {
	g := logNameGrid
	n := 0
	for _, item := range []string{"evidence.img", "var", "log", "", "usr/sbin", "Logs.zip"} {
		for _, d := range g.dirs {
			for _, b := range g.bases {
				for _, tail := range []string{"", "/", "/.", "/..", "/../secure", "//"} {
					p := b + tail
					if d != "" {
						p = d + "/" + p
					}
					for _, chain := range g.chains {
						n++
						got, want := knownLogIn(item, p, chain), knownLog(path.Join(item, p), true, chain)
						if got != want {
							t.Errorf("knownLogIn(%q, %q, %q) = %v, knownLog of the join %v", item, p, chain, got, want)
						}
					}
				}
			}
		}
	}
	t.Logf("%d paths", n)
}
