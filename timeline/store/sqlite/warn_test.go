package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
)

// warningsOf builds n warnings as an ingest stores them: first the skipped
// files of an image, which share all but their chain, path and message
// (the first 2*warnRows+10), then skipped files with record warnings, other
// chains, a nil and an empty chain, unknown offsets and non-ASCII text
// among them.
func warningsOf(n int) []timeline.Warning {
	chains := [][]string{{"ntfs:0"}, {"ntfs:0"}, {"ntfs:0"}, nil, {}, {"gzip:", "tar:var/log/auth.log"}, {"ntfs:0"}}
	ws := make([]timeline.Warning, n)
	for i := range ws {
		w := timeline.Warning{Kind: timeline.WarnSkipped, Evidence: "3f4a0c0d5b9e6c1e", Chain: chains[(i/5)%len(chains)],
			Path: fmt.Sprintf("Users/pemilu/berkas-%d.dat", i), Offset: -1, Message: "no parser recognises the content"}
		if i < 2*warnRows+10 {
			w.Chain = []string{"raw:", "ntfs:" + w.Path}
			if i%3 == 0 {
				w.Message = "empty file"
			}
			ws[i] = w
			continue
		}
		switch i % 7 {
		case 3:
			w.Message = "empty file"
		case 5:
			w.Kind, w.Parser, w.Offset, w.Record = timeline.WarnRecord, "syslog", int64(i)*110, int64(i+1)
			w.Message = fmt.Sprintf("baris %d: tanggal tidak terbaca — «%d»", i, i)
		}
		ws[i] = w
	}
	return ws
}

