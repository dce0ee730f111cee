package evidence

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// randomFile writes size pseudo-random bytes to a new file in dir.
func randomFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	rng.Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHashFileLate: below lateHashMin the three digests are done when
// hashFileLate returns; from it on, the SHA-256 is returned first and the
// late digests give all three. Each is checked against coreutils, and the
// progress reports against the size.
func TestHashFileLate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int
		late bool
	}{
		{"small, hashed in line", lateHashMin - 1, false},
		{"large, read twice", lateHashMin + 12345, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := randomFile(t, dir, tc.name, tc.size)
			defer os.Remove(p)
			want := Digests{Size: int64(tc.size), SHA256: coreutilsSum(t, "sha256sum", p),
				SHA1: coreutilsSum(t, "sha1sum", p), MD5: coreutilsSum(t, "md5sum", p)}
			var last, total int64
			d, fi, late, err := hashFileLate(context.Background(), p, make([]byte, hashBufSize), 0, -1, func(done, tot int64) {
				if done <= last {
					t.Errorf("progress %d after %d", done, last)
				}
				last, total = done, tot
			})
			if err != nil {
				t.Fatal(err)
			}
			if d.SHA256 != want.SHA256 || d.Size != want.Size || fi.Size() != want.Size {
				t.Errorf("first digests %+v (file size %d), want SHA-256 %s of %d bytes", d, fi.Size(), want.SHA256, want.Size)
			}
			if tc.late && (d.SHA1 != "" || d.MD5 != "") {
				t.Errorf("a large file's first digests hold SHA-1 or MD5: %+v", d)
			}
			all, err := late.wait(context.Background())
			if err != nil || all != want {
				t.Errorf("late digests %+v, %v; coreutils say %+v", all, err, want)
			}
			if last != want.Size || total != want.Size {
				t.Errorf("last progress %d of %d, want %d of %d", last, total, want.Size, want.Size)
			}
		})
	}
}

