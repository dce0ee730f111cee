package query_test

import (
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"

	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// caseFiles are the corpus files of the test case: sshd syslog, a real
// brute-forced auth.log, a Windows Security log and an Apache access log.
var caseFiles = []string{
	"logs/syslog/syslog_ssh.log",
	"more/linux/auth/elastic_examples_auth.log",
	"logs/windows/security.evtx",
	"logs/web/apache_access.log",
}

// buildCase ingests caseFiles into a fresh SQLite case store as 'jejak
// ingest' does: one evidence item per file, every parser, real files.
func buildCase(t testing.TB) *sqlite.Store {
	t.Helper()
	st, sum := casetest.Build(t, caseFiles...)
	if sum.Events < 7000 {
		t.Fatalf("only %d events from %v", sum.Events, caseFiles)
	}
	return st
}
