package zonecheck

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestFeedInOrderCutsAsItKeeps: a log fed in the store's order has the caps
// applied as each observation is kept, so the checker holds little more
// than it keeps (not twice, as compaction allows), and ends as the store
// passes do. When the order breaks part way (a second file fed beside the first),
// the cuts made so far stand and compaction takes over, with the same
// result.
func TestFeedInOrderCutsAsItKeeps(t *testing.T) {
	for _, tc := range []struct {
		name           string
		perKey, maxObs int
	}{
		{"per key", 5, maxObs},
		{"in all", 1000, 60},
		{"both", 40, 300},
		{"tight", 2, 9},
	} {
		for seed := uint64(1); seed <= 3; seed++ {
			evs := storeOrder(feedCase(seed, 3000))
			storePasses := func() *Checker {
				ref := New()
				ref.perKey, ref.maxObs = tc.perKey, tc.maxObs
				for _, e := range evs {
					ref.Add(e)
				}
				return ref
			}
			t.Run(fmt.Sprintf("%s/%d/in order", tc.name, seed), func(t *testing.T) {
				c := New()
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				most := 0
				for _, e := range evs {
					c.Feed(e)
					most = max(most, c.n)
				}
				if c.disorder {
					t.Fatalf("fed in the store's order, yet out of order")
				}
				// The cut is by time: what shares the instant of the
				// maxObs-th is held until Seal, never twice the cap.
				if most > tc.maxObs+tc.maxObs/4 {
					t.Errorf("held %d observations, cap %d", most, tc.maxObs)
				}
				c.Seal()
				checkSame(t, c, storePasses(), true)
			})
			t.Run(fmt.Sprintf("%s/%d/in order, repeated", tc.name, seed), func(t *testing.T) {
				c := New()
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				for i, e := range evs {
					c.Feed(e)
					if i%7 == 0 {
						// A repeat of the event just fed, as a re-read
						// file's events can come.
						c.Feed(e)
					}
				}
				c.Seal()
				// A repeat the caps left out is counted again (Dropped).
				checkSame(t, c, storePasses(), false)
			})
			t.Run(fmt.Sprintf("%s/%d/order broken", tc.name, seed), func(t *testing.T) {
				c := New()
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				half := len(evs) / 2
				rest := append([]int(nil), rand.New(rand.NewPCG(seed, 3)).Perm(len(evs)-half)...)
				for _, e := range evs[:half] {
					c.Feed(e)
				}
				for _, i := range rest {
					c.Feed(evs[half+i])
				}
				// Past a global cut, the order may break unseen: what
				// comes after the cut is left out before it is compared.
				if !c.hasGCut && !c.disorder {
					t.Fatalf("the order broke, unseen")
				}
				c.Seal()
				checkSame(t, c, storePasses(), true)
			})
		}
	}
}

// checkSame fails t unless c kept what ref kept, with the same findings
// (and, with counts, the same numbers kept and left out).
func checkSame(t *testing.T, c, ref *Checker, counts bool) {
	t.Helper()
	if counts && (c.n != ref.n || c.Dropped != ref.Dropped) {
		t.Errorf("kept %d, left out %d; the store passes %d and %d", c.n, c.Dropped, ref.n, ref.Dropped)
	}
	if !reflect.DeepEqual(kept(c), kept(ref)) {
		t.Errorf("kept other observations than the store passes")
	}
	if got, want := c.Findings(), ref.Findings(); !reflect.DeepEqual(got, want) {
		t.Errorf("findings differ:\nfed:   %+v\nstore: %+v", got, want)
	}
}

