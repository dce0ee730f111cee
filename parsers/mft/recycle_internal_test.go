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
	if fit := slab.FitCells[eventBlock](); blockSlab != fit {
		t.Errorf("blockSlab is %d; %d blocks of %d bytes fit the largest small size class (%d)", blockSlab, fit, slab.CellSize[eventBlock](), slab.LargestSmall)
	}
}
