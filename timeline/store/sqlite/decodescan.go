package sqlite

import (
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/jejak-forensics/jejak/internal/civil"
)

// plainEnd returns the index of the first byte of b at or after j that a
// JSON string does not hold as it is (strPlain: a quote, a backslash, a
// control byte or a byte of a multi-byte rune), or len(b). It is
// `for j < len(b) && strPlain[b[j]] { j++ }` eight bytes at a time: a
// document's keys and values are scanned for their end, and a byte at a
// time, a table lookup and a bounds check each, was a fifth of a syslog
// hunt's decoding (decoder.member's key loop alone 5 % of the hunt's
// instructions).
//
// Each of the eight bytes of a word is tested at once (the bit tricks of
// "Bit Twiddling Hacks", hasless and haszero): a byte's high bit in m is
// set when the byte is below 0x20, at or above 0x80, or equal to '"' or
// '\\'. A subtraction's borrow can set the bit of a byte above one that
// matched, never below: the lowest bit set is the first byte that stops
// the scan.
//
// From 16 bytes on, plainEnd16 scans (SSE2 on amd64, 16 bytes a step).
func plainEnd(b []byte, j int) int {
	if j+16 <= len(b) {
		return plainEnd16(b, j)
	}
	return plainEndWords(b, j)
}

// plainEndWords is plainEnd a word at a time, in Go.
func plainEndWords(b []byte, j int) int {
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ ('"' * ones)
		s := x ^ ('\\' * ones)
		m := ((x - 0x20*ones) | x | ((q - ones) &^ q) | ((s - ones) &^ s)) & highs
		if m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && strPlain[b[j]] {
		j++
	}
	return j
}

// eqTok reports whether b begins with tok (len(b) >= len(tok)), a word
// at a time: memberP's tokens are 5 to 20 bytes, and runtime.memequal's
// call and length dispatch cost more than the comparison.
func eqTok(b, tok []byte) bool {
	n := len(tok)
	if n < 8 {
		return string(b[:n]) == string(tok)
	}
	b = b[:n]
	if binary.LittleEndian.Uint64(b) != binary.LittleEndian.Uint64(tok) ||
		binary.LittleEndian.Uint64(b[n-8:]) != binary.LittleEndian.Uint64(tok[n-8:]) {
		return false
	}
	for i := 8; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != binary.LittleEndian.Uint64(tok[i:]) {
			return false
		}
	}
	return true
}

// parseTimeZ reads the time appendEvent writes, RFC 3339 in UTC:
// "2006-01-02T15:04:05Z", with a fraction of one to nine digits or none.
// ok is false for any other text, which time.Time's UnmarshalJSON then
// reads (and may refuse); for what it takes, the time is the one
// UnmarshalJSON makes: the same fields checked against the same ranges,
// then time.Date in UTC, as its parser does. time's parser, reached
// through UnmarshalJSON's strict checks, was 2 % of a syslog hunt.
func parseTimeZ(s []byte) (t time.Time, ok bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	// Two digits at i, or -1.
	d2 := func(i int) int {
		a, b := s[i]-'0', s[i+1]-'0'
		if a > 9 || b > 9 {
			return -1
		}
		return int(a)*10 + int(b)
	}
	y1, y2 := d2(0), d2(2)
	year, month, day := y1*100+y2, d2(5), d2(8)
	hour, mi, sec := d2(11), d2(14), d2(17)
	if y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || day > civil.DaysIn(month, year) ||
		hour < 0 || hour > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if f := s[19 : len(s)-1]; len(f) > 0 {
		if len(f) < 2 || len(f) > 10 || f[0] != '.' {
			return time.Time{}, false
		}
		for _, c := range f[1:] {
			if c-'0' > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(f) {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, mi, sec, nsec, time.UTC), true
}
