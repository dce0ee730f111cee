package baseline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// ManifestWarning is a line of a manifest that could not be read.
type ManifestWarning struct {
	Line int    `json:"line"`
	Msg  string `json:"message"`
}

// ReadManifest reads a vendor's trusted-build list in any of the forms
// vendors and tools write:
//   - "hash  path" lines as sha256sum, sha1sum and md5sum print them
//     ("hash *path" in binary mode), and BSD-style "SHA256 (path) = hash";
//     the hash's length says which hash it is;
//   - CSV with a header naming a path column (path, file, filepath,
//     filename, name) and hash columns (sha256, sha-256, sha1, sha-1,
//     md5), optionally size; an NSRL RDS file ("SHA-1","MD5","CRC32",
//     "FileName","FileSize",…) names files without folders and is
//     matched by name (Reference.ByName);
//   - JSON: an array of objects with the same keys, or an object holding
//     such an array under "files", or JSON Lines of such objects.
//
// Lines that cannot be read are returned as warnings naming the line; the
// rest is used.
func ReadManifest(r io.Reader, name string) (*Reference, []ManifestWarning, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	ref := &Reference{Kind: "manifest", Name: name}
	var warn []ManifestWarning
	trim := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	switch {
	case len(trim) == 0:
		return nil, nil, fmt.Errorf("manifest %s is empty", name)
	case trim[0] == '[' || trim[0] == '{':
		warn, err = readJSONManifest(trim, ref)
	case looksCSV(trim):
		warn, err = readCSVManifest(trim, ref)
	default:
		warn = readSumManifest(trim, ref)
	}
	if err != nil {
		return nil, warn, fmt.Errorf("manifest %s: %w", name, err)
	}
	if len(ref.Files) == 0 {
		return nil, warn, fmt.Errorf("manifest %s: no file with a hash read (%d lines refused)", name, len(warn))
	}
	for _, f := range ref.Files {
		if strings.Contains(f.Path, `\`) || (len(f.Path) > 1 && f.Path[1] == ':') {
			ref.Fold = true
		}
		f.Path = Key(f.Path, false)
		f.Type, f.Kind, f.Exec = "file", "file", execName(f.Path)
	}
	return ref, warn, nil
}

var (
	sumLine = regexp.MustCompile(`^\\?([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}) [ *](.+)$`)
	bsdLine = regexp.MustCompile(`^(SHA256|SHA1|MD5|SHA-256|SHA-1) \((.+)\) = ([0-9a-fA-F]+)$`)
)

func setHash(f *File, h string) bool {
	h = strings.ToLower(strings.TrimSpace(h))
	if _, err := strconv.ParseUint(h[:min(len(h), 8)], 16, 64); err != nil && h != "" {
		return false
	}
	switch len(h) {
	case 64:
		f.SHA256 = h
	case 40:
		f.SHA1 = h
	case 32:
		f.MD5 = h
	default:
		return false
	}
	return true
}

func readSumManifest(b []byte, ref *Reference) []ManifestWarning {
	var warn []ManifestWarning
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := &File{Size: -1}
		if m := sumLine.FindStringSubmatch(l); m != nil {
			setHash(f, m[1])
			f.Path = m[2]
			if strings.HasPrefix(l, `\`) { // GNU escapes "\\" and "\n" in names
				f.Path = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(f.Path)
			}
		} else if m := bsdLine.FindStringSubmatch(l); m != nil && setHash(f, m[3]) {
			f.Path = m[2]
		} else {
			warn = append(warn, ManifestWarning{Line: n, Msg: fmt.Sprintf("not a \"hash  path\" line: %.80q", l)})
			continue
		}
		ref.Files = append(ref.Files, f)
	}
	return warn
}

func looksCSV(b []byte) bool {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	l := strings.ToLower(string(first))
	return strings.Contains(l, ",") && (strings.Contains(l, "sha") || strings.Contains(l, "md5")) && !sumLine.MatchString(strings.TrimSpace(string(first)))
}

// column names, lower-cased, "-" and "_" and spaces dropped.
func colName(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "", `"`, "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

func readCSVManifest(b []byte, ref *Reference) ([]ManifestWarning, error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[colName(h)] = i
	}
	pathCol, byName := -1, false
	for _, k := range []string{"path", "filepath", "fullpath", "file"} {
		if i, ok := col[k]; ok {
			pathCol = i
			break
		}
	}
	if pathCol < 0 {
		for _, k := range []string{"filename", "name"} {
			if i, ok := col[k]; ok {
				pathCol, byName = i, true
				break
			}
		}
	}
	if pathCol < 0 {
		return nil, fmt.Errorf("CSV header names no path or file name column: %q", head)
	}
	ref.ByName = byName
	get := func(rec []string, names ...string) string {
		for _, n := range names {
			if i, ok := col[n]; ok && i < len(rec) {
				return rec[i]
			}
		}
		return ""
	}
	var warn []ManifestWarning
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			warn = append(warn, ManifestWarning{Line: line, Msg: err.Error()})
			continue
		}
		f := &File{Size: -1}
		if pathCol < len(rec) {
			f.Path = rec[pathCol]
		}
		ok := false
		for _, h := range []string{get(rec, "sha256"), get(rec, "sha1"), get(rec, "md5")} {
			if h != "" && setHash(f, h) {
				ok = true
			}
		}
		if s := get(rec, "size", "filesize"); s != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				f.Size = n
			}
		}
		if f.Path == "" || !ok {
			warn = append(warn, ManifestWarning{Line: line, Msg: "no path or no hash"})
			continue
		}
		ref.Files = append(ref.Files, f)
	}
	return warn, nil
}

func readJSONManifest(b []byte, ref *Reference) ([]ManifestWarning, error) {
	var objs []map[string]any
	var warn []ManifestWarning
	if b[0] == '[' {
		if err := json.Unmarshal(b, &objs); err != nil {
			return nil, err
		}
	} else {
		var top map[string]any
		if err := json.Unmarshal(b, &top); err == nil {
			if fs, ok := top["files"].([]any); ok {
				for _, x := range fs {
					if m, ok := x.(map[string]any); ok {
						objs = append(objs, m)
					}
				}
			} else {
				objs = append(objs, top)
			}
		} else {
			// JSON Lines.
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			n := 0
			for sc.Scan() {
				n++
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					warn = append(warn, ManifestWarning{Line: n, Msg: err.Error()})
					continue
				}
				objs = append(objs, m)
			}
		}
	}
	for i, m := range objs {
		norm := map[string]string{}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				norm[colName(k)] = v
			case float64:
				norm[colName(k)] = strconv.FormatInt(int64(v), 10)
			}
		}
		if norm["type"] == "header" || norm["type"] == "trailer" || norm["type"] == "fact" {
			continue
		}
		f := &File{Size: -1}
		for _, k := range []string{"path", "filepath", "fullpath", "file", "filename", "name"} {
			if norm[k] != "" {
				f.Path = norm[k]
				break
			}
		}
		ok := false
		for _, k := range []string{"sha256", "sha1", "md5"} {
			if norm[k] != "" && setHash(f, norm[k]) {
				ok = true
			}
		}
		if s, err := strconv.ParseInt(norm["size"], 10, 64); err == nil {
			f.Size = s
		}
		if f.Path == "" || !ok {
			warn = append(warn, ManifestWarning{Line: i + 1, Msg: "entry without a path or a hash"})
			continue
		}
		ref.Files = append(ref.Files, f)
	}
	return warn, nil
}
