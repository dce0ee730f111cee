package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// hostileEvidence writes a log folder as an attacker leaves it: sshd
// failures whose user names are a spreadsheet formula and a terminal escape
// sequence (window title, clear screen), an application line that moves
// the cursor up, erases the line and forges another with CR, and a file
// whose name clears the screen, named like a log but unreadable (so its
// name is printed among the warnings).
func hostileEvidence(t *testing.T) (dir string, userFormula, userEscape string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "ev")
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	userFormula = `=cmd|'/C calc'!A0`
	userEscape = "\x1b]0;pwned\x07\x1b[2J"
	auth := "Feb 14 19:05:01 tabulasi-01 sshd[4242]: Failed password for invalid user " + userFormula + " from 203.0.113.45 port 50022 ssh2\n" +
		"Feb 14 19:05:02 tabulasi-01 sshd[4242]: Failed password for invalid user " + userEscape + " from 203.0.113.45 port 50022 ssh2\n" +
		"Feb 14 19:05:03 tabulasi-01 app[77]: \x1b[1A\x1b[2Kroot login ok\rforged\u009b2J\n"
	if err := os.WriteFile(filepath.Join(dir, "log", "auth.log"), []byte(auth), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "log", "x\x1b[2Jevil.log"), []byte("garbage \x1b[31m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, userFormula, userEscape
}

// rawControl returns the first control character (but newline and tab), DEL
// or C1 character in s, or -1.
func rawControl(s string) rune {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return r
		}
	}
	return -1
}

// TestHostileTextEndToEnd ingests the hostile folder through the CLI and
// checks every printer: no escape sequence from evidence reaches the
// output raw, each is shown escaped; JSON and JSONL keep the exact text;
// the CSV export neutralises the formula and keeps the rest exact.
func TestHostileTextEndToEnd(t *testing.T) {
	ev, userFormula, userEscape := hostileEvidence(t)
	cs := filepath.Join(t.TempDir(), "case")
	out, errs, code := jejak(t, "analyze", ev, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t")
	if code != exitWarnings {
		t.Fatalf("analyze: exit %d, want %d (the unreadable evil.log)\n%s\n%s", code, exitWarnings, out, errs)
	}
	printed := map[string]string{"analyze": out + errs}
	for name, args := range map[string][]string{
		"timeline": {"timeline", cs},
		"search":   {"search", cs, "event.action:ssh_failed_login or process.name:app"},
		"warnings": {"warnings", cs},
		// The Markdown report is plain text too (read with cat or less).
		"report": {"report", cs, "--format", "md", "-o", "-"},
	} {
		o, e, c := jejak(t, args...)
		if c != exitOK && !(name == "report" && c == exitWarnings) {
			t.Fatalf("%s: exit %d\n%s", name, c, e)
		}
		printed[name] = o + e
	}
	for name, want := range map[string][]string{
		"analyze":  {`log/x\x1b[2Jevil.log`},
		"timeline": {`invalid user \x1b]0;pwned\x07\x1b[2J from`, `app[77]: \x1b[1A\x1b[2Kroot login ok\rforged\u009b2J`, `log/x\x1b[2Jevil.log`},
		"search":   {`invalid user \x1b]0;pwned\x07\x1b[2J from`, `\x1b[2Kroot login ok\rforged`},
		"warnings": {`log/x\x1b[2Jevil.log`},
		"report":   {`log/x\\x1b\[2Jevil.log`},
	} {
		s := printed[name]
		if r := rawControl(s); r >= 0 {
			t.Errorf("%s prints %U raw:\n%q", name, r, s)
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: %q not shown:\n%s", name, w, s)
			}
		}
	}

	// JSON output is exact: encoding/json escapes, the decoder restores.
	o := mustRun(t, exitOK, "timeline", cs, "--json")
	users := map[string]bool{}
	messages := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(o))
	for sc.Scan() {
		var e timeline.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.User != nil {
			users[e.User.Name] = true
		}
		messages[e.Message] = true
	}
	if !users[userFormula] || !users[userEscape] || !messages["app[77]: \x1b[1A\x1b[2Kroot login ok\rforged\u009b2J"] {
		t.Errorf("timeline --json lost the exact text: users %v", users)
	}

	// CSV: the formula user name is neutralised, everything else (escape
	// sequences included: a CSV file is data, not terminal output) exact.
	csvPath := filepath.Join(t.TempDir(), "t.csv")
	mustRun(t, exitOK, "export", cs, "--format", "csv", "-o", csvPath)
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	got := map[string]bool{}
	for _, r := range rows[1:] {
		got[r[col["user.name"]]] = true
		for i, cell := range r {
			if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
				t.Errorf("CSV %s cell %q starts a formula", rows[0][i], cell)
			}
		}
	}
	if !got["'"+userFormula] || !got[userEscape] {
		t.Errorf("CSV user.name cells %v: want %q and %q", got, "'"+userFormula, userEscape)
	}
	if export.Restore("'"+userFormula) != userFormula {
		t.Error("Restore does not give the user name back")
	}

	// The evidence changes: both verifications name the changed file,
	// escaped.
	f2, err := os.OpenFile(filepath.Join(ev, "log", "x\x1b[2Jevil.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f2.WriteString("more\n")
	f2.Close()
	for _, args := range [][]string{{"evidence", "verify", cs}, {"verify", cs}, {"evidence", "list", cs}} {
		o, e, _ := jejak(t, args...)
		if r := rawControl(o + e); r >= 0 {
			t.Errorf("%s prints %U raw:\n%q", args[0], r, o+e)
		}
		if args[1] != "list" && !strings.Contains(o+e, `log/x\x1b[2Jevil.log`) {
			t.Errorf("jejak %s does not name the changed file:\n%s%s", strings.Join(args[:len(args)-1], " "), o, e)
		}
	}
}
