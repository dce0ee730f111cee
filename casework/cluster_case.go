package casework

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// ClusterCase is the state of a case in the cluster ('case show --es'):
// its description, how far the workers got, and its custody chain.
type ClusterCase struct {
	Meta     elastic.CaseMeta
	Index    string
	Evidence int
	// Claims counts the items by claim state (elastic.ClaimDone,
	// ClaimWorking, ClaimRefused), and "unclaimed".
	Claims map[string]int
	// Custody is the number of entries in the chain; CustodyErr says why
	// the chain does not verify, nil when it does.
	Custody    int
	CustodyErr error
}

// ClusterStatus reads the state of the case whose indices es names. A
// chain that does not verify is reported in CustodyErr, not as an error.
func ClusterStatus(ctx context.Context, es *elastic.Store) (*ClusterCase, error) {
	cc := es.Case()
	if err := cc.Check(ctx); err != nil {
		return nil, err
	}
	meta, err := cc.Meta(ctx)
	if err != nil {
		return nil, err
	}
	chain, verr := cc.Custody(ctx)
	claims, err := cc.Claims(ctx)
	if err != nil {
		return nil, err
	}
	items, err := cc.Evidence(ctx)
	if err != nil {
		return nil, err
	}
	states := map[string]int{}
	for _, cl := range claims {
		states[cl.State]++
	}
	states["unclaimed"] = len(items) - len(claims)
	return &ClusterCase{Meta: meta, Index: es.Index(), Evidence: len(items), Claims: states, Custody: len(chain), CustodyErr: verr}, nil
}

// ClusterEvidence reads the evidence registry of the case in the cluster.
func ClusterEvidence(ctx context.Context, es *elastic.Store) ([]*evidence.Item, error) {
	docs, err := es.Case().Evidence(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]*evidence.Item, len(docs))
	for i, d := range docs {
		items[i] = new(evidence.Item)
		if err := json.Unmarshal(d.Item, items[i]); err != nil {
			return nil, fmt.Errorf("evidence %s in the cluster: %w", d.ID, err)
		}
	}
	return items, nil
}

// ClusterWarnings streams every warning stored in the cluster (pushed from
// case.db and written by workers), each once, with the names of the
// evidence items by SHA-256 for warning lines.
func ClusterWarnings(ctx context.Context, es *elastic.Store, fn func(w timeline.Warning, names map[string]string) error) error {
	cc := es.Case()
	docs, err := cc.Evidence(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, d := range docs {
		// An item that does not decode has no name: its warnings name it
		// by hash.
		var it evidence.Item
		if json.Unmarshal(d.Item, &it) == nil {
			names[it.SHA256] = it.Name
		}
	}
	return cc.Warnings(ctx, func(w timeline.Warning) error { return fn(w, names) })
}
