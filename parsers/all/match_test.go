package all

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// byFormat says which parser must take a corpus file, from the format
// column of MANIFEST.tsv (which the corpus's curators wrote, not us): the
// first matching pattern wins; "" means no parser may take it (disk images
// are opened by walkers, oracle files are not evidence), "-" that the
// registry never sees the file (archives and compressed files are expanded
// before detection).
var byFormat = []struct {
	format *regexp.Regexp
	parser string
}{
	{regexp.MustCompile(`^(zip|xz|tar|tar\.gz|gzip|bzip2)$`), "-"},
	{regexp.MustCompile(`^oracle|^Sigma rule|^EWF/E01 split|^ewf$|^mbr-partitions|disk image|filesystem image|^fat$|appcompatcache-value`), ""},
	{regexp.MustCompile(`(?i)^evtx`), "evtx"},
	{regexp.MustCompile(`^evt$`), "evt"},
	{regexp.MustCompile(`^regf`), "registry"},
	{regexp.MustCompile(`^ese-ual`), "ual"},
	{regexp.MustCompile(`^prefetch`), "prefetch"},
	{regexp.MustCompile(`^lnk`), "lnk"},
	{regexp.MustCompile(`^olecf-jumplist`), "jumplist_automatic"},
	{regexp.MustCompile(`^custom-jumplist`), "jumplist_custom"},
	{regexp.MustCompile(`^recycle-bin`), "recyclebin"},
	{regexp.MustCompile(`^NTFS \$MFT`), "mft"},
	{regexp.MustCompile(`^usnjrnl`), "usnjrnl"},
	{regexp.MustCompile(`^JPEG`), "exif"},
	{regexp.MustCompile(`^(utmp|wtmp)`), "utmp"},
	{regexp.MustCompile(`^setupapi`), "setupapi"},
	{regexp.MustCompile(`^teamviewer-log`), "teamviewer_log"},
	{regexp.MustCompile(`^teamviewer`), "teamviewer_connections"},
	{regexp.MustCompile(`^powershell-transcript`), "powershell_transcript"},
	{regexp.MustCompile(`^winfirewall`), "winfirewall"},
	{regexp.MustCompile(`(?i)^auditd`), "auditd"},
	{regexp.MustCompile(`(?i)^postgresql`), "postgresql"},
	{regexp.MustCompile(`^MySQL`), "mysql"},
	{regexp.MustCompile(`^dpkg`), "dpkg"},
	{regexp.MustCompile(`^bash-history`), "bash_history"},
	{regexp.MustCompile(`(?i)^(apache|nginx|iis)`), "weblog"},
	{regexp.MustCompile(`(?i)^(syslog|sshd|linux auth\.log)`), "syslog"},
}

// TestMatchOrder runs the registry, in its match order and with the line
// sampling ingest uses, over every file of the corpus, and checks that the
// parser its format needs takes it and no other: a parser added in the
// wrong place (a text format before a more specific one, a loose binary
// match) shows here as another parser taking a corpus file.
func TestMatchOrder(t *testing.T) {
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("corpus not found (%v)", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	reg := Registry()
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) < 7 {
			t.Fatalf("MANIFEST.tsv line %q", line)
		}
		rel, format := f[1], f[6]
		want, known := "", false
		for _, m := range byFormat {
			if m.format.MatchString(format) {
				want, known = m.parser, true
				break
			}
		}
		if !known {
			t.Errorf("%s: format %q has no expected parser in byFormat (add one)", rel, format)
			continue
		}
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err != nil || want == "-" {
			continue // not redistributable and ../shared absent
		}
		got := detect(t, reg, p)
		if got != want {
			t.Errorf("%s (%s): taken by %q, want %q", rel, format, got, want)
		}
		checked++
	}
	if checked < 50 {
		t.Errorf("only %d corpus files checked", checked)
	}
}

// detect picks a parser for a file as ingest does: the head first, then
// lines sampled through the file.
func detect(t *testing.T, reg *parsers.Registry, path string) string {
	t.Helper()
	e := parsertest.FileEntry(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	head, err := br.Peek(parsers.HeadSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		t.Fatal(err)
	}
	if p := reg.Match(e, head); p != nil {
		return p.Name()
	}
	start, err := br.Peek(br.Size())
	d := reg.Detect(e, parsers.SampleLines(start, errors.Is(err, io.EOF), f, e.Size))
	if d.Parser != nil {
		return d.Parser.Name()
	}
	return ""
}
