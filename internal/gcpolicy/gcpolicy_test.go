package gcpolicy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 1600},             // before the first collection: 4 MB floor, 64 MiB of garbage
		{1 << 20, 1600},       // below the runtime's 4 MB floor
		{4 << 20, 1600},       // 4 MiB live: 64 MiB of garbage
		{16 << 20, 400},       // 16 MiB live: 64 MiB of garbage
		{32 << 20, 200},       //
		{64 << 20, 100},       // from Headroom on: the default
		{1 << 30, 100},        // never below the default
		{48 << 20, 133},       // rounded down: a little less than 64 MiB
		{100 << 20, 100},      //
		{1 << 40, 100},        //
		{3 << 20, 1600},       //
		{(4 << 20) + 1, 1599}, // just above the floor
	} {
		if got := Percent(c.live); got != c.want {
			t.Errorf("Percent(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, 128 << 20},
		{16 << 20, 144 << 20},
		{64 << 20, 192 << 20},
		{1 << 30, 3 << 30},
	} {
		if got := Limit(c.live); got != c.want {
			t.Errorf("Limit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestNext: the GOGC a growing heap ends at is the default, whatever the
// sizes the collections saw on the way (CI once saw 104 stay after a
// collection at 61.5 MiB live).
func TestNext(t *testing.T) {
	for _, c := range []struct {
		name string
		live []uint64
		want int
	}{
		{"through 61.5 MiB", []uint64{4 << 20, 32 << 20, 61<<20 + 512<<10, 160 << 20}, 100},
		{"straight to large", []uint64{0, 1 << 30}, 100},
		{"small changes kept back", []uint64{16 << 20, 17 << 20}, 400},
		{"shrinking heap", []uint64{160 << 20, 8 << 20}, 800},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := Percent(0)
			for _, l := range c.live {
				cur = next(cur, l)
			}
			if cur != c.want {
				t.Errorf("GOGC after live heaps %v: %d, want %d", c.live, cur, c.want)
			}
		})
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestApply runs the policy in this process: after collections with a
// small live heap GOGC is the policy's and the memory limit is set; with a
// live heap of Headroom or more it is back to 100; stop restores both.
func TestApply(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	oldPct := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	defer func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	}()
	stop := Apply()
	// A failed wait must not leave the policy running into later tests.
	defer stop()
	// waitFor collects until the policy's cleanup has run with GOGC want.
	waitFor := func(want func(pct uint64, limit int64) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !want(gogc(), debug.SetMemoryLimit(-1)) {
			if time.Now().After(deadline) {
				t.Fatalf("GOGC %d, memory limit %d, want %s", gogc(), debug.SetMemoryLimit(-1), what)
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func(p uint64, l int64) bool { return p > 400 && l > 0 && l <= Limit(8<<20) },
		"GOGC above 400 and a limit of at most Limit(8 MiB) for a small heap")
	big := make([][]byte, 0, 160)
	for range 160 {
		big = append(big, make([]byte, 1<<20)) // 160 MiB live
	}
	waitFor(func(p uint64, l int64) bool { return p == 100 && l >= Limit(150<<20) },
		"GOGC 100 and a limit of at least Limit(150 MiB) with 160 MiB live")
	runtime.KeepAlive(big)
	stop()
	stop() // twice is harmless
	if p := gogc(); p != 100 {
		t.Errorf("GOGC %d after stop, want the previous 100", p)
	}
	if l := debug.SetMemoryLimit(-1); l != oldLimitAfterReset {
		t.Errorf("memory limit %d after stop, want none (%d)", l, int64(oldLimitAfterReset))
	}
}

// oldLimitAfterReset is "no limit", what SetMemoryLimit reports when none
// was set.
const oldLimitAfterReset = int64(^uint64(0) >> 1)

// TestEnvironmentWins: with GOGC or GOMEMLIMIT set, Apply changes nothing.
func TestEnvironmentWins(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv(env, "300")
			old := debug.SetGCPercent(137)
			defer debug.SetGCPercent(old)
			stop := Apply()
			defer stop()
			runtime.GC()
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			if p := gogc(); p != 137 {
				t.Errorf("GOGC %d with %s set, want it untouched (137)", p, env)
			}
		})
	}
}
