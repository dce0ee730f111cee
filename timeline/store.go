package timeline

import (
	"context"
	"time"
)

// Sink receives finished events. One writer goroutine owns a Sink; parsers
// never write to it directly.
type Sink interface {
	// Write stores a batch. Events already present (same ID) are counted as
	// duplicates, not written twice.
	Write(ctx context.Context, batch []*Event) (WriteStats, error)
	Close() error
}

// WriteStats says what a Write did with a batch.
type WriteStats struct {
	Inserted   int
	Duplicates int
}

// Add accumulates another batch's stats.
func (s *WriteStats) Add(o WriteStats) {
	s.Inserted += o.Inserted
	s.Duplicates += o.Duplicates
}

// Query selects events by time range; zero times are open ends. Results are
// ordered by @timestamp then ID, which is a total, reproducible order.
type Query struct {
	From  time.Time // inclusive
	To    time.Time // exclusive
	Limit int       // 0: no limit
}

// Store is a Sink that can be read back.
type Store interface {
	Sink
	Search(ctx context.Context, q Query, fn func(*Event) error) error
	Count(ctx context.Context, q Query) (int64, error)
}
