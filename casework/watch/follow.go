package watch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// follower reads one log file as it grows, across rotations:
//   - rename + create (logrotate's default): the path names a new inode;
//     the old file, still open, is read to its end first, then the new one
//     from its start;
//   - copytruncate: the same inode shrinks below the offset read; the lines
//     written after that offset and before the truncation are in the copy
//     (a sibling file whose first line is the one this file had), read
//     from there, and the file is then read again from its start.
//
// Only complete lines are read; a line still being written waits for its
// newline (a rotated-away file's last line is read as it is).
type follower struct {
	w     *Watcher
	src   int
	path  string
	f     *os.File
	st    fileState // the open file, positioned after the last queued line
	buf   []byte
	found bool // the file was seen at least once (for the "waiting" warning)
}

const readChunk = 256 << 10

func (fl *follower) run(ctx context.Context) error {
	fl.buf = make([]byte, readChunk)
	defer func() {
		if fl.f != nil {
			fl.f.Close()
		}
	}()
	if err := fl.resume(ctx); err != nil {
		return err
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		moved := false
		if fl.f != nil {
			n, err := fl.read(ctx, fl.f, &fl.st, false)
			if err != nil {
				return err
			}
			moved = n > 0
		}
		if err := fl.checkRotation(ctx); err != nil {
			return err
		}
		if !moved {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(fl.w.cfg.Poll):
			}
		}
	}
}

// resume opens the file where the last run left it (see offsets).
func (fl *follower) resume(ctx context.Context) error {
	saved, ok := fl.w.offsets.get(fl.path)
	if err := fl.open(); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	if fl.f == nil {
		// Rotated away while no one watched, and not created again yet.
		fl.drainSibling(ctx, saved)
		return nil
	}
	head, _ := headHash(fl.f)
	if saved.Dev == fl.st.Dev && saved.Ino == fl.st.Ino && head == saved.Head {
		if fi, err := fl.f.Stat(); err == nil && fi.Size() >= saved.Offset {
			fl.st = saved
			return nil
		}
	}
	// The file was rotated (or truncated) while no one watched: finish
	// the old file from its sibling, then read the new one from the start.
	fl.drainSibling(ctx, saved)
	return nil
}

// open opens the path, if it exists, at its start.
func (fl *follower) open() error {
	f, err := os.Open(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		if !fl.found {
			fl.found = true
			fl.w.warnf(fl.src, fl.path, -1, "%s does not exist (yet): waiting for it", fl.path)
		}
		return nil
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return errors.New(fl.path + " is not a regular file")
	}
	fl.found = true
	dev, ino := fileID(fi)
	fl.f = f
	fl.st = fileState{Dev: dev, Ino: ino}
	fl.w.chooseParser(fl.src, f)
	return nil
}

func (fl *follower) checkRotation(ctx context.Context) error {
	fi, err := os.Stat(fl.path)
	if err != nil {
		return nil // renamed away and not created yet: keep reading the old one
	}
	if fl.f == nil {
		return fl.open()
	}
	dev, ino := fileID(fi)
	if dev != fl.st.Dev || ino != fl.st.Ino {
		// Renamed away: what the old file holds past our offset is its
		// last lines; read them (the last even without a newline).
		if _, err := fl.read(ctx, fl.f, &fl.st, true); err != nil {
			return err
		}
		fl.f.Close()
		fl.f = nil
		fl.w.stats[fl.src].Rotations.Add(1)
		return fl.open()
	}
	if fi.Size() < fl.st.Offset {
		// Truncated in place (copytruncate): the lines between our offset
		// and the truncation are in the copy.
		fl.drainSibling(ctx, fl.st)
		fl.w.stats[fl.src].Truncations.Add(1)
		fl.st = fileState{Dev: dev, Ino: ino}
		fl.w.chooseParser(fl.src, fl.f)
	}
	return nil
}

