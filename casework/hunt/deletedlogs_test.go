package hunt

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// imageUUID fixes the file system's UUID and directory hash seed, so the
// image is the same on every run.
const imageUUID = "6a3d5b2e-1c4f-4e8a-9b7d-2f0e1a3c5d7f"

// deletedLogImage makes an ext4 image with mke2fs -d from a tree whose
// times are before the cut-off, then with debugfs (its clock set after the
// cut-off) deletes auth.log.1 from /var/log and import.csv from the watched
// folder; does what logrotate does when it compresses (writes
// access.log.2.gz, removes access.log.2) and when it drops the oldest dated
// rotation (syslog-20231001.gz next to syslog-20231008.gz); deletes an apt
// log whose folder's times are then set back before the cut-off. debugfs, unlike
// the kernel, does not move a folder's times when it removes a name, so
// they are set as the kernel sets them: to the time of the removal.
// extra files (path in the image → content) are added to the tree.
func deletedLogImage(t *testing.T, extra map[string][]byte) (img string, removed time.Time) {
	t.Helper()
	oracle.Tool(t, "mke2fs", "e2fsprogs")
	oracle.Tool(t, "debugfs", "e2fsprogs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	before := time.Date(2023, 11, 1, 8, 0, 0, 0, time.UTC)
	put := func(rel string, b []byte) {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	put("var/log/auth.log.1", []byte("Nov  1 07:59:01 tabsrv sshd[811]: Accepted password for operator from 10.0.0.5 port 50122 ssh2\n"))
	put("var/log/syslog", []byte("Nov  1 07:59:02 tabsrv systemd[1]: Started Daily apt activities.\n"))
	put("var/log/nginx/access.log", []byte("10.0.0.5 - - [01/Nov/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n"))
	put("var/log/nginx/access.log.1", []byte("10.0.0.5 - - [31/Oct/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n"))
	put("var/log/nginx/access.log.2", []byte("10.0.0.5 - - [30/Oct/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n"))
	put("var/log/syslog-20231001.gz", gz("Oct  1 07:59:02 tabsrv systemd[1]: Started Daily apt activities.\n"))
	put("var/log/syslog-20231008.gz", gz("Oct  8 07:59:02 tabsrv systemd[1]: Started Daily apt activities.\n"))
	put("var/log/apt/history.log.1", []byte("Start-Date: 2023-10-01  07:00:00\n"))
	put("var/lib/tabulasi/hasil.db", []byte("SQLite format 3\x00"))
	put("var/lib/tabulasi/import.csv", []byte("tps,suara\n1,120\n"))
	for rel, b := range extra {
		put(rel, b)
	}
	packed := filepath.Join(dir, "access.log.2.gz")
	os.WriteFile(packed, gz("10.0.0.5 - - [30/Oct/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n"), 0o644)
	if err := filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, before, before)
	}); err != nil {
		t.Fatal(err)
	}
	img = filepath.Join(dir, "tabsrv.img")
	cmd := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-U", imageUUID, "-E", "hash_seed="+imageUUID, "-d", src, img, "8M")
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1698825600")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	removed = time.Unix(1700000000, 0).UTC()
	r := strconv.FormatInt(removed.Unix(), 10)
	// "@N" is seconds since the epoch to debugfs; a bare number may be
	// read as a YYYYMMDD... date.
	at, atOld := "@"+r, "@"+strconv.FormatInt(before.Unix(), 10)
	// New files first, so that no freed inode is given again (fls would
	// then show the deleted name as realloc).
	cmds := []string{
		"cd /var/log/nginx",
		"write " + packed + " access.log.2.gz",
		"rm /var/log/nginx/access.log.2",
		"sif /var/log/nginx mtime " + at, "sif /var/log/nginx ctime " + at,
		"rm /var/log/auth.log.1",
		"rm /var/log/syslog-20231001.gz",
		"sif /var/log mtime " + at, "sif /var/log ctime " + at,
		"rm /var/log/apt/history.log.1",
		"sif /var/log/apt mtime " + atOld, "sif /var/log/apt ctime " + atOld,
		"rm /var/lib/tabulasi/import.csv",
		"sif /var/lib/tabulasi mtime " + at, "sif /var/lib/tabulasi ctime " + at,
	}
	cf := filepath.Join(dir, "cmds")
	os.WriteFile(cf, []byte(strings.Join(cmds, "\n")+"\n"), 0o644)
	cmd = exec.Command("debugfs", "-w", "-f", cf, img)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME="+r)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	return img, removed
}

