package sqlite

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// farAndBare are events whose stored columns take the other types: times
// outside date_nanos (ts the REAL farTS) and at its edges, no action and
// no source address (NULL).
func farAndBare() []*timeline.Event {
	var out []*timeline.Event
	for i, at := range []time.Time{
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Unix(0, 1<<63-1),
		time.Date(2300, 6, 1, 12, 0, 0, 0, time.UTC),
	} {
		e := &timeline.Event{
			Timestamp: at, TimestampDesc: "Last Written Time", Message: "bare",
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{
				EvidenceSHA256: "ee", EvidenceName: "far.log", Path: "far.log",
				Offset: int64(i), Record: int64(i + 1), Parser: "syslog",
			}},
		}
		e.Finalize()
		out = append(out, e)
	}
	return out
}

// mixedParsers are events of a few parsers, none included (NULL), taking
// turns within one block, and a block of one other parser.
func mixedParsers() []*timeline.Event {
	evs := events(300, "dd")
	for i, e := range evs {
		e.Jejak.ID = ""
		switch {
		case i >= 200:
			e.Jejak.Provenance.Parser = "auditd"
		case i%3 == 1:
			e.Jejak.Provenance.Parser = "mft"
		case i%3 == 2:
			e.Jejak.Provenance.Parser = ""
		}
		e.Finalize()
	}
	return evs
}

// TestDigestStream: the digest a first run hashes as it writes
// (DigestRows, FinishDigest) is byte for byte what Digest reads back from
// the file, over several batches of rows of every stored type; where the
// rows hashed may not be the table's, FinishDigest says so and writes
// nothing more: repeats removed at the end of the run, a row another
// connection added or removed, writes not finished, a store that held
// events before (no stream at all).
func TestDigestStream(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// run writes the run's events between DigestRows and FinishDigest;
		// it finishes the writes itself.
		run    func(t *testing.T, s *Store)
		ok     bool
		broken string // what digestBroken says before FinishDigest
	}{
		{"one batch", func(t *testing.T, s *Store) {
			write(t, s, events(3000, "aa"))
			finish(t, s, 0)
		}, true, ""},
		{"batches of every type", func(t *testing.T, s *Store) {
			write(t, s, events(700, "aa"))
			write(t, s, farAndBare())
			write(t, s, events(1, "bb"))
			write(t, s, events(2100, "cc"))
			write(t, s, mixedParsers())
			finish(t, s, 0)
		}, true, ""},
		{"nothing written", func(t *testing.T, s *Store) {
			finish(t, s, 0)
		}, true, ""},
		{"repeats removed", func(t *testing.T, s *Store) {
			write(t, s, events(300, "aa"))
			write(t, s, events(10, "aa"))
			finish(t, s, 10)
		}, false, "10 repeated events removed"},
		{"a row added by another connection between batches", func(t *testing.T, s *Store) {
			write(t, s, events(300, "aa"))
			otherConn(t, s, `INSERT INTO event_rows(id, ts, action, parser, source_ip, run, blk, slot)
				SELECT randomblob(16), ts, action, parser, source_ip, run, blk, slot FROM event_rows WHERE rowid = 3`)
			write(t, s, events(300, "bb"))
			finish(t, s, 0)
		}, false, "rows got rowids up to 429, not 301 to 428"},
		{"a row added by another connection at the end", func(t *testing.T, s *Store) {
			write(t, s, events(300, "aa"))
			finish(t, s, 0)
			otherConn(t, s, `INSERT INTO event_rows(id, ts, action, parser, source_ip, run, blk, slot)
				SELECT randomblob(16), ts, action, parser, source_ip, run, blk, slot FROM event_rows WHERE rowid = 3`)
		}, false, ""},
		{"a row removed by another connection", func(t *testing.T, s *Store) {
			write(t, s, events(300, "aa"))
			finish(t, s, 0)
			otherConn(t, s, `DELETE FROM event_rows WHERE rowid = 7`)
		}, false, ""},
		{"writes not finished", func(t *testing.T, s *Store) {
			write(t, s, events(300, "aa"))
		}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
				t.Fatal(err)
			}
			var streamed bytes.Buffer
			if !s.DigestRows(&streamed) {
				t.Fatal("DigestRows refused the first run into an empty store")
			}
			c.run(t, s)
			if got := s.digestBroken(); got != c.broken {
				t.Errorf("stream broken: %q, want %q", got, c.broken)
			}
			before := streamed.Len()
			n, ok, err := s.FinishDigest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.ok {
				t.Fatalf("FinishDigest ok = %v, want %v", ok, c.ok)
			}
			var read bytes.Buffer
			want, err := Digest(ctx, s.DB(), &read)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if streamed.Len() != before {
					t.Errorf("FinishDigest wrote %d bytes though it refused", streamed.Len()-before)
				}
				return
			}
			if n != want {
				t.Errorf("FinishDigest counts %d events, Digest %d", n, want)
			}
			if !bytes.Equal(streamed.Bytes(), read.Bytes()) {
				t.Errorf("streamed digest input (%d bytes) differs from Digest's (%d bytes) at byte %d",
					streamed.Len(), read.Len(), firstDiff(streamed.Bytes(), read.Bytes()))
			}
			// Once only: the stream is used up.
			if _, again, err := s.FinishDigest(ctx); err != nil || again {
				t.Errorf("second FinishDigest = %v, %v; want false", again, err)
			}
		})
	}
}

