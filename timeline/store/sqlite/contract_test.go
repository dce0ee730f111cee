package sqlite

import (
	"testing"

	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// The same contract the Elasticsearch store is held to.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) },
		// Both in files of the case store being rewritten (write.go's
		// chunk.encode, sqlite.go's where): time.UnixNano is undefined
		// outside 1678-2262, so such times and bounds wrap around.
		storetest.Known{Test: "FarBounds", Why: "where() turns a From/To outside 1678-2262 into a wrapped UnixNano (From 1500 selects almost nothing, From 2263 everything)"},
		storetest.Known{Test: "OutOfRangeTimes", Why: "the ts column holds UnixNano of times outside 1970-2262 (wrapped when outside 1678-2262): such events sort inside the timeline and match time bounds, where Elasticsearch (and the query package for KQL) puts them last, by ID, matched by no bound"},
		// In the SQL the query package writes (timeline/query/sql.go:
		// GLOB for wildcards, kql_text for free text), not in the store.
		storetest.Known{Test: "NulInText", Why: "KQL sees a text value only up to its first NUL: SQLite's GLOB stops there, and kql_text gets the value cut there, so `after` misses \"before\\x00 after\" and user.name:*y misses \"x\\x00y\"; Elasticsearch finds both"},
	)
}
