package baseline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

const originals = oracle.SamplesDir + "/original-files"

// capture captures p and reads the baseline back, so every test goes
// through the file format.
func capture(t *testing.T, p string) (*Baseline, string) {
	t.Helper()
	src, err := OpenSource(context.Background(), p, jfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tr, err := Capture(context.Background(), src, &buf, Options{Header: Header{Name: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Problems) > 0 {
		t.Logf("capture problems: %q", tr.Problems)
	}
	b, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(buf.Bytes())
	return b, hex.EncodeToString(s[:])
}

func diff(t *testing.T, ref *Reference, p string) (*Result, map[string][]Change) {
	t.Helper()
	src, err := OpenSource(context.Background(), p, jfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]Change{}
	res, err := Diff(context.Background(), ref, src, func(c Change) error {
		by[c.Status] = append(by[c.Status], c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, by
}

func paths(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Path)
	}
	sort.Strings(out)
	return out
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var (
	mmlsLine = regexp.MustCompile(`^\d+:\s+\d+:\d+\s+(\d+)\s+`)
	flsLine  = regexp.MustCompile(`^([-a-z])/([-a-z])\s+(\*\s+)?([0-9-]+)(\(realloc\))?:\t(.*)$`)
)

// TestSampleImagesAgainstOriginals: a baseline of the folder Debian ships
// beside the forensics-samples images, compared with each image. The
// package README says every folder whose name ends in "2" was deleted
// after the copy: exactly those are removed. The Sleuth Kit is the
// oracle for the rest: fls lists the live files, icat gives their bytes,
// istat their owners; a file is changed exactly when icat's SHA-256
// differs from the original's (Debian's build recompresses some PNGs of
// original-files, so the images' copies differ from them) or istat's
// owner from the installed file's (the images were made by uid 1000, dpkg
// installs as root), and nothing is added but the file system's own
// files.
func TestSampleImagesAgainstOriginals(t *testing.T) {
	if _, err := os.Stat(originals); err != nil {
		t.Skipf("%s missing: apt-get install -y forensics-samples-files", originals)
	}
	oracle.Tool(t, "fls", "sleuthkit")
	base, sum := capture(t, originals)
	var wantRemoved []string
	for _, f := range base.Files {
		top, _, _ := strings.Cut(f.Path, "/")
		if strings.HasSuffix(top, "2") {
			wantRemoved = append(wantRemoved, f.Path)
		}
	}
	sort.Strings(wantRemoved)
	if len(wantRemoved) < 20 {
		t.Fatalf("only %d entries in the *2 folders of %s", len(wantRemoved), originals)
	}
	for _, name := range []string{"ext4", "ntfs"} {
		t.Run(name, func(t *testing.T) {
			img := oracle.Sample(t, name)
			var off string
			for _, l := range strings.Split(string(oracle.Output(t, "mmls", img)), "\n") {
				if m := mmlsLine.FindStringSubmatch(l); m != nil && !strings.Contains(l, "Unallocated") && !strings.Contains(l, "Meta") {
					off = m[1]
				}
			}
			if off == "" {
				t.Fatal("mmls found no partition")
			}
			// The oracle: live files and folders of the image, their bytes
			// (icat) and their owners (istat, where the file system has
			// them: ext4), against the originals' bytes and stat owner.
			var wantChanged []string
			contentDiffers := map[string]bool{}
			ownerLine := regexp.MustCompile(`uid / gid: (\d+) / (\d+)`)
			for _, l := range strings.Split(string(oracle.Output(t, "fls", "-r", "-p", "-o", off, img)), "\n") {
				m := flsLine.FindStringSubmatch(l)
				if m == nil || m[3] != "" || (m[1] != "r" && m[1] != "d") || strings.Contains(m[6], ":") {
					continue
				}
				orig := filepath.Join(originals, m[6])
				if _, err := os.Stat(orig); err != nil {
					continue
				}
				differs := false
				if m[1] == "r" {
					icat := oracle.Output(t, "icat", "-o", off, img, m[4])
					s := sha256.Sum256(icat)
					if hex.EncodeToString(s[:]) != fileSHA256(t, orig) {
						differs, contentDiffers[m[6]] = true, true
					}
				}
				if o := ownerLine.FindStringSubmatch(string(oracle.Output(t, "istat", "-o", off, img, m[4]))); o != nil {
					if o[1]+":"+o[2] != ownerOf(orig) {
						differs = true
					}
				}
				if differs {
					wantChanged = append(wantChanged, m[6])
				}
			}
			sort.Strings(wantChanged)
			res, by := diff(t, FromBaseline(base, sum), img)
			if got := paths(by[Removed]); !slices.Equal(got, wantRemoved) {
				t.Errorf("removed:\n got %q\nwant %q", got, wantRemoved)
			}
			if got := paths(by[Changed]); !slices.Equal(got, wantChanged) {
				t.Errorf("changed:\n got %q\nwant (icat) %q", got, wantChanged)
			}
			for _, c := range by[Changed] {
				if slices.Contains(c.Moved, "sha256") != contentDiffers[c.Path] {
					t.Errorf("%s changed by %q; icat says the bytes differ: %v", c.Path, c.Moved, contentDiffers[c.Path])
				}
			}
			if len(by[Added]) > 0 {
				t.Errorf("added %q, want none", paths(by[Added]))
			}
			if res.Deleted == 0 || res.Metadata == 0 {
				t.Errorf("result %+v: want deleted entries and file-system metadata counted", res)
			}
			t.Logf("%s: %+v", name, res)
		})
	}
}

// writeTree writes files (path → content) under a new folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

// TestHandEditedFolder: files changed, added, removed, re-moded and only
// touched by hand after the capture.
func TestHandEditedFolder(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"etc/app.conf": "port = 8080\n", "etc/motd": "hello\n", "var/www/index.html": "<p>results</p>\n",
		"opt/app/readme.txt": "x", "opt/app/touched.txt": "same bytes",
	})
	copyFile(t, "/bin/true", filepath.Join(dir, "usr/bin/tabulate"), 0o755)
	copyFile(t, "/bin/true", filepath.Join(dir, "usr/bin/export"), 0o755)
	base, sum := capture(t, dir)

	// The changes, by hand.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "etc/app.conf"), []byte("port = 9090\n"), 0o644))
	must(os.Remove(filepath.Join(dir, "etc/motd")))
	must(os.WriteFile(filepath.Join(dir, "var/www/admin.php"), []byte("<?php system($_GET['c']);"), 0o644))
	must(os.Chmod(filepath.Join(dir, "opt/app/readme.txt"), 0o600))
	old := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "opt/app/touched.txt"), old, old))
	copyFile(t, "/bin/false", filepath.Join(dir, "usr/bin/tabulate"), 0o755) // a planted binary
	copyFile(t, "/bin/true", filepath.Join(dir, "usr/lib/libvote.so.1"), 0o644)

	ref := FromBaseline(base, sum)
	res, by := diff(t, ref, dir)
	check := func(status string, want ...string) {
		t.Helper()
		sort.Strings(want)
		if got := paths(by[status]); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", status, got, want)
		}
	}
	check(Removed, "etc/motd")
	check(Added, "usr/lib", "usr/lib/libvote.so.1", "var/www/admin.php")
	check(Changed, "etc/app.conf", "opt/app/readme.txt", "usr/bin/tabulate")
	check(Touched, "opt/app/touched.txt")
	for _, c := range by[Changed] {
		var want []string
		switch c.Path {
		case "etc/app.conf":
			want = []string{"sha256", "mtime"} // same size: only the hash tells
		case "opt/app/readme.txt":
			want = []string{"mode"}
		case "usr/bin/tabulate":
			want = []string{"sha256", "mtime"}
			if !c.Executable {
				t.Error("the planted binary is not flagged executable")
			}
		}
		for _, w := range want {
			if !slices.Contains(c.Moved, w) {
				t.Errorf("%s moved %q, want %s among them", c.Path, c.Moved, w)
			}
		}
		if c.Path != "usr/bin/tabulate" && c.Executable {
			t.Errorf("%s flagged executable", c.Path)
		}
	}
	if res.Executables != 2 { // the changed binary and the new library
		t.Errorf("executables = %d, want 2", res.Executables)
	}
	if !slices.Contains(by[Touched][0].Moved, "mtime") {
		t.Errorf("touched moved %q, want mtime", by[Touched][0].Moved)
	}

	// The events: deterministic, the binary tagged.
	later := Later{SHA256: strings.Repeat("ab", 32), Name: "server1"}
	ids := map[string]string{}
	for _, c := range append(append(by[Changed], by[Added]...), by[Removed]...) {
		ev := c.Event(ref, later)
		if ev.Event.Dataset != Dataset || ev.Event.Action != "baseline-"+c.Status {
			t.Errorf("%s: dataset %q action %q", c.Path, ev.Event.Dataset, ev.Event.Action)
		}
		if again := c.Event(ref, later); again.Jejak.ID != ev.Jejak.ID {
			t.Errorf("%s: event ID not deterministic", c.Path)
		}
		if prev, dup := ids[ev.Jejak.ID]; dup {
			t.Errorf("%s and %s share event ID", prev, c.Path)
		}
		ids[ev.Jejak.ID] = c.Path
		if c.Path == "usr/bin/tabulate" && (!slices.Contains(ev.Jejak.Tags, TagBinary) || ev.Jejak.Data["baseline.executable"] != "true") {
			t.Errorf("planted binary event: tags %q data %v", ev.Jejak.Tags, ev.Jejak.Data)
		}
		for k := range ev.Jejak.Data {
			for k2 := range ev.Jejak.Data {
				if strings.HasPrefix(k2, k+".") {
					t.Errorf("data key %s is a prefix of %s", k, k2)
				}
			}
		}
	}
	// Another reference, same path and status: another event.
	ref2 := *ref
	ref2.SHA256 = strings.Repeat("cd", 32)
	if by[Removed][0].Event(&ref2, later).Jejak.ID == by[Removed][0].Event(ref, later).Jejak.ID {
		t.Error("two baselines give one event ID")
	}
}

