package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	msqlite "modernc.org/sqlite"
)

// The modernc driver registers SQL functions process-wide, for connections
// opened afterwards; it has no per-connection registration. So the KQL
// functions are registered once, and Query makes sure the connection it
// runs on was opened after that.
var (
	kqlOnce sync.Once
	kqlErr  error
)

func registerKQL() error {
	kqlOnce.Do(func() {
		for _, f := range query.SQLFuncs() {
			fn := f.Fn
			err := msqlite.RegisterDeterministicScalarFunction(f.Name, int32(f.NArgs),
				func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
					in := make([]any, len(args))
					for i, a := range args {
						in[i] = a
					}
					return fn(in)
				})
			if err != nil {
				kqlErr = fmt.Errorf("register SQL function %s: %w", f.Name, err)
				return
			}
		}
	})
	return kqlErr
}

// kqlConn returns a connection that has the KQL functions. Connections the
// pool opened before registration lack them: they are closed (returning
// driver.ErrBadConn from Raw discards a connection) until a fresh one comes.
func (s *Store) kqlConn(ctx context.Context) (*sql.Conn, error) {
	if err := registerKQL(); err != nil {
		return nil, err
	}
	for tries := 0; tries < 64; tries++ {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		var one int
		err = conn.QueryRowContext(ctx, `SELECT kql_text('a', 'any', 'a')`).Scan(&one)
		if err == nil {
			return conn, nil
		}
		if !strings.Contains(err.Error(), "no such function") {
			conn.Close()
			return nil, err
		}
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}
	return nil, errors.New("sqlite: no connection with the KQL functions after 64 tries")
}

// columns lists the events table's columns: which fields have a column
// of their own has changed between schema versions of the case store.
func columns(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info('events')`)
	if err != nil {
		return nil, fmt.Errorf("read the events table's columns: %w", err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		cols[name] = true
	}
	return cols, rows.Err()
}

func queryWhere(ctx context.Context, conn *sql.Conn, f *query.Filter, q timeline.Query) (string, []any, error) {
	w, args := where(q)
	if f == nil {
		return w, args, nil
	}
	cols, err := columns(ctx, conn)
	if err != nil {
		return "", nil, err
	}
	cond, cargs := f.SQLColumns(func(c string) bool { return cols[c] })
	if w == "" {
		return " WHERE " + cond, cargs, nil
	}
	return w + " AND " + cond, append(args, cargs...), nil
}

// Query streams the events matching a compiled KQL filter (nil: all) within
// q's time range, in the store's order (@timestamp, then ID), at most
// q.Limit of them.
func (s *Store) Query(ctx context.Context, f *query.Filter, q timeline.Query, fn func(*timeline.Event) error) error {
	conn, err := s.kqlConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	w, args, err := queryWhere(ctx, conn, f, q)
	if err != nil {
		return err
	}
	// The view events: the filter may test doc and user_name.
	stmt := "SELECT id, blk, slot FROM events" + w + " ORDER BY ts, id"
	if q.Limit > 0 {
		stmt += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := conn.QueryContext(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("query %q: %w", f, err)
	}
	defer rows.Close()
	return s.streamRows(ctx, rows, fn)
}

// QueryCount returns how many events a Query would stream.
func (s *Store) QueryCount(ctx context.Context, f *query.Filter, q timeline.Query) (int64, error) {
	conn, err := s.kqlConn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	w, args, err := queryWhere(ctx, conn, f, q)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM events"+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %q: %w", f, err)
	}
	if q.Limit > 0 && n > int64(q.Limit) {
		n = int64(q.Limit)
	}
	return n, nil
}
