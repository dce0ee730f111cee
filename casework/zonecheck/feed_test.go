package zonecheck

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/jejak-forensics/jejak/timeline"
)

// feedCase builds the events of a busy case: logons of a few users from a
// few addresses (some with a host name too, indexed under both), as a log
// read in an assumed zone 3 h off and as exact records, web errors and
// requests, and events no pass reads. Times are whole seconds over a short
// stretch, so that many share an instant and only the ID orders them.
func feedCase(seed uint64, n int) []*timeline.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	var evs []*timeline.Event
	for i := 0; i < n; i++ {
		exact := t0.Add(time.Duration(r.IntN(600)) * time.Second)
		ip := fmt.Sprintf("203.0.113.%d", r.IntN(6))
		user := []string{"root", "admin", "kpu"}[r.IntN(3)]
		pid := int64(1000 + r.IntN(50))
		var rs []rec
		switch r.IntN(5) {
		case 0, 1:
			rs = failure(user, ip, pid, exact, -3*time.Hour)
		case 2:
			rs = session(user, ip, pid, exact, -3*time.Hour, time.Second)
		case 3:
			rs = request(ip, fmt.Sprintf("/p%d", r.IntN(4)), []string{"apache.error", "nginx.error"}[r.IntN(2)],
				fmt.Sprintf("File does not exist: /var/www/html/p%d", r.IntN(4)), exact, 7*time.Hour)
		default:
			rs = []rec{{action: "ssh_disconnect", user: user, ip: ip, at: exact}}
		}
		for j, x := range rs {
			if r.IntN(4) == 0 {
				x.name = "host" + ip[len(ip)-1:] + ".example"
			}
			ev := x.event("UTC", 2*i+j)
			if x.dataset != "" && x.loose {
				ev.Jejak.Provenance.Parser = "weblog"
			}
			// An ID as the store orders it, unique per record.
			ev.Jejak.ID = fmt.Sprintf("%016x%016x", r.Uint64(), uint64(2*i+j))
			evs = append(evs, ev)
		}
	}
	return evs
}

// storeOrder is what the store passes give the checker: the logons, then
// the web errors, each by @timestamp then ID, each event once.
func storeOrder(evs []*timeline.Event) []*timeline.Event {
	var out []*timeline.Event
	for _, sel := range []func(*timeline.Event) bool{
		func(e *timeline.Event) bool { return slices.Contains(LogonActions, e.Event.Action) },
		webError,
	} {
		var pass []*timeline.Event
		for _, e := range evs {
			if sel(e) {
				pass = append(pass, e)
			}
		}
		sort.Slice(pass, func(i, j int) bool {
			if !pass[i].Timestamp.Equal(pass[j].Timestamp) {
				return pass[i].Timestamp.Before(pass[j].Timestamp)
			}
			return pass[i].Jejak.ID < pass[j].Jejak.ID
		})
		out = append(out, pass...)
	}
	return out
}

// kept lists what a checker keeps, side by side in order, in terms that do
// not depend on the order files and users were interned in.
func kept(c *Checker) []string {
	var out []string
	for k, b := range c.buckets {
		for name, s := range map[string][]obs{"loose": b.loose.obs, "exact": b.exact.obs} {
			if len(s) == 0 {
				continue // a key whose observations were all left out
			}
			var line strings.Builder
			fmt.Fprintf(&line, "%v %s %s:", k.act, k.host, name)
			for _, o := range s {
				fmt.Fprintf(&line, " %d/%d/%d/%s/%s/%v", o.t, o.rec, o.pid, c.users[o.user], c.files[o.file].Display, o.paths)
			}
			out = append(out, line.String())
		}
	}
	sort.Strings(out)
	return out
}

