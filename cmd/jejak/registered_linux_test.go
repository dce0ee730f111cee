//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// These tests hold jejak to "only registered bytes are read": every file of
// a folder and every segment of a split raw or EWF set is hashed at
// 'evidence add' and re-checked before ingest reads it; FIFOs, sockets and
// devices are refused at once; and no command moves an access time.

const acceptedLine = "Feb 14 20:01:02 tabulasi-01 sshd[811]: Accepted password for admin from 203.0.113.45 port 50522 ssh2\n"

// ext4Disk makes an 8 MiB ext4 file system with mke2fs holding
// var/log/auth.log, so that ingest reads the image through its segments.
func ext4Disk(t *testing.T, dir string) string {
	t.Helper()
	oracle.Tool(t, "mke2fs", "e2fsprogs")
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "var", "log"), 0o755)
	if err := os.WriteFile(filepath.Join(src, "var", "log", "auth.log"), []byte(acceptedLine), 0o640); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.img")
	oracle.Run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M")
	return img
}

// splitSet cuts img with coreutils split into disk.001, disk.002, ...
func splitSet(t *testing.T, img, dir string) []string {
	t.Helper()
	oracle.Tool(t, "split", "coreutils")
	os.MkdirAll(dir, 0o755)
	oracle.Run(t, "split", "-b", "2M", "-d", "-a", "3", "--numeric-suffixes=1", img, filepath.Join(dir, "disk."))
	segs, _ := filepath.Glob(filepath.Join(dir, "disk.0*"))
	if len(segs) != 4 {
		t.Fatalf("split wrote %v, want 4 segments", segs)
	}
	return segs
}

// e01Set acquires img with ewfacquire into 1 MiB segments, uncompressed
// (so a flipped byte lands in the media), and returns them in order.
func e01Set(t *testing.T, img, dir string) []string {
	t.Helper()
	oracle.Tool(t, "ewfacquire", "ewf-tools")
	os.MkdirAll(dir, 0o755)
	oracle.Run(t, "ewfacquire", "-u", "-q", "-c", "none", "-S", "1MiB", "-t", filepath.Join(dir, "acq"), img)
	segs, _ := filepath.Glob(filepath.Join(dir, "acq.E*"))
	if len(segs) < 3 {
		t.Fatalf("ewfacquire wrote %v, want 3 or more segments", segs)
	}
	return segs
}

// sha256sum is the oracle for the registered segment hashes.
func sha256sum(t *testing.T, p string) string {
	t.Helper()
	return strings.Fields(string(oracle.Output(t, "sha256sum", p)))[0]
}

// flipKeepTimes changes one byte of p in place and puts its mtime and atime
// back, as someone hiding an edit would: size and mtime say nothing.
func flipKeepTimes(t *testing.T, p string, off int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, tsTime(st.Atim), tsTime(st.Mtim)); err != nil {
		t.Fatal(err)
	}
}

func tsTime(ts syscall.Timespec) time.Time { return time.Unix(ts.Sec, ts.Nsec) }