// TestHashFileLateChanged: a file whose mtime moves while its SHA-1 and
// MD5 are computed has no digests: the three would describe no single
// state of it.
func TestHashFileLateChanged(t *testing.T) {
	p := randomFile(t, t.TempDir(), "live.raw", lateHashMin)
	defer func() { lateHashed = func(string) {} }()
	lateHashed = func(path string) {
		if err := os.Chtimes(path, time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Error(err)
		}
	}
	_, _, late, err := hashFileLate(context.Background(), p, make([]byte, hashBufSize), 0, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := late.wait(context.Background())
	var changed *ChangedDuringHashError
	if !errors.As(err, &changed) || changed.Path != p {
		t.Fatalf("late digests %+v, %v; want a ChangedDuringHashError for %s", d, err, p)
	}
	if d != (Digests{}) {
		t.Errorf("digests handed out with the error: %+v", d)
	}
}

// TestHashFileLateCancelled: a context ended while the SHA-1 and MD5 are
// computed stops them; waiting says so, digests already done are kept.
func TestHashFileLateCancelled(t *testing.T) {
	p := randomFile(t, t.TempDir(), "big.raw", lateHashMin)
	ctx, cancel := context.WithCancel(context.Background())
	_, _, late, err := hashFileLate(ctx, p, make([]byte, hashBufSize), 0, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-late.done // stopped by ctx, or already done
	d, err := late.wait(context.Background())
	switch {
	case err == nil && d.MD5 == coreutilsSum(t, "md5sum", p):
		t.Log("the late digests were done before the cancel")
	case !errors.Is(err, context.Canceled):
		t.Errorf("after cancel: %+v, %v; want context.Canceled", d, err)
	}
}

// custodyAdds lists a case's custody entries as action and, for an
// evidence_add, its details.
func custodyAdds(t *testing.T, c *Case) []string {
	t.Helper()
	es, err := c.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		a := e.Action
		if a == "evidence_add" || a == "evidence_duplicate" {
			a += " " + detailString(e.Details, "id") + " sha1 " + detailString(e.Details, "sha1") + " md5 " + detailString(e.Details, "md5")
		}
		out = append(out, a)
	}
	return out
}

// TestBeginEvidence: a large file's registration is pending (listed by
// PendingItems, nothing written) until Commit, which writes what
// AddEvidence writes: the same custody entries, the same registry item
// with SHA-1 and MD5. Adding the same path again while pending is the
// no-op it is after a full add; the same content from another path is
// refused after the first is registered, in the same order as AddEvidence.
func TestBeginEvidence(t *testing.T) {
	dir := t.TempDir()
	p := randomFile(t, dir, "disk.raw", lateHashMin+1)
	copyPath := filepath.Join(dir, "copy.raw")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(copyPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	full := newCase(t)
	want, err := full.AddEvidence(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dup *DuplicateError
	if _, err := full.AddEvidence(ctx, copyPath, nil); !errors.As(err, &dup) {
		t.Fatalf("copy added in full: %v, want a DuplicateError", err)
	}

	c := newCase(t)
	pend, err := c.BeginEvidence(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if it := pend.Item(); it.ID != want.ID || it.SHA256 != want.SHA256 || it.Size != want.Size || !slices.EqualFunc(it.Segments, want.Segments, func(a, b SegmentFile) bool { return a.SHA256 == b.SHA256 && a.Path == b.Path }) {
		t.Errorf("pending item %+v, want ID, SHA-256, size and segments of %+v", it, want)
	}
	if items := c.PendingItems(); len(items) != 1 || items[0].SHA256 != want.SHA256 {
		t.Errorf("PendingItems %+v, want the one begun", items)
	}
	if items, _ := c.Evidence(); len(items) != 0 {
		t.Errorf("registered before Commit: %+v", items)
	}
	if got := custodyAdds(t, c); !slices.Equal(got, []string{"case_init"}) {
		t.Errorf("custody before Commit: %q", got)
	}
	// The same path again: settles the first, then is the no-op it is
	// after a full add.
	again, err := c.BeginEvidence(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if it := again.Item(); it.ID != want.ID || it.MD5 != want.MD5 || it.SHA1 != want.SHA1 {
		t.Errorf("the same path begun again: %+v, want the registered %+v", it, want)
	}
	if _, err := c.BeginEvidence(ctx, copyPath, nil); !errors.As(err, &dup) {
		t.Fatalf("copy begun: %v, want a DuplicateError", err)
	}
	got, err := pend.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.SHA1 != want.SHA1 || got.MD5 != want.MD5 || got.SHA1 == "" || got.MD5 != coreutilsSum(t, "md5sum", p) {
		t.Errorf("committed %+v, want SHA-1 %s and MD5 %s", got, want.SHA1, want.MD5)
	}
	if items, _ := c.Evidence(); len(items) != 1 || items[0].ID != got.ID || items[0].SHA1 != got.SHA1 || items[0].MD5 != got.MD5 {
		t.Errorf("registry %+v, want the committed item", items)
	}
	if len(c.PendingItems()) != 0 {
		t.Errorf("still pending after Commit: %+v", c.PendingItems())
	}
	if a, b := custodyAdds(t, full), custodyAdds(t, c); !slices.Equal(a, b) {
		t.Errorf("custody entries differ:\nAddEvidence   %q\nBeginEvidence %q", a, b)
	}
	if err := c.Settle(ctx); err != nil {
		t.Errorf("Settle with nothing pending: %v", err)
	}
}

// TestBeginEvidenceCancelled: a registration whose SHA-1 and MD5 were not
// done when its context ended is not registered, and no longer pending.
func TestBeginEvidenceCancelled(t *testing.T) {
	// Sparse: reads as 512 MiB of zeros. MD5 is the slowest of the
	// three, so it is still at work when the SHA-256 is handed out.
	p := filepath.Join(t.TempDir(), "big.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(512 << 20); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	c := newCase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The SHA-256 is the first to end; the SHA-1 and MD5 lag behind it.
	pend, err := c.BeginEvidence(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if it, err := pend.Commit(context.Background()); err == nil {
		t.Logf("the late digests were done before the cancel: %+v", it)
		return
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after cancel: %v, want context.Canceled", err)
	}
	if items, _ := c.Evidence(); len(items) != 0 {
		t.Errorf("registered after cancel: %+v", items)
	}
	if len(c.PendingItems()) != 0 || c.Settle(context.Background()) != nil {
		t.Errorf("still pending after a failed Commit: %+v", c.PendingItems())
	}
	if got := custodyAdds(t, c); !slices.Equal(got, []string{"case_init"}) {
		t.Errorf("custody after cancel: %q", got)
	}
}
