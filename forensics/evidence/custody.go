package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Entry is one line of the custody log.
//
// The chain: Hash is the SHA-256 of the entry's canonical bytes, which are
// the JSON encoding of the entry without its hash field (fields in the order
// below, details keys sorted, as encoding/json writes them); the line on disk
// is those bytes with `,"hash":"<hex>"` spliced in before the closing brace.
// Prev is the SHA-256 of the previous line's exact bytes (without its
// newline), "" on the first line. So an edited line no longer matches its
// own hash, and a deleted, inserted or reordered line breaks the next link
// or the sequence. Cutting whole lines off the end leaves a valid chain, so
// the last entry's seq and hash are also kept in custody.head.
//
// Verification works on the stored bytes, never on a re-encoding, so it
// does not depend on how a JSON library formats numbers.
type Entry struct {
	Seq      int64          `json:"seq"`
	Time     time.Time      `json:"time"`
	Examiner string         `json:"examiner"`
	Action   string         `json:"action"`
	Details  map[string]any `json:"details"`
	Prev     string         `json:"prev"`
	// Signer is the public key ("ssh-ed25519 AAAA…") whose signature of
	// Hash is in custody.sig; empty for an unsigned entry. It is part of the
	// hashed bytes, so a signed entry cannot be passed off as unsigned.
	Signer string `json:"signer,omitempty"`
	Hash   string `json:"hash"`
}

// entryBody is Entry without its hash: the canonical, hashed form.
type entryBody struct {
	Seq      int64          `json:"seq"`
	Time     time.Time      `json:"time"`
	Examiner string         `json:"examiner"`
	Action   string         `json:"action"`
	Details  map[string]any `json:"details"`
	Prev     string         `json:"prev"`
	Signer   string         `json:"signer,omitempty"`
}

type head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// Signer is read from log lines by peekEntry; custody.head has none.
	Signer string `json:"signer,omitempty"`
}

// hashSuffixLen is the length of `,"hash":"<64 hex>"}`.
const hashSuffixLen = len(`,"hash":""}`) + sha256.Size*2

// encodeEntry returns the line (without newline) and the entry's hash.
func encodeEntry(b entryBody) (line []byte, sum string, err error) {
	canon, err := json.Marshal(b)
	if err != nil {
		return nil, "", fmt.Errorf("custody details cannot be encoded: %w", err)
	}
	h := sha256.Sum256(canon)
	sum = hex.EncodeToString(h[:])
	line = make([]byte, 0, len(canon)+hashSuffixLen)
	line = append(line, canon[:len(canon)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, sum...)
	line = append(line, `"}`...)
	return line, sum, nil
}

// splitLine recovers the canonical bytes and the recorded hash from a line.
func splitLine(line []byte) (canon []byte, sum string, ok bool) {
	if len(line) < hashSuffixLen+2 {
		return nil, "", false
	}
	cut := len(line) - hashSuffixLen
	suf := line[cut:]
	if !bytes.HasPrefix(suf, []byte(`,"hash":"`)) || !bytes.HasSuffix(suf, []byte(`"}`)) {
		return nil, "", false
	}
	sum = string(suf[len(`,"hash":"`) : len(suf)-2])
	if _, err := hex.DecodeString(sum); err != nil {
		return nil, "", false
	}
	canon = append(append(make([]byte, 0, cut+1), line[:cut]...), '}')
	return canon, sum, true
}

func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// Log appends a custody entry recording what a command did to the case
// (ingest, export, ...). The entry is on disk (fsynced) when Log returns.
func (c *Case) Log(action string, details map[string]any) error {
	err := c.withLock(func(w *custodyWriter) error {
		_, err := w.append(action, details)
		return err
	})
	// Anyone may verify a signed case, but only its examiner can sign: a
	// verification by someone without the key, or of a copy that cannot be
	// written, is not recorded, rather than failing or breaking the
	// signatures. Every other entry needs the key and a writable case.
	if action == "verify" && (errors.Is(err, ErrNeedsKey) || isReadOnly(err)) {
		return nil
	}
	return err
}

// withReadLock runs a read-only fn over custody.log like withLock, and, on
// a copy of the case that cannot be written (write-protected media, a
// read-only mount, a folder the verifier may only read), over the log
// opened read-only and unlocked: nobody can append to such a copy, and
// refusing to verify it would help no one.
//
// Reading neither waits for the pending registrations nor is refused after
// one failed (see Registration): it sees the log as written.
func (c *Case) withReadLock(fn func(*custodyWriter) error) error {
	err := c.withLockNow(fn)
	if err == nil || !isReadOnly(err) {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, oerr := os.Open(c.path(custodyFile))
	if oerr != nil {
		return fmt.Errorf("custody log: %w", oerr)
	}
	defer f.Close()
	return fn(&custodyWriter{c: c, f: f})
}

// isReadOnly tells an error from opening a file for writing on a copy that
// cannot be written.
func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission)
}

// custodyWriter is custody.log opened for appending, held under the lock.
type custodyWriter struct {
	c *Case
	f *os.File
}

