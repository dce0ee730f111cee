package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/urfave/cli/v2"
)

// 'jejak verify FILE…': an export or report checked against the
// FILE.manifest.json written beside it and, when the case is known,
// against the case's custody log. Nothing is written: verifying a copy
// handed out must not change the case.

const verifyFileHelp = `
VERIFYING AN EXPORT OR REPORT
   jejak verify FILE... [--case CASE]
An argument that is not a case folder is an output of 'jejak export' or
'jejak report' (FILE.manifest.json lies beside it; the manifest's own path
names it too). Checks, each on its own line:
   manifest        readable, a layout this jejak knows, naming this file
   size, sha256    the file against the manifest
   custody record  the custody log's export or report entry that records the
                   file's SHA-256 and the manifest's SHA-256 (with --case,
                   or when the file lies inside the case folder)
   custody head    the entry the manifest says the case stood at: present,
                   with the same hash, signature as recorded
   case since      what changed the case after the output was made (a
                   later ingest or hunt: the output does not reflect it; not
                   a failure)
Any FAILED line makes the exit status 1. Nothing is written to the case.`

// isCaseDir reports whether path is a case folder.
func isCaseDir(path string) bool {
	st, err := os.Stat(filepath.Join(path, "case.json"))
	return err == nil && st.Mode().IsRegular()
}

type fileCheck struct {
	status, name, detail string
}

const (
	checkOK      = "ok"
	checkFailed  = "FAILED"
	checkSkipped = "not checked"
	checkChanged = "changed"
)

// verifyFiles checks each output file and prints one line per check.
func (e *env) verifyFiles(c *cli.Context, args []string) error {
	caseDir := c.String("case")
	if caseDir != "" && !isCaseDir(caseDir) {
		return usagef("--case %s: not a case folder (no case.json)", caseDir)
	}
	failed := 0
	for _, arg := range args {
		file := strings.TrimSuffix(arg, ".manifest.json")
		dir := caseDir
		if dir == "" {
			dir = enclosingCase(file)
		}
		checks := verifyOutput(file, dir)
		bad := false
		for _, ch := range checks {
			fmt.Fprintf(e.stdout, "%-12s %s %s: %s\n", ch.status, termsafe.String(file), ch.name, termsafe.String(ch.detail))
			bad = bad || ch.status == checkFailed
		}
		if bad {
			failed++
		}
	}
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d of %d files failed verification", failed, len(args)), exitFatal)
	}
	fmt.Fprintf(e.stdout, "%d file(s) verified: each is what its manifest says\n", len(args))
	return nil
}

