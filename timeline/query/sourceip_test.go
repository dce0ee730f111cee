package query_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// sourceIPTexts are source.ip values as parsers copy them from evidence:
// one address spelled many ways, near misses, texts no address is.
var sourceIPTexts = []string{
	"203.0.113.7", "::ffff:203.0.113.7", "::FFFF:203.0.113.7", "::ffff:cb00:7107", "::FFFF:CB00:7107",
	"0:0:0:0:0:ffff:cb00:7107", "0000:0000:0000:0000:0000:ffff:cb00:7107", "0::ffff:203.0.113.7", "::0:ffff:cb00:7107",
	"203.0.113.07", "203.0.113.7%eth0", "::ffff:203.0.113.7%1", "203.0.113.7 ", "203.0.113.7\x00x", "203.0.113.70", "203.0.113.8",
	"2001:db8::7", "2001:0DB8:0000::0007", "2001:db8:0:0:0:0:0:7", "2001:db8::0.0.0.7", "2001:db8::7:0",
	"::1", "0:0:0:0:0:0:0:1", "::0.0.0.1", "::", "0.0.0.0",
	"10.1.2.3", "10.255.0.1", "11.0.0.0", "::ffff:10.9.9.9", "::ffff:a09:909", "9.255.255.255",
	"not-an-ip", "",
}

// wantIP is kql_ip's test as it stood before the index: the text is an
// address without a zone, and its 16-byte form lies in the range.
func wantIP(text, q string) bool {
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" {
		return false
	}
	var lo, hi [16]byte
	if p, err := netip.ParsePrefix(q); err == nil {
		lo = p.Masked().Addr().As16()
		hi = lo
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96
		}
		for i := bits; i < 128; i++ {
			hi[i/8] |= 0x80 >> (i % 8)
		}
	} else {
		lo = netip.MustParseAddr(q).As16()
		hi = lo
	}
	b := a.As16()
	return bytes.Compare(b[:], lo[:]) >= 0 && bytes.Compare(b[:], hi[:]) <= 0
}

// TestSourceIPIndex: source.ip equality and CIDR blocks of up to 65,536
// addresses (narrowIPRange) are looked up in the events_source_ip index
// (EXPLAIN QUERY PLAN), wider blocks scan, and all find the events they
// found when every row was tested: each spelling of the address, no near
// miss, no text with a zone or a NUL.
func TestSourceIPIndex(t *testing.T) {
	ctx := context.Background()
	// Many's events have sources 10.0.x.y: enough rows that SQLite
	// plans as for a case (a lookup in the index rather than a scan of
	// a few rows). The first have the texts above, one no source.
	evs := storetest.Many(3000)
	for i, s := range sourceIPTexts {
		evs[i].Source = &timeline.Endpoint{IP: s}
	}
	evs[len(sourceIPTexts)].Source = nil
	for _, e := range evs {
		e.Finalize()
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q     string // the address or block, as KQL takes it
		index bool   // served by events_source_ip
		n     int    // matching texts of sourceIPTexts
	}{
		{"203.0.113.7", true, 9},
		{"::ffff:203.0.113.7", true, 9},
		{"2001:db8::7", true, 4},
		{"::1", true, 3},
		{"::", true, 1},
		{"0.0.0.0", true, 1},
		{"203.0.113.0/24", true, 11},
		{"10.9.0.0/16", true, 2},
		{"10.0.0.0/8", false, 4},
		{"2001:db8::/32", false, 5},
		{"::/0", false, 27},
		{"0.0.0.0/0", false, 18},
	} {
		t.Run(c.q, func(t *testing.T) {
			f, err := query.New(`source.ip:"`+c.q+`"`, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			n := 0
			for i, e := range evs {
				if e.Source != nil && wantIP(e.Source.IP, c.q) {
					want = append(want, e.Jejak.ID)
					if i < len(sourceIPTexts) {
						n++
					}
				}
			}
			if n != c.n {
				t.Errorf("the test's oracle finds %d of the texts, the table says %d", n, c.n)
			}
			got := sqliteIDs(t, st, f, timeline.Query{})
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("found %d events, want %d", len(got), len(want))
			}
			plan := queryPlan(t, st, f)
			if strings.Contains(plan, "events_source_ip") != c.index {
				t.Errorf("plan:\n%s\nwant events_source_ip used: %v", plan, c.index)
			}
		})
	}
}

// queryPlan is SQLite's plan of the statement Store.Query runs for f.
func queryPlan(t *testing.T, st *sqlite.Store, f *query.Filter) string {
	t.Helper()
	ctx := context.Background()
	// A query first registers the KQL functions; a connection opened
	// before lacks them and is dropped (as the store's kqlConn does).
	if _, err := st.QueryCount(ctx, f, timeline.Query{}); err != nil {
		t.Fatal(err)
	}
	var conn *sql.Conn
	for tries := 0; ; tries++ {
		c, err := st.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var one int
		if c.QueryRowContext(ctx, `SELECT kql_text('a', 'any', 'a')`).Scan(&one) == nil {
			conn = c
			break
		}
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
		if tries == 64 {
			t.Fatal("no connection with the KQL functions")
		}
	}
	defer conn.Close()
	cols := map[string]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info('events')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		cols[name] = true
	}
	rows.Close()
	cond, args := f.SQLColumns(func(c string) bool { return cols[c] })
	rows, err = conn.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT id, blk, slot FROM events WHERE "+cond+" ORDER BY ts, id", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}
