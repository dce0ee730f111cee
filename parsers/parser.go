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
	// lineReq holds, per parser of scored (same place), what its
	// Requirement asks of the file's name for a head Detect gives its
	// Match, by the head's first byte: 0 nothing, lineNever (a byte
	// outside it, and no name suffices) or the letters mask
	// (nameLetters) the name must hold. See mayMatch.
	lineReq [][256]uint32
	// byFirst lists, for each value of a head's first byte, the parsers
	// that may accept such a head, in registry order (see Requirer):
	// Match asks those alone. A parser taken there by its name alone
	// carries the letters its name must hold.
	byFirst [256][]candidate
}

// candidate is a parser Match asks about a head with a given first byte:
// always when letters is 0, else only of a file whose name holds every
// letter of the mask (nameLetters).
type candidate struct {
	p       Parser
	letters uint32
}

// NewRegistry returns a registry trying ps in order.
func NewRegistry(ps ...Parser) *Registry {
	r := &Registry{parsers: ps}
	r.scoringInit()
	r.byFirstInit()
	return r
}

// Requirer is implemented by a parser that can say, once, what its Match
// requires of every file it accepts: Registry.Match then does not ask it
// about a file that lacks it. Most files of a disk image are taken by no
// parser, and every parser's Match ran on each of them (issue 15).
type Requirer interface {
	Requires() Requirement
}

// Requirement is what a parser's Match requires of a file it accepts with a
// head of at least one byte: the head starts with a byte of First, or else
// (when Name is not empty) the file's name holds every letter of Name, in
// either case. The name is the part of Entry.Path after its last '/' (the
// whole path when it ends with one); a name holding a byte outside ASCII
// is taken to hold every letter (case folding may turn such runes into
// ASCII letters), as is a nil Entry. A Match that accepts a file outside
// its Requirement breaks Registry.Match: TestRegistryMatchPrefilter and
// TestRequirementsHold (parsers/all) hold every parser to its own.
type Requirement struct {
	First ByteSet
	Name  string // ASCII letters, any case; "": the name alone never suffices
}

// ByteSet is a set of byte values.
type ByteSet [4]uint64

// BytesOf returns the set of the bytes of s.
func BytesOf(s string) ByteSet {
	var b ByteSet
	for i := 0; i < len(s); i++ {
		b.Add(s[i])
	}
	return b
}

// ByteRange returns the set of the bytes from lo to hi, both included.
func ByteRange(lo, hi byte) ByteSet {
	var b ByteSet
	for c := int(lo); c <= int(hi); c++ {
		b.Add(byte(c))
	}
	return b
}

// Add puts c in the set.
func (b *ByteSet) Add(c byte) { b[c>>6] |= 1 << (c & 63) }

// Has reports whether c is in the set.
func (b *ByteSet) Has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// Union returns the bytes of b and of every one of o.
func (b ByteSet) Union(o ...ByteSet) ByteSet {
	for _, s := range o {
		for i := range b {
			b[i] |= s[i]
		}
	}
	return b
}

// Digits are the ASCII digits.
var Digits = ByteRange('0', '9')

// TextBlanks are the bytes a text head may start with before its first
// line that is not blank, as bytes.TrimSpace and a UTF-8 byte order mark
// see it: ASCII white space, and every byte outside ASCII (the BOM's and
// those of Unicode spaces, taken all at once).
var TextBlanks = BytesOf("\t\n\v\f\r ").Union(ByteRange(0x80, 0xff))

// allLetters is the letters mask of a name that may hold any letter.
const allLetters = 1<<26 - 1

// letterBits is each byte's part of a letters mask: its letter's bit for
// an ASCII letter of either case, allLetters for a byte outside ASCII.
var letterBits = func() (t [256]uint32) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 1<<(c-'a'), 1<<(c-'a')
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = allLetters
	}
	return t
}()

// lettersOf returns the mask of the ASCII letters of s, lower-cased (bit
// 0 for 'a'), or allLetters when s holds a byte outside ASCII.
func lettersOf(s string) uint32 {
	var m uint32
	for i := 0; i < len(s); i++ {
		m |= letterBits[s[i]]
	}
	return m
}

// nameLetters is lettersOf the name of e as Requirement defines it, read
// from its end: one pass over the name, none over the folders.
func nameLetters(e *jfs.Entry) uint32 {
	if e == nil {
		return allLetters
	}
	p := e.Path
	i := len(p) - 1
	if i < 0 || p[i] == '/' {
		return lettersOf(p)
	}
	var m uint32
	for ; i >= 0 && p[i] != '/'; i-- {
		m |= letterBits[p[i]]
	}
	return m
}

// byFirstInit fills r.byFirst from the parsers' Requirements.
func (r *Registry) byFirstInit() {
	for c := range r.byFirst {
		var l []candidate
		for _, p := range r.parsers {
			q, ok := p.(Requirer)
			if !ok {
				l = append(l, candidate{p: p})
				continue
			}
			switch req := q.Requires(); {
			case req.First.Has(byte(c)):
				l = append(l, candidate{p: p})
			case req.Name != "":
				// A letter marks the mask nonzero: lettersOf of a name
				// without letters would be taken as "always".
				m := lettersOf(req.Name)
				if m == 0 || m == allLetters {
					panic(fmt.Sprintf("parsers: %s requires a name of ASCII letters, not %q", p.Name(), req.Name))
				}
				l = append(l, candidate{p: p, letters: m})
			}
		}
		r.byFirst[c] = l
	}
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

// Match returns the first parser that accepts the file, or nil. Only the
// parsers whose Requirement the file meets are asked, in registry order.
func (r *Registry) Match(e *jfs.Entry, head []byte) Parser {
	if len(head) == 0 {
		for _, p := range r.parsers {
			if p.Match(e, head) {
				return p
			}
		}
		return nil
	}
	have, known := uint32(0), false
	for _, c := range r.byFirst[head[0]] {
		if c.letters != 0 {
			if !known {
				have, known = nameLetters(e), true
			}
			if c.letters&^have != 0 {
				continue
			}
		}
		if c.p.Match(e, head) {
			return c.p
		}
	}
	return nil
}
