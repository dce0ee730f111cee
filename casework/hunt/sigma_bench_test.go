//go:build unix

package hunt

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/internal/cputime"
)

// hayabusaEventsPerSecond is Hayabusa's published hunting rate with its
// full rule set (about 17,000 events/s); the issue asks for 3× that.
const hayabusaEventsPerSecond = 17_000

// BenchmarkHuntSigmaHQWindows hunts with every SigmaHQ Windows rule of the
// snapshot that loads (plus the built-in rules, as 'jejak hunt --rules'
// does) over a case of real EVTX files — the corpus's and SigmaHQ's
// regression samples — copied into as many evidence folders as it takes to
// reach 100,000 events. It reports events/s and the rule count.
func BenchmarkHuntSigmaHQWindows(b *testing.B) {
	rulesDir, err := filepath.Abs(filepath.Join(sharedSigma, "rules", "windows"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(rulesDir); err != nil {
		b.Skipf("SigmaHQ snapshot not present (%v): the benchmark needs ../shared/sigma", err)
	}
	sig, problems, err := LoadSigma(rulesDir)
	if err != nil {
		b.Fatal(err)
	}
	builtin, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	rules := append(builtin, sig...)

	evtx := evtxFiles("../../../shared/corpus", filepath.Join(sharedSigma, "regression_data"))
	if len(evtx) == 0 {
		b.Skip("no EVTX files under ../shared")
	}
	// One evidence folder of every file gives the events per copy.
	work := b.TempDir()
	copyTo := func(dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i, p := range evtx {
			copyFile(b, p, filepath.Join(dir, strconv.Itoa(i)+"-"+filepath.Base(p)))
		}
	}
	copyTo(filepath.Join(work, "probe"))
	_, sum := casetest.Build(b, filepath.Join(work, "probe"))
	reps := int((100_000 + sum.Events - 1) / sum.Events)
	var dirs []string
	for i := 0; i < reps; i++ {
		d := filepath.Join(work, "copy"+strconv.Itoa(i))
		copyTo(d)
		dirs = append(dirs, d)
	}
	st, sum := casetest.Build(b, dirs...)
	events := sum.Events
	b.Logf("%d rules (%d SigmaHQ Windows loaded, %d skipped, %d built-in) over %d events (%d EVTX files × %d)",
		len(rules), len(sig), len(problems), len(builtin), events, len(evtx), reps)

	// events/s is wall-clock: the store decodes its JSON on every core
	// while the hunt's goroutine matches, so on an idle machine it is
	// higher than events/cpu-s. The machine may be shared: CPU time (all
	// threads, GC included) gives a rate that does not depend on the
	// other load.
	cpu0 := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		hunt(b, st, Config{Rules: rules})
	}
	rate := float64(events) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(float64(events)*float64(b.N)/(cputime.Process()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(rate/hayabusaEventsPerSecond, "×hayabusa")
}

func copyFile(t testing.TB, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
