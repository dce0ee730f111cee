package hunt

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// xrec is one record as libevtx's evtxexport renders it: the independent
// oracle for record IDs.
type xrec struct {
	ID      uint64
	EventID string
	Channel string
	Data    map[string]string
}

// evtxexport runs evtxexport (Debian libevtx-utils) on a file; ok is false
// when it refuses the file.
func evtxexport(t testing.TB, path string) ([]xrec, bool) {
	t.Helper()
	events, ok, _ := oracle.EvtxExport(t, path)
	var recs []xrec
	for _, block := range events {
		var ev struct {
			System struct {
				EventID       string `xml:"EventID"`
				EventRecordID uint64 `xml:"EventRecordID"`
				Channel       string `xml:"Channel"`
			} `xml:"System"`
			Data []struct {
				Name  string `xml:"Name,attr"`
				Value string `xml:",chardata"`
			} `xml:"EventData>Data"`
		}
		if err := xml.Unmarshal(block, &ev); err != nil {
			t.Fatalf("evtxexport XML of %s: %v", path, err)
		}
		r := xrec{ID: ev.System.EventRecordID, EventID: strings.TrimSpace(ev.System.EventID), Channel: ev.System.Channel, Data: map[string]string{}}
		for _, d := range ev.Data {
			r.Data[d.Name] = d.Value
		}
		recs = append(recs, r)
	}
	return recs, ok
}

// oracleIDs are the record IDs evtxexport shows for records keep accepts.
func oracleIDs(recs []xrec, keep func(xrec) bool) []uint64 {
	var ids []uint64
	for _, r := range recs {
		if keep(r) {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// findingIDs are the record IDs of the events of the given findings.
// findingIDs lists the record IDs of the live rows of fs: what evtxexport,
// which exports live records, can confirm. Rows recovered from slack are
// checked apart (recoveredIDs).
func findingIDs(fs []Finding) []uint64 {
	var ids []uint64
	for _, f := range fs {
		for _, e := range f.Events {
			if !slices.Contains(e.State, "recovered") {
				ids = append(ids, e.RecordID)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// recoveredIDs lists the record IDs of fs's rows recovered from slack.
func recoveredIDs(fs []Finding) []uint64 {
	var ids []uint64
	for _, f := range fs {
		for _, e := range f.Events {
			if slices.Contains(e.State, "recovered") {
				ids = append(ids, e.RecordID)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func eventIDIn(ids ...string) func(xrec) bool {
	return func(r xrec) bool { return slices.Contains(ids, r.EventID) }
}
