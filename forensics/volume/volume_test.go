package volume

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestMain(m *testing.M) { oracle.Main(m) }

type mmlsRow struct {
	slot          string
	start, length int64 // bytes
	desc          string
}

var mmlsLine = regexp.MustCompile(`^\d+:\s+(\d{3}(?::\d{3})?)\s+(\d+)\s+\d+\s+(\d+)\s+(.*)$`)

// mmls runs The Sleuth Kit's mmls and returns its partition rows (no Meta
// or Unallocated rows).
func mmls(t testing.TB, path string) []mmlsRow {
	t.Helper()
	oracle.Tool(t, "mmls", "sleuthkit")
	out := oracle.Run(t, "mmls", path)
	var rows []mmlsRow
	for _, l := range strings.Split(string(out), "\n") {
		m := mmlsLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		s, _ := strconv.ParseInt(m[2], 10, 64)
		n, _ := strconv.ParseInt(m[3], 10, 64)
		rows = append(rows, mmlsRow{slot: m[1], start: s * 512, length: n * 512, desc: m[4]})
	}
	if len(rows) == 0 {
		t.Fatalf("no partitions in mmls output:\n%s", out)
	}
	return rows
}

func openFile(t testing.TB, path string) (*System, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	s, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// sameAsMmls checks every partition against mmls: slot, offsets, and the
// type byte (MBR) or name (GPT) that mmls prints.
func sameAsMmls(t *testing.T, s *System, rows []mmlsRow) {
	t.Helper()
	if len(s.Partitions) != len(rows) {
		t.Fatalf("%d partitions, mmls lists %d: %+v", len(s.Partitions), len(rows), rows)
	}
	for i, r := range rows {
		p := s.Partitions[i]
		if p.Slot != r.slot || p.Start != r.start || p.Length != r.length {
			t.Errorf("partition %d: slot %s start %d length %d; mmls: %s %d %d", i+1, p.Slot, p.Start, p.Length, r.slot, r.start, r.length)
		}
		switch s.Scheme {
		case "mbr":
			if !strings.HasSuffix(r.desc, "("+p.Type+")") {
				t.Errorf("partition %d: type %s, mmls says %q", i+1, p.Type, r.desc)
			}
		case "gpt":
			if p.Name != r.desc {
				t.Errorf("partition %d: name %q, mmls says %q", i+1, p.Name, r.desc)
			}
		}
		if p.Reader.Size() != p.Length {
			t.Errorf("partition %d: reader of %d bytes", i+1, p.Reader.Size())
		}
	}
	if len(s.Problems) > 0 {
		t.Errorf("problems: %v", s.Problems)
	}
}

func TestTSKVolumeSystem(t *testing.T) {
	path := parsertest.Corpus(t, "images/tsk_volume_system.raw")
	s, _ := openFile(t, path)
	if s.Scheme != "mbr" {
		t.Fatalf("scheme %q", s.Scheme)
	}
	sameAsMmls(t, s, mmls(t, path))
	if s.Partitions[1].Slot != "001:000" {
		t.Fatalf("second partition should be the logical one in the extended chain: %+v", s.Partitions[1])
	}
}

// fsstatType asks TSK which file system is at offset; "" when it cannot say.
func fsstatType(path string, offset int64) string {
	out, err := exec.Command("fsstat", "-t", "-o", fmt.Sprint(offset/512), path).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func TestForensicsSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   []string
	}{
		{"multiple", []string{"btrfs", "ext4", "exfat", "ntfs"}},
		{"ntfs", []string{"ntfs"}},
		{"ext4", []string{"ext4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := oracle.Sample(t, tc.name)
			s, _ := openFile(t, path)
			if s.Scheme != "mbr" {
				t.Fatalf("scheme %q", s.Scheme)
			}
			sameAsMmls(t, s, mmls(t, path))
			var got []string
			for _, p := range s.Partitions {
				fs := Detect(p.Reader)
				got = append(got, fs)
				if want := fsstatType(path, p.Start); want != "" && want != fs {
					t.Errorf("partition %d: Detect %q, fsstat -t %q", p.Index, fs, want)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.fs, ",") {
				t.Fatalf("file systems %v, want %v", got, tc.fs)
			}
		})
	}
}

// TestGPT builds a GPT disk with sgdisk, puts a real ext4 image into its
// first partition, and checks it against mmls, then damages the primary
// header and then the primary partition array.
func TestGPT(t *testing.T) {
	oracle.Tool(t, "sgdisk", "gdisk")
	ext4, err := os.ReadFile(parsertest.Corpus(t, "more/disk/ext4/tiny.ext4"))
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "gpt.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(img, 8<<20)
	oracle.Run(t, "sgdisk", "-n", "1:2048:+1M", "-t", "1:8300", "-c", "1:root fs",
		"-n", "2:0:+2M", "-t", "2:0700", "-c", "2:Données", "-n", "3:0:0", "-t", "3:ef00", "-c", "3:EFI", img)
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	f.WriteAt(ext4, 2048*512)
	f.Close()
	rows := mmls(t, img)

	s, _ := openFile(t, img)
	if s.Scheme != "gpt" {
		t.Fatalf("scheme %q", s.Scheme)
	}
	sameAsMmls(t, s, rows)
	for i, want := range []string{"Linux filesystem", "Microsoft basic data", "EFI System"} {
		if s.Partitions[i].TypeName != want {
			t.Errorf("partition %d type %s %q, sgdisk set %q", i+1, s.Partitions[i].Type, s.Partitions[i].TypeName, want)
		}
	}
	if fs := Detect(s.Partitions[0].Reader); fs != "ext4" {
		t.Errorf("Detect on partition 1: %q", fs)
	}

	for _, tc := range []struct {
		name string
		off  int64
	}{
		{"bad-header", 512 + 40}, // first usable LBA, inside the header CRC
		{"bad-array", 1024 + 60}, // name of entry 0, inside the array CRC
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := os.ReadFile(img)
			b[tc.off] ^= 0xff
			s, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Error(), "backup") || !strings.Contains(s.Problems[0].Error(), "CRC32") {
				t.Fatalf("problems %v, want one naming the CRC and the backup", s.Problems)
			}
			s.Problems = nil
			sameAsMmls(t, s, rows)
		})
	}
}

