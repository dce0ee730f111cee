package sqlite

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/timeline"
)

// decodeEvent fills e (which must be the zero Event) from a stored
// document, with exactly the result json.Unmarshal(doc, e) gives: the same
// event, or an error exactly when json.Unmarshal errs.
//
// It is the inverse of appendEvent. encoding/json finds each field by
// reflection, validates the whole document in a first pass and allocates
// as it goes; a hunt spent half its CPU there (three quarters on syslog
// cases). This decoder reads the bytes once, in the order appendEvent
// writes them (any order is accepted), into the model's fields directly.
//
// It handles the documents appendEvent writes and whatever else is plain
// JSON of the model's shape. Anything else — a key it does not know
// exactly (encoding/json also matches keys case-insensitively and skips
// unknown ones), a key given twice (encoding/json merges into what the
// first one decoded), a number with a fraction or exponent, a value of the
// wrong type, invalid JSON — makes it start again with json.Unmarshal, so
// no corner of encoding/json's behaviour has to be reproduced here: a
// document with a field some later version added decodes as it always did.
// The tests hold it to json.Unmarshal on every event of the corpus and
// under fuzzing, on encoded events and on arbitrary bytes.
func decodeEvent(doc []byte, e *timeline.Event) error {
	return decodeEventWith(doc, e, nil)
}

// decodeEventWith is decodeEvent sharing the strings of in (nil: none)
// with the events decoded before.
func decodeEventWith(doc []byte, e *timeline.Event, in *interner) error {
	return decodeEventOpts(doc, e, in, false)
}

// decodeEventOpts is decodeEventWith leaving Related nil when noRelated is
// set: the document is checked as before (a document decodeEventWith
// refuses is refused), only the related.* strings are not made. A hunt
// reads no related.* field, and on syslog cases they were a twentieth of
// the decoding.
func decodeEventOpts(doc []byte, e *timeline.Event, in *interner, noRelated bool) error {
	if modelMatches() && decodeFastOpts(doc, e, in, noRelated) {
		return nil
	}
	*e = timeline.Event{}
	err := json.Unmarshal(doc, e)
	if noRelated {
		e.Related = nil
	}
	return err
}

// decodeStored decodes the stored document doc (its ID cut out, see
// stripID) of event id into e (the zero Event), as decodeEventOpts decodes
// the document appendDoc makes of it, without making it: the copy was
// 5 % of a hunt. The document is decoded as stored, with its empty ID,
// and the ID set afterwards, when that gives what the ID put back would
// give: the decoder read an empty jejak.id just where appendDoc puts the
// ID back (right after idKey, its last occurrence). Otherwise doc is
// made as before, in scratch, and decoded.
func decodeStored(doc []byte, id *[16]byte, e *timeline.Event, in *interner, noRelated bool, scratch *[]byte) error {
	return decodeStoredProj(doc, id, e, in, noRelated, nil, scratch)
}

// decodeStoredProj is decodeStored leaving out of a Windows record's two
// maps the entries pr (nil: none) does not ask for (proj.go). A document
// the fast decoder does not take is decoded whole, as is one whose
// projection the decoder cannot vouch for (see winlog).
func decodeStoredProj(doc []byte, id *[16]byte, e *timeline.Event, in *interner, noRelated bool, pr *projector, scratch *[]byte) error {
	if modelMatches() {
		d := decoder{b: doc, in: in, noRelated: noRelated, proj: pr}
		d.event(e)
		at := d.idAt
		if !d.bad && e.Jejak.ID == "" && at >= len(idKey)-1 && at+1 < len(doc) && doc[at+1] == '"' &&
			string(doc[at+1-len(idKey):at+1]) == idKey && !idKeyAfter(doc, at+1) {
			e.Jejak.ID = hex.EncodeToString(id[:])
			return nil
		}
		*e = timeline.Event{}
	}
	var err error
	if *scratch, err = appendDoc((*scratch)[:0], doc, id[:]); err != nil {
		return fmt.Errorf("event %x: %w", id[:], err)
	}
	if err := decodeEventOpts(*scratch, e, in, noRelated); err != nil {
		return fmt.Errorf("decode stored event: %w", err)
	}
	return nil
}

// idKeyAfter reports whether idKey occurs in doc at from or after: the
// forward search lastIDKey's result is checked with, by brace as
// lastIDKey goes (bytes.LastIndexByte is a byte loop, IndexByte is not).
func idKeyAfter(doc []byte, from int) bool {
	const head, tail = `"jejak":`, `{"id":"`
	for j := from; j < len(doc); {
		k := bytes.IndexByte(doc[j:], '{')
		if k < 0 {
			return false
		}
		i := j + k
		if i-len(head) >= from && string(doc[i-len(head):i]) == head && bytes.HasPrefix(doc[i:], []byte(tail)) {
			return true
		}
		j = i + 1
	}
	return false
}

// decodeFast decodes doc into e (the zero Event) without encoding/json and
// reports whether it could; when it could not, e holds a partial result.
func decodeFast(doc []byte, e *timeline.Event, in *interner) bool {
	return decodeFastOpts(doc, e, in, false)
}

func decodeFastOpts(doc []byte, e *timeline.Event, in *interner, noRelated bool) bool {
	d := decoder{b: doc, in: in, noRelated: noRelated}
	d.event(e)
	return !d.bad
}

// interner hands out one string for equal values of the fields that repeat
// from event to event (provenance, channel, provider, event_data keys and
// short values, event.* keywords): a hunt over a million events otherwise
// allocates, and collects, the same strings millions of times. It is
// cleared when full, so values that do not repeat cost a lookup, not
// memory. One decoding goroutine owns it.
type interner struct {
	m map[string]string
	// recent is a direct-mapped cache in front of m, by a hash of a
	// value's length and first and last 8 bytes: most lookups are of the
	// value the same field had in the events before, which recent finds
	// with one comparison, where the map hashes every byte and probes
	// (the map was a third of a syslog hunt's decoding).
	recent [internRecent]string
	// mapSize is how many keys the maps of decoder.strMapHint's slots
	// had last.
	mapSize [mapSizes]int
	// share: equal sub-objects may be one value shared by the events
	// decoded (a transient read), made once through memo (decodememo.go).
	share bool
	memo  memos
	slabs slabs
	// buf is decoder.unquote's scratch, kept from document to document:
	// a decoder is made per document, and its own scratch, grown from
	// nothing in every one, was 3 % of an EVTX hunt (paths and accounts
	// have escapes).
	buf []byte
	// pairs is decoder.strMapKeys's scratch.
	pairs []kv
	// preds are memberP's, by kind of object.
	preds [predKinds]keyPred
}

