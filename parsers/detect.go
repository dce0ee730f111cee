package parsers

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"sync"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Detection past the head. A log is recognised by its first bytes first
// (Registry.Match); when no parser takes the head, comment lines, a banner or
// a damaged first block may hide a log that is well formed everywhere else.
// Then lines sampled from through the file are scored against every text
// format, and the format that accepts the best share of them wins. The
// sample is bounded (SampleWindows windows of SampleWindowSize bytes, at most
// SampleMaxLines lines), so detection never reads a large file whole.
const (
	SampleWindows    = 8
	SampleWindowSize = 8 << 10
	SampleMaxLines   = 64
	// sampleLineMax: a longer line is not a log record worth scoring.
	sampleLineMax = 4 << 10
)

// LineMatcher is implemented by text parsers that can judge one line:
// MatchLine reports whether line (without its line ending) is a record, or
// the start of one, in the parser's format. A parser whose Match already
// judges a head of one line need not implement it: see Registry.ScoreLines.
type LineMatcher interface {
	MatchLine(e *jfs.Entry, line []byte) bool
}

// ScoreLines marks registered text parsers whose Match judges a one-line
// head as it judges a full one; detection past the head scores sampled lines
// with them (and with every parser implementing LineMatcher). Binary formats
// are never marked: their Match on a line of text means nothing. It panics
// on a parser that is not registered, a mistake in the build's parser list.
func (r *Registry) ScoreLines(ps ...Parser) *Registry {
	r.scoringInit()
	for _, p := range ps {
		found := false
		for i, q := range r.parsers {
			if q == p {
				found = true
				if r.scoring[i] == scoreNone {
					r.scoring[i] = scoreByMatch
				}
			}
		}
		if !found {
			panic(fmt.Sprintf("parsers: ScoreLines of unregistered parser %s", p.Name()))
		}
	}
	r.scoredInit()
	return r
}

// scoredInit lists the parsers scored by line (scoring set), in order,
// and what their Requirements ask of the heads Detect gives their Match
// (lineReq).
func (r *Registry) scoredInit() {
	r.scored = r.scored[:0]
	for i, k := range r.scoring {
		if k != scoreNone {
			r.scored = append(r.scored, i)
		}
	}
	r.lineReq = make([][256]uint32, len(r.scored))
	for k, i := range r.scored {
		q, ok := r.parsers[i].(Requirer)
		if !ok {
			continue
		}
		req := q.Requires()
		letters := uint32(lineNever)
		if req.Name != "" {
			letters = lettersOf(req.Name)
			if letters == 0 || letters == allLetters {
				panic(fmt.Sprintf("parsers: %s requires a name of ASCII letters, not %q", r.parsers[i].Name(), req.Name))
			}
		}
		for c := range 256 {
			if !req.First.Has(byte(c)) {
				r.lineReq[k][c] = letters
			}
		}
	}
}

// lineNever is a lineReq that no name meets: the head's first byte is
// outside the parser's Requirement and the name alone never suffices. It
// is a bit no letters mask holds.
const lineNever = 1 << 31

// mayMatch reports whether the k-th scored parser's Match may accept a
// head starting with c of the file whose name holds letters (nameLetters),
// by its Requirement (as Registry.Match asks only those): false when it
// cannot, and Detect counts the head as not accepted without asking.
func (r *Registry) mayMatch(k int, c byte, letters uint32) bool {
	return r.lineReq[k][c]&^letters == 0
}

// lineScoring is how one registered parser judges a sampled line.
type lineScoring uint8

const (
	scoreNone    lineScoring = iota // not scored by line
	scoreLine                       // its LineMatcher.MatchLine
	scoreByMatch                    // its Match on a one-line head (ScoreLines)
)

// scoringInit fills r.scoring once, in NewRegistry (Detect runs on
// several goroutines and only reads it): LineMatchers score lines
// whatever ScoreLines says.
func (r *Registry) scoringInit() {
	if len(r.scoring) == len(r.parsers) {
		return
	}
	r.scoring = make([]lineScoring, len(r.parsers))
	r.lineMatchers = make([]LineMatcher, len(r.parsers))
	for i, p := range r.parsers {
		if lm, ok := p.(LineMatcher); ok {
			r.scoring[i] = scoreLine
			r.lineMatchers[i] = lm
		}
	}
	r.scoredInit()
}

