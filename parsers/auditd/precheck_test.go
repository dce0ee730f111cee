package auditd

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzMatchLines compares Match with its loop over bytes.SplitN, as it was.
func FuzzMatchLines(f *testing.F) {
	for _, s := range []string{
		"type=SYSCALL msg=audit(1700000000.123:1): x\n", "node=h type=USER msg=audit(1.2:3): x\n",
		"\n\n\n\n\n\n\n\ntype=X msg=audit(1", "\n\n\n\n\n\n\ntype=X\nmsg=audit(1", "", "x msg=audit(",
		// Leading bytes on the edges of the first-byte test.
		"\vtype=X msg=audit(1", "\ftype=X msg=audit(1", "\u0085type=X msg=audit(1", "\u00a0type=X msg=audit(1",
		"\u2028type=X msg=audit(1", "\x00type=X msg=audit(1", "Type=X msg=audit(1", "Node=x type=X msg=audit(1",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		for _, name := range []string{"audit.log.1", "other"} {
			e := parsertest.BytesEntry(name, head, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			want := false
			for _, line := range bytes.SplitN(head, []byte("\n"), 8) {
				line = bytes.TrimSpace(line)
				if len(line) == 0 {
					continue
				}
				if bytes.HasPrefix(line, []byte("node=")) {
					if i := bytes.IndexByte(line, ' '); i > 0 {
						line = line[i+1:]
					}
				}
				want = bytes.HasPrefix(line, []byte("type=")) && bytes.Contains(line, []byte(" msg=audit("))
				break
			}
			if !want {
				base := strings.ToLower(path.Base(e.Path))
				want = strings.HasPrefix(base, "audit") && bytes.Contains(head, []byte("msg=audit("))
			}
			if got := p.Match(e, head); got != want {
				t.Errorf("Match(%s, %q) = %v, SplitN loop %v", name, head, got, want)
			}
		}
	})
}

// TestMatchHeads: the corpus audit logs are taken, whole and from each of
// their first lines on, under their own name and another; heads of other
// corpus logs are not, but by an audit.log name that holds "msg=audit(".
func TestMatchHeads(t *testing.T) {
	p := New()
	taken := 0
	for _, rel := range []string{"logs/linux/audit_enriched.log", "logs/linux/selinux.log", "more/audit/go-libaudit_audit-rhel7.log",
		"more/audit/go-libaudit_audit-ubuntu16.log", "more/audit/go-libaudit_test3.log"} {
		b, err := os.ReadFile(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		for i, n := 0, 0; i < len(b) && n < 20; n++ {
			h := b[i:min(len(b), i+parsers.HeadSize)]
			for _, name := range []string{path.Base(rel), "x.txt"} {
				if p.Match(parsertest.BytesEntry(name, h, time.Time{}), h) {
					taken++
				} else if n == 0 {
					t.Errorf("%s: head not taken as %s", rel, name)
				}
			}
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	if taken < 100 {
		t.Errorf("%d heads taken", taken)
	}
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	others, _ := filepath.Glob(filepath.Join(dir, "logs", "*", "*"))
	for _, f := range others {
		if strings.Contains(f, "audit") || strings.Contains(f, "selinux") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		h := b[:min(len(b), parsers.HeadSize)]
		if p.Match(parsertest.BytesEntry(path.Base(f), h, time.Time{}), h) {
			t.Errorf("%s taken", f)
		}
		want := bytes.Contains(h, []byte("msg=audit("))
		if got := p.Match(parsertest.BytesEntry("audit.log", h, time.Time{}), h); got != want {
			t.Errorf("%s as audit.log: Match %v, holds msg=audit( %v", f, got, want)
		}
	}
}
