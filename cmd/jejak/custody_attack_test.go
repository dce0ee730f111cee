package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// The attacks of issue 11 point 3, each performed on a real case made
// through the CLI: the case is signed, has two evidence items, an ingest and
// a report whose manifest is "handed out". Every attack must make verify
// exit 1 with a FAILED line naming the check that caught it, and a report
// made afterwards must not call the custody intact.

type attackCase struct {
	dir      string // the case
	key, pub string // the examiner's key pair
	manifest string // the report manifest handed out
	ev       []string
}

func makeAttackCase(t *testing.T, key, pub string) attackCase {
	t.Helper()
	root := t.TempDir()
	evDir := filepath.Join(root, "evidence")
	if err := os.MkdirAll(evDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tgz, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "example", "tabulasi-01-varlog.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	ev := []string{filepath.Join(evDir, "tabulasi-01-varlog.tgz"), filepath.Join(evDir, "auth.log")}
	writeFile(t, ev[0], tgz)
	writeFile(t, ev[1], []byte("Feb 14 19:02:11 tabulasi-01 sshd[4242]: Accepted password for root from 203.0.113.7 port 52211 ssh2\n"+
		"Feb 14 19:05:40 tabulasi-01 sshd[4242]: pam_unix(sshd:session): session closed for user root\n"))
	dir := filepath.Join(root, "case")
	mustRun(t, 0, "--sign-key", key, "case", "init", dir, "--examiner", "Siti Examiner", "--name", "tps-001")
	mustRun(t, 0, "--sign-key", key, "evidence", "add", dir, ev[0], ev[1])
	mustRun(t, 0, "ingest", dir, "--sign-key", key) // after the command works too
	if out, errs, code := jejak(t, "--sign-key", key, "hunt", dir, "--after", "2024-02-14T19:00:00Z"); code != 0 && code != exitWarnings {
		t.Fatalf("hunt: exit %d\n%s%s", code, out, errs)
	}
	report := filepath.Join(root, "handed-out.md")
	mustRun(t, 0, "--sign-key", key, "report", dir, "-o", report)
	return attackCase{dir: dir, key: key, pub: pub, manifest: report + ".manifest.json", ev: ev}
}

// clone copies the case folder so each attack starts from the same case.
func (a attackCase) clone(t *testing.T) attackCase {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "case")
	copyTree(t, a.dir, dst)
	a.dir = dst
	return a
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o750)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	return lines[:len(lines)-1] // each with its newline
}

// The custody format, as its documentation defines it, written out here
// independently of the package: a line is its canonical JSON with
// `,"hash":"<sha256 of the canonical bytes>"` spliced in before the closing
// brace, and prev is the SHA-256 of the previous line's bytes.
func hexSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var hashSuffix = regexp.MustCompile(`,"hash":"[0-9a-f]{64}"}$`)

// sealLine recomputes a line's hash from its content (without newline).
func sealLine(line string) (string, string) {
	canon := hashSuffix.ReplaceAllString(line, "}")
	h := hexSHA(canon)
	return canon[:len(canon)-1] + `,"hash":"` + h + `"}`, h
}

// rechain re-links edited lines: each prev set to the previous line's hash,
// seq renumbered, each line resealed; custody.head rewritten to the end.
// It is what an attacker who knows the format does after cutting or editing.
func rechain(t *testing.T, dir string, lines []string) {
	t.Helper()
	prevRe := regexp.MustCompile(`"prev":"[0-9a-f]*"`)
	seqRe := regexp.MustCompile(`^\{"seq":\d+`)
	prev, last := "", ""
	var out strings.Builder
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\n")
		l = seqRe.ReplaceAllString(l, fmt.Sprintf(`{"seq":%d`, i+1))
		l = prevRe.ReplaceAllString(l, `"prev":"`+prev+`"`)
		l, last = sealLine(l)
		out.WriteString(l + "\n")
		prev = hexSHA(l)
	}
	writeFile(t, filepath.Join(dir, "custody.log"), []byte(out.String()))
	writeFile(t, filepath.Join(dir, "custody.head"), []byte(fmt.Sprintf("{\n  \"seq\": %d,\n  \"hash\": %q\n}\n", len(lines), last)))
}

