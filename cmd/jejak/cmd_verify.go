package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/urfave/cli/v2"
)

const verifyHelp = `Checks, each reported on its own line:
   evidence           re-hash every registered item against the registry (and
                      an E01 image's media against the hashes stored in it)
   chain links, head  every custody line's hash, sequence and link; the log's
                      end against custody.head
   case file ...      case.json and evidence.json against the SHA-256 the
                      chain recorded when jejak wrote them
   evidence registry  every item of evidence.json and case.json against the
                      entries that registered and created them
   signatures         every entry signed by the case's key (when it is
                      signed); with --key, by that key
   timeline store     the events, runs and warnings in case.db against the
                      digest the last ingest recorded, hunts and findings
                      against the last hunt's (catches UPDATE, DELETE, INSERT)
   outputs            exports and reports still in place against their entries
   anchor FILE        with --anchor: a manifest handed out earlier must name
                      an entry of this chain, with a valid signature
A case made before a check existed shows "not covered" for it. Any FAILED
line makes the exit status 1.`

func verifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "key", Usage: "the examiner's public key `FILE` (.pub line, PEM, or the private key): the case must be signed by it"},
		&cli.StringSliceFlag{Name: "anchor", Usage: "a `MANIFEST` (.manifest.json of an export or report) handed out earlier; its head must be in the chain (repeatable)"},
	}
}

// verifyCmd is 'jejak verify CASE', the same as 'jejak evidence verify
// CASE', and 'jejak verify FILE…' for exports and reports (verify_file.go).
func verifyCmd(e *env) *cli.Command {
	var caseAction cli.ActionFunc
	for _, sub := range evidenceCmd(e).Subcommands {
		if sub.Name == "verify" {
			caseAction = sub.Action
		}
	}
	return withHelp(&cli.Command{
		Name:        "verify",
		Usage:       "check a case (evidence hashes, custody chain, case files, store, signatures) or exports and reports against their manifests",
		ArgsUsage:   "CASE | FILE...",
		Description: "With a CASE folder, the same as 'jejak evidence verify'.\n\n" + verifyHelp + "\n" + verifyFileHelp,
		Flags: append(verifyFlags(),
			&cli.StringFlag{Name: "case", Usage: "with FILE arguments: the `CASE` folder whose custody log recorded them"}),
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usagef("verify takes a CASE folder or one or more export or report FILEs")
			}
			if len(args) == 1 && c.String("case") == "" {
				if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
					return caseAction(c)
				}
			}
			for _, a := range args {
				if isCaseDir(a) {
					return usagef("%s is a case folder: verify one case alone, or give export and report files (with --case CASE)", a)
				}
			}
			if len(c.StringSlice("anchor")) > 0 || c.String("key") != "" {
				return usagef("--anchor and --key check a CASE; with FILE arguments give --case CASE")
			}
			return e.verifyFiles(c, args)
		},
	})
}

// verifyCustody runs the custody checks after the evidence was re-hashed
// (bad holds its failures), prints one line per check, records the
// verification in the custody log and returns exit 1 on any failure.
func (e *env) verifyCustody(c *cli.Context, cs *evidence.Case, items int, bad []error) error {
	opt, err := auditOptions(c)
	if err != nil {
		return err
	}
	store, closeStore, err := openStoreForAudit(c.Context, cs)
	if err != nil {
		return err
	}
	defer closeStore()
	opt.Store = storeDigestFunc(c.Context, store)
	a := cs.Audit(opt)
	printAudit(e.stdout, a)
	if err := a.Err(); err != nil {
		bad = append(bad, err)
	}
	// Recording the verification needs the key on a signed case; the checks
	// are the result either way, so a refusal here is only noted.
	if lerr := cs.Log("verify", map[string]any{"items": items, "failures": len(bad)}); lerr != nil {
		fmt.Fprintf(e.stderr, "note: this verification is not recorded in the custody log: %v\n", lerr)
	}
	if len(bad) > 0 {
		return cli.Exit(errors.Join(bad...).Error(), exitFatal)
	}
	fmt.Fprintln(e.stdout, "case intact: every check passed")
	return nil
}

func auditOptions(c *cli.Context) (evidence.AuditOptions, error) {
	var opt evidence.AuditOptions
	if p := c.String("key"); p != "" {
		k, err := evidence.LoadPublicKey(p)
		if err != nil {
			return opt, usageError{fmt.Errorf("--key: %w", err)}
		}
		opt.Key = &k
	}
	opt.Anchors = c.StringSlice("anchor")
	return opt, nil
}

func printAudit(w io.Writer, a *evidence.Audit) {
	for _, ch := range a.Checks {
		// Details name files of the evidence and the case: shown escaped.
		fmt.Fprintf(w, "%-12s %s: %s\n", ch.Status, ch.Name, termsafe.String(ch.Detail))
	}
}

