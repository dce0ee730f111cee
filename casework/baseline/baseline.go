// Package baseline records what a server held before election day — every
// file with its size, mode, owner, MACB times and hashes, and the facts an
// auditor reviews (accounts, services, scheduled tasks, packages, listening
// services named in configuration, SSH keys, sudoers, time zone, NTP) — and
// compares later evidence, or a vendor's trusted-build manifest, with it.
//
// A baseline is a JSON Lines file: one header line, one line per file, one
// line per fact, one trailer line with the counts. JSON Lines because a
// capture streams: each file is written as it is hashed, so a server of a
// million files never sits in memory, the file can be read with grep and
// jq, and its SHA-256 (recorded in the custody log) covers every byte. A
// SQLite table would allow indexed look-ups, but diff reads a baseline once
// and the case store already is the place for queries.
//
// Diff loads the baseline's files (not the later evidence's) into a map by
// matching key: that is the one side that must be random-accessed (about
// 300 bytes a file). The later evidence is streamed.
//
// What a baseline does not hold, today:
//   - owners of files on NTFS and FAT: fs.Entry has no owner; uid:gid are
//     read beside the walk from a folder on the examiner's Linux machine
//     (stat) and from ext2/3/4 inodes (ext4owner.go), NTFS SIDs are not;
//   - NTFS times: the NTFS walker leaves Entry.Times empty (the mft
//     parser puts them on the timeline), so NTFS files compare by hash,
//     size and presence only;
//   - the bytes of an archive inside NTFS, which that walker expands
//     itself: the archive is a size-only "container" entry;
//   - paths are relative to the captured root or to each file system, so
//     two partitions holding one path (a separate /boot) meet one
//     baseline entry; the events of each are kept apart by their volume;
//   - rpm databases, SAM group memberships (not read).
package baseline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// FormatVersion is the version of the baseline file format.
const FormatVersion = 1

// Header is the first line of a baseline file.
type Header struct {
	Type          string    `json:"type"` // "header"
	FormatVersion int       `json:"format_version"`
	Name          string    `json:"name"`
	CapturedAt    time.Time `json:"captured_at"`
	Source        string    `json:"source"`        // the path captured
	SourceSHA256  string    `json:"source_sha256"` // the evidence item's hash
	SourceID      string    `json:"source_id"`     // the evidence item's ID
	Examiner      string    `json:"examiner"`
	ToolVersion   string    `json:"tool_version"`
}

// File is one file (or directory, link, special file) of a baseline.
type File struct {
	Type string `json:"type"` // "file"
	// Path is the path inside the captured tree or file system, slash
	// separated, without a leading "/" (see Key for matching).
	Path string `json:"path"`
	// FS is the layer the file came from: "dir" (a folder on the
	// examiner's machine), "ext4", "ntfs", "fat", "exfat", "tar", "zip", …
	FS string `json:"fs"`
	// Volume is the chain above the file system ("raw:", "partition:1@1048576"),
	// empty for a folder.
	Volume string     `json:"volume,omitempty"`
	Kind   string     `json:"kind"` // "file", "dir", "symlink", "other"
	Size   int64      `json:"size"`
	Mode   string     `json:"mode,omitempty"`  // e.g. "-rwxr-xr-x"; only where FS records Unix modes
	Owner  string     `json:"owner,omitempty"` // "uid:gid" or a SID, where the source has it
	Link   string     `json:"link,omitempty"`
	Inode  string     `json:"inode,omitempty"`
	Mtime  *time.Time `json:"mtime,omitempty"`
	Atime  *time.Time `json:"atime,omitempty"`
	Ctime  *time.Time `json:"ctime,omitempty"`
	Btime  *time.Time `json:"btime,omitempty"`
	SHA256 string     `json:"sha256,omitempty"`
	SHA1   string     `json:"sha1,omitempty"`
	MD5    string     `json:"md5,omitempty"`
	// Container marks an archive the walker expanded without giving its
	// bytes (an archive inside NTFS): its members are not in the baseline
	// and it has no hash.
	Container bool `json:"container,omitempty"`
	// Exec says the content starts with ELF or PE magic, or the name or
	// mode says executable or library.
	Exec bool `json:"exec,omitempty"`
	// Error is why the content could not be hashed.
	Error string `json:"error,omitempty"`
}