// scoreLine reports how the i-th parser judges the j-th sampled line,
// which must be scored (scoring[i] != scoreNone): by its MatchLine on the
// line, or by its Match on the line as a head of one complete line.
// k is its place in r.scored. A parser judged by Match is not asked about
// a line its Requirement rules out (mayMatch): the line is not accepted.
func (r *Registry) scoreLine(k, i int, e *jfs.Entry, h *lineHeads, j int) bool {
	if r.scoring[i] == scoreLine {
		return r.lineMatchers[i].MatchLine(e, h.lines[j])
	}
	// The head's first byte: the line's, or the '\n' head appends.
	c := byte('\n')
	if l := h.lines[j]; len(l) > 0 {
		c = l[0]
	}
	if !r.mayMatch(k, c, h.letters) {
		return false
	}
	return r.parsers[i].Match(e, h.head(j))
}

// lineHeads gives the sampled lines as heads of one complete line to the
// parsers judged by Match: the line and a '\n', which tells parsers that
// look for whole lines that it is not cut. Each head is made when first
// asked for and kept for the other parsers. A sampled line is a slice of
// the file's bytes: when the byte after it is its '\n' (no "\r\n", not the
// end of a window or of the file), the line and that byte are the head, as
// they are; another line is copied into buf, once, not once for every
// parser that scores it. Match only reads its head (a Parser's contract).
type lineHeads struct {
	lines, heads [][]byte // heads[j] nil until made
	buf          []byte
	// sample is DetectSample's buffer of sampled lines, empty (and its
	// elements nil) between calls.
	sample [][]byte
	// letters is nameLetters of the file's entry (mayMatch).
	letters uint32
}

func (h *lineHeads) head(j int) []byte {
	if hd := h.heads[j]; hd != nil {
		return hd
	}
	l := h.lines[j]
	if n := len(l); n < cap(l) && l[:n+1][n] == '\n' {
		h.heads[j] = l[:n+1]
	} else {
		// Appending may move buf: the heads cut from it before keep
		// the old array, whose bytes are never written again.
		start := len(h.buf)
		h.buf = append(append(h.buf, l...), '\n')
		h.heads[j] = h.buf[start:len(h.buf):len(h.buf)]
	}
	return h.heads[j]
}

// lineHeadsPool holds the lineHeads of Detect: their buffers grown anew
// by every Detect were one allocation per file no parser took by its head,
// and an image has hundreds of thousands.
var lineHeadsPool = sync.Pool{New: func() any { return new(lineHeads) }}

// MinShare and MinAccepted decide when a sampled format is taken: at least
// a quarter of the sampled lines and at least MinAccepted of them, or every
// sampled line of a shorter sample. A quarter because a record may span
// lines that are not records by themselves: a MySQL slow log scores about
// 0.26 (its "# Time:" and "# User@Host:" lines among statements), a bash
// history with timestamps about 0.3; prose quoting a few log lines stays
// far below.
const (
	MinShareNum, MinShareDen = 1, 4
	MinAccepted              = 3
)

// Detection is the outcome of scoring a sample of lines.
type Detection struct {
	// Parser is the chosen parser, nil when none qualifies.
	Parser Parser
	// Tried is the number of registered formats (every one was tried on
	// the head); Scored is how many of them judged sampled lines.
	Tried, Scored int
	// Sampled is the number of lines scored; Leading the number of comment
	// and blank lines at the top of the file left out of the sample.
	Sampled, Leading int
	// Nearest is the format that accepted the most sampled lines (the
	// chosen one when Parser is set), "" when none accepted any; Accepted is
	// how many it accepted.
	Nearest  string
	Accepted int
}

// String describes the detection for a skip message, e.g. "tried 16
// formats; nearest: syslog, 3 of 40 sampled lines".
//
// It is written without fmt: every file of an image that no parser reads
// gets one (300k at a time), and Sprintf was a third of skipping them.
func (d Detection) String() string {
	return string(d.AppendText(nil))
}

// AppendText appends what String returns to b.
func (d Detection) AppendText(b []byte) []byte {
	b = append(b, "tried "...)
	b = strconv.AppendInt(b, int64(d.Tried), 10)
	switch {
	case d.Sampled == 0:
		return append(b, " formats; no complete text line to sample"...)
	case d.Nearest == "":
		b = append(b, " formats; none accepted any of "...)
		b = strconv.AppendInt(b, int64(d.Sampled), 10)
		return append(b, " sampled lines"...)
	}
	b = append(b, " formats; nearest: "...)
	b = append(b, d.Nearest...)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(d.Accepted), 10)
	b = append(b, " of "...)
	b = strconv.AppendInt(b, int64(d.Sampled), 10)
	return append(b, " sampled lines"...)
}

