package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// rawMutex is the connection mutex of the driver connection under c.
func rawMutex(t *testing.T, c *sql.Conn) uintptr {
	t.Helper()
	var mu uintptr
	if err := c.Raw(func(dc any) error {
		if connHandle(dc.(driver.Conn)) == 0 {
			t.Fatalf("driver connection %T: no sqlite3 handle found (field db)", dc)
		}
		mu = connMutex(dc.(driver.Conn))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mu
}

// TestConnNoMutex: the driver opens its connections with a mutex (so the
// test would see one left on), and the store's have none, the write
// connection and every one of the pool's.
func TestConnNoMutex(t *testing.T) {
	ctx := context.Background()
	plain, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "plain.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pc, err := plain.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rawMutex(t, pc) == 0 {
		t.Fatal("the driver's own connection has no mutex: this test can no longer tell")
	}
	pc.Close()

	s := open(t)
	if mu := rawMutex(t, s.w); mu != 0 {
		t.Errorf("write connection: mutex %#x, want none", mu)
	}
	// Several pool connections at once: each a new physical connection.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if mu := rawMutex(t, c); mu != 0 {
			t.Errorf("pool connection: mutex %#x, want none", mu)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestNoMutexConcurrentUse reads and writes one store from several
// goroutines at once, each on connections without a mutex: searches
// (the decoding pipeline and its stepper), counts and writes. Run with
// -race; every search sees a whole, ordered snapshot.
func TestNoMutexConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Write(ctx, events(3000, "aa")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				var n int
				var last timeline.Event
				err := s.SearchTransient(ctx, timeline.Query{}, func(e *timeline.Event) error {
					if n > 0 && e.Timestamp.Before(last.Timestamp) {
						t.Errorf("reader %d: event %d out of order", g, n)
					}
					last.Timestamp = e.Timestamp
					n++
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				if n < 3000 {
					t.Errorf("reader %d: %d events, want at least 3000", g, n)
				}
				if _, err := s.Count(ctx, timeline.Query{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, ev := range []string{"bb", "cc", "dd"} {
			if st, err := s.Write(ctx, events(500, ev)); err != nil || st.Inserted != 500 {
				t.Errorf("write %d: %+v %v", i, st, err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := s.Count(ctx, timeline.Query{})
	if err != nil || n != 4500 {
		t.Fatalf("count %d %v, want 4500", n, err)
	}
}
