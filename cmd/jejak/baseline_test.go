package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBaselineCLI: capture a folder into a case, change it by hand,
// diff: the table and --json name the differences, the events are in the
// store once however often the diff runs, the custody chain verifies, and
// the hunt reports the replaced binary high.
func TestBaselineCLI(t *testing.T) {
	srv := t.TempDir()
	put := func(rel string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(srv, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	bin := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Skip(err)
		}
		return b
	}
	put("usr/bin/tabulate", bin("/bin/true"), 0o755)
	put("etc/passwd", bin("/etc/passwd"), 0o644)
	put("etc/ssh/sshd_config", []byte("Port 2222\n"), 0o644)
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, 0, "case", "init", cs, "--examiner", "T")
	mustRun(t, 0, "baseline", "capture", cs, srv, "--name", "cert")
	if _, _, code := jejak(t, "baseline", "capture", cs, srv, "--name", "cert"); code != 2 {
		t.Errorf("a second capture under one name: exit %d, want 2 (never overwritten)", code)
	}
	show := mustRun(t, 0, "baseline", "show", cs, "cert")
	for _, want := range []string{"LOCAL ACCOUNTS", "root", "sshd port 2222", "SSH AUTHORIZED KEYS (0)"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}

	// After the count: binary replaced, a file added, one removed.
	later := t.TempDir()
	for rel, p := range map[string]string{"usr/bin/tabulate": "/bin/false", "etc/passwd": "/etc/passwd"} {
		if err := os.MkdirAll(filepath.Join(later, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(later, rel), bin(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(later, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(later, "etc/backdoor.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 0, "baseline", "diff", cs, "--against", "cert", later, "--json")
	var res struct {
		Items []struct {
			Changes []struct {
				Status, Path string
				Executable   bool
			}
			Stored struct{ Inserted, Duplicates int64 }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, c := range res.Items[0].Changes {
		got[c.Path] = c.Status
		if c.Path == "usr/bin/tabulate" && !c.Executable {
			t.Error("replaced binary not flagged")
		}
	}
	want := map[string]string{"usr/bin/tabulate": "changed", "etc/backdoor.sh": "added", "etc/ssh": "removed", "etc/ssh/sshd_config": "removed"}
	for p, s := range want {
		if got[p] != s {
			t.Errorf("%s: %q, want %q (all: %v)", p, got[p], s, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("differences %v, want %v", got, want)
	}
	if n := res.Items[0].Stored.Inserted; n != int64(len(want)) {
		t.Errorf("%d events stored, want %d", n, len(want))
	}
	table := mustRun(t, 0, "baseline", "diff", cs, "--against", "cert", later)
	if !strings.Contains(table, "0 events stored (4 already there)") || !strings.Contains(table, "EXECUTABLE") {
		t.Errorf("second diff:\n%s", table)
	}
	mustRun(t, 0, "evidence", "verify", cs)
	hunt, _, _ := jejak(t, "hunt", cs, "--after", "2000-01-01T00:00:00Z")
	if !strings.Contains(hunt, "JEJAK-BASE-01") {
		t.Errorf("hunt did not report the binary:\n%s", hunt)
	}
}

// TestBaselineTamperRefused: a baseline edited after its capture (a hash
// swapped to hide a change) no longer matches the hash its custody entry
// recorded: show and diff refuse it.
func TestBaselineTamperRefused(t *testing.T) {
	srv := t.TempDir()
	if err := os.WriteFile(filepath.Join(srv, "a.conf"), []byte("x=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, 0, "case", "init", cs, "--examiner", "T")
	mustRun(t, 0, "baseline", "capture", cs, srv, "--name", "cert")
	p := filepath.Join(cs, "baselines", "cert.jsonl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), `"size":4`, `"size":5`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"baseline", "show", cs, "cert"}, {"baseline", "diff", cs, "--against", "cert", srv}} {
		_, errs, code := jejak(t, args...)
		if code == 0 || !strings.Contains(errs, "changed after its capture") {
			t.Errorf("jejak %s: exit %d, stderr %s", strings.Join(args, " "), code, errs)
		}
	}
}
