package casework_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// exampleCase is the README example (fixtures/example) ingested and hunted
// through the API, with a clock that ticks a second per custody entry.
func exampleCase(t *testing.T) *casework.Case {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	c, err := casework.Init(ctx, filepath.Join(t.TempDir(), "case"), casework.Options{Examiner: "B. Examiner", Zone: "Asia/Jakarta",
		ToolVersion: "api-test", Clock: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.AddEvidence(ctx, "../fixtures/example", casework.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ingest(ctx, casework.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hunt(ctx, casework.HuntOptions{After: time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return c
}

// lastEntry is the custody log's last entry, as written.
func lastEntry(t *testing.T, c *casework.Case) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "custody.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var e map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExportFileManifestCustody: for each format, the file Export writes
// holds the rows Export gives a writer, byte for byte; its manifest
// states its hash, size and event count, the custody log records both
// hashes, VerifyFile passes it, and a byte appended fails it.
func TestExportFileManifestCustody(t *testing.T) {
	ctx := context.Background()
	c := exampleCase(t)
	total, err := c.Store.Count(ctx, timeline.Query{})
	if err != nil || total == 0 {
		t.Fatalf("example case: %d events, %v", total, err)
	}
	for _, f := range []export.Format{export.CSV, export.JSONL, export.Timesketch, export.L2TCSV} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			var told *export.Completeness
			if _, err := c.Export(ctx, casework.ExportOptions{Format: f, W: &buf, Completeness: func(x *export.Completeness) { told = x }}); err != nil {
				t.Fatal(err)
			}
			if told == nil || !told.Complete {
				t.Errorf("completeness told before writing: %+v", told)
			}
			out := filepath.Join(t.TempDir(), "timeline."+string(f))
			res, err := c.Export(ctx, casework.ExportOptions{Format: f, Output: out, ToolVersion: "api-test"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, buf.Bytes()) {
				t.Errorf("the file (%d bytes) is not what the writer got (%d bytes)", len(b), buf.Len())
			}
			if res.Events != total || res.Size != int64(len(b)) {
				t.Errorf("result: %d events in %d bytes; the case has %d events, the file %d bytes", res.Events, res.Size, total, len(b))
			}
			var m export.Manifest
			mb, err := os.ReadFile(res.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(mb, &m); err != nil {
				t.Fatal(err)
			}
			if m.Output.SHA256 != res.SHA256 || m.Output.Size != res.Size || m.Events != total || m.Command != "export" || !m.Custody.Intact || m.Custody.Seq < 1 {
				t.Errorf("manifest %+v for result %+v", m, res)
			}
			e := lastEntry(t, c)
			if e["action"] != "export" {
				t.Fatalf("last custody entry %v, want the export", e)
			}
			d, _ := e["details"].(map[string]any)
			if d["sha256"] != res.SHA256 || d["manifest_sha256"] != res.ManifestHash || d["file"] != casework.AbsPath(out) {
				t.Errorf("custody details %v for result %+v", d, res)
			}
			for _, ch := range casework.VerifyFile(out, c.Dir) {
				if ch.Status != casework.CheckOK {
					t.Errorf("verify of the export just written: %+v", ch)
				}
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			failed := map[string]bool{}
			for _, ch := range casework.VerifyFile(out, c.Dir) {
				if ch.Status == casework.CheckFailed {
					failed[ch.Name] = true
				}
			}
			if !failed["size"] || !failed["sha256"] {
				t.Errorf("a byte appended: failed checks %v, want size and sha256", failed)
			}
		})
	}
}

// TestReportOptions: a hunt key that names no hunt is an OptionError
// naming the hunts there are; --min-severity keeps the findings at or
// above it and says so; the report to a writer and to a file are the same
// bytes.
func TestReportOptions(t *testing.T) {
	ctx := context.Background()
	c := exampleCase(t)
	_, err := c.Report(ctx, &bytes.Buffer{}, casework.ReportOptions{Format: report.Markdown, Hunt: "ffff"})
	var oe *casework.OptionError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "no such hunt") {
		t.Fatalf("unknown hunt key: %v, want an OptionError", err)
	}
	all, err := c.GatherReport(ctx, casework.ReportOptions{})
	if err != nil || all.Hunt == nil || len(all.Findings) == 0 {
		t.Fatalf("gather: %v (hunt %v, %d findings)", err, all.Hunt, len(all.Findings))
	}
	if _, err := c.Report(ctx, &bytes.Buffer{}, casework.ReportOptions{Format: report.Markdown, Hunt: all.Hunt.Key[:6]}); err != nil {
		t.Errorf("a unique prefix of the hunt key: %v", err)
	}
	high, err := c.GatherReport(ctx, casework.ReportOptions{MinSeverity: hunt.High})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range all.Findings {
		if f.Severity >= hunt.High {
			want++
		}
	}
	if len(high.Findings) != want || high.MinSeverity != hunt.High || want == len(all.Findings) {
		t.Errorf("min severity high: %d findings, want %d of %d", len(high.Findings), want, len(all.Findings))
	}
	for _, rt := range high.Rules {
		found := false
		for _, f := range high.Findings {
			found = found || f.RuleID == rt.ID
		}
		if !found {
			t.Errorf("rule %s quoted without a finding shown", rt.ID)
		}
	}
	var buf bytes.Buffer
	o := casework.ReportOptions{Format: report.HTML, ToolVersion: "api-test"}
	if _, err := c.Report(ctx, &buf, o); err != nil {
		t.Fatal(err)
	}
	o.Output = filepath.Join(t.TempDir(), "report.html")
	res, err := c.Report(ctx, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, buf.Bytes()) || res.Findings != len(all.Findings) {
		t.Errorf("report file %d bytes, writer %d; %d findings, want %d", len(b), buf.Len(), res.Findings, len(all.Findings))
	}
}
