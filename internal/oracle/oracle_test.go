package oracle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestMain(m *testing.M) { Main(m) }

func TestRunAndOutput(t *testing.T) {
	sh := Tool(t, "sh", "dash")
	if !filepath.IsAbs(sh) {
		t.Fatalf("Tool returned %q, want an absolute path", sh)
	}
	script := `echo out; echo err >&2; date +%Z`
	if got := string(Run(t, "sh", "-c", script)); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") || !strings.HasSuffix(got, "UTC\n") {
		t.Errorf("Run: %q, want stdout and stderr, with TZ=UTC", got)
	}
	if got := string(Output(t, "sh", "-c", script)); got != "out\nUTC\n" {
		t.Errorf("Output: %q, want stdout alone", got)
	}
}

// TestSample decompresses one image twice: the second call returns the
// same file, whose size is the one xz records.
func TestSample(t *testing.T) {
	a := Sample(t, "multiple")
	st, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if b := Sample(t, "multiple"); b != a {
		t.Fatalf("second Sample %q, first %q", b, a)
	}
	Tool(t, "xz", "xz-utils")
	// xz --robot -l: "totals\t<streams>\t<blocks>\t<compressed>\t<uncompressed>\t..."
	var want string
	for _, l := range strings.Split(string(Output(t, "xz", "--robot", "-l", filepath.Join(SamplesDir, "fs.multiple.xz"))), "\n") {
		if f := strings.Split(l, "\t"); f[0] == "totals" && len(f) > 4 {
			want = f[4]
		}
	}
	if want == "" || want != strconv.FormatInt(st.Size(), 10) {
		t.Errorf("size %d, xz says %q", st.Size(), want)
	}
}

// TestEvtxExport splits a real EVTX file's export into as many <Event>
// blocks as MANIFEST.tsv says it holds (plaso: 194 records).
func TestEvtxExport(t *testing.T) {
	events, ok, stderr := EvtxExport(t, parsertest.Corpus(t, "logs/windows/System2.evtx"))
	if !ok || len(events) != 194 {
		t.Fatalf("ok %v, %d events, want 194; stderr %s", ok, len(events), stderr)
	}
	for i, e := range events {
		if !strings.HasPrefix(string(e), "<Event") || !strings.HasSuffix(string(e), "</Event>\n") {
			t.Fatalf("event %d is not one <Event> block: %.80q", i, e)
		}
	}
}
