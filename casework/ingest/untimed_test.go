package ingest_test

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/timeline"
)

// testdata/eipp.log.xz and testdata/fontconfig.log are the
// /var/log/apt/eipp.log.xz (apt 2.6) and /var/log/fontconfig.log (fc-cache
// 2.14, run by fontconfig's postinst) of the Debian 12 machine this was
// written on.

// untimedRun ingests files under a folder named log, as /var/log
// registered as evidence, and returns the skip warning of each path.
func untimedRun(t *testing.T, files map[string][]byte) (run, map[string]string) {
	t.Helper()
	r := ingestFolder(t, "log", files)
	skips := map[string]string{}
	for _, w := range r.warnings {
		if w.Kind == timeline.WarnSkipped {
			skips[w.Path] = w.Message
		}
	}
	return r, skips
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUntimedFormats: under log names, the untimed formats are skipped as
// recognised and the run stays clean; the same names with other content
// are still unread logs.
func TestUntimedFormats(t *testing.T) {
	eipp := readFile(t, "testdata/eipp.log.xz")
	font := readFile(t, "testdata/fontconfig.log")
	r, skips := untimedRun(t, map[string][]byte{
		"apt/eipp.log.xz": eipp,
		"fontconfig.log":  font,
	})
	if r.sum.SkipReasons[ingest.SkipUntimed] != 2 || !r.sum.Clean() {
		t.Errorf("skips %v, clean %v; want 2 %q and a clean run", r.sum.SkipReasons, r.sum.Clean(), ingest.SkipUntimed)
	}
	for path, want := range map[string]string{
		"eipp.log":       "apt EIPP dump", // the member of the .xz
		"fontconfig.log": "fontconfig fc-cache log",
	} {
		msg, ok := skips[path]
		if !ok {
			t.Errorf("no skip for %s; skips %v", path, skips)
			continue
		}
		if !strings.HasPrefix(msg, ingest.SkipUntimed+": "+want) {
			t.Errorf("%s: %q", path, msg)
		}
	}
	// The signature is the start of the file, not a word in it: prose
	// that quotes the first line, and the dump cut before its first line,
	// are still unread logs under these names.
	quoted := append([]byte("notes: the log began with Font directories:\n"), font...)
	r, _ = untimedRun(t, map[string][]byte{
		"fontconfig.log": quoted,
		"apt/eipp.log":   bytes.TrimPrefix(xzcat(t, "testdata/eipp.log.xz"), []byte("Request: EIPP 0.1\n")),
	})
	if r.sum.SkipReasons[ingest.SkipKnownLog] != 2 || r.sum.SkipReasons[ingest.SkipUntimed] != 0 || r.sum.Clean() {
		t.Errorf("skips %v, want 2 %q", r.sum.SkipReasons, ingest.SkipKnownLog)
	}
}

func xzcat(t *testing.T, path string) []byte {
	t.Helper()
	oracle.Tool(t, "xz", "xz-utils")
	return oracle.Output(t, "xz", "-dc", path)
}

// TestUntimedFormatsFromTools: the same on files the real programs write
// in the test: apt's planner and solver requests through apt's own dump
// planner and solver (a simulated reinstall of dpkg, nothing installed),
// and fc-cache -v on a private font configuration.
func TestUntimedFormatsFromTools(t *testing.T) {
	files := map[string][]byte{}
	dir := t.TempDir()
	if apt, err := exec.LookPath("apt-get"); err == nil {
		if _, err := os.Stat("/usr/lib/apt/planners/dump"); err == nil {
			// apt runs its planner as the _apt user: the dump goes to a
			// folder it can reach and write (t.TempDir's parent is
			// private).
			pub, err := os.MkdirTemp("", "jejak-eipp-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(pub) })
			if err := os.Chmod(pub, 0o777); err != nil {
				t.Fatal(err)
			}
			// The planner's request (EIPP), and the solver's (EDSP),
			// which holds the whole package universe: its first 64 KiB
			// are kept, the file as a copy cut short would be.
			for _, c := range []struct{ name, flag string }{
				{"apt/eipp.log", "--planner"}, {"apt/edsp.log", "--solver"},
			} {
				dump := filepath.Join(pub, path.Base(c.name))
				cmd := exec.Command(apt, "install", "-s", "-q", c.flag, "dump", "--reinstall", "dpkg")
				cmd.Env = append(os.Environ(), "APT_EDSP_DUMP_FILENAME="+dump, "LC_ALL=C")
				out, _ := cmd.CombinedOutput() // the dump planner and solver always fail after writing
				if b, err := os.ReadFile(dump); err == nil && len(b) > 0 {
					files[c.name] = b[:min(len(b), 64<<10)]
				} else {
					t.Logf("apt wrote no %s dump: %v\n%s", c.flag, err, out)
				}
			}
		}
	}
	if fc, err := exec.LookPath("fc-cache"); err == nil {
		fonts, cache := filepath.Join(dir, "fonts"), filepath.Join(dir, "cache")
		os.MkdirAll(filepath.Join(fonts, "truetype"), 0o755)
		conf := filepath.Join(dir, "fonts.conf")
		if err := os.WriteFile(conf, []byte(`<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">`+
			"<fontconfig><dir>"+fonts+"</dir><cachedir>"+cache+"</cachedir></fontconfig>\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fc, "-v")
		cmd.Env = append(os.Environ(), "FONTCONFIG_FILE="+conf, "HOME="+dir, "XDG_CACHE_HOME="+cache, "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fc-cache: %v\n%s", err, out)
		}
		files["fontconfig.log"] = out
	}
	if len(files) == 0 {
		t.Skip("neither apt's dump planner nor fc-cache installed: apt-get install -y apt-utils fontconfig")
	}
	for name, b := range files {
		first, _, _ := bytes.Cut(b, []byte("\n"))
		t.Logf("%s: %d bytes, first line %q", name, len(b), first)
	}
	r, skips := untimedRun(t, files)
	if r.sum.SkipReasons[ingest.SkipUntimed] != int64(len(files)) || !r.sum.Clean() {
		t.Errorf("%d files: skips %v %v, clean %v", len(files), r.sum.SkipReasons, skips, r.sum.Clean())
	}
}
