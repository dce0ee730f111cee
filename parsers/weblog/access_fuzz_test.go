package weblog

import (
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// FuzzFields checks the hand-written field split of an access line's
// prefix against strings.Fields, which it replaces on the hot path.
func FuzzFields(f *testing.F) {
	for _, s := range []string{"", " ", "1.2.3.4 - - ", "h:80 1.2.3.4 - bob ", "a\u00a0b\tc", "a b c d e f", "\xff \x85x", "x\u2003y\u0085"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := strings.Fields(string(b))
		var spans [5][2]int
		n := fields(b, &spans)
		if len(want) > len(spans) {
			if n != len(spans)+1 {
				t.Fatalf("%q: %d fields, strings.Fields finds %d, want overflow %d", b, n, len(want), len(spans)+1)
			}
			return
		}
		if n != len(want) {
			t.Fatalf("%q: %d fields, strings.Fields finds %d", b, n, len(want))
		}
		for k := range n {
			if got := string(b[spans[k][0]:spans[k][1]]); got != want[k] {
				t.Fatalf("%q: field %d = %q, want %q", b, k, got, want[k])
			}
		}
	})
}

// setRequestSplit is setRequest as it was before issue 15's speed work,
// with strings.Split and strings.Join: the reference FuzzSetRequest holds
// the hand-written split to.
func setRequestSplit(ev *timeline.Event, request string) {
	parts := strings.Split(request, " ")
	if len(parts) >= 2 && isToken(parts[0]) {
		ev.HTTP.Request.Method = parts[0]
		target := strings.Join(parts[1:], " ")
		if last := parts[len(parts)-1]; len(parts) >= 3 && strings.HasPrefix(last, "HTTP/") {
			ev.HTTP.Version = strings.TrimPrefix(last, "HTTP/")
			target = strings.Join(parts[1:len(parts)-1], " ")
		}
		ev.URL = &timeline.URL{Original: target}
		ev.URL.Path, ev.URL.Query, _ = strings.Cut(target, "?")
		return
	}
	if request != "" && request != "-" {
		ev.URL = &timeline.URL{Original: request}
		ev.Jejak.Data["request"] = request
	}
}

func FuzzSetRequest(f *testing.F) {
	for _, s := range []string{"", "-", "GET / HTTP/1.1", "GET /a b HTTP/1.0", "GET /x?y=1", "\x16\x03\x01", "POST  HTTP/2", "GET / HTTP/", "A B C D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, request string) {
		mk := func() *timeline.Event {
			ev := &timeline.Event{HTTP: &timeline.HTTP{Request: &timeline.HTTPRequest{}}}
			ev.Jejak.Data = map[string]string{}
			return ev
		}
		got, want := mk(), mk()
		setRequest(got, request, &timeline.URL{})
		setRequestSplit(want, request)
		if *got.HTTP.Request != *want.HTTP.Request || got.HTTP.Version != want.HTTP.Version ||
			(got.URL == nil) != (want.URL == nil) || got.URL != nil && *got.URL != *want.URL ||
			got.Jejak.Data["request"] != want.Jejak.Data["request"] || len(got.Jejak.Data) != len(want.Jejak.Data) {
			t.Fatalf("%q: got %+v %+v %q, want %+v %+v %q", request, got.HTTP.Request, got.URL, got.HTTP.Version,
				want.HTTP.Request, want.URL, want.HTTP.Version)
		}
	})
}

// FuzzW3CTime holds the hand-written W3C time reader to time.Parse, the
// general path it stands in front of: same time, same location, same
// error text.
func FuzzW3CTime(f *testing.F) {
	for _, s := range [][2]string{{"2024-02-14", "13:55:36"}, {"2024-02-29", "00:00:00"}, {"2023-02-29", "00:00:00"},
		{"0000-01-01", "23:59:59"}, {"2024-13-01", "00:00:00"}, {"2024-01-01", "24:00:00"}, {"2024-01-01", "00:00:60"},
		{"2024-01-01", "00:00:00.123"}, {"2024-1-01", "00:00:00"}, {"+024-01-01", "00:00:00"}, {"2100-02-29", "01:02:03"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, date, clock string) {
		got, gerr := w3cTime(date, clock)
		want, werr := time.Parse(w3cLayout, date+" "+clock)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("%q %q: error %v, time.Parse gives %v", date, clock, gerr, werr)
		}
		if !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q %q: %v, time.Parse gives %v", date, clock, got, want)
		}
	})
}
