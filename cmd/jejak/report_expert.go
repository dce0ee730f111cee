package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/jejak-forensics/jejak/casework/report"
)

// reportBuild says which binary writes a report: version, commit and the
// SHA-256 of the running executable, so the report names the exact
// program that produced it.
func reportBuild() report.BuildFacts {
	b := readBuildInfo()
	f := report.BuildFacts{Version: b.Version, Commit: b.Commit, Modified: b.Modified, GoVersion: b.GoVersion, Platform: b.Platform}
	sum, err := executableSHA256()
	if err != nil {
		f.BinaryError = err.Error()
	} else {
		f.BinarySHA256 = sum
	}
	return f
}

func executableSHA256() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