// Detect picks a text format for a file whose head no parser took. First,
// when comment or blank lines led the file, the text parsers' Match is asked
// again on the head after each of them: a format of multi-line records (an
// apt history, a MySQL slow log) is known by how it starts. Then the
// sampled lines are scored against every line-scored parser, and the one
// accepting the most wins when it passes MinShare and MinAccepted; registry
// order decides ties, as it does for Match.
func (r *Registry) Detect(e *jfs.Entry, s Sample) Detection {
	return r.detect(e, s, lineHeadsPool.Get().(*lineHeads))
}

// DetectSample is Detect(e, SampleLines(start, complete, at, size)) with
// the sampled lines listed in a buffer kept from call to call rather than
// in a slice of their own: every file of an image that no parser takes by
// its head is sampled.
func (r *Registry) DetectSample(e *jfs.Entry, start []byte, complete bool, at io.ReaderAt, size int64) Detection {
	lh := lineHeadsPool.Get().(*lineHeads)
	s := sampleLines(lh.sample[:0], start, complete, at, size)
	if len(s.Lines) <= SampleMaxLines {
		// The buffer, grown or not: kept, without the lines (detect's
		// deferred clear), for the next call.
		lh.sample = s.Lines[:0]
	}
	return r.detect(e, s, lh)
}

// detect is Detect with lh, which it gives back to lineHeadsPool.
func (r *Registry) detect(e *jfs.Entry, s Sample, lh *lineHeads) Detection {
	d := Detection{Tried: len(r.parsers), Sampled: len(s.Lines), Leading: s.Leading, Scored: len(r.scored)}
	lh.letters = nameLetters(e)
	lh.lines = s.Lines
	if cap(lh.heads) < len(s.Lines) {
		lh.heads = make([][]byte, len(s.Lines))
	}
	// Every head is nil: each Detect clears those it used (and make
	// gives nil ones).
	lh.heads = lh.heads[:len(s.Lines)]
	defer func() {
		// Nothing of this file is kept by the pool but buf's bytes.
		clear(lh.heads)
		clear(lh.sample[:cap(lh.sample)])
		lh.lines, lh.buf = nil, lh.buf[:0]
		lineHeadsPool.Put(lh)
	}()
	// A head matched after leading lines wins whatever the scores, so it
	// is looked for first: then only its own lines need scoring. The
	// fewest lines skipped first, then registry order.
	for _, h := range s.Heads {
		for k, i := range r.scored {
			if len(h) > 0 && !r.mayMatch(k, h[0], lh.letters) {
				continue
			}
			if p := r.parsers[i]; p.Match(e, h) {
				d.Parser, d.Nearest = p, p.Name()
				for j := range s.Lines {
					if r.scoreLine(k, i, e, lh, j) {
						d.Accepted++
					}
				}
				return d
			}
		}
	}
	var best Parser
	lines := s.Lines
	for k, i := range r.scored {
		p := r.parsers[i]
		n := 0
		// scoreLine written out for each way of scoring: this loop runs
		// for every scored parser on each file no parser takes by its
		// head, most files of an image.
		//
		// A parser that cannot pass the best count so far even if it
		// accepted every line left can change nothing (a later parser
		// needs more, not as many, to be taken: registry order breaks
		// ties), so its scoring stops.
		if r.scoring[i] == scoreLine {
			lm := r.lineMatchers[i]
			for j, l := range lines {
				if n+len(lines)-j <= d.Accepted {
					break
				}
				if lm.MatchLine(e, l) {
					n++
				}
			}
		} else {
			req := &r.lineReq[k]
			for j, l := range lines {
				if n+len(lines)-j <= d.Accepted {
					break
				}
				c := byte('\n') // the head's first byte (scoreLine)
				if len(l) > 0 {
					c = l[0]
				}
				if req[c]&^lh.letters == 0 && p.Match(e, lh.head(j)) {
					n++
				}
			}
		}
		if n > d.Accepted {
			best, d.Accepted, d.Nearest = p, n, p.Name()
		}
	}
	if best != nil && d.Accepted*MinShareDen >= d.Sampled*MinShareNum &&
		(d.Accepted >= MinAccepted || d.Accepted == d.Sampled) {
		d.Parser = best
	}
	return d
}

