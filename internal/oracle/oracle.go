// Package oracle runs the independent tools the tests compare jejak with
// (The Sleuth Kit, libewf, libevtx, util-linux, ...) and gives them Debian's
// forensics-samples images. A missing tool or image skips the test with the
// Debian package to install, which the CI script installs; a tool that
// fails fails the test.
//
// It is for tests only: it takes a testing.TB and calls Skip and Fatal.
package oracle

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tool returns the path of the program name, skipping the test when it is
// not installed: pkg is the Debian package that ships it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: apt-get install -y %s", name, pkg)
	}
	return path
}

// Run runs name with args and returns what it wrote to stdout and stderr
// together, as a user at a terminal reads it. The test fails when the
// program does. TZ is UTC so that times the tools print in local time
// (istat, debugfs) mean the same on every machine.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Output is Run for programs whose stdout is data (a bodyfile, a file's
// bytes): stderr is kept out of it and shown only when the program fails.
func Output(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	return cmd
}
