// Command mftbench measures jejak's MFT timeline on an NTFS volume the way
// scripts/bench.sh compares it with The Sleuth Kit's fls -r -m: open the
// volume, find $MFT through the NTFS walker, run the mft parser on it and
// finalize every event (ID, related fields) as ingest does, then drop it,
// as fls drops each bodyfile line once written. It is a benchmark driver,
// not part of jejak; peak RSS is measured from outside (/usr/bin/time -v).
//
//	mftbench [-offset BYTES] [-walk] [-cpuprofile F] [-memprofile F] IMAGE
//
// -walk also times the walker over every file of the volume (each file's
// first bytes read and sniffed, as analyze does) before the timeline.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/internal/gcpolicy"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/timeline"
)

var errFound = errors.New("found")

func main() {
	// The collector's pace cmd/jejak runs with: the benchmark measures
	// what ships (GOGC or GOMEMLIMIT in the environment override it).
	gcpolicy.Apply()
	offset := flag.Int64("offset", 0, "byte offset of the NTFS volume in IMAGE")
	walk := flag.Bool("walk", false, "also walk every file of the volume (sniffing each) before the timeline")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := flag.String("memprofile", "", "write a heap profile (in-use at the end of the timeline) to this file")
	keep := flag.Bool("keep", false, "keep every event in memory, as parsertest.Parse does (to see what that costs)")
	listing := flag.Bool("listing", false, "only decode every record and resolve its paths (the part fls -m does), no events")
	dump := flag.String("dump", "", "write every event as a JSON line to this file (to compare two builds)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mftbench [-offset BYTES] [-walk] IMAGE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *offset, *walk, *cpuprof, *memprof, *dump, *listing, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "mftbench:", err)
		os.Exit(1)
	}
}

func run(img string, offset int64, walk bool, cpuprof, memprof, dump string, listing, keep bool) error {
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
	f, err := os.Open(img)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
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
	vol := io.NewSectionReader(f, offset, st.Size()-offset)
	ctx := context.Background()
	problems := 0
	report := func(p *jfs.Problem) {
		problems++
		if problems <= 10 {
			fmt.Fprintln(os.Stderr, "problem:", p.Err)
		}
	}
	if walk {
		w, err := ntfs.NewWalker(vol, vol.Size(), nil)
		if err != nil {
			return err
		}
		start, files := time.Now(), 0
		err = w.Walk(ctx, func(context.Context, *jfs.Entry) error { files++; return nil }, report)
		if err != nil {
			return err
		}
		fmt.Printf("walk: %d files in %.3f s\n", files, time.Since(start).Seconds())
	}
	start := time.Now()
	w, err := ntfs.NewWalker(vol, vol.Size(), nil)
	if err != nil {
		return err
	}
	var mftEntry *jfs.Entry
	err = w.Walk(ctx, func(_ context.Context, e *jfs.Entry) error {
		if e.Path == "$MFT" {
			mftEntry = e
			return errFound
		}
		return nil
	}, report)
	if mftEntry == nil {
		return fmt.Errorf("no $MFT in the volume (%v)", err)
	}
	ra, ok, err := mftEntry.ReaderAt()
	if !ok {
		return fmt.Errorf("$MFT: no random access (%v)", err)
	}
	if listing {
		var head [64]byte
		if _, err := ra.ReadAt(head[:], 0); err != nil {
			return err
		}
		t := ntfs.NewTable(ra, mftEntry.Size, ntfs.RecordSizeOf(head[:]))
		var entries, names, bad int
		err := t.Scan(ctx, func(r *ntfs.Record, _ int64) error {
			entries++
			t.Path(r, nil)
			for i := range r.Names {
				t.Path(r, &r.Names[i])
				names++
			}
			return nil
		}, func(uint64, int64, error) { bad++ })
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		fmt.Printf("listing: %d entries, %d names, %d bad records in %.3f s: %.0f entries/s\n", entries, names, bad, secs, float64(entries)/secs)
		return nil
	}
	var kept []*timeline.Event
	warnings, events := 0, 0
	var lastRecord int64 = -1
	var distinct int64
	src := &parsers.Source{Entry: mftEntry, ReaderAt: ra, Size: mftEntry.Size, Zone: time.UTC,
		Warn: func(*parsers.RecordError) { warnings++ }}
	err = mft.New().Parse(ctx, src, func(ev *timeline.Event) error {
		ev.Jejak.Provenance.Chain = mftEntry.Chain
		ev.Jejak.Provenance.Path = mftEntry.Path
		ev.Jejak.Provenance.Parser = mft.Name
		ev.Finalize()
		events++
		if keep {
			kept = append(kept, ev)
		}
		if out != nil {
			if err := out.Encode(ev); err != nil {
				return err
			}
		}
		if ev.Jejak.Provenance.Record != lastRecord {
			lastRecord = ev.Jejak.Provenance.Record
			distinct++
		}
		return nil
	})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	runtime.KeepAlive(kept)
	if memprof != "" {
		pf, err := os.Create(memprof)
		if err != nil {
			return err
		}
		defer pf.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(pf); err != nil {
			return err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// Allocations per entry: the steady figure on a shared machine, where
	// times move with the load (the whole run's, walk and finalizing
	// included).
	perEntry := func(n uint64) float64 { return float64(n) / float64(max(distinct, 1)) }
	fmt.Printf("mft: %d entries, %d events, %d warnings, %d problems in %.3f s: %.0f entries/s; Go heap peak-ish %d MiB (sys %d MiB); %.1f allocs, %.0f bytes per entry; %d collections\n",
		distinct, events, warnings, problems, secs, float64(distinct)/secs, ms.HeapSys>>20, ms.Sys>>20,
		perEntry(ms.Mallocs), perEntry(ms.TotalAlloc), ms.NumGC)
	return nil
}