const (
	internMax    = 4096 // entries before the table is cleared
	internMaxLen = 256  // longer values are rarely repeated
	internRecent = 1024 // recent's size, a power of 2
)

func (in *interner) get(b []byte) string {
	if in == nil || len(b) > internMaxLen {
		return string(b)
	}
	k := internSlot(b)
	if s := in.recent[k]; s == string(b) {
		return s
	}
	s, ok := in.m[string(b)]
	if !ok {
		if in.m == nil || len(in.m) >= internMax {
			in.m = make(map[string]string, 256)
		}
		s = string(b)
		in.m[s] = s
	}
	in.recent[k] = s
	return s
}

// internSlot is b's place in interner.recent.
func internSlot(b []byte) uint {
	const mul = 0x9E3779B97F4A7C15
	n := len(b)
	h := uint64(n) * mul
	if n >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * mul
		h = (h ^ binary.LittleEndian.Uint64(b[n-8:])) * mul
	} else {
		for _, c := range b {
			h = (h ^ uint64(c)) * mul
		}
	}
	return uint(h>>32) & (internRecent - 1)
}

// decoder reads one document. A method that meets what it does not handle
// sets bad and moves to the end of the input, so every read after it stops
// at once; the caller then falls back to encoding/json.
type decoder struct {
	b   []byte
	i   int
	bad bool
	buf []byte    // unquoting scratch
	in  *interner // nil: no sharing
	// depth is how deep user() is in users nested in users.
	depth int
	// noRelated: related.* is read and checked but not kept.
	noRelated bool
	// idAt is where jejak.id's string starts (its quote), 0 before.
	idAt int
	// proj (nil: none) says which map entries of a Windows record to
	// make; head is the record's winlog head once headOK (its winlog
	// object read whole, before jejak).
	proj   *projector
	head   WinlogHead
	headOK bool
}

func (d *decoder) fail() {
	d.bad = true
	d.i = len(d.b)
}

func (d *decoder) ws() {
	// A document appendEvent wrote has no whitespace: one comparison
	// (every whitespace byte is at most ' ') instead of the switch.
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return
	}
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// open consumes the '{' of an object.
func (d *decoder) open() bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '{' {
		d.i++
		return true
	}
	d.fail()
	return false
}

// member returns the next key of an object whose '{' open consumed, with
// the ':' after it consumed, or false at the closing '}'. n counts the
// members read so far. Keys are returned raw: a key with an escape is
// not one of the model's, so it fails (encoding/json decides what it means).
// seen and bit refuse a key given twice.
func (d *decoder) member(n *int) ([]byte, bool) {
	d.ws()
	if d.i >= len(d.b) {
		d.fail()
		return nil, false
	}
	if d.b[d.i] == '}' {
		d.i++
		return nil, false // "{}" when n is 0; after a ',' the '"' check below catches "{"a":1,}"
	}
	if *n > 0 {
		if d.b[d.i] != ',' {
			d.fail()
			return nil, false
		}
		d.i++
		d.ws()
	}
	*n++
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return nil, false
	}
	start := d.i + 1
	j := plainEnd(d.b, start)
	for ; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			d.i = j + 1
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				d.fail()
				return nil, false
			}
			d.i++
			return d.b[start:j], true
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	d.fail()
	return nil, false
}

// predKinds is how many object decoders read their members through
// memberP: each has its own keyPred (d.pred's argument, numbered in the
// order of the decoders in this file).
const predKinds = 23

// keyPred is what memberP learnt of one kind of object: the member that
// followed a key (by predSlot) the last time, as its bytes from the ','
// (or the opening quote, for the first) to the ':' after the key (tok),
// and that key's own slot (next).
type keyPred struct {
	tok  [predSlots][]byte
	next [predSlots]uint8
}

const (
	predSlots = 66
	predFirst = 64 // the first member's slot
	predLost  = 65 // after members read from a memo (provenance's lead)
)

// predSlot is the slot of the member after key.
func predSlot(key []byte) int {
	if len(key) == 0 {
		return predLost
	}
	return int(key[0]*3+byte(len(key))+key[len(key)-1]) & 63
}

// pred returns the interner's keyPred of kind, nil without one.
func (d *decoder) pred(kind int) *keyPred {
	if d.in == nil {
		return nil
	}
	return &d.in.preds[kind]
}

// memberP is member for an object of a kind whose documents give their
// keys in the same order, document after document: it first compares the
// bytes at d.i with the member that followed the last key in the object
// of this kind read before, and on a match steps over them without
// scanning the key (the scan, the whitespace checks between the tokens and
// the comparisons were a sixth of a syslog hunt's instructions). A
// remembered member is exactly [,]"key": with no whitespace, a key member
// read without an escape: where those bytes are, member reads the same key
// and ends at the same place. last is the slot of the member to come
// (predSlot of the key read before in this object; predLost when unknown,
// its value before the first member); memberP sets it.
func (d *decoder) memberP(n *int, p *keyPred, last *int) ([]byte, bool) {
	if p == nil {
		return d.member(n)
	}
	if d.i < len(d.b) && d.b[d.i] == '}' {
		// The object's end, as member reads it (after no whitespace).
		d.i++
		return nil, false
	}
	s := predFirst
	if *n > 0 {
		s = *last
	}
	if tok := p.tok[s]; len(tok) > 0 && len(d.b)-d.i >= len(tok) && eqTok(d.b[d.i:], tok) {
		k0 := d.i + 1
		if *n > 0 {
			k0++
		}
		d.i += len(tok)
		*n++
		*last = int(p.next[s])
		return d.b[k0 : d.i-2], true
	}
	at := d.i
	key, ok := d.member(n)
	if !ok {
		return key, ok
	}
	ns := predSlot(key)
	if raw := d.b[at:d.i]; (*n > 1 && len(raw) == len(key)+4) || (*n == 1 && len(raw) == len(key)+3) {
		p.tok[s] = append(p.tok[s][:0], raw...)
		p.next[s] = uint8(ns)
	}
	*last = ns
	return key, ok
}

// unknown fails on a key the model does not have.
func (d *decoder) unknown() { d.fail() }

// once fails when the bit of a key is already in seen.
func (d *decoder) once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		d.fail()
		return false
	}
	*seen |= bit
	return true
}

