//go:build unix

package sqlite

import "syscall"

// processCPU returns the user+system CPU time the process has used, in
// seconds. The benchmark reports it beside wall time because the CI machine
// is shared: wall time varies with the neighbours' load, CPU time much less.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
