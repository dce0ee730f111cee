package elastic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The custody chain in the cluster is the case folder's custody.log, one
// document per line, the line kept verbatim: its hash covers exact bytes,
// so no re-encoding may stand in for it. The format (see
// forensics/evidence.Entry) is restated here, not imported, so that the
// cluster's chain is checked by a second reading of the format; pulling a
// case has forensics/evidence verify the same lines again.
//
// A line is the JSON of the entry without its hash (seq, time, examiner,
// action, details with sorted keys, prev, signer if any) with
// `,"hash":"<sha256 of those bytes>"` spliced in before the closing brace;
// prev is the SHA-256 of the previous line's bytes.

const hashSuffix = `,"hash":"`

// chainEntry is the hashed body of a line, in the field order of the format.
type chainEntry struct {
	Seq      int64          `json:"seq"`
	Time     time.Time      `json:"time"`
	Examiner string         `json:"examiner"`
	Action   string         `json:"action"`
	Details  map[string]any `json:"details"`
	Prev     string         `json:"prev"`
	Signer   string         `json:"signer,omitempty"`
}

// CustodyEntry is a custody line and what the cluster indexes of it.
type CustodyEntry struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Examiner string    `json:"examiner"`
	Action   string    `json:"action"`
	Hash     string    `json:"hash"`
	Prev     string    `json:"prev"`
	Signer   string    `json:"signer,omitempty"`
	Line     string    `json:"line"`
	// Sig is the entry's custody.sig line verbatim, for a signed case.
	Sig string `json:"sig,omitempty"`
}

// ChainError is the first broken link of a custody chain read from the
// cluster.
type ChainError struct {
	Index string
	Seq   int64
	Msg   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("custody chain in %s broken at entry %d: %s", e.Index, e.Seq, e.Msg)
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ParseCustodyLine checks a line's own hash and reads what is indexed of it.
func ParseCustodyLine(line []byte) (CustodyEntry, error) {
	n := len(line) - len(hashSuffix) - 64 - 2
	if n < 2 || !bytes.Equal(line[n:n+len(hashSuffix)], []byte(hashSuffix)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return CustodyEntry{}, errors.New("no hash at the end of the line")
	}
	sum := string(line[n+len(hashSuffix) : len(line)-2])
	canon := append(append(make([]byte, 0, n+1), line[:n]...), '}')
	if got := sum256(canon); got != sum {
		return CustodyEntry{}, fmt.Errorf("content does not match its hash (recorded %s, computed %s): the line was edited", sum, got)
	}
	var b chainEntry
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return CustodyEntry{}, fmt.Errorf("not a custody entry: %w", err)
	}
	return CustodyEntry{Seq: b.Seq, Time: b.Time, Examiner: b.Examiner, Action: b.Action,
		Hash: sum, Prev: b.Prev, Signer: b.Signer, Line: string(line)}, nil
}

// VerifyChain checks lines as a whole chain from seq 1: each line's hash,
// its sequence number and its link to the line before.
func VerifyChain(index string, lines []CustodyEntry) error {
	prev := ""
	for i, e := range lines {
		want := int64(i + 1)
		got, err := ParseCustodyLine([]byte(e.Line))
		if err != nil {
			return &ChainError{Index: index, Seq: want, Msg: err.Error()}
		}
		switch {
		case got.Seq != want || e.Seq != want:
			return &ChainError{Index: index, Seq: want, Msg: fmt.Sprintf("sequence number %d (document %d) where %d was expected: an entry is missing, added or moved", got.Seq, e.Seq, want)}
		case got.Prev != prev:
			return &ChainError{Index: index, Seq: want, Msg: "link to the previous entry does not match: an entry before it was changed, removed or moved"}
		}
		prev = sum256([]byte(e.Line))
	}
	return nil
}

