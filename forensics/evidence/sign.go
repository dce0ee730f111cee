package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Custody entries can be signed with the examiner's ed25519 key, so that a
// chain rewritten by someone without that key no longer verifies, and the
// signature printed in a report or manifest handed to the court ties the
// case to the examiner.
//
// Two private key forms are read:
//   - the one `jejak key new` writes: PEM "PRIVATE KEY" (PKCS #8), read with
//     crypto/x509;
//   - an unencrypted OpenSSH key (`ssh-keygen -t ed25519 -N ''`), PEM
//     "OPENSSH PRIVATE KEY". Its layout (PROTOCOL.key in OpenSSH) is read
//     here directly: for one unencrypted ed25519 key it is a few length-
//     prefixed strings, not worth a dependency. Passphrase-protected keys are
//     refused with a message saying so.
//
// A public key is written the way OpenSSH writes it ("ssh-ed25519 AAAA…"),
// and its fingerprint is OpenSSH's ("SHA256:" and the unpadded base64 of the
// SHA-256 of the key blob), so `ssh-keygen -lf key.pub` shows the same text
// an examiner reads in the report.

const sshEd25519 = "ssh-ed25519"

// PublicKey is an ed25519 public key.
type PublicKey struct{ key ed25519.PublicKey }

// Signer holds an examiner's private key.
type Signer struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

// Public is the signer's public key.
func (s *Signer) Public() PublicKey { return s.pub }

// sign signs msg.
func (s *Signer) sign(msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, msg))
}

// blob is the key in SSH wire form: string "ssh-ed25519", string key.
func (k PublicKey) blob() []byte {
	var b []byte
	b = appendSSHString(b, []byte(sshEd25519))
	return appendSSHString(b, k.key)
}

// String is the key as an authorized_keys line without comment.
func (k PublicKey) String() string {
	return sshEd25519 + " " + base64.StdEncoding.EncodeToString(k.blob())
}

// Fingerprint is OpenSSH's SHA256 fingerprint of the key.
func (k PublicKey) Fingerprint() string {
	h := sha256.Sum256(k.blob())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(h[:])
}

// Equal reports whether two keys are the same.
func (k PublicKey) Equal(o PublicKey) bool { return bytes.Equal(k.key, o.key) }

// verify checks a base64 signature of msg.
func (k PublicKey) verify(msg []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	return err == nil && len(k.key) == ed25519.PublicKeySize && ed25519.Verify(k.key, msg, raw)
}

// ParsePublicKey reads "ssh-ed25519 AAAA… [comment]" (an OpenSSH .pub line).
func ParsePublicKey(s string) (PublicKey, error) {
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != sshEd25519 {
		return PublicKey{}, fmt.Errorf("not an ssh-ed25519 public key: %.40q", s)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	r := sshReader{b: blob}
	typ, key := r.str(), r.str()
	if r.err != nil || string(typ) != sshEd25519 || len(key) != ed25519.PublicKeySize || len(r.b) != 0 {
		return PublicKey{}, errors.New("public key: malformed ssh-ed25519 key blob")
	}
	return PublicKey{key: ed25519.PublicKey(key)}, nil
}

// LoadPublicKey reads a public key file: an OpenSSH .pub line, a PEM
// "PUBLIC KEY" (PKIX), or a private key file (whose public half is taken).
func LoadPublicKey(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(sshEd25519+" ")) {
		k, err := ParsePublicKey(string(b))
		if err != nil {
			return PublicKey{}, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "PUBLIC KEY" {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return PublicKey{}, fmt.Errorf("%s: %w", path, err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return PublicKey{}, fmt.Errorf("%s: a %T key; only ed25519 keys sign custody", path, k)
		}
		return PublicKey{key: ek}, nil
	}
	s, err := LoadSigner(path)
	if err != nil {
		return PublicKey{}, err
	}
	return s.Public(), nil
}

// LoadSigner reads an ed25519 private key file (PKCS #8 PEM or unencrypted
// OpenSSH). A key others can read is refused like ssh refuses it: a
// signature is worth only as much as the key's secrecy.
func LoadSigner(path string) (*Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %04o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("signing key %s: not a PEM file (expected PRIVATE KEY or OPENSSH PRIVATE KEY)", path)
	}
	var priv ed25519.PrivateKey
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s: a %T key; only ed25519 keys sign custody", path, k)
		}
		priv = ek
	case "OPENSSH PRIVATE KEY":
		if priv, err = parseOpenSSHEd25519(blk.Bytes); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("signing key %s: PEM block %q is not an ed25519 private key", path, blk.Type)
	}
	return &Signer{priv: priv, pub: PublicKey{key: priv.Public().(ed25519.PublicKey)}}, nil
}

// NewKey makes an ed25519 key pair: the private key as PKCS #8 PEM, the
// public key as an OpenSSH .pub line with comment.
func NewKey(comment string) (privPEM []byte, pubLine string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", err
	}
	pubLine = PublicKey{key: pub}.String()
	if comment != "" {
		pubLine += " " + comment
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pubLine + "\n", nil
}

const opensshMagic = "openssh-key-v1\x00"

// parseOpenSSHEd25519 reads an unencrypted openssh-key-v1 blob holding one
// ed25519 key.
func parseOpenSSHEd25519(b []byte) (ed25519.PrivateKey, error) {
	if !bytes.HasPrefix(b, []byte(opensshMagic)) {
		return nil, errors.New("not an openssh-key-v1 key")
	}
	r := sshReader{b: b[len(opensshMagic):]}
	cipher, kdf, _ := r.str(), r.str(), r.str()
	n := r.u32()
	_ = r.str() // public key blob; the private section repeats it
	priv := r.str()
	if r.err != nil {
		return nil, r.err
	}
	if string(cipher) != "none" || string(kdf) != "none" {
		return nil, fmt.Errorf("the key is passphrase-protected (cipher %s); jejak reads only unencrypted keys: keep it on an encrypted volume, or make one with `jejak key new`", cipher)
	}
	if n != 1 {
		return nil, fmt.Errorf("the file holds %d keys; expected one", n)
	}
	p := sshReader{b: priv}
	c1, c2 := p.u32(), p.u32()
	typ := p.str()
	pub, sk := p.str(), p.str()
	if p.err != nil {
		return nil, p.err
	}
	if c1 != c2 {
		return nil, errors.New("check integers differ: the key is damaged")
	}
	if string(typ) != sshEd25519 {
		return nil, fmt.Errorf("a %s key; only ed25519 keys sign custody", typ)
	}
	if len(sk) != ed25519.PrivateKeySize || len(pub) != ed25519.PublicKeySize || !bytes.Equal(sk[32:], pub) {
		return nil, errors.New("malformed ed25519 private key")
	}
	k := ed25519.NewKeyFromSeed(sk[:32])
	if !bytes.Equal(k[32:], pub) {
		return nil, errors.New("private and public halves do not match: the key is damaged")
	}
	return k, nil
}

func appendSSHString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sshReader reads SSH wire fields, remembering the first error.
type sshReader struct {
	b   []byte
	err error
}

func (r *sshReader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *sshReader) str() []byte {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *sshReader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated key data")
	}
}
