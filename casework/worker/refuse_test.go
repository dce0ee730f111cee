package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

func TestParsePathMap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		from string
	}{
		{"/mnt/ev=/srv/ev", true, "/mnt/ev"},
		{"/mnt/ev/=/srv/ev", true, "/mnt/ev"},
		{"/mnt/ev", false, ""},
		{"=/srv", false, ""},
		{"/mnt=", false, ""},
	} {
		m, err := worker.ParsePathMap(tc.in)
		if (err == nil) != tc.ok || (tc.ok && m.From != tc.from) {
			t.Errorf("ParsePathMap(%q) = %+v, %v", tc.in, m, err)
		}
	}
}

// TestPathMapAndRefusal: evidence registered at one path is read by a
// worker at another (--path-map), re-hashed there first; an item whose
// bytes changed since registration is refused (claim "refused", an
// evidence_refused custody entry, no events), the others are ingested.
func TestPathMapAndRefusal(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	// Copies of two corpus logs in the test's temporary folder (the test
	// alters one), one per folder item, under a "registration" root.
	reg := filepath.Join(t.TempDir(), "registered")
	for dir, src := range map[string]string{"a": "logs/linux/dpkg.log", "b": "logs/syslog/syslog_ssh.log"} {
		b, err := os.ReadFile(parsertest.Corpus(t, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(reg, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(reg, dir, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// And a file item (its segments, hashed one by one, are mapped too).
	web, err := os.ReadFile(parsertest.Corpus(t, "logs/web/apache_access.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(reg, "access.log"), web, 0o644); err != nil {
		t.Fatal(err)
	}
	cs, err := evidence.Init(filepath.Join(t.TempDir(), "case"), evidence.Config{Examiner: "T", Zone: "UTC", Name: "pm"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range []string{"a", "b", "access.log"} {
		it, err := cs.AddEvidence(ctx, filepath.Join(reg, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	// The worker's machine mounts the evidence elsewhere; there, b's file
	// has been altered.
	mount := filepath.Join(t.TempDir(), "mount")
	if err := os.Rename(reg, mount); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(mount, "b", "syslog_ssh.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("Jan  1 00:00:00 host sshd[1]: inserted later\n")
	f.Close()

	es := openES(t, urls, freshIndex(t))
	if _, err := worker.Push(ctx, cs, nil, es, "t"); err != nil {
		t.Fatal(err)
	}
	res, err := worker.Run(ctx, worker.Config{ES: es, Name: "pm", WorkDir: t.TempDir(), Registry: all.Registry(),
		PathMap: []worker.PathMap{{From: reg, To: mount}}, Lease: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Done) != 2 || res.Done[0] != ids[0] || res.Done[1] != ids[2] || len(res.Refused) != 1 || res.Refused[0] != ids[1] {
		t.Fatalf("worker result %+v, want %s and %s done, %s refused", res, ids[0], ids[2], ids[1])
	}
	cc := es.Case()
	cl, _, err := cc.GetClaim(ctx, ids[1])
	if err != nil || cl.State != elastic.ClaimRefused {
		t.Fatalf("claim of the changed item: %+v %v", cl, err)
	}
	// Only the events of a and the file item are in the index.
	n, err := es.Count(ctx, timeline.Query{})
	if err != nil || n == 0 || n != res.Events {
		t.Fatalf("index holds %d events (err %v), the worker sent %d", n, err, res.Events)
	}
	chain, err := cc.Custody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refused bool
	for _, e := range chain {
		refused = refused || e.Action == "evidence_refused"
	}
	if !refused {
		t.Fatal("no evidence_refused entry in the cluster's custody chain")
	}
}
