// Package digits holds the table the hand-written decimal formatters of
// hot paths share (EVTX times, the store's timestamps, event IDs' record
// numbers): two digits at a time, as strconv does, without its call and
// the copy of its result.
package digits

// Pairs is "00" to "99": the digits of n < 100 are Pairs[2*n] and
// Pairs[2*n+1].
const Pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"
