package volume

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// gptSeed is a minimal valid GPT (protective MBR, header, one entry) so the
// fuzzer starts past the CRC checks.
func gptSeed() []byte {
	b := make([]byte, 64*512)
	b[446+4] = 0xee
	b[510], b[511] = 0x55, 0xaa
	ents := b[1024 : 1024+128*4]
	copy(ents[0:16], []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4})
	binary.LittleEndian.PutUint64(ents[32:], 34)
	binary.LittleEndian.PutUint64(ents[40:], 60)
	h := b[512:]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[12:], 92)
	binary.LittleEndian.PutUint64(h[24:], 1)
	binary.LittleEndian.PutUint64(h[32:], 63)
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 4)
	binary.LittleEndian.PutUint32(h[84:], 128)
	binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(ents))
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	return b
}

// FuzzOpen opens partition tables (The Sleuth Kit's DOS test disk, a
// GPT disk), cut to size and with bytes patched in at off: every
// partition lies inside the data. The input is the patch, not the disk:
// Go minimised each new 100 KiB input for the fuzzer's whole time (see
// fstest.MaxPatch).
func FuzzOpen(f *testing.F) {
	var seeds [][]byte
	if dir, err := parsertest.CorpusDir(); err == nil {
		if b, err := os.ReadFile(dir + "/images/tsk_volume_system.raw"); err == nil {
			seeds = append(seeds, b[:200*512])
		}
	}
	seeds = append(seeds, gptSeed())
	for i := range seeds {
		f.Add(uint8(i), uint32(len(seeds[i])), uint32(0), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, n := fstest.PatchedSeed(seeds, which, size, off, patch)
		s, err := Open(r, n)
		if err != nil {
			return
		}
		for _, p := range s.Partitions {
			if p.Start < 0 || p.Reader.Size() < 0 || p.Start+p.Reader.Size() > n {
				t.Fatalf("partition outside the data: %+v", p)
			}
			Detect(p.Reader)
		}
	})
}

func TestGPTSeedIsValid(t *testing.T) {
	b := gptSeed()
	s, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil || s.Scheme != "gpt" || len(s.Partitions) != 1 || s.Partitions[0].TypeName != "Linux filesystem" || len(s.Problems) != 0 {
		t.Fatalf("%+v %v", s, err)
	}
}

func BenchmarkOpenMBR(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "images/tsk_volume_system.raw"))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(data)
	b.ReportAllocs()
	for range b.N {
		s, err := Open(r, int64(len(data)))
		if err != nil || len(s.Partitions) != 2 {
			b.Fatal(err)
		}
		for _, p := range s.Partitions {
			Detect(p.Reader)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tables/s")
}
