// Command jejak builds a forensic super-timeline from election IT evidence
// (disk images, log archives, folders of logs) and hunts it for traces of
// unauthorized access. See README.md for a tour.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/jejak-forensics/jejak/internal/gcpolicy"
)

func main() {
	// The collector's pace for the whole run (internal/gcpolicy says why
	// and with which numbers): a small heap gathers up to 64 MiB of
	// garbage between collections instead of as much as it holds. GOGC or
	// GOMEMLIMIT in the environment override it.
	gcpolicy.Apply()
	os.Exit(profiled(func() int { return run(os.Args, os.Stdin, os.Stdout, os.Stderr) }))
}

// profiled writes a CPU profile of the whole run to $JEJAK_CPUPROFILE when
// it is set: the performance work of issue 15 profiles real runs of the
// binary at evidence scale, which a benchmark of one package cannot show.
func profiled(f func() int) int {
	path := os.Getenv("JEJAK_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jejak: JEJAK_CPUPROFILE: %v\n", err)
		return f()
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintf(os.Stderr, "jejak: JEJAK_CPUPROFILE: %v\n", err)
		return f()
	}
	defer pprof.StopCPUProfile()
	return f()
}
