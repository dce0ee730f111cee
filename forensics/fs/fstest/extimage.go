package fstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ContainerTreeContainers is how many expanded containers a walk of the
// image MakeContainerImage builds delivers: the .docx, the .odt, hidden.zip,
// the inner.tgz in it and its tar, sys.tgz and its tar, and the .gz, .bz2
// and .xz logs, and the deleted gone.zip, whose blocks debugfs's rm frees
// without clearing the inode's block map, so it is recovered like icat
// would.
const ContainerTreeContainers = 11

// MakeContainerImage writes, with the real tools (zip, tar, gzip, bzip2,
// xz, mke2fs, debugfs), an ext2/3/4 image whose files are containers: a
// .docx and an .odt (zip inside), a .zip holding a .tgz, a .tgz, a .gz, a
// .bz2 and an .xz log, a plain file, and a deleted .zip. Each file has its
// own access and modification times, so a time attributed to the wrong
// file shows. mkfsArgs are mke2fs's options before the image (e.g. "-t",
// "ext4"). The test is skipped when a tool is missing.
func MakeContainerImage(t testing.TB, dir string, mkfsArgs ...string) string {
	t.Helper()
	for _, tool := range [][2]string{{"zip", "zip"}, {"tar", "tar"}, {"gzip", "gzip"}, {"bzip2", "bzip2"}, {"xz", "xz-utils"}, {"mke2fs", "e2fsprogs"}, {"debugfs", "e2fsprogs"}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			t.Skipf("%s not installed: apt-get install -y %s", tool[0], tool[1])
		}
	}
	stage := filepath.Join(dir, "stage")
	src := filepath.Join(dir, "src")
	put := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cwd string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "TZ=UTC")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	for _, d := range []string{filepath.Join(src, "docs"), filepath.Join(src, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	syslog := "Feb 14 20:01:02 tabulasi-01 sshd[811]: Accepted password for admin from 203.0.113.45 port 50522 ssh2\n"

	// A Word document's parts, zipped the way Word does (no extra fields).
	docx := filepath.Join(stage, "docx")
	put(filepath.Join(docx, "[Content_Types].xml"), `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	put(filepath.Join(docx, "word", "document.xml"), `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Berita acara</w:t></w:r></w:p></w:body></w:document>`)
	run(docx, "zip", "-X", "-q", "-r", filepath.Join(src, "docs", "report.docx")+".tmp", "[Content_Types].xml", "word")
	// An OpenDocument text: "mimetype" first and stored, as ODF requires.
	odt := filepath.Join(stage, "odt")
	put(filepath.Join(odt, "mimetype"), "application/vnd.oasis.opendocument.text")
	put(filepath.Join(odt, "content.xml"), `<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>`)
	put(filepath.Join(odt, "META-INF", "manifest.xml"), `<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`)
	run(odt, "zip", "-X", "-q", "-0", filepath.Join(src, "docs", "minutes.odt")+".tmp", "mimetype")
	run(odt, "zip", "-X", "-q", "-r", filepath.Join(src, "docs", "minutes.odt")+".tmp", "content.xml", "META-INF")
	// hidden.zip holds a secret and a .tgz of logs: containers two deep.
	hid := filepath.Join(stage, "hidden")
	put(filepath.Join(hid, "notes", "a.log"), syslog)
	put(filepath.Join(hid, "secret.txt"), "rekap C1 asli\n")
	run(hid, "tar", "-czf", "inner.tgz", "notes")
	run(hid, "zip", "-X", "-q", filepath.Join(src, "hidden.zip")+".tmp", "secret.txt", "inner.tgz")
	// sys.tgz: a tar of a small system tree.
	sys := filepath.Join(stage, "sys")
	put(filepath.Join(sys, "etc", "hostname"), "tabulasi-01\n")
	put(filepath.Join(sys, "var", "log", "syslog"), syslog)
	run(sys, "tar", "-czf", filepath.Join(src, "sys.tgz")+".tmp", "etc", "var")
	// Compressed single logs: gzip records a name and time, bzip2 and xz none.
	for _, c := range [][2]string{{"gzip", "syslog.1.gz"}, {"bzip2", "auth.log.2.bz2"}, {"xz", "kern.log.3.xz"}} {
		plain := filepath.Join(stage, "logs", strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(c[1], ".gz"), ".bz2"), ".xz"))
		put(plain, syslog)
		run(filepath.Dir(plain), c[0], "-k", filepath.Base(plain))
		ext := filepath.Ext(c[1])
		if err := os.Rename(plain+ext, filepath.Join(src, "logs", c[1])+".tmp"); err != nil {
			t.Fatal(err)
		}
	}
	put(filepath.Join(src, "plain.txt")+".tmp", "not a container\n")
	run(hid, "zip", "-X", "-q", filepath.Join(src, "gone.zip")+".tmp", "secret.txt")

	// Distinct times per file, one hour apart, access a minute after.
	base := time.Date(2024, 2, 14, 8, 0, 0, 0, time.UTC)
	i := 0
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".tmp") {
			return err
		}
		final := strings.TrimSuffix(p, ".tmp")
		if err := os.Rename(p, final); err != nil {
			return err
		}
		m := base.Add(time.Duration(i) * time.Hour)
		i++
		return os.Chtimes(final, m.Add(time.Minute), m)
	})
	if err != nil {
		t.Fatal(err)
	}

	img := filepath.Join(dir, "containers.img")
	args := append([]string{"-q", "-F", "-d", src}, mkfsArgs...)
	args = append(args, img, "16M")
	cmd := exec.Command("mke2fs", args...)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs %q: %v\n%s", args, err, out)
	}
	cmd = exec.Command("debugfs", "-w", "-R", "rm gone.zip", img)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700003600")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs rm: %v\n%s", err, out)
	}
	return img
}

// TimeRow is one time a file system records for a file, as fls -m prints
// it and as filestat events carry it: "path|inode|desc|unix seconds",
// with " (deleted)" after the path for a deleted name.
type TimeRow = string

// FlsTimes runs fls -r -m on the file system at sector offset of image and
// returns every nonzero time of every file and folder it lists (the
// virtual $OrphanFiles folder left out), with how often each appears.
func FlsTimes(t testing.TB, image string, sector int64) map[TimeRow]int {
	t.Helper()
	if _, err := exec.LookPath("fls"); err != nil {
		t.Skip("fls not installed: apt-get install -y sleuthkit")
	}
	cmd := exec.Command("fls", "-r", "-m", "/", "-o", strconv.FormatInt(sector, 10), image)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fls: %v", err)
	}
	rows := map[TimeRow]int{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 11 {
			t.Fatalf("fls line %q", sc.Text())
		}
		if len(f[3]) < 3 || f[3][2] == 'V' || f[3][2] == '-' {
			continue
		}
		p, deleted := strings.TrimPrefix(f[1], "/"), ""
		if i := strings.Index(p, " (deleted"); i >= 0 {
			p, deleted = p[:i], " (deleted)"
		}
		for i, desc := range []string{"Last Access Time", "Content Modification Time", "Metadata Modification Time", "Creation Time"} {
			if f[7+i] != "0" {
				rows[fmt.Sprintf("%s%s|%s|%s|%s", p, deleted, f[2], desc, f[7+i])]++
			}
		}
	}
	return rows
}

// Row builds the TimeRow of one time of a file.
func Row(path string, deleted bool, inode, desc string, tm time.Time) TimeRow {
	d := ""
	if deleted {
		d = " (deleted)"
	}
	return fmt.Sprintf("%s%s|%s|%s|%d", path, d, inode, desc, tm.Unix())
}
