package casework

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jejak-forensics/jejak/casework/baseline"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// BaselinesDir is the case subfolder baselines are written to.
const BaselinesDir = "baselines"

// ErrNothingToCompare is DiffBaseline's error (in an *OptionError) when
// no evidence is left to compare.
var ErrNothingToCompare = errors.New("no evidence to compare")

var baselineName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// CaptureOptions are the options of CaptureBaseline.
type CaptureOptions struct {
	// Source is the tree or image captured: a path (registered as
	// evidence first if it is not) or a registered item's ID.
	Source string
	// Name of the baseline (CASE/baselines/NAME.jsonl); default the
	// item's name without its extension. Letters, digits, '.', '_' and
	// '-', up to 100.
	Name string
	// Registered, when set, is told of an item Source registered.
	Registered func(*evidence.Item)
}

// CaptureResult is a baseline written.
type CaptureResult struct {
	Name, File, SHA256 string
	Size               int64
	Evidence           *evidence.Item
	Trailer            *baseline.Trailer
}

// CaptureBaseline records every file of an evidence item (hashes, owner,
// mode, times) and the facts an auditor reviews into a new baseline file
// of the case (never overwritten), with a custody entry. A bad name or an
// existing baseline is an *OptionError.
func (c *Case) CaptureBaseline(ctx context.Context, o CaptureOptions) (*CaptureResult, error) {
	cs := c.Evidence
	if err := cs.CheckSigning(); err != nil {
		return nil, err
	}
	it, added, err := evidenceFor(ctx, cs, o.Source)
	if err != nil {
		return nil, err
	}
	if added && o.Registered != nil {
		o.Registered(it)
	}
	name := o.Name
	if name == "" {
		name = strings.TrimSuffix(it.Name, filepath.Ext(it.Name))
	}
	if !baselineName.MatchString(name) {
		return nil, optionErrorf("baseline name %q: use letters, digits, '.', '_' and '-' (up to 100)", name)
	}
	out := filepath.Join(cs.Dir(), BaselinesDir, name+".jsonl")
	if _, err := os.Stat(out); err == nil {
		return nil, optionErrorf("baseline %s exists already (%s): a baseline is never overwritten; choose another --name", name, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	source, err := baseline.OpenSource(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), Zone: cs.Location()})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", it.Path, err)
	}
	var tr *baseline.Trailer
	sum, size, err := WriteOutput(out, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var err error
		tr, err = baseline.Capture(ctx, source, bw, baseline.Options{Now: c.now, Header: baseline.Header{
			Name: name, Source: it.Path, SourceSHA256: it.SHA256, SourceID: it.ID,
			Examiner: cs.Examiner(), ToolVersion: c.Config.ToolVersion}})
		if err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return nil, err
	}
	if err := cs.Log("baseline_capture", map[string]any{"name": name, "file": out, "sha256": sum, "size": size,
		"evidence": it.ID, "evidence_sha256": it.SHA256, "files": tr.Files, "dirs": tr.Dirs, "hashed": tr.Hashed,
		"errors": tr.Errors, "facts": tr.Facts, "problems": tr.ProblemCount}); err != nil {
		return nil, err
	}
	return &CaptureResult{Name: name, File: out, SHA256: sum, Size: size, Evidence: it, Trailer: tr}, nil
}

// DiffOptions are the options of DiffBaseline.
type DiffOptions struct {
	// Against is the reference: a baseline (a name in CASE/baselines or a
	// baseline file) or a manifest file (sha256sum-style, BSD, CSV, JSON,
	// NSRL RDS).
	Against string
	// Evidence are the items compared (paths, registered first if they are
	// not, or registered IDs); none: every registered item but the
	// baseline's own source.
	Evidence []string
	// Touched lists files whose times alone moved too.
	Touched bool
	// Registered, when set, is told of each item registered; Skipped of
	// an item left out as the baseline's own source; ManifestWarning of
	// each manifest line that could not be read.
	Registered      func(*evidence.Item)
	Skipped         func(*evidence.Item)
	ManifestWarning func(file string, w baseline.ManifestWarning)
}

