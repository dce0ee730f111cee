package casework

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestDeferredEvidenceIngest: evidence added with Defer is read by the
// next Ingest before its SHA-1 and MD5 are recorded, and registered by
// that Ingest before it records its run, so that the case ends as one
// whose evidence was added in full first: the same custody actions in the
// same order, the same digests (checked against sha1sum and md5sum), the
// events' provenance naming its SHA-256, and an audit that passes.
func TestDeferredEvidenceIngest(t *testing.T) {
	ctx := context.Background()
	// Large enough for its SHA-1 and MD5 to be left to finish (64 MiB);
	// sparse, so it costs no disk. Its content is zeros: its own times
	// are its events.
	ev := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64<<20 + 512); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	sum := func(tool string) string {
		out, err := exec.Command(tool, ev).Output()
		if err != nil {
			t.Skipf("%s: %v", tool, err)
		}
		return strings.Fields(string(out))[0]
	}
	wantSHA1, wantMD5 := sum("sha1sum"), sum("md5sum")

	run := func(o AddOptions) (actions []string, it *evidence.Item) {
		t.Helper()
		c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: "UTC", ToolVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		added, err := c.AddEvidence(ctx, ev, o)
		if err != nil {
			t.Fatal(err)
		}
		if items, _ := c.Evidence.Evidence(); o.Defer != (len(items) == 0) {
			t.Errorf("Defer %v: %d items registered before the ingest", o.Defer, len(items))
		}
		if o.Defer && (added.MD5 != "" || added.SHA1 != "") {
			t.Errorf("deferred item with SHA-1 or MD5 before the ingest: %+v", added)
		}
		res, err := c.Ingest(ctx, IngestOptions{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Summary.Events == 0 {
			t.Errorf("Defer %v: no events", o.Defer)
		}
		n := 0
		if err := c.Store.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
			if e.Jejak.Provenance.EvidenceSHA256 != added.SHA256 {
				t.Errorf("event of evidence %s, want %s", e.Jejak.Provenance.EvidenceSHA256, added.SHA256)
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if int64(n) != res.Summary.Events {
			t.Errorf("Defer %v: %d events stored, %d read", o.Defer, n, res.Summary.Events)
		}
		items, err := c.Evidence.Evidence()
		if err != nil || len(items) != 1 {
			t.Fatalf("Defer %v: registry %v, %v", o.Defer, items, err)
		}
		if len(c.Evidence.PendingItems()) != 0 {
			t.Errorf("Defer %v: still pending after the ingest", o.Defer)
		}
		for _, ck := range c.Verify(ctx, evidence.AuditOptions{}).Checks {
			if ck.Status == evidence.CheckFailed {
				t.Errorf("Defer %v: audit %s: %s", o.Defer, ck.Name, ck.Detail)
			}
		}
		entries, err := c.Evidence.VerifyCustody()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		return actions, items[0]
	}
	fullActions, full := run(AddOptions{})
	deferActions, deferred := run(AddOptions{Defer: true})
	if !slices.Equal(fullActions, deferActions) {
		t.Errorf("custody actions\nadded in full %q\ndeferred      %q", fullActions, deferActions)
	}
	for _, it := range []*evidence.Item{full, deferred} {
		if it.SHA1 != wantSHA1 || it.MD5 != wantMD5 || it.SHA256 != full.SHA256 || it.ID != full.ID {
			t.Errorf("item %+v, want SHA-1 %s, MD5 %s, SHA-256 %s", it, wantSHA1, wantMD5, full.SHA256)
		}
	}
}
