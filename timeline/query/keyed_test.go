package query_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestKeyedFlattenedWildcards: a wildcard on one key of a flattened field
// (winlog.event_data.X) matches that key's value only, on both stores, with
// other keys holding values the pattern would match. Elasticsearch 8.19
// gets this wrong unless the query is built with care (see keyedWildcard).
func TestKeyedFlattenedWildcards(t *testing.T) {
	ctx := context.Background()
	data := []map[string]string{
		{"A": "xyz services.exe", "B": "foo"},
		{"B": "C:/x/services.exe"},
		{"A": "other", "B": "xyz services.exe"},
		{"A": `C:\Windows\System32\services.exe`},
		{"A": "xyz"},
	}
	evs := storetest.Many(len(data))
	for i, e := range evs {
		e.Winlog = &timeline.Winlog{Channel: "Security", EventData: data[i]}
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
	es := openES(t, evs)
	for _, c := range []struct {
		kql  string
		want []int // indexes into data
	}{
		{`winlog.event_data.A:*services.exe`, []int{0, 3}},
		{`winlog.event_data.B:*services.exe`, []int{1, 2}},
		{`winlog.event_data.A:xyz*exe`, []int{0}},
		{`winlog.event_data.A:xyz*`, []int{0, 4}},
		{`winlog.event_data.A:*yz*`, []int{0, 4}},
		{`winlog.event_data.A:*System32*`, []int{3}},
		{`winlog.event_data.B:*x*`, []int{1, 2}},
		{`winlog.event_data.A:*`, []int{0, 2, 3, 4}},
	} {
		t.Run(c.kql, func(t *testing.T) {
			f, err := query.New(c.kql, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range c.want {
				want = append(want, evs[i].Jejak.ID)
			}
			slices.Sort(want)
			got := sqliteIDs(t, st, f, timeline.Query{})
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("SQLite: %v, want %v", got, want)
			}
			if es == nil {
				return
			}
			var esGot []string
			if err := es.Query(ctx, f, timeline.Query{}, func(e *timeline.Event) error {
				esGot = append(esGot, e.Jejak.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(esGot)
			if !slices.Equal(esGot, want) {
				t.Errorf("Elasticsearch: %v, want %v", esGot, want)
			}
		})
	}
}
