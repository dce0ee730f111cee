package casework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/atomicfile"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// source is what an output reads of a case beyond its folder: the
// timeline, and what ingest and hunt stored beside it. It is the case's own
// store (storeSource) or the case in Elasticsearch (clusterSource).
type source interface {
	export.Searcher
	Count(ctx context.Context, q timeline.Query) (int64, error)
	// Runs are the ingest runs, oldest first.
	Runs(ctx context.Context) ([]sqlite.RunRecord, error)
	// Warnings are the latest ingest's warnings.
	Warnings(ctx context.Context, fn func(timeline.Warning) error) error
	// Hunts are the stored hunts, latest first.
	Hunts(ctx context.Context) ([]sqlite.HuntRecord, error)
	Findings(ctx context.Context, huntKey string, fn func(sqlite.FindingRecord) error) error
	// Digest is the store check of the custody audit.
	Digest(ctx context.Context) func() (evidence.StoreDigest, error)
}

// storeSource is the case's embedded store as a source.
type storeSource struct{ s *sqlite.Store }

func (s storeSource) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return s.s.Search(ctx, q, fn)
}
func (s storeSource) Count(ctx context.Context, q timeline.Query) (int64, error) {
	return s.s.Count(ctx, q)
}
func (s storeSource) Runs(ctx context.Context) ([]sqlite.RunRecord, error) { return s.s.Runs(ctx) }
func (s storeSource) Warnings(ctx context.Context, fn func(timeline.Warning) error) error {
	return s.s.Warnings(ctx, true, fn)
}
func (s storeSource) Hunts(ctx context.Context) ([]sqlite.HuntRecord, error) { return s.s.Hunts(ctx) }
func (s storeSource) Findings(ctx context.Context, key string, fn func(sqlite.FindingRecord) error) error {
	return s.s.Findings(ctx, key, fn)
}
func (s storeSource) Digest(ctx context.Context) func() (evidence.StoreDigest, error) {
	return StoreDigestFunc(ctx, s.s.DB())
}

// ExportOptions say what an export writes and where.
type ExportOptions struct {
	Format export.Format
	// Query is the time range exported (zero: all of it).
	Query timeline.Query
	// From and To are the range as given by the user, recorded in the
	// custody entry as given.
	From, To string
	// Output is the file written, with FILE.manifest.json beside it and a
	// custody entry. Empty: the rows go to W alone (no manifest, no entry).
	Output string
	W      io.Writer
	// ToolVersion names the jejak that writes the manifest (empty: the one
	// the case was opened with).
	ToolVersion string
	// Completeness, when set, is called with the timeline's state before
	// anything is written (the command line warns on a partial timeline).
	Completeness func(*export.Completeness)
}

// OutputResult is what writing an output file with its manifest did.
type OutputResult struct {
	File, SHA256           string
	Manifest, ManifestHash string
	Size                   int64
	// Events written (an export) and findings stated (a report).
	Events   int64
	Findings int
	// Timeline is the state of the timeline the output was read from.
	Timeline *export.Completeness
}

// Export writes the case timeline in o.Format (see ExportOptions).
func (c *Case) Export(ctx context.Context, o ExportOptions) (*OutputResult, error) {
	if o.ToolVersion == "" {
		o.ToolVersion = c.Config.ToolVersion
	}
	return exportFrom(ctx, c.Evidence, storeSource{c.Store}, o, c.Evidence.Log)
}

// logFunc records a custody entry: in the case folder, or in the cluster.
type logFunc func(action string, details map[string]any) error

