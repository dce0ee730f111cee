package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"strings"
)

// relax turns off syncing for the rest of a bulk run (see StartRun) when
// the store holds nothing but this run's record: no event, no warning, no
// other run. Then a power loss during the run can damage nothing but what
// the run is writing, and the run's record, synced here first, says it did
// not complete. Only in the bulk run's rollback journal mode (mode, as
// the switch to it answered): a store kept in WAL mode (another process
// has it open) stays synced. Called with s.mu held, before any write of
// the run.
func (s *Store) relax(ctx context.Context, mode string) error {
	if !strings.EqualFold(mode, "truncate") {
		return nil
	}
	if fi, err := os.Stat(s.path); err != nil || !fi.Mode().IsRegular() {
		return nil // not a file this process can sync itself: stays synced
	}
	var alone bool
	if err := s.w.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM runs) = 1 AND NOT EXISTS(SELECT 1 FROM warnings)`).Scan(&alone); err != nil {
		return err
	}
	if !alone {
		return nil
	}
	// The run's record, committed before the switch to the rollback
	// journal, is on the disk before anything is written unsynced.
	if err := syncFile(s.path); err != nil {
		return err
	}
	s.relaxMu.Lock()
	defer s.relaxMu.Unlock()
	if _, err := s.w.ExecContext(ctx, `PRAGMA synchronous=OFF`); err != nil {
		return fmt.Errorf("bulk run without sync: %w", err)
	}
	s.relaxed = true
	return nil
}

// unrelax ends a relaxed run's unsynced writes: it waits for those of
// pooled connections (relaxPooled), turns syncing back on for the writer's
// connection, whose later commits (the index builds') are synced as ever,
// and syncs the file: beside what the caller does next, as the sync is
// disk work and the index builds are one core's. The function it returns
// waits for that sync and returns its error; it is to be called before
// anything can record the run complete. Outside a relaxed run it does
// nothing. Called with s.mu held, the write-behind stopped.
func (s *Store) unrelax(ctx context.Context) (synced func() error) {
	s.relaxMu.Lock()
	relaxed := s.relaxed
	s.relaxed = false
	s.relaxMu.Unlock()
	if !relaxed {
		return func() error { return nil }
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
		return func() error { return fmt.Errorf("sync the store again: %w", err) }
	}
	done := make(chan error, 1)
	go func() {
		done <- syncFile(s.path)
	}()
	return func() error { return <-done }
}

// relaxPooled makes a write on conn, a pooled connection, unsynced as the
// writer's are while the run is relaxed. The function it returns, called
// once the write's transaction has ended, turns syncing back on for conn
// (a connection that cannot be turned back is discarded) and lets unrelax
// go on.
func (s *Store) relaxPooled(ctx context.Context, conn *sql.Conn) (done func(), err error) {
	s.relaxMu.RLock()
	if !s.relaxed {
		s.relaxMu.RUnlock()
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous=OFF`); err != nil {
		s.relaxMu.RUnlock()
		return nil, err
	}
	return func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous=NORMAL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		s.relaxMu.RUnlock()
	}, nil
}

// syncFile syncs the file at path: fsync is of the file, whichever
// descriptor asks, so this syncs every page any connection wrote.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err == nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("sync the store: %w", err)
	}
	return nil
}
