package utmp

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/zeros"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestLastlogAgainstShadow has shadow's lastlog(8) (Debian package login)
// write a real lastlog for two users, one with a high uid so the file is
// sparse, then compares our events with what lastlog itself prints. It
// needs root: lastlog -R chroots.
func TestLastlogAgainstShadow(t *testing.T) {
	bin, root, ll := shadowLastlog(t)
	uids := map[string]string{"root": "0", "alice": "1000", "bob": "70000"}
	out, err := exec.Command(bin, "-R", root).Output()
	if err != nil {
		t.Fatalf("lastlog: %v", err)
	}
	res := parsertest.ParseFile(t, NewLastlog(), ll, nil)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	byUID := map[string]int{}
	for i, ev := range res.Events {
		byUID[ev.User.ID] = i
	}
	logged := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		f := strings.Fields(l)
		uid := uids[f[0]]
		if strings.Contains(l, "**Never logged in**") {
			if _, ok := byUID[uid]; ok {
				t.Errorf("%s never logged in, we have an event", f[0])
			}
			continue
		}
		logged++
		// "alice lastlog localhost Sat Nov 28 22:50:18 +0000 2026"
		want, err := time.Parse("Mon Jan _2 15:04:05 -0700 2006", strings.Join(f[3:], " "))
		if err != nil {
			t.Fatalf("lastlog line %q: %v", l, err)
		}
		i, ok := byUID[uid]
		if !ok {
			t.Errorf("no event for %s (uid %s)", f[0], uid)
			continue
		}
		ev := res.Events[i]
		if !ev.Timestamp.Equal(want) || ev.Jejak.Data["line"] != f[1] || ev.Jejak.Data["host"] != f[2] {
			t.Errorf("uid %s: %v %q %q; lastlog %v %q %q", uid, ev.Timestamp, ev.Jejak.Data["line"], ev.Jejak.Data["host"], want, f[1], f[2])
		}
	}
	if logged != 2 || len(res.Events) != logged {
		t.Errorf("lastlog shows %d logins, we have %d events", logged, len(res.Events))
	}
	parsertest.Contract(t, NewLastlog(), ll)
}

// shadowLastlog has shadow's lastlog(8) write a real lastlog in a chroot
// for alice (uid 1000) and bob (uid 70000, so the file is sparse); root
// never logged in.
func shadowLastlog(t *testing.T) (bin, root, ll string) {
	bin = oracle.Tool(t, "lastlog", "login")
	if os.Geteuid() != 0 {
		t.Skip("lastlog -R needs root (chroot)")
	}
	root = t.TempDir()
	for _, d := range []string{"etc", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:70000:70000::/home/bob:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	ll = filepath.Join(root, "var/log/lastlog")
	if err := os.WriteFile(ll, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if out, err := exec.Command(bin, "-R", root, "-S", "-u", u).CombinedOutput(); err != nil {
			t.Skipf("lastlog -S cannot run here: %v %s", err, out)
		}
	}
	return bin, root, ll
}

func TestLastlogMatch(t *testing.T) {
	rec := make([]byte, 2*lastlogSize32)
	copy(rec[lastlogSize32:], []byte{0x15, 0xce, 0x47, 0x6a, 'p', 't', 's', '/', '0'})
	text := []byte("Username         Port     From                                       Latest\n" + strings.Repeat("root                                                                **Never logged in**\n", 4))
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"var/log/lastlog", rec, true},
		{"var/log/lastlog.1", rec, true},
		{"var/log/wtmp", rec, false},
		{"var/log/lastlog", rec[:300], false},
		{"lastlog.txt", text, false},
	}
	for _, tc := range tests {
		e := parsertest.BytesEntry(tc.name, tc.b, time.Time{})
		if got := NewLastlog().Match(e, tc.b); got != tc.want {
			t.Errorf("Match(%s, %d bytes) = %v, want %v", tc.name, len(tc.b), got, tc.want)
		}
	}
}