// DiffItem is one evidence item compared with the reference.
type DiffItem struct {
	Evidence string              `json:"evidence"`
	Path     string              `json:"path"`
	Result   *baseline.Result    `json:"result"`
	Changes  []baseline.Change   `json:"changes"`
	Stored   timeline.WriteStats `json:"stored"`
}

// DiffResult is a comparison: the reference file read, the reference, and
// each item's differences. Summary is what the run record holds (the
// command line's --json).
type DiffResult struct {
	Against   string
	Reference *baseline.Reference
	Items     []DiffItem
	Summary   map[string]any
}

// DiffBaseline compares evidence with a baseline or a manifest; each
// difference (not a file whose times alone moved) is stored as an event
// (event.dataset jejak.baseline) with an ID from the reference, the item
// and the path, in a run of its own, and the comparison is recorded in the
// custody log. A reference that is no file nor baseline, or no evidence to
// compare, is an *OptionError. The result comes with the error of a
// comparison that failed part-way.
func (c *Case) DiffBaseline(ctx context.Context, o DiffOptions) (*DiffResult, error) {
	cs := c.Evidence
	if err := cs.CheckSigning(); err != nil {
		return nil, err
	}
	ref, refFile, warns, err := loadReference(cs, o.Against)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		if o.ManifestWarning != nil {
			o.ManifestWarning(refFile, w)
		}
	}
	var items []*evidence.Item
	if len(o.Evidence) > 0 {
		for _, p := range o.Evidence {
			it, added, err := evidenceFor(ctx, cs, p)
			if err != nil {
				return nil, err
			}
			if added && o.Registered != nil {
				o.Registered(it)
			}
			items = append(items, it)
		}
	} else {
		all, err := cs.Evidence()
		if err != nil {
			return nil, err
		}
		for _, it := range all {
			if ref.SourceSHA256 != "" && it.SHA256 == ref.SourceSHA256 {
				// The baseline's own source: comparing it with itself says
				// nothing (name it to do so anyway).
				if o.Skipped != nil {
					o.Skipped(it)
				}
				continue
			}
			if err := cs.Recheck(ctx, it, false); err != nil {
				return nil, fmt.Errorf("evidence %s refused: %w", it.ID, err)
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, optionErrorf("case %s: %w: name some after the case", cs.Dir(), ErrNothingToCompare)
	}
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	// The run names no items: it stores differences, it does not read the
	// items' logs, so it must not count as their ingest (completeness).
	if _, err := store.StartRun(ctx, RunStart(c.now(), c.Config.ToolVersion, nil)); err != nil {
		return nil, err
	}
	var results []DiffItem
	var runErr error
	for _, it := range items {
		src, err := baseline.OpenSource(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), Zone: cs.Location()})
		if err != nil {
			runErr = fmt.Errorf("open evidence %s: %w", it.Path, err)
			break
		}
		di := DiffItem{Evidence: it.ID, Path: it.Path}
		var batch []*timeline.Event
		flush := func() error {
			st, err := store.Write(ctx, batch)
			di.Stored.Inserted += st.Inserted
			di.Stored.Duplicates += st.Duplicates
			batch = batch[:0]
			return err
		}
		later := baseline.Later{SHA256: it.SHA256, Name: it.Name}
		di.Result, err = baseline.Diff(ctx, ref, src, func(ch baseline.Change) error {
			if ch.Status == baseline.Touched && !o.Touched {
				return nil
			}
			di.Changes = append(di.Changes, ch)
			if ch.Status == baseline.Touched {
				return nil
			}
			batch = append(batch, ch.Event(ref, later))
			if len(batch) >= 1000 {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		results = append(results, di)
		if err != nil {
			runErr = err
			break
		}
	}
	if runErr == nil {
		dups, err := store.FinishWrites(context.WithoutCancel(ctx))
		if err != nil {
			runErr = err
		}
		if dups > 0 && len(results) > 0 {
			results[0].Stored.Inserted -= dups
			results[0].Stored.Duplicates += dups
		}
	}
	summary := map[string]any{"against": refFile, "reference": ref.Kind, "reference_sha256": ref.SHA256, "items": results}
	if err := store.EndRun(context.WithoutCancel(ctx), c.now(), RunState(runErr), errString(runErr), summary); err != nil && runErr == nil {
		runErr = err
	}
	logged := []map[string]any{}
	for _, r := range results {
		logged = append(logged, map[string]any{"evidence": r.Evidence, "result": r.Result, "stored": r.Stored})
	}
	if err := cs.Log("baseline_diff", map[string]any{"against": refFile, "reference": ref.Kind, "reference_sha256": ref.SHA256,
		"items": logged, "error": errString(runErr),
		// The store's digest after the run, as ingest records it: 'jejak
		// evidence verify' checks the events against the latest one.
		"store": StoreDetails(context.WithoutCancel(ctx), store, IngestStoreParts...)}); err != nil && runErr == nil {
		runErr = err
	}
	return &DiffResult{Against: refFile, Reference: ref, Items: results, Summary: summary}, runErr
}

// evidenceFor returns the registered item of path (or ID), registering it
// first when it is not: a baseline's or a diff's bytes must be evidence of
// the case, with their hashes in the registry and the custody log.
func evidenceFor(ctx context.Context, cs *evidence.Case, p string) (*evidence.Item, bool, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, false, err
	}
	items, err := cs.Evidence()
	if err != nil {
		return nil, false, err
	}
	for _, it := range items {
		if it.Path == abs || it.ID == p {
			if err := cs.Recheck(ctx, it, false); err != nil {
				return nil, false, fmt.Errorf("evidence %s refused: %w", it.ID, err)
			}
			return it, false, nil
		}
	}
	it, err := cs.AddEvidence(ctx, abs, nil)
	return it, err == nil, err
}

// OpenBaseline reads a baseline by name (CASE/baselines/NAME.jsonl) or path.
func OpenBaseline(cs *evidence.Case, ref string) (*baseline.Baseline, string, string, error) {
	p := ref
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(cs.Dir(), BaselinesDir, ref+".jsonl")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", "", fmt.Errorf("baseline %s: %w", ref, err)
	}
	b, err := baseline.Read(bytes.NewReader(data))
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", p, err)
	}
	s := sha256.Sum256(data)
	return b, p, hex.EncodeToString(s[:]), nil
}

