package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// testCancel: a cancelled context (Ctrl-C) stops every read with an error
// that says so (errors.Is context.Canceled), never with a short answer
// taken for a whole one.
func testCancel(t *testing.T, s store.Store) {
	write(t, s, Many(3000))
	putHunt(t, s, hunt("k", base, `{}`), []store.Finding{Finding("f", "r", "low", base, 1)})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	f := compile(t, `user.name:u00*`)
	keep := func(*timeline.Event) error { return nil }
	for _, c2 := range []struct {
		name string
		err  error
	}{
		{"Search", s.Search(c, timeline.Query{}, keep)},
		{"Count", func() error { _, err := s.Count(c, timeline.Query{}); return err }()},
		{"Query", s.Query(c, f, timeline.Query{}, keep)},
		{"QueryCount", func() error { _, err := s.QueryCount(c, f, timeline.Query{}); return err }()},
		{"ScanRaw", s.ScanRaw(c, func(string, []byte) error { return nil })},
		{"Hunts", func() error { _, err := s.Hunts(c); return err }()},
		{"Findings", s.Findings(c, "k", func(store.Finding) error { return nil })},
		{"Write", func() error { _, err := s.Write(c, Many(5)); return err }()},
	} {
		if !errors.Is(c2.err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", c2.name, c2.err)
		}
	}
	// Cancelled half-way through a long read.
	c, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := s.Search(c, timeline.Query{}, func(*timeline.Event) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 3000 {
		t.Errorf("Search cancelled after 10 events: %v after %d events", err, n)
	}
}
