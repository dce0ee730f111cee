package sqlite

import (
	"context"
	"database/sql/driver"
	"reflect"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The modernc driver opens every connection SQLITE_OPEN_FULLMUTEX
// (modernc.org/sqlite conn.go, v1.62.0), so every call into SQLite on it,
// each sqlite3_column_* of every row included, takes and gives back the
// connection's recursive mutex: 9 column calls a row of a search, 5 % of
// an EVTX hunt's CPU (pthread_mutex_lock and unlock, measured). The mutex
// protects nothing here. database/sql never lets two goroutines use one
// connection at once, and the driver itself is not safe for that even
// with the mutex (its doc.go: the connection's libc TLS, used before the
// mutex is reached, would be shared). Its one cross-goroutine call,
// sqlite3_interrupt, takes no mutex. So each connection is put in the mode
// SQLITE_OPEN_NOMUTEX opens it in (SQLite's "multi-thread" mode: a
// connection used by one thread at a time): no connection mutex. SQLite's
// global mutexes (memory, page cache, the shared WAL index) are not
// touched; they stay on, as SQLITE_THREADSAFE=1 and the connections of
// other goroutines need.
//
// The driver offers no flag for it, so it is done right after the open,
// before database/sql has used the connection: the handle is read from the
// driver's connection (its field db, by reflection) and the mutex is freed
// and cleared in the handle, which is the state sqlite3_open_v2 leaves
// with SQLITE_OPEN_NOMUTEX (db->mutex is then null, and every
// sqlite3_mutex_enter of a null mutex is a no-op). When the driver's
// connection does not look as expected (another version), the connection
// is left as it is: slower, never wrong. TestConnNoMutex fails then, so an
// upgrade that loses it is seen.

// noMutexConnector opens connections through the driver's connector and
// turns off each one's mutex.
type noMutexConnector struct{ driver.Connector }

func (c noMutexConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	dropConnMutex(conn)
	return conn, nil
}

// connHandle returns the sqlite3* handle of a modernc driver connection, 0
// when conn is not one of the shape it knows.
func connHandle(conn driver.Conn) uintptr {
	v := reflect.ValueOf(conn)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return 0
	}
	return uintptr(f.Uint())
}

// dropConnMutex clears and frees the connection mutex of conn, a
// connection no one else has used yet.
func dropConnMutex(conn driver.Conn) {
	h := connHandle(conn)
	if h == 0 {
		return
	}
	tls := libc.NewTLS()
	defer tls.Close()
	mu := sqlite3.Xsqlite3_db_mutex(tls, h)
	if mu == 0 {
		return
	}
	// h is memory of SQLite's allocator (modernc's libc heap), which the
	// Go collector neither moves nor frees: a pointer made from it stays
	// valid as long as the connection is open. The double conversion
	// says so to go vet, which cannot tell this memory from Go's.
	db := (*sqlite3.Tsqlite3)(*(*unsafe.Pointer)(unsafe.Pointer(&h)))
	db.Fmutex = 0
	sqlite3.Xsqlite3_mutex_free(tls, mu)
}

// connMutex reports the connection mutex of conn (0: none), for the tests.
func connMutex(conn driver.Conn) uintptr {
	h := connHandle(conn)
	if h == 0 {
		return 0
	}
	tls := libc.NewTLS()
	defer tls.Close()
	return sqlite3.Xsqlite3_db_mutex(tls, h)
}
