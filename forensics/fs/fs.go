// Package fs holds the one file-walker interface every kind of evidence is
// read through: plain folders, archives (nested to any depth) and, later,
// file systems inside disk images. A walker turns a container into a stream
// of Entries, each knowing the chain of containers it came from.
package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"sync"
	"time"
)

// Times are the MACB times a container records for a file. A zero value means
// the container does not record that time.
type Times struct {
	Modified time.Time // M: content last written
	Accessed time.Time // A: last read
	Changed  time.Time // C: metadata (inode/MFT entry) changed
	Born     time.Time // B: created
}

// Entry is one file inside evidence. An Entry handed to a WalkFunc is valid
// only during that call: a member of a tar stream can be read only while the
// stream stands at it.
type Entry struct {
	// Path is the path as seen inside its innermost container, slash
	// separated, never starting with "/" or containing "..".
	Path string
	// Chain lists the layers from the evidence item down to this file, each
	// "kind:member" (e.g. "gzip:", "tar:var/log/syslog", "dir:auth.log").
	// It is what timeline.Provenance.Chain records.
	Chain   []string
	Size    int64 // -1 when unknown (a gzip member before it is read)
	Mode    fs.FileMode
	Times   Times
	Deleted bool
	Inode   string // inode or MFT reference where the container has one
	// Identity is what tells this file apart from another with the same
	// Chain and Path: one layer per container that can hold two records
	// under one name, outermost first, joined by " > ". A tar member is
	// "tar#3@1536" (its place in the archive listing, 1-based, and the
	// offset of its content), a zip member "zip#2@4096" (its place in the
	// central directory and its content's offset) or "zip-local#2@4096"
	// (recovered from a local header), a file of a file system
	// "mft:1234-5" (MFT entry and sequence) or "inode:12" (with
	// " dirent@<offset>" for a deleted name). Files of a folder and the one
	// member of a compressed stream are unique by path and add nothing.
	// It goes into the event ID (timeline.ComputeID) and the provenance.
	Identity string
	// Link is a symbolic link's target, where the container records it.
	Link string
	// Container marks a file the walker expands (an archive, a compressed
	// file, a document that is a zip). It is delivered once, before its
	// members, for its own times and provenance only: a .docx in ext4 has
	// inode times that fls lists, which its members do not carry. Its
	// content is its members'; Open returns ErrContainer.
	Container bool
	// InheritedTimes says Times were copied from the enclosing container
	// (the one member of a bzip2 or xz stream, or of a gzip without
	// MTIME): parsers may use them to bound the content's dates, but they
	// are the container's own events, already delivered with it.
	InheritedTimes bool
	// ZoneAssumed, when set, is the zone Times were read in because the
	// container records local times without one (FAT): the events say
	// so (timeline.TimeNote.ZoneAssumed).
	ZoneAssumed string

	// open returns a fresh sequential reader of the content. For a member of
	// a stream it can be called once.
	open func() (io.ReadCloser, error)
	// readerAt, when set, gives random access without copying.
	readerAt func() (io.ReaderAt, error)
	// shared, when set, serves Open and ReaderAt in their place, up to
	// sharedSize: the reader the expander opened to sniff the file, for
	// as long as the WalkFunc it is handed to runs (walkState.visit).
	shared     io.ReaderAt
	sharedSize int64
	// mem, when set (NewBytesEntry), is the content itself, served by
	// Open and ReaderAt after open and readerAt: no closure to make.
	mem []byte
	// osPath is the file's path on the examiner's disk when it is a file
	// of a registered folder: a disk image there is opened by path, so
	// that its sibling segments are found.
	osPath string
	// lasting: open and readerAt stay valid after the WalkFunc returns
	// (see Lasting).
	lasting bool
	// plainOpen: open reads what readerAt gives, from byte 0, and checks
	// nothing more (NewEntry's contract), so a reader already opened
	// serves both.
	plainOpen bool
	// hold, when set, is what keeps the content readable past the walk's
	// end (HoldBy); held: this entry is a Detach of it, holding it until
	// Release.
	hold *Hold
	held bool
}

// NewEntry builds an entry whose content comes from open (and, when the
// container allows random access, from readerAt; nil otherwise). With both,
// open must read exactly the bytes readerAt gives from offset 0 (as the
// file-system walkers' do): an expander hands on an entry whose both are
// served by the one reader it opened to sniff the file.
func NewEntry(path string, chain []string, size int64, open func() (io.ReadCloser, error), readerAt func() (io.ReaderAt, error)) *Entry {
	return &Entry{Path: path, Chain: chain, Size: size, open: open, readerAt: readerAt, plainOpen: readerAt != nil}
}

// NewBytesEntry builds an entry whose content is b, of size bytes (Open
// reads b up to size, ReaderAt gives b): the resident stream of an NTFS
// record, for one. b is not copied: it must hold still for as long as the
// entry may be read, which for an entry that is not Lasting is the
// WalkFunc call it is handed to (a copy made by Detach or by a pipeline
// keeps none of its content).
func NewBytesEntry(path string, chain []string, size int64, b []byte) *Entry {
	return &Entry{Path: path, Chain: chain, Size: size, mem: b, plainOpen: true}
}

// JoinIdentity appends one layer to a container's identity (see
// Entry.Identity).
func JoinIdentity(parent, layer string) string {
	switch {
	case parent == "":
		return layer
	case layer == "":
		return parent
	}
	return parent + " > " + layer
}

