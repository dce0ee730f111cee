package hunt

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestWinSystemValue: the System fields the prefilter reads without
// building an event's field map (winSystemValue) have exactly the value
// and presence sigmaEventInto gives them, on every record of the corpus's
// EVTX files and on records whose own System value is missing, or given
// again in EventData.
func TestWinSystemValue(t *testing.T) {
	fields := []string{"EventID", "Channel", "Provider_Name", "Computer"}
	check := func(t *testing.T, ev *timeline.Event) {
		t.Helper()
		for _, f := range fields {
			m := sigmaEventInto(map[string]any{}, ev, map[string]bool{f: true})
			want, wantOK := m[f]
			got, ok, direct := winSystemValue(ev.Winlog, f)
			if !direct {
				t.Fatalf("%s: not read directly", f)
			}
			if ok != wantOK || wantOK && got != str(want) {
				t.Errorf("event %s (%s %d) %s: %q %v, sigmaEventInto %q %v", ev.Jejak.ID, ev.Winlog.Channel, ev.Winlog.EventID, f, got, ok, want, wantOK)
			}
		}
	}
	t.Run("edge cases", func(t *testing.T) {
		data := map[string]string{"Channel": "FromData", "EventID": "9", "Provider_Name": "P", "Computer": "C"}
		for i, w := range []*timeline.Winlog{
			{},
			{EventData: data},
			{Channel: "Security", EventID: 4624, ProviderName: "Microsoft-Windows-Security-Auditing", ComputerName: "dc01", EventData: data},
			{Channel: "Security", EventID: 4624, EventData: map[string]string{"LogonType": "10"}},
			{EventID: 0, EventData: map[string]string{"Channel": ""}},
		} {
			ev := &timeline.Event{Winlog: w}
			ev.Jejak.ID = fmt.Sprint(i)
			check(t, ev)
		}
	})
	t.Run("corpus", func(t *testing.T) {
		evtx := corpusEVTX(t)
		st, _ := casetest.Build(t, evtx...)
		n := 0
		if err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
			if ev.Winlog != nil {
				check(t, ev)
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n < 1000 {
			t.Fatalf("only %d Windows records in the corpus", n)
		}
	})
}

// TestSigmaNeedLeavesIndexedFields: of a selection's field requirements,
// the prefilter takes one on a field the Sigma index did not already
// choose the event by (JEJAK-AUTH-06's "LogonType: 10" rather than
// "Channel: Security" for Security 4624), so that most records the index
// gives the rule are rejected without building their field map.
func TestSigmaNeedLeavesIndexedFields(t *testing.T) {
	r := ruleByID(t, "JEJAK-AUTH-06")
	var fields []string
	for _, a := range r.sigma.need {
		fields = append(fields, a.field+"="+a.lit)
	}
	got := strings.Join(fields, " ")
	if !strings.Contains(got, "LogonType=10") || strings.Contains(got, "Channel=security") {
		t.Errorf("AUTH-06 prefilter needs %s; want LogonType=10 for Security 4624, not its channel", got)
	}
	for _, tc := range []struct {
		a, b need
		want string
	}{
		{need{{"Channel", "security"}}, need{{"LogonType", "10"}}, "LogonType"},
		{need{{"EventID", "4624"}}, need{{"Channel", "security"}}, "Channel"}, // both indexed: the longer literal
		{need{{"Image", "\\cmd.exe"}}, need{{"CommandLine", "/c"}}, "Image"},
	} {
		for _, order := range [][2]need{{tc.a, tc.b}, {tc.b, tc.a}} {
			if got := better(order[0], order[1])[0].field; got != tc.want {
				t.Errorf("better(%v, %v) = %s, want %s", order[0], order[1], got, tc.want)
			}
		}
	}
}
