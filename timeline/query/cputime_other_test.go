//go:build !unix

package query_test

import "time"

// cpuTime is not measured here: the benchmarks then report 0 CPU-ns/op.
func cpuTime() time.Duration { return 0 }
