// Package cputime reads the CPU time the process has used, user and
// system, all threads: what the benchmarks of issue 15 report beside wall
// time, since on a shared machine wall time measures the neighbours' load
// as much as the code.
package cputime

import "time"

// Process is the user+system CPU time of this process so far; 0 where the
// platform does not say (benchmarks then report 0 CPU).
func Process() time.Duration { return process() }
