package casework

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// IndexOptions say how 'jejak index' pushes a case's timeline.
type IndexOptions struct {
	// Progress, when set, is told the events sent so far, every 4,096.
	Progress func(events int64)
}

// IndexResult is what an index run did: events read from the case, and of
// those the ones new to the index and the ones already there.
type IndexResult struct {
	Events, Inserted, Duplicates int64
	// Retries and Resent are the cluster's answers that had to be sent
	// again (whole requests, single events).
	Retries, Resent int64
}

// Index streams every event of the case store into es and checks the
// index then holds exactly the case's events (VerifyIndex), then records
// the run in the custody log (also when it failed).
func (c *Case) Index(ctx context.Context, es *elastic.Store, o IndexOptions) (IndexResult, error) {
	res, err := indexAll(ctx, c, es, o.Progress)
	st := es.Stats()
	res.Retries, res.Resent = int64(st.Retries), int64(st.ItemRetries)
	details := map[string]any{"index": es.Index(), "events": res.Events, "inserted": res.Inserted,
		"duplicates": res.Duplicates, "retries": st.Retries, "resent_events": st.ItemRetries, "error": errText(err)}
	if lerr := c.Evidence.Log("index", details); lerr != nil && err == nil {
		err = lerr
	}
	return res, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// indexAll streams every event of the case store into dst, then checks that
// dst holds exactly as many events as the store and names any that are
// missing. Documents go as stored (no decode and re-encode); reading waits
// while every bulk worker is busy, so memory stays bounded.
func indexAll(ctx context.Context, c *Case, dst *elastic.Store, progress func(events int64)) (IndexResult, error) {
	var res IndexResult
	b := dst.NewBulk()
	err := c.Store.ScanRaw(ctx, func(id string, doc []byte) error {
		res.Events++
		if progress != nil && res.Events%4096 == 0 {
			progress(res.Events)
		}
		return b.Add(ctx, elastic.RawEvent{ID: id, Doc: doc})
	})
	st, cerr := b.Close(ctx)
	res.Inserted, res.Duplicates = int64(st.Inserted), int64(st.Duplicates)
	if err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	return res, VerifyIndex(ctx, c.Store, dst)
}

// Timeline is a timeline read back: what VerifyIndex compares.
type Timeline interface {
	Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error
	Count(ctx context.Context, q timeline.Query) (int64, error)
}

// VerifyIndex checks that dst holds exactly src's events and names the
// missing ones when it does not.
func VerifyIndex(ctx context.Context, src Timeline, dst *elastic.Store) error {
	want, err := src.Count(ctx, timeline.Query{})
	if err != nil {
		return err
	}
	n, err := dst.Count(ctx, timeline.Query{})
	if err != nil {
		return err
	}
	if n == want {
		return nil
	}
	// Name what is missing.
	var missing []string
	ids := make([]string, 0, 1000)
	check := func() error {
		m, err := dst.Missing(ctx, ids)
		missing = append(missing, m...)
		ids = ids[:0]
		return err
	}
	err = src.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		ids = append(ids, ev.Jejak.ID)
		if len(ids) == cap(ids) {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return err
	}
	shown := missing[:min(len(missing), 20)]
	return fmt.Errorf("index %s holds %d documents but the case has %d events; %d missing: %s",
		dst.Index(), n, want, len(missing), strings.Join(shown, ", "))
}

var indexNameUnsafe = regexp.MustCompile(`[^a-z0-9_.-]+`)

// IndexName is the timeline index of the case called name: jejak-<name>
// made a valid index name.
func IndexName(name string) string {
	n := strings.Trim(indexNameUnsafe.ReplaceAllString(strings.ToLower(name), "-"), "-_.")
	if n == "" {
		n = "case"
	}
	return "jejak-" + n
}

// AllLoopback tells whether every URL names this machine by a loopback
// address or "localhost" (where gzip saves no network and takes CPU the
// node needs).
func AllLoopback(urls []string) bool {
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			return false
		}
		h := p.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return len(urls) > 0
}
