package fs_test

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// gzipHeader reads FNAME and MTIME straight from RFC 1952's fixed layout:
// an oracle that does not go through any gzip library.
func gzipHeader(b []byte) (name string, mtime time.Time) {
	if b[3]&0x08 != 0 {
		i := 10
		if b[3]&0x04 != 0 { // FEXTRA
			i += 2 + int(binary.LittleEndian.Uint16(b[10:]))
		}
		end := i
		for b[end] != 0 {
			end++
		}
		name = string(b[i:end])
	}
	if s := binary.LittleEndian.Uint32(b[4:]); s != 0 {
		mtime = time.Unix(int64(s), 0).UTC()
	}
	return name, mtime
}

func TestCorpusArchives(t *testing.T) {
	syslog := sum(readCorpus(t, "logs/syslog/syslog_copy"))
	wtmp := sum(readCorpus(t, "logs/linux/wtmp.1"))
	gzName, gzTime := gzipHeader(readCorpus(t, "archives/syslog.gz"))
	tgzName, _ := gzipHeader(readCorpus(t, "archives/syslog.tgz"))
	if gzName == "" {
		t.Fatal("oracle: syslog.gz should carry its original name")
	}

	tests := []struct {
		file string
		want map[string]string // chain -> sha256
		path string            // Entry.Path of the syslog entry
		// mtime of the syslog entry; bzip2 and xz record none, so the
		// member inherits the compressed file's own mtime.
		mtime time.Time
	}{
		{"syslog.tar", map[string]string{key("tar:syslog"): syslog}, "syslog", tarTime(t)},
		{"syslog.tgz", map[string]string{key("gzip:"+tgzName, "tar:syslog"): syslog}, "syslog", tarTime(t)},
		{"syslog.zip", map[string]string{key("zip:syslog"): syslog, key("zip:wtmp.1"): wtmp}, "syslog", zipTime(t)},
		{"syslog.gz", map[string]string{key("gzip:" + gzName): syslog}, gzName, gzTime},
		{"syslog.bz2", map[string]string{key("bzip2:"): syslog}, "syslog", fileMtime(t, "archives/syslog.bz2")},
		{"syslog.xz", map[string]string{key("xz:"): syslog}, "syslog", fileMtime(t, "archives/syslog.xz")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			items, probs := fstest.Contract(t, open(t, parsertest.Corpus(t, "archives/"+tt.file), jfs.Options{}))
			items = members(items)
			dumpProblems(t, probs)
			if len(probs) != 0 {
				t.Errorf("%d problems on a sound archive", len(probs))
			}
			got := map[string]string{}
			for _, it := range items {
				got[it.Key()] = it.SHA256
				if it.SHA256 == syslog {
					if it.Path != tt.path {
						t.Errorf("Path %q, want %q", it.Path, tt.path)
					}
					if !it.Times.Modified.Equal(tt.mtime) {
						t.Errorf("mtime %v, want %v", it.Times.Modified, tt.mtime)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d entries %v, want %d", len(got), keys(items), len(tt.want))
			}
			for k, h := range tt.want {
				if got[k] != h {
					t.Errorf("entry %q: sha256 %q, want %q (got chains %q)", k, got[k], h, keys(items))
				}
			}
		})
	}
}

// tarTime asks GNU tar for the member's mtime.
func tarTime(t *testing.T) time.Time {
	t.Helper()
	// GNU tar is the oracle for tar times.
	oracle.Tool(t, "tar", "tar")
	out := oracle.Output(t, "tar", "--full-time", "-tvf", parsertest.Corpus(t, "archives/syslog.tar"))
	f := strings.Fields(string(out)) // mode owner size date time name
	tm, err := time.Parse("2006-01-02 15:04:05", f[3]+" "+f[4])
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// zipTime asks Info-ZIP's zipinfo for syslog's mtime.
func zipTime(t *testing.T) time.Time {
	t.Helper()
	// Info-ZIP's zipinfo is the oracle for zip times.
	oracle.Tool(t, "zipinfo", "unzip")
	out := oracle.Output(t, "zipinfo", "-T", parsertest.Corpus(t, "archives/syslog.zip"), "syslog")
	f := strings.Fields(string(out))
	tm, err := time.Parse("20060102.150405", f[len(f)-2])
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func fileMtime(t *testing.T, rel string) time.Time {
	st, err := os.Stat(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime().UTC()
}
