package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// clusterURLs returns the three-node test cluster's URLs, or skips.
func clusterURLs(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("JEJAK_TEST_ES_CLUSTER")
	if v == "" {
		t.Skip("JEJAK_TEST_ES_CLUSTER not set: start a three-node cluster with " +
			"'JEJAK_ES_NODES=3 scripts/elasticsearch.sh start' and set it to 'scripts/elasticsearch.sh urls'")
	}
	urls := strings.Split(v, ",")
	if len(urls) < 3 {
		t.Fatalf("JEJAK_TEST_ES_CLUSTER names %d node(s); these tests need three", len(urls))
	}
	return urls
}

func freshIndex(t testing.TB) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return "jejak-wtest-" + name + "-" + hex.EncodeToString(b[:])
}

// openES opens the timeline index and removes it, the case indices and
// their templates when the test ends.
func openES(t testing.TB, urls []string, index string) *elastic.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := elastic.Open(ctx, elastic.Config{URLs: urls, Index: index})
	if err != nil {
		t.Fatalf("open %s: %v", index, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := s.Client()
		names := []string{index}
		tmpls := []string{elastic.TemplateName(index)}
		for _, p := range elastic.CaseParts {
			names = append(names, elastic.CaseIndex(index, p))
			tmpls = append(tmpls, "jejak-case-"+elastic.CaseIndex(index, p))
		}
		if res, err := c.Indices.Delete(names, c.Indices.Delete.WithContext(ctx), c.Indices.Delete.WithIgnoreUnavailable(true)); err == nil {
			res.Body.Close()
		}
		for _, n := range tmpls {
			if res, err := c.Indices.DeleteIndexTemplate(n, c.Indices.DeleteIndexTemplate.WithContext(ctx)); err == nil {
				res.Body.Close()
			}
		}
		s.Close()
	})
	return s
}

// corpusFolders are the evidence items of the corpus case: each folder of
// the shared corpus's logs, read where it is (never copied).
var corpusFolders = []string{"linux", "loghub", "syslog", "web", "windows", "db"}

// corpusCase registers the corpus case's items in a new case folder.
func corpusCase(t testing.TB) *evidence.Case {
	t.Helper()
	logs := parsertest.Corpus(t, "logs")
	cs, err := evidence.Init(filepath.Join(t.TempDir(), "case"), evidence.Config{Examiner: "Worker Test", Zone: "UTC", Name: "wtest", ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range corpusFolders {
		if _, err := cs.AddEvidence(context.Background(), filepath.Join(logs, f), nil); err != nil {
			t.Fatalf("add %s: %v", f, err)
		}
	}
	return cs
}

// singleMachine ingests every item of cs in one run on this machine into a
// SQLite store, as 'jejak ingest' does, and returns the sorted event IDs.
func singleMachine(t testing.TB, cs *evidence.Case) []string {
	t.Helper()
	ids, _ := singleMachineStore(t, cs)
	return ids
}

// singleMachineStore is singleMachine also returning the store's path.
func singleMachineStore(t testing.TB, cs *evidence.Case) ([]string, string) {
	t.Helper()
	ctx := context.Background()
	items, err := cs.Evidence()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var walk []ingest.Item
	for _, it := range items {
		w, err := disk.OpenEvidence(ctx, it.Path, jfs.Options{TempDir: tmp, Zone: cs.Location()})
		if err != nil {
			t.Fatal(err)
		}
		walk = append(walk, ingest.Item{SHA256: it.SHA256, Name: it.Name, Walker: w})
	}
	store, err := sqlite.Open(ctx, filepath.Join(tmp, "single.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := ingest.Config{Registry: all.Registry(), Zone: cs.Location(), TempDir: tmp, Warn: func(timeline.Warning) {}}
	if _, err := ingest.Run(ctx, cfg, walk, store); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := store.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		ids = append(ids, ev.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids, filepath.Join(tmp, "single.db")
}
