// Package zeros tells whether bytes read from evidence are all zero: the
// unused slot, padding or end-of-archive block that seven parsers and
// walkers each had their own loop for.
package zeros

import "bytes"

// zero is what All compares against, a page at a time.
var zero [4096]byte

// All says whether b holds only zero bytes (true for an empty b). It
// compares b with a page of zeros by bytes.Equal, which runs on vector
// registers: eight bytes at a time took ~80,000 instructions for a zeroed
// 64 KiB EVTX chunk (7 of security.evtx's 33 are), 1 % of its parse.
func All(b []byte) bool {
	for len(b) > len(zero) {
		if !bytes.Equal(b[:len(zero)], zero[:]) {
			return false
		}
		b = b[len(zero):]
	}
	return bytes.Equal(b, zero[:len(b)])
}
