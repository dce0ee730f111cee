package volume

import (
	"bytes"
	"encoding/binary"
	"io"
)

// Detect names the file system whose boot sector or superblock starts at the
// beginning of r: "ntfs", "exfat", "fat", "ext2", "ext3", "ext4", "btrfs",
// "xfs", "iso9660", "hfsplus", "apfs", "lvm2", "luks", "swap", or "unknown".
func Detect(r io.ReaderAt) string {
	at := func(off int64, n int) []byte {
		b := make([]byte, n)
		if m, _ := r.ReadAt(b, off); m < n {
			return nil
		}
		return b
	}
	is := func(off int64, magic string) bool {
		return bytes.Equal(at(off, len(magic)), []byte(magic))
	}
	switch {
	case is(3, "NTFS    "):
		return "ntfs"
	case is(3, "EXFAT   "):
		return "exfat"
	case is(510, "\x55\xaa") && (is(54, "FAT12   ") || is(54, "FAT16   ") || is(54, "FAT     ") || is(82, "FAT32   ") || fatBPB(at(0, 64))):
		return "fat"
	case is(1080, "\x53\xef"):
		return extVariant(at(1024, 104))
	case is(0x10040, "_BHRfS_M"):
		return "btrfs"
	case is(0, "XFSB"):
		return "xfs"
	case is(0x8001, "CD001"):
		return "iso9660"
	case is(1024, "H+") || is(1024, "HX"):
		return "hfsplus"
	case is(32, "NXSB"):
		return "apfs"
	case is(512, "LABELONE") && is(536, "LVM2 001"):
		return "lvm2"
	case is(0, "LUKS\xba\xbe"):
		return "luks"
	case is(4086, "SWAPSPACE2"):
		return "swap"
	}
	return "unknown"
}

// extVariant tells ext2/3/4 apart by the superblock feature flags: a journal
// makes ext3, extents, flex_bg or 64-bit make ext4.
func extVariant(sb []byte) string {
	if sb == nil {
		return "ext2"
	}
	compat := binary.LittleEndian.Uint32(sb[92:96])
	incompat := binary.LittleEndian.Uint32(sb[96:100])
	switch {
	case incompat&(0x40|0x80|0x200) != 0:
		return "ext4"
	case compat&0x4 != 0:
		return "ext3"
	}
	return "ext2"
}

// fatBPB says whether b (the first 64 bytes of a boot sector) holds a
// plausible FAT BPB. The type label at offset 54 or 82 is informational
// and some formatters leave it blank; the geometry is what every FAT
// driver needs, so a blank label with sane geometry is still FAT. It is
// strict enough that an MBR's boot code (no jump, or a zero sector size)
// is not taken for one; forensics/fs/fat checks the rest before walking.
func fatBPB(b []byte) bool {
	if b == nil || b[0] != 0xEB && b[0] != 0xE9 {
		return false
	}
	bps := binary.LittleEndian.Uint16(b[11:])
	spc := b[13]
	reserved := binary.LittleEndian.Uint16(b[14:])
	nfats := b[16]
	media := b[21]
	total := uint32(binary.LittleEndian.Uint16(b[19:]))
	if total == 0 {
		total = binary.LittleEndian.Uint32(b[32:])
	}
	return (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) &&
		spc != 0 && spc&(spc-1) == 0 && reserved != 0 && nfats >= 1 && nfats <= 4 &&
		(media == 0xF0 || media >= 0xF8) && total != 0
}
