package ext4

import "encoding/binary"

// dirent is one name found in a directory block, live or recovered from
// the slack after a live entry.
type dirent struct {
	inode   uint32
	name    string
	ftype   uint8 // 1 file, 2 dir, ... 0 unknown (no filetype feature)
	deleted bool
	// at is the entry's offset: in its block from parseDirBlock, in the
	// volume once listDir adds the block's. A deleted name's identity
	// (two deleted "auth.log" in two deleted "logs" can name one inode).
	at int64
}

const ftypeDir = 2

// direntSize is the space an entry with an n-byte name needs.
func direntSize(n int) int { return (n + 8 + 3) &^ 3 }

// parseDirBlock lists the entries of one directory block the way The Sleuth
// Kit does (ext2fs_dent_parse_block), so names recovered from slack match
// fls: live entries follow rec_len; where a rec_len is longer than its entry
// needs, the gap is scanned in 4-byte steps for deleted entries that fit
// entirely inside it. All entries of a deleted directory are deleted.
// Unlike TSK it skips the "." and ".." entries (no file of their own).
func parseDirBlock(b []byte, lastInode uint32, hasType, dirDeleted bool, out []dirent) []dirent {
	le := binary.LittleEndian
	dellen := 0
	step := 4
	for idx := 0; idx <= len(b)-direntSize(1); idx += step {
		ino := le.Uint32(b[idx:])
		reclen := int(le.Uint16(b[idx+4:]))
		nameLen := int(b[idx+6])
		ftype := b[idx+7]
		if !hasType {
			nameLen |= int(ftype) << 8
			ftype = 0
		}
		step = direntSize(nameLen)
		if ino > lastInode || nameLen > 255 || nameLen == 0 || reclen < step || reclen%4 != 0 || idx+reclen > len(b) {
			step = 4
			if dellen > 0 {
				dellen -= 4
			}
			continue
		}
		// An entry in slack must end inside the slack.
		if dellen > 0 && dellen < step {
			step = 4
			dellen -= 4
			continue
		}
		d := dirent{inode: ino, name: string(b[idx+8 : idx+8+nameLen]), ftype: ftype, at: int64(idx)}
		if dellen > 0 || ino == 0 || dirDeleted {
			d.deleted = true
			if dellen > 0 {
				dellen -= step
			}
		}
		if d.name != "." && d.name != ".." {
			out = append(out, d)
		}
		if dellen <= 0 {
			if reclen-step >= direntSize(1) {
				dellen = reclen - step
			} else {
				step = reclen
			}
		}
	}
	return out
}

// isDxNode says whether block i of an htree directory is an index block:
// block 0 (dx_root, after "." and "..") or an interior dx_node, which
// starts with an empty entry spanning the block. Their index data is not
// slack and must not be scanned for deleted names.
func isDxNode(b []byte, i int64) bool {
	if i == 0 {
		return false // dx_root: "." and ".." are real; handled by the caller
	}
	le := binary.LittleEndian
	return len(b) >= 8 && le.Uint32(b) == 0 && int(le.Uint16(b[4:])) == len(b) && b[6] == 0
}
