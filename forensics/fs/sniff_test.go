package fs_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// v7Tar turns a USTAR archive's first header into a pre-POSIX one: no
// magic, only the checksum says it is a tar.
func v7Tar(t *testing.T, ustar []byte) []byte {
	b := bytes.Clone(ustar)
	clear(b[257:500]) // magic, version, uname, gname, devs, prefix
	copy(b[148:156], "        ")
	var s int64
	for _, c := range b[:512] {
		s += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", s))
	return b
}

func TestSniff(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	star := readCorpus(t, "archives/syslog.tar")
	pad := func(b []byte) []byte { return append(bytes.Clone(b), make([]byte, 600)...) }
	tests := []struct {
		name string
		head []byte
		want jfs.Kind
	}{
		{"gzip", readCorpus(t, "archives/syslog.gz"), jfs.KindGzip},
		{"tgz", readCorpus(t, "archives/syslog.tgz"), jfs.KindGzip},
		{"bzip2", readCorpus(t, "archives/syslog.bz2"), jfs.KindBzip2},
		{"xz", readCorpus(t, "archives/syslog.xz"), jfs.KindXz},
		{"zip", readCorpus(t, "archives/syslog.zip"), jfs.KindZip},
		{"empty zip", makeZip(t), jfs.KindZip},
		{"ustar", star, jfs.KindTar},
		{"v7 tar", v7Tar(t, star), jfs.KindTar},
		{"gnu tar", v7GNU(star), jfs.KindTar},
		{"log", syslog, jfs.KindPlain},
		{"wtmp", readCorpus(t, "logs/linux/wtmp.1"), jfs.KindPlain},
		{"empty", nil, jfs.KindPlain},
		{"gzip magic, method 9", pad([]byte{0x1f, 0x8b, 9, 0}), jfs.KindPlain},
		{"gzip magic, reserved flag", pad([]byte{0x1f, 0x8b, 8, 0x20}), jfs.KindPlain},
		{"BZh text", pad([]byte("BZh9 is not a stream")), jfs.KindPlain},
		{"PK text", pad([]byte("PK is a name")), jfs.KindPlain},
		{"tar, bad checksum", func() []byte { b := bytes.Clone(star); b[0] ^= 1; return b }(), jfs.KindPlain},
		{"short tar", star[:300], jfs.KindPlain},
		{"zero block", make([]byte, 1024), jfs.KindPlain},
	}
	for _, tt := range tests {
		if got := jfs.Sniff(tt.head); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	// The v7 archive must also walk.
	ev := filepath.Join(t.TempDir(), "old.tar")
	write(t, ev, v7Tar(t, star))
	items, probs := fstest.Contract(t, open(t, ev, jfs.Options{}))
	items = members(items)
	if len(probs) != 0 || len(items) != 1 || items[0].SHA256 != sum(syslog) {
		t.Errorf("v7 tar: %q %v", keys(items), probs)
	}
}

// v7GNU sets the old GNU magic "ustar  \0" in place of POSIX's.
func v7GNU(ustar []byte) []byte {
	b := bytes.Clone(ustar)
	copy(b[257:265], "ustar  \x00")
	copy(b[148:156], "        ")
	var s int64
	for _, c := range b[:512] {
		s += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", s))
	return b
}

// TestPlainFile: a single plain file is its own one-layer chain, with the
// times and inode stat(1) reports.
func TestPlainFile(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	ev := filepath.Join(t.TempDir(), "auth.log")
	write(t, ev, syslog)
	items, probs := fstest.Contract(t, open(t, ev, jfs.Options{}))
	if len(probs) != 0 || len(items) != 1 {
		t.Fatalf("%q %v", keys(items), probs)
	}
	it := items[0]
	if it.Key() != "file:auth.log" || it.Path != "auth.log" || it.Size != int64(len(syslog)) || it.SHA256 != sum(syslog) {
		t.Errorf("got %+v", it)
	}
	if it.RandomSHA256 == "" {
		t.Error("a file on disk must offer ReaderAt")
	}
	if runtime.GOOS != "linux" {
		return
	}
	oracle.Tool(t, "stat", "coreutils")
	out := oracle.Output(t, "stat", "--format=%i %.9Y %.9X %.9Z %.9W", ev)
	f := strings.Fields(string(out))
	if it.Inode != f[0] {
		t.Errorf("inode %q, stat says %q", it.Inode, f[0])
	}
	for i, got := range []time.Time{it.Times.Modified, it.Times.Accessed, it.Times.Changed, it.Times.Born} {
		want := parseStatTime(t, f[i+1])
		if want.IsZero() && i == 3 {
			continue // no birth time on this file system
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("time %d (M,A,C,B): %v, stat says %v", i, got, want)
		}
	}
}

func parseStatTime(t *testing.T, s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return time.Time{}
	}
	ns, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(n, ns).UTC()
}
