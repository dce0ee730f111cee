package ntfstest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// Format makes img, a new file of size bytes, a fresh NTFS volume with
// mkntfs's quick format (-F -Q -q) and the further args ("-c", "4096" for
// the cluster size, "-L", "label"). The test skips when mkntfs is not
// installed and fails when it refuses.
func Format(t testing.TB, img string, size int64, args ...string) {
	t.Helper()
	mkntfs := oracle.Tool(t, "mkntfs", "ntfs-3g")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-F", "-Q", "-q"}, args...)
	if out, err := exec.Command(mkntfs, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fuseMagic is statfs's f_type of a FUSE mount (linux/magic.h).
const fuseMagic = 0x65735546

// mountWait bounds how long Mount waits for the mount to appear and
// unmount for ntfs-3g to finish writing the volume.
const mountWait = 30 * time.Second

// Mount mounts the NTFS volume img with ntfs-3g (FUSE) on a new folder
// and returns the folder and unmount, which the test calls when it has
// written what it wants on the volume, before reading img. opts are
// ntfs-3g -o options ("streams_interface=xattr"). The test skips when
// ntfs-3g is not installed or FUSE is not allowed (no /dev/fuse, no
// privilege).
//
// ntfs-3g runs in the foreground (no_detach) as a child of the test, so
// that unmount can wait for it to exit: a daemon still writing the
// volume's last metadata (its dirty flag, $MFTMirr) after umount has
// returned would race with the test reading img. unmount is also
// registered with t.Cleanup, so a test that stops early leaves no mount
// behind; a second call does nothing.
func Mount(t testing.TB, img string, opts ...string) (mnt string, unmount func()) {
	t.Helper()
	ntfs3g := oracle.Tool(t, "ntfs-3g", "ntfs-3g")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: ntfs-3g cannot mount here (%v)", err)
	}
	mnt = filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// The mount point must be another file system than the folder holding
	// it before the mount, or the wait below would not tell them apart.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == fuseMagic {
		t.Skipf("the temp folder %s is itself on FUSE: cannot tell when ntfs-3g has mounted", mnt)
	}
	var out bytes.Buffer
	cmd := exec.Command(ntfs3g, "-o", strings.Join(append([]string{"no_detach"}, opts...), ","), img, mnt)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("ntfs-3g: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Wait for the mount itself: the folder turns into a FUSE file
	// system, or ntfs-3g exits because it cannot mount.
	deadline := time.Now().Add(mountWait)
	for {
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatalf("statfs %s: %v", mnt, err)
		}
		if st.Type == fuseMagic {
			break
		}
		select {
		case err := <-exited:
			t.Skipf("cannot mount with ntfs-3g (FUSE needed): %v %s", err, out.Bytes())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("ntfs-3g did not mount %s in %v: %s", img, mountWait, out.Bytes())
		}
	}
	mounted := true
	report := t.Fatalf
	unmount = func() {
		t.Helper()
		if !mounted {
			return
		}
		mounted = false
		// fusermount -u works for an unprivileged mount, umount for root's.
		if fout, ferr := exec.Command("fusermount", "-u", mnt).CombinedOutput(); ferr != nil {
			if uout, uerr := exec.Command("umount", mnt).CombinedOutput(); uerr != nil {
				cmd.Process.Kill()
				<-exited
				report("fusermount -u: %v %s; umount: %v %s", ferr, fout, uerr, uout)
				return
			}
		}
		select {
		case err := <-exited:
			if err != nil {
				report("ntfs-3g %s: %v\n%s", img, err, out.Bytes())
			}
		case <-time.After(mountWait):
			cmd.Process.Kill()
			<-exited
			report("ntfs-3g did not exit in %v after the unmount of %s: %s", mountWait, mnt, out.Bytes())
		}
	}
	t.Cleanup(func() {
		// From a cleanup, a failure is reported and the other cleanups
		// still run.
		report = t.Errorf
		unmount()
	})
	return mnt, unmount
}
