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

	"github.com/jejak-forensics/jejak/forensics/evidence"
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
   timeline store     the events in case.db against the digest the last
                      ingest recorded (catches UPDATE and DELETE on rows)
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

// verifyCmd is 'jejak verify CASE', the same as 'jejak evidence verify CASE'.
func verifyCmd(e *env) *cli.Command {
	var action cli.ActionFunc
	for _, sub := range evidenceCmd(e).Subcommands {
		if sub.Name == "verify" {
			action = sub.Action
		}
	}
	return withHelp(&cli.Command{
		Name:        "verify",
		Usage:       "check a case: evidence hashes, custody chain, case files, store, signatures",
		ArgsUsage:   "CASE",
		Description: "The same as 'jejak evidence verify'.\n\n" + verifyHelp,
		Flags:       verifyFlags(),
		Action:      action,
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
		fmt.Fprintf(w, "%-12s %s: %s\n", ch.Status, ch.Name, ch.Detail)
	}
}

// openStoreForAudit opens case.db when it exists. A case never ingested
// has none, and verify must not create it: nil store, empty digest.
func openStoreForAudit(ctx context.Context, cs *evidence.Case) (*sqlite.Store, func(), error) {
	if _, err := os.Stat(cs.StorePath()); os.IsNotExist(err) {
		return nil, func() {}, nil
	}
	s, err := sqlite.Open(ctx, cs.StorePath())
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

func storeDigestFunc(ctx context.Context, s *sqlite.Store) func() (evidence.StoreDigest, error) {
	return func() (evidence.StoreDigest, error) { return storeDigest(ctx, s) }
}

// storeDigest hashes every event row — ID, run and document — in storage
// order (rowid, which rows keep when others are deleted). Each field is
// length-prefixed, so no two different row sets hash alike by shifting
// bytes between fields. The ingest entry records it and verify recomputes
// it: an UPDATE of any of these columns, a DELETE or an INSERT outside
// jejak changes it. One sequential scan, like 'jejak index'.
func storeDigest(ctx context.Context, s *sqlite.Store) (evidence.StoreDigest, error) {
	h := sha256.New()
	var d evidence.StoreDigest
	if s == nil {
		d.SHA256 = hex.EncodeToString(h.Sum(nil))
		return d, nil
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT id, run, doc FROM events ORDER BY rowid`)
	if err != nil {
		return d, fmt.Errorf("store digest: %w", err)
	}
	defer rows.Close()
	var (
		id, doc []byte
		run     sql.NullInt64
		buf     []byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &run, &doc); err != nil {
			return d, fmt.Errorf("store digest: %w", err)
		}
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(id)))
		buf = append(buf, id...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(run.Int64))
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(doc)))
		h.Write(buf)
		h.Write(doc)
		d.Events++
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("store digest: %w", err)
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// storeDetails is the store digest as custody details for an ingest entry;
// a failure to compute it is recorded instead, so verify says why it is
// missing rather than finding nothing.
func storeDetails(ctx context.Context, s *sqlite.Store) map[string]any {
	d, err := storeDigest(context.WithoutCancel(ctx), s)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return d.Details()
}

// auditBasis runs the custody checks an output (export, report) states,
// without re-hashing the evidence: the result goes into its manifest.
func auditBasis(ctx context.Context, cs *evidence.Case, s *sqlite.Store) (*evidence.Audit, export.ManifestCustody) {
	a := cs.Audit(evidence.AuditOptions{Store: storeDigestFunc(ctx, s)})
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