// null consumes a null literal. Every field starts at its zero value and
// is set at most once, so for every field encoding/json's null (no change
// for strings, numbers, bools, structs and times; nil for pointers, slices
// and maps) means: leave it as it is.
func (d *decoder) null() bool {
	// Inlined: most values are not null and not after whitespace.
	if d.i < len(d.b) && d.b[d.i] != 'n' && d.b[d.i] > ' ' {
		return false
	}
	return d.nullSlow()
}

func (d *decoder) nullSlow() bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == 'n' {
		d.literal("null")
		return true
	}
	return false
}

// literal consumes lit, which must end at a delimiter.
func (d *decoder) literal(lit string) {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.fail()
		return
	}
	d.i += len(lit)
	d.delimited()
}

// delimited fails unless a token that just ended is followed by what may
// follow a value: whitespace, ',', '}', ']' or the end of the input
// ("12x", "nullx" and "01" are invalid JSON).
func (d *decoder) delimited() {
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r', ',', '}', ']':
		default:
			d.fail()
		}
	}
}

func (d *decoder) bool() bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == 't' {
		d.literal("true")
		return true
	}
	d.literal("false")
	return false
}

// digits consumes an unsigned integer without leading zeros and returns
// its value; a fraction, an exponent or an overflow fails.
func (d *decoder) digits() uint64 {
	b, start := d.b, d.i
	i := start
	var n uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		// Nineteen digits cannot overflow: the check from the 20th on.
		if i-start >= 19 && (n > (1<<64-1)/10 || n*10 > 1<<64-1-uint64(c)) {
			d.fail()
			return 0
		}
		n = n*10 + uint64(c)
	}
	d.i = i
	if d.i == start || (d.b[start] == '0' && d.i > start+1) {
		d.fail()
		return 0
	}
	d.delimited()
	return n
}

func (d *decoder) int64() int64 {
	d.ws()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	n := d.digits()
	if neg {
		if n > 1<<63 {
			d.fail()
			return 0
		}
		return -int64(n)
	}
	if n > 1<<63-1 {
		d.fail()
		return 0
	}
	return int64(n)
}

func (d *decoder) int() int {
	n := d.int64()
	if int64(int(n)) != n {
		d.fail()
	}
	return int(n)
}

func (d *decoder) uint64() uint64 {
	d.ws()
	return d.digits() // a '-' is not a digit: fails
}

// str reads a string value, unquoted as encoding/json does: the escapes of
// RFC 8259 with UTF-16 surrogate pairs combined, a lone surrogate and each
// byte of invalid UTF-8 replaced by U+FFFD.
func (d *decoder) str() string { return d.strAs(false) }

// istr is str for a field whose values repeat: see interner.
func (d *decoder) istr() string { return d.strAs(true) }

func (d *decoder) strAs(intern bool) string {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return ""
	}
	start := d.i + 1
	ascii := true
	// Plain bytes first, eight at a time (plainEnd); the loop below
	// then starts at the closing quote, usually.
	j := plainEnd(d.b, start)
	for ; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return d.unquote(s, intern)
			}
			if intern {
				return d.in.get(s)
			}
			return string(s)
		case c == '\\':
			if ascii {
				return d.unquoteRun(d.b, start, j, true, intern)
			}
			return d.unquoteFrom(start, intern)
		case c < 0x20:
			d.fail()
			return ""
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.fail()
	return ""
}

// strPlain marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unquoteFrom finds the end of a string with escapes that begins at start
// and unquotes it.
func (d *decoder) unquoteFrom(start int, intern bool) string {
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '\\':
			j++ // skip the escaped byte; unquote checks it
		case c == '"':
			d.i = j + 1
			return d.unquote(d.b[start:j], intern)
		case c < 0x20:
			d.fail()
			return ""
		}
	}
	d.fail()
	return ""
}

// unquote decodes the body of a string (between its quotes, whose end the
// caller found) that has escapes or invalid UTF-8.
func (d *decoder) unquote(s []byte, intern bool) string {
	return d.unquoteRun(s, 0, 0, false, intern)
}

// unquoteRun decodes s[r:] as unquote does, after s[from:r], which must be
// plain ASCII. quoted: s runs on past the string (it is the document),
// whose end is the first quote not escaped; d.i is set after it. strAs
// decodes a string with escapes so, in one pass, where unquoteFrom found
// its end and unquote went over it again (a message's paths and accounts
// have backslashes: a sixth of an EVTX hunt's decoding was its message).
// The results are the same: what ends the body (the quote) is what
// unquoteFrom ends it at, and no escape or rune read here reads past it
// differently (a quote is no hex digit, no continuation byte).
func (d *decoder) unquoteRun(s []byte, from, r int, quoted, intern bool) string {
	if d.buf == nil && d.in != nil {
		d.buf = d.in.buf
	}
	b := append(d.buf[:0], s[from:r]...)
	closed := !quoted
	for r < len(s) {
		// A run of plain bytes is copied at once: a byte at a time was
		// most of unquote on EVTX cases, whose paths and accounts
		// ("C:\\Windows\\...", "NT AUTHORITY\\SYSTEM") have escapes.
		if strPlain[s[r]] {
			p := plainEnd(s, r+1)
			b = append(b, s[r:p]...)
			if r = p; r >= len(s) {
				break
			}
		}
		c := s[r]
		switch {
		case c == '"' && quoted:
			d.i, closed = r+1, true
		case c == '\\':
			if r+1 >= len(s) {
				d.fail()
				return ""
			}
			switch e := s[r+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
				r += 2
			case 'b':
				b = append(b, '\b')
				r += 2
			case 'f':
				b = append(b, '\f')
				r += 2
			case 'n':
				b = append(b, '\n')
				r += 2
			case 'r':
				b = append(b, '\r')
				r += 2
			case 't':
				b = append(b, '\t')
				r += 2
			case 'u':
				rr := hex4(s[r:])
				if rr < 0 {
					d.fail()
					return ""
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					// A high surrogate followed by a low one is one
					// rune; anything else is U+FFFD, and what follows
					// is read on its own.
					if dec := utf16.DecodeRune(rr, hex4(s[r:])); dec != utf8.RuneError {
						r += 6
						rr = dec
					} else {
						rr = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, rr)
			default:
				d.fail() // \' and the like: invalid JSON
				return ""
			}
		case c < 0x20:
			d.fail()
			return ""
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr) // RuneError for an invalid byte
			r += size
		}
		if closed && quoted {
			break
		}
	}
	if !closed {
		d.fail() // no closing quote
		return ""
	}
	d.buf = b
	if d.in != nil && cap(b) <= maxKeptBuf {
		d.in.buf = b
	}
	if intern {
		return d.in.get(b)
	}
	return string(b)
}

