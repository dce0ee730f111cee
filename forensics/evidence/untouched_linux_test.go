//go:build linux

package evidence

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

type stamp struct {
	size                int64
	atime, mtime, ctime syscall.Timespec
}

func stampOf(t *testing.T, p string) stamp {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return stamp{size: st.Size, atime: st.Atim, mtime: st.Mtim, ctime: st.Ctim}
}

// aged gives a file times old enough that an ordinary read updates its
// atime even under relatime (atime older than a day).
func aged(t *testing.T, p string) {
	t.Helper()
	now := time.Now()
	if err := os.Chtimes(p, now.Add(-72*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// atimeMoves tells whether a plain read updates atime on the mount holding
// dir; it shows the atime assertions can fail here.
func atimeMoves(t *testing.T, dir string) bool {
	p := filepath.Join(dir, "control.bin")
	os.WriteFile(p, []byte("control"), 0o600)
	aged(t, p)
	before := stampOf(t, p)
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if stampOf(t, p).atime == before.atime {
		t.Log("this mount does not update atime on read (noatime?): the atime checks cannot fail here")
		return false
	}
	return true
}

// Stat is taken before and after; the content hash (sha256sum) only after
// the second stat, since reading it would move the atime itself.
func TestAddEvidenceLeavesEvidenceUntouched(t *testing.T) {
	work := t.TempDir()
	atimeMoves(t, t.TempDir())
	evDir := filepath.Join(work, "usb")
	ev := filepath.Join(evDir, "sub", "tally.csv")
	os.MkdirAll(filepath.Dir(ev), 0o700)
	body := []byte("tps,candidate,votes\n001,A,120\n")
	if err := os.WriteFile(ev, body, 0o600); err != nil {
		t.Fatal(err)
	}
	wantSum := coreutilsSum(t, "sha256sum", ev)
	man := corpusManifest(t)
	corpus := parsertest.Corpus(t, "logs/loghub/Linux_2k.log")

	c := newCase(t)
	for _, tc := range []struct {
		name, add string
		watch     []string
	}{
		{"file", ev, []string{ev}},
		{"folder", evDir, []string{evDir, filepath.Dir(ev), ev}},
		// Root-owned and read-only: O_NOATIME applies to the owner or with
		// CAP_FOWNER, else the plain open and the mount policy apply.
		{"corpus file", corpus, []string{corpus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.watch {
				if p != corpus {
					aged(t, p)
				}
			}
			before := map[string]stamp{}
			for _, p := range tc.watch {
				before[p] = stampOf(t, p)
			}
			it, err := c.AddEvidence(context.Background(), tc.add, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.VerifyEvidence(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.watch {
				if after := stampOf(t, p); after != before[p] {
					t.Errorf("%s changed by AddEvidence+VerifyEvidence:\nbefore %+v\nafter  %+v", p, before[p], after)
				}
			}
		})
	}
	if got := coreutilsSum(t, "sha256sum", ev); got != wantSum {
		t.Errorf("evidence bytes changed: sha256 %s, was %s", got, wantSum)
	}
	if got := coreutilsSum(t, "sha256sum", corpus); got != man["logs/loghub/Linux_2k.log"].SHA256 {
		t.Errorf("corpus bytes changed: sha256 %s", got)
	}
}
