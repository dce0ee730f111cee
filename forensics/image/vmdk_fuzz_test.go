package image

import (
	"bytes"
	"testing"
)

// FuzzVMDKSparse opens arbitrary bytes as a hosted sparse extent and reads
// the disk it holds, and parses them as a descriptor: no panic, errors
// only. Seeds are qemu-img's monolithic sparse and stream-optimised files.
func FuzzVMDKSparse(f *testing.F) {
	for _, s := range qemuSeeds(f, "vmdk", [][]string{
		{"-o", "subformat=monolithicSparse"},
		{"-o", "subformat=streamOptimized"},
	}) {
		f.Add(s)
	}
	f.Add([]byte("# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentSparse\"\nRW 4192256 SPARSE \"a-s001.vmdk\"\nRW 2048 FLAT \"a-f001.vmdk\" 0\nRW 8 ZERO\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseVMDKDescriptor(data)
		sp, err := newVMDKSparse("fuzz.vmdk", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if sp.descriptor != nil {
			parseVMDKDescriptor(sp.descriptor)
		}
		v := &VMDK{size: sp.capacity, extents: []*vmdkExtent{{length: sp.capacity, kind: "SPARSE", sp: sp}}}
		readSome(v)
	})
}
