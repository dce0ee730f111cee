package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressBar is the one kind of bar long commands draw on stderr (only on
// a terminal). The rate is jejak's own: progressbar's first readings divide
// the first batch by a few milliseconds ("24 GB/s"), so no rate is shown
// before a second has passed, and then it is the average since the start.
type progressBar struct {
	bar   *progressbar.ProgressBar
	start time.Time
	bytes bool   // the count is bytes, not items
	unit  string // items' name, e.g. "events"
	now   func() time.Time
}

// newProgressBar draws a bar of total steps on w (total -1: a spinner).
func newProgressBar(w io.Writer, desc string, total int64, bytes bool, unit string) *progressBar {
	opts := []progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(200 * time.Millisecond)}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	return &progressBar{bar: progressbar.NewOptions64(total, opts...), start: time.Now(), bytes: bytes, unit: unit, now: time.Now}
}

// set moves the bar to done and describes it with prefix, the amount and,
// after the first second, the average rate.
func (p *progressBar) set(done int64, prefix string) {
	p.bar.Describe(prefix + " " + p.rateText(done, p.now().Sub(p.start)))
	_ = p.bar.Set64(done)
}

func (p *progressBar) rateText(done int64, elapsed time.Duration) string {
	amount := fmt.Sprintf("%d %s", done, p.unit)
	if p.bytes {
		amount = humanBytes(done)
	}
	if elapsed < time.Second {
		return amount
	}
	rate := float64(done) / elapsed.Seconds()
	if p.bytes {
		return fmt.Sprintf("%s (%s/s)", amount, humanBytes(int64(rate)))
	}
	return fmt.Sprintf("%s (%.0f %s/s)", amount, rate, p.unit)
}

func (p *progressBar) changeMax(total int64) { p.bar.ChangeMax64(total) }

// finish clears the bar before the summary is printed.
func (p *progressBar) finish() { _ = p.bar.Finish() }