// verifyFails runs verify and checks exit 1 and a FAILED line for each
// named check; a report made afterwards must say BROKEN, not intact.
func (a attackCase) verifyFails(t *testing.T, checks ...string) string {
	t.Helper()
	out, errs, code := jejak(t, "verify", a.dir)
	if code != exitFatal {
		t.Fatalf("verify after the attack: exit %d, want %d\n%s%s", code, exitFatal, out, errs)
	}
	for _, c := range checks {
		if !regexp.MustCompile(`(?m)^FAILED\s+` + regexp.QuoteMeta(c)).MatchString(out) {
			t.Errorf("no FAILED %q line:\n%s", c, out)
		}
	}
	if strings.Contains(out, "case intact") {
		t.Errorf("verify says intact:\n%s", out)
	}
	a.reportNotIntact(t)
	return out
}

func (a attackCase) reportNotIntact(t *testing.T) {
	t.Helper()
	rep := filepath.Join(t.TempDir(), "after.md")
	out, errs, _ := jejak(t, "--sign-key", a.key, "report", a.dir, "-o", rep)
	b, err := os.ReadFile(rep)
	if err != nil {
		t.Fatalf("report after the attack not written (%v):\n%s%s", err, out, errs)
	}
	if bytes.Contains(b, []byte("| Chain | intact")) || !bytes.Contains(b, []byte("| Chain | BROKEN: ")) {
		t.Errorf("report after the attack does not say the custody is broken:\n%s", grepLines(string(b), "Chain"))
	}
	var m struct {
		Custody struct {
			Intact bool `json:"chain_intact"`
		} `json:"custody"`
	}
	mb, _ := os.ReadFile(rep + ".manifest.json")
	if err := json.Unmarshal(mb, &m); err != nil || m.Custody.Intact {
		t.Errorf("manifest after the attack: chain_intact %v (%v)", m.Custody.Intact, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func sqlExec(t *testing.T, dbPath, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(q)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := res.RowsAffected()
	return n
}

func jejakKey(t *testing.T) (key, pub string) {
	t.Helper()
	key = filepath.Join(t.TempDir(), "examiner.key")
	mustRun(t, 0, "key", "new", key)
	return key, key + ".pub"
}

func TestCustodyAttacksAreDetected(t *testing.T) {
	key, pub := jejakKey(t)
	base := makeAttackCase(t, key, pub)

	t.Run("untouched case verifies clean", func(t *testing.T) {
		a := base.clone(t)
		out := mustRun(t, 0, "verify", a.dir, "--key", a.pub, "--anchor", a.manifest)
		for _, c := range []string{"chain links", "head", "case file case.json", "case file evidence.json", "evidence registry", "signatures", "timeline store", "outputs", "anchor"} {
			if !regexp.MustCompile(`(?m)^ok\s+` + regexp.QuoteMeta(c)).MatchString(out) {
				t.Errorf("no ok %q line:\n%s", c, out)
			}
		}
		if !strings.Contains(out, "case intact") || strings.Contains(out, "FAILED") {
			t.Errorf("clean case:\n%s", out)
		}
		// The old command gives the same verdict.
		mustRun(t, 0, "evidence", "verify", a.dir, "--key", a.pub)
		// An export's manifest carries the head's signature too, and
		// anchors the chain like the report's.
		csv := filepath.Join(t.TempDir(), "timeline.csv")
		mustRun(t, 0, "--sign-key", a.key, "export", a.dir, "--format", "csv", "-o", csv)
		var m struct {
			Custody struct {
				Hash, Signature string
				Fingerprint     string `json:"key_fingerprint"`
			} `json:"custody"`
		}
		mb, _ := os.ReadFile(csv + ".manifest.json")
		if err := json.Unmarshal(mb, &m); err != nil || m.Custody.Signature == "" || !strings.HasPrefix(m.Custody.Fingerprint, "SHA256:") {
			t.Errorf("export manifest custody %+v (%v)", m.Custody, err)
		}
		mustRun(t, 0, "verify", a.dir, "--anchor", csv+".manifest.json", "--anchor", a.manifest)
		b, _ := os.ReadFile(strings.TrimSuffix(a.manifest, ".manifest.json"))
		if !bytes.Contains(b, []byte("| Chain | intact")) || !bytes.Contains(b, []byte("Head entry signature")) {
			t.Errorf("handed-out report:\n%s", grepLines(string(b), "|"))
		}
	})

	t.Run("log cut and head rewritten", func(t *testing.T) {
		a := base.clone(t)
		lines := readLines(t, filepath.Join(a.dir, "custody.log"))
		// Keep case_init, the registration and its case_files entry: the
		// ingest and everything after it are cut, and the head, log and
		// signatures are made consistent again.
		var keep []string
		for _, l := range lines {
			if strings.Contains(l, `"action":"ingest"`) {
				break
			}
			keep = append(keep, l)
		}
		writeFile(t, filepath.Join(a.dir, "custody.log"), []byte(strings.Join(keep, "")))
		last := strings.TrimSuffix(keep[len(keep)-1], "\n")
		h := hashSuffix.FindString(last)[len(`,"hash":"`) : len(`,"hash":"`)+64]
		writeFile(t, filepath.Join(a.dir, "custody.head"), []byte(fmt.Sprintf(`{"seq": %d, "hash": %q}`, len(keep), h)))
		sigs := readLines(t, filepath.Join(a.dir, "custody.sig"))
		writeFile(t, filepath.Join(a.dir, "custody.sig"), []byte(strings.Join(sigs[:len(keep)], "")))
		out := a.verifyFails(t, "timeline store")
		// The links themselves are consistent: only the state gives it away.
		if !regexp.MustCompile(`(?m)^ok\s+chain links`).MatchString(out) {
			t.Errorf("expected valid links after a clean cut:\n%s", out)
		}
		// Against the manifest handed out, the cut shows directly.
		if out, _, code := jejak(t, "verify", a.dir, "--anchor", a.manifest); code != exitFatal || !strings.Contains(out, "not in this chain") {
			t.Errorf("anchor check after the cut: exit %d\n%s", code, out)
		}
	})

	t.Run("forged entry appended with a valid chain hash", func(t *testing.T) {
		a := base.clone(t)
		lines := readLines(t, filepath.Join(a.dir, "custody.log"))
		prevLine := strings.TrimSuffix(lines[len(lines)-1], "\n")
		forged, h := sealLine(fmt.Sprintf(`{"seq":%d,"time":"2024-02-15T01:00:00Z","examiner":"Siti Examiner","action":"verify","details":{"failures":0,"items":2},"prev":"%s","hash":"%s"}`,
			len(lines)+1, hexSHA(prevLine), strings.Repeat("0", 64)))
		writeFile(t, filepath.Join(a.dir, "custody.log"), []byte(strings.Join(lines, "")+forged+"\n"))
		writeFile(t, filepath.Join(a.dir, "custody.head"), []byte(fmt.Sprintf(`{"seq": %d, "hash": %q}`, len(lines)+1, h)))
		out := a.verifyFails(t, "signatures")
		if !regexp.MustCompile(`(?m)^ok\s+chain links`).MatchString(out) || !regexp.MustCompile(`(?m)^ok\s+head`).MatchString(out) {
			t.Errorf("the forged entry should link correctly (the attack is a valid chain):\n%s", out)
		}
		if !strings.Contains(out, "is not signed, after signed entries") {
			t.Errorf("verify does not say the entry is unsigned:\n%s", out)
		}
	})

	t.Run("forged entry claiming the examiner's key", func(t *testing.T) {
		a := base.clone(t)
		lines := readLines(t, filepath.Join(a.dir, "custody.log"))
		var signer struct {
			Signer string `json:"signer"`
		}
		json.Unmarshal([]byte(lines[0]), &signer)
		prevLine := strings.TrimSuffix(lines[len(lines)-1], "\n")
		forged, h := sealLine(fmt.Sprintf(`{"seq":%d,"time":"2024-02-15T01:00:00Z","examiner":"Siti Examiner","action":"verify","details":{},"prev":"%s","signer":%q,"hash":"%s"}`,
			len(lines)+1, hexSHA(prevLine), signer.Signer, strings.Repeat("0", 64)))
		writeFile(t, filepath.Join(a.dir, "custody.log"), []byte(strings.Join(lines, "")+forged+"\n"))
		writeFile(t, filepath.Join(a.dir, "custody.head"), []byte(fmt.Sprintf(`{"seq": %d, "hash": %q}`, len(lines)+1, h)))
		// A signature copied from another entry does not fit this one.
		sigs := readLines(t, filepath.Join(a.dir, "custody.sig"))
		copied := regexp.MustCompile(`"seq":\d+`).ReplaceAllString(sigs[len(sigs)-1], fmt.Sprintf(`"seq":%d`, len(lines)+1))
		writeFile(t, filepath.Join(a.dir, "custody.sig"), []byte(strings.Join(sigs, "")+copied))
		a.verifyFails(t, "signatures")
	})

	t.Run("evidence.json: an item removed", func(t *testing.T) {
		a := base.clone(t)
		editRegistry(t, a.dir, func(reg map[string]any) {
			items := reg["items"].([]any)
			reg["items"] = items[:1]
		})
		a.verifyFails(t, "case file evidence.json", "evidence registry")
	})

	t.Run("evidence.json: examiner changed", func(t *testing.T) {
		a := base.clone(t)
		editRegistry(t, a.dir, func(reg map[string]any) {
			reg["items"].([]any)[0].(map[string]any)["examiner"] = "Someone Else"
		})
		out := a.verifyFails(t, "case file evidence.json", "evidence registry")
		if !strings.Contains(out, `examiner "Someone Else"`) {
			t.Errorf("the registry check does not name the changed examiner:\n%s", out)
		}
	})

	t.Run("case.json: examiner changed", func(t *testing.T) {
		a := base.clone(t)
		p := filepath.Join(a.dir, "case.json")
		b, _ := os.ReadFile(p)
		writeFile(t, p, bytes.Replace(b, []byte(`"Siti Examiner"`), []byte(`"Someone Else"`), 1))
		a.verifyFails(t, "case file case.json", "evidence registry")
	})

	t.Run("evidence file swapped together with its registry entry", func(t *testing.T) {
		a := base.clone(t)
		// Other evidence in place of the registered auth.log (the clone
		// shares the evidence folder, so restore it afterwards).
		orig, _ := os.ReadFile(a.ev[1])
		t.Cleanup(func() { os.WriteFile(a.ev[1], orig, 0o644) })
		swapped := []byte("Feb 14 19:02:11 tabulasi-01 sshd[4242]: Failed password for root from 203.0.113.7 port 52211 ssh2\n")
		writeFile(t, a.ev[1], swapped)
		sum := sha256.Sum256(swapped)
		editRegistry(t, a.dir, func(reg map[string]any) {
			for _, it := range reg["items"].([]any) {
				m := it.(map[string]any)
				if m["path"] == a.ev[1] {
					m["sha256"] = hex.EncodeToString(sum[:])
					m["size"] = len(swapped)
					delete(m, "sha1")
					delete(m, "md5")
				}
			}
		})
		a.verifyFails(t, "case file evidence.json", "evidence registry")
	})

	t.Run("case.db: UPDATE of an event", func(t *testing.T) {
		a := base.clone(t)
		// Case store format 5 keeps the documents in compressed blocks
		// that only jejak decompresses (event_rows.blk and slot say
		// where): a plain SQLite client forges an event by pointing it at
		// another event's document.
		if n := sqlExec(t, filepath.Join(a.dir, "case.db"), `UPDATE event_rows SET (blk, slot) = (SELECT b.blk, b.slot FROM event_rows b
			WHERE b.parser = event_rows.parser AND b.rowid <> event_rows.rowid LIMIT 1)
			WHERE rowid = (SELECT min(rowid) FROM event_rows WHERE action LIKE '%ssh%')`); n == 0 {
			t.Fatal("the UPDATE changed no row")
		}
		a.verifyFails(t, "timeline store")
	})

	t.Run("case.db: DELETE of events", func(t *testing.T) {
		a := base.clone(t)
		// The rows themselves (case store format 5: events is a view over
		// event_rows whose documents only jejak can decompress), as any
		// SQLite client deletes them.
		if n := sqlExec(t, filepath.Join(a.dir, "case.db"), `DELETE FROM event_rows WHERE action LIKE '%ssh%'`); n == 0 {
			t.Fatal("the DELETE removed no row")
		}
		a.verifyFails(t, "timeline store")
	})

	t.Run("case.db: events view redefined to hide rows", func(t *testing.T) {
		a := base.clone(t)
		// Every row stays as digested; only what jejak reads through
		// changes: the view leaves the intruder's address out.
		sqlExec(t, filepath.Join(a.dir, "case.db"), `DROP VIEW timeline; DROP VIEW events;
			CREATE VIEW events AS SELECT e.rowid AS rowid, e.id AS id, e.ts AS ts, e.action AS action, e.parser AS parser,
			e.source_ip AS source_ip, e.run AS run, e.blk AS blk, e.slot AS slot,
			jejak_doc(b.z, e.slot, e.id) AS doc, json_extract(jejak_doc(b.z, e.slot, e.id), '$.user.name') AS user_name
			FROM event_rows e LEFT JOIN blocks b ON b.id = e.blk WHERE e.source_ip IS NOT '203.0.113.50'`)
		for _, args := range [][]string{{"verify", a.dir}, {"search", a.dir, "*"}} {
			out, errOut, code := jejak(t, args...)
			if code == 0 || !strings.Contains(out+errOut, "has been altered: view events is not the one jejak creates") {
				t.Errorf("%s after the view was redefined: exit %d\n%s%s", args[0], code, out, errOut)
			}
		}
	})

	t.Run("handed-out report edited in place", func(t *testing.T) {
		a := base.clone(t)
		rep := strings.TrimSuffix(a.manifest, ".manifest.json")
		orig, _ := os.ReadFile(rep)
		t.Cleanup(func() { os.WriteFile(rep, orig, 0o644) })
		writeFile(t, rep, bytes.Replace(orig, []byte("Siti Examiner"), []byte("Someone Else"), 1))
		// Checked from another folder: the entry names the file absolutely.
		wd, _ := os.Getwd()
		os.Chdir(t.TempDir())
		out, _, code := jejak(t, "verify", a.dir)
		os.Chdir(wd)
		if code != exitFatal || !regexp.MustCompile(`(?m)^FAILED\s+outputs: .*handed-out\.md has SHA-256`).MatchString(out) {
			t.Errorf("verify after the report was edited: exit %d\n%s", code, out)
		}
	})

	t.Run("case.db: findings and runs edited", func(t *testing.T) {
		for _, q := range []string{
			`UPDATE findings SET severity = 'low'`,
			`DELETE FROM findings WHERE rowid = (SELECT min(rowid) FROM findings)`,
			`UPDATE runs SET state = 'complete', summary = replace(summary, '"warnings":0', '"warnings":7')`,
			`DELETE FROM runs`,
		} {
			a := base.clone(t)
			if n := sqlExec(t, filepath.Join(a.dir, "case.db"), q); n == 0 {
				t.Fatalf("%s changed no row", q)
			}
			out, _, code := jejak(t, "verify", a.dir)
			if code != exitFatal || !regexp.MustCompile(`(?m)^FAILED\s+timeline store: table (findings|runs) differs`).MatchString(out) {
				t.Errorf("%s: exit %d\n%s", q, code, out)
			}
		}
	})

	t.Run("whole case re-made and re-signed with another key", func(t *testing.T) {
		a := base.clone(t)
		// The attacker redoes the case from scratch with a key of their
		// own: every file is self-consistent, so verify without an outside
		// reference cannot tell. The examiner's public key or the manifest
		// handed out can.
		otherKey, _ := jejakKey(t)
		forged := filepath.Join(t.TempDir(), "case")
		mustRun(t, 0, "--sign-key", otherKey, "case", "init", forged, "--examiner", "Siti Examiner", "--name", "tps-001")
		mustRun(t, 0, "--sign-key", otherKey, "evidence", "add", forged, a.ev[0])
		mustRun(t, 0, "--sign-key", otherKey, "ingest", forged)
		for _, f := range []string{"case.db-wal", "case.db-shm"} {
			os.Remove(filepath.Join(a.dir, f))
		}
		for _, f := range []string{"case.json", "evidence.json", "custody.log", "custody.head", "custody.sig", "case.db"} {
			b, err := os.ReadFile(filepath.Join(forged, f))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(a.dir, f), b)
		}
		mustRun(t, 0, "verify", a.dir) // self-consistent, as said
		out, _, code := jejak(t, "verify", a.dir, "--key", a.pub)
		if code != exitFatal || !regexp.MustCompile(`(?m)^FAILED\s+signatures: the case is signed by SHA256:\S+, not by the expected key`).MatchString(out) {
			t.Errorf("verify --key: exit %d\n%s", code, out)
		}
		out, _, code = jejak(t, "verify", a.dir, "--anchor", a.manifest)
		if code != exitFatal || !regexp.MustCompile(`(?m)^FAILED\s+anchor .*not in this chain`).MatchString(out) {
			t.Errorf("verify --anchor: exit %d\n%s", code, out)
		}
	})

	t.Run("signatures re-made with another key, case.json kept", func(t *testing.T) {
		a := base.clone(t)
		otherKey, _ := jejakKey(t)
		forged := filepath.Join(t.TempDir(), "case")
		mustRun(t, 0, "--sign-key", otherKey, "case", "init", forged, "--examiner", "Siti Examiner", "--name", "tps-001")
		for _, f := range []string{"custody.log", "custody.head", "custody.sig"} {
			b, _ := os.ReadFile(filepath.Join(forged, f))
			writeFile(t, filepath.Join(a.dir, f), b)
		}
		a.verifyFails(t, "signatures", "case file case.json")
	})
}

func editRegistry(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "evidence.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var reg map[string]any
	if err := json.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	edit(reg)
	out, _ := json.MarshalIndent(reg, "", "  ")
	writeFile(t, p, append(out, '\n'))
}

// An OpenSSH key made by ssh-keygen signs a case, and the fingerprint
// jejak reports is the one ssh-keygen prints for the same key.
func TestCustodySignedWithSSHKeygenKey(t *testing.T) {
	oracle.Tool(t, "ssh-keygen", "openssh-client")
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "examiner@lab", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	fp, err := exec.Command("ssh-keygen", "-l", "-f", key+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(fp))[1] // "256 SHA256:… comment (ED25519)"
	a := makeAttackCase(t, key, key+".pub")
	out := mustRun(t, 0, "verify", a.dir, "--key", a.pub, "--anchor", a.manifest)
	if !strings.Contains(out, "signed by "+want) {
		t.Errorf("verify does not report ssh-keygen's fingerprint %s:\n%s", want, out)
	}
	if show := mustRun(t, 0, "key", "show", key+".pub"); !strings.Contains(show, want) {
		t.Errorf("key show: %s, ssh-keygen: %s", show, want)
	}
	// A signed case refuses an unsigned entry, and another key, before
	// changing anything.
	for _, args := range [][]string{{"ingest", a.dir}, {"hunt", a.dir, "--after", "2024-02-14T19:00:00Z"}, {"evidence", "add", a.dir, a.ev[0]}} {
		if _, errs, code := jejak(t, args...); code == 0 || !strings.Contains(errs, "--sign-key") {
			t.Errorf("%s without the key: exit %d, %s", args[0], code, errs)
		}
	}
	other, _ := jejakKey(t)
	if _, errs, code := jejak(t, "--sign-key", other, "ingest", a.dir); code == 0 || !strings.Contains(errs, "is not case") {
		t.Errorf("ingest with another key: exit %d, %s", code, errs)
	}
	mustRun(t, 0, "verify", a.dir, "--key", a.pub)
	// A passphrase-protected key is refused with a message saying so.
	locked := filepath.Join(t.TempDir(), "locked")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", locked).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	if _, errs, code := jejak(t, "--sign-key", locked, "case", "init", filepath.Join(t.TempDir(), "c"), "--examiner", "x"); code != exitUsage || !strings.Contains(errs, "passphrase") {
		t.Errorf("passphrase key: exit %d, %s", code, errs)
	}
}

// A case written before file digests, store digests and signatures verifies
// with "not covered" lines for those, not a failure or a crash.
func TestCustodyOlderCaseNotCovered(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "case")
	mustRun(t, 0, "case", "init", dir, "--examiner", "Siti Examiner")
	mustRun(t, 0, "evidence", "add", dir, filepath.Join("..", "..", "fixtures", "example", "tabulasi-01-varlog.tgz"))
	mustRun(t, 0, "ingest", dir)
	// Rewrite the log as an older jejak wrote it: no "files" or "store"
	// details, no case_files entries.
	var old []string
	for _, l := range readLines(t, filepath.Join(dir, "custody.log")) {
		var e struct {
			Seq      json.Number    `json:"seq"`
			Time     string         `json:"time"`
			Examiner string         `json:"examiner"`
			Action   string         `json:"action"`
			Details  map[string]any `json:"details"`
			Prev     string         `json:"prev"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		if e.Action == "case_files" {
			continue
		}
		delete(e.Details, "files")
		delete(e.Details, "store")
		b, _ := json.Marshal(e)
		old = append(old, string(b[:len(b)-1])+`,"hash":"`+strings.Repeat("0", 64)+`"}`)
	}
	rechain(t, dir, old)
	out := mustRun(t, 0, "verify", dir)
	for _, c := range []string{"case file case.json", "case file evidence.json", "timeline store", "signatures"} {
		if !regexp.MustCompile(`(?m)^not covered\s+` + regexp.QuoteMeta(c)).MatchString(out) {
			t.Errorf("no 'not covered %s' line:\n%s", c, out)
		}
	}
	if !regexp.MustCompile(`(?m)^ok\s+evidence registry`).MatchString(out) || !strings.Contains(out, "case intact") {
		t.Errorf("older case:\n%s", out)
	}
	// Its report is intact, and says what could not be checked.
	rep := filepath.Join(root, "old.md")
	mustRun(t, 0, "report", dir, "-o", rep)
	b, _ := os.ReadFile(rep)
	if !bytes.Contains(b, []byte("| Chain | intact")) || !bytes.Contains(b, []byte("| Not covered | case file case.json, case file evidence.json, timeline store (the case predates these checks) |")) {
		t.Errorf("report of an older case:\n%s", grepLines(string(b), "|"))
	}
	// The registry check needs no recorded digest: it still catches an
	// edit of evidence.json in an older case.
	editRegistry(t, dir, func(reg map[string]any) { reg["items"] = []any{} })
	if out, _, code := jejak(t, "verify", dir); code != exitFatal || !regexp.MustCompile(`(?m)^FAILED\s+evidence registry`).MatchString(out) {
		t.Errorf("older case, item removed: exit %d\n%s", code, out)
	}
}

// An opposing expert verifies a write-protected copy: every check runs
// (the verification itself is not recorded). Made read-only with chmod,
// which binds only a user other than root; as root the test is skipped
// (checked by hand on a read-only bind mount).
func TestCustodyVerifyReadOnlyCopy(t *testing.T) {
	key, pub := jejakKey(t)
	a := makeAttackCase(t, key, pub)
	var paths []string
	filepath.Walk(a.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	for i := len(paths) - 1; i >= 0; i-- {
		os.Chmod(paths[i], 0o555)
	}
	t.Cleanup(func() {
		for _, p := range paths {
			os.Chmod(p, 0o755)
		}
	})
	if f, err := os.CreateTemp(a.dir, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skip("running as a user chmod does not bind (root): the case folder stays writable")
	}
	out := mustRun(t, 0, "verify", a.dir, "--key", a.pub, "--anchor", a.manifest)
	if !strings.Contains(out, "case intact") {
		t.Errorf("read-only copy:\n%s", out)
	}
}
