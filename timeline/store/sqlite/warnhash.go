package sqlite

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"strconv"
)

// hash hashes p's rows into h once their transaction committed, as
// warnHashed.add does, the rows of each INSERT after checking that it
// inserted them with the rowids following those before.
//
// The bytes are add's, but a row's first three values (run, kind,
// evidence) and, when its shape gives its message, its last four (parser,
// offset, record, message) are copied from the row before whenever they
// are the same, which they are from one skipped file of an image to the
// next: only the chain and the path are a row's own.
func (p *warnPlan) hash(h *warnHashed, run int64) {
	buf := h.buf
	var runText [20]byte
	runBytes := strconv.AppendInt(runText[:0], run, 10)
	// The row before's first and last values, in buf (prev < 0: none).
	prev, preAt, preEnd, sufAt, sufEnd := -1, 0, 0, 0, 0
	for _, r := range p.results {
		if !h.inserted(r.res, int64(r.hi-r.lo)) {
			h.buf = buf
			return
		}
		for i := r.lo; i < r.hi; i++ {
			w := &p.ws[i]
			same := prev >= 0 && prev == i-1 && p.keyOf[i] == p.keyOf[prev]
			if same {
				buf = append(buf, buf[preAt:preEnd]...)
			} else {
				preAt = len(buf)
				buf = AppendTableText(buf, runBytes)
				buf = AppendTableText(buf, string(w.Kind))
				buf = AppendTableText(buf, w.Evidence)
				preEnd = len(buf)
			}
			if k := &p.keys[p.keyOf[i]]; k.hasHead {
				buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(len(k.head)+len(w.Path)+2))
				buf = append(append(append(buf, k.head...), w.Path...), `"]`...)
			} else {
				buf = AppendTableText(buf, p.chain(i))
			}
			buf = AppendTableText(buf, w.Path)
			if same && p.keys[p.keyOf[i]].hasMsg && w.Offset == p.ws[prev].Offset && w.Record == p.ws[prev].Record {
				buf = append(buf, buf[sufAt:sufEnd]...)
			} else {
				sufAt = len(buf)
				buf = AppendTableText(buf, w.Parser)
				buf = appendWarnInt(buf, w.Offset)
				buf = appendWarnInt(buf, w.Record)
				buf = AppendTableText(buf, w.Message)
				sufEnd = len(buf)
			}
			prev = i
		}
	}
	h.buf = buf
}

// inserted checks, as warnHashed.add does, that an INSERT that returned
// res inserted its m rows, with the rowids following those of the
// INSERTs before, and counts them; false breaks h.
func (h *warnHashed) inserted(res driver.Result, m int64) bool {
	if h.broken != "" {
		return false
	}
	n, err := res.RowsAffected()
	if err != nil {
		h.broken = fmt.Sprintf("warnings inserted: %v", err)
		return false
	}
	last, err := res.LastInsertId()
	switch {
	case err != nil:
		h.broken = fmt.Sprintf("warnings' rowid: %v", err)
		return false
	case n != m:
		h.broken = fmt.Sprintf("%d of %d warnings inserted", n, m)
		return false
	case h.n > 0 && last != h.last+m:
		h.broken = fmt.Sprintf("warnings got rowids up to %d, not %d to %d", last, h.last+1, h.last+m)
		return false
	case h.n == 0:
		h.base = last - m
	}
	h.last = last
	h.n += m
	return true
}
