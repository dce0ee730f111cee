package ingest_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// docSink encodes every event when its Write is called, as the case store
// does, and keeps the documents, not the events.
type docSink struct {
	docs []string
}

func (s *docSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	for _, e := range b {
		doc, err := json.Marshal(e)
		if err != nil {
			return timeline.WriteStats{}, err
		}
		s.docs = append(s.docs, string(doc))
	}
	return timeline.WriteStats{Inserted: len(b)}, nil
}

func (s *docSink) Close() error { return nil }

// recycleEvidence is a folder of real syslog files from the corpus (the
// Elastic auth.log four times under rotated names, loghub's Linux syslog,
// the RFC 5424 and rsyslog samples, CrowdSec's sshd logs) beside files
// other parsers read and one no parser takes: ~32,000 events, so that
// with small batches every block is recycled many times over, and batches
// mix recycled events with others (filestat's, other parsers').
func recycleEvidence(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "evidence")
	files := map[string]string{
		"var/log/auth.log":    "more/linux/auth/elastic_examples_auth.log",
		"var/log/auth.log.1":  "more/linux/auth/elastic_examples_auth.log",
		"var/log/auth.log.2":  "more/linux/auth/elastic_examples_auth.log",
		"var/log/auth.log.3":  "more/linux/auth/elastic_examples_auth.log",
		"var/log/messages":    "logs/loghub/Linux_2k.log",
		"var/log/syslog":      "logs/syslog/syslog",
		"var/log/rsyslog5424": "logs/syslog/syslog_rsyslog_SyslogProtocol23Format",
		"var/log/cron.log":    "logs/syslog/syslog_cron.log",
		"var/log/secure":      "more/linux/auth/crowdsec_sshd-logs.log",
		"var/log/secure.1":    "more/linux/auth/crowdsec_ssh-slow-bf.log",
	}
	parsertest.CopyCorpus(t, root, files, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	writeFile(t, filepath.Join(root, "etc/motd"), []byte("welcome\n"))
	return root
}

// ingestRecycled ingests root into sink with small batches on two
// workers, recycling or not.
func ingestRecycled(t *testing.T, root string, recycle bool, sink timeline.Sink) ingest.Summary {
	t.Helper()
	ctx := context.Background()
	w, err := jfs.Open(ctx, root, jfs.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: t.TempDir(), Workers: 2,
		BatchSize: 97, Recycle: recycle}, []ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestRecycledEventsPoisoned: with Config.Recycle, every syslog event's
// block is given back to the parser once its batch is written, and
// poisoned there (slab.SetPoison overwrites every field of it). A sink
// that encodes what it is given before Write returns stores exactly what
// a run without recycling stores, and the summaries agree: nothing of the
// pipeline (emitter, counts, progress) read an event after its Write. A
// sink that keeps the events themselves, which Config.Recycle forbids,
// finds them poisoned or turned into other records: the check can fail.
func TestRecycledEventsPoisoned(t *testing.T) {
	root := recycleEvidence(t)
	var plain docSink
	sumPlain := ingestRecycled(t, root, false, &plain)

	restore := slab.SetPoison()
	defer restore()
	var recycled docSink
	sumRecycled := ingestRecycled(t, root, true, &recycled)

	if sumPlain.Parsers["syslog"] == nil || sumPlain.Parsers["syslog"].Events < 30000 {
		t.Fatalf("syslog events: %+v, want at least 30,000", sumPlain.Parsers["syslog"])
	}
	a, _ := json.Marshal(sumPlain)
	b, _ := json.Marshal(sumRecycled)
	if string(a) != string(b) {
		t.Errorf("summaries differ:\nplain    %s\nrecycled %s", a, b)
	}
	// Batches of two workers interleave in any order: the documents are
	// compared as sets (their IDs are unique).
	slices.Sort(plain.docs)
	slices.Sort(recycled.docs)
	if len(plain.docs) != len(recycled.docs) {
		t.Fatalf("%d documents stored without recycling, %d with", len(plain.docs), len(recycled.docs))
	}
	diffs := 0
	for i := range plain.docs {
		if plain.docs[i] != recycled.docs[i] {
			if diffs++; diffs <= 3 {
				t.Errorf("document %d differs:\nplain    %s\nrecycled %s", i, plain.docs[i], recycled.docs[i])
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d documents differ", diffs, len(plain.docs))
	}

	// The control: events kept past their Write are not what was written.
	keep := &memSink{}
	ingestRecycled(t, root, true, keep)
	want := map[string]bool{}
	for _, d := range plain.docs {
		want[d] = true
	}
	var changed, poisoned, syslogEvents int
	for _, e := range keep.events {
		doc, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(doc), "poisoned by slab.Release") {
			poisoned++
		}
		if !want[string(doc)] {
			changed++
		}
		if e.Jejak.Provenance.Parser == "syslog" {
			syslogEvents++
		}
	}
	if poisoned == 0 || changed < syslogEvents/2 {
		t.Errorf("events kept past their Write: %d poisoned, %d of %d not as written (%d syslog events): recycling or poisoning did not happen",
			poisoned, changed, len(keep.events), syslogEvents)
	}
	t.Logf("%d documents compared; kept events: %d poisoned, %d changed of %d", len(plain.docs), poisoned, changed, len(keep.events))
}

// TestRecycledImageSame: an NTFS volume (its $MFT parsed aside, its
// files' own times, the text files' contents) ingested with small batches
// stores the same documents with Config.Recycle as without, whichever of
// its parsers take their events back: the $MFT's and syslog's blocks come
// from slab pools, which poison what is given back, so a holder would read
// junk.
func TestRecycledImageSame(t *testing.T) {
	img := largeMFTVolume(t)
	ctx := context.Background()
	run := func(recycle bool) []string {
		t.Helper()
		w, err := disk.OpenEvidence(ctx, img, jfs.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var s docSink
		if _, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: t.TempDir(), Workers: 2,
			BatchSize: 97, Recycle: recycle}, []ingest.Item{{SHA256: "e", Name: "ntfs.img", Walker: w}}, &s); err != nil {
			t.Fatal(err)
		}
		slices.Sort(s.docs)
		return s.docs
	}
	plain := run(false)
	restore := slab.SetPoison()
	defer restore()
	recycled := run(true)
	mft := 0
	for _, d := range plain {
		if strings.Contains(d, `"parser":"mft"`) {
			mft++
		}
	}
	if mft < 1000 {
		t.Fatalf("%d $MFT events of %d, want at least 1,000", mft, len(plain))
	}
	if !slices.Equal(plain, recycled) {
		diffs := 0
		for i := range min(len(plain), len(recycled)) {
			if plain[i] != recycled[i] {
				if diffs++; diffs <= 2 {
					t.Errorf("document %d differs:\nplain    %.600s\nrecycled %.600s", i, plain[i], recycled[i])
				}
			}
		}
		t.Errorf("%d and %d documents, %d differ", len(plain), len(recycled), diffs)
	}
}
