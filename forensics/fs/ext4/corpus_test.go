package ext4

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestCorpus checks dsoprea/go-ext4's test images against the manifest's
// oracle (go-ext4's own directory-walk test: names and inode numbers) and
// against fls, and holds the walker to the shared walker contract.
func TestCorpus(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]string // path -> inode, from MANIFEST.tsv
	}{
		{"more/disk/ext4/tiny.ext4", map[string]string{"lost+found": "11", "thejungle.txt": "12"}},
		{"more/disk/ext4/hierarchy_32.ext4", map[string]string{
			"directory1": "13", "directory1/fortune1": "15", "directory1/fortune2": "14",
			"directory1/fortune5": "20", "directory1/fortune6": "21", "directory1/subdirectory1": "16",
			"directory1/subdirectory1/fortune3": "17", "directory1/subdirectory1/fortune4": "18",
			"directory1/subdirectory2": "19", "directory1/subdirectory2/fortune7": "22",
			"directory1/subdirectory2/fortune8": "23", "directory2": "24", "directory2/fortune9": "25",
			"directory2/fortune10": "26", "lost+found": "11", "thejungle.txt": "12",
		}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := parsertest.Corpus(t, tc.file)
			f, size := fstest.OpenFile(t, path)
			w, err := NewWalker(f, size, []string{"file:" + filepath.Base(path)})
			if err != nil {
				t.Fatal(err)
			}
			items, probs := fstest.Contract(t, w)
			for _, p := range probs {
				t.Errorf("problem: %v", p)
			}
			got := map[string]string{}
			for _, it := range items {
				got[it.Path] = it.Inode
				if want := "ext4:" + it.Path; it.Chain[len(it.Chain)-1] != want {
					t.Errorf("chain %q, want last layer %q", it.Chain, want)
				}
			}
			if !equalMaps(got, tc.want) {
				t.Errorf("walk %v\nmanifest %v", got, tc.want)
			}
			if _, err := os.Stat("/usr/bin/fls"); err == nil {
				b, _, _ := fstest.WalkBodies(t, w)
				if d := fstest.DiffBodies(fstest.Fls(t, path, 0, "", nil), b); len(d) > 0 {
					t.Errorf("differences from fls:\n%s", strings.Join(d, "\n"))
				}
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNotExt(t *testing.T) {
	path := parsertest.Corpus(t, "images/image.E01")
	f, size := fstest.OpenFile(t, path)
	if _, err := NewWalker(f, size, nil); !errors.Is(err, ErrNotExt) {
		t.Fatalf("an E01 container opened as ext: %v", err)
	}
}

var _ jfs.Walker = (*Walker)(nil)
