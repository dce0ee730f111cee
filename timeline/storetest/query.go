package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// kqlCase is one KQL expression and, as the oracle, a Go predicate saying
// which events of the fixture it must select, written from the query
// package's documented semantics, not from either store's answer.
type kqlCase struct {
	kql  string
	want func(*timeline.Event) bool
}

func userName(e *timeline.Event) string {
	if e.User == nil {
		return ""
	}
	return e.User.Name
}

// words is the fixture's messages split as the standard analyzer does
// for these ASCII messages: lower case, runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
}

// kqlCases covers each kind of KQL condition on each kind of field the
// fixture holds: keyword equality, wildcards (trailing, leading), numeric
// and date ranges, IP addresses and CIDR blocks, flattened keys, arrays,
// "exists", free text (words, phrase, wildcard), and boolean and/or/not.
var kqlCases = []kqlCase{
	{`user.name:operator1`, func(e *timeline.Event) bool { return userName(e) == "operator1" }},
	{`user.name:"operator1"`, func(e *timeline.Event) bool { return userName(e) == "operator1" }},
	{`user.name:OPERATOR1`, func(e *timeline.Event) bool { return false }}, // keywords are case-sensitive
	{`user.name:op*`, func(e *timeline.Event) bool { return strings.HasPrefix(userName(e), "op") }},
	{`event.action:*-failed`, func(e *timeline.Event) bool { return strings.HasSuffix(e.Event.Action, "-failed") }},
	{`event.code:4624 or event.code:1102`, func(e *timeline.Event) bool { return e.Event.Code == "4624" || e.Event.Code == "1102" }},
	{`source.port >= 40022`, func(e *timeline.Event) bool { return e.Source != nil && e.Source.Port >= 40022 }},
	{`source.port > 40022 and source.port < 60000`, func(e *timeline.Event) bool {
		return e.Source != nil && e.Source.Port > 40022 && e.Source.Port < 60000
	}},
	{`http.response.status_code:200`, func(e *timeline.Event) bool {
		return e.HTTP != nil && e.HTTP.Response != nil && e.HTTP.Response.StatusCode == 200
	}},
	{`@timestamp < "2024-11-05"`, func(e *timeline.Event) bool {
		return e.Timestamp.Before(time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC))
	}},
	{`@timestamp >= "2024-11-05T07:34" and @timestamp <= "2024-11-05T09:31"`, func(e *timeline.Event) bool {
		// gte rounds down to the minute, lte up to its end.
		return !e.Timestamp.Before(time.Date(2024, 11, 5, 7, 34, 0, 0, time.UTC)) &&
			e.Timestamp.Before(time.Date(2024, 11, 5, 9, 32, 0, 0, time.UTC))
	}},
	{`source.ip:10.0.0.0/8`, func(e *timeline.Event) bool { return e.Source != nil && strings.HasPrefix(e.Source.IP, "10.") }},
	{`source.ip:"2001:db8::/32"`, func(e *timeline.Event) bool { return e.Source != nil && strings.HasPrefix(e.Source.IP, "2001:db8:") }},
	{`source.ip:203.0.113.9`, func(e *timeline.Event) bool { return e.Source != nil && e.Source.IP == "203.0.113.9" }},
	{`winlog.event_data.LogonType:10`, func(e *timeline.Event) bool {
		return e.Winlog != nil && e.Winlog.EventData["LogonType"] == "10"
	}},
	{`winlog.event_data.TargetUserName:*er*`, func(e *timeline.Event) bool {
		return e.Winlog != nil && strings.Contains(e.Winlog.EventData["TargetUserName"], "er")
	}},
	{`jejak.tags:"anti-forensics"`, func(e *timeline.Event) bool { return slices.Contains(e.Jejak.Tags, "anti-forensics") }},
	{`event.category:authentication and not event.outcome:success`, func(e *timeline.Event) bool {
		return slices.Contains(e.Event.Category, "authentication") && e.Event.Outcome != "success"
	}},
	{`process.pid:*`, func(e *timeline.Event) bool { return e.Process != nil && e.Process.PID != 0 }},
	{`not user.name:*`, func(e *timeline.Event) bool { return userName(e) == "" }},
	{`password`, func(e *timeline.Event) bool { return slices.Contains(words(e.Message), "password") }},
	{`"audit log was cleared"`, func(e *timeline.Event) bool {
		return strings.Contains(strings.ToLower(e.Message), "audit log was cleared")
	}},
	{`message:fail*`, func(e *timeline.Event) bool {
		return slices.ContainsFunc(words(e.Message), func(w string) bool { return strings.HasPrefix(w, "fail") })
	}},
	{`(user.name:operator1 or user.name:admin) and (event.code:4625 or jejak.tags:*)`, func(e *timeline.Event) bool {
		u := userName(e)
		return (u == "operator1" || u == "admin") && (e.Event.Code == "4625" || len(e.Jejak.Tags) > 0)
	}},
	{`*`, func(*timeline.Event) bool { return true }},
	{`user.name:nobody`, func(*timeline.Event) bool { return false }},
}

func compile(t *testing.T, kql string) *query.Filter {
	t.Helper()
	f, err := query.New(kql, query.Options{})
	if err != nil {
		t.Fatalf("query.New(%q): %v", kql, err)
	}
	return f
}

