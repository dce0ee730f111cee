package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// reportBuild says which binary writes a report: version, commit and the
// SHA-256 of the running executable, so the report names the exact
// program that produced it.
func reportBuild() report.BuildFacts {
	b := readBuildInfo()
	f := report.BuildFacts{Version: b.Version, Commit: b.Commit, Modified: b.Modified, GoVersion: b.GoVersion, Platform: b.Platform}
	sum, err := executableSHA256()
	if err != nil {
		f.BinaryError = err.Error()
	} else {
		f.BinarySHA256 = sum
	}
	return f
}

func executableSHA256() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// reportSteps turns the custody entries up to the report's basis into the
// method: each entry says what was done, and the command that does it.
// Outputs are listed apart (reportOutputs).
func reportSteps(entries []evidence.Entry) []report.Step {
	var out []report.Step
	for _, en := range entries {
		if outputActions[en.Action] {
			continue
		}
		what, cmd := describeEntry(en)
		out = append(out, report.Step{Seq: en.Seq, Time: en.Time, Examiner: en.Examiner, Action: en.Action, What: what, Command: cmd})
	}
	return out
}

// reportOutputs are the exports the custody log records. Reports are left
// out: listing them would make writing a report twice give two different
// files, and they change nothing a report states.
func reportOutputs(entries []evidence.Entry) []report.OutputRecord {
	var out []report.OutputRecord
	for _, en := range entries {
		if en.Action != "export" {
			continue
		}
		out = append(out, report.OutputRecord{Seq: en.Seq, Time: en.Time, Action: en.Action, Format: str(en.Details["format"]),
			File: str(en.Details["file"]), SHA256: str(en.Details["sha256"]), ManifestSHA256: str(en.Details["manifest_sha256"])})
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func num(v any) string {
	if s := str(v); s != "" {
		return s
	}
	return "0"
}

// describeEntry says in words what a custody entry records and gives the
// jejak command that makes such an entry ("" when no command does alone).
func describeEntry(en evidence.Entry) (what, command string) {
	d := en.Details
	switch en.Action {
	case "case_init":
		return fmt.Sprintf("Case %q created, times without a zone to be read in %s", str(d["name"]), str(d["zone"])),
			"jejak case init CASE --tz " + str(d["zone"])
	case "evidence_add":
		what = fmt.Sprintf("Evidence %s registered: %s %s, %s bytes, SHA-256 %s", str(d["id"]), str(d["kind"]), str(d["path"]), num(d["size"]), str(d["sha256"]))
		if n := str(d["files"]); n != "" && str(d["kind"]) == "dir" {
			what += " (" + n + " files, each hashed)"
		}
		return what, "jejak evidence add CASE " + str(d["path"])
	case "case_files":
		return "The case files (case.json, evidence.json) as rewritten, with their SHA-256", ""
	case "evidence_refused":
		return "Evidence refused before reading: it no longer matched its registration", "jejak ingest CASE"
	case "ingest":
		s, _ := d["summary"].(map[string]any)
		what = fmt.Sprintf("All registered evidence read into the timeline: %s files seen, %s parsed, %s skipped; %s events; %s unreadable records",
			num(s["files_seen"]), num(s["files_parsed"]), num(s["files_skipped"]), num(s["events"]), num(s["warnings"]))
		if e := str(d["error"]); e != "" {
			what += "; the run did not complete: " + e
		}
		return what, "jejak ingest CASE"
	case "hunt":
		p, _ := d["params"].(map[string]any)
		cmd := "jejak hunt CASE"
		if a := str(p["after"]); a != "" {
			cmd += " --after " + a
		}
		if b := str(p["before"]); b != "" && !strings.HasPrefix(b, "0001-") {
			cmd += " --before " + b
		}
		if w, ok := p["watch"].([]any); ok {
			for _, x := range w {
				cmd += " --watch " + str(x)
			}
		}
		if wh := str(p["working_hours"]); wh != "" {
			cmd += " --working-hours " + wh
		}
		rules, _ := p["rules"].([]any)
		what = fmt.Sprintf("Timeline hunted with %d rules: %s findings (hunt %s)", len(rules), num(d["findings"]), str(d["hunt"]))
		if e := str(d["error"]); e != "" {
			what += "; error: " + e
		}
		return what, cmd
	case "verify":
		return fmt.Sprintf("Evidence and custody verified: %s items, %s failures", num(d["items"]), num(d["failures"])), "jejak verify CASE"
	case "index":
		return "Timeline indexed into Elasticsearch", "jejak index CASE"
	case "note":
		return "Note: " + str(d["text"]), ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return en.Action + " (" + strings.Join(keys, ", ") + ")", ""
}

// timestampKinds counts the timestamp descriptions of every event in the
// case, with the parsers that wrote each: one scan of the timeline.
func timestampKinds(ctx context.Context, store *sqlite.Store) ([]report.TimestampKind, error) {
	type acc struct {
		n       int64
		parsers map[string]bool
	}
	m := map[string]*acc{}
	err := store.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		a := m[ev.TimestampDesc]
		if a == nil {
			a = &acc{parsers: map[string]bool{}}
			m[ev.TimestampDesc] = a
		}
		a.n++
		a.parsers[ev.Jejak.Provenance.Parser] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]report.TimestampKind, 0, len(m))
	for desc, a := range m {
		k := report.TimestampKind{Desc: desc, Events: a.n}
		for p := range a.parsers {
			k.Parsers = append(k.Parsers, p)
		}
		slices.Sort(k.Parsers)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b report.TimestampKind) int { return strings.Compare(a.Desc, b.Desc) })
	return out, nil
}
