package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// copyCorpus copies a corpus file to a writable temp path.
func copyCorpus(t *testing.T, rel, dst string) string {
	t.Helper()
	b, err := os.ReadFile(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o700)
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func custodyActions(t *testing.T, c *Case) []string {
	t.Helper()
	entries, err := c.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	var a []string
	for _, e := range entries {
		a = append(a, e.Action)
	}
	return a
}

func TestAddSamePathUnchangedIsNoop(t *testing.T) {
	c := newCase(t)
	p := parsertest.Corpus(t, "logs/syslog/syslog_ssh.log")
	first, err := c.AddEvidence(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	logBefore, _ := os.ReadFile(filepath.Join(c.Dir(), custodyFile))
	again, err := c.AddEvidence(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("re-add returned %+v, want the existing %+v", again, first)
	}
	logAfter, _ := os.ReadFile(filepath.Join(c.Dir(), custodyFile))
	if string(logAfter) != string(logBefore) {
		t.Error("a no-op re-add wrote to the custody log")
	}
	if items, _ := c.Evidence(); len(items) != 1 {
		t.Errorf("%d items after re-adding the same path, want 1", len(items))
	}
}

func TestChangedEvidenceIsRefused(t *testing.T) {
	c := newCase(t)
	p := copyCorpus(t, "logs/syslog/syslog", filepath.Join(t.TempDir(), "syslog"))
	it, err := c.AddEvidence(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("Feb 14 10:00:00 tps-001 sshd[1]: injected line\n")
	f.Close()
	newSum := coreutilsSum(t, "sha256sum", p)

	_, err = c.AddEvidence(context.Background(), p, nil)
	var ce *ChangedError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ChangedError", err)
	}
	for _, want := range []string{p, it.SHA256, newSum} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if ce.Registered != it.SHA256 || ce.Current != newSum {
		t.Errorf("ChangedError %+v", ce)
	}
	if items, _ := c.Evidence(); len(items) != 1 || items[0].SHA256 != it.SHA256 {
		t.Errorf("registry after refusal: %+v", items)
	}

	err = c.VerifyEvidence(context.Background(), it)
	if !errors.As(err, &ce) || ce.What != "sha256" || ce.Current != newSum {
		t.Errorf("verify: %v", err)
	}
	got := strings.Join(custodyActions(t, c), ",")
	if got != "case_init,evidence_add,case_files,evidence_refused,verify" {
		t.Errorf("custody actions %s", got)
	}
	entries, _ := c.VerifyCustody()
	if v := entries[len(entries)-1]; v.Details["result"] != "mismatch" {
		t.Errorf("verify entry %+v", v)
	}
}

func TestVerifyEvidence(t *testing.T) {
	setup := func(t *testing.T) (*Case, *Item, string) {
		dir := filepath.Join(t.TempDir(), "usb")
		copyCorpus(t, "logs/syslog/syslog", filepath.Join(dir, "var/log/syslog"))
		copyCorpus(t, "logs/syslog/syslog_ssh.log", filepath.Join(dir, "var/log/auth.log"))
		c := newCase(t)
		it, err := c.AddEvidence(context.Background(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyEvidence(context.Background(), it); err != nil {
			t.Fatalf("unchanged folder: %v", err)
		}
		return c, it, dir
	}
	for _, tc := range []struct {
		name       string
		change     func(dir string)
		file, what string
	}{
		{"content", func(d string) { os.WriteFile(filepath.Join(d, "var/log/auth.log"), []byte("x"), 0o600) }, "var/log/auth.log", "sha256"},
		{"removed", func(d string) { os.Remove(filepath.Join(d, "var/log/syslog")) }, "var/log/syslog", "file"},
		{"added", func(d string) { os.WriteFile(filepath.Join(d, "var/log/new"), nil, 0o600) }, "var/log/new", "file"},
		{"touched", func(d string) {
			os.Chtimes(filepath.Join(d, "var/log/syslog"), time.Now(), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		}, "var/log/syslog", "mtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, it, dir := setup(t)
			tc.change(dir)
			err := c.VerifyEvidence(context.Background(), it)
			var ce *ChangedError
			if !errors.As(err, &ce) || ce.File != tc.file || ce.What != tc.what {
				t.Errorf("err = %v (%+v), want %s of %s", err, ce, tc.what, tc.file)
			}
		})
	}
	t.Run("file mtime", func(t *testing.T) {
		p := copyCorpus(t, "logs/syslog/syslog_cron.log", filepath.Join(t.TempDir(), "cron.log"))
		c := newCase(t)
		it, err := c.AddEvidence(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, time.Now(), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		var ce *ChangedError
		if err := c.VerifyEvidence(context.Background(), it); !errors.As(err, &ce) || ce.What != "mtime" {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSameContentElsewhereIsRefused(t *testing.T) {
	c := newCase(t)
	a := copyCorpus(t, "logs/syslog/syslog_rsyslog", filepath.Join(t.TempDir(), "server", "syslog"))
	b := copyCorpus(t, "logs/syslog/syslog_rsyslog", filepath.Join(t.TempDir(), "usb", "syslog"))
	first, err := c.AddEvidence(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddEvidence(context.Background(), b, nil)
	var de *DuplicateError
	if !errors.As(err, &de) || !errors.Is(err, ErrDuplicate) || de.Existing.ID != first.ID {
		t.Fatalf("err = %v, want DuplicateError naming %s", err, first.ID)
	}
	for _, want := range []string{a, b, first.ID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	entries, _ := c.VerifyCustody()
	last := entries[len(entries)-1]
	if last.Action != "evidence_duplicate" || last.Details["path"] != b || last.Details["registered_path"] != a {
		t.Errorf("custody entry %+v", last)
	}
}

func TestEvidenceOrderSurvivesReopen(t *testing.T) {
	c := newCase(t)
	rels := []string{"logs/syslog/syslog_rsyslog", "logs/syslog/syslog", "logs/syslog/syslog_cron.log"}
	var ids []string
	for _, rel := range rels {
		it, err := c.AddEvidence(context.Background(), parsertest.Corpus(t, rel), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	o, err := Open(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	items, err := o.Evidence()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.ID)
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("order %v, want %v", got, ids)
	}
	for i := 1; i < len(items); i++ {
		if !items[i].AddedAt.After(items[i-1].AddedAt) {
			t.Errorf("added_at not increasing: %v then %v", items[i-1].AddedAt, items[i].AddedAt)
		}
	}
}

func TestEvidenceOverlappingTheCaseIsRefused(t *testing.T) {
	parent := t.TempDir()
	c, err := Init(filepath.Join(parent, "case"), Config{Examiner: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(c.Dir(), custodyFile), c.Dir(), parent} {
		if _, err := c.AddEvidence(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "overlaps the case") {
			t.Errorf("%s: err = %v", p, err)
		}
	}
	if _, err := c.AddEvidence(context.Background(), filepath.Join(parent, "absent"), nil); err == nil {
		t.Error("missing evidence accepted")
	}
}
