package auditd

import (
	"bytes"
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// byName is a head that is not an audit record but holds "msg=audit(":
// Match leaves it to the name.
var byName = []byte("x msg=audit(1.2:3)\n")

func FuzzAuditName(f *testing.F) {
	for _, s := range []string{"NTUSER.DAT", "Windows/System32/winevt/Logs/Security.evtx", "\u212A", "\u0130", "a\xffb", "\xe2\x84", "x\xe2\x84\xaa", "", "/", "a/", "\\", "a\\b\\", "AUDIT.LOG", "var/log/audit/Audit.log.1", "aud\u0130t.log", "audıt"} {
		f.Add(s)
	}
	p := New()
	f.Fuzz(func(t *testing.T, name string) {
		want := strings.HasPrefix(strings.ToLower(path.Base(name)), "audit") && bytes.Contains(byName, []byte("msg=audit("))
		if got := p.Match(&jfs.Entry{Path: name}, byName); got != want {
			t.Fatalf("Match(%q) = %v, was %v", name, got, want)
		}
	})
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
