package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/trace"
	"testing"
)

// JEJAK_TRACE records a runtime trace of the run (the file go tool trace
// reads), the run's exit code is the command's, and a path that cannot be
// written leaves the command running without it.
func TestRecordedTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.trace")
	t.Setenv("JEJAK_TEST_TRACE", path)
	ran := false
	if code := recorded("JEJAK_TEST_TRACE", trace.Start, trace.Stop, func() int { ran = true; return 3 }); code != 3 || !ran {
		t.Fatalf("exit code %d, ran %v; want 3, true", code, ran)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("go 1.")) || !bytes.Contains(b[:16], []byte(" trace")) {
		t.Errorf("%s does not start as a runtime trace: %q", path, b[:min(len(b), 16)])
	}

	t.Setenv("JEJAK_TEST_TRACE", filepath.Join(t.TempDir(), "no", "such", "folder", "run.trace"))
	if code := recorded("JEJAK_TEST_TRACE", trace.Start, trace.Stop, func() int { return 5 }); code != 5 {
		t.Errorf("unwritable trace path: exit code %d, want the command's 5", code)
	}

	t.Setenv("JEJAK_TEST_TRACE", "")
	if code := recorded("JEJAK_TEST_TRACE", trace.Start, trace.Stop, func() int { return 0 }); code != 0 || trace.IsEnabled() {
		t.Errorf("unset: exit code %d, tracing %v", code, trace.IsEnabled())
	}
}
