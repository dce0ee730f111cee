package evidence

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// The corpus MANIFEST.tsv gives SHA-256 and size; sha1sum and md5sum
// (coreutils) are the oracles for the other two hashes.
func TestFileHashesMatchOracles(t *testing.T) {
	man := corpusManifest(t)
	c := newCase(t)
	for _, rel := range []string{
		"logs/syslog/syslog",
		"logs/syslog/syslog_rsyslog",
		"logs/loghub/Linux_2k.log",
		"archives/syslog.tgz",
		"logs/windows/security.evtx",
		"images/tsk_volume_system.raw",
	} {
		t.Run(rel, func(t *testing.T) {
			// First: a file the repository's copy of the corpus does not
			// hold (loghub's terms) skips, saying so.
			p := parsertest.Corpus(t, rel)
			want, ok := man[rel]
			if !ok {
				t.Fatalf("%s not in MANIFEST.tsv", rel)
			}
			var calls, last, total int64
			it, err := c.AddEvidence(context.Background(), p, func(done, tot int64) { calls++; last, total = done, tot })
			if err != nil {
				t.Fatal(err)
			}
			if it.SHA256 != want.SHA256 || it.Size != want.Bytes {
				t.Errorf("sha256 %s size %d; MANIFEST.tsv says %s size %d", it.SHA256, it.Size, want.SHA256, want.Bytes)
			}
			if s := coreutilsSum(t, "sha1sum", p); it.SHA1 != s {
				t.Errorf("sha1 %s, sha1sum says %s", it.SHA1, s)
			}
			if s := coreutilsSum(t, "md5sum", p); it.MD5 != s {
				t.Errorf("md5 %s, md5sum says %s", it.MD5, s)
			}
			if it.ID != want.SHA256[:12] || it.Name != filepath.Base(p) || it.Path != p || it.Kind != "file" {
				t.Errorf("item %+v", it)
			}
			if it.Examiner != "Siti Examiner" || it.ToolVersion != "jejak-test" || it.AddedAt.IsZero() {
				t.Errorf("item attribution %+v", it)
			}
			if calls == 0 || last != want.Bytes || total != want.Bytes {
				t.Errorf("progress: %d calls, last %d of %d; want last = total = %d", calls, last, total, want.Bytes)
			}
		})
	}
}

// treeHashByShell computes the documented TreeHash with coreutils alone.
func treeHashByShell(t *testing.T, dir string) string {
	t.Helper()
	for _, tool := range []string{"find", "sort", "xargs", "sha256sum", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install Debian packages coreutils, findutils, sed", tool)
		}
	}
	cmd := exec.Command("sh", "-c", `find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sed 's|  \./|  |' | sha256sum`)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

func TestFolderTreeHash(t *testing.T) {
	t.Run("corpus syslog folder", func(t *testing.T) {
		man := corpusManifest(t)
		dir := filepath.Dir(parsertest.Corpus(t, "logs/syslog/syslog"))
		c := newCase(t)
		it, err := c.AddEvidence(context.Background(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := treeHashByShell(t, dir); it.SHA256 != want {
			t.Errorf("tree sha256 %s, coreutils pipeline gives %s", it.SHA256, want)
		}
		m, err := c.Manifest(it)
		if err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(dir)
		if it.Kind != "dir" || it.Files != len(ents) || len(m.Files) != len(ents) || it.SHA1 != "" {
			t.Errorf("item %+v with %d manifest files; folder holds %d", it, len(m.Files), len(ents))
		}
		var size int64
		checked := 0
		for _, f := range m.Files {
			size += f.Size
			if row, ok := man["logs/syslog/"+f.Path]; ok {
				checked++
				if f.SHA256 != row.SHA256 || f.Size != row.Bytes {
					t.Errorf("%s: sha256 %s size %d; MANIFEST.tsv says %s size %d", f.Path, f.SHA256, f.Size, row.SHA256, row.Bytes)
				}
			}
		}
		if checked < 5 || size != it.Size {
			t.Errorf("checked %d files against MANIFEST.tsv; sizes sum to %d, item says %d", checked, size, it.Size)
		}
	})

	t.Run("awkward names and order", func(t *testing.T) {
		dir := t.TempDir()
		write := func(rel, body string) {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o700)
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// "a/b" sorts after "a.txt" by bytes although ReadDir visits "a" first.
		write("a/b", "inner")
		write("a.txt", "outer")
		write("Z upper", "capital sorts first")
		write("back\\slash", "sha256sum escapes this name")
		write("new\nline", "and this one")
		write("deep/er/still/file.log", "")
		os.Symlink("a.txt", filepath.Join(dir, "link"))
		os.Mkdir(filepath.Join(dir, "empty"), 0o700)
		c := newCase(t)
		it, err := c.AddEvidence(context.Background(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := treeHashByShell(t, dir); it.SHA256 != want {
			t.Errorf("tree sha256 %s, coreutils pipeline gives %s", it.SHA256, want)
		}
		m, _ := c.Manifest(it)
		var paths []string
		for _, f := range m.Files {
			paths = append(paths, f.Path)
		}
		want := []string{"Z upper", "a.txt", "a/b", "back\\slash", "deep/er/still/file.log", "new\nline"}
		if strings.Join(paths, "|") != strings.Join(want, "|") {
			t.Errorf("manifest order %q, want %q", paths, want)
		}
		if len(m.Skipped) != 1 || m.Skipped[0].Path != "link" || m.Skipped[0].Target != "a.txt" {
			t.Errorf("skipped = %+v, want the symlink listed with its target", m.Skipped)
		}
		if err := c.VerifyEvidence(context.Background(), it); err != nil {
			t.Errorf("verify unchanged folder: %v", err)
		}
	})
}

// The progress callback runs between reads, so it can change the file in
// the middle of hashing, deterministically.
func TestChangedWhileHashingIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p string)
	}{
		{"grows", func(p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("one more line\n")
			f.Close()
		}},
		{"mtime only", func(p string) { os.Chtimes(p, time.Now(), time.Now().Add(-time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "live.log")
			os.WriteFile(p, make([]byte, 3*hashBufSize+5), 0o600)
			c := newCase(t)
			changed := false
			_, err := c.AddEvidence(context.Background(), p, func(done, total int64) {
				if !changed {
					tc.change(p)
					changed = true
				}
			})
			var ce *ChangedDuringHashError
			if !errors.As(err, &ce) || ce.Path != p {
				t.Fatalf("err = %v, want ChangedDuringHashError for %s", err, p)
			}
			if items, _ := c.Evidence(); len(items) != 0 {
				t.Errorf("refused evidence was registered: %+v", items)
			}
		})
	}

	t.Run("folder gains a file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a"), make([]byte, 10), 0o600)
		c := newCase(t)
		added := false
		_, err := c.AddEvidence(context.Background(), dir, func(done, total int64) {
			if !added {
				os.WriteFile(filepath.Join(dir, "b"), []byte("new"), 0o600)
				added = true
			}
		})
		var ce *ChangedDuringHashError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want ChangedDuringHashError", err)
		}
	})
}

func TestAddEvidenceCancelled(t *testing.T) {
	c := newCase(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.AddEvidence(ctx, parsertest.Corpus(t, "logs/syslog/syslog"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTreeHashSumLine(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"plain.txt", "H  plain.txt\n"},
		{"a\\b", "\\H  a\\\\b\n"},
		{"a\nb", "\\H  a\\nb\n"},
	} {
		if got := sumLine("H", tc.name); got != tc.want {
			t.Errorf("sumLine(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
