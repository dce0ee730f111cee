package mft

import (
	"testing"

	"github.com/jejak-forensics/jejak/internal/slab"
)

// TestBlockSlabFitsSizeClass: a chunk of event blocks (with the pool's
// pointer per block) is the most that stays in the allocator's largest
// small size class (see blockSlab), so a change of the event model that
// grows a block is noticed here.
func TestBlockSlabFitsSizeClass(t *testing.T) {
	const largestSmall = 32 << 10
	size := slab.CellSize[eventBlock]()
	if n := size * blockSlab; n > largestSmall {
		t.Errorf("%d blocks of %d bytes are %d bytes, past the small size classes (%d)", blockSlab, size, n, largestSmall)
	}
	if n := size * (blockSlab + 1); n <= largestSmall {
		t.Errorf("%d blocks of %d bytes would still fit %d bytes: blockSlab can be %d", blockSlab+1, size, largestSmall, largestSmall/size)
	}
}
