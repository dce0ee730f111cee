//go:build linux

package rofile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func atime(t *testing.T, p string) syscall.Timespec {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Atim
}

// age sets an atime older than the mtime, which even a relatime mount
// updates on the next plain read.
func age(t *testing.T, p string) {
	t.Helper()
	now := time.Now()
	if err := os.Chtimes(p, now.Add(-72*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenKeepsAtime reads a file and lists a folder through Open and
// ReadDir, and shows with a plain read of the same kind that the mount
// does update atimes (else the test could not fail).
func TestOpenKeepsAtime(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	file := filepath.Join(sub, "f.log")
	os.WriteFile(file, []byte("evidence\n"), 0o644)
	age(t, file)
	age(t, sub)
	a, d := atime(t, file), atime(t, sub)

	f, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := f.Read(buf); string(buf[:n]) != "evidence\n" {
		t.Fatalf("read %q", buf[:n])
	}
	f.Close()
	if ents, err := ReadDir(sub); err != nil || len(ents) != 1 {
		t.Fatalf("ReadDir: %v %v", ents, err)
	}
	if atime(t, file) != a || atime(t, sub) != d {
		t.Errorf("atime moved: file %v -> %v, folder %v -> %v", a, atime(t, file), d, atime(t, sub))
	}

	// The control: a plain read and listing move both atimes here.
	if _, err := os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadDir(sub); err != nil {
		t.Fatal(err)
	}
	if atime(t, file) == a || atime(t, sub) == d {
		t.Log("this mount does not update atimes on read: the check above cannot fail here")
	}
}

// TestOpenRefusesSpecial: a FIFO with no writer, a socket and a character
// device are refused at once, not waited on.
func TestOpenRefusesSpecial(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range []string{fifo, sock, "/dev/null", "/dev/zero"} {
		done := make(chan error, 1)
		go func() {
			f, err := Open(p)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			var nr *NotRegularError
			if !errors.As(err, &nr) || !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s: %v, want a NotRegularError", p, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("Open(%s) blocked", p)
		}
	}
	if _, err := OpenDir(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	f := filepath.Join(dir, "plain")
	os.WriteFile(f, nil, 0o644)
	if _, err := OpenDir(f); err == nil {
		t.Error("OpenDir opened a regular file")
	}
}
