package sqlite

import (
	"context"
	"fmt"
)

// A far time held back. An event whose time date_nanos cannot hold is
// stored with ts farTS, a REAL (times.go). SQLite's sorter compares the
// keys of an index build with a comparison chosen from the types it was
// fed: integers alone take vdbeSorterCompareInt; one REAL among them
// makes it compare every pair of the build through the general record
// comparison (vdbeSorterCompareReal, which hands every key of an 8-byte
// integer, every ts, to vdbeSorterCompare). An NTFS image has such times
// (a zeroed timestamp is 1601): the 300k image's one event at farTS made
// the build of events_ts cost 0.50-0.53 CPU-s instead of 0.25-0.28.
//
// So a bulk run (no index yet, see BeginRun) inserts such an event's ts
// as farHeld, a negative integer that no time stored as an integer is
// (those are the nanoseconds from 1970 up), and the build of events_ts
// sets every negative ts to farTS in the transaction that built the
// index, through it: the table holds farTS again, with the rowids, values
// and custody digest (which hashes farTS, as Write's rows say) of a run
// that bound farTS itself. A run that leaves its indexes to the next
// Open (LeaveIndexes) puts farTS back itself, over the rowids that held
// far times; a run killed before either leaves negative ts, which the
// next writable Open's build of the indexes (crash recovery) puts back.
// Until then a reader of the killed run's store sees such events first
// in time order instead of last; no time bound selects them either way.
const farHeld = -1

// farHeldArg is farHeld as bound, made an interface once.
var farHeldArg any = int64(farHeld)

// fixFar is the statement that puts farTS back for every ts farHeld; it
// reads events_ts when it is there.
const fixFar = `UPDATE event_rows SET ts = ?1 WHERE ts < 0`

// heldFar records that the rows with rowids lo to hi hold farHeld for
// some of their ts.
func (s *Store) heldFar(lo, hi int64) {
	if s.farHi == 0 || lo < s.farLo {
		s.farLo = lo
	}
	s.farHi = max(s.farHi, hi)
}

// putFarBack sets ts to farTS where this run's inserts held it back
// (farHeld), between the first and the last rowid that did: for a run
// whose indexes are not built here (LeaveIndexes), or were built by
// another connection.
func (s *Store) putFarBack(ctx context.Context) error {
	if s.farHi == 0 {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, fixFar+` AND rowid BETWEEN ?2 AND ?3`, float64(farTS), s.farLo, s.farHi); err != nil {
		return fmt.Errorf("store far times: %w", err)
	}
	s.farLo, s.farHi = 0, 0
	return nil
}
