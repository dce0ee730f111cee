package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// An Audit is every check of a case's custody, each reported on its own,
// because a chain whose links verify proves only that nobody edited lines
// clumsily. Someone who knows the format can cut the log and rewrite
// custody.head, append an entry with a correct hash, or edit evidence.json
// and case.db directly. What catches those is binding the chain to the
// state of the case:
//
//   - chain links and head: each line's hash, sequence and link, and the
//     log's end against custody.head;
//   - case files: the SHA-256 of case.json and evidence.json recorded in the
//     chain when a command wrote them, against the files now;
//   - evidence registry: every item in evidence.json against its
//     evidence_add entry (ID, path, kind, size, hash, examiner), both ways —
//     this needs no recorded digest, so it also covers older cases;
//   - timeline store: a digest of every event row recorded at each ingest,
//     recomputed over case.db (the caller supplies it: this package does not
//     read the store);
//   - outputs: exports and reports (and their manifests) still in place
//     against the SHA-256 their entries record;
//   - signatures: every entry from the first signed one (from the first, if
//     case.json names a key) signed by one key, each signature valid;
//   - anchors: manifests handed out earlier, whose head hash and signature
//     must be in this chain — the only check that catches a whole chain
//     rewritten consistently, together with an expected key.
//
// A cut or a forged entry without the key therefore shows as a file,
// registry, store or signature mismatch even when the links are valid.
type Audit struct {
	Entries []Entry
	Checks  []Check
	// Key is the public key the entries are signed with ("" unsigned).
	Key string
}

// Check is one line of an audit.
type Check struct {
	Name   string
	Status CheckStatus
	Detail string
}

// CheckStatus is a check's outcome.
type CheckStatus string

const (
	CheckOK     CheckStatus = "ok"
	CheckFailed CheckStatus = "FAILED"
	// CheckNotCovered: the case predates what the check needs (a recorded
	// digest, a signature); it neither passes nor fails.
	CheckNotCovered CheckStatus = "not covered"
	CheckSkipped    CheckStatus = "skipped"
)

// OK reports whether no check failed.
func (a *Audit) OK() bool {
	for _, c := range a.Checks {
		if c.Status == CheckFailed {
			return false
		}
	}
	return true
}

// Problem joins the failed checks into one sentence, "" when none failed.
func (a *Audit) Problem() string {
	var p []string
	for _, c := range a.Checks {
		if c.Status == CheckFailed {
			p = append(p, c.Name+": "+c.Detail)
		}
	}
	return strings.Join(p, "; ")
}

// Err is the failures as an error, nil when none failed.
func (a *Audit) Err() error {
	if a.OK() {
		return nil
	}
	return errors.New("custody verification failed: " + a.Problem())
}

