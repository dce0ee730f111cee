package image

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestVHDXQemu: qemu-img writes fixed and dynamic VHDX files (and small and
// large blocks, which change the BAT's chunk interleave) of real disks;
// the decoded media must be the source bytes, and vhdiinfo must agree on
// type, size and identifier.
func TestVHDXQemu(t *testing.T) {
	for name, raw := range diskSources(t) {
		for _, opts := range []string{"subformat=dynamic", "subformat=fixed", "subformat=dynamic,block_size=1M", "subformat=dynamic,block_size=64M,block_state_zero=off"} {
			t.Run(name+"/"+opts, func(t *testing.T) {
				vhdx := qemuConvert(t, raw, "vhdx", opts, name+".vhdx")
				img, err := Open(vhdx)
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				if f := img.Info().Format; f != "vhdx" {
					t.Fatalf("format %q", f)
				}
				if w := img.Info().Warnings; len(w) > 0 {
					t.Errorf("warnings on a clean image: %q", w)
				}
				checkMedia(t, img, raw)
				sub := "Dynamic"
				if strings.Contains(opts, "fixed") {
					sub = "Fixed"
				}
				checkVhdiinfo(t, img, vhdx, sub)
			})
		}
	}
}

// vhdxHeaderEdit changes the current (higher sequence) header of a VHDX
// with edit and stores a valid CRC-32C again.
func vhdxHeaderEdit(t *testing.T, path string, edit func(h []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	at := vhdxHeader1
	if le.Uint64(b[vhdxHeader2+8:]) > le.Uint64(b[vhdxHeader1+8:]) {
		at = vhdxHeader2
	}
	h := b[at : at+vhdxHeaderSize]
	edit(h)
	le.PutUint32(h[4:], 0)
	le.PutUint32(h[4:], crc32.Checksum(h, crc32c))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVHDXDirtyLog: a header naming a log is refused with a clear error,
// as qemu-img refuses to read it without replaying (the oracle).
func TestVHDXDirtyLog(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic", "dirty.vhdx")
	vhdxHeaderEdit(t, vhdx, func(h []byte) { copy(h[48:64], "pending-log-guid") })
	_, err := Open(vhdx)
	if !errors.Is(err, ErrVHDXDirtyLog) || !strings.Contains(err.Error(), "dirty log: not replayed") {
		t.Fatalf("Open = %v, want ErrVHDXDirtyLog", err)
	}
}

// TestVHDXHeaderFallback: a damaged current header leaves the other one,
// with a warning; both damaged is a refusal naming the offset.
func TestVHDXHeaderFallback(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic", "h.vhdx")
	b, _ := os.ReadFile(vhdx)
	b[vhdxHeader1+100] ^= 0xff
	os.WriteFile(vhdx, b, 0o644)
	img, err := Open(vhdx)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(img.Info().Warnings, "|"); !strings.Contains(w, "offset 65536") {
		t.Errorf("warnings %q", w)
	}
	checkMedia(t, img, raw)
	img.Close()
	b[vhdxHeader2+100] ^= 0xff
	os.WriteFile(vhdx, b, 0o644)
	if _, err := Open(vhdx); err == nil || !strings.Contains(err.Error(), "neither header") {
		t.Fatalf("both headers bad: %v", err)
	}
}

// TestVHDXDifferencingRefused: the has-parent flag is refused clearly.
func TestVHDXDifferencingRefused(t *testing.T) {
	oracle.Tool(t, "qemu-img", "qemu-utils")
	raw := noiseRaw(t, 3<<20)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic", "p.vhdx")
	img, err := OpenVHDX(vhdx)
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	// Find the file parameters item through the decoder's own region and
	// metadata tables, and set HasParent.
	b, _ := os.ReadFile(vhdx)
	le := binary.LittleEndian
	var meta int64
	for i := range int(le.Uint32(b[vhdxRegion1+8:])) {
		e := b[vhdxRegion1+16+32*i:]
		if [16]byte(e[:16]) == vhdxMetadataRegion {
			meta = int64(le.Uint64(e[16:]))
		}
	}
	for i := range int(le.Uint16(b[meta+10:])) {
		e := b[meta+32+32*int64(i):]
		if [16]byte(e[:16]) == vhdxFileParameters {
			b[meta+int64(le.Uint32(e[16:]))+4] |= 2
		}
	}
	os.WriteFile(vhdx, b, 0o644)
	if _, err := Open(vhdx); !errors.Is(err, ErrVHDXDifferencing) {
		t.Fatalf("Open = %v, want ErrVHDXDifferencing", err)
	}
}