// TestDigestStreamOnlyFirstRun: DigestRows refuses a run into a store that
// holds events, and a run that has written already; a new run forgets an
// earlier run's stream.
func TestDigestStreamOnlyFirstRun(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	write(t, s, events(10, "aa"))
	var w bytes.Buffer
	if s.DigestRows(&w) {
		t.Error("DigestRows accepted a run that has written")
	}
	finish(t, s, 0)
	if _, err := s.BeginRun(ctx, time.Unix(2, 0), "test"); err != nil {
		t.Fatal(err)
	}
	if s.DigestRows(&w) {
		t.Error("DigestRows accepted a run into a store holding events")
	}
	write(t, s, events(10, "bb"))
	if _, ok, err := s.FinishDigest(ctx); err != nil || ok {
		t.Errorf("FinishDigest of a second run = %v, %v; want false", ok, err)
	}
	if w.Len() != 0 {
		t.Errorf("%d bytes written to a stream refused", w.Len())
	}
}

func write(t *testing.T, s *Store, evs []*timeline.Event) {
	t.Helper()
	if _, err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func finish(t *testing.T, s *Store, wantRepeats int) {
	t.Helper()
	if n, err := s.FinishWrites(context.Background()); err != nil || n != wantRepeats {
		t.Fatalf("FinishWrites = %d, %v; want %d", n, err, wantRepeats)
	}
}

// otherConn runs SQL on a connection of the pool other than the one Write uses.
func otherConn(t *testing.T, s *Store, q string) {
	t.Helper()
	if res, err := s.DB().Exec(q); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", strings.Fields(q)[0])
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// failAfter is a writer that fails once it has taken n bytes.
type failAfter struct {
	n   int
	got bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.got.Len()+len(p) > f.n {
		return 0, errors.New("disk full")
	}
	return f.got.Write(p)
}

// TestAsyncWriter: what is written comes out in order and whole, whatever
// the sizes of the writes (none, one byte, a buffer exactly, more than the
// buffers in turn); the destination's error comes back from Close.
func TestAsyncWriter(t *testing.T) {
	for _, c := range []struct {
		name  string
		sizes []int
	}{
		{"nothing", nil},
		{"one byte", []int{1}},
		{"one buffer", []int{asyncBuf}},
		{"a buffer and a byte", []int{asyncBuf, 1}},
		{"rows", slices.Repeat([]int{97}, 20000)},
		{"blocks", slices.Repeat([]int{6400, asyncBuf + 3, 0}, 7)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			a := newAsyncWriter(&got)
			for i, n := range c.sizes {
				p := bytes.Repeat([]byte{byte(i)}, n)
				want.Write(p)
				if m, err := a.Write(p); m != n || err != nil {
					t.Fatalf("Write = %d, %v", m, err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%d bytes out, %d in", got.Len(), want.Len())
			}
		})
	}
	f := &failAfter{n: asyncBuf}
	a := newAsyncWriter(f)
	for range 10 {
		a.Write(make([]byte, asyncBuf/2+1))
	}
	if err := a.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close after the destination failed: %v", err)
	}
}