// Custody reads the whole chain in order and verifies it.
func (c *CaseStore) Custody(ctx context.Context) ([]CustodyEntry, error) {
	var out []CustodyEntry
	err := c.scan(ctx, PartCustody, "seq", nil, func(src json.RawMessage) error {
		var e CustodyEntry
		if err := json.Unmarshal(src, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, VerifyChain(c.Index(PartCustody), out)
}

// PushCustody puts a case folder's chain (lines verbatim, sigs the
// custody.sig line of each seq, if any) into the cluster. The cluster's
// chain must be a prefix of it or continue it: lines the cluster already
// holds must be the same bytes; a cluster that holds entries the folder
// lacks (a worker's, say) while the folder holds entries the cluster
// lacks has diverged, and is refused (pull, then work on the pulled case).
func (c *CaseStore) PushCustody(ctx context.Context, lines [][]byte, sigs map[int64]string) (added int, err error) {
	entries := make([]CustodyEntry, len(lines))
	for i, l := range lines {
		e, err := ParseCustodyLine(l)
		if err != nil {
			return 0, fmt.Errorf("custody.log line %d: %w", i+1, err)
		}
		e.Sig = sigs[e.Seq]
		entries[i] = e
	}
	if err := VerifyChain("custody.log", entries); err != nil {
		return 0, err
	}
	have, err := c.Custody(ctx)
	if err != nil {
		return 0, err
	}
	for i := 0; i < min(len(have), len(entries)); i++ {
		if have[i].Line != entries[i].Line {
			return 0, fmt.Errorf("the custody chain in %s differs from the folder's at entry %d: the case was changed in both places; pull it into a new folder and work from that", c.Index(PartCustody), i+1)
		}
	}
	for _, e := range entries[min(len(have), len(entries)):] {
		if _, err := c.put(ctx, PartCustody, seqID(e.Seq), e, "create", nil); err != nil {
			if errors.Is(err, errConflict) {
				return added, fmt.Errorf("custody entry %d was written to %s by someone else meanwhile: push again", e.Seq, c.Index(PartCustody))
			}
			return added, err
		}
		added++
	}
	return added, c.refreshIndex(ctx, PartCustody)
}

// AppendCustody adds an entry at the end of the cluster's chain for an
// examiner, at time now. Writers on many machines append at once: each
// takes the next seq with op_type=create, and one that finds it taken
// reads the entry there (a real-time GET) and tries the next, so the chain
// stays one line per seq, each linked to the one before.
func (c *CaseStore) AppendCustody(ctx context.Context, now time.Time, examiner, action string, details map[string]any) (CustodyEntry, error) {
	if action == "" {
		return CustodyEntry{}, errors.New("custody entry needs an action")
	}
	// Where the chain ends by search; the loop below walks on from there
	// by GET, which sees what the search (refreshed a moment ago) missed.
	last, err := c.lastCustody(ctx)
	if err != nil {
		return CustodyEntry{}, err
	}
	if details == nil {
		details = map[string]any{}
	}
	for tries := 0; tries < 1000; tries++ {
		b := chainEntry{Seq: 1, Time: now.UTC(), Examiner: examiner, Action: action, Details: details}
		if last != nil {
			if last.Signer != "" {
				return CustodyEntry{}, fmt.Errorf("the case's custody chain is signed: an entry cannot be added in the cluster without the examiner's key")
			}
			b.Seq, b.Prev = last.Seq+1, sum256([]byte(last.Line))
		}
		canon, err := json.Marshal(b)
		if err != nil {
			return CustodyEntry{}, fmt.Errorf("custody details cannot be encoded: %w", err)
		}
		sum := sum256(canon)
		line := append(append(canon[:len(canon)-1:len(canon)-1], hashSuffix+sum...), `"}`...)
		e := CustodyEntry{Seq: b.Seq, Time: b.Time, Examiner: examiner, Action: action, Hash: sum, Prev: b.Prev, Line: string(line)}
		_, err = c.put(ctx, PartCustody, seqID(e.Seq), e, "create", nil)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, errConflict) {
			return CustodyEntry{}, err
		}
		// Taken: by another writer, or by this one if the answer to a
		// resent request was lost (then it is ours, byte for byte).
		var there CustodyEntry
		_, found, gerr := c.getConflicted(ctx, PartCustody, seqID(e.Seq), &there)
		if gerr != nil {
			return CustodyEntry{}, gerr
		}
		if !found {
			return CustodyEntry{}, fmt.Errorf("custody entry %d: refused as existing but not found", e.Seq)
		}
		if there.Line == e.Line {
			return e, nil
		}
		last = &there
	}
	return CustodyEntry{}, errors.New("custody: could not append after 1000 tries")
}

func (c *CaseStore) lastCustody(ctx context.Context) (*CustodyEntry, error) {
	if err := c.refreshIndex(ctx, PartCustody); err != nil {
		return nil, err
	}
	body := `{"size":1,"sort":[{"seq":"desc"}]}`
	cl := c.s.client
	res, err := cl.Search(cl.Search.WithIndex(c.Index(PartCustody)), cl.Search.WithBody(bytes.NewReader([]byte(body))), cl.Search.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", c.Index(PartCustody), err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return nil, apiError("search "+c.Index(PartCustody), res)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Source CustodyEntry `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("search %s: %w", c.Index(PartCustody), err)
	}
	if len(r.Hits.Hits) == 0 {
		return nil, nil
	}
	return &r.Hits.Hits[0].Source, nil
}
