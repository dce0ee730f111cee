package casework

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
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
	// Hunts is the number of stored hunts copied with their findings.
	Hunts int
	// Retries and Resent are the cluster's answers that had to be sent
	// again (whole requests, single events).
	Retries, Resent int64
}

// Index streams every event of the case store into es and checks the
// index then holds exactly the case's events (VerifyIndex), copies every
// stored hunt with its findings beside it (so a report can be written from
// the cluster, and Kibana shows them), then records the run in the
// custody log (also when it failed).
func (c *Case) Index(ctx context.Context, es *elastic.Store, o IndexOptions) (IndexResult, error) {
	res, err := indexAll(ctx, c, es, o.Progress)
	if err == nil {
		res.Hunts, err = copyHunts(ctx, c.Store, es)
	}
	st := es.Stats()
	res.Retries, res.Resent = int64(st.Retries), int64(st.ItemRetries)
	details := map[string]any{"index": es.Index(), "events": res.Events, "inserted": res.Inserted,
		"duplicates": res.Duplicates, "hunts": res.Hunts, "retries": st.Retries, "resent_events": st.ItemRetries, "error": errText(err)}
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

// copyHunts stores every hunt of the case store, with its findings in
// their order, in the cluster (replacing a hunt of the same key there).
func copyHunts(ctx context.Context, src *sqlite.Store, dst *elastic.Store) (int, error) {
	hunts, err := src.Hunts(ctx)
	if err != nil {
		return 0, err
	}
	for _, h := range hunts {
		var fs []store.Finding
		if err := src.Findings(ctx, h.Key, func(f store.Finding) error {
			fs = append(fs, f)
			return nil
		}); err != nil {
			return 0, err
		}
		if err := dst.PutHunt(ctx, h, fs); err != nil {
			return 0, fmt.Errorf("copy hunt %s to %s: %w", h.Key, dst.Index(), err)
		}
	}
	return len(hunts), nil
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

// Cluster is a case as Elasticsearch holds it (issue 17): its folder
// (case files, evidence registry and folder manifests, custody chain,
// verbatim) pulled from the case indices that 'jejak case push' and the
// workers write, its timeline read through a point in time, and its runs,
// warnings, hunts and findings read from their indices. Report and Export
// on it write what they write from the case folder, and record the output
// in the cluster's custody chain.
type Cluster struct {
	// Evidence is the case folder pulled from the cluster: what the
	// report states of the case, its evidence and its custody.
	Evidence *evidence.Case
	ES       *elastic.Store
	opts     Options
	tmp      string // the pulled folder, removed by Close, when OpenCluster made it
}

// OpenCluster pulls the case of es's index into dir (a new or empty
// folder; "": a temporary one that Close removes) and opens it with o
// (clock, examiner and tool version of the custody entries written).
func OpenCluster(ctx context.Context, es *elastic.Store, dir string, o Options) (*Cluster, error) {
	cl := &Cluster{ES: es, opts: o}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "jejak-cluster-case-*")
		if err != nil {
			return nil, err
		}
		dir, cl.tmp = tmp, tmp
	}
	if _, err := worker.Pull(ctx, es, dir); err != nil {
		cl.Close()
		return nil, err
	}
	cs, err := evidence.OpenWith(dir, o)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("case pulled from %s: %w", es.Index(), err)
	}
	cl.Evidence = cs
	return cl, nil
}

// Close removes the folder OpenCluster pulled the case into, when it made
// it. The store is the caller's.
func (cl *Cluster) Close() error {
	if cl == nil || cl.tmp == "" {
		return nil
	}
	return os.RemoveAll(cl.tmp)
}

// Report writes the expert report of one hunt stored in the cluster, as
// (*Case).Report does from the case folder.
func (cl *Cluster) Report(ctx context.Context, w io.Writer, o ReportOptions) (*OutputResult, error) {
	if o.ToolVersion == "" {
		o.ToolVersion = cl.opts.ToolVersion
	}
	if o.Output != "" {
		if err := cl.canRecord(ctx, "report"); err != nil {
			return nil, err
		}
	}
	return reportFrom(ctx, cl.Evidence, clusterSource{cl.ES}, w, o, cl.logger(ctx))
}

// Export writes the case timeline from the cluster, as (*Case).Export
// does from the case folder.
func (cl *Cluster) Export(ctx context.Context, o ExportOptions) (*OutputResult, error) {
	if o.ToolVersion == "" {
		o.ToolVersion = cl.opts.ToolVersion
	}
	if o.Output != "" {
		if err := cl.canRecord(ctx, "export"); err != nil {
			return nil, err
		}
	}
	return exportFrom(ctx, cl.Evidence, clusterSource{cl.ES}, o, cl.logger(ctx))
}

