// Command ingestbench measures the ingest pipeline on one evidence item
// the way 'jejak analyze' opens it (disk.OpenEvidence: partitions and file
// systems found), with the parsers of parsers/all, into a sink that keeps
// nothing (-store=false, the default: the pipeline's own cost) or into a
// real SQLite store (-store). It is a benchmark driver, not part of jejak:
// scripts/bench.sh measures the command itself; this one takes profiles.
//
// With -recycle (the default, as 'jejak analyze' runs: both sinks keep
// nothing of an event after Write), events go back to the parsers that
// can reuse them (ingest.Config.Recycle).
//
//	ingestbench [-store] [-recycle=false] [-workers N] [-cpuprofile F] [-memprofile F] EVIDENCE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/internal/gcpolicy"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

func main() {
	store := flag.Bool("store", false, "write into a SQLite store in a temporary folder (else count and drop)")
	recycle := flag.Bool("recycle", true, "ingest.Config.Recycle: give stored events back to their parsers")
	workers := flag.Int("workers", 0, "ingest.Config.Workers (0: the default)")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := flag.String("memprofile", "", "write an allocation profile to this file")
	flag.Parse()
	// The collector's pace cmd/jejak runs with, so that the pipeline is
	// measured as it ships (GOGC or GOMEMLIMIT in the environment turn it off).
	gcpolicy.Apply()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: ingestbench [-store] [-recycle=false] [-workers N] [-cpuprofile F] [-memprofile F] EVIDENCE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *store, *recycle, *workers, *cpuprof, *memprof); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

// countSink keeps nothing: what is measured is the pipeline.
type countSink struct{ n int }

func (s *countSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	s.n += len(b)
	return timeline.WriteStats{Inserted: len(b)}, nil
}

func (s *countSink) Close() error { return nil }

func run(evidence string, store, recycle bool, workers int, cpuprof, memprof string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cpuprof != "" {
		f, err := os.Create(cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if memprof != "" {
		runtime.MemProfileRate = 64 << 10
	}
	start := time.Now()
	cpu0 := cputime.Process().Seconds()
	var sink timeline.Sink = &countSink{}
	if store {
		st, err := sqlite.Open(ctx, filepath.Join(tmp, "case.db"))
		if err != nil {
			return err
		}
		defer st.Close()
		sink = st
	}
	w, err := disk.OpenEvidence(ctx, evidence, jfs.Options{TempDir: tmp})
	if err != nil {
		return err
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: tmp, Workers: workers, Recycle: recycle},
		[]ingest.Item{{SHA256: "bench", Name: filepath.Base(evidence), Walker: w}}, sink)
	if err != nil {
		return err
	}
	secs, cpu := time.Since(start).Seconds(), cputime.Process().Seconds()-cpu0
	if memprof != "" {
		f, err := os.Create(memprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	fmt.Printf("ingest: %d files seen, %d parsed, %d skipped, %d events, %d warnings in %.3f s wall, %.3f CPU-s\n",
		sum.FilesSeen, sum.FilesParsed, sum.FilesSkipped, sum.Events, sum.Warnings, secs, cpu)
	reasons := make([]string, 0, len(sum.SkipReasons))
	for k := range sum.SkipReasons {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Printf("  skipped %7d  %s\n", sum.SkipReasons[k], k)
	}
	names := make([]string, 0, len(sum.Parsers))
	for k := range sum.Parsers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := sum.Parsers[k]
		fmt.Printf("  parser %-12s %7d files %9d events %d warnings\n", k, s.Files, s.Events, s.Warnings)
	}
	return nil
}
