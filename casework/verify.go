package casework

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// Verify runs the custody checks on the case (chain, case files,
// registry, store digest, signatures; opt adds a key and anchors). The
// evidence itself is re-hashed by the evidence package, not here.
func (c *Case) Verify(ctx context.Context, opt evidence.AuditOptions) *evidence.Audit {
	var db *sql.DB
	if c.Store != nil {
		db = c.Store.DB()
	}
	opt.Store = StoreDigestFunc(ctx, db)
	return c.Evidence.Audit(opt)
}

// AuditCase runs the custody checks on a case folder opened without its
// store: case.db is opened for reading only when it exists (verify must
// not create it) and read-only on write-protected media.
func AuditCase(ctx context.Context, cs *evidence.Case, opt evidence.AuditOptions) (*evidence.Audit, error) {
	db, closeStore, err := OpenStoreForAudit(ctx, cs)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	opt.Store = StoreDigestFunc(ctx, db)
	return cs.Audit(opt), nil
}

// OpenStoreForAudit opens case.db when it exists. A case never ingested
// has none, and verify must not create it: nil, an empty digest. A copy
// that cannot be written (write-protected media) is opened read-only and
// immutable, which SQLite allows only without a pending write-ahead log.
func OpenStoreForAudit(ctx context.Context, cs *evidence.Case) (*sql.DB, func(), error) {
	return openStoreForAudit(ctx, cs.StorePath(), func() bool { return writeProtected(cs.Dir()) })
}

// openStoreForAudit is OpenStoreForAudit of the store at path; protected
// says whether its folder cannot be written (asked only when Open fails).
func openStoreForAudit(ctx context.Context, path string, protected func() bool) (*sql.DB, func(), error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, func() {}, nil
	}
	s, err := sqlite.Open(ctx, path)
	if err == nil {
		return s.DB(), func() { s.Close() }, nil
	}
	var ve *sqlite.VersionError
	if errors.As(err, &ve) || !protected() {
		return nil, nil, err
	}
	if st, werr := os.Stat(path + "-wal"); werr == nil && st.Size() > 0 {
		return nil, nil, fmt.Errorf("%w; the copy cannot be written and holds a write-ahead log (%s) that only a writable copy can read", err, path+"-wal")
	}
	db, rerr := sql.Open("sqlite", sqlite.URI(path, "mode=ro&immutable=1"))
	if rerr != nil {
		return nil, nil, err
	}
	// Open checks the format and the views and triggers; this copy
	// bypasses Open. A store of another format has that format's views:
	// it is refused as Open refuses it, not called altered.
	if verr := sqlite.CheckFormat(ctx, db, path); verr != nil {
		db.Close()
		return nil, nil, verr
	}
	if serr := sqlite.CheckSchema(ctx, db, path); serr != nil {
		db.Close()
		return nil, nil, serr
	}
	return db, func() { db.Close() }, nil
}

// writeProtected reports whether nothing can be created in dir.
func writeProtected(dir string) bool {
	f, err := os.CreateTemp(dir, ".jejak-probe-*")
	if err == nil {
		f.Close()
		os.Remove(f.Name())
		return false
	}
	return errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission)
}

// StoreDigestFunc is the store check of an audit: the digest of every
// part of case.db the chain binds (db nil: a case without a store).
func StoreDigestFunc(ctx context.Context, db *sql.DB) func() (evidence.StoreDigest, error) {
	return func() (evidence.StoreDigest, error) { return StoreDigest(ctx, db, AllStoreParts...) }
}

// storeTables are the tables of case.db besides events whose rows the chain
// binds, each in a fixed order: the ingest runs and their warnings
// (written by ingest), the hunts and their findings (written by hunt).
var storeTables = map[string]tableSpec{
	// Not progress: a live figure, and the last update may land after
	// the run's entry is written.
	"runs":     {"runs", "id", []string{"id", "started", "finished", "tool_version", "summary", "state", "items", "error"}},
	"warnings": {"warnings", "rowid", nil},
	"hunts":    {"hunts", "key", nil},
	"findings": {"findings", "hunt, id", nil},
}

// tableSpec is a table's rows as hashed: the columns (nil: all of them),
// of those the table has, in a fixed order. A store made by an older jejak
// lacks some columns (on a read-only copy nothing migrates it): they are
// left out rather than making the table unreadable.
type tableSpec struct {
	table, order string
	cols         []string
}

