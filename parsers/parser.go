// Package parsers defines what an artifact parser is and holds the registry
// that picks one for a file. Each artifact family lives in its own package
// below this one; parsers/all lists the ones compiled in.
package parsers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// HeadSize is how many leading bytes Match sees.
const HeadSize = 4096

// Parser turns one file into timeline events.
type Parser interface {
	// Name is the stable parser name written to jejak.provenance.parser.
	Name() string
	// Match is a cheap check on the file's name and first bytes (up to
	// HeadSize, fewer for a short file).
	Match(e *jfs.Entry, head []byte) bool
	// Parse streams events to emit. A record it cannot read is reported with
	// src.Warnf and parsing goes on; an error return means the file as a whole
	// could not be parsed (or emit/ctx asked to stop).
	Parse(ctx context.Context, src *Source, emit func(*timeline.Event) error) error
}

// Source is what a parser reads: the bytes, what the container says about
// the file, and the case settings that decide how times are read.
type Source struct {
	Entry *jfs.Entry
	// R streams the content from the first byte.
	R io.Reader
	// ReaderAt gives random access when the pipeline has it (always for
	// parsers that implement RandomAccess); nil otherwise.
	ReaderAt io.ReaderAt
	Size     int64 // -1 when unknown
	// Zone is the case zone: times written without a zone are read in it,
	// and the event records that it was assumed.
	Zone *time.Location
	// Warn reports a record that could not be parsed. It is counted and
	// stored with the run; never drop a record without calling it.
	Warn func(*RecordError)
	// Account, when set, receives the file's record accounting from a
	// parser of a format that declares its own record count (EVTX chunk
	// headers), once, when the file is done.
	Account func(Accounting)
	// Parser is the name of the parser reading the source, written into
	// every RecordError that Warnf and WarnErr report. The pipeline sets it
	// to the matched parser's name; a parser calls As(Name) first so that
	// a Source built without it (a test, a caller outside ingest) still
	// reports who warned.
	Parser string
}

// As returns the source to parse as the parser named name: s itself when
// its Parser is already set (by the pipeline, which knows which parser it
// matched), else a shallow copy naming name. A copy, so that the caller's
// Source is not changed under it.
func (s *Source) As(name string) *Source {
	if s.Parser != "" {
		return s
	}
	c := *s
	c.Parser = name
	return &c
}

// Warnf reports a record that could not be read, at byte offset and
// 1-based record number (0 when the format has none), with the parser and
// the file's path filled from the source: one call instead of a
// RecordError literal that repeats both in every parser.
func (s *Source) Warnf(offset, record int64, format string, a ...any) {
	s.WarnErr(offset, record, fmt.Errorf(format, a...))
}

// WarnErr is Warnf for an error already made; err is kept as the
// RecordError's Err, so errors.Is (ErrUnrecovered) still sees it. A
// Source without Warn (a benchmark, a probe) hears nothing; the pipeline
// always sets it.
func (s *Source) WarnErr(offset, record int64, err error) {
	if s.Warn == nil {
		return
	}
	path := ""
	if s.Entry != nil {
		path = s.Entry.Path
	}
	s.Warn(&RecordError{Parser: s.Parser, Path: path, Offset: offset, Record: record, Err: err})
}

// At records where ev's record lies in the file (jejak.provenance offset
// and record) and returns ev. That is all of the provenance a parser
// knows: the pipeline fills the evidence, chain, path, identity and parser
// when the event is emitted (casework/ingest, parsertest.Parse), so a
// parser never sets them. A function rather than a Source method because
// most parsers build their events in helpers that never see the Source.
func At(ev *timeline.Event, offset, record int64) *timeline.Event {
	ev.Jejak.Provenance.Offset = offset
	ev.Jejak.Provenance.Record = record
	return ev
}

// Accounting says what became of the records a file declares, so that a
// run can show that every one of them is an event or a warning.
type Accounting struct {
	// Declared is the number of records the file's own structures declare.
	Declared int64 `json:"declared"`
	// Live is the number read as the file's records in use.
	Live int64 `json:"live"`
	// Recovered is the number read from space no longer in use (deleted
	// or overwritten records), tagged recovered.
	Recovered int64 `json:"recovered"`
	// Unreadable is the number found but not decoded, each a warning.
	Unreadable int64 `json:"unreadable"`
}

// Add sums a into c.
func (c *Accounting) Add(a Accounting) {
	c.Declared += a.Declared
	c.Live += a.Live
	c.Recovered += a.Recovered
	c.Unreadable += a.Unreadable
}

// RandomAccess is implemented by parsers that need Source.ReaderAt (binary
// formats with offsets); the pipeline spools stream members for them.
type RandomAccess interface {
	NeedsReaderAt() bool
}

// RecordError is a record that could not be parsed, in the spirit of
// encoding/csv.ParseError: it names the file, the offset and the record.
// ErrUnrecovered marks a RecordError about a record carved from space the
// file no longer uses (a deleted or overwritten record in slack) that could
// not be decoded. Unlike other record errors it does not mean that input
// in use went unread: ingest lists it apart and does not count it a warning.
var ErrUnrecovered = errors.New("record in slack not recovered")

type RecordError struct {
	Parser string
	Path   string
	Offset int64 // byte offset of the record in the file
	Record int64 // 1-based record (line) number, 0 if none
	Err    error
}

func (e *RecordError) Error() string {
	if e.Record > 0 {
		return fmt.Sprintf("%s: %s: record %d at offset %d: %v", e.Parser, e.Path, e.Record, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: %s: offset %d: %v", e.Parser, e.Path, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Registry picks the parser for a file. Order matters: the first parser
// whose Match accepts the file wins, so specific formats go before generic
// ones. When none accepts the head, Detect scores lines sampled through the
// file against the text formats (see ScoreLines).
type Registry struct {
	parsers []Parser
	// scoring says, per parser (same index), how Detect scores a line
	// with it: decided once here rather than looked up (an interface-keyed
	// map and a closure per parser) on every file no parser takes by its
	// head, which is most files of a disk image. See ScoreLines.
	scoring []lineScoring
	// lineMatchers holds, per parser scored by its own MatchLine, the
	// LineMatcher it is (nil for the others): asserted once here, not on
	// every sampled line.
	lineMatchers []LineMatcher
	// scored lists the indexes of the parsers scored by line, in
	// registry order: Detect goes over these alone, and counts them
	// without a pass over every parser, for each file no parser takes
	// by its head.
	scored []int
}

// NewRegistry returns a registry trying ps in order.
func NewRegistry(ps ...Parser) *Registry {
	r := &Registry{parsers: ps}
	r.scoringInit()
	return r
}

// Parsers lists the registered parsers in match order.
func (r *Registry) Parsers() []Parser { return append([]Parser(nil), r.parsers...) }

// Lookup returns the parser with the given name.
func (r *Registry) Lookup(name string) (Parser, bool) {
	for _, p := range r.parsers {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Match returns the first parser that accepts the file, or nil.
func (r *Registry) Match(e *jfs.Entry, head []byte) Parser {
	for _, p := range r.parsers {
		if p.Match(e, head) {
			return p
		}
	}
	return nil
}
