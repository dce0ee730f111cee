package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaseShowStoreSize: 'case show' reports the store's bytes and their
// ratio to the evidence registered, as text and JSON, and the compressed
// store of a syslog stays within 2.5 times its text (format 3 stores were
// 12 times it).
func TestCaseShowStoreSize(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "auth.log")
	var b strings.Builder
	users := []string{"root", "admin", "kpu", "operator", "backup"}
	for i := range 20000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i%7, i%251, 1+i%253)
		switch i % 4 {
		case 0, 1:
			fmt.Fprintf(&b, "Jan %2d %02d:%02d:%02d tabulasi-01 sshd[%d]: Failed password for %s from %s port %d ssh2\n",
				1+i/86400, i/3600%24, i/60%60, i%60, 1000+i%30000, users[i%5], ip, 1024+i%60000)
		case 2:
			fmt.Fprintf(&b, "Jan %2d %02d:%02d:%02d tabulasi-01 sshd[%d]: Accepted password for %s from %s port %d ssh2\n",
				1+i/86400, i/3600%24, i/60%60, i%60, 1000+i%30000, users[i%5], ip, 1024+i%60000)
		default:
			fmt.Fprintf(&b, "Jan %2d %02d:%02d:%02d tabulasi-01 CRON[%d]: pam_unix(cron:session): session closed for user %s\n",
				1+i/86400, i/3600%24, i/60%60, i%60, 1000+i%30000, users[i%5])
		}
	}
	if err := os.WriteFile(ev, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	if out := mustRun(t, exitOK, "case", "show", cs); !strings.Contains(out, "store     none yet") {
		t.Errorf("case show before any ingest:\n%s", out)
	}
	mustRun(t, exitOK, "analyze", ev, "--out", cs, "--examiner", "t", "--json")

	var got struct {
		Store    int64   `json:"store_bytes"`
		Evidence int64   `json:"evidence_bytes"`
		Ratio    float64 `json:"store_ratio"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "case", "show", "--json", cs)), &got); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, p := range []string{"case.db", "case.db-wal"} {
		if fi, err := os.Stat(filepath.Join(cs, p)); err == nil {
			want += fi.Size()
		}
	}
	if got.Store != want || got.Evidence != int64(b.Len()) {
		t.Errorf("store_bytes %d, evidence_bytes %d; want %d and %d", got.Store, got.Evidence, want, b.Len())
	}
	if r := float64(want) / float64(b.Len()); got.Ratio != r {
		t.Errorf("store_ratio %v, want %v", got.Ratio, r)
	}
	if got.Ratio > 2.5 {
		t.Errorf("the store is %.2f times the syslog's text, want at most 2.5", got.Ratio)
	}
	text := mustRun(t, exitOK, "case", "show", cs)
	if w := fmt.Sprintf("× the %s of evidence registered", humanBytes(int64(b.Len()))); !strings.Contains(text, fmt.Sprintf("%.2f", got.Ratio)+w) {
		t.Errorf("case show does not say %q:\n%s", fmt.Sprintf("%.2f", got.Ratio)+w, text)
	}
}
