package baseline

import (
	"encoding/binary"
	"io"
	"strconv"
)

// ext4Owners reads the owner (uid:gid) of an inode of an ext2/3/4 file
// system: fs.Entry carries no owner, and the ext4 walker reads it but does
// not pass it on. This reads the superblock, the group descriptor and the
// inode's two owner fields (low 16 bits at 0x02 and 0x18, high 16 bits
// at 0x78 and 0x7A, per the ext4 disk layout), nothing else.
type ext4Owners struct {
	r              io.ReaderAt
	blockSize      int64
	inodesPerGroup uint32
	inodeSize      int64
	descSize       int64
	gdt            int64 // byte offset of the group descriptor table
	is64           bool
}

// newExt4Owners returns nil when the superblock is not one it can use
// (meta_bg scatters the descriptors: not read, owners left empty).
func newExt4Owners(r io.ReaderAt) *ext4Owners {
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, 1024); err != nil || binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
		return nil
	}
	le := binary.LittleEndian
	logBlock := le.Uint32(sb[0x18:])
	if logBlock > 6 {
		return nil
	}
	o := &ext4Owners{r: r, blockSize: 1024 << logBlock, inodesPerGroup: le.Uint32(sb[0x28:]), inodeSize: 128, descSize: 32}
	if le.Uint32(sb[0x4C:]) >= 1 { // dynamic revision: inode size in the superblock
		o.inodeSize = int64(le.Uint16(sb[0x58:]))
	}
	incompat := le.Uint32(sb[0x60:])
	if incompat&0x10 != 0 { // meta_bg
		return nil
	}
	if incompat&0x80 != 0 { // 64bit
		o.is64 = true
		if ds := int64(le.Uint16(sb[0xFE:])); ds >= 64 {
			o.descSize = ds
		}
	}
	o.gdt = (int64(le.Uint32(sb[0x14:])) + 1) * o.blockSize
	if o.inodesPerGroup == 0 || o.inodeSize < 128 {
		return nil
	}
	return o
}

// owner returns "uid:gid" of inode num, "" when it cannot be read.
func (o *ext4Owners) owner(inode string) string {
	num, err := strconv.ParseUint(inode, 10, 32)
	if err != nil || num == 0 {
		return ""
	}
	le := binary.LittleEndian
	g := (uint32(num) - 1) / o.inodesPerGroup
	desc := make([]byte, o.descSize)
	if _, err := o.r.ReadAt(desc, o.gdt+int64(g)*o.descSize); err != nil {
		return ""
	}
	table := uint64(le.Uint32(desc[0x08:]))
	if o.is64 && o.descSize >= 64 {
		table |= uint64(le.Uint32(desc[0x28:])) << 32
	}
	b := make([]byte, 0x7C)
	off := int64(table)*o.blockSize + int64((uint32(num)-1)%o.inodesPerGroup)*o.inodeSize
	if _, err := o.r.ReadAt(b, off); err != nil {
		return ""
	}
	uid := uint32(le.Uint16(b[0x02:])) | uint32(le.Uint16(b[0x78:]))<<16
	gid := uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16
	return strconv.FormatUint(uint64(uid), 10) + ":" + strconv.FormatUint(uint64(gid), 10)
}
