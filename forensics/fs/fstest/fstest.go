// Package fstest holds the contract every file walker must keep (folders,
// archives, and later NTFS, ext4 and disk images), and helpers to collect
// what a walk delivers.
package fstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"slices"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Item is what a walk delivered for one entry, read in full during the
// WalkFunc call (the only time a stream member can be read).
type Item struct {
	Path  string
	Chain []string
	Size  int64
	Mode  iofs.FileMode
	Times jfs.Times
	Inode string
	// Identity and Deleted are the entry's (Entry.Identity, Entry.Deleted).
	Identity string
	Deleted  bool
	Read     int64  // bytes Open returned
	SHA256   string // of those bytes
	// RandomSHA256 is the hash of Size bytes read through ReaderAt when the
	// entry offers it, "" otherwise.
	RandomSHA256 string
	ReadErr      error
	// Container: the entry is an expanded container, delivered for its own
	// times before its members; it has no content to read.
	Container bool
	// InheritedTimes: Times are the enclosing container's (Entry.InheritedTimes).
	InheritedTimes bool
	// Link is a symbolic link's target (Entry.Link).
	Link string
	// ZoneAssumed is the zone local times were read in (Entry.ZoneAssumed).
	ZoneAssumed string
}

// special reports a link, device, FIFO or socket: an entry delivered for
// its times (a zero mode is a container member's: a file).
func (it Item) special() bool { return it.Mode != 0 && !it.Mode.IsRegular() && !it.Mode.IsDir() }

// Key identifies an item in a walk's output.
func (it Item) Key() string { return strings.Join(it.Chain, " > ") }

// Collect walks w once, reading every entry.
func Collect(ctx context.Context, w jfs.Walker) ([]Item, []*jfs.Problem, error) {
	var items []Item
	var probs []*jfs.Problem
	err := w.Walk(ctx, func(ctx context.Context, e *jfs.Entry) error {
		items = append(items, read(e))
		return nil
	}, func(p *jfs.Problem) { probs = append(probs, p) })
	return items, probs, err
}

func read(e *jfs.Entry) Item {
	it := Item{Path: e.Path, Chain: slices.Clone(e.Chain), Size: e.Size, Mode: e.Mode, Times: e.Times, Inode: e.Inode, Identity: e.Identity, Deleted: e.Deleted, Container: e.Container, InheritedTimes: e.InheritedTimes, Link: e.Link, ZoneAssumed: e.ZoneAssumed}
	if !e.Container && it.special() {
		// A link, device, FIFO or socket: times only, never opened (a
		// FIFO would block).
		return it
	}
	if e.Container {
		if _, err := e.Open(); !errors.Is(err, jfs.ErrContainer) {
			it.ReadErr = fmt.Errorf("a container entry must have no content, Open returned %v", err)
		}
		return it
	}
	rc, err := e.Open()
	if err != nil {
		it.ReadErr = err
		return it
	}
	h := sha256.New()
	it.Read, it.ReadErr = io.Copy(h, rc)
	rc.Close()
	it.SHA256 = hex.EncodeToString(h.Sum(nil))
	ra, ok, err := e.ReaderAt()
	if err != nil && it.ReadErr == nil {
		it.ReadErr = fmt.Errorf("ReaderAt: %w", err)
	}
	if ok && e.Size >= 0 {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(ra, 0, e.Size)); err != nil && it.ReadErr == nil {
			it.ReadErr = fmt.Errorf("ReaderAt: %w", err)
		}
		it.RandomSHA256 = hex.EncodeToString(h.Sum(nil))
		if c, ok := ra.(io.Closer); ok {
			c.Close()
		}
	}
	return it
}

// Contract checks what every Walker promises, on a walker over real
// evidence (good or damaged), and returns what the first walk delivered
// for the caller's own checks.
func Contract(t *testing.T, w jfs.Walker) ([]Item, []*jfs.Problem) {
	t.Helper()
	ctx := context.Background()
	items, probs, err := Collect(ctx, w)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	// No two entries may look alike to the event IDs: chain, path and
	// identity together name one record (timeline.ComputeID).
	seen := map[string]bool{}
	for _, it := range items {
		k := it.Key() + "\x00" + it.Path + "\x00" + it.Identity
		if seen[k] {
			t.Errorf("two entries share chain %q, path %q and identity %q: their events would share IDs", it.Chain, it.Path, it.Identity)
		}
		seen[k] = true
	}
	broken := map[string]bool{} // chains a problem explains
	for _, p := range probs {
		if p.Err == nil {
			t.Errorf("problem without an error: %+v", p)
		}
		if len(p.Chain) == 0 || p.Path == "" {
			t.Errorf("problem must name its chain and path: %v (chain %q)", p, p.Chain)
		}
		broken[strings.Join(p.Chain, " > ")] = true
	}
	for _, it := range items {
		if len(it.Chain) == 0 {
			t.Errorf("%s: empty chain", it.Path)
		}
		for _, c := range it.Chain {
			if k, _, ok := strings.Cut(c, ":"); !ok || k == "" {
				t.Errorf("%s: chain element %q is not kind:member", it.Path, c)
			}
		}
		if !jfs.IsSafePath(it.Path) {
			t.Errorf("unsafe Entry.Path %q (chain %q)", it.Path, it.Chain)
		}
		if it.Size < -1 {
			t.Errorf("%s: size %d", it.Key(), it.Size)
		}
		if broken[it.Key()] {
			continue // damage reported; short reads are expected
		}
		if it.Container || it.special() {
			if it.ReadErr != nil {
				t.Errorf("%s: %v", it.Key(), it.ReadErr)
			}
			continue
		}
		if it.ReadErr != nil {
			t.Errorf("%s: read: %v", it.Key(), it.ReadErr)
		}
		if it.Size >= 0 && it.Read != it.Size {
			t.Errorf("%s: Open returned %d bytes, Size says %d", it.Key(), it.Read, it.Size)
		}
		if it.RandomSHA256 != "" && it.RandomSHA256 != it.SHA256 {
			t.Errorf("%s: ReaderAt and Open disagree", it.Key())
		}
	}

	// Stable order and identical output on a second walk.
	again, probs2, err := Collect(ctx, w)
	if err != nil {
		t.Fatalf("second walk: %v", err)
	}
	if a, b := summary(items, probs), summary(again, probs2); a != b {
		t.Errorf("two walks differ:\n--- first\n%s--- second\n%s", a, b)
	}

	if len(items) > 0 {
		stopAfterFirst(t, w)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	n := 0
	if err := w.Walk(cancelled, func(context.Context, *jfs.Entry) error { n++; return nil }, func(*jfs.Problem) {}); !errors.Is(err, context.Canceled) || n > 0 {
		t.Errorf("walk with a cancelled context: err %v after %d entries, want context.Canceled and none", err, n)
	}
	return items, probs
}

var errStop = errors.New("stop here")

func stopAfterFirst(t *testing.T, w jfs.Walker) {
	t.Helper()
	n := 0
	err := w.Walk(context.Background(), func(context.Context, *jfs.Entry) error { n++; return errStop }, func(*jfs.Problem) {})
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("WalkFunc error must stop the walk: got %v after %d calls", err, n)
	}
}

func summary(items []Item, probs []*jfs.Problem) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\n", it.Key(), it.Path, it.Identity, it.Size, it.SHA256)
	}
	for _, p := range probs {
		fmt.Fprintf(&b, "problem %q %s %d %v\n", p.Chain, p.Path, p.Offset, p.Err)
	}
	return b.String()
}
