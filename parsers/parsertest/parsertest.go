// Package parsertest runs parsers on real files outside the ingest pipeline
// and holds the contract every parser must keep. Each parser package calls
// Contract from its tests with a few real files of its format.
package parsertest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Result is what a parser produced for one file.
type Result struct {
	Events   []*timeline.Event
	Warnings []*parsers.RecordError
	Err      error // Parse's own return value
}

// Corpus returns the path of a corpus file: from ../shared/corpus, the
// whole corpus (present in CI), else from the repository's fixtures/corpus,
// its redistributable part (scripts/vendor-corpus.sh). A file only the
// shared corpus holds (GPL, AGPL, research-only terms) skips the test with
// a message saying so when that folder is absent; a file the vendored copy
// should hold and does not fails it.
func Corpus(t testing.TB, rel string) string {
	t.Helper()
	dir, err := CorpusDir()
	if err != nil {
		t.Skipf("corpus not found (%v): needed for %s", err, rel)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		if filepath.Base(dir) == "corpus" && filepath.Base(filepath.Dir(dir)) == "fixtures" {
			t.Skipf("shared corpus not found: %s is not redistributable, so only ../shared/corpus holds it", rel)
		}
		t.Fatalf("corpus file %s: %v", rel, err)
	}
	return p
}

// Shared reports whether the corpus at hand is the whole shared corpus
// (../shared/corpus, or $JEJAK_CORPUS outside fixtures) rather than the
// repository's redistributable copy: tests that count what a walk of the
// corpus finds expect less of the copy.
func Shared() bool {
	dir, err := CorpusDir()
	if err != nil {
		return false
	}
	return !(filepath.Base(dir) == "corpus" && filepath.Base(filepath.Dir(dir)) == "fixtures")
}

// CorpusDir returns the corpus folder: $JEJAK_CORPUS when set, else
// corpus in the shared folder (see SharedDir), else the module's own
// fixtures/corpus.
func CorpusDir() (string, error) {
	if d := os.Getenv("JEJAK_CORPUS"); d != "" {
		return d, nil
	}
	return sharedOrOwn("corpus", filepath.Join("fixtures", "corpus"))
}

// SigmaDir returns the SigmaHQ snapshot (DRL-1.1): sigma in the shared
// folder (see SharedDir) when it is there, the whole snapshot; else the
// module's fixtures/sigma, the part of it the tests read
// (scripts/vendor-corpus.sh). It always returns a path; when neither
// exists (no go.mod above the working folder) it is one that does not
// exist, and the callers' os.Stat skips the test.
func SigmaDir() string {
	d, err := sharedOrOwn("sigma", filepath.Join("fixtures", "sigma"))
	if err != nil {
		return filepath.Join("fixtures", "sigma")
	}
	return d
}

