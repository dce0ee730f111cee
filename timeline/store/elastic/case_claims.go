package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Claim states.
const (
	ClaimWorking = "working" // a worker holds the item while its lease lasts
	ClaimDone    = "done"    // ingested: nobody takes it again
	ClaimRefused = "refused" // its hashes no longer match: nobody takes it again
)

// Claim is the claims index's document for one evidence item (its ID is
// the item's): who works it, until when, and how it ended. Token tells
// this worker's claim from an earlier one of the same worker name.
type Claim struct {
	Item       string    `json:"item"`
	State      string    `json:"state"`
	Worker     string    `json:"worker"`
	Token      string    `json:"token"`
	LeaseUntil time.Time `json:"lease_until"`
	ClaimedAt  time.Time `json:"claimed_at"`
	Finished   time.Time `json:"finished,omitzero"`
	Attempt    int       `json:"attempt"`
	Events     int64     `json:"events"`
	Error      string    `json:"error,omitempty"`
}

// ErrClaimLost: another worker holds the claim now (the lease ran out and
// it took the item over, or it finished it).
var ErrClaimLost = errors.New("claim lost to another worker")

// TryClaim takes item for a worker until lease, if nobody holds it: the
// first claim is a create (op_type=create: of two workers only one can
// make it), a claim whose lease ran out is taken over by a write
// conditional on the version read (if_seq_no/if_primary_term: of two
// workers taking over only one succeeds). It returns the claim held and
// its version, or ok false with the claim as it stands (held by another,
// done or refused).
func (c *CaseStore) TryClaim(ctx context.Context, item, worker, token string, now, lease time.Time) (cl Claim, v Version, ok bool, err error) {
	want := Claim{Item: item, State: ClaimWorking, Worker: worker, Token: token, LeaseUntil: lease, ClaimedAt: now, Attempt: 1}
	v, err = c.put(ctx, PartClaims, item, want, "create", nil)
	if err == nil {
		return want, v, true, nil
	}
	if !errors.Is(err, errConflict) {
		return Claim{}, Version{}, false, err
	}
	var there Claim
	v, found, err := c.getConflicted(ctx, PartClaims, item, &there)
	if err != nil {
		return Claim{}, Version{}, false, err
	}
	if !found {
		return Claim{}, Version{}, false, fmt.Errorf("claim of %s refused as existing but not found", item)
	}
	if there.Token == token {
		// Our own create, resent after its answer was lost.
		return there, v, true, nil
	}
	if there.State != ClaimWorking || now.Before(there.LeaseUntil) {
		return there, v, false, nil
	}
	// The lease ran out: its worker died or lost the cluster. Take over.
	want.Attempt = there.Attempt + 1
	nv, err := c.put(ctx, PartClaims, item, want, "", &v)
	switch {
	case err == nil:
		return want, nv, true, nil
	case errors.Is(err, errConflict):
		return c.reread(ctx, item, token)
	}
	return Claim{}, Version{}, false, err
}

// reread settles a conditional write answered 409: it may be ours, resent
// after the first answer was lost, or another worker's.
func (c *CaseStore) reread(ctx context.Context, item, token string) (Claim, Version, bool, error) {
	var there Claim
	v, found, err := c.getConflicted(ctx, PartClaims, item, &there)
	if err != nil || !found {
		return Claim{}, Version{}, false, err
	}
	return there, v, there.Token == token, nil
}

// UpdateClaim rewrites a claim this worker holds (a renewed lease, done,
// refused), conditional on the version it last wrote. ErrClaimLost says
// another worker holds it now.
func (c *CaseStore) UpdateClaim(ctx context.Context, cl Claim, v Version) (Version, error) {
	nv, err := c.put(ctx, PartClaims, cl.Item, cl, "", &v)
	if err == nil {
		return nv, nil
	}
	if !errors.Is(err, errConflict) {
		return Version{}, err
	}
	there, tv, mine, rerr := c.reread(ctx, cl.Item, cl.Token)
	if rerr != nil {
		return Version{}, rerr
	}
	if mine && there.State == cl.State && there.LeaseUntil.Equal(cl.LeaseUntil) {
		return tv, nil // our write, its answer lost and the request resent
	}
	return Version{}, fmt.Errorf("%w: item %s is held by %s (attempt %d, %s)", ErrClaimLost, cl.Item, there.Worker, there.Attempt, there.State)
}

// Claims reads every claim, ordered by item.
func (c *CaseStore) Claims(ctx context.Context) ([]Claim, error) {
	var out []Claim
	err := c.scan(ctx, PartClaims, "item", nil, func(src json.RawMessage) error {
		var cl Claim
		if err := json.Unmarshal(src, &cl); err != nil {
			return err
		}
		out = append(out, cl)
		return nil
	})
	return out, err
}

// GetClaim reads one item's claim in real time.
func (c *CaseStore) GetClaim(ctx context.Context, item string) (Claim, bool, error) {
	var cl Claim
	_, found, err := c.get(ctx, PartClaims, item, &cl)
	return cl, found, err
}
