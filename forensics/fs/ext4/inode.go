package ext4

import (
	"encoding/binary"
	iofs "io/fs"
	"time"
)

// Inode flags and mode bits.
const (
	flagIndex      = 0x1000     // hashed (htree) directory
	flagExtents    = 0x80000    // i_block holds an extent tree
	flagInlineData = 0x10000000 // content lives in i_block and system.data

	modeFmt  = 0xF000
	modeDir  = 0x4000
	modeReg  = 0x8000
	modeLink = 0xA000
)

// inode is one parsed on-disk inode. raw keeps the bytes (inode size) for
// inline data, which lives in the in-inode extended attributes.
type inode struct {
	num      uint32
	mode     uint16
	uid, gid uint32
	size     int64
	links    uint16
	flags    uint32
	blocks   uint32 // i_blocks_lo: 512-byte sectors held, xattr block included
	fileACL  uint32 // i_file_acl_lo: the extended-attribute block, 0 for none
	dtime    uint32
	ctimeRaw uint32 // TSK's "used" test: an inode never used has ctime 0
	atime    time.Time
	mtime    time.Time
	ctime    time.Time
	crtime   time.Time
	block    [60]byte
	extra    []byte // the in-inode space past the 128-byte base (extra fields, xattrs)
	extraLen int    // i_extra_isize, clamped to the space there is
}

func (in *inode) isDir() bool { return in.mode&modeFmt == modeDir }
func (in *inode) isReg() bool { return in.mode&modeFmt == modeReg }

// parseInode decodes b (one inode slot, inode size bytes). It keeps what
// the slot says even when it is nonsense: judging is the caller's job.
func parseInode(num uint32, b []byte, sb *superblock) *inode {
	le := binary.LittleEndian
	in := &inode{
		num:      num,
		mode:     le.Uint16(b[0x00:]),
		uid:      uint32(le.Uint16(b[0x02:])) | uint32(le.Uint16(b[0x78:]))<<16,
		gid:      uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16,
		size:     int64(le.Uint32(b[0x04:])),
		links:    le.Uint16(b[0x1A:]),
		flags:    le.Uint32(b[0x20:]),
		blocks:   le.Uint32(b[0x1C:]),
		fileACL:  le.Uint32(b[0x68:]),
		dtime:    le.Uint32(b[0x14:]),
		ctimeRaw: le.Uint32(b[0x0C:]),
	}
	copy(in.block[:], b[0x28:0x28+60])
	// i_size_high is the upper half of the size of regular files (and of
	// directories only with large_dir: before it the field was i_dir_acl).
	if in.isReg() || sb.incompat&incompatLargeDir != 0 {
		in.size |= int64(le.Uint32(b[0x6C:])) << 32
		if in.size < 0 {
			in.size = 1<<63 - 1
		}
	}
	if len(b) > 128 {
		in.extra = b[128:]
		in.extraLen = int(le.Uint16(b[0x80:]))
		if in.extraLen > len(in.extra) || in.extraLen&3 != 0 {
			in.extraLen = 0 // corrupt: trust none of the extra fields
		}
	}
	// The *_extra words exist only when i_extra_isize covers them.
	x := func(off int) (uint32, bool) {
		if off+4 > 128+in.extraLen {
			return 0, false
		}
		return le.Uint32(b[off:]), true
	}
	ce, _ := x(0x84)
	me, _ := x(0x88)
	ae, _ := x(0x8C)
	in.ctime = extTime(le.Uint32(b[0x0C:]), ce)
	in.mtime = extTime(le.Uint32(b[0x10:]), me)
	in.atime = extTime(le.Uint32(b[0x08:]), ae)
	if cr, ok := x(0x90); ok {
		cre, _ := x(0x94)
		in.crtime = extTime(cr, cre)
	}
	return in
}

// extTime decodes an ext4 timestamp: signed 32-bit seconds, extended by the
// two epoch bits of the *_extra word (dates past 2038), whose upper 30 bits
// are nanoseconds. A zero time is "not recorded".
func extTime(sec, extra uint32) time.Time {
	if sec == 0 && extra == 0 {
		return time.Time{}
	}
	s := int64(int32(sec)) + int64(extra&3)<<32
	ns := int64(extra >> 2)
	if ns > 999999999 {
		ns = 0 // corrupt nanoseconds; keep the second
	}
	return time.Unix(s, ns).UTC()
}

// fileMode converts the inode mode to an io/fs mode.
func (in *inode) fileMode() iofs.FileMode {
	m := iofs.FileMode(in.mode & 0o777)
	if in.mode&0o4000 != 0 {
		m |= iofs.ModeSetuid
	}
	if in.mode&0o2000 != 0 {
		m |= iofs.ModeSetgid
	}
	if in.mode&0o1000 != 0 {
		m |= iofs.ModeSticky
	}
	switch in.mode & modeFmt {
	case modeDir:
		m |= iofs.ModeDir
	case modeLink:
		m |= iofs.ModeSymlink
	case 0x2000:
		m |= iofs.ModeDevice | iofs.ModeCharDevice
	case 0x6000:
		m |= iofs.ModeDevice
	case 0x1000:
		m |= iofs.ModeNamedPipe
	case 0xC000:
		m |= iofs.ModeSocket
	}
	return m
}

// inlineData returns the bytes of the system.data extended attribute kept
// in the inode body: the part of an inline file or directory beyond the 60
// bytes of i_block. nil when there is none.
func (in *inode) inlineData() []byte {
	if in.extraLen == 0 || len(in.extra) < in.extraLen+4 {
		return nil
	}
	le := binary.LittleEndian
	body := in.extra[in.extraLen:]
	if le.Uint32(body) != 0xEA020000 {
		return nil
	}
	entries := body[4:]
	for p := 0; p+16 <= len(entries); {
		nameLen := int(entries[p])
		if nameLen == 0 && entries[p+1] == 0 && le.Uint16(entries[p+2:]) == 0 {
			break // end of the list
		}
		idx := entries[p+1]
		voff := int(le.Uint16(entries[p+2:]))
		vsize := int(le.Uint32(entries[p+8:]))
		if p+16+nameLen > len(entries) {
			break
		}
		name := string(entries[p+16 : p+16+nameLen])
		if idx == 7 && name == "data" { // "system." namespace
			if voff+vsize > len(entries) || voff < 0 {
				return nil
			}
			return entries[voff : voff+vsize]
		}
		p += (16 + nameLen + 3) &^ 3
	}
	return nil
}
