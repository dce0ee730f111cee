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

// EncodingSink is a Sink that can encode a batch's events on the goroutine
// that makes them, one by one as they are made, while they are still in
// that core's caches, so that its Write of the batch only stores what was
// encoded (WriteEncoded). The bytes stored are those Write would store.
type EncodingSink interface {
	Sink
	// NewEncoding starts the encoding of a batch. An Encoding is used by
	// one goroutine at a time; any number may be in use at once.
	NewEncoding() Encoding
	// WriteEncoded is Write of batch, whose events were added to enc, all
	// of them, in order and none other, and have not changed since. enc is
	// the sink's once it is called. An event enc could not encode fails
	// the batch as Write would.
	WriteEncoded(ctx context.Context, batch []*Event, enc Encoding) (WriteStats, error)
}

// Encoding is a batch being encoded by an EncodingSink.
type Encoding interface {
	// Add encodes the batch's next event, finalized.
	Add(e *Event)
	// Len is how many events were added.
	Len() int
	// Discard gives back an encoding that will not be written.
	Discard()
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

// Warning is a reportable problem met while building the timeline: a record
// a parser could not read, a part of a container a walker could not read, or
// a file no parser took. It is stored with the run so the summary and later
// reports can say what was skipped and why.
type Warning struct {
	Kind     WarningKind
	Evidence string   // evidence SHA-256
	Chain    []string // container chain down to the file
	Path     string
	Parser   string // empty for walker problems and skipped files
	Offset   int64  // byte offset in the file, -1 when unknown
	Record   int64  // 1-based record number, 0 when none
	Message  string
}

// WarningKind says what a Warning is about.
type WarningKind string

const (
	// WarnRecord: one record of a file could not be parsed; the rest was.
	WarnRecord WarningKind = "record"
	// WarnFile: a parser failed on a file as a whole.
	WarnFile WarningKind = "file"
	// WarnContainer: a walker could not read part of the evidence.
	WarnContainer WarningKind = "container"
	// WarnSkipped: a file was seen but not parsed (empty, unknown format).
	WarnSkipped WarningKind = "skipped"
	// WarnUnrecovered: something that looks like a deleted record, found in
	// space the file no longer uses (slack), could not be recovered. The
	// file's live records were all read: this is listed, not a failure.
	WarnUnrecovered WarningKind = "unrecovered"
	// WarnZone: times a file carries without a zone, read in the case
	// zone, are off the zone-carrying records of the same activity on the
	// same evidence by a whole zone offset (casework/zonecheck). The
	// records were read; their times need another --tz.
	WarnZone WarningKind = "zone"
	// WarnZoneAssumed: times without a zone were read as UTC, which is also
	// the case zone when no --tz was given; nothing showed them off (that
	// would be a WarnZone), but nothing showed them right either.
	WarnZoneAssumed WarningKind = "zone_assumed"
	// WarnNote: what a container says of how it was read (a compressed
	// image decompressed to a temporary copy, with its SHA-256; a VHDX log
	// replayed). Nothing was left unread.
	WarnNote WarningKind = "note"
)

// Tee writes every batch to a primary sink and then to the others (the case
// store and Elasticsearch in one ingest pass). The stats are the primary's.
func Tee(primary Sink, others ...Sink) Sink { return &tee{primary, others} }

type tee struct {
	primary Sink
	others  []Sink
}

func (t *tee) Write(ctx context.Context, batch []*Event) (WriteStats, error) {
	st, err := t.primary.Write(ctx, batch)
	if err != nil {
		return st, err
	}
	for _, o := range t.others {
		if _, err := o.Write(ctx, batch); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Close closes the other sinks; the primary belongs to the caller.
func (t *tee) Close() error {
	var first error
	for _, o := range t.others {
		if err := o.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
