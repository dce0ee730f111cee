package prefetch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrXpress marks a LZXpress Huffman stream that cannot be decoded.
var ErrXpress = errors.New("LZXpress Huffman")

// xpressBlock is how many output bytes one Huffman table codes
// ([MS-XCA] 2.1.4: each 65536-byte chunk of output starts a new table).
const xpressBlock = 65536

// DecompressHuffman decodes a LZXpress Huffman stream ([MS-XCA] 2.2.4,
// COMPRESSION_FORMAT_XPRESS_HUFF) into exactly size bytes. Each block is a
// table of 512 4-bit code lengths (256 bytes) followed by a bit stream read
// as little-endian 16-bit words, most significant bit first; symbols below
// 256 are literals, the others a match: low nibble the length (15: more
// in the next byte, and 255 there: a 16-bit length), high nibble the
// number of offset bits. The stream has no end marker: the caller knows
// the output size (the MAM header holds it). Input that runs out, a code
// no table assigns or a match before the start of the output is an error
// naming the input offset; bytes already decoded are returned with it.
func DecompressHuffman(in []byte, size int) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative output size %d", ErrXpress, size)
	}
	// A Huffman stream codes at most 65538 output bytes per input byte and
	// in practice far fewer; a size that no input could produce is not
	// allocated up front (damaged headers claim gigabytes).
	out := make([]byte, 0, min(size, max(len(in)*16, 1<<16)))
	pos := 0
	var table [1 << 15]uint16
	var lengths [512]uint8
	for len(out) < size {
		if pos+256 > len(in) {
			return out, fmt.Errorf("%w: input ends at %d inside a block's code length table (%d of %d bytes out)", ErrXpress, len(in), len(out), size)
		}
		tableAt := pos
		for i, b := range in[pos : pos+256] {
			lengths[2*i] = b & 0x0f
			lengths[2*i+1] = b >> 4
		}
		if err := buildTable(&table, &lengths); err != nil {
			return out, fmt.Errorf("%w: table at offset %d: %v", ErrXpress, tableAt, err)
		}
		pos += 256
		br := bitReader{in: in, pos: pos}
		br.next = uint32(br.word())<<16 | uint32(br.word())
		br.extra = 16
		end := min(len(out)+xpressBlock, size)
		for len(out) < end {
			if br.pos > len(in)+4 {
				return out, fmt.Errorf("%w: input ends at %d (%d of %d bytes out)", ErrXpress, len(in), len(out), size)
			}
			sym := table[br.next>>17]
			if sym == noSymbol {
				return out, fmt.Errorf("%w: no symbol for code at offset %d (block table at %d)", ErrXpress, br.pos, tableAt)
			}
			br.consume(lengths[sym])
			if sym < 256 {
				out = append(out, byte(sym))
				continue
			}
			sym -= 256
			length := int(sym & 15)
			bits := uint8(sym >> 4)
			if length == 15 {
				if br.pos >= len(in) {
					return out, fmt.Errorf("%w: input ends at %d inside a match length", ErrXpress, br.pos)
				}
				length = int(in[br.pos])
				br.pos++
				if length == 255 {
					if br.pos+2 > len(in) {
						return out, fmt.Errorf("%w: input ends at %d inside a match length", ErrXpress, br.pos)
					}
					length = int(binary.LittleEndian.Uint16(in[br.pos:]))
					br.pos += 2
					if length < 15 {
						return out, fmt.Errorf("%w: match length %d below 15 at offset %d", ErrXpress, length, br.pos-2)
					}
					length -= 15
				}
				length += 15
			}
			length += 3
			// bits is at most 15; a shift by 32 in Go is 0, which is what
			// a match with no offset bits needs.
			offset := int(br.next>>(32-uint32(bits))) | 1<<bits
			br.consume(bits)
			if offset > len(out) {
				return out, fmt.Errorf("%w: match offset %d before the start of the output (%d bytes) at input offset %d", ErrXpress, offset, len(out), br.pos)
			}
			length = min(length, size-len(out))
			from := len(out) - offset
			// Overlapping copies repeat the last offset bytes, so copy
			// byte by byte when the match reaches into itself.
			if offset >= length {
				out = append(out, out[from:from+length]...)
			} else {
				for i := 0; i < length; i++ {
					out = append(out, out[from+i])
				}
			}
		}
		pos = br.pos
		if pos > len(in) && len(out) < size {
			return out, fmt.Errorf("%w: input ends at %d (%d of %d bytes out)", ErrXpress, len(in), len(out), size)
		}
	}
	return out, nil
}

// noSymbol fills the table entries of codes no symbol has (an incomplete
// code set).
const noSymbol = 0xffff

// buildTable fills a 15-bit lookup table from the code lengths: canonical
// Huffman codes, shorter codes first and, within a length, lower symbols
// first ([MS-XCA] 2.2.4 "decoding table").
func buildTable(table *[1 << 15]uint16, lengths *[512]uint8) error {
	next := 0
	for l := uint8(1); l <= 15; l++ {
		span := 1 << (15 - l)
		for sym := range lengths {
			if lengths[sym] != l {
				continue
			}
			if next+span > len(table) {
				return errors.New("code lengths over-subscribe the code space")
			}
			for i := next; i < next+span; i++ {
				table[i] = uint16(sym)
			}
			next += span
		}
	}
	if next == 0 {
		return errors.New("all code lengths are zero")
	}
	for i := next; i < len(table); i++ {
		table[i] = noSymbol
	}
	return nil
}

// bitReader is the 32-bit window of [MS-XCA]: next holds the coming bits
// at its top, extra how many of them are read beyond the first 16; words
// past the input read as zeros (the encoder's read-ahead), pos still
// counting so the caller can see the overrun.
type bitReader struct {
	in    []byte
	pos   int
	next  uint32
	extra int
}

func (b *bitReader) word() uint16 {
	var w uint16
	if b.pos+2 <= len(b.in) {
		w = binary.LittleEndian.Uint16(b.in[b.pos:])
	} else if b.pos < len(b.in) {
		w = uint16(b.in[b.pos])
	}
	b.pos += 2
	return w
}

func (b *bitReader) consume(n uint8) {
	b.next <<= n
	b.extra -= int(n)
	if b.extra < 0 {
		b.next |= uint32(b.word()) << uint(-b.extra)
		b.extra += 16
	}
}