// addWarningsOneByOne is how AddWarnings stored warnings before its
// multi-row INSERTs: one INSERT per warning through database/sql. The
// test's reference for the stored rows.
func addWarningsOneByOne(ctx context.Context, db *sql.DB, run int64, ws []timeline.Warning) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO warnings(run, kind, evidence, chain, path, parser, offset, record, message) VALUES(?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for _, w := range ws {
		chain, _ := json.Marshal(w.Chain)
		if _, err := st.ExecContext(ctx, run, string(w.Kind), w.Evidence, string(chain), w.Path, w.Parser, w.Offset, w.Record, w.Message); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// storedWarnings lists the warnings table as stored: every column with
// its type, in rowid order, the rowid included.
func storedWarnings(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT rowid, typeof(run), run, typeof(kind), kind, typeof(evidence), evidence, typeof(chain), chain,
		typeof(path), path, typeof(parser), parser, typeof(offset), offset, typeof(record), record, typeof(message), message
		FROM warnings ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		v := make([]any, 19)
		p := make([]any, len(v))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%#v", v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAddWarningsAsOneByOne: the multi-row inserts store the rows the
// one-row inserts stored, value for value, type for type, rowid for
// rowid, for batch sizes around warnRows and across two runs; Warnings
// reads them back as given.
func TestAddWarningsAsOneByOne(t *testing.T) {
	ctx := context.Background()
	for _, sizes := range [][]int{
		{1},
		{warnRows - 1},
		{warnRows},
		{warnRows + 1},
		{2*warnRows + 3, 1, warnRows},
		{5017, 0, 5000},
		// sizes above 10000: the first 3*warnRows+5 warnings of each
		// run share one message, as an image's files no parser takes
		// mostly do (their parts bind it once).
		{10000 + warnRows, 10000 + 3*warnRows + 7},
	} {
		t.Run(strings.Trim(fmt.Sprint(sizes), "[]"), func(t *testing.T) {
			got, want := open(t), open(t)
			var all []timeline.Warning
			for run, n := range sizes {
				ws := warningsOf(n)
				for i := range ws {
					ws[i].Path = fmt.Sprintf("run%d/%s", run, ws[i].Path)
					if n > 10000 && i < 3*warnRows+5 {
						ws[i].Message = "no parser recognises the content: text in no known log format"
					}
				}
				all = append(all, ws...)
				for _, s := range []*Store{got, want} {
					if _, err := s.BeginRun(ctx, time.Unix(int64(run+1), 0), "test"); err != nil {
						t.Fatal(err)
					}
				}
				if err := got.AddWarnings(ctx, ws); err != nil {
					t.Fatal(err)
				}
				if err := addWarningsOneByOne(ctx, want.DB(), want.run.Load(), ws); err != nil {
					t.Fatal(err)
				}
				for _, s := range []*Store{got, want} {
					if err := s.FinishRun(ctx, time.Unix(int64(run+1), 1), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			g, w := storedWarnings(t, got.DB()), storedWarnings(t, want.DB())
			if len(g) != len(all) || !reflect.DeepEqual(g, w) {
				t.Fatalf("stored %d rows, one by one %d (of %d)", len(g), len(w), len(all))
			}
			var back []timeline.Warning
			if err := got.Warnings(ctx, false, func(w timeline.Warning) error { back = append(back, w); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(back) != len(all) {
				t.Fatalf("read back %d warnings, stored %d", len(back), len(all))
			}
			for i := range all {
				if !reflect.DeepEqual(back[i], all[i]) {
					t.Fatalf("warning %d read back as %+v, stored %+v", i, back[i], all[i])
				}
			}
		})
	}
}

// TestAppendChain: a warning's chain is stored as json.Marshal writes it,
// escapes, invalid UTF-8, nil and empty chains included.
func TestAppendChain(t *testing.T) {
	for _, c := range [][]string{nil, {}, {""}, {"raw:", "ntfs:Users/a\\b.txt"}, {"<&>", "\"q\"", "\x00\x1f\u2028", "\xff\xfe", "é ✓"}} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendChain([]byte("x"), c); string(got) != "x"+string(want) {
			t.Errorf("chain %q: %s, json.Marshal %s", c, got[1:], want)
		}
	}
}

// TestAddWarningsWhileRunsStart: warnings stored from one goroutine while
// another starts runs (the ingest stores warnings beside the writer) each
// carry the number of a run that was started; under -race, reading the
// run's number without synchronisation is reported.
func TestAddWarningsWhileRunsStart(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	first, err := s.BeginRun(ctx, time.Unix(1, 0), "test")
	if err != nil {
		t.Fatal(err)
	}
	const runs = 5
	started := make(chan int64, runs)
	go func() {
		defer close(started)
		for i := range runs {
			run, err := s.BeginRun(ctx, time.Unix(int64(i+2), 0), "test")
			if err != nil {
				t.Error(err)
				return
			}
			started <- run
		}
	}()
	for range 2 * runs {
		if err := s.AddWarnings(ctx, warningsOf(3)); err != nil {
			t.Fatal(err)
		}
	}
	known := map[int64]bool{first: true}
	for run := range started {
		known[run] = true
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT DISTINCT run FROM warnings`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var run int64
		if err := rows.Scan(&run); err != nil {
			t.Fatal(err)
		}
		if !known[run] {
			t.Errorf("a warning stored with run %d, not one started (%v)", run, known)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAddWarnings stores the skipped files of an image of 300k small
// files (300,013 warnings in the ingest's transactions of 5000), with the
// one-row INSERTs AddWarnings used to make and with AddWarnings, in CPU
// seconds per run.
func BenchmarkAddWarnings(b *testing.B) {
	ctx := context.Background()
	const total, batch = 300013, 5000
	ws := make([]timeline.Warning, total)
	for i := range ws {
		p := fmt.Sprintf("Users/pemilu/Documents/berkas/%03d/file%06d.dat", i/1000, i)
		ws[i] = timeline.Warning{Kind: timeline.WarnSkipped, Evidence: "0dabf9787fccb3420063e2a99a6a2c03e65fbc6ce27ab5788d6b660dd8478ab8",
			Chain: []string{"raw:", "ntfs:" + p}, Path: p, Offset: -1,
			Message: "no parser recognises the content: binary content, first bytes 24 00 53 00 54 00 41 00"}
		if i%4 == 0 {
			ws[i].Message = "empty file: 0 bytes, nothing to parse"
		}
	}
	// As the bench's NTFS image has them: 99.5 % of its files text
	// that no parser takes, one message.
	same := make([]timeline.Warning, total)
	for i := range same {
		same[i] = ws[i]
		same[i].Message = "no parser recognises the content: text in no known log format (tried 37 formats; none accepted any of 1 sampled lines)"
		if i%200 == 0 {
			same[i].Message = "empty file: 0 bytes, nothing to parse"
		}
	}
	for _, m := range []struct {
		name string
		add  func(*Store, []timeline.Warning) error
		in   []timeline.Warning
	}{
		{"one-by-one", func(s *Store, ws []timeline.Warning) error { return addWarningsOneByOne(ctx, s.DB(), s.run.Load(), ws) }, ws},
		{"multi-row", func(s *Store, ws []timeline.Warning) error { return s.AddWarnings(ctx, ws) }, ws},
		{"multi-row-one-message", func(s *Store, ws []timeline.Warning) error { return s.AddWarnings(ctx, ws) }, same},
	} {
		b.Run(m.name, func(b *testing.B) {
			var cpu float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := open(b)
				if _, err := s.BeginRun(ctx, time.Unix(0, 0), "bench"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu -= cputime.Process().Seconds()
				for lo := 0; lo < total; lo += batch {
					if err := m.add(s, m.in[lo:min(lo+batch, total)]); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Process().Seconds()
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
		})
	}
}
