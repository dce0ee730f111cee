package utmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// toBigEndian re-encodes x86_64 records (384 bytes, little-endian) in a
// big-endian layout, field by field as glibc lays struct utmp out (see
// layout): size 400 is s390x (int64 ut_session, tv_sec, tv_usec; address
// at 360), size 384 is ppc64 and the 32-bit big-endian ABIs (int32 ones).
// Strings and ut_addr_v6 (network-order bytes) are copied unchanged; a
// trailing partial record is kept as it is.
func toBigEndian(b []byte, size int) []byte {
	le, be := binary.LittleEndian, binary.BigEndian
	var out []byte
	off := 0
	for ; off+384 <= len(b); off += 384 {
		r := b[off : off+384]
		n := make([]byte, size)
		be.PutUint16(n[offType:], le.Uint16(r[offType:]))
		copy(n[2:4], r[2:4]) // alignment padding
		be.PutUint32(n[offPID:], le.Uint32(r[offPID:]))
		copy(n[offLine:offExit], r[offLine:offExit]) // ut_line, ut_id, ut_user, ut_host
		be.PutUint16(n[offExit:], le.Uint16(r[offExit:]))
		be.PutUint16(n[offExit+2:], le.Uint16(r[offExit+2:]))
		session, sec, usec := int32(le.Uint32(r[336:])), le.Uint32(r[340:]), int32(le.Uint32(r[344:]))
		if size == 384 {
			be.PutUint32(n[336:], uint32(session))
			be.PutUint32(n[340:], sec)
			be.PutUint32(n[344:], uint32(usec))
			copy(n[348:], r[348:]) // ut_addr_v6, reserved
		} else {
			be.PutUint64(n[336:], uint64(int64(session)))
			be.PutUint64(n[344:], uint64(sec))
			be.PutUint64(n[352:], uint64(int64(usec)))
			copy(n[360:396], r[348:384])
		}
		out = append(out, n...)
	}
	return append(out, b[off:]...)
}

// TestBigEndian re-encodes the real x86_64 files of the corpus in the
// s390x and the ppc64 layouts, and checks that detection picks the layout
// and that every record equals what util-linux utmpdump prints for the
// little-endian original.
func TestBigEndian(t *testing.T) {
	bin := oracle.Tool(t, "utmpdump", "util-linux")
	for _, f := range []string{"logs/linux/utmp", "logs/linux/wtmp.1", "more/utmp/plaso_utmp_x86_64"} {
		path := parsertest.Corpus(t, f)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, path).Output()
		if err != nil {
			t.Fatalf("utmpdump: %v", err)
		}
		orig := parsertest.ParseFile(t, New(), path, nil)
		for _, l := range []layout{layout400BE, layout384BE} {
			t.Run(f+"/"+l.name, func(t *testing.T) {
				conv := toBigEndian(data, l.size)
				e := parsertest.BytesEntry("var/log/wtmp", conv, time.Time{})
				if !New().Match(e, conv[:min(len(conv), 4096)]) {
					t.Fatal("Match refuses it")
				}
				res := parsertest.Parse(context.Background(), New(), e, time.UTC)
				if res.Err != nil || len(res.Warnings) != len(orig.Warnings) {
					t.Fatalf("%v, warnings %v; little-endian original %v", res.Err, res.Warnings, orig.Warnings)
				}
				for _, ev := range res.Events {
					if ev.Jejak.Data["layout"] != l.name {
						t.Fatalf("layout %q, want %q", ev.Jejak.Data["layout"], l.name)
					}
				}
				compareUtmpdump(t, out, res, int64(l.size))
			})
		}
	}
}

// Records that decode in no layout are reported once for the file, then
// each record as it always was.
func TestUnknownLayout(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "logs/linux/utmp"))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data[:3*384])
	for off := 0; off < len(bad); off += 384 {
		// A type no ABI has, in either byte order, and no time.
		bad[off], bad[off+1] = 0x5a, 0x5a
		copy(bad[off+336:off+360], make([]byte, 24))
	}
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("wtmp", bad, time.Time{}), time.UTC)
	if len(res.Warnings) != 4 || !errors.Is(res.Warnings[0].Err, ErrUnknownLayout) || countBadType(res.Warnings) != 3 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}
