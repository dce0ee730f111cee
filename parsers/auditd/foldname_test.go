package auditd

import (
	"bytes"
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// byName is a head that is not an audit record but holds "msg=audit(":
// Match leaves it to the name.
var byName = []byte("x msg=audit(1.2:3)\n")

func FuzzAuditName(f *testing.F) {
	p := New()
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, byName) }, func(name string) bool {
		return strings.HasPrefix(strings.ToLower(path.Base(name)), "audit") && bytes.Contains(byName, []byte("msg=audit("))
	}, "AUDIT.LOG", "var/log/audit/Audit.log.1", "aud\u0130t.log", "audıt")
}

func BenchmarkMatchName(b *testing.B) {
	e := &jfs.Entry{Path: "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"}
	p := New()
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = strings.HasPrefix(strings.ToLower(path.Base(e.Path)), "audit")
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, byName)
		}
	})
}

// TestAuditNamesUnchanged holds Match, on a head that leaves it to the
// name, to the ToLower name test over NameCases: the first-byte pre-check
// must not turn away a name the old test took.
func TestAuditNamesUnchanged(t *testing.T) {
	p := New()
	parsertest.NamesUnchanged(t, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, byName) }, func(name string) bool {
		return strings.HasPrefix(strings.ToLower(path.Base(name)), "audit")
	}, "audit", ".log")
}
