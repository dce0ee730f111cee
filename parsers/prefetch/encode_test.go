package prefetch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// compressHuffman is a small LZXpress Huffman encoder for the tests: every
// one of the 512 symbols gets a 9-bit code (a complete canonical code in
// which symbol s is coded as s), matches are found greedily with a hash
// of 3 bytes, and no match crosses a 64 KiB block. It lays out the bit
// stream the way the decoder of [MS-XCA] reads it: two 16-bit words up
// front, one more each time fewer than 16 bits are left, and the extra
// length bytes of a match inline at the point the decoder reaches them.
// libfwnt (through sccainfo) decodes what it writes independently, which
// is what makes it a test of DecompressHuffman on multi-block streams
// and long matches that the corpus's one file does not have.
func compressHuffman(in []byte) []byte {
	var out []byte
	head := map[uint32]int{}
	for start := 0; start < len(in); start += xpressBlock {
		blockEnd := min(start+xpressBlock, len(in))
		out = append(out, bytes.Repeat([]byte{0x99}, 256)...)
		var bits []bool // the block's bit stream
		var words []int // where each 16-bit word goes in out
		loaded := 0
		load := func() {
			words = append(words, len(out))
			out = append(out, 0, 0)
			loaded++
		}
		load()
		load()
		put := func(v, n int) {
			for i := n - 1; i >= 0; i-- {
				bits = append(bits, v>>i&1 == 1)
				// The decoder fetches word k once more than 16(k-1)
				// bits are consumed.
				if len(bits) > 16*(loaded-1) {
					load()
				}
			}
		}
		for pos := start; pos < blockEnd; {
			length, offset := 0, 0
			if pos+3 <= blockEnd {
				key := uint32(in[pos]) | uint32(in[pos+1])<<8 | uint32(in[pos+2])<<16
				if prev, ok := head[key]; ok && pos-prev < 1<<16 && pos-prev > 0 {
					for pos+length < blockEnd && in[prev+length] == in[pos+length] && length < 3+65535 {
						length++
					}
					offset = pos - prev
				}
				head[key] = pos
			}
			if length < 3 {
				put(int(in[pos]), 9)
				pos++
				continue
			}
			l := length - 3
			obits := 0
			for 1<<(obits+1) <= offset {
				obits++
			}
			put(256+obits<<4+min(l, 15), 9)
			if l >= 15 {
				if l-15 < 255 {
					out = append(out, byte(l-15))
				} else {
					out = append(out, 255)
					out = binary.LittleEndian.AppendUint16(out, uint16(l))
				}
			}
			put(offset-1<<obits, obits)
			for i := 1; i < length; i++ {
				if pos+i+3 <= len(in) {
					head[uint32(in[pos+i])|uint32(in[pos+i+1])<<8|uint32(in[pos+i+2])<<16] = pos + i
				}
			}
			pos += length
		}
		for k, at := range words {
			var w uint16
			for i := 0; i < 16; i++ {
				if b := 16*k + i; b < len(bits) && bits[b] {
					w |= 1 << (15 - i)
				}
			}
			binary.LittleEndian.PutUint16(out[at:], w)
		}
	}
	return out
}

// mam wraps a compressed stream in the MAM header Windows 10 writes.
func mam(plain []byte) []byte {
	b := append([]byte("MAM\x04"), binary.LittleEndian.AppendUint32(nil, uint32(len(plain)))...)
	return append(b, compressHuffman(plain)...)
}

// TestHuffmanAgainstLibfwnt compresses prefetch files of every version,
// grown past several 64 KiB blocks with many file names (long matches),
// and has sccainfo read them: libfwnt decompresses them on its own, so
// sccainfo agreeing with our events checks DecompressHuffman across
// blocks.
func TestHuffmanAgainstLibfwnt(t *testing.T) {
	big := bigFile(t)
	dir := t.TempDir()
	for _, v := range []uint32{17, 23, 26, 30} {
		plain := rebuild(t, &big, v, false)
		if len(plain) < 4*xpressBlock {
			t.Fatalf("only %d bytes", len(plain))
		}
		comp := mam(plain)
		// Our own round trip first: a failure here is the encoder's.
		if out, err := DecompressHuffman(comp[8:], len(plain)); err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("v%d: round trip: %v", v, err)
		}
		p := filepath.Join(dir, fmt.Sprintf("TALLY-V%d.pf", v))
		if err := os.WriteFile(p, comp, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("v%d-%dKiB", v, len(plain)>>10), func(t *testing.T) { compareSccainfo(t, p) })
	}
}

// bigFile is the corpus file with 3000 file names.
func bigFile(t testing.TB) File {
	f, _, err := Decode(decompressed(t))
	if err != nil {
		t.Fatal(err)
	}
	big := *f
	big.Filenames = append([]string(nil), f.Filenames...)
	for i := 0; len(big.Filenames) < 3000; i++ {
		big.Filenames = append(big.Filenames, fmt.Sprintf(`%s\PROGRAM FILES\ELECTION\TALLY %d\MODULE_%04d%s.DLL`,
			f.Volumes[0].Path, i%7, i, bytes.Repeat([]byte{'X'}, i%300)))
	}
	return big
}

// BenchmarkDecompressHuffman reports the decompressor's output rate on a
// 1.4 MB version 30 file of 22 blocks.
func BenchmarkDecompressHuffman(b *testing.B) {
	big := bigFile(b)
	plain := rebuild(b, &big, 30, false)
	comp := compressHuffman(plain)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := DecompressHuffman(comp, len(plain)); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzHuffmanRoundTrip(f *testing.F) {
	f.Add([]byte("abcabcabcabcabcabcabcabc"), 3)
	f.Add(bytes.Repeat([]byte("SCCA"), 50000), 1)
	f.Fuzz(func(t *testing.T, b []byte, reps int) {
		reps = min(max(reps, 1), 8)
		in := bytes.Repeat(b, reps)
		out, err := DecompressHuffman(compressHuffman(in), len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip of %d bytes: %v", len(in), err)
		}
	})
}