// canRecord refuses, before anything is written, an output whose custody
// entry the cluster's chain would not take: a signed chain takes entries
// only signed by the examiner's key, which is not in the cluster.
func (cl *Cluster) canRecord(ctx context.Context, action string) error {
	chain, err := cl.ES.Case().Custody(ctx)
	if err != nil {
		return err
	}
	if n := len(chain); n > 0 && chain[n-1].Signer != "" {
		return fmt.Errorf("the custody chain of %s is signed: a %s file written from the cluster could not be recorded in it without the examiner's key; write it to stdout (-o -), or pull the case ('jejak case pull') and work from the folder",
			cl.ES.Index(), action)
	}
	return nil
}

// logger records an output in the cluster's custody chain (the pulled
// folder is a copy: an entry there would be lost). A signed chain takes
// no entry without the examiner's key, which the cluster does not hold:
// the error says so after the file is written.
func (cl *Cluster) logger(ctx context.Context) logFunc {
	return func(action string, details map[string]any) error {
		now := time.Now()
		if cl.opts.Clock != nil {
			now = cl.opts.Clock()
		}
		_, err := cl.ES.Case().AppendCustody(ctx, now, cl.Evidence.Examiner(), action, details)
		if err != nil {
			return fmt.Errorf("record the %s in the custody chain of %s: %w", action, cl.ES.Case().Index(elastic.PartCustody), err)
		}
		return nil
	}
}

// clusterSource reads what an output states from the case indices.
type clusterSource struct{ es *elastic.Store }

// Search reads through a point in time, in (@timestamp, jejak.id) order:
// the case store's order, so an export from the cluster has the same rows
// in the same order, whatever workers write meanwhile.
func (s clusterSource) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return s.es.PIT().Search(ctx, q, fn)
}

func (s clusterSource) Count(ctx context.Context, q timeline.Query) (int64, error) {
	return s.es.Count(ctx, q)
}