// maxKeptBuf bounds the unquoting scratch an interner keeps: one long
// message does not stay allocated for the rest of the read.
const maxKeptBuf = 64 << 10

// hex4 reads "\uXXXX" at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// strs reads an array of strings; [] is an empty, non-nil slice, as
// encoding/json makes it, and a null element an empty string.
func (d *decoder) strs(intern bool) []string {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		d.fail()
		return nil
	}
	d.i++
	v := make([]string, 0, 2)
	for {
		d.ws()
		if d.i >= len(d.b) {
			d.fail()
			return nil
		}
		if d.b[d.i] == ']' && len(v) == 0 {
			d.i++
			return v
		}
		if len(v) > 0 {
			switch d.b[d.i] {
			case ']':
				d.i++
				return v
			case ',':
				d.i++
			default:
				d.fail()
				return nil
			}
		}
		if d.null() {
			v = append(v, "")
		} else {
			v = append(v, d.strAs(intern))
		}
		if d.bad {
			return nil
		}
	}
}

// skipStrs is strs checking the array as strs does without making its
// strings.
func (d *decoder) skipStrs() {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		d.fail()
		return
	}
	d.i++
	for n := 0; ; n++ {
		d.ws()
		if d.i >= len(d.b) {
			d.fail()
			return
		}
		if d.b[d.i] == ']' && n == 0 {
			d.i++
			return
		}
		if n > 0 {
			switch d.b[d.i] {
			case ']':
				d.i++
				return
			case ',':
				d.i++
			default:
				d.fail()
				return
			}
		}
		if !d.null() {
			d.skipStr()
		}
		if d.bad {
			return
		}
	}
}

// skipStr is str without making the string: it fails where str fails
// (a control byte, an escape unquote refuses, no closing quote) and
// nothing else, without unquoting. Invalid UTF-8 and lone surrogates are
// not failures: str replaces them. The projection skips most values of
// a Windows record's maps here.
func (d *decoder) skipStr() {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return
	}
	for j := d.i + 1; j < len(d.b); {
		if j = plainEnd(d.b, j); j >= len(d.b) {
			break
		}
		c := d.b[j]
		if c >= 0x20 && c != '"' && c != '\\' {
			j++ // a byte of a multi-byte rune, or invalid: str replaces it
			continue
		}
		switch c {
		case '"':
			d.i = j + 1
			return
		case '\\':
			if j+1 >= len(d.b) {
				d.fail()
				return
			}
			switch d.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				// hex4 needs four hex digits: a closing quote among
				// them fails it, as unquote fails a string cut short.
				if hex4(d.b[j:]) < 0 {
					d.fail()
					return
				}
				j += 6
			default:
				d.fail()
				return
			}
		default:
			d.fail() // a control byte
			return
		}
	}
	d.fail()
}

// strMap reads an object of strings; a key given twice keeps its last
// value and a null value is an empty string, as in encoding/json.
func (d *decoder) strMap() map[string]string { return d.strMapHint(-1) }

// Slots of interner.mapSize.
const (
	sizeEventData = iota
	sizeJejakData
	mapSizes
)

// strMapHint is strMap making the map as large as the map the same field
// (slot, -1: none) had in the event before: growing an event_data map
// key by key was half of its cost on EVTX cases.
func (d *decoder) strMapHint(slot int) map[string]string {
	if !d.open() {
		return nil
	}
	m := d.sizedMap(slot)
	for n := 0; ; {
		k, ok := d.mapKey(&n)
		if !ok {
			d.keepSize(slot, m)
			return m
		}
		if d.null() {
			m[k] = ""
		} else {
			m[k] = d.istr()
		}
	}
}

// sizedMap makes a map as large as slot's was in the event before (slot
// -1 or no interner: no hint).
func (d *decoder) sizedMap(slot int) map[string]string {
	if slot < 0 || d.in == nil {
		return map[string]string{}
	}
	return make(map[string]string, d.in.mapSize[slot])
}

// keepSize records m's size as slot's hint for the next event.
func (d *decoder) keepSize(slot int, m map[string]string) {
	if slot >= 0 && d.in != nil {
		d.in.mapSize[slot] = min(len(m), 64)
	}
}

// strMapKeys is strMapHint keeping only the entries whose key is in
// hm.keys: the values of the others are checked (skipStr) but not made.
// Which keys to keep is read from hm.seq when the key at a position is
// the one the head's last map had there. With share (a transient read),
// a map of jejak.data (memo) equal to the last one made for the head is
// that map: an EVTX record keeps one or two of its nine entries (task),
// which repeat from record to record. A remembered decision is only ever
// used for the very key it was made for (the bytes are compared), so a
// record whose keys are in another order is decoded as right, only slower.
func (d *decoder) strMapKeys(hm *headMap, memo bool) map[string]string {
	if !d.open() {
		return nil
	}
	memo = memo && d.sharing()
	// The entries kept are gathered first and the map made as large as
	// they need: a map sized by the record before, of another kind
	// perhaps, grew or was too large.
	var pairs []kv
	if d.in != nil {
		pairs = d.in.pairs[:0]
	}
	pos := 0
	for n := 0; ; {
		var (
			k    string
			keep bool
			at   = -1 // the member's place in hm.seq, when remembered
		)
		if sk := d.seqKeyAt(hm, pos, n); sk != nil {
			n++
			at, pos = pos, pos+1
			k, keep = sk.key, sk.keep
			if keep && sk.plain && d.plainAt(sk.val) {
				pairs = append(pairs, kv{k, sk.val})
				continue
			}
			if !keep && len(sk.skip) > 0 && len(d.b)-d.i >= len(sk.skip) && string(d.b[d.i:d.i+len(sk.skip)]) == string(sk.skip) {
				// The value left out last time, spelled alike: a
				// string without escape, which skipStr took, ending
				// at its second quote.
				d.i += len(sk.skip)
				continue
			}
		} else {
			var raw []byte
			var ok bool
			if k, raw, ok = d.projKey(&n); !ok {
				break
			}
			if raw != nil {
				keep = hm.keys.hasBytes(raw)
				if keep {
					k = d.in.get(raw)
				}
				hm.seq = append(hm.seq[:min(pos, len(hm.seq))], seqKey{tok: `"` + string(raw) + `":`, key: k, keep: keep})
				at, pos = pos, pos+1
			} else {
				keep = hm.keys.Has(k) // an escaped key: not remembered
			}
		}
		if !keep {
			if !d.null() {
				start := d.i
				d.skipStr()
				if at >= 0 {
					sk := &hm.seq[at]
					sk.skip = sk.skip[:0]
					if raw := d.b[start:d.i]; !d.bad && len(raw) <= maxSkipMemo && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
						sk.skip = append(sk.skip, raw...)
					}
				}
			}
			continue
		}
		v := ""
		if !d.null() {
			start := d.i
			v = d.istr()
			if at >= 0 && !d.bad {
				// Remembered for the next record when the value was
				// written as it reads: no escape, valid UTF-8.
				sk := &hm.seq[at]
				sk.val, sk.plain = v, d.i-start == len(v)+2 && string(d.b[start+1:d.i-1]) == v
			}
		}
		pairs = append(pairs, kv{k, v})
	}
	if d.in != nil {
		d.in.pairs = pairs
	}
	if d.bad {
		return nil
	}
	if memo && hm.last != nil && slices.Equal(pairs, hm.lastKV) {
		return hm.last
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p.k] = p.v
	}
	if memo {
		hm.last, hm.lastKV = m, append(hm.lastKV[:0], pairs...)
	}
	return m
}

