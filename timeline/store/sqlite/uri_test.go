package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenOddPaths: a case folder whose name holds a URI delimiter opens
// the file of exactly that name, and two such folders never share a file.
func TestOpenOddPaths(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, name := range []string{"a#b", "a?b", "a%3fb", "a%b", "a&b=c", "plain"} {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "case.db")
		s, err := Open(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: store not written where named: %v", name, err)
		}
	}
	// Nothing but the six folders: no file was opened under a cut name.
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 6 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("root holds %v, want only the six case folders", names)
	}
}
