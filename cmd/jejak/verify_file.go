package main

import (
	"fmt"
	"strings"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

// 'jejak verify FILE…': an export or report checked against the
// FILE.manifest.json written beside it and, when the case is known,
// against the case's custody log. Nothing is written: verifying a copy
// handed out must not change the case.

const verifyFileHelp = `
VERIFYING AN EXPORT OR REPORT
   jejak verify FILE... [--case CASE | --case NAME --es URL]
An argument that is not a case folder is an output of 'jejak export' or
'jejak report' (FILE.manifest.json lies beside it; the manifest's own path
names it too). Checks, each on its own line:
   manifest        readable, a layout this jejak knows, naming this file
   size, sha256    the file against the manifest
   custody record  the custody log's export or report entry that records the
                   file's SHA-256 and the manifest's SHA-256 (with --case,
                   or when the file lies inside the case folder; with
                   --case NAME --es URL, the chain of the case in the
                   cluster, for outputs of 'report --es' and 'export --es')
   custody head    the entry the manifest says the case stood at: present,
                   with the same hash, signature as recorded
   case since      what changed the case after the output was made (a
                   later ingest or hunt: the output does not reflect it; not
                   a failure)
Any FAILED line makes the exit status 1. Nothing is written to the case.`

// isCaseDir reports whether path is a case folder.
func isCaseDir(path string) bool { return casework.IsCaseDir(path) }

// verifyFiles checks each output file and prints one line per check.
func (e *env) verifyFiles(c *cli.Context, args []string) error {
	caseDir := c.String("case")
	switch {
	case esGiven(c):
		// Outputs written from the cluster are recorded in its chain: the
		// case is pulled and checked as a folder would be.
		if caseDir == "" {
			return usagef("with --es, --case NAME names the case in the cluster whose custody chain recorded the files")
		}
		cl, err := e.openCluster(c, caseDir)
		if err != nil {
			return err
		}
		defer cl.Close()
		caseDir = cl.Evidence.Dir()
	case caseDir != "" && !isCaseDir(caseDir):
		return usagef("--case %s: not a case folder (no case.json)", caseDir)
	}
	failed := 0
	for _, arg := range args {
		file := strings.TrimSuffix(arg, ".manifest.json")
		dir := caseDir
		if dir == "" {
			dir = casework.EnclosingCase(file)
		}
		checks := casework.VerifyFile(file, dir)
		bad := false
		for _, ch := range checks {
			fmt.Fprintf(e.stdout, "%-12s %s %s: %s\n", ch.Status, termsafe.String(file), ch.Name, termsafe.String(ch.Detail))
			bad = bad || ch.Status == casework.CheckFailed
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