// Fact is one reviewed fact: an account, a service, a package, …
type Fact struct {
	Type     string            `json:"type"`     // "fact"
	Category string            `json:"category"` // "account", "group", "sudoers", "service", "scheduled_task", "package", "listen", "ssh_key", "timezone", "ntp"
	Name     string            `json:"name"`
	Detail   map[string]string `json:"detail,omitempty"`
	Source   string            `json:"source"` // path of the file it was read from
	Line     int               `json:"line,omitempty"`
}

// Trailer is the last line: what the capture counted.
type Trailer struct {
	Type    string `json:"type"` // "trailer"
	Files   int64  `json:"files"`
	Dirs    int64  `json:"dirs"`
	Others  int64  `json:"others"`
	Bytes   int64  `json:"bytes"`
	Hashed  int64  `json:"hashed"`
	Errors  int64  `json:"errors"`
	Deleted int64  `json:"deleted_skipped"`
	Members int64  `json:"archive_members_skipped"`
	Facts   int64  `json:"facts"`
	// Problems are the first MaxProblems problems met (files that could
	// not be hashed, parts of the evidence that could not be walked);
	// ProblemCount counts them all.
	Problems     []string `json:"problems,omitempty"`
	ProblemCount int64    `json:"problem_count"`
}

// MaxProblems is how many problems a trailer or a diff result lists.
const MaxProblems = 1000

func addProblem(list *[]string, n *int64, p string) {
	*n++
	if len(*list) < MaxProblems {
		*list = append(*list, p)
	}
}

// Baseline is a baseline file read back.
type Baseline struct {
	Header  Header
	Files   []*File
	Facts   []Fact
	Trailer *Trailer
}

// Read reads a baseline file. Lines it cannot read are errors naming the
// line: a baseline is evidence of its own and must be whole.
func Read(r io.Reader) (*Baseline, error) {
	b := &Baseline{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var t struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(line, &t); err != nil {
			return nil, fmt.Errorf("baseline line %d: %w", n, err)
		}
		var err error
		switch t.Type {
		case "header":
			err = json.Unmarshal(line, &b.Header)
		case "file":
			f := &File{}
			err = json.Unmarshal(line, f)
			b.Files = append(b.Files, f)
		case "fact":
			var f Fact
			err = json.Unmarshal(line, &f)
			b.Facts = append(b.Facts, f)
		case "trailer":
			b.Trailer = &Trailer{}
			err = json.Unmarshal(line, b.Trailer)
		default:
			err = fmt.Errorf("unknown record type %q", t.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("baseline line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("baseline line %d: %w", n+1, err)
	}
	if b.Header.Type != "header" {
		return nil, errors.New("baseline: no header line (not a jejak baseline)")
	}
	if b.Trailer == nil {
		return nil, errors.New("baseline: no trailer line (the capture did not finish)")
	}
	return b, nil
}

// Key is the matching form of a path, so that a baseline of a mounted tree,
// a file system in an image and a vendor's manifest meet:
//   - backslashes become slashes (Windows manifests);
//   - a drive letter ("C:") and leading "/" or "./" are dropped: paths are
//     relative to the root of what was captured;
//   - the path is cleaned ("a//b/../c" is "a/c");
//   - with fold set (NTFS, FAT, exFAT, or a Windows manifest: file systems
//     that do not tell "A" from "a"), it is lower-cased.
func Key(p string, fold bool) string {
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) >= 2 && p[1] == ':' && (p[0]|0x20) >= 'a' && (p[0]|0x20) <= 'z' {
		p = p[2:]
	}
	p = path.Clean("/" + p)
	p = strings.TrimPrefix(p, "/")
	if fold {
		p = strings.ToLower(p)
	}
	return p
}

// CaseInsensitive says whether a file system kind ignores case in names.
func CaseInsensitive(fs string) bool {
	switch fs {
	case "ntfs", "fat", "exfat", "vfat", "windows":
		return true
	}
	return false
}

// unixModes says whether a layer records Unix permission bits worth
// comparing (FAT's and NTFS's are made up by the walker).
func unixModes(fs string) bool {
	switch fs {
	case "dir", "ext2", "ext3", "ext4", "tar":
		return true
	}
	return false
}
