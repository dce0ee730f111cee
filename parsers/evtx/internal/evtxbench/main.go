// Command evtxbench measures jejak's EVTX parser alone on files or folders
// of .evtx files, the part of `jejak analyze` that scripts/bench.sh compares
// with evtx_dump -o jsonl: every file is parsed as ingest parses it (its
// chunks decoded on GOMAXPROCS workers), every event finalized (ID, related
// fields) and dropped, or written as a JSON line with -dump. It prints the
// records, the process's CPU seconds (user+sys) and the allocations per
// record, so that parse cost per record can be set beside evtx_dump's. It
// is a benchmark driver, not part of jejak; it runs with cmd/jejak's
// collector pace (internal/gcpolicy), and, as `jejak analyze` does, gives
// the events back to the parser (Parser.Recycle) a batch at a time once
// dropped (-recycle=false leaves them to the collector).
//
//	evtxbench [-decode] [-n N] [-recycle=false] [-dump FILE] [-cpuprofile F] [-memprofile F] PATH...
//
// -decode stops at the decoded XML tree (evtx.DecodeFile: evtx.DecodeChunk
// over each chunk on one goroutine, no events built), to tell decoding
// from event building. -n repeats the whole set N times (to measure short
// inputs over a longer run).
//
// Both modes count records as Parse does (-decode's warnings are the
// chunks' only: Parse adds its per-file ones, a damaged file header, a
// zeroed chunk the header counts, the accounting line), and print apart
// the stale slack copies of live records (evtx.Stats.SlackCopies): the
// records Windows leaves past a chunk's free-space offset that are, byte
// for byte, records it then wrote at the same offsets of the next chunk
// (30 in the corpus security.evtx). Parse does not emit them twice;
// -decode decodes them (28 of the 30 decode, 2 are errors) and used to
// count them, which printed 2289 records and 2 warnings per security.evtx
// against parse's 2261 records and 0 warnings (evtxexport, evtx_dump: 2261).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/internal/gcpolicy"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/evtx"
	"github.com/jejak-forensics/jejak/timeline"
)

func main() {
	// The collector's pace cmd/jejak runs with: the benchmark measures
	// what ships (GOGC or GOMEMLIMIT in the environment override it).
	gcpolicy.Apply()
	decode := flag.Bool("decode", false, "only decode the chunks (no events built)")
	n := flag.Int("n", 1, "parse the whole set this many times")
	recycle := flag.Bool("recycle", true, "give the events back to the parser once dropped, as ingest does")
	dump := flag.String("dump", "", "write every event as a JSON line to this file (to compare two builds)")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := flag.String("memprofile", "", "write an allocation profile to this file")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: evtxbench [-decode] [-n N] [-recycle=false] [-dump FILE] [-cpuprofile F] [-memprofile F] PATH...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *decode, *n, *recycle, *dump, *cpuprof, *memprof); err != nil {
		fmt.Fprintln(os.Stderr, "evtxbench:", err)
		os.Exit(1)
	}
}

// files lists the .evtx files of the arguments (folders are walked), sorted.
func files(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (p == a || strings.HasSuffix(strings.ToLower(p), ".evtx")) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// recycleBatch is how many events are dropped before they go back to the
// parser: about the events of one of ingest's batches (which end at
// ~1,800 EVTX events), so that blocks come back as late as there.
const recycleBatch = 2048

func run(args []string, decode bool, n int, recycle bool, dump, cpuprof, memprof string) error {
	paths, err := files(args)
	if err != nil {
		return err
	}
	var out *json.Encoder
	if dump != "" {
		df, err := os.Create(dump)
		if err != nil {
			return err
		}
		defer df.Close()
		bw := bufio.NewWriter(df)
		defer bw.Flush()
		out = json.NewEncoder(bw)
	}
	if memprof != "" {
		runtime.MemProfileRate = 4096
	}
	if cpuprof != "" {
		pf, err := os.Create(cpuprof)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, start := cputime.Process().Seconds(), time.Now()
	records, warnings, copies := 0, 0, 0
	ctx := context.Background()
	p := evtx.New(0)
	var dropped []*timeline.Event
	flush := func() {
		for _, ev := range dropped {
			p.Recycle(ev)
		}
		dropped = dropped[:0]
	}
	for range n {
		for _, path := range paths {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return err
			}
			if decode {
				dc, err := evtx.DecodeFile(f, st.Size())
				records, warnings, copies = records+dc.Records, warnings+dc.Warnings, copies+dc.SlackCopies
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				continue
			}
			// The path given, so that two builds' dumps of the same files
			// compare line for line.
			entry := &jfs.Entry{Path: filepath.ToSlash(path), Chain: []string{"file:" + filepath.Base(path)}, Size: st.Size()}
			entry.Times.Modified = st.ModTime().UTC()
			src := &parsers.Source{Entry: entry, ReaderAt: f, Size: st.Size(), Zone: time.UTC,
				Warn: func(*parsers.RecordError) { warnings++ }}
			// ParseStats is what Parse runs (and src.As what it names the
			// source with), with the accounting returned.
			pst, err := p.ParseStats(ctx, src.As(evtx.Name), func(ev *timeline.Event) error {
				ev.Jejak.Provenance.Chain = entry.Chain
				ev.Jejak.Provenance.Path = entry.Path
				ev.Jejak.Provenance.Parser = evtx.Name
				ev.Finalize()
				records++
				if out != nil {
					if err := out.Encode(ev); err != nil {
						return err
					}
				}
				if recycle {
					if dropped = append(dropped, ev); len(dropped) == recycleBatch {
						flush()
					}
				}
				return nil
			})
			copies += pst.SlackCopies
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	flush()
	secs, cpu := time.Since(start).Seconds(), cputime.Process().Seconds()-cpu0
	runtime.ReadMemStats(&ms1)
	if memprof != "" {
		pf, err := os.Create(memprof)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.Lookup("allocs").WriteTo(pf, 0); err != nil {
			return err
		}
	}
	what := "parse"
	if decode {
		what = "decode"
	}
	r := float64(max(records, 1))
	fmt.Printf("%s: %d files, %d records, %d warnings, %d stale slack copies of live records not counted in %.3f s wall, %.3f CPU-s: %.2f µs CPU/record, %.0f records/s; %.1f allocs/record, %.0f B/record\n",
		what, len(paths)*n, records, warnings, copies, secs, cpu, cpu/r*1e6, r/secs,
		float64(ms1.Mallocs-ms0.Mallocs)/r, float64(ms1.TotalAlloc-ms0.TotalAlloc)/r)
	return nil
}
