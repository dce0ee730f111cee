package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessGrows: spinning on the CPU for 50 ms of wall time adds CPU
// time, and never more than the wall time times the cores plus the
// clock's granularity.
func TestProcessGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no process CPU time on this platform")
	}
	before := Process()
	start := time.Now()
	x := 0
	for time.Since(start) < 50*time.Millisecond {
		x++
	}
	used := Process() - before
	wall := time.Since(start)
	if used <= 0 {
		t.Fatalf("CPU time did not grow over %v of spinning (x=%d)", wall, x)
	}
	if limit := wall*time.Duration(runtime.NumCPU()) + 20*time.Millisecond; used > limit {
		t.Fatalf("%v of CPU time in %v of wall time on %d cores", used, wall, runtime.NumCPU())
	}
}
