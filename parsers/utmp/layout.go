package utmp

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/jejak-forensics/jejak/internal/zeros"
)

// layout is one libc "struct utmp" ABI. The fields before ut_session are the
// same everywhere; what differs is whether ut_session and ut_tv are 32-bit
// or 64-bit, and the byte order of the integers (glibc bits/utmp.h and
// sysdeps/unix/sysv/linux/s390/bits/struct_utmp.h):
//
//   - 384 bytes, int32 ut_session and ut_tv: x86_64 (kept 32-bit for i386
//     compatibility, __WORDSIZE_TIME64_COMPAT32), every 32-bit ABI
//     (long and time_t are 32-bit there), and ppc64;
//   - 400 bytes, int64 ut_session, tv_sec and tv_usec, ut_addr_v6 at 360:
//     aarch64, riscv64, ppc64le, and s390x (s390 keeps them 64-bit even
//     when 31-bit, so that both share files).
//
// Either size comes little-endian (x86, arm, ppc64le, riscv) or big-endian
// (s390/s390x, ppc/ppc64, sparc, mips, m68k). Strings and ut_addr_v6 (an
// address copied in network order) are bytes and read the same in both.
type layout struct {
	name   string
	size   int
	tvOff  int
	tv64   bool
	addrOf int
	order  binary.ByteOrder
}

var (
	layout384   = layout{name: "x86_64/i386 (384-byte records)", size: 384, tvOff: 340, addrOf: 348, order: binary.LittleEndian}
	layout400   = layout{name: "64-bit time, e.g. aarch64 (400-byte records)", size: 400, tvOff: 344, tv64: true, addrOf: 360, order: binary.LittleEndian}
	layout384BE = layout{name: "big-endian 32-bit time, e.g. ppc64, ppc, mips (384-byte records)", size: 384, tvOff: 340, addrOf: 348, order: binary.BigEndian}
	layout400BE = layout{name: "big-endian 64-bit time, e.g. s390x (400-byte records)", size: 400, tvOff: 344, tv64: true, addrOf: 360, order: binary.BigEndian}

	// layouts is the order detect tries them in: on a tie, the more
	// common one wins.
	layouts = []layout{layout384, layout400, layout384BE, layout400BE}
)

// Offsets shared by both layouts.
const (
	offType = 0
	offPID  = 4
	offLine = 8
	lenLine = 32
	offID   = 40
	lenID   = 4
	offUser = 44
	lenUser = 32
	offHost = 76
	lenHost = 256
	offExit = 332
	offSess = 336
)

// Record types from <utmp.h>.
const (
	typeEmpty        = 0
	typeRunLevel     = 1
	typeBootTime     = 2
	typeNewTime      = 3
	typeOldTime      = 4
	typeInitProcess  = 5
	typeLoginProcess = 6
	typeUserProcess  = 7
	typeDeadProcess  = 8
	typeAccounting   = 9
)

var typeNames = [...]string{"EMPTY", "RUN_LVL", "BOOT_TIME", "NEW_TIME", "OLD_TIME",
	"INIT_PROCESS", "LOGIN_PROCESS", "USER_PROCESS", "DEAD_PROCESS", "ACCOUNTING"}

// entry is one decoded record.
type entry struct {
	Type       int16
	PID        int32
	Line       []byte
	ID         []byte
	IDRaw      uint32
	User       []byte
	Host       []byte
	ExitTerm   int16
	ExitStatus int16
	Session    int64
	Sec        int64
	Usec       int64
	Addr       [16]byte
}

func decode(l layout, b []byte) entry {
	le := l.order
	e := entry{
		Type:       int16(le.Uint16(b[offType:])),
		PID:        int32(le.Uint32(b[offPID:])),
		Line:       cstr(b[offLine : offLine+lenLine]),
		ID:         cstr(b[offID : offID+lenID]),
		IDRaw:      le.Uint32(b[offID:]),
		User:       cstr(b[offUser : offUser+lenUser]),
		Host:       cstr(b[offHost : offHost+lenHost]),
		ExitTerm:   int16(le.Uint16(b[offExit:])),
		ExitStatus: int16(le.Uint16(b[offExit+2:])),
	}
	if l.tv64 {
		e.Session = int64(le.Uint64(b[offSess:]))
		e.Sec = int64(le.Uint64(b[l.tvOff:]))
		e.Usec = int64(le.Uint64(b[l.tvOff+8:]))
	} else {
		e.Session = int64(int32(le.Uint32(b[offSess:])))
		// ut_tv.tv_sec is int32 in this ABI; reading it unsigned keeps
		// post-2038 values meaningful rather than negative.
		e.Sec = int64(le.Uint32(b[l.tvOff:]))
		e.Usec = int64(int32(le.Uint32(b[l.tvOff+4:])))
	}
	copy(e.Addr[:], b[l.addrOf:l.addrOf+16])
	return e
}

// cstr cuts a fixed-size C string at its first NUL.
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// plausible scores how much a record looks like a real utmp entry in the
// given layout: a known type, a time in a sane window (or zero for an empty
// slot) and microseconds below one second. It is used only to choose the
// layout, never to drop a record.
func plausible(l layout, b []byte) int {
	e := decode(l, b)
	if e.Type < typeEmpty || e.Type > typeAccounting {
		return 0
	}
	score := 1
	if e.Usec >= 0 && e.Usec < 1_000_000 {
		score++
	}
	minSec := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxSec := time.Date(2110, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	// A sane time is the strongest sign of an aligned record: a misaligned
	// read lands on string or address bytes.
	if e.Sec >= minSec && e.Sec < maxSec {
		score += 4
	}
	if cleanString(b[offLine:offLine+lenLine]) && cleanString(b[offUser:offUser+lenUser]) {
		score++
	}
	// Linux pids are below PID_MAX_LIMIT (2^22); a pid read in the wrong
	// byte order is mostly far above it.
	if e.PID >= 0 && e.PID <= 1<<22 {
		score++
	}
	return score
}

// validScore is the plausible score of a record that decodes: a known
// type, sane microseconds and a sane time.
const validScore = 6

// cleanString reports whether a fixed-size field looks like what strncpy
// leaves: printable bytes, then NULs to the end.
func cleanString(b []byte) bool {
	s := cstr(b)
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return zeros.All(b[len(s):])
}

// detect picks the layout that explains the first records best. head holds
// the first bytes of the file; size is the file size or -1. ok is false
// when records were seen but none of the layouts makes them decode: the
// caller says so rather than read garbage silently. One record that
// decodes is enough: a damaged file still has its layout.
func detect(head []byte, size int64) (best layout, ok bool) {
	best, bestScore, seen := layout384, -1, false
	for _, l := range layouts {
		score, n, valid := 0, 0, 0
		for off := 0; off+l.size <= len(head) && n < 8; off += l.size {
			rec := head[off : off+l.size]
			// Unused slots (all zeros, or EMPTY without a time) look the same in
			// every layout, as does a misaligned read of a sparse record:
			// they prove nothing.
			if zeros.All(rec) || (rec[0] == 0 && rec[1] == 0 && decode(l, rec).Sec == 0) {
				continue
			}
			p := plausible(l, rec)
			if p >= validScore {
				valid++
			}
			score += p
			n++
		}
		if n == 0 {
			continue
		}
		seen = true
		// Normalise so a layout that fits fewer records in head is not
		// penalised; a file size that is an exact multiple is a strong hint.
		score = score * 100 / n
		if size > 0 && size%int64(l.size) == 0 {
			score += 50
		}
		if score > bestScore {
			best, bestScore, ok = l, score, valid > 0
		}
	}
	return best, ok || !seen
}
