package evidence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FormatVersion is the case folder layout version written to case.json.
// Open refuses a newer one rather than misreading it.
const FormatVersion = 1

const (
	caseFile     = "case.json"
	registryFile = "evidence.json"
	custodyFile  = "custody.log"
	headFile     = "custody.head"
	manifestDir  = "manifests"
	storeFile    = "case.db"
	tempDir      = "tmp"
)

// ErrCaseExists is returned by Init for a folder that already holds a case.
var ErrCaseExists = errors.New("folder already holds a case")

// Config describes who works a case and how time is read.
type Config struct {
	// Examiner is the person recorded in every custody entry. Required by
	// Init; for OpenWith, empty means the examiner who created the case.
	Examiner string
	// Zone is the IANA zone logs without an offset are read in. Default UTC.
	Zone string
	// Name of the case; default the base name of the folder.
	Name string
	// Clock gives the time of custody entries and registrations; default
	// time.Now. Tests inject a fixed clock for reproducible bytes.
	Clock func() time.Time
	// ToolVersion is recorded with the case, each item and each entry.
	ToolVersion string
	// Signer, when set, signs every custody entry written (see sign.go).
	// Given at Init, its public key is recorded in case.json and every
	// entry must then be signed by it.
	Signer *Signer
}

// Info is the content of case.json.
type Info struct {
	FormatVersion int       `json:"format_version"`
	Name          string    `json:"name"`
	Examiner      string    `json:"examiner"`
	Zone          string    `json:"zone"`
	Created       time.Time `json:"created"`
	ToolVersion   string    `json:"tool_version"`
	// SigningKey is the public key ("ssh-ed25519 AAAA…") that signs every
	// custody entry of the case; empty when the case was created unsigned.
	SigningKey string `json:"signing_key,omitempty"`
}

// Case is an open case folder. Its methods are safe for concurrent use, and
// two processes working the same folder are serialised by a file lock.
type Case struct {
	dir         string
	info        Info
	loc         *time.Location
	examiner    string
	toolVersion string
	clock       func() time.Time
	signer      *Signer

	// mu serialises this process's writers; the flock on custody.log does
	// the same across processes (and is a no-op on some platforms).
	mu sync.Mutex
	// pmu guards pending, the registrations begun and not yet written
	// (see Registration); cmu is held while they are written, in order.
	pmu, cmu sync.Mutex
	pending  []*Registration
	failed   error // a pending registration that failed (under cmu)
}