// flsEntry is one bodyfile line of fls -m.
type flsEntry struct {
	inode               string
	deleted             bool
	atime, mtime, ctime int64
}

func fls(t *testing.T, img string, args ...string) map[string][]flsEntry {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	out := oracle.Output(t, "fls", append(append([]string{"-r", "-m", "/"}, args...), img)...)
	m := map[string][]flsEntry{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if len(f) < 11 {
			continue
		}
		name, del := strings.CutSuffix(f[1], " (deleted)")
		e := flsEntry{inode: f[2], deleted: del}
		e.atime, _ = strconv.ParseInt(f[7], 10, 64)
		e.mtime, _ = strconv.ParseInt(f[8], 10, 64)
		e.ctime, _ = strconv.ParseInt(f[9], 10, 64)
		m[strings.TrimPrefix(name, "/")] = append(m[strings.TrimPrefix(name, "/")], e)
	}
	return m
}

// TestDeletedLogFileExt4: the log deleted from /var/log and the file
// deleted from the watched folder are reported, each with its deleted
// rows (inode as fls -d lists it) and its folder's rows (the times fls
// gives the folder); logrotate's removal of access.log.2.gz and a log
// deleted before the cut-off are not.
func TestDeletedLogFileExt4(t *testing.T) {
	img, removed := deletedLogImage(t, nil)
	del := fls(t, img, "-d")
	all := fls(t, img)
	// The oracle must see what the test is about, or it tests nothing.
	for _, p := range []string{"var/log/auth.log.1", "var/lib/tabulasi/import.csv", "var/log/apt/history.log.1", "var/log/nginx/access.log.2", "var/log/syslog-20231001.gz"} {
		if len(del[p]) == 0 || !del[p][0].deleted {
			t.Fatalf("fls -d does not list %s deleted: %v", p, del[p])
		}
	}
	if len(all["var/log/nginx/access.log.2.gz"]) == 0 || all["var/log/nginx/access.log.2.gz"][0].deleted {
		t.Fatal("fls: the compressed access.log.2.gz is not live")
	}
	cut := time.Date(2023, 11, 10, 0, 0, 0, 0, time.UTC)
	st := buildDiskCase(t, img)

	want := map[string]string{"var/log/auth.log.1": "T1070.002", "var/lib/tabulasi/import.csv": "T1070.004"}
	for _, watch := range [][]string{nil, {"/var/lib/tabulasi"}} {
		fs := byRule(hunt(t, st, Config{After: cut, Watch: watch}), "JEJAK-LNX-06")
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
		}
		slices.Sort(keys)
		wantKeys := []string{"var/log/auth.log.1"}
		if watch != nil {
			wantKeys = []string{"var/lib/tabulasi/import.csv", "var/log/auth.log.1"}
		}
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("watch %v: findings %q, want %q", watch, keys, wantKeys)
		}
		for _, f := range fs {
			if f.Technique != want[f.Key] {
				t.Errorf("%s: technique %s, want %s", f.Key, f.Technique, want[f.Key])
			}
			parent := filepath.Dir(f.Key)
			pf := all[parent][0]
			ino := del[f.Key][0].inode
			var fileRows, dirRows int
			for _, e := range f.Events {
				switch e.Provenance.Path {
				case f.Key:
					fileRows++
					if !slices.Contains(e.State, "deleted") {
						t.Errorf("%s: file row %s not marked deleted", f.Key, e.Message)
					}
					if e.Provenance.Identity == "" || !strings.Contains(e.Provenance.Identity, "inode:"+ino) {
						t.Errorf("%s: row identity %q, fls -d gives inode %s", f.Key, e.Provenance.Identity, ino)
					}
				case parent:
					// One row per distinct time: the removal moved mtime
					// and ctime together, so one row may be both
					// ("Content Modification Time; Metadata Modification
					// Time"); each time it names is checked.
					for part := range strings.SplitSeq(e.TimestampDesc, "; ") {
						if part == "Last Access Time" {
							continue // merged with a change: the same time
						}
						dirRows++
						var want int64
						switch part {
						case "Content Modification Time":
							want = pf.mtime
						case "Metadata Modification Time":
							want = pf.ctime
						default:
							t.Errorf("%s: folder row %s is not a change", f.Key, e.TimestampDesc)
						}
						if e.Timestamp.Unix() != want || !e.Timestamp.Equal(removed) {
							t.Errorf("%s: folder row %s at %s; fls gives %d, removed at %s", f.Key, e.TimestampDesc, e.Timestamp, want, removed)
						}
					}
				default:
					t.Errorf("%s: row of %s", f.Key, e.Provenance.Path)
				}
			}
			if fileRows == 0 || dirRows != 2 {
				t.Errorf("%s: %d file rows, %d folder times (want the folder's mtime and ctime)", f.Key, fileRows, dirRows)
			}
			for _, s := range []string{"content modified at " + ts(removed), "metadata changed at " + ts(removed), "folder " + parent} {
				if !strings.Contains(f.Explanation, s) {
					t.Errorf("%s: explanation lacks %q: %s", f.Key, s, f.Explanation)
				}
			}
			t.Logf("%s %s: %s", f.RuleID, f.Technique, f.Explanation)
		}
	}
}

