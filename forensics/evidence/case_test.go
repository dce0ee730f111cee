package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInitOpenRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pemilu-2024")
	c, err := Init(dir, Config{Examiner: "Siti", Zone: "Asia/Jakarta", ToolVersion: "v0.1.0", Clock: stepClock(testBase)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{caseFile, registryFile, custodyFile, headFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: want a file, got %v", name, err)
		}
	}
	for _, name := range []string{tempDir, manifestDir} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || !st.IsDir() {
			t.Errorf("%s: want a folder, got %v", name, err)
		}
	}
	if _, err := os.Stat(c.StorePath()); !os.IsNotExist(err) {
		t.Errorf("case.db is reserved, not created: %v", err)
	}
	if c.StorePath() != filepath.Join(c.Dir(), "case.db") || c.TempDir() != filepath.Join(c.Dir(), "tmp") {
		t.Errorf("store %s, temp %s: want both inside %s", c.StorePath(), c.TempDir(), c.Dir())
	}

	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{FormatVersion: FormatVersion, Name: "pemilu-2024", Examiner: "Siti", Zone: "Asia/Jakarta", Created: testBase, ToolVersion: "v0.1.0"}
	if got := o.Info(); got != want {
		t.Errorf("reopened info\n got %+v\nwant %+v", got, want)
	}
	if o.Location().String() != "Asia/Jakarta" || o.Examiner() != "Siti" {
		t.Errorf("location %s, examiner %s", o.Location(), o.Examiner())
	}
	if items, err := o.Evidence(); err != nil || len(items) != 0 {
		t.Errorf("new case evidence = %v, %v; want none", items, err)
	}
	entries, err := o.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "case_init" || entries[0].Details["zone"] != "Asia/Jakarta" || !entries[0].Time.Equal(testBase) {
		t.Errorf("custody after init = %+v", entries)
	}

	// OpenWith acts as another examiner without changing the case itself.
	o2, err := OpenWith(dir, Config{Examiner: "Budi", Clock: stepClock(testBase.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Log("note", map[string]any{"text": "second examiner"}); err != nil {
		t.Fatal(err)
	}
	entries, err = o2.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Examiner != "Budi" || o2.Info().Examiner != "Siti" {
		t.Errorf("entry examiner %q, case examiner %q", last.Examiner, o2.Info().Examiner)
	}
}

func TestInitZones(t *testing.T) {
	for _, tc := range []struct {
		zone, want string // want "" means refused
	}{
		{"", "UTC"},
		{"UTC", "UTC"},
		{"Asia/Jakarta", "Asia/Jakarta"},
		{"Asia/Makassar", "Asia/Makassar"},
		{"Mars/Olympus", ""},
		{"Local", ""}, // the machine's zone would make the case irreproducible
		{"+07:00", ""},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			c, err := Init(filepath.Join(t.TempDir(), "c"), Config{Examiner: "x", Zone: tc.zone})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("zone %q accepted as %s", tc.zone, c.Location())
				}
				if !strings.Contains(err.Error(), tc.zone) {
					t.Errorf("error does not name the zone: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Location().String() != tc.want || c.Info().Zone != tc.want {
				t.Errorf("zone = %s / %s, want %s", c.Location(), c.Info().Zone, tc.want)
			}
		})
	}
}

func TestInitRefusals(t *testing.T) {
	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
		_, err := Init(dir, Config{Examiner: "x"})
		if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "notes.txt") {
			t.Errorf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, caseFile)); !os.IsNotExist(err) {
			t.Error("refused init still wrote case.json")
		}
	})
	t.Run("existing case", func(t *testing.T) {
		c := newCase(t)
		_, err := Init(c.Dir(), Config{Examiner: "x"})
		if !errors.Is(err, ErrCaseExists) {
			t.Errorf("err = %v, want ErrCaseExists", err)
		}
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, nil, 0o600)
		if _, err := Init(p, Config{Examiner: "x"}); err == nil || !strings.Contains(err.Error(), "not a folder") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no examiner", func(t *testing.T) {
		if _, err := Init(t.TempDir(), Config{}); err == nil || !strings.Contains(err.Error(), "examiner") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("empty existing folder is fine", func(t *testing.T) {
		if _, err := Init(t.TempDir(), Config{Examiner: "x"}); err != nil {
			t.Error(err)
		}
	})
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		want   string // must appear in the error
	}{
		{"missing case.json", func(d string) { os.Remove(filepath.Join(d, caseFile)) }, caseFile},
		{"malformed case.json", func(d string) { os.WriteFile(filepath.Join(d, caseFile), []byte("{\"name\": "), 0o600) }, caseFile},
		{"case.json bad zone", func(d string) { rewrite(d, caseFile, `"Asia/Jakarta"`, `"Mars/Olympus"`) }, "Mars/Olympus"},
		{"case.json future format", func(d string) { rewrite(d, caseFile, `"format_version": 1`, `"format_version": 99`) }, "format version 99"},
		{"case.json without examiner", func(d string) { rewrite(d, caseFile, `"Siti Examiner"`, `""`) }, caseFile},
		{"missing evidence.json", func(d string) { os.Remove(filepath.Join(d, registryFile)) }, registryFile},
		{"malformed evidence.json", func(d string) { os.WriteFile(filepath.Join(d, registryFile), []byte("[1,2"), 0o600) }, registryFile},
		{"missing custody.log", func(d string) { os.Remove(filepath.Join(d, custodyFile)) }, custodyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t)
			tc.damage(c.Dir())
			_, err := Open(c.Dir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nowhere")); err == nil || !strings.Contains(err.Error(), caseFile) {
		t.Errorf("open of a missing folder: %v", err)
	}
}

func rewrite(dir, name, old, new string) {
	p := filepath.Join(dir, name)
	b, _ := os.ReadFile(p)
	s := strings.Replace(string(b), old, new, 1)
	if s == string(b) {
		panic("rewrite: " + old + " not found in " + name)
	}
	os.WriteFile(p, []byte(s), 0o600)
}