// Runs are the runs pushed from the case store ("folder-N", run N there)
// in their order, then the workers' runs by start time, numbered on from
// the last pushed one.
func (s clusterSource) Runs(ctx context.Context) ([]sqlite.RunRecord, error) {
	docs, err := s.es.Case().Runs(ctx)
	if err != nil {
		return nil, err
	}
	var folder, workers []sqlite.RunRecord
	var last int64
	for _, d := range docs {
		r := sqlite.RunRecord{Started: d.Started, ToolVersion: d.ToolVersion, State: sqlite.RunState(d.State), PID: d.PID,
			Host: d.Host, Error: d.Error, Progress: sqlite.RunProgress{Events: d.Events}}
		if d.Finished != nil {
			r.Finished = *d.Finished
		}
		if d.Item != nil {
			r.Items = []sqlite.RunItem{}
			for i, id := range d.Item {
				it := sqlite.RunItem{ID: id}
				if i < len(d.SHA256) {
					it.SHA256 = d.SHA256[i]
				}
				r.Items = append(r.Items, it)
			}
		}
		if n, ok := strings.CutPrefix(d.ID, "folder-"); ok {
			id, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("run %s in %s: %w", d.ID, s.es.Case().Index(elastic.PartRuns), err)
			}
			r.ID, last = id, max(last, id)
			folder = append(folder, r)
			continue
		}
		workers = append(workers, r)
	}
	slices.SortFunc(folder, func(a, b sqlite.RunRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortStableFunc(workers, func(a, b sqlite.RunRecord) int { return a.Started.Compare(b.Started) })
	for i := range workers {
		workers[i].ID = last + int64(i) + 1
	}
	return append(folder, workers...), nil
}

// Warnings are every warning the cluster holds (each stored once, by its
// content), by document ID; the report's groups do not depend on the
// order (report.GroupWarnings). The warnings index does not say which run
// met a warning: for a case ingested more than once (or by several
// workers, one item each) the cluster's report lists the warnings of
// every run, where the folder's lists the latest run's.
func (s clusterSource) Warnings(ctx context.Context, fn func(timeline.Warning) error) error {
	return s.es.Case().Warnings(ctx, fn)
}

func (s clusterSource) Hunts(ctx context.Context) ([]sqlite.HuntRecord, error) {
	return s.es.Hunts(ctx)
}

func (s clusterSource) Findings(ctx context.Context, key string, fn func(sqlite.FindingRecord) error) error {
	return s.es.Findings(ctx, key, fn)
}

// Digest is nil: the store check binds the rows of case.db (row order,
// run numbers), which the cluster does not hold. The audit then says the
// check was not requested; the chain, case files, registry and signatures
// are checked as from the folder.
func (s clusterSource) Digest(context.Context) func() (evidence.StoreDigest, error) { return nil }

// ESOptions are how to reach a cluster, as a user gives them: what
// Config checks and turns into an elastic.Config.
type ESOptions struct {
	// URLs of nodes; each may name several, comma-separated, and carry
	// user:password@, taken as User and Password and never kept in a URL.
	URLs []string
	// Index is the timeline index; empty: IndexName(CaseName).
	Index, CaseName string
	// User and Password (basic auth), or APIKey (base64 id:key), which
	// overrides them.
	User, Password, APIKey string
	// CACertFile is a PEM file of the CA that signed the cluster's
	// certificate; CAFingerprint trusts it by its SHA-256 instead.
	CACertFile, CAFingerprint string
	// Workers is the number of bulk requests in flight at once (at least 1).
	Workers int
	// Compress is "auto" (gzip unless every node is on loopback), "on" or
	// "off"; empty is auto.
	Compress string
	// Warn, when set, is told what the user must know before anything is
	// sent (credentials over plain http).
	Warn func(msg string)
}

// Config checks o and makes the elastic.Config it describes. Mistakes in
// o are *OptionError.
func (o ESOptions) Config() (elastic.Config, error) {
	var urls []string
	for _, u := range o.URLs {
		for _, p := range strings.Split(u, ",") {
			if p = strings.TrimSpace(p); p != "" {
				urls = append(urls, p)
			}
		}
	}
	if len(urls) == 0 {
		return elastic.Config{}, optionErrorf("--es URL is required")
	}
	// http://user:password@host is accepted, but the credentials leave the
	// URL at once: every later message, log entry and record names the node
	// without them.
	urls, urlUser, urlPassword, err := elastic.SplitUserinfo(urls)
	if err != nil {
		return elastic.Config{}, &OptionError{fmt.Errorf("--es: %w", err)}
	}
	user, password := o.User, o.Password
	if urlUser != "" || urlPassword != "" {
		if (user != "" && user != urlUser) || (password != "" && password != urlPassword) {
			return elastic.Config{}, optionErrorf("--es URL carries credentials and --user/--password (or JEJAK_ES_USER/JEJAK_ES_PASSWORD) name others: give them once")
		}
		user, password = urlUser, urlPassword
	}
	cfg := elastic.Config{URLs: urls, Index: o.Index, User: user,
		Password: password, APIKey: o.APIKey, Workers: o.Workers}
	if plain := elastic.PlainCredentials(urls); len(plain) > 0 && (cfg.User != "" || cfg.Password != "" || cfg.APIKey != "") && o.Warn != nil {
		// Not refused: a closed examination network may have no TLS. But
		// the examiner must know the credentials travel readable.
		what := "the API key"
		if cfg.APIKey == "" {
			what = fmt.Sprintf("the password of user %q (basic auth)", cfg.User)
		}
		o.Warn(fmt.Sprintf("%s goes UNENCRYPTED over plain http to %s: anyone on the network path can read and reuse it. Use https:// (--ca-cert for a private CA), or a loopback address.",
			what, strings.Join(plain, ", ")))
	}
	if cfg.Workers < 1 {
		return cfg, optionErrorf("--bulk-workers must be at least 1, not %d", cfg.Workers)
	}
	if cfg.Index == "" {
		cfg.Index = IndexName(o.CaseName)
	}
	switch o.Compress {
	case "auto", "":
		cfg.Uncompressed = AllLoopback(urls)
	case "on":
	case "off":
		cfg.Uncompressed = true
	default:
		return cfg, optionErrorf("--compress must be auto, on or off, not %q", o.Compress)
	}
	if fp := o.CAFingerprint; fp != "" {
		hex := strings.ReplaceAll(fp, ":", "")
		if len(hex) != 64 || strings.Trim(strings.ToLower(hex), "0123456789abcdef") != "" {
			return cfg, optionErrorf("--ca-fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), not %q", fp)
		}
		cfg.CAFingerprint = fp
	}
	if f := o.CACertFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return cfg, fmt.Errorf("--ca-cert: %w", err)
		}
		cfg.CACert = pem
	}
	return cfg, nil
}
