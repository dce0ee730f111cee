package elastic_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// custodyLines makes a real case (forensics/evidence writes its log) with a
// few entries of varied details, and returns its custody.log lines.
func custodyLines(t testing.TB) [][]byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "case")
	clock := time.Date(2024, 2, 14, 19, 0, 0, 123456789, time.UTC)
	cs, err := evidence.Init(dir, evidence.Config{Examiner: "Ä <Examiner> & co", Zone: "Asia/Jakarta",
		Clock: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(t.TempDir(), "ev.log")
	if err := os.WriteFile(ev, []byte("Feb 14 19:00:00 host sshd[1]: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AddEvidence(context.Background(), ev, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []map[string]any{
		{"n": 1.5e300, "big": int64(1) << 62, "neg": -3},
		{"text": "line\nbreak \"quoted\" \u2028 <html>", "list": []any{1, "a", nil, true}},
		{"nested": map[string]any{"z": 1, "a": map[string]any{}}},
	} {
		if err := cs.Log("test", d); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "custody.log"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
}

func entries(t testing.TB, lines [][]byte) []elastic.CustodyEntry {
	t.Helper()
	out := make([]elastic.CustodyEntry, len(lines))
	for i, l := range lines {
		e, err := elastic.ParseCustodyLine(l)
		if err != nil {
			t.Fatalf("line %d written by forensics/evidence: %v", i+1, err)
		}
		out[i] = e
	}
	return out
}

// TestCustodyChainMatchesEvidence: the cluster's reading of the custody
// format accepts every line forensics/evidence writes and their chain, and
// refuses the chain after any one byte of any line is changed, a line is
// dropped, or two are swapped.
func TestCustodyChainMatchesEvidence(t *testing.T) {
	lines := custodyLines(t)
	es := entries(t, lines)
	if err := elastic.VerifyChain("test", es); err != nil {
		t.Fatalf("chain written by forensics/evidence: %v", err)
	}
	for i, l := range lines {
		for j := range l {
			mut := bytes.Clone(l)
			mut[j] ^= 0x01
			bad := append([]elastic.CustodyEntry(nil), es...)
			bad[i].Line = string(mut)
			var ce *elastic.ChainError
			if err := elastic.VerifyChain("test", bad); !errors.As(err, &ce) || ce.Seq != int64(i+1) {
				t.Fatalf("line %d byte %d flipped: %v, want a ChainError at %d", i+1, j, err, i+1)
			}
		}
	}
	drop := append(append([]elastic.CustodyEntry(nil), es[:2]...), es[3:]...)
	if err := elastic.VerifyChain("test", drop); err == nil {
		t.Fatal("a dropped entry went unnoticed")
	}
	swap := append([]elastic.CustodyEntry(nil), es...)
	swap[1], swap[2] = swap[2], swap[1]
	if err := elastic.VerifyChain("test", swap); err == nil {
		t.Fatal("two swapped entries went unnoticed")
	}
}

// FuzzParseCustodyLine: whatever a line holds, parsing it never panics,
// and a line it accepts re-verifies as a one-entry chain when its seq is 1
// and prev empty. Seeded with real lines from forensics/evidence.
func FuzzParseCustodyLine(f *testing.F) {
	for _, l := range custodyLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := elastic.ParseCustodyLine(line)
		if err != nil {
			return
		}
		if e.Seq == 1 && e.Prev == "" {
			if err := elastic.VerifyChain("fuzz", []elastic.CustodyEntry{e}); err != nil {
				t.Fatalf("accepted line fails as a chain: %v", err)
			}
		}
	})
}