// loadReference reads --against: a baseline (by name or file) or a
// manifest file.
func loadReference(cs *evidence.Case, against string) (*baseline.Reference, string, []baseline.ManifestWarning, error) {
	p := against
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(cs.Dir(), BaselinesDir, against+".jsonl")
		if _, err2 := os.Stat(p); err2 != nil {
			return nil, "", nil, optionErrorf("--against %s: neither a file nor a baseline of the case (%v)", against, err)
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", nil, err
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	if bytes.HasPrefix(data, []byte(`{"type":"header"`)) {
		if _, err := BaselineCustody(cs, p, sum); err != nil {
			return nil, "", nil, err
		}
		b, err := baseline.Read(bytes.NewReader(data))
		if err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", p, err)
		}
		return baseline.FromBaseline(b, sum), p, nil, nil
	}
	ref, warns, err := baseline.ReadManifest(bytes.NewReader(data), filepath.Base(p))
	if err != nil {
		return nil, "", warns, err
	}
	ref.SHA256 = sum
	if fi, err := os.Stat(p); err == nil {
		ref.Time = fi.ModTime().UTC()
	}
	return ref, p, warns, nil
}

// BaselineCustody finds the custody entry that recorded a baseline file's
// capture in this case and checks the file still has the hash it
// recorded: a baseline changed after capture is refused. A baseline
// captured elsewhere (another case) has no entry: seq 0, no error; the
// diff's own entry records its hash.
func BaselineCustody(cs *evidence.Case, p, sum string) (int64, error) {
	abs := AbsPath(p)
	a := cs.Audit(evidence.AuditOptions{})
	var seq int64
	var want string
	for _, e := range a.Entries {
		if e.Action != "baseline_capture" {
			continue
		}
		if f, _ := e.Details["file"].(string); f == abs {
			seq = e.Seq
			want, _ = e.Details["sha256"].(string)
		}
	}
	if seq > 0 && want != sum {
		return seq, fmt.Errorf("baseline %s was changed after its capture: custody entry %d recorded sha256 %s, the file now has %s", p, seq, want, sum)
	}
	return seq, nil
}
