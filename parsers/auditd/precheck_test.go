package auditd

import (
	"bytes"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzMatchLines compares Match with its loop over bytes.SplitN, as it was.
func FuzzMatchLines(f *testing.F) {
	for _, s := range []string{
		"type=SYSCALL msg=audit(1700000000.123:1): x\n", "node=h type=USER msg=audit(1.2:3): x\n",
		"\n\n\n\n\n\n\n\ntype=X msg=audit(1", "\n\n\n\n\n\n\ntype=X\nmsg=audit(1", "", "x msg=audit(",
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
