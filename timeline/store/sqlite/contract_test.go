package sqlite

import (
	"testing"

	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// The same contract the Elasticsearch store is held to.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) },
		// In the SQL the query package writes (timeline/query/sql.go:
		// GLOB for wildcards, kql_text for free text), not in the store.
		storetest.Known{Test: "NulInText", Why: "KQL sees a text value only up to its first NUL: SQLite's GLOB stops there, and kql_text gets the value cut there, so `after` misses \"before\\x00 after\" and user.name:*y misses \"x\\x00y\"; Elasticsearch finds both"},
	)
}
