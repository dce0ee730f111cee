package casework

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// HuntOptions are the options of Hunt: the hunt's parameters (they make
// its key, hunt.Params) and where it reads and writes.
type HuntOptions struct {
	// After is the cut-off: events before it are the baseline, findings
	// are about what happened from After on.
	After time.Time
	// Before, when set, ends the hunt window (exclusive).
	Before time.Time
	// Rules to run; nil runs the built-in rules (LoadRules adds Sigma
	// rules to them).
	Rules []*hunt.Rule
	// Watch lists paths inside the evidence whose files must not change
	// after the cut-off.
	Watch []string
	// WorkingHours, when set, makes logons outside them findings.
	WorkingHours *hunt.WorkingHours
	// MinSeverity leaves findings below it out of what is stored and
	// returned.
	MinSeverity hunt.Severity
	// Progress, when set, is called every 100,000 events read.
	Progress func(events int64)
	// Started, when set, is given the state of the case timeline once it
	// is known, before the timeline is read: a hunt over a partial
	// timeline is worth saying so first.
	Started func(*export.Completeness)
	// Source is what the timeline is read from; nil is the case store.
	// An Elasticsearch index filled by workers is read through a point in
	// time (elastic.Store.PIT), in the same (time, ID) order.
	Source hunt.Searcher
	// ES, when set, also receives the findings, in the findings index
	// beside its timeline index (replacing that hunt's earlier ones), and
	// the hunt's record in the hunts index. The caller opens and closes
	// it.
	ES *elastic.Store
}

// HuntResult is a hunt's outcome, as stored in the case.
type HuntResult struct {
	// Key is the key the findings are stored under (Params.Key()).
	Key    string
	Params hunt.Params
	// Findings in their stable order; Summary groups them by rule.
	Findings []hunt.Finding
	Summary  []hunt.Summary
	// Logs is the verdict on every log whose record sequence was judged.
	Logs []hunt.LogVerdict
	// Timeline is the state of the case timeline hunted.
	Timeline *export.Completeness
	// FindingsIndex is the Elasticsearch index the findings were written
	// to, when HuntOptions.ES was set.
	FindingsIndex string
}

// RuleFilesError is LoadRules' error about the rule files it was given
// (as opposed to the built-in rules).
type RuleFilesError struct{ Err error }

func (e *RuleFilesError) Error() string { return e.Err.Error() }
func (e *RuleFilesError) Unwrap() error { return e.Err }

// LoadRules returns the built-in rules, then the Sigma rules of the given
// folders or files, with the Sigma files skipped and why.
func LoadRules(sigma ...string) ([]*hunt.Rule, []hunt.LoadProblem, error) {
	rules, err := hunt.Builtin()
	if err != nil {
		return nil, nil, err
	}
	if len(sigma) == 0 {
		return rules, nil, nil
	}
	sig, problems, err := hunt.LoadSigma(sigma...)
	if err != nil {
		return nil, nil, &RuleFilesError{err}
	}
	return append(rules, sig...), problems, nil
}

// Hunt runs the rules over the case timeline and stores the findings in
// the case under the key of the hunt's parameters: hunting again with the
// same parameters replaces them, other parameters keep theirs beside. The
// custody log records the hunt, bound to the stored findings by their
// digest.
//
// A rule that errs on some events does not stop the hunt: the findings are
// stored and returned with the error. Any other error returns no result.
func (c *Case) Hunt(ctx context.Context, o HuntOptions) (*HuntResult, error) {
	// A signed case without its key: refuse before findings are stored.
	if err := c.Evidence.CheckSigning(); err != nil {
		return nil, err
	}
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	src := o.Source
	if src == nil {
		src = store
	}
	return huntInto(ctx, o, huntTarget{
		evidence: c.Evidence, state: storeSource{store}, read: src, put: store,
		log: c.Evidence.Log, now: c.now, toolVersion: c.Config.ToolVersion,
		// The digest of hunts and findings binds them to the chain.
		details: func(ctx context.Context) map[string]any { return StoreDetails(ctx, store, HuntStoreParts...) },
	})
}

