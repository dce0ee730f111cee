package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestStoredDocuments: each event is stored once, compressed in a block
// of consecutive events: a block holds neither the JSON text as such nor
// the event IDs, rows name their block and slot, the view events gives
// back exactly the document ScanRaw and Search see.
func TestStoredDocuments(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(500, "aa")
	evs = append(evs, storetest.Events()...)
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{}
	if err := s.ScanRaw(ctx, func(id string, doc []byte) error { raw[id] = string(doc); return nil }); err != nil {
		t.Fatal(err)
	}
	searched := map[string]string{}
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error { searched[e.Jejak.ID] = e.Message; return nil }); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().Query(`SELECT id, doc, blk, slot FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	text := 0
	perBlock := map[int64]int{}
	for rows.Next() {
		var id []byte
		var doc string
		var blk, slot int64
		if err := rows.Scan(&id, &doc, &blk, &slot); err != nil {
			t.Fatal(err)
		}
		n++
		perBlock[blk]++
		if slot < 0 || slot >= blockRows {
			t.Errorf("slot %d", slot)
		}
		h := hex.EncodeToString(id)
		if doc != raw[h] {
			t.Errorf("%s: the view's doc differs from ScanRaw's:\n%s\n%s", h, doc, raw[h])
		}
		var e timeline.Event
		if err := json.Unmarshal([]byte(doc), &e); err != nil || e.Jejak.ID != h {
			t.Errorf("%s: doc is not the event's JSON (%v, ID %q)", h, err, e.Jejak.ID)
		}
		if m, ok := searched[h]; !ok || m != e.Message {
			t.Errorf("%s: Search gave message %q (%v), the view %q", h, m, ok, e.Message)
		}
		text += len(doc)
	}
	if n != len(evs) {
		t.Errorf("%d rows, want %d", n, len(evs))
	}
	// 508 events in one chunk: blocks of blockRows, the last one short.
	if want := (len(evs) + blockRows - 1) / blockRows; len(perBlock) != want {
		t.Errorf("%d blocks hold rows, want %d", len(perBlock), want)
	}
	brows, err := s.DB().Query(`SELECT z FROM blocks`)
	if err != nil {
		t.Fatal(err)
	}
	defer brows.Close()
	stored := 0
	for brows.Next() {
		var z []byte
		if err := brows.Scan(&z); err != nil {
			t.Fatal(err)
		}
		for id := range raw {
			if strings.Contains(string(z), id) {
				t.Errorf("a stored block holds the event ID %s", id)
			}
		}
		if strings.Contains(string(z), `"message"`) {
			t.Error("a stored block holds plain JSON")
		}
		stored += len(z)
	}
	if stored*8 > text {
		t.Errorf("blocks %d bytes for %d bytes of JSON: less than 8:1", stored, text)
	}
}

// TestDuplicateBlocksNotStored: writing the same events again into a
// store with its unique index stores no block for them (a second ingest
// of the same evidence must not grow the store).
func TestDuplicateBlocksNotStored(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(300, "ab")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		s.DB().QueryRow(`SELECT count(*) FROM blocks`).Scan(&n)
		return n
	}
	before := count()
	st, err := s.Write(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != 0 || st.Duplicates != len(evs) {
		t.Errorf("second Write: %+v, want %d duplicates", st, len(evs))
	}
	if after := count(); after != before {
		t.Errorf("%d blocks after writing the same events again, %d before", after, before)
	}
}

// TestBlockCacheBound: a storage-order scan's cache of decoded blocks
// stays under its plain bound, however the rows are read; read in
// storage order each block is decoded once, read against it (every slot
// across all blocks in turn) with fewer blocks than the cache holds each
// block is decoded again for every row, which is why time-ordered reads
// go by windows (blockread.go) and not through this cache.
func TestBlockCacheBound(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(blockRows*40, "ac")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	fetch, closeFetch, err := blockFetcher(ctx, s.DB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFetch()
	ids := blockIDs(t, s)
	if len(ids) != 40 {
		t.Fatalf("%d blocks, want 40", len(ids))
	}
	one := newBlockCache(1<<30, fetch)
	b, err := one.get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	size := len(b.data)
	for _, c := range []struct {
		name      string
		max       int
		across    bool
		minDecode int // decoded bytes, in blocks
		maxDecode int
	}{
		{"in order, small cache", 2 * size, false, 40, 40},
		// The LRU evicts every block just before it is needed again.
		{"across, small cache", 4 * size, true, 40 * blockRows, 40 * blockRows},
		{"across, large cache", 64 * size, true, 40, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := newBlockCache(c.max, fetch)
			defer cache.release()
			read := func(blk int64, slot int64) {
				b, err := cache.get(blk)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.doc(slot); err != nil {
					t.Fatal(err)
				}
				if cache.used > cache.max+size {
					t.Fatalf("cache holds %d bytes, bound %d", cache.used, cache.max)
				}
			}
			if c.across {
				for slot := range int64(blockRows) {
					for _, id := range ids {
						read(id, slot)
					}
				}
			} else {
				for _, id := range ids {
					for slot := range int64(blockRows) {
						read(id, slot)
					}
				}
			}
			blocks := int(cache.decoded / int64(size))
			if blocks < c.minDecode*9/10 || blocks > c.maxDecode*11/10 {
				t.Errorf("decoded about %d blocks, want %d to %d", blocks, c.minDecode, c.maxDecode)
			}
		})
	}
	if _, err := newBlockCache(1<<20, fetch).get(ids[len(ids)-1] + 1); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a block that does not exist: %v", err)
	}
}

// blockIDs returns the ids of s's blocks in order.
func blockIDs(t testing.TB, s *Store) []int64 {
	t.Helper()
	rows, err := s.DB().Query(`SELECT id FROM blocks ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestBlockFetcherCancel: the block fetches run on a context that is
// never cancelled (no watcher goroutines per fetch), so the fetcher must
// see the caller's cancel itself: a fetch after it returns ctx.Err(),
// and a read stopped mid-way by a cancel or a deadline ends with that
// error, in time order (windows) and in storage order (blockCache).
func TestBlockFetcherCancel(t *testing.T) {
	s := open(t)
	if _, err := s.Write(context.Background(), events(blockRows*40, "ac")); err != nil {
		t.Fatal(err)
	}
	ids := blockIDs(t, s)
	const stopAt = blockRows*3 + 5 // inside the fourth block
	for _, c := range []struct {
		name string
		// start gives a context and a function that returns once it is done.
		start func() (context.Context, func(), func())
		want  error
	}{
		{"cancel", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithCancel(context.Background())
			return ctx, cancel, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			return ctx, func() { <-ctx.Done() }, cancel
		}, context.DeadlineExceeded},
		// A context whose derived contexts hear of its end late, as they
		// do from any context when the goroutine that ends it is
		// descheduled between closing Done and cancelling its children.
		{"deadline, children told late", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			late := newLateChildren(ctx, time.Second)
			return late, func() { <-late.Done() }, cancel
		}, context.DeadlineExceeded},
	} {
		t.Run(c.name+", fetcher", func(t *testing.T) {
			ctx, stop, release := c.start()
			defer release()
			fetch, closeFetch, err := blockFetcher(ctx, s.DB(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFetch()
			if _, err := fetch(ids[0]); err != nil {
				t.Fatal(err)
			}
			stop()
			if _, err := fetch(ids[1]); err != c.want {
				t.Errorf("fetch after the stop: %v, want %v", err, c.want)
			}
		})
		for _, read := range []struct {
			name string
			run  func(ctx context.Context, fn func() error) error
		}{
			{"ScanRaw", func(ctx context.Context, fn func() error) error {
				return s.ScanRaw(ctx, func(string, []byte) error { return fn() })
			}},
			{"ScanDocs", func(ctx context.Context, fn func() error) error {
				return ScanDocs(ctx, s.DB(), func([]byte, int64, []byte) error { return fn() })
			}},
			{"Search", func(ctx context.Context, fn func() error) error {
				return s.Search(ctx, timeline.Query{}, func(*timeline.Event) error { return fn() })
			}},
		} {
			t.Run(c.name+", "+read.name, func(t *testing.T) {
				ctx, stop, release := c.start()
				defer release()
				n := 0
				err := read.run(ctx, func() error {
					n++
					if n == stopAt {
						stop()
					}
					return nil
				})
				if !errors.Is(err, c.want) {
					t.Errorf("read stopped at event %d: %v, want %v", stopAt, err, c.want)
				}
				if n >= blockRows*40 {
					t.Errorf("read all %d events after the stop at %d", n, stopAt)
				}
			})
		}
	}
}

// lateChildren is a context that tells the contexts derived from it of
// its end lag after its Done is closed. It has a Done of its own, so
// context.WithCancel hears of its end through AfterFunc rather than by
// joining the list of children of the context inside.
type lateChildren struct {
	context.Context
	done chan struct{}
	lag  time.Duration
}

func newLateChildren(ctx context.Context, lag time.Duration) *lateChildren {
	c := &lateChildren{Context: ctx, done: make(chan struct{}), lag: lag}
	context.AfterFunc(ctx, func() { close(c.done) })
	return c
}

func (c *lateChildren) Done() <-chan struct{} { return c.done }

func (c *lateChildren) Err() error {
	select {
	case <-c.done:
		return c.Context.Err()
	default:
		return nil
	}
}

func (c *lateChildren) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.Context, func() { <-c.done; time.Sleep(c.lag); f() })
}

