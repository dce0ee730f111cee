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
	case is(510, "\x55\xaa") && (is(54, "FAT12   ") || is(54, "FAT16   ") || is(54, "FAT     ") || is(82, "FAT32   ")):
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
