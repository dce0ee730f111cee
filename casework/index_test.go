package casework_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework"
)

// TestESOptionsConfig: the checks 'jejak index', 'search' and the workers
// apply to how a cluster is named, table by table.
func TestESOptionsConfig(t *testing.T) {
	pem := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(pem, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    casework.ESOptions
		// want: the error's text (an OptionError unless io is set), or
		// the config's URLs, index, user and compression.
		err, urls, index, user string
		uncompressed, warned   bool
		io                     bool
	}{
		{name: "no node", o: casework.ESOptions{Workers: 2}, err: "--es URL is required"},
		{name: "comma list, default index", o: casework.ESOptions{URLs: []string{"http://127.0.0.1:9200, http://localhost:9201"}, CaseName: "KPU 2024/Jakarta", Workers: 2},
			urls: "http://127.0.0.1:9200 http://localhost:9201", index: "jejak-kpu-2024-jakarta", uncompressed: true},
		{name: "remote node gzips", o: casework.ESOptions{URLs: []string{"https://es1:9200"}, Index: "x", Workers: 1}, urls: "https://es1:9200", index: "x"},
		{name: "compress off", o: casework.ESOptions{URLs: []string{"https://es1:9200"}, Index: "x", Workers: 1, Compress: "off"}, urls: "https://es1:9200", index: "x", uncompressed: true},
		{name: "credentials in the URL", o: casework.ESOptions{URLs: []string{"http://ana:s3cret@10.0.0.5:9200"}, Index: "x", Workers: 1},
			urls: "http://10.0.0.5:9200", index: "x", user: "ana", warned: true},
		{name: "two sets of credentials", o: casework.ESOptions{URLs: []string{"http://ana:s3cret@10.0.0.5:9200"}, User: "bob", Workers: 1}, err: "give them once"},
		{name: "no bulk worker", o: casework.ESOptions{URLs: []string{"http://127.0.0.1:9200"}}, err: "--bulk-workers must be at least 1"},
		{name: "bad compress", o: casework.ESOptions{URLs: []string{"http://127.0.0.1:9200"}, Workers: 1, Compress: "yes"}, err: "--compress must be auto, on or off"},
		{name: "bad fingerprint", o: casework.ESOptions{URLs: []string{"http://127.0.0.1:9200"}, Workers: 1, CAFingerprint: "AB:CD"}, err: "64 hex digits"},
		{name: "CA file missing", o: casework.ESOptions{URLs: []string{"https://es1:9200"}, Workers: 1, CACertFile: pem + ".gone"}, err: "--ca-cert", io: true},
		{name: "CA file", o: casework.ESOptions{URLs: []string{"https://es1:9200"}, Workers: 1, Index: "x", CACertFile: pem}, urls: "https://es1:9200", index: "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var warned string
			c.o.Warn = func(m string) { warned = m }
			cfg, err := c.o.Config()
			if c.err != "" {
				var oe *casework.OptionError
				if err == nil || !strings.Contains(err.Error(), c.err) || errors.As(err, &oe) == c.io {
					t.Fatalf("error %v (option error: %v), want %q (option error: %v)", err, errors.As(err, &oe), c.err, !c.io)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.URLs, " "); got != c.urls || cfg.Index != c.index || cfg.User != c.user || cfg.Uncompressed != c.uncompressed {
				t.Errorf("config urls %q index %q user %q uncompressed %v", got, cfg.Index, cfg.User, cfg.Uncompressed)
			}
			if (warned != "") != c.warned || strings.Contains(warned, "s3cret") {
				t.Errorf("warning %q, want one: %v (never the password)", warned, c.warned)
			}
			if c.o.CACertFile != "" && len(cfg.CACert) == 0 {
				t.Error("CA file not read")
			}
		})
	}
}
