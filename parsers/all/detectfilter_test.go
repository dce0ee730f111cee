package all

import (
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
)

// unfiltered hides a parser's Requirement: a registry of them asks every
// parser, as Detect did before it asked only those a head's first byte and
// the file's name allow.
type unfiltered struct{ parsers.Parser }

// unfilteredLines is unfiltered for a parser that scores lines by its own
// MatchLine.
type unfilteredLines struct {
	parsers.Parser
	lm parsers.LineMatcher
}

func (u unfilteredLines) MatchLine(e *jfs.Entry, line []byte) bool { return u.lm.MatchLine(e, line) }

// everyParserRegistry is Registry() with every parser's Requirement
// hidden, scoring the same parsers by line the same way: the text formats
// Registry() marks (ScoreLines) are the ones after windows_task_xml (schtask) and before the
// two matched by name alone (lastlog, the PSReadLine history), and
// TestRegistryDetectPrefilter checks that both registries score as many.
func everyParserRegistry(t *testing.T, reg *parsers.Registry) *parsers.Registry {
	var ps, text []parsers.Parser
	all := reg.Parsers()
	inText := false
	for i, p := range all {
		var w parsers.Parser = unfiltered{p}
		if lm, ok := p.(parsers.LineMatcher); ok {
			w = unfilteredLines{p, lm}
		}
		ps = append(ps, w)
		if inText && i < len(all)-2 {
			text = append(text, w)
		}
		if p.Name() == "windows_task_xml" {
			inText = true
		}
	}
	if len(text) == 0 {
		t.Fatal("no text parser after windows_task_xml in Registry()")
	}
	return parsers.NewRegistry(ps...).ScoreLines(text...)
}

// TestRegistryDetectPrefilter holds Registry.Detect, which does not ask a
// parser's Match about a head its Requirement rules out, to asking every
// scored parser: the same Detection for every file of the fixtures and
// the corpus, sampled whole, under its own name and the other names.
func TestRegistryDetectPrefilter(t *testing.T) {
	reg := Registry()
	ref := everyParserRegistry(t, reg)
	n, found := 0, 0
	for _, in := range walkHeads(t) {
		entriesFor(in, func(e *jfs.Entry, head []byte) {
			for _, data := range [][]byte{in.data, head} {
				s := parsers.SampleLines(data, true, nil, int64(len(data)))
				got, want := reg.Detect(e, s), ref.Detect(e, s)
				n++
				gotName, wantName := "", ""
				if got.Parser != nil {
					gotName = got.Parser.Name()
				}
				if want.Parser != nil {
					wantName = want.Parser.Name()
					found++
				}
				if gotName != wantName || got.Tried != want.Tried || got.Scored != want.Scored ||
					got.Sampled != want.Sampled || got.Leading != want.Leading ||
					got.Nearest != want.Nearest || got.Accepted != want.Accepted {
					t.Errorf("%s (%d bytes, from %s): Detect %q %+v, every parser asked %q %+v",
						e.Path, len(data), in.name, gotName, got, wantName, want)
				}
			}
		})
	}
	if ref.Detect(nil, parsers.Sample{}).Scored != reg.Detect(nil, parsers.Sample{}).Scored {
		t.Fatal("the reference registry scores other parsers")
	}
	t.Logf("%d samples, %d detected", n, found)
}
