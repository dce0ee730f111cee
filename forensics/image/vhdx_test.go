package image

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
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

// vhdxBAT returns the file offset of a VHDX's BAT, from its region table.
func vhdxBAT(b []byte) int64 {
	le := binary.LittleEndian
	for i := range int(le.Uint32(b[vhdxRegion1+8:])) {
		e := b[vhdxRegion1+16+32*i:]
		if [16]byte(e[:16]) == vhdxBATRegion {
			return int64(le.Uint64(e[16:]))
		}
	}
	return -1
}

// TestVHDXLogReplay: a log entry that rewrites the BAT (block 1 zeroed,
// block 2 pointed at block 3's data), put in the log of a qemu-img file
// as Hyper-V leaves it after a crash. qemu-img refuses to read it without
// replaying (proof the entry is valid); qemu-img check -r all replays it
// on a copy, and the copy's media is the oracle for ours.
func TestVHDXLogReplay(t *testing.T) {
	raw := noiseRaw(t, 6<<20)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic,block_size=1M", "log.vhdx")
	b, _ := os.ReadFile(vhdx)
	le := binary.LittleEndian
	bat := vhdxBAT(b)
	page := append([]byte{}, b[bat:bat+vhdxLogPage]...)
	le.PutUint64(page[8:], vhdxZero)
	copy(page[16:24], page[24:32])
	cur := vhdxHeader1
	if le.Uint64(b[vhdxHeader2+8:]) > le.Uint64(b[vhdxHeader1+8:]) {
		cur = vhdxHeader2
	}
	logOff := int64(le.Uint64(b[cur+72:]))
	const seq = 5
	guid := []byte("jejak-log-replay")
	e := make([]byte, 2*vhdxLogPage)
	copy(e, "loge")
	le.PutUint32(e[8:], uint32(len(e)))
	le.PutUint64(e[16:], seq)
	le.PutUint32(e[24:], 1)
	copy(e[32:48], guid)
	le.PutUint64(e[48:], uint64(len(b)))
	le.PutUint64(e[56:], uint64(len(b)))
	d := e[64:]
	copy(d, "desc")
	copy(d[4:8], page[4092:])
	copy(d[8:16], page[:8])
	le.PutUint64(d[16:], uint64(bat))
	le.PutUint64(d[24:], seq)
	s := e[vhdxLogPage:]
	copy(s, "data")
	copy(s[8:4092], page[8:4092])
	le.PutUint32(s[4092:], seq)
	le.PutUint32(e[4:], crc32.Checksum(e, crc32c))
	copy(b[logOff:], e)
	os.WriteFile(vhdx, b, 0o644)
	vhdxHeaderEdit(t, vhdx, func(h []byte) { copy(h[48:64], guid) })

	img, err := Open(vhdx)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if n := strings.Join(img.Info().Notes, "|"); !strings.Contains(n, "dirty log replayed") {
		t.Errorf("notes %q", n)
	}
	if out, err := exec.Command("qemu-img", "convert", "-O", "raw", vhdx, vhdx+".raw").CombinedOutput(); err == nil || !strings.Contains(string(out), "log") {
		t.Fatalf("qemu-img read the file without replaying its log: %v %s", err, out)
	}
	cp := filepath.Join(t.TempDir(), "copy.vhdx")
	os.WriteFile(cp, b, 0o644)
	vhdxHeaderEdit(t, cp, func(h []byte) { copy(h[48:64], guid) })
	exec.Command("qemu-img", "check", "-r", "all", cp).Run() // exit status says "repaired"
	want := filepath.Join(t.TempDir(), "replayed.raw")
	oracle.Run(t, "qemu-img", "convert", "-O", "raw", cp, want)
	checkMedia(t, img, want)
	w, _ := os.ReadFile(want)
	src, _ := os.ReadFile(raw)
	if string(w[1<<20:2<<20]) != string(make([]byte, 1<<20)) || string(w[2<<20:3<<20]) != string(src[3<<20:4<<20]) {
		t.Error("the replayed BAT did not take effect in qemu's reading either")
	}
}

// TestVHDXStaleLogGuid: a LogGuid with no log entry for it: nothing to
// replay (qemu-img reads such a file too), said in a warning.
func TestVHDXStaleLogGuid(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic", "stale.vhdx")
	vhdxHeaderEdit(t, vhdx, func(h []byte) { copy(h[48:64], "pending-log-guid") })
	img, err := Open(vhdx)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if w := strings.Join(img.Info().Warnings, "|"); !strings.Contains(w, "no valid entry") {
		t.Errorf("warnings %q", w)
	}
	checkMedia(t, img, raw)
	// A log version this reader does not know is refused.
	vhdxHeaderEdit(t, vhdx, func(h []byte) { binary.LittleEndian.PutUint16(h[64:], 1) })
	if _, err := Open(vhdx); !errors.Is(err, ErrVHDXDirtyLog) || !strings.Contains(err.Error(), "dirty log: not replayed") {
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