// Open returns a sequential reader of the entry's bytes.
func (e *Entry) Open() (io.ReadCloser, error) {
	if e.Container {
		return nil, ErrContainer
	}
	if e.shared != nil {
		return newSectionCloser(e.shared, e.sharedSize), nil
	}
	if e.open == nil {
		if e.mem != nil {
			return newSectionCloser(bytes.NewReader(e.mem), e.Size), nil
		}
		return nil, errors.New("entry has no content")
	}
	return e.open()
}

// sectionCloser is io.NopCloser(io.NewSectionReader(r, 0, size)) in one
// allocation rather than two: Open of every file of a disk image. It
// reads and closes, and does nothing else (as NopCloser's reader).
type sectionCloser struct{ s io.SectionReader }

// newSectionCloser reads r from 0 up to size (no bound when size < 0).
func newSectionCloser(r io.ReaderAt, size int64) *sectionCloser {
	if size < 0 {
		size = 1<<63 - 1
	}
	c := new(sectionCloser)
	c.s = *io.NewSectionReader(r, 0, size)
	return c
}

func (c *sectionCloser) Read(p []byte) (int, error) { return c.s.Read(p) }

func (c *sectionCloser) Close() error { return nil }

// ReaderAt returns random access to the content when the container gives it
// cheaply (a file in a folder or disk image, a stored zip member); ok is
// false for members of compressed streams, which a caller must spool.
func (e *Entry) ReaderAt() (r io.ReaderAt, ok bool, err error) {
	if e.shared != nil {
		return sharedReaderAt{e.shared}, true, nil
	}
	if e.readerAt == nil {
		if e.mem != nil {
			return bytes.NewReader(e.mem), true, nil
		}
		return nil, false, nil
	}
	r, err = e.readerAt()
	return r, err == nil, err
}

// random reports whether e gives random access of its own (readerAt or
// mem), whatever visit shares of it.
func (e *Entry) random() bool { return e.readerAt != nil || e.mem != nil }

// randomAccess opens e's own random access (random must be true). The
// bytes of a NewBytesEntry are read through e itself (memAt), with no
// reader to allocate.
func (e *Entry) randomAccess() (io.ReaderAt, error) {
	if e.readerAt == nil {
		return (*memAt)(e), nil
	}
	return e.readerAt()
}

// memAt reads an entry's mem as a bytes.Reader's ReadAt does: it keeps no
// state, so one serves every reader at once.
type memAt Entry

func (m *memAt) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fs: ReadAt: negative offset")
	}
	if off >= int64(len(m.mem)) {
		return 0, io.EOF
	}
	n := copy(b, m.mem[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// Lasting reports whether e's content stays readable after the WalkFunc
// it was handed to returns, from any goroutine, until the walk ends: a file
// on the examiner's disk (of a registered folder, or a registered file),
// which every Open and ReaderAt opens afresh. A member of a stream, or of a
// container whose reader closes once its members are walked, is not. A
// pipeline may then parse a large file on another core while the walk goes
// on (Detach), instead of holding the walk until it is read.
func (e *Entry) Lasting() bool { return e.lasting }

// Detach returns a copy of a Lasting entry that outlives the walker's call:
// its fields, a chain of its own, and its content. It returns nil for an
// entry that is not Lasting.
//
// The detached copy of an entry a walker holds (HoldBy) keeps that walker's
// Walk from returning until its Release: call Release once it is read.
func (e *Entry) Detach() *Entry {
	if !e.lasting {
		return nil
	}
	d := *e
	d.Chain = slices.Clone(e.Chain)
	if d.hold != nil {
		d.hold.wg.Add(1)
		d.held = true
	}
	return &d
}

// Release ends what a Detach holds (see Hold): once called, the detached
// entry's content must not be read any more. It does nothing for any other
// entry, and the second time.
func (e *Entry) Release() {
	if e.held {
		e.held = false
		e.hold.wg.Done()
	}
}

// Held reports whether e is Lasting through its walker's Hold: its content
// is read through something the walker closes when its Walk returns (a
// disk image), which a Detach of it keeps open until Release.
func (e *Entry) Held() bool { return e.lasting && e.hold != nil }

// Hold lets a walker whose entries read through something it closes when
// Walk returns (a file system in a disk image) hand out entries that a
// pipeline may read after the WalkFunc call, on another goroutine: it
// marks them with HoldBy and, before Walk returns, waits (Wait) until every
// Detach of them is Released. Such an entry is Lasting. A pipeline then
// parses a large file beside the walk instead of holding the walk until it
// is read (casework/ingest: the $MFT of an NTFS volume).
type Hold struct{ wg sync.WaitGroup }

// Wait returns once every detached entry of the hold has been Released.
func (h *Hold) Wait() { h.wg.Wait() }

// HoldBy makes e Lasting through h (see Hold): the walker calls h.Wait
// before its Walk returns.
func (e *Entry) HoldBy(h *Hold) {
	e.hold, e.lasting = h, true
}

// WalkFunc receives each regular file. Returning an error stops the walk.
type WalkFunc func(ctx context.Context, e *Entry) error

// Problem is a part of the evidence a walker could not read (a truncated
// stream, a member with an unsafe path, an unsupported file system). The walk
// goes on; problems are reported, never dropped.
type Problem struct {
	Chain  []string // where: the container chain down to the bad part
	Path   string
	Offset int64 // byte offset in the innermost container, -1 if unknown
	Err    error
}

func (p *Problem) Error() string {
	return p.Path + ": " + p.Err.Error()
}

func (p *Problem) Unwrap() error { return p.Err }

// Walker turns one evidence item into entries.
type Walker interface {
	// Walk calls fn for every regular file, in a stable order, and report for
	// every problem met. It returns an error only when the evidence cannot be
	// walked at all or fn/report asked to stop.
	Walk(ctx context.Context, fn WalkFunc, report func(*Problem)) error
}