// SharedDir returns the folder of data shared beside the repository:
// $JEJAK_SHARED when set, else ../shared beside the module root. Setting
// JEJAK_SHARED to a path that does not exist makes the tests read only
// what a fresh clone has (fixtures/corpus, fixtures/sigma) without moving
// the shared folder.
func SharedDir() (string, error) {
	if d := os.Getenv("JEJAK_SHARED"); d != "" {
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Clean(filepath.Join(root, "..", "shared")), nil
}

// sharedOrOwn returns name in the shared folder when it exists, else own
// (a path relative to the module root) when that exists.
func sharedOrOwn(name, own string) (string, error) {
	shared, err := SharedDir()
	if err != nil {
		return "", err
	}
	if d := filepath.Join(shared, name); exists(d) {
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(root, own)
	if _, err := os.Stat(d); err != nil {
		return "", err
	}
	return d, nil
}

// moduleRoot is the nearest folder above the working folder with a
// go.mod: the jejak module root for its tests (fixtures/corpus has a
// go.mod of its own, but no test runs inside it).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above " + wd)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// CopyCorpus writes each corpus file files[name] (a path as Corpus takes
// it) to root/name (slash-separated, folders made as needed), modified at
// mtime: a folder of real files for tests that ingest one.
func CopyCorpus(t testing.TB, root string, files map[string]string, mtime time.Time) {
	t.Helper()
	for name, rel := range files {
		b, err := os.ReadFile(Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// FileEntry describes a real file on disk as a walker would, with its
// modification time, so year inference and provenance work as in ingest.
func FileEntry(t testing.TB, path string) *jfs.Entry {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	e := jfs.NewEntry(filepath.Base(path), []string{"file:" + filepath.Base(path)}, st.Size(),
		func() (io.ReadCloser, error) { return os.Open(path) },
		func() (io.ReaderAt, error) { return os.Open(path) })
	e.Times.Modified = st.ModTime().UTC()
	e.Mode = st.Mode()
	return e
}

// BytesEntry is an in-memory file, for fuzzing and truncation tests.
func BytesEntry(name string, b []byte, mtime time.Time) *jfs.Entry {
	e := jfs.NewEntry(name, []string{"file:" + name}, int64(len(b)),
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		func() (io.ReaderAt, error) { return bytes.NewReader(b), nil })
	e.Times.Modified = mtime
	return e
}

// Parse runs p on an entry as the pipeline would, filling in the provenance
// fields the pipeline owns and finalizing each event.
func Parse(ctx context.Context, p parsers.Parser, e *jfs.Entry, zone *time.Location) Result {
	var res Result
	rc, err := e.Open()
	if err != nil {
		res.Err = err
		return res
	}
	defer rc.Close()
	src := &parsers.Source{Entry: e, R: rc, Size: e.Size, Zone: zone,
		Warn: func(w *parsers.RecordError) { res.Warnings = append(res.Warnings, w) }}
	if ra, ok, _ := e.ReaderAt(); ok {
		src.ReaderAt = ra
		if c, ok := ra.(io.Closer); ok {
			defer c.Close()
		}
	}
	res.Err = p.Parse(ctx, src, func(ev *timeline.Event) error {
		ev.Jejak.Provenance.EvidenceSHA256 = "0000000000000000000000000000000000000000000000000000000000000000"
		ev.Jejak.Provenance.EvidenceName = e.Path
		ev.Jejak.Provenance.Chain = e.Chain
		ev.Jejak.Provenance.Path = e.Path
		ev.Jejak.Provenance.Parser = p.Name()
		ev.Finalize()
		res.Events = append(res.Events, ev)
		return nil
	})
	return res
}

// ParseFile runs p on a real file in zone (UTC when nil).
func ParseFile(t testing.TB, p parsers.Parser, path string, zone *time.Location) Result {
	t.Helper()
	if zone == nil {
		zone = time.UTC
	}
	return Parse(context.Background(), p, FileEntry(t, path), zone)
}

// Contract checks what every parser promises, on real files of its format:
// it accepts them in Match; every event has a UTC time, a timestamp_desc, a
// message and an offset inside the file; warnings name the parser and the
// file (Source.Warnf fills both, with no Source.Parser set, as a caller
// outside ingest builds it); truncated
// copies never panic; a cancelled context stops it.
func Contract(t *testing.T, p parsers.Parser, files ...string) {
	t.Helper()
	if p.Name() == "" {
		t.Fatal("parser has no name")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			e := FileEntry(t, path)
			head := data[:min(len(data), parsers.HeadSize)]
			if !p.Match(e, head) {
				t.Errorf("Match rejects %s", path)
			}
			res := Parse(context.Background(), p, e, time.UTC)
			if res.Err != nil {
				t.Fatalf("Parse: %v", res.Err)
			}
			if len(res.Events) == 0 {
				t.Fatalf("no events from %s", path)
			}
			for i, ev := range res.Events {
				if ev.Timestamp.Location() != time.UTC {
					t.Errorf("event %d: timestamp not UTC", i)
				}
				if ev.TimestampDesc == "" {
					t.Errorf("event %d: no timestamp_desc", i)
				}
				if ev.Message == "" {
					t.Errorf("event %d: no message", i)
				}
				if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(data)) {
					t.Errorf("event %d: offset %d outside the file (%d bytes)", i, o, len(data))
				}
			}
			checkWarnings(t, p, e.Path, res.Warnings)
			// Truncated copies: no panic, and an error is allowed; what
			// they warn must still name this parser and this file.
			for _, n := range []int{0, 1, len(data) / 3, len(data) / 2, len(data) - 1} {
				if n < 0 || n > len(data) {
					continue
				}
				cut := Parse(context.Background(), p, BytesEntry(e.Path, data[:n], e.Times.Modified), time.UTC)
				checkWarnings(t, p, e.Path, cut.Warnings)
			}
			// Cancellation: a parser must notice a cancelled context.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			res = Parse(ctx, p, BytesEntry(e.Path, data, e.Times.Modified), time.UTC)
			if res.Err == nil && len(res.Events) > 1 {
				t.Errorf("cancelled context: parser went on (%d events, no error)", len(res.Events))
			}
		})
	}
}

// checkWarnings checks that each record warning names parser p, the file
// at path and a cause: the fields Source.Warnf fills from the source.
func checkWarnings(t *testing.T, p parsers.Parser, path string, ws []*parsers.RecordError) {
	t.Helper()
	for _, w := range ws {
		if w.Parser != p.Name() || w.Path != path || w.Err == nil {
			t.Errorf("warning should name parser %q, file %q and a cause: %+v", p.Name(), path, w)
		}
	}
}
