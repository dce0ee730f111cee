package hunt

import (
	"context"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// A hunt decodes of a Windows record's winlog.event_data and jejak.data
// only the entries some rule can read (the sqlite store's Projection):
// on the 40-EVTX case those two maps were half of the decoding, for keys
// no rule looks at (a 4907's OldSd and NewSd, every record's thread_id).
//
// Which keys can a rule read? Nobody lists them by hand, so none can be
// forgotten:
//   - A Go analyzer reads a map entry by a key written in this package's
//     source: a string literal, at the index or in a list the index walks.
//     The set is every string literal of the package's own (non-test,
//     non-Sigma) Go files: sourceKeys, in proj_keys.go, which
//     TestSourceKeys writes with -update and fails on when an analyzer
//     added tomorrow brings a literal the list does not hold.
//   - The few reads by a key made at run time are listed below, each with
//     its site, and TestProjectionDynamicReads fails on a new one:
//     rdpField's "Data_N" (prefix "Data", which also covers Sigma's
//     unnamed Data1..N) and mssqlEvent's scan of every entry of an MSSQL
//     login record (IDs 18453-18456: decoded whole).
//   - A Sigma rule reads the fields its compiled matchers name
//     (sigmaRule.fields, what the field map is already restricted to):
//     the union of every loaded rule's is added.
// A hunt run without the prefilter (the oracle tests) reads whole events.

// dynamicPrefixes are the key prefixes read by keys made at run time:
// rdpField's Data_N, unnamedData's DataN.
var dynamicPrefixes = []string{"Data_"}

// wholeEventData: the event IDs whose event_data is read entry by entry
// (mssqlEvent, every value searched for the client address).
var wholeEventData = map[int]bool{18453: true, 18454: true, 18455: true, 18456: true}

// useProjection is false only in the test that holds the projected hunt
// to the whole one.
var useProjection = true

// projectedSearcher is a transientSearcher that can also leave out the
// map entries no rule reads (the sqlite store).
type projectedSearcher interface {
	SearchProjected(ctx context.Context, q timeline.Query, p *sqlite.Projection, fn func(*timeline.Event) error) error
}

// projection is what the hunt's rules can read of a Windows record's two
// maps, or nil: everything.
func projection(idx *sigmaIndex) *sqlite.Projection {
	if !useProjection || !usePrefilter || idx.want == nil {
		return nil
	}
	sigNames, sigPrefixes := sigmaMapKeys(idx.want)
	keys := sqlite.NewKeys(append(sigNames, sourceKeys...), append(sigPrefixes, dynamicPrefixes...))
	return &sqlite.Projection{
		EventData: func(h sqlite.WinlogHead) *sqlite.Keys {
			if wholeEventData[h.EventID] {
				return nil
			}
			return keys
		},
		WinData: func(sqlite.WinlogHead) *sqlite.Keys { return keys },
	}
}
