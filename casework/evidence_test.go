package casework_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestCheckStoredHashes: an E01's media verifies against the MD5 and SHA-1
// its acquisition stored; the same image with one byte of its last chunk
// changed does not (a failed decompression or a mismatch, never "ok"); an
// item that is no EWF image has no stored hashes to check.
func TestCheckStoredHashes(t *testing.T) {
	ctx := context.Background()
	src := parsertest.Corpus(t, "images/image.E01")
	c, err := casework.Init(ctx, filepath.Join(t.TempDir(), "case"), casework.Options{Examiner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.AddEvidence(ctx, src, casework.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := casework.CheckStoredHashes(ctx, it)
	if err != nil || mc == nil {
		t.Fatalf("CheckStoredHashes(%s) = %v, %v", src, mc, err)
	}
	if mc.Stored.MD5 == "" || mc.Computed.MD5 != mc.Stored.MD5 || len(mc.Mismatches) != 0 {
		t.Errorf("intact image: computed %+v, stored %+v, mismatches %v", mc.Computed, mc.Stored, mc.Mismatches)
	}

	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// A byte in the middle of the chunk data: between the "sectors"
	// section's 76-byte descriptor and the "table" section after it.
	sectors, table := bytes.Index(data, []byte("sectors")), bytes.Index(data, []byte("table"))
	if sectors < 0 || table < sectors+76 {
		t.Fatalf("no sectors section before the table in %s", src)
	}
	data[(sectors+76+table)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.E01")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mc, err = casework.CheckStoredHashes(ctx, &evidence.Item{ID: "bad", Kind: "file", Path: bad})
	if err == nil && (mc == nil || len(mc.Mismatches) == 0) {
		t.Errorf("changed image verified: %+v", mc)
	}

	other := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(other, []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mc, err := casework.CheckStoredHashes(ctx, &evidence.Item{ID: "txt", Kind: "file", Path: other}); mc != nil || err != nil {
		t.Errorf("a text file: %+v, %v; want nothing to check", mc, err)
	}
}

// TestVerifyEvidence: each item gets one check, in registry order, after
// the files it reports: an intact E01 verifies with its media checked, an
// E01 whose chunk data changed after registration still matches its
// registered hash (it was registered damaged) but fails on its media, and
// a folder with a file changed and one added fails on both, each reported.
func TestVerifyEvidence(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(parsertest.Corpus(t, "images/image.E01"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	good, bad, dir := filepath.Join(root, "good", "image.E01"), filepath.Join(root, "bad", "image.E01"), filepath.Join(root, "dir")
	broken := bytes.Clone(src)
	for i := len(broken) / 2; i < len(broken)/2+16; i++ {
		broken[i] ^= 0xff
	}
	for p, b := range map[string][]byte{good: src, bad: broken, filepath.Join(dir, "a.txt"): []byte("a\n")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := casework.Init(ctx, filepath.Join(root, "case"), casework.Options{Examiner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []string
	for _, p := range []string{good, bad, dir} {
		it, err := c.AddEvidence(ctx, p, casework.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("added\n"), 0o644)

	var order []string // "file ID NAME" and "item ID" as the callbacks came
	checks, err := c.VerifyEvidence(ctx, casework.VerifyEvidenceOptions{
		File: func(it *evidence.Item, file string, err error) {
			if err != nil {
				order = append(order, "file "+it.ID+" "+filepath.Base(file))
			}
		},
		Item: func(ic casework.ItemCheck) { order = append(order, "item "+ic.Item.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"item " + ids[0], "item " + ids[1], "file " + ids[2] + " a.txt", "file " + ids[2] + " b.txt", "item " + ids[2]}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("callbacks %q, want %q", order, want)
	}
	if len(checks) != 3 {
		t.Fatalf("%d checks, want 3", len(checks))
	}
	if ic := checks[0]; ic.Failure() != nil || ic.Media == nil || ic.Media.Computed.MD5 != ic.Media.Stored.MD5 {
		t.Errorf("intact E01: failure %v, media %+v", ic.Failure(), ic.Media)
	}
	if ic := checks[1]; ic.Err != nil || ic.Failure() == nil {
		t.Errorf("damaged E01: hash error %v (want none: registered as it is), failure %v (want its media)", ic.Err, ic.Failure())
	}
	if ic := checks[2]; ic.Err == nil || ic.Failure() != ic.Err || ic.Media != nil {
		t.Errorf("changed folder: error %v, failure %v, media %+v", ic.Err, ic.Failure(), ic.Media)
	}
}

// TestIngestRegistering: an ingest that starts before its evidence's SHA-1
// and MD5 are known ends as one after AddEvidence does (the same events,
// the same registry, the custody entries in the same order, the late
// hashes in the evidence_add entry), and one whose late hashes fail (the
// file changed after its SHA-256 was taken) fails with an error naming the
// file and leaves the case as created: nothing registered, no store, no
// custody entry after case_init.
func TestIngestRegistering(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		err     error
		actions []string
		items   []*evidence.Item
		events  string // the timeline exported as JSONL
	}
	// One file for every run: events name their evidence's path and
	// times (the change time too; the run that fails changes it last).
	ev := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(ev, src, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, overlap bool, changeLate bool) outcome {
		t.Helper()
		cfg := casework.Options{Examiner: "t", Zone: "UTC"}
		cs, err := evidence.Init(filepath.Join(t.TempDir(), "case"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		k := casework.FromEvidence(cs, nil, cfg)
		ingest := func(ctx context.Context) error {
			_, err := k.Ingest(ctx, casework.IngestOptions{})
			return err
		}
		var o outcome
		if overlap {
			progress := func(done, total int64) {
				if changeLate && done == total {
					// After the SHA-256 pass read the last byte: the
					// inode changes, the bytes do not.
					if err := os.Chmod(ev, 0o600); err != nil {
						t.Error(err)
					}
				}
			}
			r, err := k.BeginEvidence(ctx, ev, casework.AddOptions{Progress: progress})
			if err != nil {
				t.Fatal(err)
			}
			o.err = k.IngestRegistering(ctx, []*evidence.Registration{r}, ingest)
		} else {
			if _, err := k.AddEvidence(ctx, ev, casework.AddOptions{}); err != nil {
				t.Fatal(err)
			}
			o.err = ingest(ctx)
		}
		entries, err := cs.VerifyCustody()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			o.actions = append(o.actions, e.Action)
		}
		if o.err == nil {
			store, err := sqlite.Open(ctx, cs.StorePath())
			if err != nil {
				t.Fatal(err)
			}
			var jsonl bytes.Buffer
			if _, err := casework.FromEvidence(cs, store, cfg).Export(ctx, casework.ExportOptions{Format: export.JSONL, W: &jsonl}); err != nil {
				t.Fatal(err)
			}
			store.Close()
			o.events = jsonl.String()
		}
		if o.items, err = cs.Evidence(); err != nil {
			t.Fatal(err)
		}
		for _, it := range o.items {
			it.Path, it.AddedAt = filepath.Base(it.Path), time.Time{}
			for i := range it.Segments {
				it.Segments[i].Path, it.Segments[i].Changed = filepath.Base(it.Segments[i].Path), time.Time{}
			}
		}
		if _, err := os.Stat(cs.StorePath()); changeLate && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("store of a failed registration: %v; want it removed", err)
		}
		return o
	}

	added, overlapped := run(t, false, false), run(t, true, false)
	if added.err != nil || overlapped.err != nil {
		t.Fatalf("ingest errors: after AddEvidence %v, overlapped %v", added.err, overlapped.err)
	}
	if want := []string{"case_init", "evidence_add", "case_files", "ingest"}; fmt.Sprint(overlapped.actions) != fmt.Sprint(want) || fmt.Sprint(added.actions) != fmt.Sprint(want) {
		t.Errorf("custody: after AddEvidence %v, overlapped %v; want %v", added.actions, overlapped.actions, want)
	}
	if added.events == "" || added.events != overlapped.events {
		t.Errorf("events: after AddEvidence\n%s\noverlapped\n%s", added.events, overlapped.events)
	}
	if len(overlapped.items) != 1 || overlapped.items[0].MD5 == "" || !reflect.DeepEqual(added.items, overlapped.items) {
		t.Errorf("registry: after AddEvidence %+v, overlapped %+v", *added.items[0], *overlapped.items[0])
	}

	failed := run(t, true, true)
	var ch *evidence.ChangedDuringHashError
	if !errors.As(failed.err, &ch) || filepath.Base(ch.Path) != "auth.log" {
		t.Errorf("late hash failure: %v; want a ChangedDuringHashError naming the file", failed.err)
	}
	if fmt.Sprint(failed.actions) != "[case_init]" || len(failed.items) != 0 {
		t.Errorf("after a failed registration: custody %v, items %+v", failed.actions, failed.items)
	}
}
