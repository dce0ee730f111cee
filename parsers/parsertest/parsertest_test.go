package parsertest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirs: the shared folder wins when it holds corpus and sigma;
// without them (a fresh clone, simulated with JEJAK_SHARED on an empty
// folder) the repository's fixtures are read, and they are there.
func TestDataDirs(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	for _, d := range []string{"corpus", "sigma"} {
		if err := os.Mkdir(filepath.Join(full, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		shared     string
		wantCorpus string
		wantSigma  string
	}{
		{"shared folder present", full, filepath.Join(full, "corpus"), filepath.Join(full, "sigma")},
		{"fresh clone", filepath.Join(t.TempDir(), "missing"),
			filepath.Join(root, "fixtures", "corpus"), filepath.Join(root, "fixtures", "sigma")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("JEJAK_CORPUS", "")
			t.Setenv("JEJAK_SHARED", tc.shared)
			got, err := CorpusDir()
			if err != nil || got != tc.wantCorpus {
				t.Errorf("CorpusDir() = %q, %v; want %q", got, err, tc.wantCorpus)
			}
			if got := SigmaDir(); got != tc.wantSigma {
				t.Errorf("SigmaDir() = %q, want %q", got, tc.wantSigma)
			}
			if !exists(tc.wantSigma) || !exists(tc.wantCorpus) {
				t.Errorf("%s or %s missing", tc.wantCorpus, tc.wantSigma)
			}
		})
	}
	// The vendored snapshot holds what the Sigma tests read.
	own := filepath.Join(root, "fixtures", "sigma")
	for _, rel := range []string{"LICENSE", "SOURCE", "SHA256SUMS", "rules/windows/builtin",
		"regression_data/rules/windows/registry/registry_set"} {
		if !exists(filepath.Join(own, rel)) {
			t.Errorf("fixtures/sigma/%s missing: re-run scripts/vendor-corpus.sh", rel)
		}
	}
}
