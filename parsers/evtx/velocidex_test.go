package evtx

import (
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/Velocidex/ordereddict"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	vevtx "www.velocidex.com/golang/evtx"
)

// TestDifferentialVelocidex compares every record with the Velocidex
// decoder where Velocidex decodes the file: event ID, record ID, creation
// time and each EventData value.
func TestDifferentialVelocidex(t *testing.T) {
	skip := map[string]string{
		"ID1149-RDP_success_logins.evtx": "Velocidex returns undecoded bodies (see TestRDP1149)",
	}
	for _, rel := range corpusEVTX(t) {
		name := path.Base(rel)
		t.Run(name, func(t *testing.T) {
			if why, ok := skip[name]; ok {
				t.Skip(why)
			}
			file := parsertest.Corpus(t, rel)
			velo := velocidex(t, file)
			// Velocidex does not carve slack: compare the live records.
			res := liveOnly(parsertest.ParseFile(t, New(2), file, nil))
			byID := map[uint64]int{}
			for i, ev := range res.Events {
				byID[ev.Winlog.RecordID] = i
			}
			compared := 0
			for id, v := range velo {
				i, ok := byID[id]
				if !ok {
					// Velocidex reads past damage without checks; on the
					// damaged samples it returns records from zeroed or
					// overwritten areas that have no intact body.
					if _, dmg := damaged[rel]; !dmg {
						t.Errorf("record %d (Velocidex) missing", id)
					}
					continue
				}
				ev := res.Events[i]
				compared++
				if got := strconv.Itoa(ev.Winlog.EventID); got != fmt.Sprint(v.eventID) {
					t.Errorf("record %d: event ID %s, Velocidex %v", id, got, v.eventID)
				}
				if d := math.Abs(float64(ev.Timestamp.UnixNano())/1e9 - v.time); d > 2e-6 {
					t.Errorf("record %d: time %v, Velocidex %.7f", id, ev.Timestamp, v.time)
				}
				for k, want := range v.data {
					got, ok := ev.Winlog.EventData[k]
					if !ok {
						t.Errorf("record %d: EventData %s missing (Velocidex %v)", id, k, want)
						continue
					}
					if !sameValue(got, want) {
						t.Errorf("record %d: EventData %s = %q, Velocidex %v", id, k, got, want)
					}
				}
			}
			if compared == 0 {
				t.Fatal("nothing compared")
			}
			t.Logf("%d records compared (Velocidex %d, ours %d)", compared, len(velo), len(res.Events))
		})
	}
}

type veloRecord struct {
	eventID any
	time    float64
	data    map[string]any
}

func velocidex(t *testing.T, file string) map[uint64]veloRecord {
	fd, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	chunks, err := vevtx.GetChunks(fd)
	if err != nil {
		t.Fatalf("Velocidex: %v", err)
	}
	out := map[uint64]veloRecord{}
	for _, c := range chunks {
		recs, _ := c.Parse(0)
		for _, r := range recs {
			d, ok := r.Event.(*ordereddict.Dict)
			if !ok {
				continue
			}
			evv, _ := d.Get("Event")
			ev, ok := evv.(*ordereddict.Dict)
			if !ok {
				continue
			}
			sysv, _ := ev.Get("System")
			sys, ok := sysv.(*ordereddict.Dict)
			if !ok {
				continue
			}
			var vr veloRecord
			if e, ok := sys.Get("EventID"); ok {
				if ed, ok := e.(*ordereddict.Dict); ok {
					vr.eventID, _ = ed.Get("Value")
				}
			}
			if tc, ok := sys.Get("TimeCreated"); ok {
				if td, ok := tc.(*ordereddict.Dict); ok {
					st, _ := td.Get("SystemTime")
					vr.time, _ = st.(float64)
				}
			}
			rid, _ := sys.Get("EventRecordID")
			id, err := strconv.ParseUint(fmt.Sprint(rid), 10, 64)
			if err != nil {
				continue
			}
			vr.data = map[string]any{}
			if edv, ok := ev.Get("EventData"); ok {
				if ed, ok := edv.(*ordereddict.Dict); ok {
					for _, k := range ed.Keys() {
						v, _ := ed.Get(k)
						switch v.(type) {
						case string, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool:
							vr.data[k] = v
						}
					}
				}
			}
			out[id] = vr
		}
	}
	return out
}

// sameValue compares our rendered text with Velocidex's typed value:
// numbers may be rendered hex by us (HexInt types) and decimal by it.
func sameValue(got string, want any) bool {
	switch w := want.(type) {
	case string:
		// Windows (and evtxexport) render GUIDs in braces, Velocidex not.
		w = strings.TrimRight(w, "\x00")
		return got == w || got == "{"+w+"}"
	case bool:
		return got == strconv.FormatBool(w)
	}
	ws := fmt.Sprint(want)
	if got == ws {
		return true
	}
	wn, err1 := strconv.ParseInt(ws, 10, 64)
	if err1 != nil {
		u, err := strconv.ParseUint(ws, 10, 64)
		if err != nil {
			return false
		}
		wn = int64(u)
	}
	if strings.HasPrefix(got, "0x") {
		g, err := strconv.ParseUint(got[2:], 16, 64)
		return err == nil && int64(g) == wn
	}
	g, err := strconv.ParseInt(got, 10, 64)
	return err == nil && g == wn
}
