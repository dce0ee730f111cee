// Package zeros tells whether bytes read from evidence are all zero: the
// unused slot, padding or end-of-archive block that seven parsers and
// walkers each had their own loop for.
package zeros

import "encoding/binary"

// All says whether b holds only zero bytes (true for an empty b). It reads
// eight bytes at a time: the NTFS walker asks it of every record slot
// without a signature, the EVTX parser of every chunk.
func All(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
