package timeline_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// referenceRelated is Finalize's related.* as first written: the names of
// the user, effective user and target user, then the source and
// destination IPs, each once and non-empty, appended after what Related
// already holds unless already there; Related stays nil when nothing is
// found and it was nil.
func referenceRelated(e *timeline.Event) *timeline.Related {
	var users, ips []string
	addU := func(u string) {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	addIP := func(ip string) {
		if ip != "" && !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	if e.User != nil {
		addU(e.User.Name)
		if e.User.Effective != nil {
			addU(e.User.Effective.Name)
		}
		if e.User.Target != nil {
			addU(e.User.Target.Name)
		}
	}
	if e.Source != nil {
		addIP(e.Source.IP)
	}
	if e.Destination != nil {
		addIP(e.Destination.IP)
	}
	var r *timeline.Related
	if e.Related != nil {
		r = &timeline.Related{User: slices.Clone(e.Related.User), IP: slices.Clone(e.Related.IP)}
	}
	if len(users) > 0 || len(ips) > 0 {
		if r == nil {
			r = &timeline.Related{}
		}
		for _, u := range users {
			if !slices.Contains(r.User, u) {
				r.User = append(r.User, u)
			}
		}
		for _, ip := range ips {
			if !slices.Contains(r.IP, ip) {
				r.IP = append(r.IP, ip)
			}
		}
	}
	return r
}

func relatedString(r *timeline.Related) string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("user=%q(nil=%v) ip=%q(nil=%v)", r.User, r.User == nil, r.IP, r.IP == nil)
}

func TestFinalizeRelated(t *testing.T) {
	u := func(name string) *timeline.User { return &timeline.User{Name: name} }
	ep := func(ip string) *timeline.Endpoint { return &timeline.Endpoint{IP: ip} }
	cases := []struct {
		name string
		ev   timeline.Event
		want *timeline.Related
	}{
		{"nothing", timeline.Event{}, nil},
		{"empty user and ips", timeline.Event{User: u(""), Source: ep(""), Destination: ep("")}, nil},
		{"user only", timeline.Event{User: u("alice")}, &timeline.Related{User: []string{"alice"}}},
		{"ip only", timeline.Event{Source: ep("10.0.0.1")}, &timeline.Related{IP: []string{"10.0.0.1"}}},
		{"destination only", timeline.Event{Destination: ep("::1")}, &timeline.Related{IP: []string{"::1"}}},
		{"effective equals user", timeline.Event{User: &timeline.User{Name: "root", Effective: u("root")}},
			&timeline.Related{User: []string{"root"}}},
		{"target equals user", timeline.Event{User: &timeline.User{Name: "bob", Target: u("bob")}},
			&timeline.Related{User: []string{"bob"}}},
		{"all three users", timeline.Event{User: &timeline.User{Name: "a", Effective: u("b"), Target: u("c")}},
			&timeline.Related{User: []string{"a", "b", "c"}}},
		{"target equals effective", timeline.Event{User: &timeline.User{Name: "a", Effective: u("b"), Target: u("b")}},
			&timeline.Related{User: []string{"a", "b"}}},
		{"empty user, effective and target", timeline.Event{User: &timeline.User{Effective: u("e"), Target: u("t")}},
			&timeline.Related{User: []string{"e", "t"}}},
		{"empty effective", timeline.Event{User: &timeline.User{Name: "a", Effective: u(""), Target: u("a")}},
			&timeline.Related{User: []string{"a"}}},
		{"source equals destination", timeline.Event{Source: ep("1.2.3.4"), Destination: ep("1.2.3.4")},
			&timeline.Related{IP: []string{"1.2.3.4"}}},
		{"source and destination", timeline.Event{Source: ep("1.2.3.4"), Destination: ep("5.6.7.8")},
			&timeline.Related{IP: []string{"1.2.3.4", "5.6.7.8"}}},
		{"everything", timeline.Event{User: &timeline.User{Name: "a", Effective: u("b"), Target: u("c")},
			Source: ep("1.1.1.1"), Destination: ep("2.2.2.2")},
			&timeline.Related{User: []string{"a", "b", "c"}, IP: []string{"1.1.1.1", "2.2.2.2"}}},
		{"existing related kept, nothing new", timeline.Event{Related: &timeline.Related{User: []string{"x"}}},
			&timeline.Related{User: []string{"x"}}},
		{"existing related, empty", timeline.Event{Related: &timeline.Related{}}, &timeline.Related{}},
		{"existing related, all there", timeline.Event{User: u("a"), Source: ep("1.1.1.1"),
			Related: &timeline.Related{User: []string{"a"}, IP: []string{"1.1.1.1"}}},
			&timeline.Related{User: []string{"a"}, IP: []string{"1.1.1.1"}}},
		{"existing related, some new", timeline.Event{User: &timeline.User{Name: "a", Target: u("b")},
			Source: ep("1.1.1.1"), Destination: ep("2.2.2.2"),
			Related: &timeline.Related{User: []string{"z", "b"}, IP: []string{"2.2.2.2"}}},
			&timeline.Related{User: []string{"z", "b", "a"}, IP: []string{"2.2.2.2", "1.1.1.1"}}},
		{"existing related with users only, ips new", timeline.Event{Source: ep("9.9.9.9"),
			Related: &timeline.Related{User: []string{"u"}}},
			&timeline.Related{User: []string{"u"}, IP: []string{"9.9.9.9"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev
			ref := referenceRelated(&ev)
			if got, want := relatedString(ref), relatedString(c.want); got != want {
				t.Fatalf("reference: %s, table: %s", got, want)
			}
			before := ev.Related
			ev.Finalize()
			if got, want := relatedString(ev.Related), relatedString(c.want); got != want {
				t.Errorf("Finalize: %s, want %s", got, want)
			}
			if before != nil && ev.Related != before {
				t.Errorf("Finalize replaced an existing Related")
			}
			// What Finalize made must take appends without touching the
			// other list.
			if r := ev.Related; r != nil {
				u, ip := slices.Clone(r.User), slices.Clone(r.IP)
				r.User = append(r.User, "appended")
				if !slices.Equal(r.IP, ip) {
					t.Errorf("appending to related.user changed related.ip: %q", r.IP)
				}
				r.User = u
				r.IP = append(r.IP, "appended")
				if !slices.Equal(r.User, u) {
					t.Errorf("appending to related.ip changed related.user: %q", r.User)
				}
			}
		})
	}
}

// TestFinalizeID holds Finalize's ID to ComputeID's reference over varied
// provenance, and its timestamp to UTC; many events in a row, as ingest
// gives them, over several files at once.
func TestFinalizeID(t *testing.T) {
	zone := time.FixedZone("X", 3600)
	var kept []*timeline.Event
	for i := range 3000 {
		p := timeline.Provenance{EvidenceSHA256: strings.Repeat("cd", 32), EvidenceName: "img",
			Chain: []string{"raw:", fmt.Sprintf("ntfs:%d", i%3)}, Path: fmt.Sprintf("dir/f%d", i%5),
			Parser: []string{"mft", "evtx", "syslog"}[i%3], Offset: int64(i) * 512, Record: int64(i - 10)}
		if i%7 == 0 {
			p.Identity = fmt.Sprintf("mft#%d", i)
		}
		if i%11 == 0 {
			p.Chain = nil
		}
		desc := []string{"Event Logged", "", "Content Modification Time"}[i%3]
		ev := &timeline.Event{Timestamp: time.Unix(int64(i), 0).In(zone), TimestampDesc: desc}
		ev.Jejak.Provenance = p
		ev.Finalize()
		if want := referenceID(p, desc); ev.Jejak.ID != want {
			t.Fatalf("event %d: ID %s, reference %s", i, ev.Jejak.ID, want)
		}
		if ev.Timestamp.Location() != time.UTC {
			t.Fatalf("event %d: timestamp not UTC", i)
		}
		if i%97 == 0 {
			kept = append(kept, ev)
		}
	}
	// IDs kept from earlier events are unchanged by those made after.
	for _, ev := range kept {
		if want := referenceID(ev.Jejak.Provenance, ev.TimestampDesc); ev.Jejak.ID != want {
			t.Fatalf("kept event: ID %s, reference %s", ev.Jejak.ID, want)
		}
	}
}

func FuzzFinalizeRelated(f *testing.F) {
	f.Add("a", "b", "c", "1.1.1.1", "2.2.2.2", "a", "1.1.1.1", uint8(0xff))
	f.Add("a", "a", "", "x", "x", "", "", uint8(0x1f))
	f.Fuzz(func(t *testing.T, un, en, tn, sip, dip, ru, rip string, mask uint8) {
		var ev timeline.Event
		if mask&1 != 0 {
			ev.User = &timeline.User{Name: un}
			if mask&2 != 0 {
				ev.User.Effective = &timeline.User{Name: en}
			}
			if mask&4 != 0 {
				ev.User.Target = &timeline.User{Name: tn}
			}
		}
		if mask&8 != 0 {
			ev.Source = &timeline.Endpoint{IP: sip}
		}
		if mask&16 != 0 {
			ev.Destination = &timeline.Endpoint{IP: dip}
		}
		if mask&32 != 0 {
			ev.Related = &timeline.Related{}
			if mask&64 != 0 {
				ev.Related.User = []string{ru}
			}
			if mask&128 != 0 {
				ev.Related.IP = []string{rip}
			}
		}
		want := relatedString(referenceRelated(&ev))
		ev.Finalize()
		if got := relatedString(ev.Related); got != want {
			t.Fatalf("Finalize: %s, reference %s", got, want)
		}
	})
}

// BenchmarkFinalize is the per-event cost of Finalize for the shapes the
// parsers give it: an MFT row (no user, no IP), a Windows logon (user,
// target user, source IP), a syslog row whose parser filled Related.
func BenchmarkFinalize(b *testing.B) {
	p := timeline.Provenance{EvidenceSHA256: strings.Repeat("ab", 32), Chain: []string{"raw:", "ntfs:"},
		Path: "$MFT", Parser: "mft"}
	ts := time.Unix(1700000000, 0)
	b.Run("mft", func(b *testing.B) {
		b.ReportAllocs()
		ev := &timeline.Event{Timestamp: ts, TimestampDesc: "Content Modification Time"}
		ev.Jejak.Provenance = p
		for i := 0; b.Loop(); i++ {
			ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record = int64(i)*1024+56, int64(i)
			ev.Finalize()
		}
	})
	b.Run("logon", func(b *testing.B) {
		b.ReportAllocs()
		user := &timeline.User{Name: "WKS01$", Target: &timeline.User{Name: "alice"}}
		src := &timeline.Endpoint{IP: "10.1.2.3", Port: 49152}
		for i := 0; b.Loop(); i++ {
			ev := timeline.Event{Timestamp: ts, TimestampDesc: "Event Logged", User: user, Source: src}
			ev.Jejak.Provenance = p
			ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record = int64(i)*1024+56, int64(i)
			ev.Finalize()
		}
	})
	b.Run("syslog", func(b *testing.B) {
		b.ReportAllocs()
		ev := &timeline.Event{Timestamp: ts, TimestampDesc: "Event Logged", User: &timeline.User{Name: "root"},
			Source:  &timeline.Endpoint{IP: "10.1.2.3"},
			Related: &timeline.Related{User: []string{"root"}, IP: []string{"10.1.2.3"}}}
		ev.Jejak.Provenance = p
		for i := 0; b.Loop(); i++ {
			ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record = int64(i)*1024+56, int64(i)
			ev.Finalize()
		}
	})
}

// TestComputeIDKeptConcurrent keeps every ID made by goroutines sharing
// the slots of the ID blocks (16 slots, 64 files) and checks them all once
// every goroutine is done: no ID's bytes may be handed out twice.
func TestComputeIDKeptConcurrent(t *testing.T) {
	const goroutines, perG = 8, 3000
	type kept struct {
		p  timeline.Provenance
		id string
	}
	out := make([][]kept, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				p := timeline.Provenance{EvidenceSHA256: "e", Chain: []string{"dir:"}, Parser: "evtx",
					Path: fmt.Sprintf("f%d", (g*perG+i)%64), Offset: int64(i), Record: int64(g)}
				out[g] = append(out[g], kept{p, timeline.ComputeID(p, "Event Logged")})
			}
		})
	}
	wg.Wait()
	for g, ks := range out {
		for i, k := range ks {
			if want := referenceID(k.p, "Event Logged"); k.id != want {
				t.Fatalf("goroutine %d, event %d: kept ID %s, reference %s", g, i, k.id, want)
			}
		}
	}
}
