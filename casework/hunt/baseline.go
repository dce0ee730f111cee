package hunt

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// ---- executables and libraries that differ from the trusted build ----
//
// 'jejak baseline diff' stores each difference between later evidence and
// a baseline (or a vendor's trusted-build manifest) as an event of
// dataset jejak.baseline, tagged baseline-binary when the file is an
// executable or library (ELF/PE magic, its name, +x). Such a file changed
// or added since certification is what a post-election dispute turns on.
// The cut-off does not apply: the event's time is the file's mtime, which
// whoever replaced the binary may have set back; that the file differs
// from the certified one is what the diff proved. One finding per file of
// each evidence item.

// The names casework/baseline writes (not imported: hunt reads events,
// not the packages that make them).
const (
	baselineDataset   = "jejak.baseline"
	baselineBinaryTag = "baseline-binary"
)

type baselineBinary struct {
	h     *hunter
	r     *Rule
	files map[string]*binaryChange
	order []string
}

type binaryChange struct {
	path, evidence, action, moved, reference string
	refs                                     []EventRef
}

func newBaselineBinary(h *hunter, r *Rule) (analyzer, error) {
	return &baselineBinary{h: h, r: r, files: map[string]*binaryChange{}}, nil
}

func (b *baselineBinary) wants() interest { return interest{datasets: []string{baselineDataset}} }

func (b *baselineBinary) observe(ev *timeline.Event) {
	if ev.Event.Dataset != baselineDataset || !slices.Contains(ev.Jejak.Tags, baselineBinaryTag) {
		return
	}
	if ev.Event.Action != "baseline-changed" && ev.Event.Action != "baseline-added" {
		return
	}
	path := ev.Jejak.Provenance.Path
	if ev.File != nil && ev.File.Path != "" {
		path = ev.File.Path
	}
	k := ev.Jejak.Provenance.EvidenceSHA256 + "\x00" + path
	c := b.files[k]
	if c == nil {
		c = &binaryChange{path: path, evidence: ev.Jejak.Provenance.EvidenceName, action: ev.Event.Action,
			moved: ev.Jejak.Data["baseline.moved"], reference: ev.Jejak.Data["baseline.name"]}
		b.files[k] = c
		b.order = append(b.order, k)
	}
	c.refs = append(c.refs, b.h.ref(ev))
}

func (b *baselineBinary) finish() []Finding {
	var out []Finding
	for _, k := range b.order {
		c := b.files[k]
		var what string
		if c.action == "baseline-added" {
			what = "is not in the trusted build"
		} else {
			what = "differs from the trusted build"
			if c.moved != "" {
				what += " (" + strings.ReplaceAll(c.moved, ",", ", ") + ")"
			}
		}
		expl := fmt.Sprintf("The executable or library %s in %s %s %s: it was replaced or planted after certification; compare its hashes with the vendor's and look at who wrote it.",
			c.path, c.evidence, what, refName(c.reference))
		out = append(out, newFinding(b.r, c.evidence+":"+c.path, expl, c.refs))
	}
	return out
}

func refName(n string) string {
	if n == "" {
		return "the reference"
	}
	return "(reference " + n + ")"
}
