package mysql

import (
	"flag"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

var update = flag.Bool("update", false, "rewrite testdata/events.sha256 from the parser as it is")

// TestEventsUnchanged guards the speed work of issue 15: the events and
// warnings of every corpus file the parser matches, of its testdata,
// in two zones, stay byte for byte what testdata/events.sha256 says
// (parsertest.EventsUnchanged).
func TestEventsUnchanged(t *testing.T) {
	parsertest.EventsUnchanged(t, New(), parsertest.Unchanged{
		Golden:     "testdata/events.sha256",
		Extra:      nil,
		MinChecked: 4,
		Update:     *update,
	})
}