func runQuery(t *testing.T, s store.Events, f *query.Filter, q timeline.Query) []*timeline.Event {
	t.Helper()
	var got []*timeline.Event
	if err := s.Query(ctx(t), f, q, func(e *timeline.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("Query(%v, %+v): %v", f, q, err)
	}
	return got
}

func queryCount(t *testing.T, s store.Events, f *query.Filter, q timeline.Query) int64 {
	t.Helper()
	n, err := s.QueryCount(ctx(t), f, q)
	if err != nil {
		t.Fatalf("QueryCount(%v, %+v): %v", f, q, err)
	}
	return n
}

// testQuery runs every KQL case alone, within a time window, and with a
// limit, and checks Query's events (in the store's order) and QueryCount.
func testQuery(t *testing.T, s store.Store) {
	evs := Events()
	write(t, s, evs)
	all := sorted(evs)
	window := timeline.Query{From: base, To: base.Add(2*time.Hour + 6*time.Microsecond)}
	inWindow := func(e *timeline.Event) bool {
		return !e.Timestamp.Before(window.From) && e.Timestamp.Before(window.To)
	}
	nonEmpty := 0
	for _, c := range kqlCases {
		t.Run(c.kql, func(t *testing.T) {
			f := compile(t, c.kql)
			want := filter(all, c.want)
			if len(want) > 0 {
				nonEmpty++
			}
			check := func(what string, q timeline.Query, want []*timeline.Event) {
				t.Helper()
				got := runQuery(t, s, f, q)
				if !slices.Equal(ids(got), ids(want)) {
					t.Errorf("%s: Query:\n got  %v\n want %v", what, ids(got), ids(want))
				}
				if n := queryCount(t, s, f, q); n != int64(len(want)) {
					t.Errorf("%s: QueryCount = %d, want %d", what, n, len(want))
				}
			}
			check("whole timeline", timeline.Query{}, want)
			check("window", window, filter(want, inWindow))
			if len(want) > 1 {
				check("limit", timeline.Query{Limit: 1}, want[:1])
			}
		})
	}
	if nonEmpty < len(kqlCases)*2/3 {
		t.Errorf("fixture: only %d of %d KQL cases select any event", nonEmpty, len(kqlCases))
	}
	// A nil filter is every event, as Search gives them.
	if got := runQuery(t, s, nil, timeline.Query{}); !slices.Equal(ids(got), ids(all)) {
		t.Errorf("Query(nil):\n got  %v\n want %v", ids(got), ids(all))
	}
	if n := queryCount(t, s, nil, timeline.Query{From: base}); n != count(t, s, timeline.Query{From: base}) {
		t.Errorf("QueryCount(nil, from base) = %d, Count says %d", n, count(t, s, timeline.Query{From: base}))
	}
	// The events come back whole, as Search returns them.
	got := runQuery(t, s, compile(t, `user.name:operator1`), timeline.Query{Limit: 1})
	if len(got) != 1 || got[0].Winlog == nil || got[0].Winlog.EventData["LogonProcessName"] != "User32 " ||
		got[0].Jejak.Provenance.Offset != 1183744 || got[0].Timestamp.Nanosecond() != 123456789 {
		t.Errorf("Query's event is not whole: %+v", got)
	}
}

// testQueryPaging runs a filter over more events than a store fetches per
// round trip and checks order and count across pages, with a limit that
// ends inside a page.
func testQueryPaging(t *testing.T, s store.Store) {
	evs := Many(2500)
	for lo := 0; lo < len(evs); lo += 1000 {
		write(t, s, evs[lo:min(lo+1000, len(evs))])
	}
	// Users u0000..u0096 cycle; u001* is u0010..u0019.
	f := compile(t, `user.name:u001* or source.ip:10.0.3.0/24`)
	want := filter(sorted(evs), func(e *timeline.Event) bool {
		return strings.HasPrefix(e.User.Name, "u001") || strings.HasPrefix(e.Source.IP, "10.0.3.")
	})
	if len(want) < 300 {
		t.Fatalf("fixture: %d events match, want a few pages' worth", len(want))
	}
	if got := runQuery(t, s, f, timeline.Query{}); !slices.Equal(ids(got), ids(want)) {
		t.Errorf("Query returned %d events (want %d) or another order", len(got), len(want))
	}
	if n := queryCount(t, s, f, timeline.Query{}); n != int64(len(want)) {
		t.Errorf("QueryCount = %d, want %d", n, len(want))
	}
	q := timeline.Query{From: want[100].Timestamp, Limit: 201}
	first := slices.IndexFunc(want, func(e *timeline.Event) bool { return !e.Timestamp.Before(q.From) })
	if got := runQuery(t, s, f, q); !slices.Equal(ids(got), ids(want[first:first+201])) {
		t.Errorf("windowed Query returned %d events or another order", len(got))
	}
	// The callback's error ends the query and comes back as it was.
	calls := 0
	err := s.Query(ctx(t), f, timeline.Query{}, func(*timeline.Event) error {
		calls++
		if calls == 7 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 7 {
		t.Errorf("Query with a failing callback: %v after %d calls, want errStop after 7", err, calls)
	}
}
