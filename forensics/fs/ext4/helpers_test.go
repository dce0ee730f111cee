package ext4

import (
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// istatTimes returns the four times istat prints for an inode, with their
// nanoseconds, as "Accessed:2020-10-27 05:15:44.123456789" lines.
func istatTimes(t testing.TB, image string, sector int64, inode string) map[string]string {
	t.Helper()
	out := string(oracle.Run(t, "istat", "-o", strconv.FormatInt(sector, 10), image, inode))
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, k := range []string{"Accessed", "File Modified", "Inode Modified", "File Created"} {
			if v, ok := strings.CutPrefix(line, k+":"); ok {
				if _, seen := m[k]; !seen { // the first block is the inode's
					m[k] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "(UTC)"))
				}
			}
		}
	}
	return m
}
