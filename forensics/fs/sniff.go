package fs

import "bytes"

// Kind is what a file's leading bytes say it is. Names are never trusted:
// evidence from a hostile or careless system may call a tarball "x.log".
type Kind int

const (
	KindPlain Kind = iota // not a container this package expands
	KindGzip
	KindBzip2
	KindXz
	KindZip
	KindTar
)

// SniffSize is how many leading bytes Sniff needs to tell every kind apart
// (a tar header is one 512-byte block).
const SniffSize = 512

var kindNames = [...]string{"plain", "gzip", "bzip2", "xz", "zip", "tar"}

// String is also the chain prefix of the layer ("gzip:", "tar:...").
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

var (
	magicXz        = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	magicZipLocal  = []byte("PK\x03\x04")
	magicZipEmpty  = []byte("PK\x05\x06")
	bzip2Block     = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59} // BCD pi: first block
	bzip2EndStream = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90} // sqrt(pi): empty stream
)

// Sniff recognises a container from up to SniffSize leading bytes. The
// checks are stricter than the bare magic (gzip method byte, bzip2 block
// magic, tar header checksum) so that a log or binary that happens to start
// with two magic bytes is not mistaken for a container and lost.
func Sniff(head []byte) Kind {
	switch {
	case len(head) >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 && head[3]&0xe0 == 0:
		// RFC 1952: CM 8 (deflate) is the only method; FLG bits 5-7 are reserved zero.
		return KindGzip
	case len(head) >= 10 && bytes.HasPrefix(head, []byte("BZh")) && head[3] >= '1' && head[3] <= '9' &&
		(bytes.Equal(head[4:10], bzip2Block) || bytes.Equal(head[4:10], bzip2EndStream)):
		return KindBzip2
	case bytes.HasPrefix(head, magicXz):
		return KindXz
	case bytes.HasPrefix(head, magicZipLocal), bytes.HasPrefix(head, magicZipEmpty):
		return KindZip
	case isTarHeader(head):
		return KindTar
	}
	return KindPlain
}

// isTarHeader accepts a first block whose header checksum is right: POSIX
// and GNU archives also carry "ustar" at 257, old v7 archives only the
// checksum, so the checksum is the test both share.
func isTarHeader(h []byte) bool {
	if len(h) < 512 {
		return false
	}
	h = h[:512]
	want, ok := parseOctal(h[148:156])
	if !ok {
		return false
	}
	var unsigned, signed int64
	for i, b := range h {
		if i >= 148 && i < 156 {
			b = ' ' // the checksum field counts as spaces
		}
		unsigned += int64(b)
		signed += int64(int8(b)) // some old tars summed signed chars
	}
	if want != unsigned && want != signed {
		return false
	}
	ustar := bytes.Equal(h[257:263], []byte("ustar\x00")) || bytes.Equal(h[257:265], []byte("ustar  \x00"))
	// A v7 header has no magic; ask for a name so that a block of spaces
	// (whose checksum is trivially consistent) is not a tar.
	return ustar || h[0] != 0
}

// parseOctal reads a tar numeric field: optional leading spaces, octal
// digits, then NULs or spaces.
func parseOctal(f []byte) (int64, bool) {
	i := 0
	for i < len(f) && f[i] == ' ' {
		i++
	}
	var v int64
	digits := 0
	for ; i < len(f) && f[i] >= '0' && f[i] <= '7'; i++ {
		v = v*8 + int64(f[i]-'0')
		digits++
	}
	for ; i < len(f); i++ {
		if f[i] != 0 && f[i] != ' ' {
			return 0, false
		}
	}
	return v, digits > 0
}