// seqKeyAt reads the key hm.seq remembers at position pos when the
// document gives it there, as projKey would read it: the member's comma
// (n members read before) and exactly the bytes "key": with no space
// around them, the one spelling of a plain key the encoder writes. One
// comparison instead of a scan of the key and a lookup in the key set.
// nil: not that key (projKey reads the member).
func (d *decoder) seqKeyAt(hm *headMap, pos, n int) *seqKey {
	if pos >= len(hm.seq) {
		return nil
	}
	i := d.i
	if n > 0 {
		if i >= len(d.b) || d.b[i] != ',' {
			return nil
		}
		i++
	}
	sk := &hm.seq[pos]
	if len(d.b)-i < len(sk.tok) || string(d.b[i:i+len(sk.tok)]) != sk.tok {
		return nil
	}
	d.i = i + len(sk.tok)
	return sk
}

// plainAt reads the string value v at d.i when the document gives it
// there as it was remembered: a quote, v's bytes (plain: no escape, valid
// UTF-8) and a quote. The JSON string there is then exactly v: the first
// quote after the opening one closes it. false: nothing read.
func (d *decoder) plainAt(v string) bool {
	i := d.i
	if len(d.b)-i < len(v)+2 || d.b[i] != '"' || d.b[i+1+len(v)] != '"' || string(d.b[i+1:i+1+len(v)]) != v {
		return false
	}
	d.i = i + len(v) + 2
	return true
}

// projKey is mapKey giving a plain key (printable ASCII, no escape) as
// its bytes in raw, without making a string of it; any other key is
// unquoted into k, raw nil.
func (d *decoder) projKey(n *int) (k string, raw []byte, ok bool) {
	d.ws()
	if d.i >= len(d.b) {
		d.fail()
		return "", nil, false
	}
	if d.b[d.i] == '}' {
		d.i++
		return "", nil, false
	}
	if *n > 0 {
		if d.b[d.i] != ',' {
			d.fail()
			return "", nil, false
		}
		d.i++
	}
	*n++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '"' {
		j := plainEnd(d.b, d.i+1)
		if j < len(d.b) && d.b[j] == '"' {
			raw = d.b[d.i+1 : j]
			d.i = j + 1
			d.colon()
			return "", raw, !d.bad
		}
	}
	k = d.istr()
	d.colon()
	return k, nil, !d.bad
}

// mapKey is member for a map: the key unquoted (any string is a key), or
// false at the closing '}'.
func (d *decoder) mapKey(n *int) (string, bool) {
	d.ws()
	if d.i >= len(d.b) {
		d.fail()
		return "", false
	}
	if d.b[d.i] == '}' {
		d.i++
		return "", false
	}
	if *n > 0 {
		if d.b[d.i] != ',' {
			d.fail()
			return "", false
		}
		d.i++
	}
	*n++
	k := d.istr()
	d.colon()
	return k, !d.bad
}

func (d *decoder) colon() {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		d.fail()
		return
	}
	d.i++
}

// projKeys is the projection's keys for a map of a record with head h
// (known: h is complete), nil for every key.
func (d *decoder) projKeys(h WinlogHead, known, data bool) *headMap {
	if d.proj == nil || !known {
		return nil
	}
	return d.proj.keys(h, data)
}

// end fails unless only whitespace follows the document.
func (d *decoder) end() {
	d.ws()
	if d.i != len(d.b) {
		d.fail()
	}
}

func (d *decoder) event(e *timeline.Event) {
	if !d.open() {
		return
	}
	var seen uint32
	kp, last := d.pred(0), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			break
		}
		var bit uint32
		switch string(key) {
		case "@timestamp":
			bit = 1 << 0
		case "timestamp_desc":
			bit = 1 << 1
		case "message":
			bit = 1 << 2
		case "event":
			bit = 1 << 3
		case "log":
			bit = 1 << 4
		case "host":
			bit = 1 << 5
		case "user":
			bit = 1 << 6
		case "source":
			bit = 1 << 7
		case "destination":
			bit = 1 << 8
		case "process":
			bit = 1 << 9
		case "file":
			bit = 1 << 10
		case "url":
			bit = 1 << 11
		case "http":
			bit = 1 << 12
		case "user_agent":
			bit = 1 << 13
		case "winlog":
			bit = 1 << 14
		case "group":
			bit = 1 << 15
		case "related":
			bit = 1 << 16
		case "jejak":
			bit = 1 << 17
		default:
			d.unknown()
			return
		}
		if !d.once(&seen, bit) || d.null() {
			continue
		}
		switch bit {
		case 1 << 0:
			d.timestamp(e)
		case 1 << 1:
			e.TimestampDesc = d.istr()
		case 1 << 2:
			e.Message = d.str()
		case 1 << 3:
			if d.sharing() {
				d.metaShared(&e.Event)
			} else {
				d.eventMeta(&e.Event)
			}
		case 1 << 4:
			e.Log = d.log()
		case 1 << 5:
			if d.sharing() {
				e.Host = memoized(d, &d.in.memo.host, d.host)
			} else {
				e.Host = d.host()
			}
		case 1 << 6:
			if d.sharing() {
				e.User = memoized(d, &d.in.memo.user, d.user)
			} else {
				e.User = d.user()
			}
		case 1 << 7:
			e.Source = d.endpoint()
		case 1 << 8:
			e.Destination = d.endpoint()
		case 1 << 9:
			e.Process = d.process()
		case 1 << 10:
			e.File = d.file()
		case 1 << 11:
			e.URL = d.url()
		case 1 << 12:
			e.HTTP = d.http()
		case 1 << 13:
			e.UserAgent = d.userAgent()
		case 1 << 14:
			e.Winlog = d.winlog()
		case 1 << 15:
			e.Group = d.group()
		case 1 << 16:
			if r := d.related(); !d.noRelated {
				e.Related = r
			}
		case 1 << 17:
			d.jejak(&e.Jejak)
		}
	}
	d.end()
}