// TestFeedLogOrderCutsAtTheCap: an auth.log fed as it is written (one line
// a second, so its order is the store's) is held to the caps exactly; fed
// with every line's instant shared by ten (the store orders those by ID,
// the log does not), it ends as the store passes do, held to the cap plus
// the observations of the instant of the cut.
func TestFeedLogOrderCutsAtTheCap(t *testing.T) {
	evs := authLogEvents(t, 20000)
	for _, shared := range []int{1, 10} {
		var fed []*timeline.Event
		for i, e := range evs {
			c := *e
			c.Timestamp = evs[i-i%shared].Timestamp
			fed = append(fed, &c)
		}
		for _, tc := range []struct{ perKey, maxObs int }{{5, 3000}, {1000, 700}, {3, 50}} {
			t.Run(fmt.Sprintf("%d a second/%d/%d", shared, tc.perKey, tc.maxObs), func(t *testing.T) {
				ref := New()
				ref.perKey, ref.maxObs = tc.perKey, tc.maxObs
				for _, e := range storeOrder(fed) {
					ref.Add(e)
				}
				c := New()
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				most := 0
				for _, e := range fed {
					c.Feed(e)
					most = max(most, c.n)
				}
				if c.disorder || !c.hasGCut {
					t.Fatalf("fed in time order: disorder %v, global cut %v", c.disorder, c.hasGCut)
				}
				if most > tc.maxObs+shared-1 {
					t.Errorf("held %d observations, cap %d", most, tc.maxObs)
				}
				c.Seal()
				checkSame(t, c, ref, true)
			})
		}
	}
}

// TestFeedTiesFillSides: many records of a few clients at each instant,
// fed in time order but against the store's ID order within it: the sides
// fill past their cap at one instant, and only the first perKey of a side
// count towards the global cut.
func TestFeedTiesFillSides(t *testing.T) {
	for _, tc := range []struct{ perKey, maxObs int }{{5, 30}, {5, 60}, {20, 100}, {3, 12}} {
		t.Run(fmt.Sprintf("%d/%d", tc.perKey, tc.maxObs), func(t *testing.T) {
			var evs []*timeline.Event
			for i := range 1200 {
				at := t0.Add(time.Duration(i/100) * time.Second)
				r := rec{loose: true, action: "ssh_failed_login", outcome: "failure", user: "root", ip: fmt.Sprintf("198.51.100.%d", i%7), pid: int64(1000 + i), at: at}
				ev := r.event("UTC", i+1)
				ev.Jejak.ID = fmt.Sprintf("%032x", 5000-i)
				evs = append(evs, ev)
			}
			ref, c := New(), New()
			ref.perKey, ref.maxObs = tc.perKey, tc.maxObs
			c.perKey, c.maxObs = tc.perKey, tc.maxObs
			for _, e := range storeOrder(evs) {
				ref.Add(e)
			}
			for _, e := range evs {
				c.Feed(e)
			}
			c.Seal()
			checkSame(t, c, ref, true)
		})
	}
}

// TestFeedSideOverflowCountsOnce: a side filled past its cap at one instant
// counts its first perKey only towards the global cut: the records of
// other clients after that instant are kept up to the cap in all.
func TestFeedSideOverflowCountsOnce(t *testing.T) {
	var evs []*timeline.Event
	add := func(ip string, at time.Duration, id int) {
		r := rec{loose: true, action: "ssh_failed_login", outcome: "failure", user: "root", ip: ip, pid: int64(1000 + id), at: t0.Add(at)}
		ev := r.event("UTC", id)
		ev.Jejak.ID = fmt.Sprintf("%032x", 1000-id)
		evs = append(evs, ev)
	}
	for i := range 8 { // one client, 8 records at the first instant
		add("198.51.100.1", 0, i+1)
	}
	for i := range 20 { // then one record a second of others
		add(fmt.Sprintf("198.51.100.%d", 10+i), time.Duration(i+1)*time.Second, 100+i)
	}
	ref, c := New(), New()
	ref.perKey, ref.maxObs = 5, 15
	c.perKey, c.maxObs = 5, 15
	for _, e := range storeOrder(evs) {
		ref.Add(e)
	}
	for _, e := range evs {
		c.Feed(e)
	}
	if c.disorder {
		t.Fatalf("fed in time order, yet out of order")
	}
	c.Seal()
	checkSame(t, c, ref, true)
}