// TestDeletedLogFileNTFS: on an NTFS volume made with mkntfs and written
// through ntfs-3g (FUSE), a log deleted from the watched tabulation folder
// after the cut-off is reported with the folder's $STANDARD_INFORMATION M
// and C times as fls gives them, and so is a file deleted from
// winevt\Logs (T1070.001); a file deleted from a folder neither watched
// nor a log folder, and a log deleted before the cut-off, are not.
func TestDeletedLogFileNTFS(t *testing.T) {
	img := filepath.Join(t.TempDir(), "win.img")
	ntfstest.Format(t, img, 8<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	before := time.Date(2023, 11, 1, 8, 0, 0, 0, time.UTC)
	write := func(rel, s string) {
		p := filepath.Join(mnt, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, before, before); err != nil {
			t.Fatal(err)
		}
	}
	write("Tabulasi/rekap.log", "2023-11-01 08:00 import TPS 001 ok\n")
	write("Tabulasi/hasil.db", "SQLite format 3\x00")
	write("Temp/setup.log", "installer done\n")
	write("Arsip/lama.log", "old\n")
	write("Windows/System32/winevt/Logs/Security.evtx", "not an event log, a name in the log folder\n")
	// Deleted before the cut-off: its folder's times stay before it.
	if err := os.Remove(filepath.Join(mnt, "Arsip/lama.log")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	for _, rel := range []string{"Tabulasi/rekap.log", "Temp/setup.log", "Windows/System32/winevt/Logs/Security.evtx"} {
		if err := os.Remove(filepath.Join(mnt, rel)); err != nil {
			t.Fatal(err)
		}
	}
	unmount()
	if t.Failed() {
		return
	}
	oracle.Tool(t, "fls", "sleuthkit")
	del := fls(t, img, "-d")
	all := fls(t, img)
	for _, p := range []string{"Tabulasi/rekap.log", "Temp/setup.log", "Arsip/lama.log"} {
		if len(del[p]) == 0 {
			t.Fatalf("fls -d does not list %s deleted", p)
		}
	}
	// fls lists a folder's $SI line and its $FILE_NAME line ("Tabulasi
	// ($FILE_NAME)"); the plain name is $SI.
	si := all["Tabulasi"]
	if len(si) != 1 || time.Unix(si[0].mtime, 0).Before(cut.Truncate(time.Second)) {
		t.Fatalf("fls: Tabulasi's $SI times %v do not move after the cut-off %s", si, cut)
	}
	st := buildDiskCase(t, img)
	fs := byRule(hunt(t, st, Config{After: cut, Watch: []string{`C:\Tabulasi`}}), "JEJAK-LNX-06")
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Key+" "+f.Technique)
	}
	slices.Sort(keys)
	if want := []string{"Tabulasi/rekap.log T1070.004", "Windows/System32/winevt/Logs/Security.evtx T1070.001"}; !slices.Equal(keys, want) {
		t.Fatalf("findings %q, want %q", keys, want)
	}
	f := fs[0]
	if f.Key != "Tabulasi/rekap.log" {
		f = fs[1]
	}
	if f.Technique != "T1070.004" {
		t.Errorf("technique %s, want T1070.004 (a watched file)", f.Technique)
	}
	var dirRows int
	for _, e := range f.Events {
		// The rows are $MFT's (provenance path $MFT): the file's are the
		// deleted entry's, the folder's name it.
		if slices.Contains(e.State, "deleted") {
			if !strings.Contains(e.Message, "Tabulasi/rekap.log") {
				t.Errorf("deleted row %q is not rekap.log's", e.Message)
			}
			continue
		}
		if !strings.HasPrefix(e.Message, "$STANDARD_INFORMATION ") || !strings.Contains(e.Message, " Tabulasi ") {
			t.Errorf("live row %q is not the folder's $SI", e.Message)
		}
		// One row per distinct time of the $SI: M and C moved together
		// at the removal, so one row may be both; each time is checked.
		for part := range strings.SplitSeq(e.TimestampDesc, "; ") {
			if part == "Last Access Time" {
				continue // merged with a change: the same time
			}
			dirRows++
			want := si[0].mtime
			if part == "Metadata Modification Time" {
				want = si[0].ctime
			}
			if e.Timestamp.Unix() != want || e.Timestamp.Before(cut) {
				t.Errorf("folder row %s at %s; fls $SI gives %d, cut-off %s", e.TimestampDesc, e.Timestamp, want, cut)
			}
		}
	}
	if dirRows != 2 {
		t.Errorf("%d folder times, want $SI M and C", dirRows)
	}
	t.Logf("%s %s: %s", f.RuleID, f.Technique, f.Explanation)
}

