package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/urfave/cli/v2"
)

// defaultRulesURL is SigmaHQ's release asset with every rule folder
// (rules, emerging threats, threat hunting...), through GitHub's
// "latest release" redirect.
const defaultRulesURL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"

// Limits for what a rules zip may hold: SigmaHQ's full release is about
// 10 MB packed, 40 MB unpacked, in a few thousand files; far beyond that is
// not a rules release (or is a zip bomb).
const (
	fetchMaxZip      = 256 << 20
	fetchMaxUnpacked = 1 << 30
	fetchMaxFile     = 16 << 20
)

// fetchRecord is DIR/FETCHED.json: where the rules came from, so a
// report can name the exact release a hunt used.
type fetchRecord struct {
	URL      string    `json:"url"`
	FinalURL string    `json:"final_url,omitempty"` // after redirects
	SHA256   string    `json:"sha256"`              // of the zip as downloaded
	Bytes    int64     `json:"bytes"`
	Fetched  time.Time `json:"fetched"`
	Files    int       `json:"files"`
	Rules    int       `json:"rules"` // YAML files that are Sigma rules
	Tool     string    `json:"tool"`
}

func rulesFetchCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download a SigmaHQ release zip into a rules folder",
		ArgsUsage: "DIR",
		Description: `Downloads a SigmaHQ rules release (default: the latest sigma_all_rules.zip
from github.com/SigmaHQ/sigma), checks that it is a zip of Sigma YAML rules,
and unpacks it into DIR (created; a DIR from an earlier fetch is replaced,
any other non-empty DIR is refused). No entry may leave DIR (absolute paths,
"..", links are refused). DIR/FETCHED.json records the URL, the zip's SHA-256
and the date, so 'jejak hunt --rules DIR' can be traced to a release.

   jejak rules fetch ~/sigma
   jejak rules fetch --url https://github.com/SigmaHQ/sigma/releases/download/r2024-09-02/sigma_core.zip ~/sigma-core`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Value: defaultRulesURL, Usage: "release zip `URL` (http or https)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("rules fetch takes one argument, the rules folder")
			}
			rec, err := fetchRules(c, c.String("url"), c.Args().First(), e.now)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d Sigma rules (%d files) from %s\nsha256 %s\nunpacked into %s (FETCHED.json)\n",
				rec.Rules, rec.Files, rec.URL, rec.SHA256, c.Args().First())
			return nil
		},
	}
}

func fetchRules(c *cli.Context, url, dir string, now func() time.Time) (*fetchRecord, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, usagef("--url %q: want an http(s) URL", url)
	}
	dir = filepath.Clean(dir)
	if err := checkFetchTarget(dir); err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	// The zip and the unpacked tree are staged beside DIR, so DIR is only
	// replaced by a complete, checked fetch.
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	req, err := http.NewRequestWithContext(c.Context, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("--url: %v", err)
	}
	req.Header.Set("User-Agent", "jejak/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	zf, err := os.Create(filepath.Join(stage, "rules.zip"))
	if err != nil {
		return nil, err
	}
	defer zf.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(zf, h), io.LimitReader(resp.Body, fetchMaxZip+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	if n > fetchMaxZip {
		return nil, fmt.Errorf("fetch %s: more than %d MiB, not a rules release", url, fetchMaxZip>>20)
	}
	rec := &fetchRecord{URL: url, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n, Fetched: now().UTC().Truncate(time.Second), Tool: "jejak " + version}
	if u := resp.Request.URL.String(); u != url {
		rec.FinalURL = u
	}
	zr, err := zip.NewReader(zf, n)
	if err != nil {
		return nil, fmt.Errorf("%s is not a zip: %w", url, err)
	}
	tree := filepath.Join(stage, "rules")
	if err := unpackRules(zr, tree, rec); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if rec.Rules == 0 {
		return nil, fmt.Errorf("%s: no Sigma rule (YAML with a detection) in the zip", url)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(filepath.Join(tree, "FETCHED.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil { // checked above: absent, empty, or an earlier fetch
		return nil, err
	}
	if err := os.Rename(tree, dir); err != nil {
		return nil, err
	}
	return rec, nil
}

// checkFetchTarget refuses to replace a folder that is not an earlier
// fetch: a rules folder of the examiner's own is never deleted.
func checkFetchTarget(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return usagef("%s exists and is not a folder", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "FETCHED.json")); err != nil {
		return usagef("%s is not empty and has no FETCHED.json from an earlier fetch: refusing to replace it", dir)
	}
	return nil
}

// safeEntryName returns the entry's path relative to the unpack folder, or
// an error if it is absolute or climbs out of it.
func safeEntryName(name string) (string, error) {
	if strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("zip entry %q: backslash or NUL in the name", name)
	}
	if path.IsAbs(name) || (len(name) > 1 && name[1] == ':') {
		return "", fmt.Errorf("zip entry %q: absolute path", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("zip entry %q: leaves the rules folder", name)
	}
	return clean, nil
}

// unpackRules writes the zip's folders and regular files under root: only
// those (a link or device entry refuses the zip), within the size limits,
// counting the YAML files that are Sigma rules.
func unpackRules(zr *zip.Reader, root string, rec *fetchRecord) error {
	var total int64
	for _, f := range zr.File {
		rel, err := safeEntryName(f.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			continue
		}
		target := filepath.Join(root, filepath.FromSlash(rel))
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		case !mode.IsRegular():
			return fmt.Errorf("zip entry %q: %v is not a file or folder", f.Name, mode.Type())
		}
		if f.UncompressedSize64 > fetchMaxFile {
			return fmt.Errorf("zip entry %q: %d bytes, not a rule file", f.Name, f.UncompressedSize64)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		// The declared size can lie: read one byte past the limit.
		b, err := io.ReadAll(io.LimitReader(rc, fetchMaxFile+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		if len(b) > fetchMaxFile {
			return fmt.Errorf("zip entry %q: more than %d bytes unpacked", f.Name, fetchMaxFile)
		}
		if total += int64(len(b)); total > fetchMaxUnpacked {
			return fmt.Errorf("more than %d MiB unpacked", fetchMaxUnpacked>>20)
		}
		// O_EXCL: a name given twice in the zip is refused, not overwritten.
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		if _, err := out.Write(b); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		rec.Files++
		if ext := strings.ToLower(path.Ext(rel)); (ext == ".yml" || ext == ".yaml") && sigma.InferFileType(b) == sigma.RuleFile {
			rec.Rules++
		}
	}
	return nil
}
