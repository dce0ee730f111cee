package casework

import (
	"context"
	"fmt"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/forensics/image"
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

// MediaCheck is the check of an acquired image's media against the hashes
// its acquisition tool stored in it (EWF/E01 stores MD5 and SHA-1).
type MediaCheck struct {
	// Computed over the decompressed media, and as stored in the image.
	Computed, Stored image.Hashes
	// Mismatches name the hashes that differ ("md5 …"); none: it verifies.
	Mismatches []string
}

// CheckStoredHashes decompresses an EWF image item's media and compares
// it with the hashes stored in the image at acquisition. Other items (not
// a file, or not an image jejak opens as EWF) have none: nil, nil. A
// media that cannot be read is an error.
func CheckStoredHashes(ctx context.Context, it *evidence.Item) (*MediaCheck, error) {
	if it.Kind != "file" {
		return nil, nil
	}
	img, err := image.Open(it.Path)
	if err != nil || img.Info().Format != "ewf" {
		return nil, nil // not an image jejak can open: the file hash is the check
	}
	defer img.Close()
	computed, stored, err := image.Verify(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Path, err)
	}
	return &MediaCheck{Computed: computed, Stored: stored, Mismatches: computed.Mismatches(stored)}, nil
}