// TestPlantedLinuxCase is the case the issue measured: on a tabulation
// server's disk, the intruder typed "rm -f /var/log/auth.log.1" and
// "history -c" after the cut-off (root's history, written by real bash
// with HISTTIMEFORMAT, kept in the image), and auth.log.1 is a deleted
// name in /var/log whose folder changed after the cut-off. The command
// rules and the file-system rule each report it; the operator's commands
// in the same history raise nothing.
func TestPlantedLinuxCase(t *testing.T) {
	hist := filepath.Join(t.TempDir(), ".bash_history")
	bashSession(t, hist, []string{"ls /var/log", "less /var/log/auth.log", "rm -f /var/log/auth.log.1", "history -c", "apt-get clean"})
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := deletedLogImage(t, map[string][]byte{"root/.bash_history": b})
	st := buildDiskCase(t, img)
	cut := time.Date(2023, 11, 10, 0, 0, 0, 0, time.UTC)
	fs := hunt(t, st, Config{After: cut})
	got := map[string][]string{}
	for _, f := range fs {
		if !strings.HasPrefix(f.RuleID, "JEJAK-LNX-") {
			continue
		}
		if f.RuleID != "JEJAK-LNX-06" && !strings.HasSuffix(f.Key, " user=root") {
			t.Errorf("%s: key %q does not name root, whose home holds the history", f.RuleID, f.Key)
		}
		for _, e := range f.Events {
			if f.RuleID != "JEJAK-LNX-06" {
				got[f.RuleID] = append(got[f.RuleID], e.Message)
			}
		}
		if f.RuleID == "JEJAK-LNX-06" {
			got[f.RuleID] = append(got[f.RuleID], f.Key)
		}
	}
	want := map[string][]string{
		"JEJAK-LNX-01": {"rm -f /var/log/auth.log.1"},
		"JEJAK-LNX-02": {"history -c"},
		"JEJAK-LNX-06": {"var/log/auth.log.1"},
	}
	if len(got) != len(want) {
		t.Errorf("LNX findings %q, want %q", got, want)
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	var all []string
	for _, f := range fs {
		all = append(all, f.RuleID+" "+f.Key)
	}
	t.Logf("%d findings for the examiner: %q", len(fs), all)
}

// TestDeletedLogFileKernel: the Linux kernel itself removes the files, on
// an ext4 image made by mke2fs -d and mounted (loop; root only, else
// skipped): "rm -f /var/log/auth.log.1" after the cut-off, and gzip
// compressing nginx's access.log.1 as logrotate does (access.log.1.gz
// written, access.log.1 removed). Kernels from 5.19 wipe a removed name,
// so the removal is the orphan inode whose metadata changed with the
// folder's; older ones leave the name. Either way the one finding is about
// the inode fls listed as auth.log.1 before the mount; gzip's removal is
// not reported.
func TestDeletedLogFileKernel(t *testing.T) {
	oracle.Tool(t, "mke2fs", "e2fsprogs")
	oracle.Tool(t, "gzip", "gzip")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	before := time.Date(2023, 11, 1, 8, 0, 0, 0, time.UTC)
	for rel, s := range map[string]string{
		"var/log/auth.log.1":         "Nov  1 07:59:01 tabsrv sshd[811]: Accepted password for operator from 10.0.0.5 port 50122 ssh2\n",
		"var/log/auth.log":           "Nov  1 07:59:05 tabsrv sshd[812]: Accepted password for operator from 10.0.0.5 port 50123 ssh2\n",
		"var/log/nginx/access.log":   "10.0.0.5 - - [01/Nov/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n",
		"var/log/nginx/access.log.1": "10.0.0.5 - - [31/Oct/2023:07:59:03 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.4.0\"\n",
	} {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	filepath.Walk(src, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, before, before) })
	img := filepath.Join(dir, "tabsrv.img")
	cmd := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M")
	// Birth times come from mke2fs's clock: before the cut-off too.
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME="+strconv.FormatInt(before.Unix(), 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	wasAuth := fls(t, img)["var/log/auth.log.1"]
	if len(wasAuth) != 1 {
		t.Fatalf("fls before the mount: auth.log.1 %v", wasAuth)
	}
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount the image (root needed): %v %s", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	if out, err := exec.Command("gzip", filepath.Join(mnt, "var/log/nginx/access.log.1")).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	// Apart by more than a kernel clock tick, as typed commands are: in
	// one tick the two removals could not be told apart.
	time.Sleep(50 * time.Millisecond)
	if err := os.Remove(filepath.Join(mnt, "var/log/auth.log.1")); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	mounted = false

	st := buildDiskCase(t, img)
	fs := byRule(hunt(t, st, Config{After: cut}), "JEJAK-LNX-06")
	if len(fs) != 1 {
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
		}
		for _, f := range fs {
			t.Log(f.Explanation)
		}
		t.Fatalf("findings %q, want one, about auth.log.1's inode %s", keys, wasAuth[0].inode)
	}
	f := fs[0]
	if f.Key != "var/log/auth.log.1" && f.Key != "var/log inode "+wasAuth[0].inode {
		t.Errorf("finding %q is not about auth.log.1 (inode %s before the mount)", f.Key, wasAuth[0].inode)
	}
	folder := fls(t, img)["var/log"][0]
	for _, e := range f.Events {
		if e.Timestamp.Before(cut) {
			t.Errorf("row %s at %s, before the cut-off", e.Message, e.Timestamp)
		}
		if !slices.Contains(e.State, "deleted") && e.Timestamp.Unix() != folder.ctime && e.Timestamp.Unix() != folder.mtime {
			t.Errorf("folder row %s at %s; fls gives var/log mtime %d ctime %d", e.TimestampDesc, e.Timestamp, folder.mtime, folder.ctime)
		}
	}
	t.Logf("%s: %s", f.Key, f.Explanation)
}
