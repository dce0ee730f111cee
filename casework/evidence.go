package casework

import (
	"context"

	"github.com/jejak-forensics/jejak/forensics/evidence"
)

// AddOptions are the options of AddEvidence.
type AddOptions struct {
	// Progress, when set, is told how many bytes were hashed of how many
	// (total 0 while unknown).
	Progress func(done, total int64)
}

// AddEvidence registers the file or folder at path: hashed once (SHA-256,
// SHA-1, MD5; a folder gets a per-file manifest, an image set every
// segment), recorded in the registry and the custody log, never modified.
// Adding an unchanged path again returns its item; a changed one is
// refused.
func (c *Case) AddEvidence(ctx context.Context, path string, o AddOptions) (*evidence.Item, error) {
	return c.Evidence.AddEvidence(ctx, path, o.Progress)
}