func exportFrom(ctx context.Context, cs *evidence.Case, src source, o ExportOptions, log logFunc) (*OutputResult, error) {
	comp, err := completeness(ctx, cs, src)
	if err != nil {
		return nil, err
	}
	if o.Completeness != nil {
		o.Completeness(comp)
	}
	res := &OutputResult{Timeline: comp}
	if o.Output == "" {
		res.Events, err = export.Write(ctx, o.W, o.Format, src, o.Query)
		return res, err
	}
	// The basis is read before the export, so the manifest names the
	// state the rows were read in.
	basis, _ := custodyBasis(cs, src.Digest(ctx))
	var n int64
	sum, size, err := WriteOutput(o.Output, func(w io.Writer) error {
		var err error
		n, err = export.Write(ctx, w, o.Format, src, o.Query)
		return err
	})
	if err != nil {
		return nil, err
	}
	params := map[string]any{"format": string(o.Format), "from": utcOrEmpty(o.Query.From), "to": utcOrEmpty(o.Query.To)}
	m, err := outputManifest(cs, o.ToolVersion, "export", o.Output, string(o.Format), size, sum, params, n, nil, basis)
	if err != nil {
		return nil, err
	}
	m.Timeline = comp
	msum, err := export.WriteManifest(export.ManifestPath(o.Output), m)
	if err != nil {
		return nil, err
	}
	if err := log("export", map[string]any{"format": string(o.Format), "file": AbsPath(o.Output), "events": n, "sha256": sum,
		"manifest_sha256": msum, "from": o.From, "to": o.To}); err != nil {
		return nil, err
	}
	res.File, res.SHA256, res.Size, res.Events = o.Output, sum, size, n
	res.Manifest, res.ManifestHash = export.ManifestPath(o.Output), msum
	return res, nil
}

func utcOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// outputActions are custody actions that only write something out of the
// case. An output reflects the case as of the last entry of another kind,
// so writing it again gives the same bytes.
var outputActions = map[string]bool{"export": true, "report": true}

// custodyBasis runs the custody checks (chain, case files, registry, store
// digest, signatures) and returns the entry an output reflects, signed
// when the case is, with every verified entry (those after the basis only
// record outputs).
func custodyBasis(cs *evidence.Case, digest func() (evidence.StoreDigest, error)) (export.ManifestCustody, []evidence.Entry) {
	a, b := auditBasis(cs, digest)
	for _, en := range a.Entries {
		if !outputActions[en.Action] {
			b.Seq, b.Hash = en.Seq, en.Hash
		}
	}
	signBasis(cs, a, &b)
	return b, a.Entries
}

// outputManifest describes an output file written from a case.
func outputManifest(cs *evidence.Case, toolVersion, command, outPath, format string, size int64, sum string,
	params any, events int64, findings *int, basis export.ManifestCustody) (*export.Manifest, error) {
	items, err := cs.Evidence()
	if err != nil {
		return nil, err
	}
	info := cs.Info()
	m := &export.Manifest{
		ManifestVersion: export.ManifestVersion,
		Tool:            "jejak",
		ToolVersion:     toolVersion,
		Command:         command,
		Output:          export.ManifestOutput{File: filepath.Base(outPath), Format: format, Size: size, SHA256: sum},
		Parameters:      params,
		Case:            export.ManifestCase{Name: info.Name, Examiner: info.Examiner, Zone: info.Zone, Created: info.Created},
		Evidence:        []export.ManifestEvidence{},
		Events:          events,
		Findings:        findings,
		Custody:         basis,
	}
	for _, it := range items {
		m.Evidence = append(m.Evidence, export.ManifestEvidence{ID: it.ID, Name: it.Name, Kind: it.Kind, Size: it.Size,
			SHA256: it.SHA256, SHA1: it.SHA1, MD5: it.MD5, Files: it.Files})
	}
	return m, nil
}

// WriteOutput writes an output file through a temporary file beside it,
// renamed into place when complete, and returns its SHA-256 and size.
func WriteOutput(outPath string, fn func(io.Writer) error) (string, int64, error) {
	var cw *countWriter
	err := atomicfile.Write(outPath, 0o644, func(w io.Writer) error {
		cw = &countWriter{w: w, h: sha256.New()}
		return fn(cw)
	})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(cw.h.Sum(nil)), cw.n, nil
}

// countWriter counts and hashes what passes through it.
type countWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Completeness works out from the recorded ingest runs and the evidence
// registry whether the case timeline is complete (see export.Completeness).
func (c *Case) Completeness(ctx context.Context) (*export.Completeness, error) {
	return completeness(ctx, c.Evidence, storeSource{c.Store})
}

