package image

import (
	"bytes"
	"os"
	"path/filepath"
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

// FuzzVMDKDescriptor opens arbitrary text as a descriptor file beside a
// small flat extent: no panic, errors only.
func FuzzVMDKDescriptor(f *testing.F) {
	f.Add("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 8 FLAT \"x-flat.vmdk\" 0\nRW 16 ZERO\n")
	f.Add("# Disk DescriptorFile\ncreateType=\"twoGbMaxExtentFlat\"\nRW 4 FLAT \"x-flat.vmdk\" 4\nRW 4 FLAT \"x-flat.vmdk\" 0\n")
	f.Add("# Disk DescriptorFile\nparentCID=12345678\nparentFileNameHint=\"x.vmdk\"\nRW 4 ZERO\n")
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x-flat.vmdk"), bytes.Repeat([]byte{0xab}, 4096), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "x.vmdk")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := OpenVMDK(p)
		if err != nil {
			return
		}
		readSome(img)
		img.Close()
	})
}
