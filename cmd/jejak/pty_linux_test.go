package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what a command writes to tty
// arrives at master, as on an examiner's screen.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pty: %v", err)
	}
	// Raw mode: the line discipline passes bytes as written (no \n → \r\n).
	if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err == nil {
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ICANON
		_ = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestExportToTerminal: 'export -o -' on a real terminal (a pty) shows the
// escape sequences of the hostile evidence escaped; to a pipe or file the
// bytes stay the export's.
func TestExportToTerminal(t *testing.T) {
	ev, _, userEscape := hostileEvidence(t)
	cs := filepath.Join(t.TempDir(), "case")
	if _, errs, code := jejak(t, "analyze", ev, "--out", cs, "--tz", "Asia/Jakarta", "--examiner", "t"); code != exitWarnings {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}
	master, tty := openPTY(t)
	read := make(chan []byte)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil || bytes.Contains(b.Bytes(), []byte("\nEND\n")) {
				break
			}
		}
		read <- b.Bytes()
	}()
	var errb bytes.Buffer
	code := run([]string{"jejak", "export", cs, "--format", "csv", "-o", "-"}, strings.NewReader(""), tty, &errb)
	io.WriteString(tty, "\nEND\n")
	screen := string(<-read)
	if code != exitOK {
		t.Fatalf("export to a terminal: exit %d\n%s", code, errb.String())
	}
	if r := rawControl(strings.TrimSuffix(screen, "\nEND\n")); r >= 0 {
		t.Errorf("the terminal got %U raw:\n%q", r, screen)
	}
	if !strings.Contains(screen, `\x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("escape sequence not shown escaped:\n%s", screen)
	}
	// The HTML report on a terminal: HTML escaping leaves ESC alone, the
	// terminal writer does not.
	master2, tty2 := openPTY(t)
	read2 := make(chan []byte)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master2.Read(buf)
			b.Write(buf[:n])
			if err != nil || bytes.Contains(b.Bytes(), []byte("\nEND\n")) {
				break
			}
		}
		read2 <- b.Bytes()
	}()
	errb.Reset()
	code = run([]string{"jejak", "report", cs, "--format", "html", "-o", "-"}, strings.NewReader(""), tty2, &errb)
	io.WriteString(tty2, "\nEND\n")
	screen = string(<-read2)
	if code != exitOK && code != exitWarnings {
		t.Fatalf("report to a terminal: exit %d\n%s", code, errb.String())
	}
	if r := rawControl(strings.TrimSuffix(screen, "\nEND\n")); r >= 0 {
		t.Errorf("the terminal got %U raw from the HTML report", r)
	}
	if !strings.Contains(screen, `x\x1b[2Jevil.log`) {
		t.Errorf("the HTML report does not show the file name escaped:\n%s", screen)
	}

	// To a pipe: the exact export.
	out := mustRun(t, exitOK, "export", cs, "--format", "csv", "-o", "-")
	if !strings.Contains(out, userEscape) {
		t.Error("export to a pipe lost the raw text")
	}
}