// withLock runs fn holding both the in-process mutex and the file lock on
// custody.log, once the pending registrations are written (see
// Registration): an entry never comes before the registration of an item
// it may be about. When one fails, fn is not run.
func (c *Case) withLock(fn func(*custodyWriter) error) error {
	if err := c.commitPending(); err != nil {
		return err
	}
	return c.withLockNow(fn)
}

// withLockNow is withLock without the pending registrations first: the
// registrations' own. Registry updates run under it, so an item and its
// custody entry are written together.
func (c *Case) withLockNow(fn func(*custodyWriter) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.path(custodyFile), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("custody log: %w", err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock %s: %w", c.path(custodyFile), err)
	}
	defer unlockFile(f)
	w := &custodyWriter{c: c, f: f}
	before := c.fileDigests()
	err = fn(w)
	// A command that rewrote a case file (evidence.json after a
	// registration) gets the file's new SHA-256 into the chain, so verify
	// can tell a later edit of it from the commands' own writes.
	if changed := c.changedFiles(before); len(changed) > 0 {
		if _, lerr := w.append("case_files", map[string]any{"files": changed}); lerr != nil && err == nil {
			err = lerr
		}
	}
	return err
}

func (w *custodyWriter) append(action string, details map[string]any) (Entry, error) {
	return w.appendAt(w.c.now(), action, details)
}

func (w *custodyWriter) appendAt(now time.Time, action string, details map[string]any) (Entry, error) {
	if action == "" {
		return Entry{}, errors.New("custody entry needs an action")
	}
	c := w.c
	tail, err := tailLines(w.f, 2)
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", c.path(custodyFile), err)
	}
	body := entryBody{Seq: 1, Time: now.UTC(), Examiner: c.examiner, Action: action, Details: details}
	if body.Details == nil {
		body.Details = map[string]any{}
	}
	if c.signer != nil {
		body.Signer = c.signer.Public().String()
	}
	if n := len(tail); n > 0 {
		if err := c.checkHead(tail); err != nil {
			return Entry{}, err
		}
		last, _ := peekEntry(tail[n-1])
		if err := c.checkSigner(last.Signer); err != nil {
			return Entry{}, err
		}
		body.Seq = last.Seq + 1
		body.Prev = lineHash(tail[n-1])
	} else if err := c.checkSigner(""); err != nil {
		return Entry{}, err
	}
	line, sum, err := encodeEntry(body)
	if err != nil {
		return Entry{}, err
	}
	// One write of the whole line: with O_APPEND the kernel places it at the
	// end in one piece, and the lock keeps other writers out meanwhile.
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return Entry{}, fmt.Errorf("append to %s: %w", c.path(custodyFile), err)
	}
	if err := w.f.Sync(); err != nil {
		return Entry{}, fmt.Errorf("sync %s: %w", c.path(custodyFile), err)
	}
	if c.signer != nil {
		if err := c.appendSignature(body.Seq, sum); err != nil {
			return Entry{}, err
		}
	}
	if err := writeJSONAtomic(c.path(headFile), head{Seq: body.Seq, Hash: sum}); err != nil {
		return Entry{}, fmt.Errorf("custody head: %w", err)
	}
	return Entry{Seq: body.Seq, Time: body.Time, Examiner: body.Examiner, Action: action,
		Details: body.Details, Prev: body.Prev, Signer: body.Signer, Hash: sum}, nil
}

// checkHead refuses to extend a log whose end disagrees with custody.head:
// appending would hide a truncation behind a fresh, valid head. The head may
// lag by one entry (a crash between the log's fsync and the head's rename).
func (c *Case) checkHead(tail [][]byte) error {
	var h head
	if err := readJSON(c.path(headFile), &h); err != nil {
		return fmt.Errorf("custody log: %w", err)
	}
	for i := len(tail) - 1; i >= 0 && i >= len(tail)-2; i-- {
		e, err := peekEntry(tail[i])
		if err != nil {
			return fmt.Errorf("%s: last entries unreadable (%v); run verify", c.path(custodyFile), err)
		}
		if e.Seq == h.Seq && e.Hash == h.Hash {
			return nil
		}
	}
	return fmt.Errorf("%s does not end at the entry recorded in %s (seq %d): the log was cut short or rewritten; run verify before adding to it",
		c.path(custodyFile), c.path(headFile), h.Seq)
}

func peekEntry(line []byte) (head, error) {
	var e head
	err := json.Unmarshal(line, &e)
	return e, err
}

// tailLines returns up to k last lines of f (without newlines), reading
// backwards so appending stays cheap however long the log grows. A file not
// ending in a newline was cut mid-line: that is an error, not a line.
func tailLines(f *os.File, k int) ([][]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return nil, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return nil, err
	}
	if last[0] != '\n' {
		return nil, errors.New("last line is incomplete (no newline): the log was cut mid-entry; run verify")
	}
	const chunk = 4096
	var buf []byte
	end := size - 1 // drop the final newline
	pos := end
	for pos > 0 && bytes.Count(buf, []byte{'\n'}) < k {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		pos -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, pos); err != nil && err != io.EOF {
			return nil, err
		}
		buf = append(b, buf...)
	}
	lines := bytes.Split(buf, []byte{'\n'})
	if pos > 0 || len(lines) > k {
		lines = lines[len(lines)-k:] // the first piece may be a partial line
	}
	return lines, nil
}