func TestNoPartitionTable(t *testing.T) {
	path := parsertest.Corpus(t, "more/disk/ext4/tiny.ext4")
	oracle.Tool(t, "mmls", "sleuthkit")
	if out, err := exec.Command("mmls", path).CombinedOutput(); err == nil {
		t.Fatalf("mmls found a volume system in a bare file system:\n%s", out)
	}
	s, _ := openFile(t, path)
	if s.Scheme != "none" || len(s.Partitions) != 1 || s.Partitions[0].Start != 0 || s.Partitions[0].Length != 1<<20 {
		t.Fatalf("bare ext4: %+v", s)
	}
	if fs := Detect(s.Partitions[0].Reader); fs != fsstatType(path, 0) || fs != "ext4" {
		t.Fatalf("Detect %q, fsstat %q", fs, fsstatType(path, 0))
	}
}

func TestTruncatedImage(t *testing.T) {
	path := parsertest.Corpus(t, "images/tsk_volume_system.raw")
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := mmls(t, path)

	// Cut inside the logical partition: both found, the logical one reported
	// and clipped.
	cut := int64(1 << 20)
	s, err := Open(bytes.NewReader(full[:cut]), cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Partitions) != 2 || len(s.Problems) != 1 || s.Partitions[1].Start != rows[1].start || s.Partitions[1].Reader.Size() != cut-rows[1].start {
		t.Fatalf("cut at 1 MiB: %+v problems %v", s.Partitions, s.Problems)
	}
	if want := fmt.Sprintf("at offset %d:", 351*512+446); !strings.Contains(s.Problems[0].Error(), want) {
		t.Fatalf("problem %q should name the table entry offset (%s)", s.Problems[0], want)
	}

	// Cut before the extended boot record: the (clipped) primary survives,
	// the lost chain is reported with its offset.
	cut = 100 << 10
	s, err = Open(bytes.NewReader(full[:cut]), cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Partitions) != 1 || len(s.Problems) != 2 || !strings.Contains(s.Problems[1].Error(), fmt.Sprintf("at offset %d:", 351*512)) {
		t.Fatalf("cut at 100 KiB: %+v problems %v", s.Partitions, s.Problems)
	}
	// Nothing at all.
	if _, err := Open(bytes.NewReader(nil), 0); err != nil {
		t.Fatalf("empty image: %v", err)
	}
	if _, err := Open(bytes.NewReader(full[:100]), 100); err != nil {
		t.Fatalf("100-byte image: %v", err)
	}
}

// TestTablePastEnd keeps the first 120 MiB of the four-partition disk: the
// NTFS and exFAT entries point past the end and are reported by offset.
func TestTablePastEnd(t *testing.T) {
	path := oracle.Sample(t, "multiple")
	rows := mmls(t, path)
	f, _ := os.Open(path)
	defer f.Close()
	cut := int64(120 << 20)
	s, err := Open(io.NewSectionReader(f, 0, cut), cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Partitions) != 2 || s.Partitions[0].Start != rows[0].start || s.Partitions[1].Start != rows[1].start {
		t.Fatalf("partitions %+v", s.Partitions)
	}
	var msgs []string
	for _, p := range s.Problems {
		msgs = append(msgs, p.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"at offset 462:", "at offset 478:", "at offset 494:", "past the end"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %q lack %q", all, want)
		}
	}
	if got := Detect(s.Partitions[0].Reader); got != "btrfs" {
		t.Errorf("partition 1 still readable: Detect %q", got)
	}
}

// TestExtendedLoop points the logical chain back at itself.
func TestExtendedLoop(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "images/tsk_volume_system.raw"))
	if err != nil {
		t.Fatal(err)
	}
	ebr := 351 * 512
	// Second entry of the EBR: an extended link to offset 0 of the extended
	// partition, i.e. this same EBR.
	e := b[ebr+446+16:]
	e[4] = 0x05
	copy(e[8:16], []byte{0, 0, 0, 0, 1, 0, 0, 0})
	s, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Partitions) != 2 || len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Error(), "loop") {
		t.Fatalf("partitions %+v problems %v", s.Partitions, s.Problems)
	}
}
