package evidence

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// stepClock is a reproducible clock: base, base+1s, base+2s, ...
func stepClock(base time.Time) func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return base.Add(time.Duration(n-1) * time.Second)
	}
}

var testBase = time.Date(2024, 2, 14, 9, 30, 0, 123456789, time.UTC)

func newCase(t testing.TB) *Case {
	t.Helper()
	c, err := Init(filepath.Join(t.TempDir(), "case"), Config{
		Examiner: "Siti Examiner", Zone: "Asia/Jakarta", ToolVersion: "jejak-test", Clock: stepClock(testBase),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// manifestRow is one row of the corpus MANIFEST.tsv, the oracle for sizes
// and SHA-256 of the corpus files.
type manifestRow struct {
	Bytes  int64
	SHA256 string
}

func corpusManifest(t testing.TB) map[string]manifestRow {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("shared corpus not found (%v): needed for MANIFEST.tsv", err)
	}
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	col := map[string]int{}
	rows := map[string]manifestRow{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(col) == 0 {
			for i, h := range fields {
				col[h] = i
			}
			for _, need := range []string{"path", "bytes", "sha256"} {
				if _, ok := col[need]; !ok {
					t.Fatalf("MANIFEST.tsv has no %q column", need)
				}
			}
			continue
		}
		if len(fields) <= col["sha256"] {
			continue
		}
		n, err := strconv.ParseInt(fields[col["bytes"]], 10, 64)
		if err != nil {
			t.Fatalf("MANIFEST.tsv %s: bytes %q: %v", fields[col["path"]], fields[col["bytes"]], err)
		}
		rows[fields[col["path"]]] = manifestRow{Bytes: n, SHA256: fields[col["sha256"]]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// coreutilsSum runs sha1sum/md5sum/sha256sum (coreutils) on a file.
func coreutilsSum(t testing.TB, tool, path string) string {
	t.Helper()
	oracle.Tool(t, tool, "coreutils")
	out := oracle.Output(t, tool, path)
	return strings.Fields(string(out))[0]
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}
