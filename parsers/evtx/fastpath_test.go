package evtx

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestCreatedTimeFromFiletime: the TimeCreated taken straight from the
// FILETIME its text was rendered from (createdTime) is the time
// parseSystemTime reads from that text, for every FILETIME whose text
// takes the shortcut; and text equal in bytes but not the rendered
// string itself goes the parsing way.
func TestCreatedTimeFromFiletime(t *testing.T) {
	ticks := []uint64{
		1,                         // 1601-01-01T00:00:00.0000001Z
		filetimeEpochDelta,        // 1970
		filetimeEpochDelta - 1,    // just before 1970: negative Unix time
		131_127_199_716_816_408,   // 2016-07-08T18:12:51.6816408Z
		2_650_467_743_999_999_999, // 9999-12-31T23:59:59.9999999Z
		2_650_467_744_000_000_000, // year 10000: 29 bytes, parsed (and refused)
		math.MaxInt64,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		ticks = append(ticks, rng.Uint64N(2_650_467_744_000_000_000))
	}
	for _, ft := range ticks {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], ft)
		var x expander
		s := x.renderAt(nil, vtFiletime, b[:])
		r := &Record{ft: x.ft, fts: x.fts}
		want, wantOK := parseSystemTime(s)
		got, ok, fromFT := createdTime(r, s)
		if got != want || ok != wantOK {
			t.Fatalf("FILETIME %d (%q): createdTime %v %v, parseSystemTime %v %v", ft, s, got, ok, want, wantOK)
		}
		if fromFT != (len(s) == 28) {
			t.Errorf("FILETIME %d (%q): shortcut taken %v", ft, s, fromFT)
		}
		if fromFT && string(appendTime(nil, got, 7)) != s {
			t.Errorf("FILETIME %d: %q is not appendTime of %v", ft, s, got)
		}
		// The same bytes in another string: parsed, same result.
		other := strings.Clone(s)
		if got2, ok2, from2 := createdTime(r, other); from2 || got2 != want || ok2 != wantOK {
			t.Errorf("FILETIME %d: a copy of its text gave %v %v (shortcut %v)", ft, got2, ok2, from2)
		}
	}
	// Only the record's first FILETIME is kept.
	var x expander
	for _, ft := range []uint64{filetimeEpochDelta + 1e7, filetimeEpochDelta + 2e7} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], ft)
		x.renderAt(nil, vtFiletime, b[:])
	}
	if x.ft != filetimeEpochDelta+1e7 || x.fts != "1970-01-01T00:00:01.0000000Z" {
		t.Errorf("first FILETIME kept: %d %q", x.ft, x.fts)
	}
	if got := time.Unix(1, 0).UTC(); !got.Equal(mustFiletime(t, x.ft)) {
		t.Errorf("filetime(%d) = %v", x.ft, mustFiletime(t, x.ft))
	}
}

func mustFiletime(t *testing.T, ft uint64) time.Time {
	t.Helper()
	tm, ok := filetime(ft)
	if !ok {
		t.Fatalf("filetime(%d) not ok", ft)
	}
	return tm
}

// TestNeedsFoldWords: the 8-bytes-at-a-time check agrees with
// strings.ContainsAny on random strings with line breaks and tabs
// anywhere, among bytes just above and below them and non-ASCII ones
// (TestNeedsFold puts them at the ends).
func TestNeedsFoldWords(t *testing.T) {
	alphabet := []byte{'a', ' ', '\n', '\r', '\t', 0x0b, 0x0c, 0x0e, 0x00, 0x7f, 0x80, 0xc2, 0xff, '-'}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, rng.IntN(48))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = 'A' + byte(rng.IntN(26))
			}
		}
		s := string(b)
		if got, want := needsFold(s), strings.ContainsAny(s, "\r\n\t"); got != want {
			t.Fatalf("needsFold(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestTrimSpace: trimSpace is strings.TrimSpace, Unicode spaces included.
func TestTrimSpace(t *testing.T) {
	for _, s := range []string{"", " ", "4624", " 4624", "4624 ", "\t42\n", "a", "\u00a0x", "x\u00a0", "x\u0085",
		"\u3000x\u3000", "é", "x\x7f", "-", "S-1-5-18", "0x3e7"} {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Errorf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	}
}
