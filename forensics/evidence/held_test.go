package evidence

import (
	"context"
	"errors"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

// A file's SHA-1 is held back until SpareCore, and the last part of its
// MD5 until the SHA-1 is done: CommitWhenHashed waits for them without
// starting them, and then the registration holds the same three hashes as
// coreutils gives.
func TestHeldSHA1WaitsForSpareCore(t *testing.T) {
	c := newCase(t)
	p := writeRandom(t, t.TempDir(), "disk.raw", 4*hashBufSize, 11)
	var held, late atomic.Int64
	heldProgress = func(done, total int64) { held.Store(done) }
	lateProgress = func(done, total int64) { late.Store(done) }
	defer func() { heldProgress, lateProgress = nil, nil }()
	r, err := c.BeginEvidence(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.hold == nil {
		t.Fatal("no held pass for a small file")
	}
	type result struct {
		it  *Item
		err error
	}
	done := make(chan result, 1)
	go func() {
		it, err := r.CommitWhenHashed()
		done <- result{it, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("CommitWhenHashed returned before SpareCore: %+v, %v", res.it, res.err)
	case <-time.After(300 * time.Millisecond):
	}
	if n := held.Load(); n != 0 {
		t.Fatalf("the held pass read %d bytes before SpareCore", n)
	}
	// MD5 stops short of the end (heldMD5From) until the SHA-1 is done.
	from := heldMD5From
	if n := late.Load(); n < int64(from*4*hashBufSize)-asidePart || n >= 4*hashBufSize {
		t.Fatalf("the late pass read %d bytes of %d before SpareCore", n, 4*hashBufSize)
	}
	c.SpareCore()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.it.SHA1 != coreutilsSum(t, "sha1sum", p) || res.it.MD5 != coreutilsSum(t, "md5sum", p) || res.it.SHA256 != coreutilsSum(t, "sha256sum", p) {
		t.Errorf("registered %+v", res.it)
	}
	if held.Load() != int64(4*hashBufSize) {
		t.Errorf("held pass read %d bytes", held.Load())
	}
	if a := custodyActions(t, c); !reflect.DeepEqual(a, []string{"case_init", "evidence_add", "case_files"}) {
		t.Errorf("custody %v", a)
	}
}

// A custody entry starts the held pass itself (else it would wait behind
// a CommitWhenHashed for ever), and a file changed after the first late
// pass, before the held one read it, is not registered.
func TestHeldSHA1StartedByEntryAndChecked(t *testing.T) {
	for _, change := range []bool{false, true} {
		c := newCase(t)
		p := writeRandom(t, t.TempDir(), "disk.raw", 4*hashBufSize, 12)
		heldProgress = func(done, total int64) {}
		if change {
			var once bool
			heldProgress = func(done, total int64) {
				if !once {
					once = true
					if err := os.Chmod(p, 0o400); err != nil {
						t.Error(err)
					}
				}
			}
		}
		r, err := c.BeginEvidence(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		waiting := make(chan error, 1)
		go func() {
			_, err := r.CommitWhenHashed()
			waiting <- err
		}()
		time.Sleep(50 * time.Millisecond) // CommitWhenHashed holds cmu
		lerr := c.Log("ingest", nil)
		cerr := <-waiting
		heldProgress = nil
		var ch *ChangedDuringHashError
		if !change {
			if lerr != nil || cerr != nil {
				t.Fatalf("entry %v, commit %v", lerr, cerr)
			}
			if a := custodyActions(t, c); !reflect.DeepEqual(a, []string{"case_init", "evidence_add", "case_files", "ingest"}) {
				t.Errorf("custody %v", a)
			}
			continue
		}
		if !errors.As(lerr, &ch) || ch.Path != p || cerr == nil || cerr.Error() != lerr.Error() {
			t.Fatalf("changed before the held pass: entry %v, commit %v; want a ChangedDuringHashError naming %s", lerr, cerr, p)
		}
		if a := custodyActions(t, c); !reflect.DeepEqual(a, []string{"case_init"}) {
			t.Errorf("custody %v: want nothing after case_init", a)
		}
	}
}
