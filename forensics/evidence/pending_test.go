package evidence

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// writeRandom writes size pseudo-random bytes to dir/name.
func writeRandom(t *testing.T, dir, name string, size int, seed uint64) string {
	t.Helper()
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A registration begun with BeginEvidence and written by the next custody
// entry leaves exactly the bytes AddEvidence leaves, in a case with the
// same clock: the same registry, the same custody log (all three hashes in
// the evidence_add entry, before the entry that committed it), whatever
// the sequence of paths, refusals included. Meanwhile the item is pending:
// listed for ingest with its ID and SHA-256, not registered.
func TestBeginEvidenceSameAsAdd(t *testing.T) {
	ev := t.TempDir()
	big := writeRandom(t, ev, "disk.raw", 3*hashBufSize+7, 1) // hashed side by side
	small := writeRandom(t, ev, "small.log", 1000, 2)         // hashed in line
	copyOfBig := filepath.Join(ev, "copy.raw")
	if b, err := os.ReadFile(big); err != nil || os.WriteFile(copyOfBig, b, 0o600) != nil {
		t.Fatal(err)
	}
	writeRandom(t, ev, "folder/a.txt", 5000, 3)
	writeRandom(t, ev, "folder/sub/b.bin", 2*hashBufSize, 4)
	folder := filepath.Join(ev, "folder")

	for _, tc := range []struct {
		name    string
		paths   []string
		pending int // items pending after the Begin calls
	}{
		{"one image", []string{big}, 1},
		{"small file", []string{small}, 1},
		{"folder, registered at once", []string{folder}, 0},
		{"two files in order", []string{big, small}, 2},
		{"same path again: a no-op after the first is written", []string{big, small, big}, 0},
		{"same content from another path: refused after the first is written", []string{big, copyOfBig, small}, 1},
		{"a file, a folder, a file", []string{small, folder, big}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			added, begun := newCase(t), newCase(t)
			var addErrs, beginErrs []error
			var addItems, beginItems []*Item
			for _, p := range tc.paths {
				it, err := added.AddEvidence(ctx, p, nil)
				addItems, addErrs = append(addItems, it), append(addErrs, err)
			}
			var regs []*Registration
			for _, p := range tc.paths {
				r, err := begun.BeginEvidence(ctx, p, nil)
				beginErrs = append(beginErrs, err)
				if r != nil {
					regs = append(regs, r)
				}
			}
			pending, err := begun.EvidenceWithPending()
			if err != nil {
				t.Fatal(err)
			}
			registered, _ := begun.Evidence()
			if got := len(pending) - len(registered); got != tc.pending {
				t.Errorf("%d items pending, want %d", got, tc.pending)
			}
			for _, it := range pending[len(registered):] {
				if len(it.ID) != 12 || it.ID != it.SHA256[:12] || it.SHA1 != "" || it.MD5 != "" || !it.AddedAt.IsZero() {
					t.Errorf("pending item %+v: want its ID and SHA-256 only", it)
				}
			}
			if tc.pending > 0 {
				if a := custodyActions(t, begun); a[len(a)-1] == "ingest" {
					t.Fatalf("custody %v", a)
				}
			}
			for _, c := range []*Case{added, begun} {
				if err := c.Log("ingest", map[string]any{"events": 1}); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range regs {
				it, err := r.Commit()
				if err != nil {
					t.Fatal(err)
				}
				beginItems = append(beginItems, it)
			}
			for i := range tc.paths {
				if (addErrs[i] == nil) != (beginErrs[i] == nil) || (addErrs[i] != nil && addErrs[i].Error() != beginErrs[i].Error()) {
					t.Errorf("path %d: AddEvidence: %v; BeginEvidence: %v", i, addErrs[i], beginErrs[i])
				}
			}
			var addOK []*Item
			for i, it := range addItems {
				if addErrs[i] == nil {
					addOK = append(addOK, it)
				}
			}
			if !reflect.DeepEqual(addOK, beginItems) {
				t.Errorf("items: AddEvidence %+v; BeginEvidence %+v", addOK, beginItems)
			}
			for _, f := range []string{custodyFile, registryFile, headFile} {
				a, _ := os.ReadFile(filepath.Join(added.Dir(), f))
				b, _ := os.ReadFile(filepath.Join(begun.Dir(), f))
				if string(a) != string(b) {
					t.Errorf("%s differs:\nAddEvidence:\n%s\nBeginEvidence:\n%s", f, a, b)
				}
			}
			if _, err := begun.VerifyCustody(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A late hash that fails (the file changed after its SHA-256 was taken, or
// while SHA-1 and MD5 were computed) registers nothing: the entry that
// would have committed it is refused with an error naming the file, and so
// is every later one, as the process may have read unregistered bytes.
func TestBeginEvidenceLateFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after the SHA-256 pass has read everything / during the late pass
		first, late func(t *testing.T, p string)
	}{
		{name: "inode changed after the SHA-256 pass (mode)", first: func(t *testing.T, p string) {
			if err := os.Chmod(p, 0o400); err != nil {
				t.Error(err)
			}
		}},
		{name: "appended to during the late pass", late: func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.Write([]byte("more"))
			f.Close()
		}},
		{name: "replaced during the late pass", late: func(t *testing.T, p string) {
			tmp := p + ".new"
			if err := os.WriteFile(tmp, []byte("other"), 0o600); err != nil || os.Rename(tmp, p) != nil {
				t.Error("replace failed")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t)
			p := writeRandom(t, t.TempDir(), "disk.raw", 4*hashBufSize, 5)
			size := int64(4 * hashBufSize)
			var once bool
			progress := func(done, total int64) {
				if done == size && tc.first != nil {
					tc.first(t, p)
				}
			}
			if tc.late != nil {
				lateProgress = func(done, total int64) {
					if !once {
						once = true
						tc.late(t, p)
					}
				}
				defer func() { lateProgress = nil }()
			}
			var ch *ChangedDuringHashError
			r, err := c.BeginEvidence(context.Background(), p, progress)
			if err != nil {
				// The late pass changed the file while the SHA-256 pass
				// still read it: refused at once, as AddEvidence does.
				if !errors.As(err, &ch) || ch.Path != p {
					t.Fatalf("BeginEvidence: %v; want a ChangedDuringHashError naming %s", err, p)
				}
			} else {
				lerr := c.Log("ingest", nil)
				if !errors.As(lerr, &ch) || ch.Path != p {
					t.Fatalf("custody entry after a failed late hash: %v; want a ChangedDuringHashError naming %s", lerr, p)
				}
				if _, err := r.Commit(); err == nil || err.Error() != lerr.Error() {
					t.Errorf("Commit: %v; want %v", err, lerr)
				}
				if err := c.Log("export", nil); err == nil || err.Error() != lerr.Error() {
					t.Errorf("a later entry: %v; want it refused with %v", err, lerr)
				}
			}
			if a := custodyActions(t, c); !reflect.DeepEqual(a, []string{"case_init"}) {
				t.Errorf("custody %v: want nothing after case_init", a)
			}
			if items, err := c.EvidenceWithPending(); err != nil || len(items) != 0 {
				t.Errorf("items after the failure: %v, %v", items, err)
			}
		})
	}
}

// Cancelling while SHA-1 and MD5 are computed leaves nothing registered,
// nothing pending, nothing in the custody log.
func TestBeginEvidenceCancelled(t *testing.T) {
	c := newCase(t)
	p := writeRandom(t, t.TempDir(), "disk.raw", 16*hashBufSize, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lateProgress = func(done, total int64) { cancel() }
	defer func() { lateProgress = nil }()
	r, err := c.BeginEvidence(ctx, p, nil)
	if err == nil {
		// The SHA-256 pass finished before the cancel: the commit fails.
		_, err = r.Commit()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled registration: %v", err)
	}
	if a := custodyActions(t, c); !reflect.DeepEqual(a, []string{"case_init"}) {
		t.Errorf("custody %v", a)
	}
	if items, err := c.EvidenceWithPending(); err != nil || len(items) != 0 {
		t.Errorf("items after the cancel: %v, %v", items, err)
	}
	b, err := os.ReadFile(filepath.Join(c.Dir(), registryFile))
	if err != nil {
		t.Fatal(err)
	}
	var reg registry
	if err := readJSON(filepath.Join(c.Dir(), registryFile), &reg); err != nil || len(reg.Items) != 0 {
		t.Errorf("registry after the cancel: %s", b)
	}
}

// What an ingest does before it writes a custody entry (check the signing
// key, list the items, read the registry and the log) does not wait for
// the late hashes: here they cannot end until it is done.
func TestPendingDoesNotHoldUpReaders(t *testing.T) {
	c := newCase(t)
	p := writeRandom(t, t.TempDir(), "disk.raw", 4*hashBufSize, 8)
	release := make(chan struct{})
	var once bool
	lateProgress = func(done, total int64) {
		if !once {
			once = true
			<-release
		}
	}
	defer func() { lateProgress = nil }()
	r, err := c.BeginEvidence(context.Background(), p, nil)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if err := c.CheckSigning(); err != nil {
			done <- err
			return
		}
		items, err := c.EvidenceWithPending()
		if err == nil && (len(items) != 1 || items[0].MD5 != "") {
			err = fmt.Errorf("items %+v: want the pending one, without its MD5", items)
		}
		if err == nil {
			_, err = c.VerifyCustody()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(20 * time.Second):
		t.Error("the readers waited for the late hashes")
	}
	close(release)
	it, err := r.Commit()
	if err != nil || it.MD5 != coreutilsSum(t, "md5sum", p) || it.SHA1 != coreutilsSum(t, "sha1sum", p) {
		t.Errorf("committed %+v, %v", it, err)
	}
}
