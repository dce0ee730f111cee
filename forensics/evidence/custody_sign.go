package evidence

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// sigFile holds one line per signed custody entry:
// {"seq":N,"hash":"<entry hash>","sig":"<base64 ed25519 signature>"}.
// The signature is over sigMessage(hash); the entry's hash covers its seq,
// its link to the previous line and its signer, so signing the hash signs
// the whole chain up to that entry. The file is separate from custody.log
// because a line cannot contain a signature of its own bytes.
const sigFile = "custody.sig"

// trackedFiles are the case files whose SHA-256 the chain records whenever
// a command writes them: case.json at init, evidence.json at every change
// of the registry. Verify compares the last recorded digest with the file.
var trackedFiles = []string{caseFile, registryFile}

type sigLine struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	Sig  string `json:"sig"`
}

// sigMessage is what a signature signs: a fixed label, so a signature made
// for custody cannot be replayed as one for something else, and the hash.
func sigMessage(hash string) []byte { return []byte("jejak custody entry v1\x00" + hash) }

// SignHash signs a custody entry hash with the case's signer, "" when the
// case is not opened with one. Reports and manifests carry it beside the
// head hash they reflect.
func (c *Case) SignHash(hash string) string {
	if c.signer == nil {
		return ""
	}
	return c.signer.sign(sigMessage(hash))
}

// Signer is the key this Case signs custody entries with (nil: unsigned).
func (c *Case) Signer() *Signer { return c.signer }

// VerifyHashSignature checks a signature of a custody entry hash, as
// SignHash makes it, against a public key given as "ssh-ed25519 AAAA…".
func VerifyHashSignature(pubKey, hash, sig string) error {
	k, err := ParsePublicKey(pubKey)
	if err != nil {
		return err
	}
	if !k.verify(sigMessage(hash), sig) {
		return fmt.Errorf("signature does not verify under key %s", k.Fingerprint())
	}
	return nil
}

// ErrNeedsKey: the case is signed and the command was given no key.
var ErrNeedsKey = errors.New("signing key required")

// checkSigner refuses to write an entry the case's signing rule would make
// invalid: a case created with a key, or whose last entry was signed, takes
// only entries signed by the same key.
func (c *Case) checkSigner(lastSigner string) error {
	want, why := c.info.SigningKey, "case.json names it as the case's signing key"
	if want == "" {
		want, why = lastSigner, "the last custody entry is signed with it"
	}
	if want == "" {
		return nil
	}
	fp := want
	if k, err := ParsePublicKey(want); err == nil {
		fp = k.Fingerprint()
	}
	if c.signer == nil {
		return fmt.Errorf("case %s is signed with key %s (%s): give the key with --sign-key FILE or JEJAK_SIGN_KEY; an unsigned entry would break the signatures: %w", c.dir, fp, why, ErrNeedsKey)
	}
	if c.signer.Public().String() != want {
		return fmt.Errorf("the signing key given (%s) is not case %s's key %s (%s)", c.signer.Public().Fingerprint(), c.dir, fp, why)
	}
	return nil
}

// appendSignature signs an entry just written and appends the signature.
func (c *Case) appendSignature(seq int64, hash string) error {
	b, err := json.Marshal(sigLine{Seq: seq, Hash: hash, Sig: c.signer.sign(sigMessage(hash))})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.path(sigFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("custody signatures: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append to %s: %w", c.path(sigFile), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", c.path(sigFile), err)
	}
	return nil
}

// readSignatures loads custody.sig: the signature per seq, and complaints
// about lines that are not signature lines. A missing file is no signature.
func (c *Case) readSignatures() (map[int64]sigLine, []string, error) {
	sigs := map[int64]sigLine{}
	f, err := os.Open(c.path(sigFile))
	if os.IsNotExist(err) {
		return sigs, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var bad []string
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, nil, err
		}
		var s sigLine
		if jerr := json.Unmarshal(bytes.TrimSuffix(line, []byte{'\n'}), &s); jerr != nil || s.Seq < 1 {
			bad = append(bad, fmt.Sprintf("%s line %d is not a signature line", sigFile, n))
			continue
		}
		if _, dup := sigs[s.Seq]; dup {
			bad = append(bad, fmt.Sprintf("%s line %d: a second signature for entry %d", sigFile, n, s.Seq))
			continue
		}
		sigs[s.Seq] = s
	}
	return sigs, bad, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fileSHA256 is the SHA-256 of a file's bytes, "" when it cannot be read.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// encodeJSONFile is the bytes writeJSONAtomic writes for v.
func encodeJSONFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (c *Case) fileDigests() map[string]string {
	m := make(map[string]string, len(trackedFiles))
	for _, name := range trackedFiles {
		m[name] = fileSHA256(c.path(name))
	}
	return m
}

// changedFiles lists the tracked files whose digest differs from before.
func (c *Case) changedFiles(before map[string]string) map[string]any {
	var out map[string]any
	for name, sum := range c.fileDigests() {
		if sum != before[name] && sum != "" {
			if out == nil {
				out = map[string]any{}
			}
			out[name] = sum
		}
	}
	return out
}

// EntrySignature is the signature custody.sig holds for the entry with this
// seq and hash, "" when there is none. It needs no key: outputs carry the
// signature made when the entry was written.
func (c *Case) EntrySignature(seq int64, hash string) string {
	sigs, _, err := c.readSignatures()
	if err != nil {
		return ""
	}
	if s, ok := sigs[seq]; ok && s.Hash == hash {
		return s.Sig
	}
	return ""
}

// CheckSigning tells a command that is about to change the case whether it
// may record what it does: on a signed case, only with the case's key. A
// command checks it before writing anything (the store's runs, findings),
// so a refusal leaves no change the chain does not record. It reads the
// log only, so it does not wait for pending registrations (see
// Registration): those are signed with the same key.
func (c *Case) CheckSigning() error {
	return c.withLockNow(func(w *custodyWriter) error {
		tail, err := tailLines(w.f, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", c.path(custodyFile), err)
		}
		last := ""
		if len(tail) == 1 {
			e, _ := peekEntry(tail[0])
			last = e.Signer
		}
		return c.checkSigner(last)
	})
}
