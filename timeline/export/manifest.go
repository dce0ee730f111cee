package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jejak-forensics/jejak/internal/atomicfile"
)

// ManifestVersion is the layout version of a manifest; readers refuse a
// newer one rather than misread it.
const ManifestVersion = 1

// Manifest binds an output file (a timeline export, a report) to the case
// it came from: the file's hash, the evidence hashes, what was asked for,
// the tool version and the custody entry the case stood at.
//
// It holds no time of its own making: rerunning a command on the same case
// with the same arguments writes the same bytes, so anyone can reproduce an
// exhibit and compare hashes. When it was made is in the custody log, whose
// entry for the export or report names this manifest's SHA-256.
type Manifest struct {
	ManifestVersion int    `json:"manifest_version"`
	Tool            string `json:"tool"`
	ToolVersion     string `json:"tool_version"`
	// Command is "export" or "report".
	Command    string         `json:"command"`
	Output     ManifestOutput `json:"output"`
	Parameters any            `json:"parameters"`
	Case       ManifestCase   `json:"case"`
	// Evidence lists every item registered in the case, in registration
	// order.
	Evidence []ManifestEvidence `json:"evidence"`
	// Events is the number of timeline rows in the output (an export) or in
	// the case (a report).
	Events   int64           `json:"events"`
	Findings *int            `json:"findings,omitempty"`
	Custody  ManifestCustody `json:"custody"`

	// Timeline says whether the case timeline the output was made from is
	// complete: an interrupted or killed ingest run leaves it partial.
	Timeline *Completeness `json:"timeline,omitempty"`
}

// ManifestOutput is the file the manifest describes. File is its base
// name: the manifest lies beside it, and a copied pair stays valid.
type ManifestOutput struct {
	File   string `json:"file"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ManifestCase names the case.
type ManifestCase struct {
	Name     string    `json:"name"`
	Examiner string    `json:"examiner"`
	Zone     string    `json:"zone"`
	Created  time.Time `json:"created"`
}

// ManifestEvidence is one registered evidence item and its hashes (SHA-1
// and MD5 exist for files only).
type ManifestEvidence struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	SHA1   string `json:"sha1,omitempty"`
	MD5    string `json:"md5,omitempty"`
	Files  int    `json:"files,omitempty"`
}

// ManifestCustody is the custody log's state the output reflects: the last
// entry that changed the case (registration, ingest, hunt, verification).
// Entries recording exports and reports are left out, since they change
// nothing an output says: exporting twice gives the same manifest.
type ManifestCustody struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// Intact is true only when every custody check passed: chain links and
	// head, the case files and registry against the chain, the timeline
	// store's digest, outputs and signatures.
	Intact bool `json:"chain_intact"`
	// Problem says why the chain is not intact.
	Problem string `json:"problem,omitempty"`
	// NotCovered names checks the case is too old for (no digest or
	// signature recorded when it was made): neither passed nor failed.
	NotCovered []string `json:"not_covered,omitempty"`
	// SigningKey ("ssh-ed25519 AAAA…"), KeyFingerprint and Signature: the
	// examiner's signature of Hash, as custody.sig holds it. With the
	// signature in the copy handed out, a later rewrite of the whole chain
	// no longer matches it ('jejak verify CASE --anchor MANIFEST').
	SigningKey     string `json:"signing_key,omitempty"`
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	Signature      string `json:"signature,omitempty"`
}

// ManifestPath is where the manifest of an output file goes.
func ManifestPath(output string) string { return output + ".manifest.json" }

// EncodeManifest renders a manifest as indented JSON with a final newline.
func EncodeManifest(m *Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteManifest writes m to path atomically (a reader never sees half a
// manifest) and returns the SHA-256 of the bytes written.
func WriteManifest(path string, m *Manifest) (string, error) {
	b, err := EncodeManifest(m)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