// Init creates a new case in dir, which must not exist or be empty.
func Init(dir string, c Config) (*Case, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if c.Examiner == "" {
		return nil, errors.New("init case: examiner name is required (it is recorded in the custody log)")
	}
	if c.Zone == "" {
		c.Zone = "UTC"
	}
	loc, err := time.LoadLocation(c.Zone)
	if err == nil && c.Zone == "Local" {
		err = errors.New("the machine's local zone is not reproducible; name an IANA zone such as Asia/Jakarta")
	}
	if err != nil {
		return nil, fmt.Errorf("init case: time zone %q is not a known IANA zone: %w", c.Zone, err)
	}
	if c.Name == "" {
		c.Name = filepath.Base(abs)
	}
	if err := checkEmpty(abs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	for _, d := range []string{tempDir, manifestDir} {
		if err := os.Mkdir(filepath.Join(abs, d), 0o750); err != nil {
			return nil, fmt.Errorf("init case: %w", err)
		}
	}
	cs := &Case{dir: abs, loc: loc, examiner: c.Examiner, toolVersion: c.ToolVersion, clock: clockOr(c.Clock), signer: c.Signer}
	cs.info = Info{
		FormatVersion: FormatVersion,
		Name:          c.Name,
		Examiner:      c.Examiner,
		Zone:          loc.String(),
		Created:       cs.now(),
		ToolVersion:   c.ToolVersion,
	}
	if c.Signer != nil {
		cs.info.SigningKey = c.Signer.Public().String()
	}
	// case.json is written last (below) but its bytes are known now: the
	// first entry records their SHA-256, so an edit of case.json shows.
	caseJSON, err := encodeJSONFile(cs.info)
	if err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	if err := writeJSONAtomic(cs.path(registryFile), registry{FormatVersion: FormatVersion, Items: []*Item{}}); err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	f, err := os.OpenFile(cs.path(custodyFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	f.Close()
	if err := cs.withLock(func(w *custodyWriter) error {
		_, err := w.appendAt(cs.info.Created, "case_init", map[string]any{
			"name":           c.Name,
			"zone":           loc.String(),
			"tool_version":   c.ToolVersion,
			"format_version": FormatVersion,
			"files": map[string]any{
				caseFile:     sha256Hex(caseJSON),
				registryFile: fileSHA256(cs.path(registryFile)),
			},
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	// case.json goes last: a folder without it is not a case, so an init
	// cut short is never mistaken for a usable one.
	if err := writeFileAtomic(cs.path(caseFile), caseJSON); err != nil {
		return nil, fmt.Errorf("init case: %w", err)
	}
	return cs, nil
}

func checkEmpty(dir string) error {
	st, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("init case: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("init case: %s exists and is not a folder", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, caseFile)); err == nil {
		return fmt.Errorf("init case: %s: %w (open it instead)", dir, ErrCaseExists)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("init case: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && len(names) == 0 {
		return nil // io.EOF: empty
	}
	return fmt.Errorf("init case: %s is not empty (holds %q) and is not a case folder (no %s); choose an empty or new folder", dir, names[0], caseFile)
}

// Open loads and validates the case in dir. Custody entries are recorded
// in the name of the examiner who created the case; use OpenWith otherwise.
func Open(dir string) (*Case, error) { return OpenWith(dir, Config{}) }

// OpenWith opens a case as the examiner, clock and tool version in c (each
// defaulting to the case's own). c.Zone and c.Name are ignored: they belong
// to the case and are fixed at Init.
func OpenWith(dir string, c Config) (*Case, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cs := &Case{dir: abs, clock: clockOr(c.Clock), signer: c.Signer}
	if err := readJSON(cs.path(caseFile), &cs.info); err != nil {
		return nil, fmt.Errorf("open case: %w", err)
	}
	in := cs.info
	switch {
	case in.FormatVersion < 1 || in.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("open case: %s: format version %d not supported (this build reads 1 to %d)", cs.path(caseFile), in.FormatVersion, FormatVersion)
	case in.Name == "" || in.Examiner == "" || in.Created.IsZero():
		return nil, fmt.Errorf("open case: %s is malformed: name, examiner and created are required", cs.path(caseFile))
	}
	if cs.loc, err = time.LoadLocation(in.Zone); err != nil || in.Zone == "" {
		return nil, fmt.Errorf("open case: %s: zone %q is not a known IANA zone", cs.path(caseFile), in.Zone)
	}
	if _, err := cs.loadRegistry(); err != nil {
		return nil, fmt.Errorf("open case: %w", err)
	}
	if _, err := os.Stat(cs.path(custodyFile)); err != nil {
		return nil, fmt.Errorf("open case: custody log %s: %w", cs.path(custodyFile), err)
	}
	cs.examiner, cs.toolVersion = c.Examiner, c.ToolVersion
	if cs.examiner == "" {
		cs.examiner = in.Examiner
	}
	if cs.toolVersion == "" {
		cs.toolVersion = in.ToolVersion
	}
	return cs, nil
}

func clockOr(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}

func (c *Case) now() time.Time { return c.clock().UTC() }

func (c *Case) path(name string) string { return filepath.Join(c.dir, name) }

// Dir is the absolute path of the case folder.
func (c *Case) Dir() string { return c.dir }

// Info returns the case description from case.json.
func (c *Case) Info() Info { return c.info }

// Location is the case's time zone, for logs that carry no offset.
func (c *Case) Location() *time.Location { return c.loc }

// Examiner is the examiner this Case records custody entries for.
func (c *Case) Examiner() string { return c.examiner }

// StorePath is where the event store (SQLite) lives. This package reserves
// the name and never creates the file.
func (c *Case) StorePath() string { return c.path(storeFile) }

// TempDir is the spool folder inside the case, so decompressed evidence
// never lands outside it.
func (c *Case) TempDir() string { return c.path(tempDir) }