// openStoreForAudit opens case.db when it exists. A case never ingested
// has none, and verify must not create it: nil, an empty digest. A copy
// that cannot be written (write-protected media) is opened read-only and
// immutable, which SQLite allows only without a pending write-ahead log.
func openStoreForAudit(ctx context.Context, cs *evidence.Case) (*sql.DB, func(), error) {
	path := cs.StorePath()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, func() {}, nil
	}
	s, err := sqlite.Open(ctx, path)
	if err == nil {
		return s.DB(), func() { s.Close() }, nil
	}
	if !writeProtected(cs.Dir()) {
		return nil, nil, err
	}
	if st, werr := os.Stat(path + "-wal"); werr == nil && st.Size() > 0 {
		return nil, nil, fmt.Errorf("%w; the copy cannot be written and holds a write-ahead log (%s) that only a writable copy can read", err, path+"-wal")
	}
	db, rerr := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if rerr != nil {
		return nil, nil, err
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

func storeDigestFunc(ctx context.Context, db *sql.DB) func() (evidence.StoreDigest, error) {
	return func() (evidence.StoreDigest, error) { return storeDigest(ctx, db, allStoreParts...) }
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
	cols := all
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

var (
	allStoreParts    = []string{"events", "runs", "warnings", "hunts", "findings"}
	ingestStoreParts = []string{"events", "runs", "warnings"}
	huntStoreParts   = []string{"hunts", "findings"}
)

// storeDigest hashes the rows of case.db the chain binds. Events: every
// row's ID, run and document in storage order (rowid, which rows keep when
// others are deleted), one sequential scan like 'jejak index'. Each field
// is length-prefixed, so no two different row sets hash alike by shifting
// bytes between fields. The command that wrote the rows records the digest
// and verify recomputes it: an UPDATE, DELETE or INSERT outside jejak
// changes it. A table not created yet hashes as empty.
func storeDigest(ctx context.Context, db *sql.DB, parts ...string) (evidence.StoreDigest, error) {
	d := evidence.StoreDigest{Tables: map[string]string{}}
	for _, p := range parts {
		if p == "events" {
			n, sum, err := eventsDigest(ctx, db)
			if err != nil {
				return d, err
			}
			d.Events, d.SHA256 = n, sum
			continue
		}
		sum, err := tableDigest(ctx, db, storeTables[p])
		if err != nil {
			return d, fmt.Errorf("store digest of %s: %w", p, err)
		}
		d.Tables[p] = sum
	}
	return d, nil
}

func eventsDigest(ctx context.Context, db *sql.DB) (int64, string, error) {
	h := sha256.New()
	if db == nil {
		return 0, hex.EncodeToString(h.Sum(nil)), nil
	}
	rows, err := db.QueryContext(ctx, `SELECT id, run, doc FROM events ORDER BY rowid`)
	if err != nil {
		return 0, "", fmt.Errorf("store digest: %w", err)
	}
	defer rows.Close()
	var (
		id, doc []byte
		run     sql.NullInt64
		buf     []byte
		n       int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &run, &doc); err != nil {
			return 0, "", fmt.Errorf("store digest: %w", err)
		}
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(id)))
		buf = append(buf, id...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(run.Int64))
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(doc)))
		h.Write(buf)
		h.Write(doc)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", fmt.Errorf("store digest: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// tableDigest hashes every column of every row as text, NULL marked apart
// from an empty string, each value length-prefixed.
func tableDigest(ctx context.Context, db *sql.DB, ts tableSpec) (string, error) {
	h := sha256.New()
	if db == nil {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	query, err := ts.query(ctx, db)
	if err != nil || query == "" {
		return hex.EncodeToString(h.Sum(nil)), err
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		buf = buf[:0]
		for _, v := range vals {
			if !v.Valid {
				buf = append(buf, 0)
				continue
			}
			buf = append(buf, 1)
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(v.String)))
			buf = append(buf, v.String...)
		}
		h.Write(buf)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// storeDetails is the digest of the given parts as custody details; a
// failure to compute it is recorded instead, so verify says why it is
// missing rather than finding nothing. An interrupted command does not
// scan the store (Ctrl-C exits at once): its entry records the
// cancellation, and the case is incomplete until an ingest completes.
func storeDetails(ctx context.Context, s *sqlite.Store, parts ...string) map[string]any {
	if err := ctx.Err(); err != nil {
		return map[string]any{"error": "not computed: " + err.Error()}
	}
	d, err := storeDigest(ctx, s.DB(), parts...)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return d.Details()
}

// auditBasis runs the custody checks an output (export, report) states,
// without re-hashing the evidence: the result goes into its manifest.
func auditBasis(ctx context.Context, cs *evidence.Case, s *sqlite.Store) (*evidence.Audit, export.ManifestCustody) {
	a := cs.Audit(evidence.AuditOptions{Store: storeDigestFunc(ctx, s.DB())})
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

// absPath is how an output file is named in its custody entry: absolute,
// so verify re-hashes it from whatever folder it runs in.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