func (a *Audit) add(name string, st CheckStatus, format string, args ...any) {
	a.Checks = append(a.Checks, Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

// StoreDigest summarises the rows of the timeline store the chain binds:
// the events (how many, and a SHA-256 over them in storage order) and the
// other tables by name (runs, warnings, hunts, findings). The command that
// wrote the rows records the parts it wrote; verify recomputes them all.
type StoreDigest struct {
	Events int64
	SHA256 string
	Tables map[string]string
}

// Details is the digest as custody details.
func (d StoreDigest) Details() map[string]any {
	m := map[string]any{}
	if d.SHA256 != "" {
		m["events"], m["sha256"] = d.Events, d.SHA256
	}
	if len(d.Tables) > 0 {
		t := map[string]any{}
		for k, v := range d.Tables {
			t[k] = v
		}
		m["tables"] = t
	}
	return m
}

// tableWriters names the command whose entries record each table.
var tableWriters = map[string]string{"runs": "ingest", "warnings": "ingest", "hunts": "hunt", "findings": "hunt"}

// AuditOptions chooses the checks that need something from the caller.
type AuditOptions struct {
	// Store recomputes the timeline store's digest; nil skips the check.
	Store func() (StoreDigest, error)
	// Key, when set, is the key the case must be signed with (the
	// examiner's public key, known independently of the case folder).
	Key *PublicKey
	// Anchors are manifests (export or report) handed out earlier.
	Anchors []string
}

// Audit runs every check. It holds the custody lock while reading the log
// and the case files, so no command changes them half-way.
func (c *Case) Audit(opt AuditOptions) *Audit {
	a := &Audit{}
	var linkErr error
	lockErr := c.withReadLock(func(w *custodyWriter) error {
		a.Entries, linkErr = c.walkChain(w.f)
		if linkErr != nil {
			a.add("chain links", CheckFailed, "%v", linkErr)
		} else {
			a.add("chain links", CheckOK, "%d entries, each line's hash, sequence and link to the previous line verified", len(a.Entries))
		}
		if linkErr == nil {
			if err := c.verifyHead(a.Entries); err != nil {
				a.add("head", CheckFailed, "%v", err)
			} else {
				a.add("head", CheckOK, "%s names the last entry", headFile)
			}
		} else {
			a.add("head", CheckSkipped, "the chain is broken before its end")
		}
		c.auditFiles(a)
		c.auditRegistry(a)
		c.auditSignatures(a, opt.Key)
		return nil
	})
	if lockErr != nil {
		a.add("chain links", CheckFailed, "%v", lockErr)
		return a
	}
	c.auditStore(a, opt.Store)
	c.auditOutputs(a)
	for _, p := range opt.Anchors {
		c.auditAnchor(a, p)
	}
	return a
}

// detailString reads a string from decoded details.
func detailString(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

func detailInt(d map[string]any, k string) (int64, bool) {
	switch v := d[k].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

func (c *Case) auditFiles(a *Audit) {
	last := map[string]string{}
	at := map[string]int64{}
	for _, e := range a.Entries {
		files, _ := e.Details["files"].(map[string]any)
		for name, v := range files {
			if s, ok := v.(string); ok {
				last[name], at[name] = s, e.Seq
			}
		}
	}
	for _, name := range trackedFiles {
		check := "case file " + name
		want, ok := last[name]
		if !ok {
			a.add(check, CheckNotCovered, "no digest of %s in the chain (the case predates recorded file digests); the registry and case checks below still compare its content with the chain", name)
			continue
		}
		if got := fileSHA256(c.path(name)); got != want {
			if got == "" {
				got = "missing or unreadable"
			}
			a.add(check, CheckFailed, "SHA-256 %s, but entry %d recorded %s: the file was changed outside jejak", got, at[name], want)
			continue
		}
		a.add(check, CheckOK, "SHA-256 equals the digest recorded at entry %d", at[name])
	}
}

// auditRegistry compares evidence.json and case.json with what the chain
// says was registered and created.
func (c *Case) auditRegistry(a *Audit) {
	var probs []string
	if len(a.Entries) > 0 {
		e, in := a.Entries[0], c.info
		if diskInfo, err := c.readInfo(); err == nil {
			in = diskInfo
		}
		d := e.Details
		switch {
		case e.Action != "case_init":
			probs = append(probs, fmt.Sprintf("entry 1 is %q, not case_init", e.Action))
		case in.Name != detailString(d, "name") || in.Zone != detailString(d, "zone") || in.Examiner != e.Examiner || !in.Created.Equal(e.Time):
			probs = append(probs, fmt.Sprintf("case.json (name %q, zone %s, examiner %q, created %s) differs from the case_init entry (name %q, zone %s, examiner %q, time %s)",
				in.Name, in.Zone, in.Examiner, in.Created.Format(time.RFC3339Nano), detailString(d, "name"), detailString(d, "zone"), e.Examiner, e.Time.Format(time.RFC3339Nano)))
		case in.SigningKey != "" && in.SigningKey != e.Signer:
			probs = append(probs, "case.json names a signing key the case_init entry was not signed with")
		}
	}
	reg, err := c.loadRegistry()
	if err != nil {
		a.add("evidence registry", CheckFailed, "%v", err)
		return
	}
	added := map[string]Entry{}
	var order []string
	for _, e := range a.Entries {
		if e.Action != "evidence_add" {
			continue
		}
		id := detailString(e.Details, "id")
		if _, seen := added[id]; !seen {
			order = append(order, id)
		}
		added[id] = e
	}
	inReg := map[string]bool{}
	for _, it := range reg.Items {
		inReg[it.ID] = true
		e, ok := added[it.ID]
		if !ok {
			probs = append(probs, fmt.Sprintf("item %s (%s) is in evidence.json but no evidence_add entry registers it", it.ID, it.Path))
			continue
		}
		d := e.Details
		size, _ := detailInt(d, "size")
		var diff []string
		for _, f := range [][3]string{{"sha256", it.SHA256, detailString(d, "sha256")}, {"path", it.Path, detailString(d, "path")},
			{"kind", it.Kind, detailString(d, "kind")}, {"examiner", it.Examiner, e.Examiner}} {
			if f[1] != f[2] {
				diff = append(diff, fmt.Sprintf("%s %q (entry: %q)", f[0], f[1], f[2]))
			}
		}
		if size != it.Size {
			diff = append(diff, fmt.Sprintf("size %d (entry: %d)", it.Size, size))
		}
		if len(diff) > 0 {
			probs = append(probs, fmt.Sprintf("item %s differs from entry %d: %s", it.ID, e.Seq, strings.Join(diff, ", ")))
		}
	}
	for _, id := range order {
		if !inReg[id] {
			probs = append(probs, fmt.Sprintf("entry %d registered item %s (%s), which evidence.json no longer lists", added[id].Seq, id, detailString(added[id].Details, "path")))
		}
	}
	if len(probs) > 0 {
		a.add("evidence registry", CheckFailed, "%s", strings.Join(probs, "; "))
		return
	}
	a.add("evidence registry", CheckOK, "case.json and the %d items of evidence.json match the entries that created and registered them", len(reg.Items))
}

func (c *Case) readInfo() (Info, error) {
	var in Info
	err := readJSON(c.path(caseFile), &in)
	return in, err
}

func (c *Case) auditSignatures(a *Audit, expect *PublicKey) {
	const name = "signatures"
	sigs, bad, err := c.readSignatures()
	if err != nil {
		a.add(name, CheckFailed, "%v", err)
		return
	}
	probs := bad
	in, _ := c.readInfo()
	want := in.SigningKey
	first := -1
	for i, e := range a.Entries {
		if e.Signer != "" {
			first = i
			break
		}
	}
	if want == "" && first >= 0 {
		want = a.Entries[first].Signer
	}
	if want == "" {
		if expect != nil {
			a.add(name, CheckFailed, "no entry is signed, but the case was expected to be signed by %s", expect.Fingerprint())
		} else if len(sigs) > 0 {
			a.add(name, CheckFailed, "%s holds %d signatures but no entry names a signer", sigFile, len(sigs))
		} else {
			a.add(name, CheckNotCovered, "the entries are not signed: someone who knows the format can rewrite the chain consistently; sign with --sign-key")
		}
		return
	}
	key, err := ParsePublicKey(want)
	if err != nil {
		a.add(name, CheckFailed, "signing key: %v", err)
		return
	}
	a.Key = want
	if expect != nil && !expect.Equal(key) {
		probs = append(probs, fmt.Sprintf("the case is signed by %s, not by the expected key %s", key.Fingerprint(), expect.Fingerprint()))
	}
	from := 0
	if in.SigningKey == "" {
		from = first
	}
	signed := 0
	for i, e := range a.Entries {
		s, has := sigs[e.Seq]
		switch {
		case i < from:
			if has {
				probs = append(probs, fmt.Sprintf("entry %d is unsigned but %s holds a signature for it", e.Seq, sigFile))
			}
			continue
		case e.Signer == "":
			probs = append(probs, fmt.Sprintf("entry %d (%s) is not signed, after signed entries", e.Seq, e.Action))
		case e.Signer != want:
			probs = append(probs, fmt.Sprintf("entry %d (%s) names another signer", e.Seq, e.Action))
		case !has:
			probs = append(probs, fmt.Sprintf("entry %d (%s) has no signature in %s", e.Seq, e.Action, sigFile))
		case s.Hash != e.Hash:
			probs = append(probs, fmt.Sprintf("the signature for entry %d is for another entry (hash %s)", e.Seq, s.Hash))
		case !key.verify(sigMessage(e.Hash), s.Sig):
			probs = append(probs, fmt.Sprintf("the signature of entry %d (%s) does not verify", e.Seq, e.Action))
		default:
			signed++
		}
		delete(sigs, e.Seq)
	}
	for seq := range sigs {
		probs = append(probs, fmt.Sprintf("%s holds a signature for entry %d, which the log does not have: entries were cut", sigFile, seq))
	}
	sort.Strings(probs[len(bad):])
	if len(probs) > 0 {
		if len(probs) > 5 {
			probs = append(probs[:5], fmt.Sprintf("and %d more", len(probs)-5))
		}
		a.add(name, CheckFailed, "%s", strings.Join(probs, "; "))
		return
	}
	msg := fmt.Sprintf("%d entries signed by %s, every signature valid", signed, key.Fingerprint())
	if from > 0 {
		// Only a forger with the key could have added these unsigned ones
		// before the first signed entry: its hash chains over them.
		msg += fmt.Sprintf("; entries 1 to %d were written before the case was first signed", from)
	}
	a.add(name, CheckOK, "%s", msg)
}

func (c *Case) auditStore(a *Audit, digest func() (StoreDigest, error)) {
	const name = "timeline store"
	if digest == nil {
		a.add(name, CheckSkipped, "not requested")
		return
	}
	// The latest entry recording each part is what the part must equal.
	var evRec map[string]any
	var evAt int64
	tabRec := map[string]string{}
	tabAt := map[string]int64{}
	writers := map[string]int{}
	type unrecorded struct {
		seq int64
		msg string
	}
	var recErr []unrecorded
	for _, e := range a.Entries {
		writers[e.Action]++
		d, ok := e.Details["store"].(map[string]any)
		if !ok {
			continue
		}
		if msg := detailString(d, "error"); msg != "" {
			recErr = append(recErr, unrecorded{e.Seq, fmt.Sprintf("entry %d could not record its digest (%s)", e.Seq, msg)})
		}
		if detailString(d, "sha256") != "" {
			evRec, evAt = d, e.Seq
		}
		if t, ok := d["tables"].(map[string]any); ok {
			for k, v := range t {
				if s, ok := v.(string); ok {
					tabRec[k], tabAt[k] = s, e.Seq
				}
			}
		}
	}
	got, err := digest()
	if err != nil {
		a.add(name, CheckFailed, "cannot read the store: %v", err)
		return
	}
	// An entry that could not record its digest (an interrupted ingest:
	// not computed on a cancelled run) leaves the store uncovered only
	// until a later entry records one: that digest covers every row, the
	// earlier run's included. Those before it are said, not judged.
	var fails, notCovered, oks, uncovered []string
	for _, u := range recErr {
		if evRec != nil && u.seq < evAt {
			oks = append(oks, fmt.Sprintf("%s; entry %d's digest covers the store since", u.msg, evAt))
		} else {
			uncovered = append(uncovered, u.msg)
		}
	}
	switch {
	case evRec != nil:
		n, _ := detailInt(evRec, "events")
		want := detailString(evRec, "sha256")
		if n != got.Events || want != got.SHA256 {
			fails = append(fails, fmt.Sprintf("%d events with digest %s, but entry %d recorded %d events with digest %s: event rows were changed, added or deleted outside jejak, or an ingest stopped before recording them (re-run it)",
				got.Events, got.SHA256, evAt, n, want))
		} else {
			oks = append(oks, fmt.Sprintf("%d events as recorded at entry %d", n, evAt))
		}
	case got.Events == 0:
		oks = append(oks, "no events")
	case writers["ingest"] > 0 && len(uncovered) > 0:
		notCovered = append(notCovered, fmt.Sprintf("%d events, but no ingest recorded a digest", got.Events))
	case writers["ingest"] > 0:
		notCovered = append(notCovered, fmt.Sprintf("%d events, but the ingests recorded no digest (the case predates store digests)", got.Events))
	default:
		fails = append(fails, fmt.Sprintf("case.db holds %d events but no ingest in the chain recorded them", got.Events))
	}
	empty := sha256Hex(nil)
	tables := make([]string, 0, len(got.Tables))
	for t := range got.Tables {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		sum := got.Tables[t]
		want, ok := tabRec[t]
		switch {
		case ok && want == sum:
			oks = append(oks, fmt.Sprintf("%s as recorded at entry %d", t, tabAt[t]))
		case ok:
			fails = append(fails, fmt.Sprintf("table %s differs from the digest recorded at entry %d: rows were changed outside jejak", t, tabAt[t]))
		case sum == empty:
		case writers[tableWriters[t]] > 0 && len(uncovered) > 0:
			notCovered = append(notCovered, fmt.Sprintf("table %s: no %s entry recorded its digest", t, tableWriters[t]))
		case writers[tableWriters[t]] > 0:
			notCovered = append(notCovered, fmt.Sprintf("table %s: its %s entries recorded no digest (the case predates them)", t, tableWriters[t]))
		default:
			fails = append(fails, fmt.Sprintf("table %s holds rows but no %s in the chain recorded them", t, tableWriters[t]))
		}
	}
	switch {
	case len(fails) > 0:
		a.add(name, CheckFailed, "%s", strings.Join(append(fails, uncovered...), "; "))
	case len(uncovered) > 0 || len(notCovered) > 0:
		a.add(name, CheckNotCovered, "%s", strings.Join(append(append(notCovered, uncovered...), oks...), "; "))
	default:
		a.add(name, CheckOK, "%s", strings.Join(oks, "; "))
	}
}

// auditOutputs re-hashes the exports and reports the chain records, where
// they still are. One handed out and removed is not a failure: its hash is
// in the chain for whoever holds the copy.
func (c *Case) auditOutputs(a *Audit) {
	const name = "outputs"
	type out struct {
		seq       int64
		file, sum string
		manSum    string
	}
	last := map[string]out{}
	var order []string
	for _, e := range a.Entries {
		if e.Action != "export" && e.Action != "report" {
			continue
		}
		f := detailString(e.Details, "file")
		if f == "" || f == "-" {
			continue
		}
		if _, seen := last[f]; !seen {
			order = append(order, f)
		}
		last[f] = out{e.Seq, f, detailString(e.Details, "sha256"), detailString(e.Details, "manifest_sha256")}
	}
	if len(order) == 0 {
		a.add(name, CheckOK, "no exports or reports recorded")
		return
	}
	var probs []string
	present, gone, relative := 0, 0, 0
	for _, f := range order {
		o := last[f]
		// A relative path names a file only from the folder the command
		// ran in; checked from elsewhere it could name another file.
		if !filepath.IsAbs(f) {
			relative++
			continue
		}
		for _, p := range [][2]string{{o.file, o.sum}, {o.file + ".manifest.json", o.manSum}} {
			if p[1] == "" {
				continue
			}
			if _, err := os.Stat(p[0]); err != nil {
				gone++
				continue
			}
			present++
			if got := fileSHA256(p[0]); got != p[1] {
				probs = append(probs, fmt.Sprintf("%s has SHA-256 %s, entry %d recorded %s", p[0], got, o.seq, p[1]))
			}
		}
	}
	if len(probs) > 0 {
		a.add(name, CheckFailed, "%s", strings.Join(probs, "; "))
		return
	}
	msg := fmt.Sprintf("%d output files still in place match their entries; %d moved or removed (their hashes stay in the chain)", present, gone)
	if relative > 0 {
		msg += fmt.Sprintf("; %d recorded under a relative path, not checked", relative)
	}
	a.add(name, CheckOK, "%s", msg)
}

// anchorManifest is the part of an export or report manifest an anchor
// check reads (timeline/export.Manifest writes it).
type anchorManifest struct {
	Custody struct {
		Seq        int64  `json:"seq"`
		Hash       string `json:"hash"`
		Signature  string `json:"signature"`
		SigningKey string `json:"signing_key"`
	} `json:"custody"`
}

func (c *Case) auditAnchor(a *Audit, path string) {
	name := "anchor " + path
	b, err := os.ReadFile(path)
	if err != nil {
		a.add(name, CheckFailed, "%v", err)
		return
	}
	var m anchorManifest
	if err := json.Unmarshal(b, &m); err != nil || m.Custody.Hash == "" {
		a.add(name, CheckFailed, "not a jejak manifest with a custody head")
		return
	}
	h := m.Custody
	if h.Seq < 1 || h.Seq > int64(len(a.Entries)) || a.Entries[h.Seq-1].Hash != h.Hash {
		a.add(name, CheckFailed, "entry %d with hash %s, as handed out, is not in this chain: the chain was rewritten after the manifest was made", h.Seq, h.Hash)
		return
	}
	if h.Signature == "" {
		a.add(name, CheckOK, "entry %d's hash is in the chain (the manifest is unsigned)", h.Seq)
		return
	}
	if err := VerifyHashSignature(h.SigningKey, h.Hash, h.Signature); err != nil {
		a.add(name, CheckFailed, "the manifest's signature: %v", err)
		return
	}
	if a.Key != "" && h.SigningKey != a.Key {
		a.add(name, CheckFailed, "the manifest was signed by another key than the case's")
		return
	}
	a.add(name, CheckOK, "entry %d's hash is in the chain and its signature verifies", h.Seq)
}