// timestamp hands the quoted time to time.Time's UnmarshalJSON, as
// encoding/json does (which does not unquote it first: a time with an
// escape is left to encoding/json, which errs).
func (d *decoder) timestamp(e *timeline.Event) {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			if t, ok := parseTimeZ(d.b[d.i+1 : j]); ok {
				e.Timestamp = t
				d.i = j + 1
				return
			}
			if err := e.Timestamp.UnmarshalJSON(d.b[d.i : j+1]); err != nil {
				d.fail()
				return
			}
			d.i = j + 1
			return
		case c == '\\' || c < 0x20:
			d.fail()
			return
		}
	}
	d.fail()
}

func (d *decoder) eventMeta(m *timeline.EventMeta) {
	if !d.open() {
		return
	}
	var seen uint32
	kp, last := d.pred(1), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return
		}
		var bit uint32
		switch string(key) {
		case "kind":
			bit = 1 << 0
		case "category":
			bit = 1 << 1
		case "type":
			bit = 1 << 2
		case "action":
			bit = 1 << 3
		case "outcome":
			bit = 1 << 4
		case "code":
			bit = 1 << 5
		case "dataset":
			bit = 1 << 6
		case "provider":
			bit = 1 << 7
		case "severity":
			bit = 1 << 8
		case "timezone":
			bit = 1 << 9
		case "original":
			bit = 1 << 10
		default:
			d.unknown()
			return
		}
		if !d.once(&seen, bit) || d.null() {
			continue
		}
		switch bit {
		case 1 << 0:
			m.Kind = d.istr()
		case 1 << 1:
			m.Category = d.strs(true)
		case 1 << 2:
			m.Type = d.strs(true)
		case 1 << 3:
			m.Action = d.istr()
		case 1 << 4:
			m.Outcome = d.istr()
		case 1 << 5:
			m.Code = d.istr()
		case 1 << 6:
			m.Dataset = d.istr()
		case 1 << 7:
			m.Provider = d.istr()
		case 1 << 8:
			m.Severity = d.int()
		case 1 << 9:
			m.Timezone = d.istr()
		case 1 << 10:
			m.Original = d.str()
		}
	}
}

func (d *decoder) log() *timeline.Log {
	if !d.open() {
		return nil
	}
	l := d.newLog()
	var seen uint32
	kp, last := d.pred(2), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return l
		}
		switch string(key) {
		case "level":
			if d.once(&seen, 1) && !d.null() {
				l.Level = d.istr()
			}
		case "logger":
			if d.once(&seen, 2) && !d.null() {
				l.Logger = d.istr()
			}
		case "syslog":
			if d.once(&seen, 4) && !d.null() {
				l.Syslog = d.syslog()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) syslog() *timeline.Syslog {
	if !d.open() {
		return nil
	}
	s := d.newSyslog()
	var seen uint32
	kp, last := d.pred(3), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return s
		}
		switch string(key) {
		case "priority":
			if d.once(&seen, 1<<0) && !d.null() {
				s.Priority = d.int()
			}
		case "facility":
			if d.once(&seen, 1<<1) && !d.null() {
				s.Facility = d.code()
			}
		case "severity":
			if d.once(&seen, 1<<2) && !d.null() {
				s.Severity = d.code()
			}
		case "appname":
			if d.once(&seen, 1<<3) && !d.null() {
				s.Appname = d.istr()
			}
		case "hostname":
			if d.once(&seen, 1<<4) && !d.null() {
				s.Hostname = d.istr()
			}
		case "msgid":
			if d.once(&seen, 1<<5) && !d.null() {
				s.MsgID = d.istr()
			}
		case "procid":
			if d.once(&seen, 1<<6) && !d.null() {
				s.ProcID = d.str()
			}
		case "version":
			if d.once(&seen, 1<<7) && !d.null() {
				s.Version = d.istr()
			}
		case "structured_data":
			if d.once(&seen, 1<<8) && !d.null() {
				s.StructuredData = d.structuredData()
			}
		default:
			d.unknown()
		}
	}
}

// structuredData reads element ID → param → value; an element given as
// null is a nil map, one given twice keeps its last value.
func (d *decoder) structuredData() map[string]map[string]string {
	if !d.open() {
		return nil
	}
	m := map[string]map[string]string{}
	for n := 0; ; {
		k, ok := d.mapKey(&n)
		if !ok {
			return m
		}
		if d.null() {
			m[k] = nil
		} else {
			m[k] = d.strMap()
		}
	}
}

func (d *decoder) code() *timeline.Code {
	if !d.open() {
		return nil
	}
	c := &timeline.Code{}
	var seen uint32
	kp, last := d.pred(4), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return c
		}
		switch string(key) {
		case "code":
			if d.once(&seen, 1) && !d.null() {
				c.Code = d.int()
			}
		case "name":
			if d.once(&seen, 2) && !d.null() {
				c.Name = d.istr()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) host() *timeline.Host {
	if !d.open() {
		return nil
	}
	h := &timeline.Host{}
	var seen uint32
	kp, last := d.pred(5), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return h
		}
		switch string(key) {
		case "name":
			if d.once(&seen, 1) && !d.null() {
				h.Name = d.istr()
			}
		case "hostname":
			if d.once(&seen, 2) && !d.null() {
				h.Hostname = d.istr()
			}
		default:
			d.unknown()
		}
	}
}

// maxUserDepth bounds user.effective/target nesting, the one recursion of
// the model. encoding/json refuses documents nested deeper than 10000
// levels; anything this deep is left to it, so it errs as it always did.
const maxUserDepth = 32