// FuzzParseBlock: any bytes as a decompressed block either parse into
// documents that lie inside them, in order, or are an error; a block made
// by appendBlock parses back into its documents.
func FuzzParseBlock(f *testing.F) {
	f.Add(appendBlock(nil, [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}))
	f.Add(appendBlock(nil, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{2, 200, 1, 1, 'x'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := parseBlock(raw)
		if err == nil {
			prev := 0
			for i, end := range b.ends {
				if end < prev || end > len(b.data) {
					t.Fatalf("document %d ends at %d (previous %d, data %d)", i, end, prev, len(b.data))
				}
				d, err := b.doc(int64(i))
				if err != nil || len(d) != end-prev {
					t.Fatalf("doc(%d): %d bytes, %v", i, len(d), err)
				}
				prev = end
			}
			if _, err := b.doc(int64(len(b.ends))); err == nil {
				t.Fatal("a slot past the end")
			}
		}
		// raw cut into documents as a block: parses back.
		var docs [][]byte
		for i := 0; i < len(raw); i += 7 {
			docs = append(docs, raw[i:min(i+7, len(raw))])
		}
		b, err = parseBlock(appendBlock(nil, docs))
		if err != nil || len(b.ends) != len(docs) {
			t.Fatalf("a block of %d documents: %v", len(docs), err)
		}
		for i, d := range docs {
			if got, _ := b.doc(int64(i)); !bytes.Equal(got, d) {
				t.Fatalf("document %d: %q, want %q", i, got, d)
			}
		}
	})
}

// FuzzDecodeBlock: any stored frame either decodes into a block or is an
// error, and never into more than maxBlockBytes.
func FuzzDecodeBlock(f *testing.F) {
	var raw []byte
	f.Add(compressBlock(nil, [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}, &raw))
	f.Add(compressBlock(nil, nil, &raw))
	f.Add([]byte{0x24, 0, 0, 0})
	f.Fuzz(func(t *testing.T, z []byte) {
		var frame []byte
		b, err := decodeBlock(z, nil, &frame)
		if err == nil && len(b.data) > maxBlockBytes {
			t.Fatalf("%d bytes decoded", len(b.data))
		}
	})
}

// TestEventsViewWrites: DELETE and UPDATE of doc through the view events
// change the table under it (custody tests tamper with a case that way).
func TestEventsViewWrites(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := storetest.Events()
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	victim := evs[0]
	id, _ := hex.DecodeString(victim.Jejak.ID)
	if _, err := s.DB().Exec(`UPDATE events SET doc = replace(doc, '"message":"', '"message":"tampered ') WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	var msg string
	if err := s.DB().QueryRow(`SELECT json_extract(doc, '$.message') FROM events WHERE id = ?`, id).Scan(&msg); err != nil || msg != "tampered "+victim.Message {
		t.Errorf("message after UPDATE: %q, %v", msg, err)
	}
	found := false
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		if e.Jejak.ID == victim.Jejak.ID {
			found = e.Message == "tampered "+victim.Message
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("Search does not see the UPDATE")
	}
	if _, err := s.DB().Exec(`DELETE FROM events WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	var left int
	s.DB().QueryRow(`SELECT count(*) FROM event_rows`).Scan(&left)
	if left != len(evs)-1 {
		t.Errorf("%d rows after DELETE of one, want %d", left, len(evs)-1)
	}
}

// TestWriteWaitsForOtherWriters: a Write while another connection holds
// the write lock (the run's progress and warnings are written on other
// connections during an ingest) waits for it, in a bulk run (rollback
// journal) and after it (WAL), instead of failing with SQLITE_BUSY: a
// transaction that reads before it writes could not wait (an analyze
// failed so, "database is locked", when Write read the next block number
// first).
func TestWriteWaitsForOtherWriters(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	var file string
	if err := s.DB().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", URI(file, "_pragma=busy_timeout(10000)"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i, phase := range []string{"bulk run", "after FinishWrites"} {
		if i == 1 {
			if _, err := s.FinishWrites(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Write(ctx, events(300, fmt.Sprintf("b%d", i))); err != nil {
			t.Fatalf("%s: first Write: %v", phase, err)
		}
		conn, err := other.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE runs SET progress = 'x'`); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		released := make(chan error, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			_, err := conn.ExecContext(ctx, `COMMIT`)
			conn.Close()
			released <- err
		}()
		st, err := s.Write(ctx, events(300, fmt.Sprintf("c%d", i)))
		if err != nil || st.Inserted != 300 {
			t.Errorf("%s: Write while another connection writes: %+v, %v", phase, st, err)
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLastByte: lastByte finds what bytes.LastIndexByte finds, at every
// length and place around the eight-byte words it reads, with the byte
// beside others that differ from it by one bit or carry (0x7a, 0x7c,
// 0xfb, 0x00, 0xff).
func TestLastByte(t *testing.T) {
	fill := []byte{'a', 0x7a, 0x7c, 0xfb, 0x00, 0xff, 0x80, 0x01}
	for n := range 40 {
		for _, f := range fill {
			b := bytes.Repeat([]byte{f}, n)
			if got, want := lastByte(b, '{'), bytes.LastIndexByte(b, '{'); got != want {
				t.Fatalf("len %d of %#x: %d, want %d", n, f, got, want)
			}
			for i := range n {
				for j := range i + 1 {
					b := bytes.Repeat([]byte{f}, n)
					b[j], b[i] = '{', '{'
					if got, want := lastByte(b, '{'), bytes.LastIndexByte(b, '{'); got != want {
						t.Fatalf("len %d of %#x, braces at %d and %d: %d, want %d", n, f, j, i, got, want)
					}
				}
			}
		}
	}
	for _, c := range []byte{0, 0x80, 0xff, '"'} {
		b := []byte("0123456789abcdef\x00\x80\xff\"0123456789")
		if got, want := lastByte(b, c), bytes.LastIndexByte(b, c); got != want {
			t.Errorf("%#x: %d, want %d", c, got, want)
		}
	}
}

// FuzzLastByte: lastByte agrees with bytes.LastIndexByte.
func FuzzLastByte(f *testing.F) {
	f.Add([]byte(`{"a":{"jejak":{"id":"x"}}}`), byte('{'))
	f.Add([]byte("\x00\x80\xff{{{{{{{{{"), byte(0))
	f.Fuzz(func(t *testing.T, b []byte, c byte) {
		if got, want := lastByte(b, c), bytes.LastIndexByte(b, c); got != want {
			t.Fatalf("lastByte(%q, %#x) = %d, want %d", b, c, got, want)
		}
	})
}

// BenchmarkBlockFetch: one block's frame read on a context that can be
// cancelled (database/sql and the driver each start a goroutine to watch
// it) against blockFetcher's, which checks the context itself and
// queries on one that cannot.
func BenchmarkBlockFetch(b *testing.B) {
	s := open(b)
	if _, err := s.Write(context.Background(), events(blockRows*40, "ac")); err != nil {
		b.Fatal(err)
	}
	ids := blockIDs(b, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := s.fetchStmt(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fetch, closeFetch, err := blockFetcher(ctx, s.DB(), st)
	if err != nil {
		b.Fatal(err)
	}
	defer closeFetch()
	for _, c := range []struct {
		name  string
		fetch func(id int64) error
	}{
		{"cancellable query", func(id int64) error {
			var z []byte
			return st.QueryRowContext(ctx, id).Scan(&z)
		}},
		{"blockFetcher", func(id int64) error {
			_, err := fetch(id)
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := c.fetch(ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
