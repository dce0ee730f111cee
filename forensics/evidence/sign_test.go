package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// Keys made by ssh-keygen load, and the fingerprint is the one ssh-keygen
// prints for the same key.
func TestSignerFromSSHKeygen(t *testing.T) {
	oracle.Tool(t, "ssh-keygen", "openssh-client")
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	oracle.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "siti@lab", "-f", key)
	s, err := LoadSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(oracle.Output(t, "ssh-keygen", "-l", "-f", key+".pub")))[1]
	if got := s.Public().Fingerprint(); got != want {
		t.Errorf("fingerprint %s, ssh-keygen says %s", got, want)
	}
	pub, err := LoadPublicKey(key + ".pub")
	if err != nil || !pub.Equal(s.Public()) {
		t.Errorf("public key file: %v, equal %v", err, pub.Equal(s.Public()))
	}
	// ssh-keygen -y derives the public line from the private key: ours
	// must be the same text (without the comment).
	pubLine := strings.Fields(string(oracle.Output(t, "ssh-keygen", "-y", "-f", key)))
	if got := s.Public().String(); got != pubLine[0]+" "+pubLine[1] {
		t.Errorf("public key %q, ssh-keygen -y %q", got, pubLine[:2])
	}

	// Refused: a key others can read, a passphrase-protected key, an RSA
	// key, a damaged one.
	os.Chmod(key, 0o644)
	if _, err := LoadSigner(key); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(key, 0o600)
	locked := filepath.Join(dir, "locked")
	oracle.Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f", locked)
	if _, err := LoadSigner(locked); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("passphrase key: %v", err)
	}
	rsa := filepath.Join(dir, "rsa")
	oracle.Run(t, "ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa)
	if _, err := LoadSigner(rsa); err == nil || !strings.Contains(err.Error(), "only ed25519") {
		t.Errorf("rsa key: %v", err)
	}
	b, _ := os.ReadFile(key)
	blk, _ := pem.Decode(b)
	blk.Bytes[len(blk.Bytes)-40] ^= 0xff // inside the private key
	damaged := filepath.Join(dir, "damaged")
	os.WriteFile(damaged, pem.EncodeToMemory(blk), 0o600)
	if _, err := LoadSigner(damaged); err == nil {
		t.Error("a damaged key loaded")
	}
}

// A key from NewKey is PKCS #8 that openssl reads, and a custody signature
// verifies with openssl over the documented message: nothing about the
// signatures depends on reading them back with this package.
func TestCustodySignatureVerifiesWithOpenSSL(t *testing.T) {
	oracle.Tool(t, "openssl", "openssl")
	dir := t.TempDir()
	priv, pubLine, err := NewKey("test")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "k.pem")
	os.WriteFile(keyPath, priv, 0o600)
	s, err := LoadSigner(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ParsePublicKey(pubLine); err != nil || !k.Equal(s.Public()) {
		t.Fatalf("public line %q: %v", pubLine, err)
	}
	if out := string(oracle.Run(t, "openssl", "pkey", "-in", keyPath, "-noout", "-text")); !strings.Contains(out, "ED25519 Private-Key") {
		t.Fatalf("openssl does not read the key as ed25519:\n%s", out)
	}
	pubPEM := filepath.Join(dir, "pub.pem")
	oracle.Run(t, "openssl", "pkey", "-in", keyPath, "-pubout", "-out", pubPEM)
	if k, err := LoadPublicKey(pubPEM); err != nil || !k.Equal(s.Public()) {
		t.Fatalf("openssl's public key: %v", err)
	}

	c, err := Init(filepath.Join(dir, "case"), Config{Examiner: "Siti", ToolVersion: "t", Clock: stepClock(testBase), Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Log("ingest", map[string]any{"events": 3}); err != nil {
		t.Fatal(err)
	}
	sigs, _ := os.ReadFile(filepath.Join(c.Dir(), sigFile))
	lines := strings.Split(strings.TrimSpace(string(sigs)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d signature lines, want 2", len(lines))
	}
	for _, l := range lines {
		var sl sigLine
		if err := json.Unmarshal([]byte(l), &sl); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(sl.Sig)
		msg, sig := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
		os.WriteFile(msg, []byte("jejak custody entry v1\x00"+sl.Hash), 0o644)
		os.WriteFile(sig, raw, 0o644)
		if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("Verified Successfully")) {
			t.Errorf("entry %d: openssl: %v %s", sl.Seq, err, out)
		}
		// And a different hash does not verify: the check can fail.
		os.WriteFile(msg, []byte("jejak custody entry v1\x00"+strings.Repeat("0", 64)), 0o644)
		if err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-in", msg, "-sigfile", sig).Run(); err == nil {
			t.Errorf("entry %d: openssl verified the signature over another message", sl.Seq)
		}
	}
	a := c.Audit(AuditOptions{})
	if !a.OK() || a.Key != s.Public().String() {
		t.Errorf("audit of the signed case: %s", a.Problem())
	}
}

// opensshBlob writes an unencrypted openssh-key-v1 blob as PROTOCOL.key
// describes it, for fuzz seeds.
func opensshBlob(priv ed25519.PrivateKey) []byte {
	pub := PublicKey{key: priv.Public().(ed25519.PublicKey)}
	var sec []byte
	sec = binary.BigEndian.AppendUint32(sec, 0x01020304)
	sec = binary.BigEndian.AppendUint32(sec, 0x01020304)
	sec = appendSSHString(sec, []byte(sshEd25519))
	sec = appendSSHString(sec, pub.key)
	sec = appendSSHString(sec, priv)
	sec = appendSSHString(sec, []byte("comment"))
	for i := byte(1); len(sec)%8 != 0; i++ {
		sec = append(sec, i)
	}
	b := []byte(opensshMagic)
	for _, s := range []string{"none", "none", ""} {
		b = appendSSHString(b, []byte(s))
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = appendSSHString(b, pub.blob())
	return appendSSHString(b, sec)
}

func FuzzParseOpenSSHKey(f *testing.F) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	good := opensshBlob(priv)
	if k, err := parseOpenSSHEd25519(good); err != nil || !bytes.Equal(k, priv) {
		f.Fatalf("the seed blob does not parse back: %v", err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(opensshMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseOpenSSHEd25519(b)
		if err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a key of %d bytes", len(k))
		}
	})
}
