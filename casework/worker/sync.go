package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// The case folder's files that are copied into the case document verbatim.
// custody.log, custody.head and custody.sig go entry by entry into the
// custody index; manifests with their items.
var metaFiles = []string{"case.json", "evidence.json"}

// PushResult says what a push wrote.
type PushResult struct {
	Items, Runs, Warnings int
	Custody, CustodyAdded int // entries in the chain, entries new to the cluster
}

// Push puts a case folder into the cluster beside its timeline index: the
// case document (case.json and evidence.json verbatim), the evidence
// registry with folder manifests, the custody chain (entries verbatim,
// signatures with them, checked as a chain before and after), and, when
// store is not nil, the runs and warnings of its case.db. The push itself
// is recorded in the folder's custody log first, so the chain pushed says
// it was pushed.
func Push(ctx context.Context, cs *evidence.Case, store *sqlite.Store, es *elastic.Store, pushedBy string) (PushResult, error) {
	var res PushResult
	if err := cs.Log("case_push", map[string]any{"index": es.Index()}); err != nil {
		return res, err
	}
	if _, err := cs.VerifyCustody(); err != nil {
		return res, fmt.Errorf("push: the case folder's custody chain does not verify: %w", err)
	}
	cc := es.Case()
	if err := cc.Install(ctx); err != nil {
		return res, err
	}
	info := cs.Info()
	meta := elastic.CaseMeta{Name: info.Name, Examiner: info.Examiner, Zone: info.Zone, Created: info.Created,
		ToolVersion: info.ToolVersion, SigningKey: info.SigningKey, FormatVersion: info.FormatVersion,
		PushedAt: time.Now().UTC(), PushedBy: pushedBy, Files: map[string]string{}}
	for _, name := range metaFiles {
		b, err := os.ReadFile(filepath.Join(cs.Dir(), name))
		if err != nil {
			return res, fmt.Errorf("push: %w", err)
		}
		meta.Files[name] = string(b)
	}
	items, err := cs.Evidence()
	if err != nil {
		return res, err
	}
	docs := make([]elastic.ItemDoc, len(items))
	for i, it := range items {
		raw, err := json.Marshal(it)
		if err != nil {
			return res, err
		}
		docs[i] = elastic.ItemDoc{ID: it.ID, Order: i, Item: raw}
		if it.Manifest != "" {
			if docs[i].Manifest, err = os.ReadFile(filepath.Join(cs.Dir(), filepath.FromSlash(it.Manifest))); err != nil {
				return res, fmt.Errorf("push: manifest of %s: %w", it.ID, err)
			}
		}
	}
	// Registry before the case document: a reader that finds the case
	// document finds its items.
	if err := cc.PutEvidence(ctx, docs); err != nil {
		return res, err
	}
	res.Items = len(docs)
	if err := cc.PutMeta(ctx, meta); err != nil {
		return res, err
	}
	lines, err := readLines(filepath.Join(cs.Dir(), "custody.log"))
	if err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	sigs, err := readSigs(filepath.Join(cs.Dir(), "custody.sig"))
	if err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	res.Custody = len(lines)
	if res.CustodyAdded, err = cc.PushCustody(ctx, lines, sigs); err != nil {
		return res, err
	}
	if store != nil {
		if res.Runs, err = pushRuns(ctx, store, cc); err != nil {
			return res, err
		}
		if res.Warnings, err = pushWarnings(ctx, store, cc); err != nil {
			return res, err
		}
	}
	_, err = cc.Custody(ctx) // read back: the chain verifies in the cluster
	return res, err
}

func pushRuns(ctx context.Context, store *sqlite.Store, cc *elastic.CaseStore) (int, error) {
	runs, err := store.Runs(ctx)
	if err != nil {
		return 0, err
	}
	docs := make([]elastic.RunDoc, 0, len(runs))
	for _, r := range runs {
		d := elastic.RunDoc{ID: fmt.Sprintf("folder-%06d", r.ID), Source: "folder", Host: r.Host, PID: r.PID,
			Started: r.Started, State: string(r.State), Error: r.Error, ToolVersion: r.ToolVersion,
			Events: r.Progress.Events}
		if !r.Finished.IsZero() {
			f := r.Finished
			d.Finished = &f
		}
		for _, it := range r.Items {
			d.Item = append(d.Item, it.ID)
			d.SHA256 = append(d.SHA256, it.SHA256)
		}
		docs = append(docs, d)
	}
	return len(docs), cc.PutRuns(ctx, docs)
}