// enclosingCase is the case folder an output was written into, if any:
// the file's folder or one above it holding case.json.
func enclosingCase(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if isCaseDir(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func verifyOutput(file, caseDir string) []fileCheck {
	var out []fileCheck
	add := func(status, name, format string, a ...any) {
		out = append(out, fileCheck{status, name, fmt.Sprintf(format, a...)})
	}
	mpath := export.ManifestPath(file)
	mb, err := os.ReadFile(mpath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			add(checkFailed, "manifest", "no %s beside it: not an output of jejak export or report, or its manifest was not kept with it", filepath.Base(mpath))
		} else {
			add(checkFailed, "manifest", "%v", err)
		}
		return out
	}
	msum := sha256.Sum256(mb)
	manifestSHA := hex.EncodeToString(msum[:])
	var m export.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		add(checkFailed, "manifest", "%s is not a jejak manifest: %v", filepath.Base(mpath), err)
		return out
	}
	switch {
	case m.ManifestVersion < 1 || m.ManifestVersion > export.ManifestVersion:
		add(checkFailed, "manifest", "layout version %d; this jejak reads 1 to %d", m.ManifestVersion, export.ManifestVersion)
		return out
	case m.Output.File != filepath.Base(file):
		add(checkFailed, "manifest", "it describes %q, not %q", m.Output.File, filepath.Base(file))
	default:
		add(checkOK, "manifest", "%s of %s (%s), SHA-256 %s", m.Command, m.Output.File, m.Output.Format, manifestSHA)
	}

	size, sum, err := hashFile(file)
	if err != nil {
		add(checkFailed, "size", "%v", err)
		add(checkFailed, "sha256", "the file cannot be read")
	} else {
		if size == m.Output.Size {
			add(checkOK, "size", "%d bytes, as the manifest says", size)
		} else {
			add(checkFailed, "size", "%d bytes; the manifest says %d (%+d)", size, m.Output.Size, size-m.Output.Size)
		}
		if sum == m.Output.SHA256 {
			add(checkOK, "sha256", "%s, as the manifest says", sum)
		} else {
			add(checkFailed, "sha256", "the file has %s; the manifest says %s", sum, m.Output.SHA256)
		}
	}

	if caseDir == "" {
		add(checkSkipped, "custody record", "the case is not known: give --case CASE to check the manifest against the custody log")
		return out
	}
	cs, err := evidence.Open(caseDir)
	if err != nil {
		add(checkFailed, "custody record", "case %s: %v", caseDir, err)
		return out
	}
	entries, cerr := cs.VerifyCustody()
	if cerr != nil {
		add(checkFailed, "custody chain", "%v (the entries after the break are not trusted)", cerr)
	}
	if info := cs.Info(); info.Name != m.Case.Name {
		add(checkFailed, "case", "the manifest is of case %q; %s is case %q", m.Case.Name, caseDir, info.Name)
	}

	// The custody entry that recorded this output: same command, same
	// file hash as the manifest, and the manifest's own hash.
	var byFile, byManifest *evidence.Entry
	for i := range entries {
		en := &entries[i]
		if en.Action != m.Command {
			continue
		}
		if str(en.Details["sha256"]) == m.Output.SHA256 {
			byFile = en
			if str(en.Details["manifest_sha256"]) == manifestSHA {
				byManifest = en
			}
		}
	}
	switch {
	case byManifest != nil:
		add(checkOK, "custody record", "entry %d (%s at %s) records the file's and the manifest's SHA-256", byManifest.Seq, byManifest.Action,
			byManifest.Time.UTC().Format("2006-01-02T15:04:05Z"))
	case byFile != nil:
		add(checkFailed, "custody record", "entry %d records the manifest's SHA-256 as %s; the manifest has %s: it was changed after it was written",
			byFile.Seq, str(byFile.Details["manifest_sha256"]), manifestSHA)
	default:
		add(checkFailed, "custody record", "no %s entry of the custody log records SHA-256 %s (the manifest's output hash)", m.Command, m.Output.SHA256)
	}

	// The custody head the manifest states, then and now.
	basis := m.Custody
	var at *evidence.Entry
	for i := range entries {
		if entries[i].Seq == basis.Seq {
			at = &entries[i]
		}
	}
	switch {
	case at == nil:
		add(checkFailed, "custody head", "the manifest says the case stood at entry %d; the custody log has %d entries", basis.Seq, len(entries))
		return out
	case at.Hash != basis.Hash:
		add(checkFailed, "custody head", "entry %d has hash %s; the manifest says %s", basis.Seq, at.Hash, basis.Hash)
		return out
	case basis.Signature != "" && cs.EntrySignature(basis.Seq, basis.Hash) != basis.Signature:
		add(checkFailed, "custody head", "entry %d's signature in custody.sig is not the one the manifest carries", basis.Seq)
		return out
	default:
		add(checkOK, "custody head", "entry %d, hash %s, as the manifest says", basis.Seq, basis.Hash)
	}
	var changed []string
	for _, en := range entries {
		if en.Seq > basis.Seq && !outputActions[en.Action] && en.Action != "verify" && en.Action != "note" {
			changed = append(changed, fmt.Sprintf("%d %s", en.Seq, en.Action))
		}
	}
	if len(changed) == 0 {
		add(checkOK, "case since", "nothing changed the case after entry %d: the output reflects the case as it is", basis.Seq)
	} else {
		add(checkChanged, "case since", "entries after the output changed the case (%s): the output does not reflect them", strings.Join(changed, ", "))
	}
	return out
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
