package casework

import (
	"fmt"
	"os"

	"github.com/jejak-forensics/jejak/forensics/evidence"
)

// NewKeyFiles makes a new ed25519 custody signing key: the private key
// (OpenSSH PEM) at path, mode 0600, and the public key line at path.pub
// ("ssh-ed25519 AAAA… COMMENT"). A file already at path is never
// overwritten: that would orphan every signature made with it. It returns
// the public key, for its fingerprint.
func NewKeyFiles(path, comment string) (evidence.PublicKey, error) {
	priv, pub, err := evidence.NewKey(comment)
	if err != nil {
		return evidence.PublicKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return evidence.PublicKey{}, fmt.Errorf("key new: %w", err)
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return evidence.PublicKey{}, fmt.Errorf("key new: %w", err)
	}
	if err := f.Close(); err != nil {
		return evidence.PublicKey{}, fmt.Errorf("key new: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(pub), 0o644); err != nil {
		return evidence.PublicKey{}, fmt.Errorf("key new: %w", err)
	}
	return evidence.ParsePublicKey(pub)
}
