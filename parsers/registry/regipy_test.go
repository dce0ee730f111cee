package registry

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// regipyScript prints every key regipy (a Python registry parser) walks,
// with its last-written time to the microsecond.
const regipyScript = `
import sys
from regipy.registry import RegistryHive
for sk in RegistryHive(sys.argv[1]).recurse_subkeys(as_json=False):
    print(sk.path + "\t" + sk.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f"))
`

func regipyPython(t *testing.T) string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import regipy").Run() == nil {
			return py
		}
	}
	t.Skip("regipy not installed: pip install regipy")
	return ""
}

// TestKeyTimesEqualRegipy: regipy keeps microseconds (converted through
// floating point, so off by up to one), and the key times are compared
// within a microsecond (the other oracles print seconds): every key regipy
// walks is an event with its time.
func TestKeyTimesEqualRegipy(t *testing.T) {
	py := regipyPython(t)
	for _, c := range corpusHives {
		t.Run(c.rel, func(t *testing.T) {
			path := parsertest.Corpus(t, c.rel)
			out, err := exec.Command(py, "-c", regipyScript, path).Output()
			if err != nil {
				t.Fatalf("regipy: %v", err)
			}
			want := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if p, ts, ok := strings.Cut(sc.Text(), "\t"); ok {
					want[p] = ts
				}
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			have := map[string]time.Time{}
			for _, ev := range keyEvents(res) {
				have[ev.Jejak.Data["registry.key"]] = ev.Timestamp
			}
			if len(want) < 50 {
				t.Fatalf("regipy walked %d keys", len(want))
			}
			for p, w := range want {
				// regipy goes through floating point to its microseconds:
				// within one of them.
				rt, err := time.Parse("2006-01-02T15:04:05.000000", w)
				got, ok := have[p]
				if d := got.Sub(rt); err != nil || !ok || d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("%s: %v, regipy %s", p, got, w)
				}
			}
		})
	}
}
