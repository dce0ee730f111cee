package casework

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
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
	// beside its timeline index (replacing that hunt's earlier ones). The
	// caller opens and closes it.
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
	cs := c.Evidence
	// A signed case without its key: refuse before findings are stored.
	if err := cs.CheckSigning(); err != nil {
		return nil, err
	}
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	rules := o.Rules
	if rules == nil {
		if rules, err = hunt.Builtin(); err != nil {
			return nil, err
		}
	}
	var logs []hunt.LogVerdict
	cfg := hunt.Config{
		After: o.After, Before: o.Before, Rules: rules, Watch: o.Watch, WorkingHours: o.WorkingHours,
		Zone: cs.Location(), Progress: o.Progress, MinSeverity: o.MinSeverity,
		Examined: func(lv hunt.LogVerdict) { logs = append(logs, lv) },
	}
	params := hunt.ParamsFor(cfg)

	comp, err := completeness(ctx, cs, storeSource{store})
	if err != nil {
		return nil, err
	}
	if o.Started != nil {
		o.Started(comp)
	}
	started := c.now()
	src := o.Source
	if src == nil {
		src = store
	}
	findings, huntErr := hunt.Hunt(ctx, src, cfg)
	if huntErr != nil && findings == nil {
		return nil, huntErr
	}
	recs := make([]sqlite.FindingRecord, len(findings))
	for i, f := range findings {
		doc, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		recs[i] = sqlite.FindingRecord{ID: f.ID, RuleID: f.RuleID, Severity: f.Severity.String(),
			First: f.First, Last: f.Last, Events: len(f.Events), Doc: doc}
	}
	// The key stays the hash of the parameters alone; the stored record
	// adds the logs examined.
	rj, err := json.Marshal(hunt.RecordParams{Params: params, Logs: logs})
	if err != nil {
		return nil, err
	}
	hr := sqlite.HuntRecord{Key: params.Key(), Params: rj, Started: started, Finished: c.now(), ToolVersion: c.Config.ToolVersion}
	if err := store.ReplaceFindings(ctx, hr, recs); err != nil {
		return nil, err
	}
	res := &HuntResult{Key: hr.Key, Params: params, Findings: findings, Summary: hunt.Summarize(findings), Logs: logs, Timeline: comp}
	if o.ES != nil {
		if err := findingsToES(ctx, o.ES, hr.Key, findings); err != nil {
			return nil, err
		}
		res.FindingsIndex = elastic.FindingsIndex(o.ES.Index())
	}
	// The digest of hunts and findings binds them to the chain.
	if err := cs.Log("hunt", map[string]any{"hunt": hr.Key, "params": params, "findings": len(findings), "logs_examined": len(logs), "error": errString(huntErr),
		"store": StoreDetails(ctx, store, HuntStoreParts...)}); err != nil {
		return nil, err
	}
	return res, huntErr
}

// findingsToES stores a hunt's findings in the case index's findings index
// (jejak-<case>-findings), replacing that hunt's earlier ones, so analysts
// in Kibana see them beside the timeline.
func findingsToES(ctx context.Context, es *elastic.Store, key string, findings []hunt.Finding) error {
	docs := make([]elastic.FindingDoc, len(findings))
	for i, f := range findings {
		doc, err := json.Marshal(struct {
			Hunt string `json:"hunt"`
			hunt.Finding
		}{key, f})
		if err != nil {
			return err
		}
		docs[i] = elastic.FindingDoc{ID: f.ID, Doc: doc}
	}
	return es.ReplaceFindings(ctx, key, docs)
}
