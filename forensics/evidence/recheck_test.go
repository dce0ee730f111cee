package evidence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecheckFastPathAndFull: an untouched folder passes the fast and the
// full re-check; a manifest edited in the case folder (to match changed
// evidence, say) is refused, as its tree hash is no longer the registered
// one.
func TestRecheckFastPathAndFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usb")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.log"), []byte("a\n"), 0o644)
	c := newCase(t)
	it, err := c.AddEvidence(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Recheck(context.Background(), it, false); err != nil {
		t.Fatalf("untouched folder: %v", err)
	}
	if err := c.Recheck(context.Background(), it, true); err != nil {
		t.Fatalf("untouched folder, full: %v", err)
	}
	// Edit the manifest (a case file): its tree hash no longer equals
	// the registered one, whatever the evidence holds.
	m, _ := c.Manifest(it)
	m.Files[0].SHA256 = strings.Repeat("0", 64)
	if err := writeJSONAtomic(c.path(filepath.FromSlash(it.Manifest)), m); err != nil {
		t.Fatal(err)
	}
	if err := c.Recheck(context.Background(), it, false); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("edited manifest: %v", err)
	}
}

// TestRecheckNamesEveryFile: every added file is named, up to maxListed,
// then counted; the refusal is in the custody log.
func TestRecheckNamesEveryFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "usb")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.log"), []byte("a\n"), 0o644)
	c := newCase(t)
	it, err := c.AddEvidence(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	const added = maxListed + 5
	for i := range added {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("new%02d.log", i)), nil, 0o644)
	}
	err = c.Recheck(context.Background(), it, false)
	var ce *ChangedError
	if !errors.As(err, &ce) || ce.File != "new00.log" || ce.Registered != "absent" {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for i := range maxListed {
		if !strings.Contains(msg, fmt.Sprintf("new%02d.log", i)) {
			t.Errorf("new%02d.log not named", i)
		}
	}
	if !strings.Contains(msg, "and 5 more differences") || strings.Contains(msg, fmt.Sprintf("new%02d.log", maxListed)) {
		t.Errorf("message does not stop at %d files and count the rest:\n%s", maxListed, msg)
	}
	acts := custodyActions(t, c)
	if acts[len(acts)-1] != "evidence_refused" {
		t.Errorf("custody actions %v", acts)
	}
}

// TestAddRefusesChangedSegment: adding a registered image set again after
// one of its later segments changed is refused, not a silent no-op (the
// first segment, which gives the item its ID, is unchanged).
func TestAddRefusesChangedSegment(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 3; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("img.%03d", i)), []byte(strings.Repeat(fmt.Sprint(i), 1000)), 0o644)
	}
	c := newCase(t)
	first := filepath.Join(dir, "img.001")
	it, err := c.AddEvidence(context.Background(), first, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(it.Segments) != 3 {
		t.Fatalf("segments %+v", it.Segments)
	}
	third := filepath.Join(dir, "img.003")
	os.WriteFile(third, []byte(strings.Repeat("x", 1000)), 0o644)
	os.Chtimes(third, time.Now(), it.Segments[2].ModTime)
	var ce *ChangedError
	if _, err := c.AddEvidence(context.Background(), first, nil); !errors.As(err, &ce) || ce.File != third || ce.What != "sha256" {
		t.Errorf("re-add after a segment changed: %v", err)
	}
	if err := c.Recheck(context.Background(), it, false); !errors.As(err, &ce) || ce.File != third {
		t.Errorf("recheck: %v", err)
	}
}
