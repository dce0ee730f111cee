package baseline

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// reglookup runs the oracle on a hive under a key and returns
// path → value lines of the given type.
func reglookup(t *testing.T, hive, key string) map[string]string {
	t.Helper()
	oracle.Tool(t, "reglookup", "reglookup")
	m := map[string]string{}
	for _, l := range strings.Split(string(oracle.Output(t, "reglookup", "-p", key, hive)), "\n")[1:] {
		f := strings.SplitN(l, ",", 4)
		if len(f) == 4 {
			// reglookup writes "%" and "," in names and data as %XX.
			p, err1 := url.PathUnescape(f[0])
			v, err2 := url.PathUnescape(f[2])
			if err1 != nil || err2 != nil {
				t.Fatalf("reglookup line %q", l)
			}
			m[p] = f[1] + "," + v
		}
	}
	return m
}

// TestSAMAccounts: the accounts of plaso's SAM test hive, against
// reglookup: every key under Users\Names, its RID the default value's
// type.
func TestSAMAccounts(t *testing.T) {
	hive := parsertest.Corpus(t, "windows/registry/SAM")
	b, err := os.ReadFile(hive)
	if err != nil {
		t.Fatal(err)
	}
	fs := Extract("Windows/System32/config/SAM", b)
	var got []string
	for _, f := range fs {
		got = append(got, f.Name+" "+f.Detail["rid"])
	}
	var want []string
	const names = "/SAM/Domains/Account/Users/Names/"
	for p, tv := range reglookup(t, hive, names) {
		rest := strings.TrimPrefix(p, names)
		if name, ok := strings.CutSuffix(rest, "/"); ok && name != "" && !strings.Contains(name, "/") {
			typ, _, _ := strings.Cut(tv, ",")
			rid, err := strconv.ParseUint(strings.TrimPrefix(typ, "0x"), 16, 32)
			if err != nil {
				t.Fatalf("reglookup type %q", typ)
			}
			want = append(want, name+" "+strconv.FormatUint(rid, 10))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("SAM accounts %q, reglookup says %q", got, want)
	}
}

// TestSystemAndSoftwareHives: hives written by hivex (the scripts of
// parsers/registry's tests) read for services, time zone and installed
// programs, against reglookup on the same hives.
func TestSystemAndSoftwareHives(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import hivex").Run() != nil {
		t.Skip("python3-hivex not installed: apt-get install -y python3-hivex")
	}
	sam, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/regparser").Output()
	if err != nil {
		t.Skipf("regparser module source not found: %v", err)
	}
	shim := filepath.Join(strings.TrimSpace(string(out)), "appcompatcache/test_data/Win10.bin")
	build := func(script string, args ...string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "hive")
		if err := os.WriteFile(p, sam, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("/usr/bin/python3", append([]string{"../../parsers/registry/testdata/" + script, p}, args...)...).CombinedOutput(); err != nil {
			t.Skipf("%s: %v\n%s", script, err, out)
		}
		return p
	}
	t.Run("SYSTEM", func(t *testing.T) {
		hive := build("mksystem.py", shim)
		b, _ := os.ReadFile(hive)
		fs := Extract("Windows/System32/config/SYSTEM", b)
		var services []string
		var zone string
		for _, f := range fs {
			switch f.Category {
			case "service":
				services = append(services, f.Name+" "+f.Detail["image_path"])
			case "timezone":
				zone = f.Name
			case "error":
				t.Errorf("error fact %+v", f)
			}
		}
		var want []string
		const svc = "/ControlSet001/Services/"
		for p, tv := range reglookup(t, hive, svc) {
			if name, ok := strings.CutSuffix(strings.TrimPrefix(p, svc), "/ImagePath"); ok && !strings.Contains(name, "/") {
				_, v, _ := strings.Cut(tv, ",")
				want = append(want, name+" "+v)
			}
		}
		sort.Strings(services)
		sort.Strings(want)
		if len(want) == 0 || !slices.Equal(services, want) {
			t.Errorf("services %q, reglookup says %q", services, want)
		}
		tz := reglookup(t, hive, "/ControlSet001/Control/TimeZoneInformation/TimeZoneKeyName")
		_, wz, _ := strings.Cut(tz["/ControlSet001/Control/TimeZoneInformation/TimeZoneKeyName"], ",")
		if zone == "" || zone != wz {
			t.Errorf("time zone %q, reglookup says %q", zone, wz)
		}
	})
	t.Run("SOFTWARE", func(t *testing.T) {
		hive := build("mksoftware.py")
		b, _ := os.ReadFile(hive)
		var got []string
		for _, f := range Extract("Windows/System32/config/SOFTWARE", b) {
			if f.Category == "package" {
				got = append(got, f.Name)
			}
		}
		var want []string
		for _, key := range []string{"/Microsoft/Windows/CurrentVersion/Uninstall/", "/Wow6432Node/Microsoft/Windows/CurrentVersion/Uninstall/"} {
			for p, tv := range reglookup(t, hive, key) {
				if strings.HasSuffix(p, "/DisplayName") && strings.Count(strings.TrimPrefix(p, key), "/") == 1 {
					_, v, _ := strings.Cut(tv, ",")
					want = append(want, v)
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("programs %q, reglookup says %q", got, want)
		}
	})
}

// TestDamagedHive: a hive cut short or with a broken signature gives an
// error fact naming the file, not a panic or silence.
func TestDamagedHive(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"cut": b[:4200], "signature": append([]byte("regX"), b[4:]...)} {
		fs := Extract("Windows/System32/config/SAM", data)
		if len(fs) == 0 {
			t.Errorf("%s: no fact at all", name)
		}
		for _, f := range fs {
			if f.Source != "Windows/System32/config/SAM" {
				t.Errorf("%s: fact source %q", name, f.Source)
			}
		}
		t.Logf("%s: %+v", name, fs)
	}
}