// TestFeedEqualsStorePasses: events fed in any order, repeated, give the
// checker the store passes give it (the same observations under the same
// caps, the same findings and loose web hosts), with the caps met or not.
func TestFeedEqualsStorePasses(t *testing.T) {
	for _, tc := range []struct {
		name           string
		events         int
		perKey, maxObs int
	}{
		{"no cap met", 400, PerKey, maxObs},
		{"per key", 400, 5, maxObs},
		{"in all", 400, 1000, 60},
		{"both", 3000, 40, 300},
		{"tight", 3000, 2, 9},
	} {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				evs := feedCase(seed, tc.events)
				ref := New()
				ref.perKey, ref.maxObs = tc.perKey, tc.maxObs
				for _, e := range storeOrder(evs) {
					ref.Add(e)
				}
				// Parse order is no time order; a re-read file repeats
				// events, some of them twice over.
				fed := slices.Clone(evs)
				r := rand.New(rand.NewPCG(seed, 2))
				for i := 0; i < len(evs)/3; i++ {
					fed = append(fed, evs[r.IntN(len(evs))])
				}
				r.Shuffle(len(fed), func(i, j int) { fed[i], fed[j] = fed[j], fed[i] })
				c := New()
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				for _, e := range fed {
					c.Feed(e)
				}
				c.Seal()
				if c.n != ref.n {
					t.Errorf("kept %d observations, the store passes %d", c.n, ref.n)
				}
				if got, want := kept(c), kept(ref); !reflect.DeepEqual(got, want) {
					for i := range min(len(got), len(want)) {
						if got[i] != want[i] {
							t.Fatalf("first difference:\nfed:   %.300s\nstore: %.300s", got[i], want[i])
						}
					}
					t.Fatalf("%d sides kept, the store passes %d", len(got), len(want))
				}
				if got, want := c.LooseWebHosts(), ref.LooseWebHosts(); !reflect.DeepEqual(got, want) {
					t.Errorf("loose web hosts %v, want %v", got, want)
				}
				// The access requests follow with Add, on both.
				for _, e := range evs {
					if e.Event.Dataset == "weblog.access" {
						c.Add(e)
						ref.Add(e)
					}
				}
				got, want := c.Findings(), ref.Findings()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("findings differ:\nfed:   %+v\nstore: %+v", got, want)
				}
				// Under the cap in all the first observations are the loose
				// ones, read 3 h early: nothing pairs, which is as well
				// compared.
				if len(want) == 0 && tc.maxObs == maxObs {
					t.Errorf("no findings: the case tests nothing")
				}
				if tc.perKey == PerKey && c.Dropped != 0 {
					t.Errorf("%d dropped with no cap met", c.Dropped)
				}
			})
		}
	}
}

// TestFeedBounded: fed far more than its caps in reverse time order (each
// event then displaces the last kept), the checker never holds more than
// twice what it keeps.
func TestFeedBounded(t *testing.T) {
	c := New()
	c.perKey, c.maxObs = 16, 64
	evs := feedCase(9, 5000)
	slices.Reverse(evs)
	// Then more clients than the cap, each after the cut.
	for i := range 3 * c.maxObs {
		for j, r := range failure("root", fmt.Sprintf("192.0.2.%d", i), 9000, t0.Add(time.Hour), -3*time.Hour) {
			ev := r.event("UTC", 100000+2*i+j)
			ev.Jejak.ID = fmt.Sprintf("%032x", 100000+2*i+j)
			evs = append(evs, ev)
		}
	}
	most := 0
	for _, e := range evs {
		c.Feed(e)
		held := 0
		for _, b := range c.buckets {
			held += len(b.loose.obs) + len(b.exact.obs)
		}
		if held != c.n {
			t.Fatalf("counted %d, holds %d", c.n, held)
		}
		// No key is kept for observations all left out.
		if len(c.buckets) > c.n {
			t.Fatalf("%d keys for %d observations", len(c.buckets), c.n)
		}
		most = max(most, held)
	}
	if most > 2*c.maxObs {
		t.Errorf("held %d observations at most, cap %d", most, c.maxObs)
	}
	c.Seal()
	if c.n != c.maxObs {
		t.Errorf("kept %d, want the cap %d", c.n, c.maxObs)
	}
}

func TestObsSize(t *testing.T) {
	if n := unsafe.Sizeof(obs{}); n > 80 {
		t.Errorf("obs is %d bytes; maxObs of them are kept", n)
	}
}
