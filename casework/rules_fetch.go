package casework

import (
	"archive/zip"
	"context"
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
)

// DefaultRulesURL is SigmaHQ's release asset with every rule folder
// (rules, emerging threats, threat hunting...), through GitHub's
// "latest release" redirect.
const DefaultRulesURL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"

// Limits for what a rules zip may hold: SigmaHQ's full release is about
// 10 MB packed, 40 MB unpacked, in a few thousand files; far beyond that is
// not a rules release (or is a zip bomb).
const (
	fetchMaxZip      = 256 << 20
	fetchMaxUnpacked = 1 << 30
	fetchMaxFile     = 16 << 20
)

// RulesFetch is DIR/FETCHED.json: where the rules came from, so a
// report can name the exact release a hunt used.
type RulesFetch struct {
	URL      string    `json:"url"`
	FinalURL string    `json:"final_url,omitempty"` // after redirects
	SHA256   string    `json:"sha256"`              // of the zip as downloaded
	Bytes    int64     `json:"bytes"`
	Fetched  time.Time `json:"fetched"`
	Files    int       `json:"files"`
	Rules    int       `json:"rules"` // YAML files that are Sigma rules
	Tool     string    `json:"tool"`
}

// FetchRules downloads a SigmaHQ rules release zip from url (http or
// https), checks it is a zip of Sigma rules within sane limits, and
// unpacks it into dir through a staging folder beside it: dir is created,
// or replaced when an earlier fetch made it (any other non-empty dir is
// refused), only by a complete, checked fetch. No entry may leave dir.
// now times the record, toolVersion names this jejak in it and in the
// request. A bad URL or target is an *OptionError.
func FetchRules(ctx context.Context, url, dir string, now func() time.Time, toolVersion string) (*RulesFetch, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, optionErrorf("--url %q: want an http(s) URL", url)
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

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, optionErrorf("--url: %v", err)
	}
	req.Header.Set("User-Agent", "jejak/"+toolVersion)
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
	rec := &RulesFetch{URL: url, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n, Fetched: now().UTC().Truncate(time.Second), Tool: "jejak " + toolVersion}
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
		return optionErrorf("%s exists and is not a folder", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "FETCHED.json")); err != nil {
		return optionErrorf("%s is not empty and has no FETCHED.json from an earlier fetch: refusing to replace it", dir)
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
func unpackRules(zr *zip.Reader, root string, rec *RulesFetch) error {
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