func pushWarnings(ctx context.Context, store *sqlite.Store, cc *elastic.CaseStore) (int, error) {
	var batch []timelineWarning
	n := 0
	flush := func() error {
		n += len(batch)
		err := cc.PutWarnings(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := store.Warnings(ctx, false, func(w timelineWarning) error {
		batch = append(batch, w)
		if len(batch) == 5000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// readLines reads a file of newline-ended lines; a last line without its
// newline was cut mid-write and is an error.
func readLines(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%s: last line is incomplete (no newline)", path)
	}
	return bytes.Split(b[:len(b)-1], []byte{'\n'}), nil
}

// readSigs maps each seq of custody.sig to its line verbatim.
func readSigs(path string) (map[int64]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[int64]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var s struct {
			Seq int64 `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || s.Seq < 1 {
			return nil, fmt.Errorf("%s line %d is not a signature line", path, n)
		}
		out[s.Seq] = sc.Text()
	}
	return out, sc.Err()
}

// PullResult says what a pull wrote.
type PullResult struct {
	Dir     string
	Items   int
	Custody int
}

// Pull recreates a case folder in dir (new or empty) from the cluster: the
// case files verbatim, folder manifests, and custody.log, custody.head and
// custody.sig from the custody index (workers' entries included). The
// chain is verified twice: as read from the cluster, and by
// forensics/evidence once the folder is written. The timeline, runs and
// warnings stay in the cluster (the pulled folder has no case.db).
func Pull(ctx context.Context, es *elastic.Store, dir string) (PullResult, error) {
	var res PullResult
	cc := es.Case()
	if err := cc.Check(ctx); err != nil {
		return res, err
	}
	meta, err := cc.Meta(ctx)
	if err != nil {
		return res, err
	}
	items, err := cc.Evidence(ctx)
	if err != nil {
		return res, err
	}
	chain, err := cc.Custody(ctx)
	if err != nil {
		return res, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return res, err
	}
	if err := emptyDir(abs); err != nil {
		return res, err
	}
	for _, d := range []string{"", "tmp", "manifests"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o750); err != nil {
			return res, err
		}
	}
	write := func(name string, b []byte) error {
		return os.WriteFile(filepath.Join(abs, filepath.FromSlash(name)), b, 0o640)
	}
	for _, it := range items {
		if it.Manifest == nil {
			continue
		}
		var ref struct {
			Manifest string `json:"manifest"`
		}
		if err := json.Unmarshal(it.Item, &ref); err != nil || ref.Manifest == "" || !filepath.IsLocal(filepath.FromSlash(ref.Manifest)) {
			return res, fmt.Errorf("pull: evidence %s has a manifest but no usable manifest path", it.ID)
		}
		if err := write(ref.Manifest, it.Manifest); err != nil {
			return res, err
		}
	}
	var log, sig bytes.Buffer
	for _, e := range chain {
		log.WriteString(e.Line)
		log.WriteByte('\n')
		if e.Sig != "" {
			sig.WriteString(e.Sig)
			sig.WriteByte('\n')
		}
	}
	if err := write("custody.log", log.Bytes()); err != nil {
		return res, err
	}
	if sig.Len() > 0 {
		if err := write("custody.sig", sig.Bytes()); err != nil {
			return res, err
		}
	}
	if n := len(chain); n > 0 {
		h, _ := json.Marshal(map[string]any{"seq": chain[n-1].Seq, "hash": chain[n-1].Hash})
		if err := write("custody.head", append(h, '\n')); err != nil {
			return res, err
		}
	}
	for _, name := range []string{"evidence.json", "case.json"} { // case.json last: it makes the folder a case
		b, ok := meta.Files[name]
		if !ok {
			return res, fmt.Errorf("pull: the case document lacks %s", name)
		}
		if err := write(name, []byte(b)); err != nil {
			return res, err
		}
	}
	cs, err := evidence.Open(abs)
	if err != nil {
		return res, fmt.Errorf("pull: the folder written does not open as a case: %w", err)
	}
	if _, err := cs.VerifyCustody(); err != nil {
		return res, fmt.Errorf("pull: %w", err)
	}
	return PullResult{Dir: abs, Items: len(items), Custody: len(chain)}, nil
}

func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("pull: %s is not empty: pull into a new or empty folder", dir)
	}
	return nil
}