func FuzzLastlog(f *testing.F) {
	rec := make([]byte, lastlogSize32)
	copy(rec, []byte{0x15, 0xce, 0x47, 0x6a})
	copy(rec[4:], "pts/0")
	copy(rec[36:], "10.0.0.5")
	f.Add(append(make([]byte, lastlogSize32), rec...))
	f.Add(rec[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(t.Context(), NewLastlog(), parsertest.BytesEntry("lastlog", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, ev := range res.Events {
			if ev.Jejak.Provenance.Offset%lastlogSize32 != 0 && ev.Jejak.Provenance.Offset%lastlogSize64 != 0 {
				t.Fatalf("event at offset %d", ev.Jejak.Provenance.Offset)
			}
		}
	})
}

// TestLastlogLayouts re-encodes shadow's real lastlog (x86_64: int32
// ll_time, little-endian) in the other glibc layouts: ppc64 (int32,
// big-endian), aarch64 (int64, little-endian) and s390x (int64,
// big-endian). Each must give the same logins, with no warning.
func TestLastlogLayouts(t *testing.T) {
	_, _, ll := shadowLastlog(t)
	data, err := os.ReadFile(ll)
	if err != nil {
		t.Fatal(err)
	}
	want := parsertest.ParseFile(t, NewLastlog(), ll, nil)
	if len(want.Events) != 2 {
		t.Fatalf("%d events in shadow's lastlog", len(want.Events))
	}
	convert := func(timeLen int, order binary.ByteOrder) []byte {
		var out []byte
		for off := 0; off+lastlogSize32 <= len(data); off += lastlogSize32 {
			r := data[off : off+lastlogSize32]
			n := make([]byte, timeLen+32+256)
			if !zeros.All(r) {
				if timeLen == 4 {
					order.PutUint32(n, binary.LittleEndian.Uint32(r))
				} else {
					order.PutUint64(n, uint64(binary.LittleEndian.Uint32(r)))
				}
			}
			copy(n[timeLen:], r[4:])
			out = append(out, n...)
		}
		return out
	}
	for name, b := range map[string][]byte{
		"ppc64":   convert(4, binary.BigEndian),
		"aarch64": convert(8, binary.LittleEndian),
		"s390x":   convert(8, binary.BigEndian),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lastlog")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if !NewLastlog().Match(parsertest.FileEntry(t, path), b[:4096]) {
				t.Error("Match refuses it")
			}
			got := parsertest.ParseFile(t, NewLastlog(), path, nil)
			if got.Err != nil || len(got.Warnings) != 0 || len(got.Events) != len(want.Events) {
				t.Fatalf("%v, %d events, warnings %v", got.Err, len(got.Events), got.Warnings)
			}
			for i, w := range want.Events {
				g := got.Events[i]
				if !g.Timestamp.Equal(w.Timestamp) || g.User.ID != w.User.ID || g.Jejak.Data["line"] != w.Jejak.Data["line"] || g.Jejak.Data["host"] != w.Jejak.Data["host"] {
					t.Errorf("uid %s: %s %v, want uid %s %s %v", g.User.ID, g.Timestamp, g.Jejak.Data, w.User.ID, w.Timestamp, w.Jejak.Data)
				}
			}
		})
	}
}

// A 32-bit time that reads as a plausible date in both byte orders, in a
// file without a modification time, is read little-endian and reported.
func TestLastlogAmbiguousOrder(t *testing.T) {
	rec := make([]byte, 2*lastlogSize32)
	binary.BigEndian.PutUint32(rec[lastlogSize32:], 0x61000050) // 2021-07-27 big-endian, 2012-07-04 little-endian
	copy(rec[lastlogSize32+4:], "pts/0")
	res := parsertest.Parse(t.Context(), NewLastlog(), parsertest.BytesEntry("lastlog", rec, time.Time{}), time.UTC)
	if len(res.Events) != 1 || len(res.Warnings) != 1 || !errors.Is(res.Warnings[0].Err, errLastlogOrder) {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	// With the file's time the order is clear: written 2013, the record
	// cannot hold 2021.
	binary.BigEndian.PutUint32(rec[lastlogSize32:], 0x50000061) // 2012-07-04 big-endian, 2021-07-27 little-endian
	e := parsertest.BytesEntry("lastlog", rec, time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC))
	res = parsertest.Parse(t.Context(), NewLastlog(), e, time.UTC)
	if len(res.Warnings) != 0 || len(res.Events) != 1 || res.Events[0].Timestamp.Year() != 2012 {
		t.Errorf("with the file time: %v %v", res.Events, res.Warnings)
	}
}
