// Command jejak builds a forensic super-timeline from election IT evidence
// (disk images, log archives, folders of logs) and hunts it for traces of
// unauthorized access. See README.md for a tour.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"

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

// profiled writes a CPU profile of the whole run to $JEJAK_CPUPROFILE and
// a runtime trace to $JEJAK_TRACE when they are set: the performance work
// of issue 15 profiles real runs of the binary at evidence scale, which a
// benchmark of one package cannot show, and only a trace shows a core
// standing idle while the other works.
func profiled(f func() int) int {
	return recorded("JEJAK_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile, func() int {
		return recorded("JEJAK_TRACE", trace.Start, trace.Stop, f)
	})
}

// recorded runs f with start writing to the file $env names, when it is
// set; a file that cannot be made or a recording that cannot start is
// said on stderr, and f runs without it.
func recorded(env string, start func(io.Writer) error, stop func(), f func() int) int {
	path := os.Getenv(env)
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jejak: %s: %v\n", env, err)
		return f()
	}
	defer out.Close()
	if err := start(out); err != nil {
		fmt.Fprintf(os.Stderr, "jejak: %s: %v\n", env, err)
		return f()
	}
	defer stop()
	return f()
}