type listedItem struct {
	ID       string `json:"id"`
	Path     string `json:"path"`
	Segments []struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"segments"`
}

func listItems(t *testing.T, cs string) []listedItem {
	t.Helper()
	var items []listedItem
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "evidence", "list", cs, "--json")), &items); err != nil {
		t.Fatal(err)
	}
	return items
}

// refused runs args and wants exit 1 with every one of names in what was
// printed (stdout and stderr).
func refused(t *testing.T, names []string, args ...string) {
	t.Helper()
	out, errs, code := jejak(t, args...)
	if code != exitFatal {
		t.Errorf("jejak %s: exit %d, want %d (refusal)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, exitFatal, out, errs)
		return
	}
	for _, n := range names {
		if !strings.Contains(out+errs, n) {
			t.Errorf("jejak %s does not name %s:\n%s%s", strings.Join(args, " "), n, out, errs)
		}
	}
}

// TestImageSetsHashEverySegment: a split raw image (coreutils split) and an
// E01 set (ewfacquire) registered by their first file get every segment
// hashed (equal to sha256sum's); ingest reads the disk through them; a byte
// changed in a later segment, with its mtime put back, is reported by
// 'evidence verify' on that segment and refuses ingest; so does a segment
// appended to the set.
func TestImageSetsHashEverySegment(t *testing.T) {
	root := t.TempDir()
	img := ext4Disk(t, root)
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, dir string) []string
		extra string // a name that joins the set
	}{
		{"split-raw", func(t *testing.T, dir string) []string { return splitSet(t, img, dir) }, "disk.005"},
		{"e01", func(t *testing.T, dir string) []string { return e01Set(t, img, dir) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			segs := tc.make(t, filepath.Join(dir, "ev"))
			cs := filepath.Join(dir, "case")
			mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
			mustRun(t, exitOK, "evidence", "add", cs, segs[0])
			items := listItems(t, cs)
			if len(items) != 1 || len(items[0].Segments) != len(segs) {
				t.Fatalf("registered %+v, want %d segments", items, len(segs))
			}
			for i, s := range items[0].Segments {
				if s.Path != segs[i] || s.SHA256 != sha256sum(t, segs[i]) {
					t.Errorf("segment %d registered as %s %s, sha256sum says %s %s", i, s.Path, s.SHA256, segs[i], sha256sum(t, segs[i]))
				}
			}
			mustRun(t, exitOK, "ingest", cs, "--quiet")
			if !strings.Contains(mustRun(t, exitOK, "search", cs, `"Accepted password"`), "203.0.113.45") {
				t.Fatal("the auth.log inside the image was not ingested")
			}
			out := mustRun(t, exitOK, "evidence", "verify", cs)
			for _, s := range segs {
				if !strings.Contains(out, "ok        "+items[0].ID+"  segment "+s) {
					t.Errorf("verify does not report segment %s:\n%s", s, out)
				}
			}

			// A later segment edited, its times put back.
			victim := segs[len(segs)/2+1]
			st, _ := os.Stat(victim)
			flipKeepTimes(t, victim, st.Size()/2)
			refused(t, []string{"MISMATCH", victim}, "evidence", "verify", cs)
			refused(t, []string{"refused", victim, "sha256"}, "ingest", cs, "--quiet")
			flipKeepTimes(t, victim, st.Size()/2) // back as registered
			mustRun(t, exitOK, "ingest", cs, "--quiet", "--verify")

			if tc.extra != "" {
				extra := filepath.Join(dir, "ev", tc.extra)
				os.WriteFile(extra, bytes.Repeat([]byte{0}, 4096), 0o644)
				refused(t, []string{extra}, "ingest", cs, "--quiet")
				refused(t, []string{extra}, "evidence", "verify", cs)
			}
		})
	}
}

// TestLegacyItemWithoutSegmentHashes: an item registered by a jejak that
// hashed the first segment only (a registry without "segments") is refused
// at ingest and by verify, naming the unhashed segments and what to do;
// adding the path again hashes them and keeps the ID.
func TestLegacyItemWithoutSegmentHashes(t *testing.T) {
	root := t.TempDir()
	segs := splitSet(t, ext4Disk(t, root), filepath.Join(root, "ev"))
	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, segs[0])
	id := listItems(t, cs)[0].ID

	// Rewrite the registry as the older jejak wrote it.
	regPath := filepath.Join(cs, "evidence.json")
	var reg map[string]any
	b, _ := os.ReadFile(regPath)
	if err := json.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	for _, it := range reg["items"].([]any) {
		delete(it.(map[string]any), "segments")
	}
	b, _ = json.Marshal(reg)
	os.WriteFile(regPath, b, 0o644)

	refused(t, append([]string{"re-register", "evidence add"}, segs[1:]...), "ingest", cs, "--quiet")
	refused(t, segs[1:], "evidence", "verify", cs)
	mustRun(t, exitOK, "evidence", "add", cs, segs[0])
	if items := listItems(t, cs); len(items) != 1 || items[0].ID != id || len(items[0].Segments) != len(segs) {
		t.Fatalf("after re-adding: %+v", items)
	}
	mustRun(t, exitOK, "ingest", cs, "--quiet")
}

// TestFolderChangesRefused: a folder changed after 'evidence add' (a line
// appended, a file added, a file removed, a file touched, content edited
// with its mtime put back) is refused by ingest naming the file; an edit
// keeping size and mtime is caught too (the ctime moved), and by
// 'ingest --verify' in any case.
func TestFolderChangesRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		file   string
	}{
		{"appended", func(t *testing.T, d string) {
			f, _ := os.OpenFile(filepath.Join(d, "var/log/auth.log"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(acceptedLine)
			f.Close()
		}, "var/log/auth.log"},
		{"added", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "var/log/auth.log.1"), []byte(acceptedLine), 0o644)
		}, "var/log/auth.log.1"},
		{"removed", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "var/log/syslog")) }, "var/log/syslog"},
		{"touched", func(t *testing.T, d string) {
			os.Chtimes(filepath.Join(d, "var/log/syslog"), time.Now(), time.Now())
		}, "var/log/syslog"},
		{"edited-times-kept", func(t *testing.T, d string) { flipKeepTimes(t, filepath.Join(d, "var/log/syslog"), 10) }, "var/log/syslog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "usb")
			os.MkdirAll(filepath.Join(dir, "var/log"), 0o755)
			for name, src := range map[string]string{"syslog": "logs/syslog/syslog", "auth.log": "logs/syslog/syslog_ssh.log"} {
				b, err := os.ReadFile(parsertest.Corpus(t, src))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, "var/log", name), b, 0o644)
			}
			cs := filepath.Join(root, "case")
			mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
			mustRun(t, exitOK, "evidence", "add", cs, dir)
			tc.change(t, dir)
			refused(t, []string{"refused", tc.file}, "ingest", cs, "--quiet")
			refused(t, []string{tc.file}, "ingest", cs, "--quiet", "--verify")
			refused(t, []string{"MISMATCH", tc.file}, "evidence", "verify", cs)
		})
	}
}

// TestSpecialFilesRefused: a FIFO with no writer (which used to hang 'evidence
// add' forever), a socket and a device are refused at once; a FIFO inside a
// folder is listed as skipped and neither add nor ingest waits on it.
func TestSpecialFilesRefused(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(root, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := filepath.Join(root, "usb")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "auth.log"), []byte(acceptedLine), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")

	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		start := time.Now()
		go func() { f(); close(done) }()
		select {
		case <-done:
			t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still running after 10 s", what)
		}
	}
	for p, kind := range map[string]string{fifo: "FIFO", sock: "socket", "/dev/null": "character device"} {
		within("evidence add "+p, func() { refused(t, []string{p, kind}, "evidence", "add", cs, p) })
	}
	within("evidence add of a folder holding a FIFO", func() { mustRun(t, exitOK, "evidence", "add", cs, dir) })
	within("ingest of a folder holding a FIFO", func() { jejak(t, "ingest", cs, "--quiet") })
	if !strings.Contains(mustRun(t, exitOK, "search", cs, `"Accepted password"`), "203.0.113.45") {
		t.Error("the log beside the FIFO was not ingested")
	}
}

// TestHelperJejak is not a test: run as a child process by
// TestSignalStopsHashing, it runs the CLI on the arguments after "--".
func TestHelperJejak(t *testing.T) {
	if os.Getenv("JEJAK_HELPER_PROCESS") != "1" {
		t.Skip("helper process for TestSignalStopsHashing")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(append([]string{"jejak"}, args...), os.Stdin, os.Stdout, os.Stderr))
}

// TestSignalStopsHashing: SIGTERM and SIGINT while 'evidence add' hashes a
// large file end it with exit 130 within a second.
func TestSignalStopsHashing(t *testing.T) {
	root := t.TempDir()
	big := filepath.Join(root, "big.raw")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: reads as 16 GiB of zeros, far more than can be hashed before
	// the signal, without using the disk.
	if err := f.Truncate(16 << 30); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperJejak$", "--", "evidence", "add", cs, big)
		cmd.Env = append(os.Environ(), "JEJAK_HELPER_PROCESS=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var err error
		go func() { err = cmd.Wait(); close(exited) }()
		// Signalled once it hashes (it has the file open), not after a
		// fixed sleep: on a loaded machine the child may not have reached
		// the hashing, or even its signal handler, by then.
		if !awaitOpen(t, cmd.Process.Pid, big, exited) {
			t.Fatalf("%v: evidence add ended before it opened %s: %v\n%s", sig, big, err, stderr.String())
		}
		sent := time.Now()
		cmd.Process.Signal(sig)
		<-exited
		took := time.Since(sent)
		code := cmd.ProcessState.ExitCode()
		t.Logf("%v: exit %d after %v", sig, code, took.Round(time.Millisecond))
		if code != exitInterrupted {
			t.Errorf("%v: exit %d (%v), want %d\n%s", sig, code, err, exitInterrupted, stderr.String())
		}
		if took > time.Second {
			t.Errorf("%v: took %v to stop, want under a second", sig, took)
		}
	}
	if items := listItems(t, cs); len(items) != 0 {
		t.Errorf("an interrupted add registered %+v", items)
	}
}

// holdsOpen says whether process pid has path open or mapped: one of its
// /proc/PID/fd links names it, or a line of /proc/PID/maps does.
func holdsOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == path {
			return true
		}
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.HasSuffix(l, " "+path) {
			return true
		}
	}
	return false
}

// awaitOpen waits until process pid has path open or mapped; false if the process
// ends first (exited closes). path must be absolute and free of symlinks,
// as the kernel names open files.
func awaitOpen(t *testing.T, pid int, path string, exited <-chan struct{}) bool {
	t.Helper()
	if real, err := filepath.EvalSymlinks(path); err != nil || real != path {
		t.Fatalf("awaitOpen(%s): the kernel would name it %s (%v)", path, real, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !holdsOpen(pid, path) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not open %s within 2 minutes", pid, path)
		}
		select {
		case <-exited:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return true
}

// appendLine appends line to the file at path.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	return errors.Join(err, f.Close())
}

// TestEvidenceAtimeKept: add, ingest, ingest --verify and evidence verify
// leave the access time of every evidence file, segment and folder as it
// was. The atimes are set older than the mtimes, which a relatime mount
// (as here) updates on the next plain read; a control read shows that
// the check can fail on this mount.
func TestEvidenceAtimeKept(t *testing.T) {
	root := t.TempDir()
	img := ext4Disk(t, root)
	ev := filepath.Join(root, "ev")
	split := splitSet(t, img, filepath.Join(ev, "split"))
	e01 := e01Set(t, img, filepath.Join(ev, "e01"))
	folder := filepath.Join(ev, "folder")
	os.MkdirAll(filepath.Join(folder, "var", "log"), 0o755)
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(folder, "var", "log", "auth.log"), b, 0o644)
	plain := filepath.Join(ev, "plain", "secure")
	os.MkdirAll(filepath.Dir(plain), 0o755)
	os.WriteFile(plain, b, 0o644)

	var paths []string // files first, then folders deepest first: Chtimes on a file leaves its folder alone
	filepath.Walk(ev, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	var dirs []string
	filepath.Walk(ev, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			dirs = append([]string{p}, dirs...)
		}
		return nil
	})
	paths = append(paths, dirs...)
	now := time.Now()
	for _, p := range paths {
		if err := os.Chtimes(p, now.Add(-72*time.Hour), now.Add(-48*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	atimes := map[string]syscall.Timespec{}
	for _, p := range paths {
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		atimes[p] = st.Atim
	}

	cs := filepath.Join(root, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, split[0], e01[0], folder, plain)
	mustRun(t, exitOK, "ingest", cs, "--quiet")
	mustRun(t, exitOK, "ingest", cs, "--quiet", "--verify")
	mustRun(t, exitOK, "evidence", "verify", cs)

	for _, p := range paths {
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		if st.Atim != atimes[p] {
			t.Errorf("atime of %s moved: %v -> %v", p, tsTime(atimes[p]), tsTime(st.Atim))
		}
	}

	// Control: a plain read of one of them does move its atime here.
	if _, err := os.ReadFile(plain); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	syscall.Stat(plain, &st)
	if st.Atim == atimes[plain] {
		t.Log("this mount does not update atimes on read (noatime?): the checks above cannot fail here")
	}
}

// TestEvidenceChangedDuringIngest: a line appended to a registered log while
// ingest reads it fails the run with exit 1, naming the item: its events
// may hold unregistered bytes.
func TestEvidenceChangedDuringIngest(t *testing.T) {
	root := t.TempDir()
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The line is appended while ingest has the log open, which it holds
	// from before its read to after it; the check that follows the read
	// must then see it. The ingest is stopped (SIGSTOP) while the test
	// looks and appends, so that it cannot finish reading in between: a
	// fixed sleep before the append raced the read, which a faster parser
	// or an idle machine ends before the sleep does.
	var cmd *exec.Cmd
	var stderr bytes.Buffer
	var id string
	for attempt := 1; ; attempt++ {
		dir := filepath.Join(root, fmt.Sprint(attempt))
		os.MkdirAll(dir, 0o755)
		log := filepath.Join(dir, "auth.log")
		if err := os.WriteFile(log, bytes.Repeat(b, (16<<20)/len(b)), 0o644); err != nil {
			t.Fatal(err)
		}
		cs := filepath.Join(dir, "case")
		mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
		mustRun(t, exitOK, "evidence", "add", cs, log)
		id = listItems(t, cs)[0].ID

		cmd = exec.Command(os.Args[0], "-test.run=^TestHelperJejak$", "--", "ingest", cs, "--quiet")
		cmd.Env = append(os.Environ(), "JEJAK_HELPER_PROCESS=1")
		stderr.Reset()
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if !awaitOpen(t, cmd.Process.Pid, log, exited) {
			t.Fatalf("ingest ended (exit %d) before it opened %s\n%s", cmd.ProcessState.ExitCode(), log, stderr.String())
		}
		syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP)
		reading := holdsOpen(cmd.Process.Pid, log)
		var werr error
		if reading {
			werr = appendLine(log, acceptedLine)
		}
		syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		<-exited
		if werr != nil {
			t.Fatal(werr)
		}
		t.Logf("attempt %d: ingest ran %v", attempt, time.Since(start).Round(time.Millisecond))
		if reading {
			break
		}
		// It closed the log between the two looks: nothing was appended.
		if attempt == 3 {
			t.Fatalf("three ingests closed the log between two looks microseconds apart")
		}
	}
	if strings.Contains(stderr.String(), "changed while it was read") {
		t.Log("caught after reading")
	} else {
		t.Log("caught before reading")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFatal || !strings.Contains(stderr.String(), "changed") || !strings.Contains(stderr.String(), id) {
		t.Fatalf("exit %d, want %d naming %s\n%s", code, exitFatal, id, stderr.String())
	}
}
