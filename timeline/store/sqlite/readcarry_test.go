package sqlite

import "testing"

// TestCarrySharedBlocks: a block the carry and a window both hold goes
// back to the pool once both have let it go, whichever lets go first, and
// a block the carry refuses (no room, or carried already) stays its
// caller's alone.
func TestCarrySharedBlocks(t *testing.T) {
	pool := &slabPool{size: blockBufBytes}
	defer pool.release()
	newBlock := func() *block {
		raw := (*pool.get())[:1000]
		return &block{raw: raw, data: raw}
	}
	free := func() int {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.free)
	}
	c := carry{max: 1500, byID: map[int64]*block{}, bufs: pool}

	// The window lets go first, then the carry's block is taken and
	// dropped by the next window.
	b := newBlock()
	if !c.putShared(1, b) {
		t.Fatal("an empty carry refused a block")
	}
	c.drop(b) // the window that carried it
	if free() != 0 {
		t.Fatal("a carried block went back to the pool")
	}
	got, ok := c.take(1)
	if !ok || got != b {
		t.Fatal("the carried block was not taken")
	}
	c.drop(got)
	if free() != 1 {
		t.Fatalf("%d free slabs once no one holds the block, want 1", free())
	}

	// The carry lets go first (release), then the window.
	b = newBlock()
	c.putShared(2, b)
	if c.putShared(2, newBlock()) {
		t.Error("a block carried twice")
	}
	if c.putShared(3, newBlock()) {
		t.Error("a block carried past the carry's room")
	}
	if n := c.refused.Load(); n != 1 {
		t.Errorf("%d refused for room, want 1", n)
	}
	c.release()
	if free() != 0 {
		t.Fatal("a block the window still reads went back to the pool")
	}
	c.drop(b)
	if free() != 1 || len(c.refs) != 0 {
		t.Fatalf("%d free slabs, %d holds left, want 1 and 0", free(), len(c.refs))
	}
}