func (d *decoder) user() *timeline.User {
	if d.depth++; d.depth > maxUserDepth {
		d.fail()
		return nil
	}
	defer func() { d.depth-- }()
	if !d.open() {
		return nil
	}
	u := d.newUser()
	var seen uint32
	kp, last := d.pred(6), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return u
		}
		switch string(key) {
		case "name":
			if d.once(&seen, 1<<0) && !d.null() {
				u.Name = d.str()
			}
		case "domain":
			if d.once(&seen, 1<<1) && !d.null() {
				u.Domain = d.istr()
			}
		case "id":
			if d.once(&seen, 1<<2) && !d.null() {
				u.ID = d.str()
			}
		case "effective":
			if d.once(&seen, 1<<3) && !d.null() {
				u.Effective = d.user()
			}
		case "target":
			if d.once(&seen, 1<<4) && !d.null() {
				u.Target = d.user()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) group() *timeline.Group {
	if !d.open() {
		return nil
	}
	g := &timeline.Group{}
	var seen uint32
	kp, last := d.pred(7), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return g
		}
		switch string(key) {
		case "name":
			if d.once(&seen, 1) && !d.null() {
				g.Name = d.str()
			}
		case "id":
			if d.once(&seen, 2) && !d.null() {
				g.ID = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) endpoint() *timeline.Endpoint {
	if !d.open() {
		return nil
	}
	p := d.newEndpoint()
	var seen uint32
	kp, last := d.pred(8), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return p
		}
		switch string(key) {
		case "ip":
			if d.once(&seen, 1<<0) && !d.null() {
				p.IP = d.str()
			}
		case "port":
			if d.once(&seen, 1<<1) && !d.null() {
				p.Port = d.int()
			}
		case "domain":
			if d.once(&seen, 1<<2) && !d.null() {
				p.Domain = d.str()
			}
		case "address":
			if d.once(&seen, 1<<3) && !d.null() {
				p.Address = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) process() *timeline.Process {
	if !d.open() {
		return nil
	}
	p := d.newProcess()
	var seen uint32
	kp, last := d.pred(9), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return p
		}
		switch string(key) {
		case "name":
			if d.once(&seen, 1<<0) && !d.null() {
				p.Name = d.istr()
			}
		case "pid":
			if d.once(&seen, 1<<1) && !d.null() {
				p.PID = d.int64()
			}
		case "executable":
			if d.once(&seen, 1<<2) && !d.null() {
				p.Executable = d.str()
			}
		case "command_line":
			if d.once(&seen, 1<<3) && !d.null() {
				p.CommandLine = d.str()
			}
		case "working_directory":
			if d.once(&seen, 1<<4) && !d.null() {
				p.WorkingDir = d.str()
			}
		case "tty":
			if d.once(&seen, 1<<5) && !d.null() {
				p.TTY = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) file() *timeline.File {
	if !d.open() {
		return nil
	}
	f := d.newFile()
	var seen uint32
	kp, last := d.pred(10), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return f
		}
		switch string(key) {
		case "path":
			if d.once(&seen, 1<<0) && !d.null() {
				f.Path = d.str()
			}
		case "name":
			if d.once(&seen, 1<<1) && !d.null() {
				f.Name = d.str()
			}
		case "inode":
			if d.once(&seen, 1<<2) && !d.null() {
				f.Inode = d.str()
			}
		case "size":
			if d.once(&seen, 1<<3) && !d.null() {
				size := d.int64()
				f.Size = &size
			}
		case "type":
			if d.once(&seen, 1<<4) && !d.null() {
				f.Type = d.istr()
			}
		case "target_path":
			if d.once(&seen, 1<<5) && !d.null() {
				f.TargetPath = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) url() *timeline.URL {
	if !d.open() {
		return nil
	}
	u := &timeline.URL{}
	var seen uint32
	kp, last := d.pred(11), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return u
		}
		switch string(key) {
		case "original":
			if d.once(&seen, 1<<0) && !d.null() {
				u.Original = d.str()
			}
		case "path":
			if d.once(&seen, 1<<1) && !d.null() {
				u.Path = d.str()
			}
		case "query":
			if d.once(&seen, 1<<2) && !d.null() {
				u.Query = d.str()
			}
		case "domain":
			if d.once(&seen, 1<<3) && !d.null() {
				u.Domain = d.istr()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) http() *timeline.HTTP {
	if !d.open() {
		return nil
	}
	h := &timeline.HTTP{}
	var seen uint32
	kp, last := d.pred(12), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return h
		}
		switch string(key) {
		case "version":
			if d.once(&seen, 1<<0) && !d.null() {
				h.Version = d.istr()
			}
		case "request":
			if d.once(&seen, 1<<1) && !d.null() {
				h.Request = d.httpRequest()
			}
		case "response":
			if d.once(&seen, 1<<2) && !d.null() {
				h.Response = d.httpResponse()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) httpRequest() *timeline.HTTPRequest {
	if !d.open() {
		return nil
	}
	r := &timeline.HTTPRequest{}
	var seen uint32
	kp, last := d.pred(13), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return r
		}
		switch string(key) {
		case "method":
			if d.once(&seen, 1) && !d.null() {
				r.Method = d.istr()
			}
		case "referrer":
			if d.once(&seen, 2) && !d.null() {
				r.Referrer = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) httpResponse() *timeline.HTTPResponse {
	if !d.open() {
		return nil
	}
	r := &timeline.HTTPResponse{}
	var seen uint32
	kp, last := d.pred(14), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return r
		}
		switch string(key) {
		case "status_code":
			if d.once(&seen, 1) && !d.null() {
				r.StatusCode = d.int()
			}
		case "body":
			if d.once(&seen, 2) && !d.null() {
				r.Body = d.httpBody()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) httpBody() *timeline.HTTPBody {
	if !d.open() {
		return nil
	}
	b := &timeline.HTTPBody{}
	var seen uint32
	kp, last := d.pred(15), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return b
		}
		switch string(key) {
		case "bytes":
			if d.once(&seen, 1) && !d.null() {
				v := d.int64()
				b.Bytes = &v
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) userAgent() *timeline.UserAgent {
	if !d.open() {
		return nil
	}
	u := &timeline.UserAgent{}
	var seen uint32
	kp, last := d.pred(16), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return u
		}
		switch string(key) {
		case "original":
			if d.once(&seen, 1) && !d.null() {
				u.Original = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) winlog() *timeline.Winlog {
	if !d.open() {
		return nil
	}
	w := d.newWinlog()
	var seen uint32
	var (
		projHead  WinlogHead
		projected bool
	)
	kp, last := d.pred(17), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			h := WinlogHead{w.Channel, w.EventID, w.ProviderName}
			if projected && h != projHead {
				d.fail() // projected by a head that was not the record's
			}
			if !d.bad {
				d.head, d.headOK = h, true
			}
			return w
		}
		switch string(key) {
		case "channel":
			if d.once(&seen, 1<<0) && !d.null() {
				w.Channel = d.istr()
			}
		case "event_id":
			if d.once(&seen, 1<<1) && !d.null() {
				w.EventID = d.int()
			}
		case "record_id":
			if d.once(&seen, 1<<2) && !d.null() {
				w.RecordID = d.uint64()
			}
		case "computer_name":
			if d.once(&seen, 1<<3) && !d.null() {
				w.ComputerName = d.istr()
			}
		case "provider_name":
			if d.once(&seen, 1<<4) && !d.null() {
				w.ProviderName = d.istr()
			}
		case "event_data":
			if d.once(&seen, 1<<5) && !d.null() {
				// The head as read so far: appendEvent writes it
				// before event_data (an empty field not at all). A
				// document that gives part of it later is left to
				// encoding/json when the object ends.
				projHead = WinlogHead{w.Channel, w.EventID, w.ProviderName}
				if keys := d.projKeys(projHead, true, false); keys != nil {
					projected = true
					// Shared when equal to the head's last map, as
					// jejak.data is: a projected map keeps the few
					// entries the rules read, which repeat more often
					// than whole records do (a 4672 of SYSTEM's logon
					// keeps its SubjectUserName and SubjectLogonId).
					w.EventData = d.strMapKeys(keys, true)
				} else {
					w.EventData = d.strMapHint(sizeEventData)
				}
			}
		case "logon":
			if d.once(&seen, 1<<6) && !d.null() {
				w.Logon = d.winlogLogon()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) winlogLogon() *timeline.WinlogLogon {
	if !d.open() {
		return nil
	}
	l := d.newWinlogLogon()
	var seen uint32
	kp, last := d.pred(18), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return l
		}
		switch string(key) {
		case "type":
			if d.once(&seen, 1) && !d.null() {
				l.Type = d.istr()
			}
		case "id":
			if d.once(&seen, 2) && !d.null() {
				l.ID = d.str()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) related() *timeline.Related {
	if !d.open() {
		return nil
	}
	var r *timeline.Related
	if !d.noRelated {
		r = &timeline.Related{}
	}
	var seen uint32
	kp, last := d.pred(19), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return r
		}
		switch string(key) {
		case "user":
			if d.once(&seen, 1) && !d.null() {
				if d.noRelated {
					d.skipStrs()
				} else {
					r.User = d.strs(false)
				}
			}
		case "ip":
			if d.once(&seen, 2) && !d.null() {
				if d.noRelated {
					d.skipStrs()
				} else {
					r.IP = d.strs(false)
				}
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) jejak(j *timeline.Jejak) {
	if !d.open() {
		return
	}
	var seen uint32
	kp, last := d.pred(20), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return
		}
		switch string(key) {
		case "id":
			if d.once(&seen, 1<<0) && !d.null() {
				d.ws()
				d.idAt = d.i
				j.ID = d.str()
			}
		case "provenance":
			if d.once(&seen, 1<<1) && !d.null() {
				d.provenance(&j.Provenance)
			}
		case "time":
			if d.once(&seen, 1<<2) && !d.null() {
				if d.sharing() {
					j.Time = memoized(d, &d.in.memo.time, d.timeNote)
				} else {
					j.Time = d.timeNote()
				}
			}
		case "data":
			if d.once(&seen, 1<<3) && !d.null() {
				if keys := d.projKeys(d.head, d.headOK, true); keys != nil {
					j.Data = d.strMapKeys(keys, true)
				} else if d.sharing() {
					j.Data = memoized(d, &d.in.memo.data, func() map[string]string { return d.strMapHint(sizeJejakData) })
				} else {
					j.Data = d.strMapHint(sizeJejakData)
				}
			}
		case "tags":
			if d.once(&seen, 1<<4) && !d.null() {
				j.Tags = d.strs(true)
			}
		default:
			d.unknown()
		}
	}
}

// provCut is how a provenance's offset member begins, as appendEvent
// writes it: its lead ends there (see leadMemo).
const provCut = `,"offset":`

func (d *decoder) provenance(p *timeline.Provenance) {
	if !d.open() {
		return
	}
	var seen uint32
	var n int
	var lm *leadMemo[timeline.Provenance] // nil: no sharing
	if d.sharing() {
		lm = &d.in.memo.prov
	}
	start, keep := prefixStart(d, lm, provCut, p, &seen, &n)
	kp, last := d.pred(21), predLost
	for {
		at := d.i
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return
		}
		if keep && string(key) == "offset" {
			// The offset and record vary from row to row.
			prefixKeep(d, lm, provCut, start, at, *p, seen, n-1)
			keep = false
		}
		switch string(key) {
		case "evidence_sha256":
			if d.once(&seen, 1<<0) && !d.null() {
				p.EvidenceSHA256 = d.istr()
			}
		case "evidence_name":
			if d.once(&seen, 1<<1) && !d.null() {
				p.EvidenceName = d.istr()
			}
		case "chain":
			if d.once(&seen, 1<<2) && !d.null() {
				if d.sharing() {
					p.Chain = d.chainShared()
				} else {
					p.Chain = d.strs(true)
				}
			}
		case "path":
			if d.once(&seen, 1<<3) && !d.null() {
				p.Path = d.istr()
			}
		case "identity":
			if d.once(&seen, 1<<4) && !d.null() {
				p.Identity = d.istr()
			}
		case "offset":
			if d.once(&seen, 1<<5) && !d.null() {
				p.Offset = d.int64()
			}
		case "record":
			if d.once(&seen, 1<<6) && !d.null() {
				p.Record = d.int64()
			}
		case "parser":
			if d.once(&seen, 1<<7) && !d.null() {
				p.Parser = d.istr()
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) timeNote() *timeline.TimeNote {
	if !d.open() {
		return nil
	}
	t := &timeline.TimeNote{}
	var seen uint32
	kp, last := d.pred(22), predLost
	for n := 0; ; {
		key, ok := d.memberP(&n, kp, &last)
		if !ok {
			return t
		}
		switch string(key) {
		case "zone_assumed":
			if d.once(&seen, 1<<0) && !d.null() {
				t.ZoneAssumed = d.istr()
			}
		case "year_inferred":
			if d.once(&seen, 1<<1) && !d.null() {
				t.YearInferred = d.bool()
			}
		case "year_basis":
			if d.once(&seen, 1<<2) && !d.null() {
				t.YearBasis = d.istr()
			}
		case "out_of_range":
			if d.once(&seen, 1<<3) && !d.null() {
				t.OutOfRange = d.bool()
			}
		default:
			d.unknown()
		}
	}
}
