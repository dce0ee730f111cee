package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ChainError is the first broken link found in the custody log.
type ChainError struct {
	Path string
	Line int // 1-based line of custody.log; 0 when the fault is in custody.head alone
	Msg  string
}

func (e *ChainError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("custody chain broken: %s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("custody chain broken: %s line %d: %s", e.Path, e.Line, e.Msg)
}

// VerifyCustody re-walks the whole custody chain. It returns the entries
// that verified and, at the first broken link, a *ChainError naming the
// line: an edited line, a deleted, inserted or reordered one, a line cut
// short, and whole lines cut off the end (against custody.head) are all
// caught. The walk holds the write lock, so it sees no half-written entry.
func (c *Case) VerifyCustody() ([]Entry, error) {
	var entries []Entry
	err := c.withReadLock(func(w *custodyWriter) error {
		var err error
		entries, err = c.verifyChain(w.f)
		return err
	})
	return entries, err
}

func (c *Case) verifyChain(f *os.File) ([]Entry, error) {
	entries, err := c.walkChain(f)
	if err != nil {
		return entries, err
	}
	return entries, c.verifyHead(entries)
}

// walkChain checks every line's hash, sequence and link, but not the head.
func (c *Case) walkChain(f *os.File) ([]Entry, error) {
	path := c.path(custodyFile)
	fail := func(line int, format string, a ...any) error {
		return &ChainError{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var entries []Entry
	prev := ""
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err == io.EOF {
			return entries, fail(n, "incomplete line (no newline): the log was cut mid-entry")
		}
		if err != nil {
			return entries, fmt.Errorf("read %s: %w", path, err)
		}
		line = line[:len(line)-1]
		canon, sum, ok := splitLine(line)
		if !ok {
			return entries, fail(n, "no hash at the end of the line: the line was edited or is not a custody entry")
		}
		if got := lineHash(canon); got != sum {
			return entries, fail(n, "content does not match its hash (recorded %s, computed %s): the line was edited", sum, got)
		}
		var b entryBody
		dec := json.NewDecoder(bytes.NewReader(canon))
		dec.UseNumber() // keep numbers in details exactly as written
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return entries, fail(n, "not a custody entry: %v", err)
		}
		if b.Seq != int64(n) {
			return entries, fail(n, "sequence number %d where %d was expected: a line was deleted, inserted or moved", b.Seq, n)
		}
		if b.Prev != prev {
			return entries, fail(n, "link to the previous line does not match (prev %q, previous line hashes to %q): a line before it was changed, deleted or moved", b.Prev, prev)
		}
		entries = append(entries, Entry{Seq: b.Seq, Time: b.Time, Examiner: b.Examiner,
			Action: b.Action, Details: b.Details, Prev: b.Prev, Signer: b.Signer, Hash: sum})
		prev = lineHash(line)
	}
	return entries, nil
}

// verifyHead compares the log's end with custody.head. The head may lag one
// entry behind (a crash between the two writes) but never lead.
func (c *Case) verifyHead(entries []Entry) error {
	var h head
	if err := readJSON(c.path(headFile), &h); err != nil {
		if len(entries) == 0 && errors.Is(err, os.ErrNotExist) {
			return nil // a case whose init never wrote an entry
		}
		return &ChainError{Path: c.path(headFile), Msg: err.Error()}
	}
	n := int64(len(entries))
	switch {
	case h.Seq > n:
		return &ChainError{Path: c.path(custodyFile), Line: len(entries) + 1,
			Msg: fmt.Sprintf("missing: the log ends after line %d but %s records %d entries: the log was truncated", n, headFile, h.Seq)}
	case h.Seq < n-1:
		return &ChainError{Path: c.path(custodyFile), Line: int(h.Seq) + 2,
			Msg: fmt.Sprintf("%d entries follow the last one recorded in %s (seq %d)", n-h.Seq, headFile, h.Seq)}
	case h.Seq > 0 && entries[h.Seq-1].Hash != h.Hash:
		return &ChainError{Path: c.path(custodyFile), Line: int(h.Seq),
			Msg: fmt.Sprintf("entry hash %s differs from %s's %s: the log was rewritten", entries[h.Seq-1].Hash, headFile, h.Hash)}
	}
	return nil
}