func (ts tableSpec) query(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, ts.table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	have := map[string]bool{}
	var all []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", err
		}
		have[n] = true
		all = append(all, n)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(all) == 0 {
		return "", nil // no such table
	}
	// A view's rowid column (the view warnings gives its rows' rowids
	// so, for ORDER BY rowid) is not one of its values: format 7's table
	// warnings hashed as the view does.
	cols := slices.DeleteFunc(all, func(c string) bool { return c == "rowid" })
	if ts.cols != nil {
		cols = nil
		for _, c := range ts.cols {
			if have[c] {
				cols = append(cols, c)
			}
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + ts.table + " ORDER BY " + ts.order, nil
}

// The parts of case.db a custody entry binds: all of them (verify), those
// an ingest writes, those a hunt writes.
var (
	AllStoreParts    = []string{"events", "runs", "warnings", "hunts", "findings"}
	IngestStoreParts = []string{"events", "runs", "warnings"}
	HuntStoreParts   = []string{"hunts", "findings"}
)

// StoreDigest hashes the rows of case.db the chain binds. Events: every
// stored row and block as stored (sqlite.Digest: rows in storage order,
// rowid, which rows keep when others are deleted; then the compressed
// blocks), one sequential read of the table without decompressing a
// document. Each field is length-prefixed, so no two different row sets
// hash alike by shifting bytes between fields. The command that wrote the
// rows records the digest and verify recomputes it: an UPDATE, DELETE or
// INSERT outside jejak changes it. A table not created yet hashes as
// empty.
func StoreDigest(ctx context.Context, db *sql.DB, parts ...string) (evidence.StoreDigest, error) {
	return storeDigest(ctx, db, nil, nil, parts...)
}

// storeDigest is StoreDigest taking the events' digest from events and the
// warnings' from warnings when they are not nil.
func storeDigest(ctx context.Context, db *sql.DB, events func(context.Context) (int64, string, error),
	warnings func(context.Context) (string, error), parts ...string) (evidence.StoreDigest, error) {
	if events == nil {
		events = func(ctx context.Context) (int64, string, error) { return eventsDigest(ctx, db) }
	}
	if warnings == nil {
		warnings = func(ctx context.Context) (string, error) { return tableDigest(ctx, db, storeTables["warnings"]) }
	}
	d := evidence.StoreDigest{Tables: map[string]string{}}
	for _, p := range parts {
		if p == "events" {
			n, sum, err := events(ctx)
			if err != nil {
				return d, err
			}
			d.Events, d.SHA256 = n, sum
			continue
		}
		var sum string
		var err error
		if p == "warnings" {
			sum, err = warnings(ctx)
		} else {
			sum, err = tableDigest(ctx, db, storeTables[p])
		}
		if err != nil {
			return d, fmt.Errorf("store digest of %s: %w", p, err)
		}
		d.Tables[p] = sum
	}
	return d, nil
}

// eventsDigest is the SHA-256 of the events as stored. Since case store
// format 5 it hashes the compressed blocks, not the documents: a digest
// after an ingest of the 50 MB bench syslog (500k events) took 1.75
// CPU-s to decompress every document again; hashing 36 MB of stored rows
// and blocks takes a tenth of that. Custody entries recorded by format 4
// hold digests of the documents, but format 4 stores are refused anyway.
func eventsDigest(ctx context.Context, db *sql.DB) (int64, string, error) {
	h := sha256.New()
	if db == nil {
		return 0, hex.EncodeToString(h.Sum(nil)), nil
	}
	// Buffered: sha256's Write has a fixed cost per call, and a row is a
	// few dozen bytes.
	bw := bufio.NewWriterSize(h, 64<<10)
	n, err := sqlite.Digest(ctx, db, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return 0, "", fmt.Errorf("store digest: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// eventsStream is an ingest's events digest with the rows hashed as the
// run writes them (sqlite.Store.DigestRows): its custody entry then reads
// back only the blocks, where eventsDigest read every row again (12 % of
// the CPU of a syslog analyze). It is the same value, over the same bytes,
// and only where the store can vouch for that (a first run into a store
// without events, nothing repeated removed, the table holding exactly the
// rows hashed at the end); elsewhere digest reads everything back.
type eventsStream struct {
	h  hash.Hash
	bw *bufio.Writer
	on bool // the store hashes the rows as it writes them
	// streamed: the last digest came from the stream, for tests.
	streamed bool
}

// streamEvents starts the stream for the run store just started: call it
// after StartRun, before the first write.
func streamEvents(s *sqlite.Store) *eventsStream {
	e := &eventsStream{h: sha256.New()}
	e.bw = bufio.NewWriterSize(e.h, 64<<10)
	e.on = s.DigestRows(e.bw)
	return e
}

// digest is the events digest of s at the end of the run, from the stream
// when the store vouches for it, else read back from the file.
func (e *eventsStream) digest(ctx context.Context, s *sqlite.Store) (int64, string, error) {
	if e.on {
		e.on = false
		n, ok, err := s.FinishDigest(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("store digest: %w", err)
		}
		if ok {
			if err := e.bw.Flush(); err != nil {
				return 0, "", fmt.Errorf("store digest: %w", err)
			}
			e.streamed = true
			return n, hex.EncodeToString(e.h.Sum(nil)), nil
		}
	}
	e.streamed = false
	return eventsDigest(ctx, s.DB())
}

// warnStream is an ingest's digest of the warnings table with the rows
// hashed as the run stores them (sqlite.Store.DigestWarnings): its custody
// entry then reads none back, where tableDigest read every warning again
// (a second of CPU for the 300k skipped files of an image of small
// files, on one core at the end of the run). It is tableDigest's value,
// over the same bytes, and only where the store vouches for that (a first
// run into an empty table, each batch stored whole with the next rowids,
// the table holding exactly the rows hashed at the end); elsewhere digest
// reads the table back.
type warnStream struct {
	h  hash.Hash
	bw *bufio.Writer
	d  *sqlite.WarnDigest // nil: read back
	// streamed: the last digest came from the stream, for tests.
	streamed bool
}

// streamWarnings starts the stream for the run s just started: call it
// before the run's first warning is stored, and store them through
// AddWarningsDigest with the stream's d.
func streamWarnings(ctx context.Context, s *sqlite.Store) *warnStream {
	w := &warnStream{h: sha256.New()}
	w.bw = bufio.NewWriterSize(w.h, 64<<10)
	w.d = s.DigestWarnings(ctx, w.bw)
	return w
}

// digest is the warnings digest of s at the end of the run, from the
// stream when the store vouches for it, else read back from the file (a
// store that cannot answer whether it does is read back too: that read
// gives the digest or the error).
func (w *warnStream) digest(ctx context.Context, s *sqlite.Store) (string, error) {
	if d := w.d; d != nil {
		w.d = nil
		if _, ok, err := d.Finish(ctx); ok && err == nil {
			if err := w.bw.Flush(); err != nil {
				return "", err
			}
			w.streamed = true
			return hex.EncodeToString(w.h.Sum(nil)), nil
		}
	}
	w.streamed = false
	return tableDigest(ctx, s.DB(), storeTables["warnings"])
}

// tableDigest hashes every column of every row as text, NULL marked apart
// from an empty string, each value length-prefixed. Each value is the text
// database/sql's Scan into a sql.NullString gives (a string or blob as it
// is, NULL not valid, anything else through NullString.Scan itself), read
// through the driver's own rows (sqlite.ForEachRow): Scan's conversions
// cost half a second for the 300,000 warnings of a 300k-file image's ingest.
func tableDigest(ctx context.Context, db *sql.DB, ts tableSpec) (string, error) {
	h := sha256.New()
	if db == nil {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	query, err := ts.query(ctx, db)
	if err != nil || query == "" {
		return hex.EncodeToString(h.Sum(nil)), err
	}
	bw := bufio.NewWriterSize(h, 64<<10)
	var buf []byte
	err = sqlite.ForEachRow(ctx, db, query, func(vals []driver.Value) error {
		buf = buf[:0]
		var err error
		for _, v := range vals {
			if buf, err = appendTableValue(buf, v); err != nil {
				return err
			}
		}
		_, err = bw.Write(buf)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// appendTableValue appends a value as tableDigest hashes it: 0 for NULL,
// else 1, the length of its text as 8 bytes and the text.
func appendTableValue(buf []byte, v driver.Value) ([]byte, error) {
	var text string
	switch x := v.(type) {
	case nil:
		return append(buf, 0), nil
	case string:
		text = x
	case []byte:
		return sqlite.AppendTableText(buf, x), nil
	default:
		var ns sql.NullString
		if err := ns.Scan(v); err != nil {
			return buf, err
		}
		if !ns.Valid {
			return append(buf, 0), nil
		}
		text = ns.String
	}
	return sqlite.AppendTableText(buf, text), nil
}

// StoreDetails is the digest of the given parts as custody details; a
// failure to compute it is recorded instead, so verify says why it is
// missing rather than finding nothing. An interrupted command does not
// scan the store (Ctrl-C exits at once): its entry records the
// cancellation, and the case is incomplete until an ingest completes.
func StoreDetails(ctx context.Context, s *sqlite.Store, parts ...string) map[string]any {
	return storeDetails(ctx, s, nil, nil, parts...)
}

// storeDetails is StoreDetails with the events' digest from ev and the
// warnings' from wa when they are not nil (an ingest's, see eventsStream
// and warnStream).
func storeDetails(ctx context.Context, s *sqlite.Store, ev *eventsStream, wa *warnStream, parts ...string) map[string]any {
	if err := ctx.Err(); err != nil {
		return map[string]any{"error": "not computed: " + err.Error()}
	}
	var events func(context.Context) (int64, string, error)
	if ev != nil {
		events = func(ctx context.Context) (int64, string, error) { return ev.digest(ctx, s) }
	}
	var warnings func(context.Context) (string, error)
	if wa != nil {
		warnings = func(ctx context.Context) (string, error) { return wa.digest(ctx, s) }
	}
	d, err := storeDigest(ctx, s.DB(), events, warnings, parts...)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return d.Details()
}

// auditBasis runs the custody checks an output (export, report) states,
// without re-hashing the evidence: the result goes into its manifest.
// digest is the store check (nil: none can be made, the check is not
// covered).
func auditBasis(cs *evidence.Case, digest func() (evidence.StoreDigest, error)) (*evidence.Audit, export.ManifestCustody) {
	a := cs.Audit(evidence.AuditOptions{Store: digest})
	b := export.ManifestCustody{Intact: a.OK(), Problem: a.Problem()}
	for _, ch := range a.Checks {
		// An unsigned case says so in the signature line of its outputs.
		if ch.Status == evidence.CheckNotCovered && ch.Name != "signatures" {
			b.NotCovered = append(b.NotCovered, ch.Name)
		}
	}
	return a, b
}

// signBasis adds the signature custody.sig holds for the basis entry and
// the key that made it, so the copy handed out carries them.
func signBasis(cs *evidence.Case, a *evidence.Audit, b *export.ManifestCustody) {
	if b.Seq < 1 || a.Key == "" {
		return
	}
	if sig := cs.EntrySignature(b.Seq, b.Hash); sig != "" {
		b.SigningKey, b.Signature = a.Key, sig
		if k, err := evidence.ParsePublicKey(a.Key); err == nil {
			b.KeyFingerprint = k.Fingerprint()
		}
	}
}

// AbsPath is how an output file is named in its custody entry: absolute,
// so verify re-hashes it from whatever folder it runs in.
func AbsPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// 'jejak verify FILE…': an export or report checked against the
// FILE.manifest.json written beside it and, when the case is known,
// against the case's custody log. Nothing is written: verifying a copy
// handed out must not change the case.

// FileCheck is one check of an output file: its status (CheckOK,
// CheckFailed, CheckSkipped, CheckChanged), what was checked and what was
// found.
type FileCheck struct {
	Status, Name, Detail string
}

// The statuses of a FileCheck.
const (
	CheckOK      = "ok"
	CheckFailed  = "FAILED"
	CheckSkipped = "not checked"
	CheckChanged = "changed"
)

// IsCaseDir reports whether path is a case folder.
func IsCaseDir(path string) bool {
	st, err := os.Stat(filepath.Join(path, "case.json"))
	return err == nil && st.Mode().IsRegular()
}

// EnclosingCase is the case folder an output was written into, if any:
// the file's folder or one above it holding case.json.
func EnclosingCase(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if IsCaseDir(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// VerifyFile checks an export or report file against its manifest and,
// with caseDir (a case folder, or ""), against the case's custody log.
// Nothing is written.
func VerifyFile(file, caseDir string) []FileCheck {
	var out []FileCheck
	add := func(status, name, format string, a ...any) {
		out = append(out, FileCheck{status, name, fmt.Sprintf(format, a...)})
	}
	mpath := export.ManifestPath(file)
	mb, err := os.ReadFile(mpath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			add(CheckFailed, "manifest", "no %s beside it: not an output of jejak export or report, or its manifest was not kept with it", filepath.Base(mpath))
		} else {
			add(CheckFailed, "manifest", "%v", err)
		}
		return out
	}
	msum := sha256.Sum256(mb)
	manifestSHA := hex.EncodeToString(msum[:])
	var m export.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		add(CheckFailed, "manifest", "%s is not a jejak manifest: %v", filepath.Base(mpath), err)
		return out
	}
	switch {
	case m.ManifestVersion < 1 || m.ManifestVersion > export.ManifestVersion:
		add(CheckFailed, "manifest", "layout version %d; this jejak reads 1 to %d", m.ManifestVersion, export.ManifestVersion)
		return out
	case m.Output.File != filepath.Base(file):
		add(CheckFailed, "manifest", "it describes %q, not %q", m.Output.File, filepath.Base(file))
	default:
		add(CheckOK, "manifest", "%s of %s (%s), SHA-256 %s", m.Command, m.Output.File, m.Output.Format, manifestSHA)
	}

	size, sum, err := hashFile(file)
	if err != nil {
		add(CheckFailed, "size", "%v", err)
		add(CheckFailed, "sha256", "the file cannot be read")
	} else {
		if size == m.Output.Size {
			add(CheckOK, "size", "%d bytes, as the manifest says", size)
		} else {
			add(CheckFailed, "size", "%d bytes; the manifest says %d (%+d)", size, m.Output.Size, size-m.Output.Size)
		}
		if sum == m.Output.SHA256 {
			add(CheckOK, "sha256", "%s, as the manifest says", sum)
		} else {
			add(CheckFailed, "sha256", "the file has %s; the manifest says %s", sum, m.Output.SHA256)
		}
	}

	if caseDir == "" {
		add(CheckSkipped, "custody record", "the case is not known: give --case CASE to check the manifest against the custody log")
		return out
	}
	cs, err := evidence.Open(caseDir)
	if err != nil {
		add(CheckFailed, "custody record", "case %s: %v", caseDir, err)
		return out
	}
	entries, cerr := cs.VerifyCustody()
	if cerr != nil {
		add(CheckFailed, "custody chain", "%v (the entries after the break are not trusted)", cerr)
	}
	if info := cs.Info(); info.Name != m.Case.Name {
		add(CheckFailed, "case", "the manifest is of case %q; %s is case %q", m.Case.Name, caseDir, info.Name)
	}

	// The custody entry that recorded this output: same command, same
	// file hash as the manifest, and the manifest's own hash.
	var byFile, byManifest *evidence.Entry
	for i := range entries {
		en := &entries[i]
		if en.Action != m.Command {
			continue
		}
		if str(en.Details["sha256"]) == m.Output.SHA256 {
			byFile = en
			if str(en.Details["manifest_sha256"]) == manifestSHA {
				byManifest = en
			}
		}
	}
	switch {
	case byManifest != nil:
		add(CheckOK, "custody record", "entry %d (%s at %s) records the file's and the manifest's SHA-256", byManifest.Seq, byManifest.Action,
			byManifest.Time.UTC().Format("2006-01-02T15:04:05Z"))
	case byFile != nil:
		add(CheckFailed, "custody record", "entry %d records the manifest's SHA-256 as %s; the manifest has %s: it was changed after it was written",
			byFile.Seq, str(byFile.Details["manifest_sha256"]), manifestSHA)
	default:
		add(CheckFailed, "custody record", "no %s entry of the custody log records SHA-256 %s (the manifest's output hash)", m.Command, m.Output.SHA256)
	}

	// The custody head the manifest states, then and now.
	basis := m.Custody
	var at *evidence.Entry
	for i := range entries {
		if entries[i].Seq == basis.Seq {
			at = &entries[i]
		}
	}
	switch {
	case at == nil:
		add(CheckFailed, "custody head", "the manifest says the case stood at entry %d; the custody log has %d entries", basis.Seq, len(entries))
		return out
	case at.Hash != basis.Hash:
		add(CheckFailed, "custody head", "entry %d has hash %s; the manifest says %s", basis.Seq, at.Hash, basis.Hash)
		return out
	case basis.Signature != "" && cs.EntrySignature(basis.Seq, basis.Hash) != basis.Signature:
		add(CheckFailed, "custody head", "entry %d's signature in custody.sig is not the one the manifest carries", basis.Seq)
		return out
	default:
		add(CheckOK, "custody head", "entry %d, hash %s, as the manifest says", basis.Seq, basis.Hash)
	}
	var changed []string
	for _, en := range entries {
		if en.Seq > basis.Seq && !outputActions[en.Action] && en.Action != "verify" && en.Action != "note" {
			changed = append(changed, fmt.Sprintf("%d %s", en.Seq, en.Action))
		}
	}
	if len(changed) == 0 {
		add(CheckOK, "case since", "nothing changed the case after entry %d: the output reflects the case as it is", basis.Seq)
	} else {
		add(CheckChanged, "case since", "entries after the output changed the case (%s): the output does not reflect them", strings.Join(changed, ", "))
	}
	return out
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// str is a custody detail as text (JSON numbers read back as float64).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