// Hunt runs the rules over the timeline of a case in the cluster (through
// a point in time, or o.Source, e.g. cl.ES.Sliced(n)) and stores the hunt
// and its findings in the cluster beside it (the findings index and the
// hunts index, which 'report --es' reads), recording the hunt in the
// cluster's custody chain. Nothing is written to a case folder. o.ES is
// not used: the cluster is where the findings go.
func (cl *Cluster) Hunt(ctx context.Context, o HuntOptions) (*HuntResult, error) {
	if err := cl.Evidence.CheckSigning(); err != nil {
		return nil, err
	}
	src := o.Source
	if src == nil {
		src = cl.ES.PIT()
	}
	o.ES = nil
	now := cl.opts.Clock
	if now == nil {
		now = time.Now
	}
	return huntInto(ctx, o, huntTarget{
		evidence: cl.Evidence, state: clusterSource{cl.ES}, read: src, put: cl.ES,
		log: cl.logger(ctx), now: now, toolVersion: cl.opts.ToolVersion,
	})
}

// huntTarget is where a hunt reads and writes: a case folder or a case in
// the cluster.
type huntTarget struct {
	evidence *evidence.Case
	state    source         // the runs the timeline's completeness is judged by
	read     hunt.Searcher  // the timeline
	put      store.Findings // where the hunt and its findings are stored
	log      logFunc        // the custody entry
	// details, when set, adds the custody entry's "store" member.
	details     func(context.Context) map[string]any
	now         func() time.Time
	toolVersion string
}

func huntInto(ctx context.Context, o HuntOptions, t huntTarget) (*HuntResult, error) {
	rules := o.Rules
	if rules == nil {
		var err error
		if rules, err = hunt.Builtin(); err != nil {
			return nil, err
		}
	}
	var logs []hunt.LogVerdict
	cfg := hunt.Config{
		After: o.After, Before: o.Before, Rules: rules, Watch: o.Watch, WorkingHours: o.WorkingHours,
		Zone: t.evidence.Location(), Progress: o.Progress, MinSeverity: o.MinSeverity,
		TempDir:  t.evidence.TempDir(),
		Examined: func(lv hunt.LogVerdict) { logs = append(logs, lv) },
	}
	params := hunt.ParamsFor(cfg)

	comp, err := completeness(ctx, t.evidence, t.state)
	if err != nil {
		return nil, err
	}
	if o.Started != nil {
		o.Started(comp)
	}
	started := t.now()
	findings, huntErr := hunt.Hunt(ctx, t.read, cfg)
	if huntErr != nil && findings == nil {
		return nil, huntErr
	}
	recs := make([]store.Finding, len(findings))
	for i, f := range findings {
		doc, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		recs[i] = store.Finding{ID: f.ID, RuleID: f.RuleID, Severity: f.Severity.String(),
			First: f.First, Last: f.Last, Events: len(f.Events), Doc: doc}
	}
	// The key stays the hash of the parameters alone; the stored record
	// adds the logs examined.
	rj, err := json.Marshal(hunt.RecordParams{Params: params, Logs: logs})
	if err != nil {
		return nil, err
	}
	hr := store.Hunt{Key: params.Key(), Params: rj, Started: started, Finished: t.now(), ToolVersion: t.toolVersion}
	if err := t.put.PutHunt(ctx, hr, recs); err != nil {
		return nil, err
	}
	res := &HuntResult{Key: hr.Key, Params: params, Findings: findings, Summary: hunt.Summarize(findings), Logs: logs, Timeline: comp}
	if o.ES != nil {
		// The findings beside the timeline index, and the hunt's record
		// in the hunts index, so analysts in Kibana see them and 'report
		// --es' finds the hunt.
		if err := o.ES.PutHunt(ctx, hr, recs); err != nil {
			return nil, err
		}
		res.FindingsIndex = elastic.FindingsIndex(o.ES.Index())
	}
	details := map[string]any{"hunt": hr.Key, "params": params, "findings": len(findings), "logs_examined": len(logs), "error": errString(huntErr)}
	if t.details != nil {
		details["store"] = t.details(ctx)
	}
	if err := t.log("hunt", details); err != nil {
		return nil, err
	}
	return res, huntErr
}