// Sample is lines taken from through a file for detection.
type Sample struct {
	Lines   [][]byte
	Leading int // comment and blank lines skipped at the top
	// Heads are the file's head after each of those lines (up to HeadSize
	// bytes each, for the first maxHeads of them): a format whose own first
	// lines look like comments (a MySQL slow log's "# Time:") is matched
	// after the lines someone added, not after its own.
	Heads [][]byte
}

// maxHeads bounds how many leading lines Detect looks past one by one.
const maxHeads = 16

// SampleLines takes lines from SampleWindows windows spread over the file.
// start is the file's first bytes as buffered by the caller (complete when
// it holds the whole file). With at and a known size, the other windows are
// read at their offsets; without, they are cut from start, so a stream is
// never read twice. Each window drops its first, partial line (but the
// file's first) and its last, unless the file ends there. Comment and blank
// lines at the very top are skipped and counted.
func SampleLines(start []byte, complete bool, at io.ReaderAt, size int64) Sample {
	return sampleLines(nil, start, complete, at, size)
}

// sampleLines is SampleLines listing the kept lines in all (from its
// start, growing it as append does).
func sampleLines(all [][]byte, start []byte, complete bool, at io.ReaderAt, size int64) Sample {
	type window struct {
		b         []byte
		first, eo bool // starts the file; ends it
	}
	var wsOn [SampleWindows + 1]window // on the stack: every case makes at most this many
	ws := wsOn[:0]
	if at != nil && size > int64(len(start)) && size > SampleWindowSize {
		ws = append(ws, window{b: start[:min(len(start), SampleWindowSize)], first: true})
		// One buffer for every window, each read into its own part:
		// the lines sampled are slices of it, never copied.
		buf := make([]byte, (SampleWindows-1)*SampleWindowSize)
		for i := int64(1); i < SampleWindows; i++ {
			off := size * i / SampleWindows
			w := buf[(i-1)*SampleWindowSize : i*SampleWindowSize]
			n, err := at.ReadAt(w, off)
			if n == 0 && err != nil {
				break
			}
			ws = append(ws, window{b: w[:n], eo: off+int64(n) >= size})
		}
	} else {
		// Windows cut from what is buffered.
		step := max(len(start)/SampleWindows, 1)
		w := min(SampleWindowSize, len(start))
		if len(start) <= SampleWindows*SampleWindowSize {
			// A short buffer: sample it all, in one window.
			step, w = len(start), len(start)
		}
		for off := 0; off < len(start); off += step {
			end := min(off+w, len(start))
			ws = append(ws, window{b: start[off:end], first: off == 0, eo: complete && end == len(start)})
		}
	}
	var s Sample
	for _, w := range ws {
		b := w.b
		if w.first {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		} else {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				continue
			}
			b = b[i+1:]
		}
		top := w.first
		for len(b) > 0 {
			line, rest, found := bytes.Cut(b, []byte("\n"))
			if !found && !w.eo {
				break // cut by the window
			}
			b = rest
			line = bytes.TrimSuffix(line, []byte("\r"))
			if top && isCommentOrBlank(line) {
				s.Leading++
				if len(b) > 0 && len(s.Heads) < maxHeads {
					s.Heads = append(s.Heads, b[:min(len(b), HeadSize)])
				}
				continue
			}
			top = false
			if len(bytes.TrimSpace(line)) == 0 || len(line) > sampleLineMax {
				continue
			}
			all = append(all, line)
		}
	}
	// Spread the kept lines evenly when there are more than the cap, so
	// every window is represented.
	if len(all) <= SampleMaxLines {
		s.Lines = all
		return s
	}
	s.Lines = make([][]byte, 0, SampleMaxLines)
	for i := range SampleMaxLines {
		s.Lines = append(s.Lines, all[i*len(all)/SampleMaxLines])
	}
	return s
}

// isCommentOrBlank is a line that annotates a file rather than recording
// anything: blank, or starting with a comment marker used by log tools and
// people (#, ;, //, --).
func isCommentOrBlank(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#' || t[0] == ';' ||
		bytes.HasPrefix(t, []byte("//")) || bytes.HasPrefix(t, []byte("--"))
}
