package hunt

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestPhotoEdited reads the Debian forensics-samples originals (package
// forensics-samples-files) and checks the edited-photo rule against
// exiftool's own reading (package libimage-exiftool-perl). The same photos
// inside the NTFS image (with the deleted pic2 folder) are for the NTFS
// walker's test once images are walkable.
func TestPhotoEdited(t *testing.T) {
	const root = "/usr/share/forensics-samples/original-files"
	bin := oracle.Tool(t, "exiftool", "libimage-exiftool-perl")
	dirs := []string{filepath.Join(root, "pic1"), filepath.Join(root, "pic2")}
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-T", "-FileName", "-Software", "-DateTimeOriginal", "-ModifyDate"}, dirs...)...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Skipf("exiftool on %s: %v (apt-get install forensics-samples-files)", root, err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		sw := strings.ToLower(f[1])
		edited := strings.Contains(sw, "gimp") || strings.Contains(sw, "photoshop")
		if f[2] != "-" && f[3] != "-" && f[2] != f[3] {
			edited = true
		}
		if edited {
			want = append(want, f[0])
		}
	}
	if !slices.Contains(want, "IMG_1054.JPG") {
		t.Fatalf("exiftool oracle %v lacks IMG_1054.JPG (edited in GIMP)", want)
	}
	st := buildCase(t, dirs...)
	fs := byRule(hunt(t, st, Config{}), "JEJAK-DATA-03")
	var got []string
	for _, f := range fs {
		got = append(got, filepath.Base(f.Events[0].Provenance.Path))
		if !strings.Contains(f.Explanation, "edited") {
			t.Errorf("explanation %q", f.Explanation)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("edited photos %v, exiftool says %v", got, want)
	}
	t.Log(fs[0].Explanation)
}