// TestSha256sumManifest: manifests written by sha256sum (text mode, "./"
// paths as find gives them), md5sum --tag (BSD style) and sha1sum on a
// vendor tree, compared with the tree after changes by hand.
func TestSha256sumManifest(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/vote.cfg": "a=1\n", "app/readme": "read me\n", "app/lib/x.txt": "x\n"})
	copyFile(t, "/bin/true", filepath.Join(dir, "app/bin/count"), 0o755)
	for _, tool := range [][]string{{"sha256sum"}, {"md5sum", "--tag"}, {"sha1sum", "-b"}} {
		oracle.Tool(t, tool[0], "coreutils")
		cmd := exec.Command("sh", "-c", "find . -type f | sort | xargs "+strings.Join(tool, " "))
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		ref, warn, err := ReadManifest(bytes.NewReader(append([]byte("# vendor build 1.2\n"), out...)), tool[0])
		if err != nil || len(warn) > 0 {
			t.Fatalf("%s manifest: %v %v\n%s", tool[0], err, warn, out)
		}
		if len(ref.Files) != 4 {
			t.Fatalf("%s: %d files read, want 4", tool[0], len(ref.Files))
		}
		later := t.TempDir()
		if err := exec.Command("cp", "-a", dir+"/.", later).Run(); err != nil {
			t.Fatal(err)
		}
		copyFile(t, "/bin/false", filepath.Join(later, "app/bin/count"), 0o755)
		os.Remove(filepath.Join(later, "app/readme"))
		os.WriteFile(filepath.Join(later, "app/new.sh"), []byte("#!/bin/sh\n"), 0o755)
		res, by := diff(t, ref, later)
		if got := paths(by[Changed]); !slices.Equal(got, []string{"app/bin/count"}) || !by[Changed][0].Executable {
			t.Errorf("%s changed %q (%+v)", tool[0], got, by[Changed])
		}
		if got := paths(by[Removed]); !slices.Equal(got, []string{"app/readme"}) {
			t.Errorf("%s removed %q", tool[0], got)
		}
		// Folders are not in a file manifest: they are added, with the new file.
		if got := paths(by[Added]); !slices.Contains(got, "app/new.sh") {
			t.Errorf("%s added %q", tool[0], got)
		}
		if res.Unchanged != 2 {
			t.Errorf("%s unchanged %d, want 2", tool[0], res.Unchanged)
		}
	}
}

