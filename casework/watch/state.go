package watch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// fileState is where a followed file was read up to: its identity (device
// and inode, and a hash of its first line, which tells a file truncated in
// place by copytruncate, or an inode number reused, from the one read
// before) and the offset and line number after the last stored line.
type fileState struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Head   string `json:"head"` // hex SHA-256 of the first line, newline included
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
}

// identity is the provenance identity of a file's lines: it changes when
// the path gets a new file (rotation) or a file starts over (truncation),
// so the lines of two generations never share an event ID.
func (s fileState) identity() string {
	h := s.Head
	if len(h) > 16 {
		h = h[:16]
	}
	return "dev" + utoa(s.Dev) + ":ino" + utoa(s.Ino) + ":head" + h
}

// offsets is the persisted map path → fileState, written after each batch
// is stored: a restart resumes after the last stored line, and a line
// stored but not yet committed here is read again and counted a duplicate
// by the store, never stored twice.
type offsets struct {
	mu    sync.Mutex
	path  string
	files map[string]fileState
	dirty bool
}

func loadOffsets(path string) (*offsets, error) {
	o := &offsets{path: path, files: map[string]fileState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &o.files); err != nil {
		return nil, errors.New(path + ": " + err.Error())
	}
	return o, nil
}

func (o *offsets) get(path string) (fileState, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.files[path]
	return s, ok
}

func (o *offsets) set(path string, s fileState) {
	o.mu.Lock()
	o.files[path] = s
	o.dirty = true
	o.mu.Unlock()
}

// save writes the map atomically (a temporary file renamed over the old
// one), so a kill at any moment leaves the old or the new map, whole.
func (o *offsets) save() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.dirty {
		return nil
	}
	b, err := json.MarshalIndent(o.files, "", "  ")
	if err != nil {
		return err
	}
	tmp := o.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, o.path); err != nil {
		return err
	}
	o.dirty = false
	return nil
}

func utoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}
