package registry

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"www.velocidex.com/golang/regparser/appcompatcache"
)

// regparserDir is the module directory of regparser, whose appcompatcache
// test data (Eric Zimmerman's AppCompatCacheParser samples) and golden
// outputs are oracles here.
func regparserDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/regparser").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("regparser module directory not found (%v)", err)
	}
	return dir
}

// TestShimCacheTruncatedCorpus: the corpus values (Velociraptor's, cut to
// 4 KiB) decode to the entries regparser's decoder finds before the cut,
// path and time (to the second) equal; the cut entry is an error, not a
// crash.
func TestShimCacheTruncatedCorpus(t *testing.T) {
	want := map[string]string{"Win80_trunc.bin": ShimWin8, "Win81_trunc.bin": ShimWin81,
		"Win10_trunc.bin": ShimWin10, "Win10Creators_trunc.bin": ShimWin10C}
	for name, format := range want {
		t.Run(name, func(t *testing.T) {
			d, err := os.ReadFile(parsertest.Corpus(t, "agpl/appcompatcache/"+name))
			if err != nil {
				t.Fatal(err)
			}
			f, got, err := ParseShimCache(d)
			if f != format {
				t.Errorf("format %q, want %q", f, format)
			}
			if !errors.Is(err, ErrShimTruncated) {
				t.Errorf("err %v, want a truncated entry", err)
			}
			if len(got) < 5 {
				t.Fatalf("%d entries", len(got))
			}
			ref := appcompatcache.ParseValueData(d)
			if len(ref) < len(got) {
				t.Fatalf("regparser %d entries, ours %d", len(ref), len(got))
			}
			for i, e := range got {
				if e.Path != ref[i].Name || uint64(e.Modified.Time().Unix()) != ref[i].Epoch {
					t.Errorf("entry %d: %q %v, regparser %q %d", i, e.Path, e.Modified.Time(), ref[i].Name, ref[i].Epoch)
				}
			}
		})
	}
}

// TestShimCacheGolden: the whole values decode to as many entries as
// regparser finds, and the first ten equal regparser's golden files.
func TestShimCacheGolden(t *testing.T) {
	dir := regparserDir(t)
	for _, name := range []string{"Win80", "Win81", "Win10", "Win10Creators"} {
		t.Run(name, func(t *testing.T) {
			d, err := os.ReadFile(filepath.Join(dir, "appcompatcache/test_data", name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			g, err := os.ReadFile(filepath.Join(dir, "appcompatcache/fixtures", "appcompatcache_"+name+".bin.golden"))
			if err != nil {
				t.Fatal(err)
			}
			var golden []struct {
				Name  string `json:"name"`
				Epoch int64  `json:"epoch"`
			}
			if err := json.Unmarshal(g, &golden); err != nil {
				t.Fatal(err)
			}
			_, got, err := ParseShimCache(d)
			if err != nil {
				t.Fatal(err)
			}
			if ref := appcompatcache.ParseValueData(d); len(ref) != len(got) {
				t.Errorf("%d entries, regparser %d", len(got), len(ref))
			}
			for i, w := range golden {
				if got[i].Path != w.Name || got[i].Modified.Time().Unix() != w.Epoch {
					t.Errorf("entry %d: %q %d, golden %q %d", i, got[i].Path, got[i].Modified.Time().Unix(), w.Name, w.Epoch)
				}
			}
		})
	}
}

// Windows 7 values (no regparser decoder): every entry's path is a
// Windows path and every time plausible; the 64- and 32-bit layouts are
// told apart.
func TestShimCacheWin7(t *testing.T) {
	dir := regparserDir(t)
	for name, format := range map[string]string{"win7x64": ShimWin7x64, "win7x86": ShimWin7x86, "Win2k8Standard": ShimVista64} {
		t.Run(name, func(t *testing.T) {
			d, err := os.ReadFile(filepath.Join(dir, "appcompatcache/test_data", name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			f, got, err := ParseShimCache(d)
			if err != nil || f != format || len(got) < 10 {
				t.Fatalf("%s, %d entries, %v", f, len(got), err)
			}
			for _, e := range got {
				if !strings.Contains(e.Path, `\`) || e.Modified.OutOfRange() && e.Modified != 0 {
					t.Errorf("entry %d: %q %v", e.Position, e.Path, e.Modified.Time())
				}
			}
		})
	}
}

func FuzzShimCache(f *testing.F) {
	if dir, err := parsertest.CorpusDir(); err == nil {
		for _, n := range []string{"Win80_trunc.bin", "Win10Creators_trunc.bin"} {
			if b, err := os.ReadFile(filepath.Join(dir, "agpl/appcompatcache", n)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { ParseShimCache(b) })
}

// TestShimCacheVelociraptor: the corpus values are Velociraptor's test
// files; its Windows.Registry.AppCompatCache test expects 19, 15, 16 and
// 18 entries of them (the last Windows 10 entries cut by the 4 KiB, their
// path and time still whole), whose first and last are below. Velociraptor
// writes SYSVOL as %SystemRoot% and its query language drops "$Windows"
// from a path: both undone here.
func TestShimCacheVelociraptor(t *testing.T) {
	type entry struct{ path, time string }
	want := []struct {
		file        string
		n           int
		first, last entry
	}{
		{"Win10Creators_trunc.bin", 19,
			entry{`C:\Program Files (x86)\NVIDIA Corporation\3D Vision\nvstreg.exe`, "2017-03-16T22:56:01Z"},
			entry{`C:\Program Files (x86)\NVIDIA Corporation\3D Vision\nvStInst.exe`, "2017-03-16T22:56:00Z"}},
		{"Win10_trunc.bin", 15,
			entry{`C:\WINDOWS\System32\vds.exe`, "2015-03-14T08:51:44Z"},
			entry{`C:\Users\eric.ZIM\AppData\Local\Temp\9336C276-1E29-4743-8D17-2F8E3F5671B0\dismhost.exe`, "2015-03-14T07:39:04Z"}},
		{"Win80_trunc.bin", 16,
			entry{`%SystemRoot%\Windows\System32\LogonUI.exe`, "2012-07-26T03:20:49Z"},
			entry{`%SystemRoot%\Windows\System32\netsh.exe`, "2012-07-26T03:20:51Z"}},
		{"Win81_trunc.bin", 18,
			entry{`%SystemRoot%\Program Files\CrashPlan\jre\bin\java.exe`, "2013-12-04T23:47:23Z"},
			entry{`\??\F:\15b25f69aaa0999d37f224116fca\Setup.exe`, "2015-02-04T23:01:12Z"}},
	}
	norm := func(e ShimEntry) entry {
		p := strings.ReplaceAll(e.Path, "$Windows", "")
		if rest, ok := strings.CutPrefix(p, `SYSVOL\`); ok {
			p = `%SystemRoot%\` + rest
		}
		return entry{p, e.Modified.Time().Format("2006-01-02T15:04:05Z")}
	}
	for _, w := range want {
		d, err := os.ReadFile(parsertest.Corpus(t, "agpl/appcompatcache/"+w.file))
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := ParseShimCache(d)
		if !errors.Is(err, ErrShimTruncated) {
			t.Errorf("%s: %v, want the cut entry reported", w.file, err)
		}
		if len(got) != w.n || norm(got[0]) != w.first || norm(got[len(got)-1]) != w.last {
			t.Errorf("%s: %d entries, first %v, last %v; Velociraptor %d, %v, %v", w.file, len(got), norm(got[0]), norm(got[len(got)-1]), w.n, w.first, w.last)
		}
	}
}
