package casework_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
)

// TestNewKeyFiles: the private key is written 0600 and loads as a signer
// whose public half is the .pub file's; a second key at the same path is
// refused and leaves the first untouched.
func TestNewKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "custody.key")
	pub, err := casework.NewKeyFiles(path, "test key")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	line, err := os.ReadFile(path + ".pub")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(line)), " test key") {
		t.Fatalf("public key line %q: %v", line, err)
	}
	loaded, err := evidence.LoadPublicKey(path + ".pub")
	if err != nil || loaded.Fingerprint() != pub.Fingerprint() {
		t.Fatalf("public key file: %v, fingerprint %s, want %s", err, loaded.Fingerprint(), pub.Fingerprint())
	}
	before, _ := os.ReadFile(path)
	if _, err := casework.NewKeyFiles(path, "second"); err == nil {
		t.Fatal("a second key over the first was not refused")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the refused second key changed the first")
	}
	if _, err := evidence.LoadSigner(path); err != nil {
		t.Errorf("the private key does not load as a signer: %v", err)
	}
}
