package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// jejak runs the CLI in-process and returns its output and exit code.
func jejak(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"jejak"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	out, errs, code := jejak(t, args...)
	if code != want {
		t.Fatalf("jejak %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out
}

// snapshot records every file's bytes and mtime under root, to prove that
// no command changed the evidence.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String() + " " + info.ModTime().UTC().Format(time.RFC3339Nano)
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			v += " " + hex.EncodeToString(s[:])
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d entries before, %d after", what, len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s changed: %q -> %q", what, k, v, b[k])
		}
	}
}

func summaryOf(t *testing.T, out string) ingest.Summary {
	t.Helper()
	var s ingest.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, out)
	}
	return s
}

func TestExampleEndToEnd(t *testing.T) {
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, example)
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")

	first := summaryOf(t, mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "tester", "--json"))
	if first.Events == 0 || first.Inserted != first.Events || !first.Clean() {
		t.Fatalf("first ingest: %+v", first)
	}
	// Re-ingesting adds nothing.
	again := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	if again.Inserted != 0 || again.Duplicates != first.Events {
		t.Fatalf("second ingest inserted %d, duplicates %d; want 0 and %d", again.Inserted, again.Duplicates, first.Events)
	}
	// The timeline holds exactly those events, in time order.
	lines := strings.Split(strings.TrimSpace(mustRun(t, exitOK, "timeline", cs, "--json")), "\n")
	if int64(len(lines)) != first.Events {
		t.Fatalf("timeline has %d rows, ingest said %d events", len(lines), first.Events)
	}
	var prev time.Time
	for i, l := range lines {
		var ev struct {
			TS    time.Time `json:"@timestamp"`
			Jejak struct {
				Provenance struct {
					EvidenceSHA256 string   `json:"evidence_sha256"`
					Chain          []string `json:"chain"`
					Parser         string   `json:"parser"`
				} `json:"provenance"`
			} `json:"jejak"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TS.Before(prev) {
			t.Fatalf("row %d out of time order", i)
		}
		prev = ev.TS
		p := ev.Jejak.Provenance
		if len(p.EvidenceSHA256) != 64 || len(p.Chain) == 0 || p.Parser == "" {
			t.Fatalf("row %d lacks provenance: %s", i, l)
		}
	}
	// --from/--to select a window, read in the case zone.
	win := strings.Split(strings.TrimSpace(mustRun(t, exitOK, "timeline", cs, "--json", "--from", "2024-02-14 21:14", "--to", "2024-02-14T21:17:00+07:00")), "\n")
	// fixtures/gen writes 5 invalid-user pairs, 12 failures, then the
	// accepted logon with its PAM and logind lines in that window.
	if len(win) != 5*2+12+3 {
		t.Errorf("the brute-force window holds %d events, want 25", len(win))
	}
	// Exports are reproducible byte for byte.
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	mustRun(t, exitOK, "export", cs, "--format", "csv", "-o", a)
	mustRun(t, exitOK, "export", cs, "--format", "csv", "-o", b)
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) || bytes.Count(ab, []byte("\n")) != int(first.Events)+1 {
		t.Errorf("CSV exports differ or have the wrong row count (%d lines for %d events)", bytes.Count(ab, []byte("\n")), first.Events)
	}
	mustRun(t, exitOK, "evidence", "verify", cs)
	if out := mustRun(t, exitOK, "case", "show", cs); !strings.Contains(out, "chain intact") {
		t.Errorf("case show: %s", out)
	}
	sameSnapshot(t, "example evidence", before, snapshot(t, example))
}

// TestArchivesYieldSameSyslogEvents: the syslog inside each corpus archive
// gives exactly the events of the plain file, once both are read with the
// same modification time (the year of a year-less syslog comes from it, and
// each container records its own: tar and zip their member's, gzip its
// header's, bzip2 and xz none, so the compressed file's own).
func TestArchivesYieldSameSyslogEvents(t *testing.T) {
	plain := parsertest.Corpus(t, "logs/syslog/syslog_copy")
	content, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"syslog.tar", "syslog.tgz", "syslog.zip", "syslog.gz", "syslog.bz2", "syslog.xz"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			arch := parsertest.Corpus(t, "archives/"+name)
			got, mtime := syslogEvents(t, filepath.Join(dir, "a"), arch)
			if mtime.IsZero() {
				t.Fatal("no container time for the syslog member")
			}
			ref := filepath.Join(dir, "ref", "syslog_copy")
			if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ref, content, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(ref, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			want, _ := syslogEvents(t, filepath.Join(dir, "b"), ref)
			if len(want) == 0 {
				t.Fatal("no syslog events from the plain file")
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("events differ:\n got %d: %s\nwant %d: %s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
		})
	}
}

// syslogEvents analyzes one evidence path and returns its syslog events as
// JSON without the container part of provenance (and so without the ID,
// which hashes it), sorted; plus the container's mtime for the syslog file.
func syslogEvents(t *testing.T, cs, evidence string) ([]string, time.Time) {
	t.Helper()
	_, errs, code := jejak(t, "analyze", evidence, "--out", cs, "--examiner", "t")
	if code != exitOK && code != exitWarnings {
		t.Fatalf("analyze %s: exit %d\n%s", evidence, code, errs)
	}
	var out []string
	// The mtime is that of the file the syslog events come from (a tar or
	// zip member's, a gzip header's), not of a container around it; a
	// bzip2 or xz member records none and goes by its compressed file's,
	// the registered file's.
	var fileMtime time.Time
	mtimes := map[string]time.Time{}
	syslogPath := ""
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, exitOK, "timeline", cs, "--json")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		j := m["jejak"].(map[string]any)
		p := j["provenance"].(map[string]any)
		// The event of the file's modification time: one per distinct
		// time, its macb letters naming the times it is ("m.c.").
		macb := ""
		if d, ok := j["data"].(map[string]any); ok {
			macb, _ = d["macb"].(string)
		}
		if p["parser"] == "filestat" && strings.HasPrefix(macb, "m") {
			ts, _ := time.Parse(time.RFC3339Nano, m["@timestamp"].(string))
			if chain := p["chain"].([]any); len(chain) == 1 && strings.HasPrefix(chain[0].(string), "file:") {
				fileMtime = ts
			} else {
				mtimes[p["path"].(string)] = ts
			}
		}
		if p["parser"] != "syslog" {
			continue
		}
		syslogPath = p["path"].(string)
		for _, k := range []string{"evidence_sha256", "evidence_name", "chain", "path", "identity"} {
			delete(p, k)
		}
		delete(j, "id")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	sort.Strings(out)
	mtime, ok := mtimes[syslogPath]
	if !ok {
		mtime = fileMtime
	}
	return out, mtime
}

// TestBadInputIsReportedNotFatal: a truncated gzip, a zip with a "../"
// member, a binary file named .log and an empty file each give a warning
// naming the file; the good log beside them is still ingested; nothing is
// written outside the case folder; the evidence is unchanged.
func TestBadInputIsReportedNotFatal(t *testing.T) {
	root := t.TempDir()
	ev := filepath.Join(root, "evidence")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile(parsertest.Corpus(t, "archives/syslog.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("../../escape/auth.log")
	w.Write(good)
	zw.Close()
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0, 1, 2, 3, 0xff}, 400)...)
	files := map[string][]byte{
		"auth.log":       good,
		"truncated.gz":   gz[:len(gz)/2],
		"slip.zip":       zb.Bytes(),
		"binary.log":     elf,
		"empty.log":      nil,
		"sub/nested.log": good,
	}
	for name, b := range files {
		p := filepath.Join(ev, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, ev)
	cs := filepath.Join(root, "case")
	sum := summaryOf(t, mustRun(t, exitWarnings, "analyze", ev, "--out", cs, "--examiner", "t", "--json"))
	// Two good copies of the 9-event sshd log, plus the slipped member.
	if sum.Parsers["syslog"] == nil || sum.Parsers["syslog"].Events < 27 {
		t.Errorf("good logs not ingested: %+v", sum.Parsers["syslog"])
	}
	if sum.SkipReasons[ingest.SkipEmpty] != 1 || sum.SkipReasons[ingest.SkipNoParser] != 1 {
		t.Errorf("skip reasons %v, want 1 empty and 1 unrecognised", sum.SkipReasons)
	}
	warnings := mustRun(t, exitOK, "warnings", cs)
	for _, want := range []string{"truncated.gz", "slip.zip", "unsafe path", "binary.log", "empty.log"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings do not mention %q:\n%s", want, warnings)
		}
	}
	// Nothing outside the case folder: root holds only evidence/ and case/.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name() != "evidence" && e.Name() != "case" {
			t.Errorf("written outside the case folder: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(root, "escape")); err == nil {
		t.Error("zip-slip member was extracted")
	}
	sameSnapshot(t, "evidence", before, snapshot(t, ev))
}

func TestChangedEvidenceIsRefused(t *testing.T) {
	root := t.TempDir()
	log := filepath.Join(root, "auth.log")
	good, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(log, good, 0o644)
	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "Asia/Jakarta")
	mustRun(t, exitOK, "evidence", "add", cs, log)
	mustRun(t, exitOK, "evidence", "add", cs, log) // unchanged: a no-op
	if out := mustRun(t, exitOK, "evidence", "list", cs); strings.Count(out, log) != 1 {
		t.Errorf("evidence list after re-adding: %s", out)
	}
	os.WriteFile(log, append(good, "Mar 11 23:00:00 host sshd[1]: injected\n"...), 0o644)
	_, errs, code := jejak(t, "evidence", "add", cs, log)
	if code != exitFatal || !strings.Contains(errs, "changed") {
		t.Errorf("changed evidence: exit %d, stderr %q; want refusal", code, errs)
	}
	if _, errs, code := jejak(t, "ingest", cs); code != exitFatal || !strings.Contains(errs, "changed") {
		t.Errorf("ingest of changed evidence: exit %d, stderr %q", code, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"timeline"},
		{"analyze"},
		{"export", "x"},
		{"timeline", "x", "--bogus"},
	} {
		if _, _, code := jejak(t, args...); code != exitUsage {
			t.Errorf("jejak %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if _, errs, code := jejak(t, "case", "init", t.TempDir()+"/c", "--examiner", "x", "--tz", "Mars/Olympus"); code != exitUsage || !strings.Contains(errs, "Mars/Olympus") {
		t.Errorf("bad zone: exit %d, %q", code, errs)
	}
}

// TestVerifyE01StoredHashes: evidence verify checks an E01's media against
// the MD5 its acquisition stored, and fails on a copy with a damaged chunk.
func TestVerifyE01StoredHashes(t *testing.T) {
	src, err := os.ReadFile(parsertest.Corpus(t, "images/image.E01"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	good := filepath.Join(root, "good", "image.E01")
	bad := filepath.Join(root, "bad", "image.E01")
	os.MkdirAll(filepath.Dir(good), 0o755)
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(good, src, 0o644)
	// Flip bytes in the middle of the file: inside the chunk data.
	broken := bytes.Clone(src)
	for i := len(broken) / 2; i < len(broken)/2+16; i++ {
		broken[i] ^= 0xff
	}
	os.WriteFile(bad, broken, 0o644)

	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	mustRun(t, exitOK, "evidence", "add", cs, good)
	if out := mustRun(t, exitOK, "evidence", "verify", cs); !strings.Contains(out, "equal the hashes stored in the image") {
		t.Errorf("verify of a sound E01: %s", out)
	}
	mustRun(t, exitOK, "evidence", "add", cs, bad)
	out, _, code := jejak(t, "evidence", "verify", cs)
	if code != exitFatal || !strings.Contains(out, "MISMATCH") || !strings.Contains(out, bad) {
		t.Errorf("verify of a damaged E01: exit %d\n%s", code, out)
	}
}

// TestRepeatedMemberInFirstIngest: a tar holding the same member twice
// (as tar -r leaves it) gives each copy's events, told apart by the
// member's identity: nothing is lost as "already in the case", and a
// second ingest adds nothing.
func TestRepeatedMemberInFirstIngest(t *testing.T) {
	log, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for range 2 {
		tw.WriteHeader(&tar.Header{Name: "var/log/auth.log", Mode: 0o644, Size: int64(len(log)),
			ModTime: time.Date(2024, 3, 12, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg})
		tw.Write(log)
	}
	tw.Close()
	root := t.TempDir()
	ev := filepath.Join(root, "twice.tar")
	os.WriteFile(ev, b.Bytes(), 0o644)
	cs := filepath.Join(root, "case")
	first := summaryOf(t, mustRun(t, exitOK, "analyze", ev, "--out", cs, "--examiner", "t", "--json"))
	// twice.tar's own times (the registered file is an expanded container)
	// are read once; everything inside it twice.
	own := int64(0)
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, exitOK, "timeline", cs, "--json")), "\n") {
		if strings.Contains(l, `"chain":["file:twice.tar"]`) {
			own++
		}
	}
	if first.Containers != 1 || own == 0 {
		t.Errorf("twice.tar: %d containers, %d events of its own times", first.Containers, own)
	}
	if first.Duplicates != 0 || first.Inserted != first.Events || (first.Events-own)%2 != 0 || first.Events == own {
		t.Errorf("first ingest: %d events (%d of twice.tar's own times), %d inserted, %d duplicates; want both copies' events inserted",
			first.Events, own, first.Inserted, first.Duplicates)
	}
	// Each copy is one identity with the same number of events: the
	// member's number in the listing and its content's offset.
	perCopy := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, exitOK, "timeline", cs, "--json")), "\n") {
		var ev struct {
			Jejak struct {
				Provenance struct {
					Path, Identity, Parser string
				}
			}
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if p := ev.Jejak.Provenance; p.Path == "var/log/auth.log" && p.Parser != "filestat" {
			perCopy[p.Identity]++
		}
	}
	if len(perCopy) != 2 || perCopy["tar#1@512"] == 0 || perCopy["tar#1@512"] != perCopy[fmt.Sprintf("tar#2@%d", 512+(len(log)+511)/512*512+512)] {
		t.Errorf("events per copy %v, want the same count under tar#1@512 and tar#2@<its content offset>", perCopy)
	}
	again := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	if again.Inserted != 0 || again.Duplicates != first.Events {
		t.Errorf("re-ingest: %d inserted, %d duplicates; want 0 and %d", again.Inserted, again.Duplicates, first.Events)
	}
}