// drainSibling reads, from a rotated copy of a file (a file in the same
// folder whose name starts with the followed one's, not compressed), what
// lies past st.Offset: the same inode when the file was renamed (preferred),
// else a file with the same first line, as copytruncate's copy is.
func (fl *follower) drainSibling(ctx context.Context, st fileState) {
	if st.Head == "" {
		return
	}
	dir, base := filepath.Split(fl.path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var best string
	bestInode := false
	for _, de := range ents {
		name := de.Name()
		if name == base || !strings.HasPrefix(name, base) || compressedName(name) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() < st.Offset {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		head, _ := headHash(f)
		f.Close()
		if head != st.Head {
			continue
		}
		dev, ino := fileID(fi)
		same := dev == st.Dev && ino == st.Ino
		if best == "" || same && !bestInode {
			best, bestInode = p, same
		}
	}
	if best == "" {
		if st.Offset > 0 {
			fl.w.warnf(fl.src, fl.path, st.Offset, "%s was rotated or truncated and no copy of it was found beside it: lines written after offset %d before the rotation may not have been read", fl.path, st.Offset)
		}
		return
	}
	f, err := os.Open(best)
	if err != nil {
		return
	}
	defer f.Close()
	s := st
	if _, err := fl.read(ctx, f, &s, true); err != nil {
		fl.w.warnf(fl.src, best, s.Offset, "reading the rotated copy %s: %v", best, err)
	}
}

func compressedName(n string) bool {
	for _, ext := range []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// headHash is the hash of a file's first line (newline included), or of
// its first 4 KiB when the line is longer; "" while the first line is not
// complete.
func headHash(f *os.File) (string, error) {
	b := make([]byte, 4096)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	b = b[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else if n < 4096 {
		return "", nil
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// read queues the complete lines of f past st.Offset; final also takes a
// last line without a newline (the file will not grow any more). It
// returns how many bytes it consumed.
func (fl *follower) read(ctx context.Context, f *os.File, st *fileState, final bool) (int64, error) {
	if st.Head == "" {
		h, err := headHash(f)
		if err != nil {
			return 0, err
		}
		if h == "" && !final {
			return 0, nil // not even one whole line yet
		}
		st.Head = h
	}
	var total int64
	for ctx.Err() == nil {
		n, err := f.ReadAt(fl.buf, st.Offset)
		if err != nil && !errors.Is(err, io.EOF) {
			return total, err
		}
		data := fl.buf[:n]
		used := 0
		for {
			i := bytes.IndexByte(data[used:], '\n')
			if i < 0 {
				break
			}
			if !fl.queue(st, data[used:used+i+1]) {
				return total, nil
			}
			used += i + 1
		}
		switch {
		case used == 0 && n == len(fl.buf):
			// A line longer than the buffer: taken as one record, cut.
			if !fl.queue(st, data) {
				return total, nil
			}
			used = n
		case final && used < n && n < len(fl.buf):
			if !fl.queue(st, data[used:]) {
				return total, nil
			}
			used = n
		}
		total += int64(used)
		if n < len(fl.buf) {
			break
		}
	}
	return total, nil
}

// queue sends one line (raw, newline included) and moves st past it.
func (fl *follower) queue(st *fileState, raw []byte) bool {
	text := bytes.TrimRight(raw, "\r\n")
	next := *st
	next.Offset += int64(len(raw))
	next.Line++
	it := &item{Src: fl.src, Label: fl.w.sources[fl.src].label, Path: fl.path, Ident: st.identity(),
		Off: st.Offset, Rec: next.Line, End: next.Offset, Text: append([]byte(nil), text...),
		Recv: fl.w.cfg.Now(), file: &fileMark{path: fl.path, state: next}}
	s := fl.w.stats[fl.src]
	s.Lines.Add(1)
	s.Bytes.Add(int64(len(raw)))
	if !fl.w.q.putWait(it) {
		return false
	}
	*st = next
	return true
}