// completeness: a run that did not complete stays against the case until
// a later run completes over the same items: deterministic event IDs make
// that run add exactly what the first one missed. A refused run read
// nothing into the store and changes nothing. A run recorded as running
// whose process is gone was killed.
func completeness(ctx context.Context, cs *evidence.Case, src source) (*export.Completeness, error) {
	runs, err := src.Runs(ctx)
	if err != nil {
		return nil, err
	}
	items, err := cs.Evidence()
	if err != nil {
		return nil, err
	}
	c := &export.Completeness{Runs: len(runs)}
	// covers reports whether completed run r read item x. Runs recorded
	// before items were read every item registered by then. An item is the
	// same by ID or by hash: registering an item again (its segments hashed
	// by a newer jejak) keeps its ID.
	same := func(a, b sqlite.RunItem) bool { return a.SHA256 == b.SHA256 || (a.ID != "" && a.ID == b.ID) }
	covers := func(r sqlite.RunRecord, x sqlite.RunItem) bool {
		if r.Items == nil {
			for _, it := range items {
				if same(sqlite.RunItem{ID: it.ID, SHA256: it.SHA256}, x) {
					return !it.AddedAt.After(r.Started)
				}
			}
			return false
		}
		return slices.ContainsFunc(r.Items, func(y sqlite.RunItem) bool { return same(x, y) })
	}
	host, _ := os.Hostname()
	partial := map[string]bool{} // items of the incomplete runs listed
	for i, r := range runs {
		if r.State == sqlite.RunComplete || r.State == sqlite.RunRefused {
			continue
		}
		want := r.Items
		if want == nil { // an older run: it was given every item registered then
			for _, it := range items {
				if !it.AddedAt.After(r.Started) {
					want = append(want, sqlite.RunItem{ID: it.ID, Name: it.Name, SHA256: it.SHA256})
				}
			}
		}
		cleared := slices.ContainsFunc(runs[i+1:], func(later sqlite.RunRecord) bool {
			return later.State == sqlite.RunComplete && !slices.ContainsFunc(want, func(x sqlite.RunItem) bool { return !covers(later, x) })
		})
		if cleared {
			continue
		}
		ir := export.IncompleteRun{Run: r.ID, State: string(r.State), Started: r.Started, Items: []string{},
			Files: r.Progress.Files, Events: r.Progress.Events, LastFile: r.Progress.LastFile, ProgressAt: r.Progress.At,
			PID: r.PID, Host: r.Host, Error: r.Error}
		if r.State == sqlite.RunRunning {
			switch {
			case r.Host != "" && r.Host != host:
				ir.State = "running elsewhere"
			case r.PID > 0 && r.PID != os.Getpid() && processAlive(r.PID):
				ir.State = "running"
			default:
				ir.State = "killed"
			}
		}
		for _, x := range want {
			ir.Items = append(ir.Items, x.ID+" "+x.Name)
			partial[x.SHA256], partial[x.ID] = true, true
		}
		c.Incomplete = append(c.Incomplete, ir)
	}
	for _, it := range items {
		if partial[it.SHA256] || partial[it.ID] || slices.ContainsFunc(runs, func(r sqlite.RunRecord) bool {
			return r.State == sqlite.RunComplete && covers(r, sqlite.RunItem{ID: it.ID, SHA256: it.SHA256})
		}) {
			continue
		}
		c.NotIngested = append(c.NotIngested, it.ID+" "+it.Name)
	}
	c.Complete = len(c.Incomplete) == 0 && len(c.NotIngested) == 0
	return c, nil
}

// processAlive reports whether a process with this pid exists (signal 0
// checks without sending anything; EPERM means it exists under another
// user). A pid reused since by an unrelated process reads as alive: the
// run then shows as running, never as complete. Where signals do not
// exist (Windows) Signal fails and the run reads as killed, which is
// incomplete either way.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
