package image

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Hashes are lower-case hex digests of the media; an empty field was not
// computed or not stored.
type Hashes struct {
	MD5    string
	SHA1   string
	SHA256 string
}

// Mismatches lists the algorithms whose digests both sides have and that
// differ ("md5", "sha1", "sha256").
func (h Hashes) Mismatches(other Hashes) []string {
	var out []string
	for _, p := range [][3]string{{"md5", h.MD5, other.MD5}, {"sha1", h.SHA1, other.SHA1}, {"sha256", h.SHA256, other.SHA256}} {
		if p[1] != "" && p[2] != "" && p[1] != p[2] {
			out = append(out, p[0])
		}
	}
	return out
}

// Verify streams the whole media once, computing MD5, SHA-1 and SHA-256, and
// returns them with the hashes stored in the container. A read error (a bad
// EWF chunk) stops it: a hash over partly unreadable media proves nothing.
func Verify(ctx context.Context, img Image) (computed, stored Hashes, err error) {
	stored = img.Info().Stored
	m, s1, s256 := md5.New(), sha1.New(), sha256.New()
	w := io.MultiWriter(m, s1, s256)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < img.Size(); {
		if err := ctx.Err(); err != nil {
			return computed, stored, err
		}
		n := int(min(int64(len(buf)), img.Size()-off))
		got, err := img.ReadAt(buf[:n], off)
		w.Write(buf[:got])
		off += int64(got)
		if err != nil && !(err == io.EOF && got == n) {
			return computed, stored, fmt.Errorf("image: verify: at media offset %d: %w", off, err)
		}
	}
	computed = Hashes{MD5: hex.EncodeToString(m.Sum(nil)), SHA1: hex.EncodeToString(s1.Sum(nil)), SHA256: hex.EncodeToString(s256.Sum(nil))}
	return computed, stored, nil
}