// TestManifestForms: CSV, JSON, NSRL RDS and damaged lines.
func TestManifestForms(t *testing.T) {
	sum := fileSHA256(t, "/bin/true")
	cases := []struct {
		name, text string
		files      int
		warns      int
		byName     bool
		fold       bool
	}{
		{"csv", "path,size,sha256\n/usr/bin/true,1,\"" + sum + "\"\n", 1, 0, false, false},
		{"csv windows", "FilePath,SHA-256\nC:\\Windows\\System32\\cmd.exe," + sum + "\n", 1, 0, false, true},
		{"nsrl", "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\n" +
			"\"0000004DA6391F7F5D2F7FCCF36CEBDA60C6EA02\",\"0E53C14A3E48D94FF596A2824307B492\",\"AA6A7B16\",\"00br2026.gif\",\"2226\",\"228\",\"WIN\",\"\"\n", 1, 0, true, false},
		{"json", `{"files":[{"path":"bin/true","sha256":"` + sum + `"},{"path":"x"}]}`, 1, 1, false, false},
		{"jsonl", `{"path":"bin/true","sha256":"` + sum + "\"}\nnot json\n", 1, 1, false, false},
		{"sum damaged", sum + "  bin/true\nzz  bin/x\n", 1, 1, false, false},
	}
	for _, c := range cases {
		ref, warn, err := ReadManifest(strings.NewReader(c.text), c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(ref.Files) != c.files || len(warn) != c.warns || ref.ByName != c.byName || ref.Fold != c.fold {
			t.Errorf("%s: %d files, warnings %v, byName %v, fold %v", c.name, len(ref.Files), warn, ref.ByName, ref.Fold)
		}
	}
	if _, _, err := ReadManifest(strings.NewReader("hello\n"), "junk"); err == nil {
		t.Error("a file without one hash line read as a manifest")
	}
}

// TestKey: how paths of a mounted tree, an image and a manifest meet.
func TestKey(t *testing.T) {
	for _, c := range []struct {
		in   string
		fold bool
		want string
	}{
		{"/etc/passwd", false, "etc/passwd"},
		{"./etc/passwd", false, "etc/passwd"},
		{"etc//ssh/../passwd", false, "etc/passwd"},
		{`C:\Windows\System32\CMD.EXE`, true, "windows/system32/cmd.exe"},
		{`c:/Windows/System32/cmd.exe`, true, "windows/system32/cmd.exe"},
		{`\Windows\System32\cmd.exe`, false, "Windows/System32/cmd.exe"},
		{"/Etc/Passwd", false, "Etc/Passwd"},
		{"../../etc/shadow", false, "etc/shadow"},
	} {
		if got := Key(c.in, c.fold); got != c.want {
			t.Errorf("Key(%q, %v) = %q, want %q", c.in, c.fold, got, c.want)
		}
	}
}

// TestFoldedMatch: a baseline of a Windows manifest (case and drive
// letters) matches a folder whose names differ in case.
func TestFoldedMatch(t *testing.T) {
	dir := writeTree(t, map[string]string{"Windows/System32/drivers/etc/hosts": "127.0.0.1 localhost\n"})
	s := fileSHA256(t, filepath.Join(dir, "Windows/System32/drivers/etc/hosts"))
	ref, _, err := ReadManifest(strings.NewReader(s+" *C:\\WINDOWS\\system32\\DRIVERS\\etc\\HOSTS\n"), "m")
	if err != nil {
		t.Fatal(err)
	}
	res, by := diff(t, ref, dir)
	if res.Unchanged != 1 || len(by[Removed]) != 0 {
		t.Errorf("folded match: %+v %v", res, by)
	}
}

// TestFactsOnDebianFiles: the fact extractors on this machine's own
// Debian files, each against an independent reader: cut for passwd and
// group, dpkg-query for packages, my_print_defaults for MariaDB's
// bind-address, pg_conftool for PostgreSQL's port.
func TestFactsOnDebianFiles(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Skipf("%s: %v", p, err)
		}
		return b
	}
	names := func(fs []Fact) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	lines := func(b []byte) []string {
		var out []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	t.Run("passwd", func(t *testing.T) {
		got := names(Extract("etc/passwd", read("/etc/passwd")))
		want := lines(oracle.Output(t, "cut", "-d:", "-f1", "/etc/passwd"))
		if !slices.Equal(got, want) {
			t.Errorf("accounts %q, cut says %q", got, want)
		}
	})
	t.Run("group", func(t *testing.T) {
		got := names(Extract("etc/group", read("/etc/group")))
		want := lines(oracle.Output(t, "cut", "-d:", "-f1", "/etc/group"))
		if !slices.Equal(got, want) {
			t.Errorf("groups %q, cut says %q", got, want)
		}
	})
	t.Run("dpkg", func(t *testing.T) {
		oracle.Tool(t, "dpkg-query", "dpkg")
		fs := Extract("var/lib/dpkg/status", read("/var/lib/dpkg/status"))
		var got []string
		for _, f := range fs {
			got = append(got, f.Name+" "+f.Detail["version"])
		}
		var want []string
		for _, l := range lines(oracle.Output(t, "dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\n")) {
			if s, rest, _ := strings.Cut(l, " "); s == "installed" {
				want = append(want, rest)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%d packages, dpkg-query says %d installed", len(got), len(want))
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		oracle.Tool(t, "my_print_defaults", "mariadb-client")
		p := "/etc/mysql/mariadb.conf.d/50-server.cnf"
		fs := Extract(strings.TrimPrefix(p, "/"), read(p))
		var want []string
		for _, l := range lines(oracle.Output(t, "my_print_defaults", "--defaults-file="+p, "mysqld")) {
			if k, v, ok := strings.Cut(strings.TrimPrefix(l, "--"), "="); ok && (k == "bind-address" || k == "port") {
				want = append(want, k+"="+v)
			}
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Detail["key"]+"="+f.Detail["value"])
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("listen facts %q, my_print_defaults says %q", got, want)
		}
	})
	t.Run("postgresql", func(t *testing.T) {
		oracle.Tool(t, "pg_conftool", "postgresql-common")
		ms, _ := filepath.Glob("/etc/postgresql/*/main/postgresql.conf")
		if len(ms) == 0 {
			t.Skip("no PostgreSQL cluster configuration on this machine")
		}
		ver := filepath.Base(filepath.Dir(filepath.Dir(ms[0])))
		want := strings.TrimSpace(string(oracle.Output(t, "pg_conftool", "-s", ver, "main", "show", "port")))
		fs := Extract(strings.TrimPrefix(ms[0], "/"), read(ms[0]))
		var port string
		for _, f := range fs {
			if f.Detail["key"] == "port" {
				port = f.Detail["value"]
			}
		}
		if port != want {
			t.Errorf("port %q, pg_conftool says %q", port, want)
		}
	})
}

// TestFactsTable: the extractors on small texts in the forms their
// programs document.
func TestFactsTable(t *testing.T) {
	for _, c := range []struct {
		path, text string
		want       []string // category name key=value…
	}{
		{"etc/sudoers", "Defaults env_reset\n# comment\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
			[]string{"sudoers root", "sudoers %sudo", "sudoers @includedir /etc/sudoers.d"}},
		{"etc/crontab", "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot root /opt/tab/start\n",
			[]string{"scheduled_task crontab command=cd / && run-parts --report /etc/cron.hourly", "scheduled_task crontab command=/opt/tab/start"}},
		{"var/spool/cron/crontabs/operator", "*/5 * * * * /home/operator/sync.sh\n",
			[]string{"scheduled_task operator command=/home/operator/sync.sh"}},
		{"etc/ssh/sshd_config", "#Port 22\nPort 2222\nListenAddress 10.0.0.5\n",
			[]string{"listen sshd port 2222", "listen sshd listenaddress 10.0.0.5"}},
		{"etc/nginx/sites-enabled/default", "server {\n  listen 443 ssl;\n  listen [::]:443 ssl;\n}\n",
			[]string{"listen nginx listen 443 ssl", "listen nginx listen [::]:443 ssl"}},
		{"root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3Nza admin@vendor\nfrom=\"10.0.0.1\" ssh-rsa AAAAB3 backup\n",
			[]string{"ssh_key admin@vendor", "ssh_key backup"}},
		{"etc/chrony/chrony.conf", "pool 2.debian.pool.ntp.org iburst\nserver ntp.kpu.go.id\n",
			[]string{"ntp 2.debian.pool.ntp.org iburst", "ntp ntp.kpu.go.id"}},
		{"etc/systemd/timesyncd.conf", "[Time]\nNTP=time.example\n#FallbackNTP=x\n", []string{"ntp time.example"}},
		{"lib/systemd/system/tabulator.service", "[Service]\nUser=tab\nExecStart=/opt/tab/bin/tabulator --serve\n",
			[]string{"service tabulator.service"}},
		{"Windows/System32/Tasks/Updater", `<?xml version="1.0"?><Task><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals><Actions><Exec><Command>C:\u.exe</Command><Arguments>/q</Arguments></Exec></Actions></Task>`,
			[]string{"scheduled_task Updater command=C:\\u.exe /q"}},
	} {
		fs := Extract(c.path, []byte(c.text))
		var got []string
		for _, f := range fs {
			s := f.Category + " " + f.Name
			if cmd := f.Detail["command"]; cmd != "" {
				s += " command=" + cmd
			}
			got = append(got, s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.path, got, c.want)
		}
		for _, f := range fs {
			if f.Source != c.path {
				t.Errorf("%s: fact source %q", c.path, f.Source)
			}
		}
	}
}

// TestCaptureOwnerAndFacts: a folder capture records uid:gid as stat
// gives it, and the facts of the files it passes.
func TestCaptureOwnerAndFacts(t *testing.T) {
	dir := writeTree(t, map[string]string{"etc/timezone": "Asia/Jakarta\n"})
	copyFile(t, "/etc/passwd", filepath.Join(dir, "etc/passwd"), 0o644)
	if err := os.Symlink("/usr/share/zoneinfo/Asia/Jakarta", filepath.Join(dir, "etc/localtime")); err != nil {
		t.Fatal(err)
	}
	b, _ := capture(t, dir)
	want := strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	for _, f := range b.Files {
		if f.Owner != want {
			t.Errorf("%s owner %q, want %q", f.Path, f.Owner, want)
		}
		if f.Path == "etc/localtime" && (f.Kind != "symlink" || f.Link != "/usr/share/zoneinfo/Asia/Jakarta") {
			t.Errorf("localtime recorded as %+v", f)
		}
	}
	var zones []string
	accounts := 0
	for _, f := range b.Facts {
		switch f.Category {
		case "timezone":
			zones = append(zones, f.Name)
		case "account":
			accounts++
		}
	}
	if !slices.Equal(zones, []string{"Asia/Jakarta", "Asia/Jakarta"}) || accounts == 0 {
		t.Errorf("zones %q, %d accounts", zones, accounts)
	}
	if b.Trailer.Facts != int64(len(b.Facts)) {
		t.Errorf("trailer counts %d facts, file holds %d", b.Trailer.Facts, len(b.Facts))
	}
}

// TestArchiveSourceMatchesFolder: a baseline of a .tar.gz made by tar
// (with a zip inside) against the folder it was made from: nothing
// differs. The archive's own layers are not files of the tree, tar's
// missing folder entries are implied by the files in them, and the zip,
// which the walk expands without giving its bytes, is compared by size.
func TestArchiveSourceMatchesFolder(t *testing.T) {
	oracle.Tool(t, "tar", "tar")
	oracle.Tool(t, "zip", "zip")
	dir := writeTree(t, map[string]string{"etc/motd": "hello\n", "etc/app/app.conf": "a=1\n"})
	copyFile(t, "/bin/true", filepath.Join(dir, "usr/bin/tabulate"), 0o755)
	oracle.Run(t, "sh", "-c", "cd "+dir+" && zip -q etc/app/conf.zip etc/app/app.conf")
	tgz := filepath.Join(t.TempDir(), "server.tgz")
	oracle.Run(t, "tar", "-C", dir, "-czf", tgz, "--no-recursion", "usr/bin/tabulate", "etc/motd", "etc/app/app.conf", "etc/app/conf.zip")
	base, sum := capture(t, tgz)
	for _, f := range base.Files {
		if f.FS != "tar" || f.Volume != "gzip:" {
			t.Errorf("%s: fs %q volume %q, want tar under gzip:", f.Path, f.FS, f.Volume)
		}
	}
	if len(base.Files) != 4 || base.Trailer.Members != 1 {
		t.Errorf("%d files, %d members skipped; want 4 and 1 (the zip's)", len(base.Files), base.Trailer.Members)
	}
	res, by := diff(t, FromBaseline(base, sum), dir)
	if len(by[Added])+len(by[Changed])+len(by[Removed]) > 0 {
		t.Errorf("differences %v", by)
	}
	if res.Unchanged < 4 {
		t.Errorf("result %+v", res)
	}
}

// TestFATImageCaseFolded: a folder baseline of a Windows tree against a
// FAT image made by mkfs.vfat and mcopy, the names copied in upper case
// as DOS tools leave them: FAT ignores case, so the paths match; the
// file changed on the image is the one reported.
func TestFATImageCaseFolded(t *testing.T) {
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := writeTree(t, map[string]string{"Windows/System32/drivers/etc/hosts": "127.0.0.1 localhost\n", "Program Files/Tab/tab.ini": "seats=100\n"})
	copyFile(t, "/bin/true", filepath.Join(dir, "Windows/System32/TabSvc.exe"), 0o644)
	base, sum := capture(t, dir)

	img := filepath.Join(t.TempDir(), "fat.img")
	oracle.Run(t, "mkfs.vfat", "-C", img, "8192")
	for _, d := range []string{"WINDOWS", "WINDOWS/SYSTEM32", "WINDOWS/SYSTEM32/DRIVERS", "WINDOWS/SYSTEM32/DRIVERS/ETC", "PROGRAM FILES", "PROGRAM FILES/TAB"} {
		oracle.Run(t, "mmd", "-i", img, "::"+d)
	}
	oracle.Run(t, "mcopy", "-m", "-i", img, filepath.Join(dir, "Windows/System32/drivers/etc/hosts"), "::WINDOWS/SYSTEM32/DRIVERS/ETC/HOSTS")
	oracle.Run(t, "mcopy", "-m", "-i", img, filepath.Join(dir, "Program Files/Tab/tab.ini"), "::PROGRAM FILES/TAB/TAB.INI")
	oracle.Run(t, "mcopy", "-m", "-i", img, "/bin/false", "::WINDOWS/SYSTEM32/TABSVC.EXE") // replaced

	res, by := diff(t, FromBaseline(base, sum), img)
	if got := paths(by[Changed]); len(got) != 1 || !strings.EqualFold(got[0], "Windows/System32/TabSvc.exe") || !by[Changed][0].Executable {
		t.Errorf("changed %q (%+v), want the replaced TabSvc.exe flagged", got, by[Changed])
	}
	if len(by[Added])+len(by[Removed]) > 0 {
		t.Errorf("added %q removed %q: the case-folded paths did not match", paths(by[Added]), paths(by[Removed]))
	}
	t.Logf("%+v", res)
}

// TestTruncatedImage: an image cut short still gives a baseline of what
// it holds, and says what it could not read: every file whose bytes
// lie past the cut is an error (counted, named), not a silent hash of
// zeros.
func TestTruncatedImage(t *testing.T) {
	img := oracle.Sample(t, "ext4")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.img")
	if err := os.WriteFile(cut, b[:len(b)/4], 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := capture(t, cut)
	tr := base.Trailer
	if tr.Hashed == 0 || tr.ProblemCount == 0 || int64(len(tr.Problems)) != tr.ProblemCount {
		t.Errorf("trailer %+v: want files hashed and the unreadable ones counted and listed", tr)
	}
	for _, f := range base.Files {
		if f.Kind == "file" && f.SHA256 == "" && f.Error == "" && !f.Container {
			t.Errorf("%s: neither hashed nor an error", f.Path)
		}
	}
}

// TestTaskXMLUTF16: a Task Scheduler file as Windows writes it (UTF-16LE
// with a byte-order mark, encoding="UTF-16"), encoded here by iconv.
func TestTaskXMLUTF16(t *testing.T) {
	oracle.Tool(t, "iconv", "libc-bin")
	xml := `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
  <Actions Context="Author"><Exec><Command>C:\ProgramData\Pemilu\sync😀.exe</Command><Arguments>--upload</Arguments></Exec></Actions>
</Task>`
	src := filepath.Join(t.TempDir(), "task.xml")
	if err := os.WriteFile(src, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	body := oracle.Output(t, "iconv", "-f", "UTF-8", "-t", "UTF-16LE", src)
	fs := Extract("Windows/System32/Tasks/Pemilu Sync", append([]byte{0xff, 0xfe}, body...))
	if len(fs) != 1 || fs[0].Detail["command"] != `C:\ProgramData\Pemilu\sync😀.exe --upload` || fs[0].Detail["user"] != "S-1-5-18" || fs[0].Name != "Pemilu Sync" {
		t.Errorf("facts %+v", fs)
	}
}

// TestEventPerVolume: one path changed in two partitions of the later
// evidence gives two events.
func TestEventPerVolume(t *testing.T) {
	ref := &Reference{Kind: "baseline", Name: "b", SHA256: "00"}
	mk := func(vol string) Change {
		return Change{Status: Changed, Path: "etc/passwd", Moved: []string{"sha256"},
			Before: &File{Path: "etc/passwd", Kind: "file"}, After: &File{Path: "etc/passwd", Kind: "file", FS: "ext4", Volume: vol}}
	}
	later := Later{SHA256: "11", Name: "disk"}
	a, b := mk("raw: partition:1@1048576").Event(ref, later), mk("raw: partition:2@116391936").Event(ref, later)
	if a.Jejak.ID == b.Jejak.ID {
		t.Error("one path in two partitions gives one event ID")
	}
	if a.Jejak.ID != mk("raw: partition:1@1048576").Event(ref, later).Jejak.ID {
		t.Error("event ID not deterministic")
	}
}

// TestFactsBelowRoot: a capture of a folder named etc (as of /etc
// itself), or of a tree mounted below the root, finds the facts a
// capture of "/" finds.
func TestFactsBelowRoot(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "mnt", "server", "etc")
	copyFile(t, "/etc/passwd", filepath.Join(etc, "passwd"), 0o644)
	copyFile(t, "/etc/group", filepath.Join(etc, "group"), 0o644)
	for _, dir := range []string{etc, filepath.Join(root, "mnt", "server")} {
		b, _ := capture(t, dir)
		cats := map[string]int{}
		for _, f := range b.Facts {
			cats[f.Category]++
			if !strings.HasSuffix(f.Source, "mnt/server/etc/passwd") && !strings.HasSuffix(f.Source, "mnt/server/etc/group") {
				t.Errorf("%s: fact source %q", dir, f.Source)
			}
		}
		if cats["account"] == 0 || cats["group"] == 0 {
			t.Errorf("%s: facts %v", dir, cats)
		}
	}
}

// TestExt4Owners: owners in an ext4 image made by mkfs.ext4 -d from a
// folder whose files were given owners by chown (one past 16 bits, which
// ext4 splits in two fields): the image's owners read back equal the
// folder's, and istat (The Sleuth Kit) agrees for each.
func TestExt4Owners(t *testing.T) {
	oracle.Tool(t, "mkfs.ext4", "e2fsprogs")
	oracle.Tool(t, "istat", "sleuthkit")
	if os.Getuid() != 0 {
		t.Skip("chown to other owners needs root")
	}
	dir := writeTree(t, map[string]string{"etc/shadow": "root:*:1::::::\n", "home/op/notes": "x\n", "srv/big": "y\n"})
	owners := map[string][2]int{"etc/shadow": {0, 42}, "home/op/notes": {1234, 5678}, "srv/big": {70000, 100000}}
	for p, o := range owners {
		if err := os.Chown(filepath.Join(dir, p), o[0], o[1]); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "ext4.img")
	oracle.Run(t, "mkfs.ext4", "-q", "-F", "-d", dir, img, "8M")
	base, _ := capture(t, img)
	seen := 0
	for _, f := range base.Files {
		o, ok := owners[f.Path]
		if !ok {
			continue
		}
		seen++
		want := strconv.Itoa(o[0]) + ":" + strconv.Itoa(o[1])
		if f.Owner != want {
			t.Errorf("%s owner %q, want %q", f.Path, f.Owner, want)
		}
		ist := string(oracle.Output(t, "istat", img, f.Inode))
		if !strings.Contains(ist, "uid / gid: "+strconv.Itoa(o[0])+" / "+strconv.Itoa(o[1])) {
			t.Errorf("%s: istat says\n%s", f.Path, ist)
		}
	}
	if seen != len(owners) {
		t.Errorf("%d of %d files found in the image", seen, len(owners))
	}
}

// TestNSRLByName: an NSRL RDS-style list written from sha1sum and md5sum
// output: a file whose name it lists with another hash is changed, a
// name it lists with the file's hash unchanged, a name it does not list
// counted as unlisted, nothing removed.
func TestNSRLByName(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "/bin/true", filepath.Join(dir, "bin/true"), 0o755)
	copyFile(t, "/bin/false", filepath.Join(dir, "bin/false"), 0o755)
	copyFile(t, "/etc/hostname", filepath.Join(dir, "etc/hostname"), 0o644)
	first := func(out []byte) string { return strings.ToUpper(strings.Fields(string(out))[0]) }
	sha1True, md5True := first(oracle.Output(t, "sha1sum", "/bin/true")), first(oracle.Output(t, "md5sum", "/bin/true"))
	fi, err := os.Stat("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	size := strconv.FormatInt(fi.Size(), 10)
	rds := "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\n" +
		"\"" + sha1True + "\",\"" + md5True + "\",\"00000000\",\"true\",\"" + size + "\",\"1\",\"LINUX\",\"\"\n" +
		// "false" listed with true's hashes: the file on disk differs.
		"\"" + sha1True + "\",\"" + md5True + "\",\"00000000\",\"false\",\"" + size + "\",\"1\",\"LINUX\",\"\"\n" +
		"\"" + strings.Repeat("A", 40) + "\",\"" + strings.Repeat("B", 32) + "\",\"0\",\"unused.dll\",\"1\",\"1\",\"WIN\",\"\"\n"
	ref, warn, err := ReadManifest(strings.NewReader(rds), "NSRLFile.txt")
	if err != nil || len(warn) > 0 || !ref.ByName {
		t.Fatalf("%v %v byName %v", err, warn, ref != nil && ref.ByName)
	}
	res, by := diff(t, ref, dir)
	if got := paths(by[Changed]); !slices.Equal(got, []string{"bin/false"}) {
		t.Errorf("changed %q, want bin/false", got)
	}
	if len(by[Added])+len(by[Removed]) > 0 || res.Unlisted != 1 || res.Unchanged != 1 {
		t.Errorf("result %+v (added %q removed %q)", res, paths(by[Added]), paths(by[Removed]))
	}
}
