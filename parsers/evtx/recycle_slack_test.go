package evtx

import (
	"context"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestSlackCopiesRecycled: the stale slack copies ParseStats builds and
// drops go back to the block pool, as the events it emits do once
// stored. A block never given back keeps its whole slab (blockSlab
// blocks) out of use, and later files took new slabs and new maps.
// security.evtx holds 30 copies, 28 of which decode (the other 2 are
// warnings, dropped too).
func TestSlackCopiesRecycled(t *testing.T) {
	path := parsertest.Corpus(t, "logs/windows/security.evtx")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[*timeline.Event]bool{}
	defer func(old func(*Parser, *timeline.Event)) { recycleDropped = old }(recycleDropped)
	recycleDropped = func(p *Parser, ev *timeline.Event) {
		dropped[ev] = true
		p.Recycle(ev)
	}
	p := New(0)
	src := &parsers.Source{Entry: parsertest.FileEntry(t, path), ReaderAt: f, Size: st.Size(), Warn: func(*parsers.RecordError) {}}
	var emitted []*timeline.Event
	stats, err := p.ParseStats(context.Background(), src, func(ev *timeline.Event) error {
		emitted = append(emitted, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 28 || stats.SlackCopies != 30 {
		t.Errorf("%d slack copies given back, of %d counted; want 28 of 30", len(dropped), stats.SlackCopies)
	}
	for _, ev := range emitted {
		if dropped[ev] {
			t.Fatalf("record %d emitted and given back", ev.Winlog.RecordID)
		}
	}
}
