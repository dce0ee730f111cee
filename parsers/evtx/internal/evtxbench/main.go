// Command evtxbench measures jejak's EVTX parser alone on files or folders
// of .evtx files, the part of `jejak analyze` that scripts/bench.sh compares
// with evtx_dump -o jsonl: every file is parsed as ingest parses it (its
// chunks decoded on GOMAXPROCS workers), every event finalized (ID, related
// fields) and dropped, or written as a JSON line with -dump. It prints the
// records, the process's CPU seconds (user+sys) and the allocations per
// record, so that parse cost per record can be set beside evtx_dump's. It
// is a benchmark driver, not part of jejak; it runs with cmd/jejak's
// collector pace (internal/gcpolicy).
//
//	evtxbench [-decode] [-n N] [-dump FILE] [-cpuprofile F] [-memprofile F] PATH...
//
// -decode stops at the decoded XML tree (evtx.DecodeChunk over each
// chunk, no events built), to tell decoding from event building. -n repeats
// the whole set N times (to measure short inputs over a longer run).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	dump := flag.String("dump", "", "write every event as a JSON line to this file (to compare two builds)")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := flag.String("memprofile", "", "write an allocation profile to this file")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: evtxbench [-decode] [-n N] [-dump FILE] [-cpuprofile F] [-memprofile F] PATH...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *decode, *n, *dump, *cpuprof, *memprof); err != nil {
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

func run(args []string, decode bool, n int, dump, cpuprof, memprof string) error {
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
	records, warnings := 0, 0
	ctx := context.Background()
	p := evtx.New(0)
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
				r, w, err := decodeFile(f, st.Size())
				records, warnings = records+r, warnings+w
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
			err = p.Parse(ctx, src, func(ev *timeline.Event) error {
				ev.Jejak.Provenance.Chain = entry.Chain
				ev.Jejak.Provenance.Path = entry.Path
				ev.Jejak.Provenance.Parser = evtx.Name
				ev.Finalize()
				records++
				if out != nil {
					return out.Encode(ev)
				}
				return nil
			})
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
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
	fmt.Printf("%s: %d files, %d records, %d warnings in %.3f s wall, %.3f CPU-s: %.2f µs CPU/record, %.0f records/s; %.1f allocs/record, %.0f B/record\n",
		what, len(paths)*n, records, warnings, secs, cpu, cpu/r*1e6, r/secs,
		float64(ms1.Mallocs-ms0.Mallocs)/r, float64(ms1.TotalAlloc-ms0.TotalAlloc)/r)
	return nil
}

// decodeFile decodes every chunk of one file with evtx.DecodeChunk, on
// one goroutine (the parser's own decoding runs on all cores; this is the
// decoder's cost alone).
func decodeFile(f io.ReaderAt, size int64) (records, warnings int, err error) {
	const headerBlock, chunkSize = 4096, 65536
	buf := make([]byte, chunkSize)
	for off := int64(headerBlock); off < size; off += chunkSize {
		n, err := f.ReadAt(buf, off)
		if n == 0 && err != nil {
			return records, warnings, err
		}
		warnings += len(evtx.DecodeChunk(buf[:n], off, func(*evtx.Record) { records++ }))
	}
	return records, warnings, nil
}
