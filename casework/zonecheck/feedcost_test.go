package zonecheck

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestLogonActionSwitch: the switch Feed asks is LogonActions, no more.
func TestLogonActionSwitch(t *testing.T) {
	for _, a := range LogonActions {
		if !logonAction(a) {
			t.Errorf("%q is in LogonActions, not in the switch", a)
		}
	}
	for _, a := range []string{"", "ssh_invalid_user", "ssh_disconnect", "Logon", "logon ", "ssh_login_", "last_logo", "user_login"} {
		if logonAction(a) != slices.Contains(LogonActions, a) {
			t.Errorf("%q: switch %v, list %v", a, logonAction(a), !logonAction(a))
		}
	}
}

// parseIDRef is parseID as it was written with strconv.
func parseIDRef(id string) [2]uint64 {
	if len(id) != 32 {
		return [2]uint64{}
	}
	a, err1 := strconv.ParseUint(id[:16], 16, 64)
	b, err2 := strconv.ParseUint(id[16:], 16, 64)
	if err1 != nil || err2 != nil {
		return [2]uint64{}
	}
	return [2]uint64{a, b}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want [2]uint64
	}{
		{"00000000000000010000000000000002", [2]uint64{1, 2}},
		{"ffffffffffffffffFFFFFFFFFFFFFFFF", [2]uint64{^uint64(0), ^uint64(0)}},
		{"0123456789abcdef0123456789ABCDEF", [2]uint64{0x0123456789abcdef, 0x0123456789abcdef}},
		{"0123456789abcdeg0123456789abcdef", [2]uint64{}}, // not hex in the first half
		{"0123456789abcdef0123456789abcde_", [2]uint64{}}, // nor in the second
		{"0123456789abcdef0123456789abcde", [2]uint64{}},  // 31 digits
		{"", [2]uint64{}},
	} {
		if got := parseID(tc.id); got != tc.want || got != parseIDRef(tc.id) {
			t.Errorf("parseID(%q) = %x, want %x (strconv: %x)", tc.id, got, tc.want, parseIDRef(tc.id))
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"00000000000000010000000000000002", "0123456789abcdef0123456789ABCDEF", "0x23456789abcdef0123456789abcdef", "+123456789abcdef0123456789abcdef", "1_23456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := parseID(s), parseIDRef(s); got != want {
			t.Errorf("parseID(%q) = %x, strconv %x", s, got, want)
		}
	})
}

// TestFeedInOrder: events fed once each in the store's order, as one log
// read front to back gives them, leave the checker as Add does, counts of
// what was left out included: Feed's shortcut past the global cut leaves
// out what the caps would.
func TestFeedInOrder(t *testing.T) {
	for _, tc := range []struct {
		name           string
		perKey, maxObs int
	}{
		{"no cap met", PerKey, maxObs},
		{"per key", 5, maxObs},
		{"in all", 1000, 60},
		{"both", 40, 300},
		{"tight", 2, 9},
	} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				evs := storeOrder(feedCase(seed, 3000))
				ref, c := New(), New()
				ref.perKey, ref.maxObs = tc.perKey, tc.maxObs
				c.perKey, c.maxObs = tc.perKey, tc.maxObs
				for _, e := range evs {
					ref.Add(e)
					c.Feed(e)
				}
				c.Seal()
				if c.n != ref.n || c.Dropped != ref.Dropped {
					t.Errorf("kept %d, left out %d; the store passes %d and %d", c.n, c.Dropped, ref.n, ref.Dropped)
				}
				if !reflect.DeepEqual(kept(c), kept(ref)) {
					t.Errorf("kept other observations than the store passes")
				}
				if got, want := c.Findings(), ref.Findings(); !reflect.DeepEqual(got, want) {
					t.Errorf("findings differ:\nfed:   %+v\nstore: %+v", got, want)
				}
				if tc.maxObs < maxObs && c.Dropped == 0 {
					t.Errorf("nothing left out under a cap of %d", tc.maxObs)
				}
			})
		}
	}
}

// TestFeedCutTies: records at the very instant of the global cut are
// ordered by ID, so Feed's shortcut leaves out only those strictly after
// it in time; the ones at that instant go the long way. Fed in reverse ID
// order, every later one at the cut's instant comes before the cut.
func TestFeedCutTies(t *testing.T) {
	var evs []*timeline.Event
	for i := range 400 {
		at := t0.Add(time.Duration(i/100) * time.Second) // four instants
		r := rec{loose: true, action: "ssh_failed_login", outcome: "failure", user: "root", ip: fmt.Sprintf("198.51.100.%d", i%250), pid: int64(1000 + i), at: at}
		ev := r.event("UTC", i+1)
		ev.Jejak.ID = fmt.Sprintf("%032x", 1000-i)
		evs = append(evs, ev)
	}
	ref, c := New(), New()
	ref.maxObs, c.maxObs = 30, 30
	for _, e := range storeOrder(evs) {
		ref.Add(e)
	}
	for _, e := range evs {
		c.Feed(e)
	}
	c.Seal()
	if got, want := kept(c), kept(ref); !reflect.DeepEqual(got, want) || c.n != ref.n {
		t.Errorf("kept %d: %v\nthe store passes %d: %v", c.n, got, ref.n, want)
	}
}

// authLogEvents are the events the syslog parser makes of n lines of an
// auth.log shaped like scripts/bench.sh's (sshd failures and logins from
// ever-new addresses, sessions, sudo, cron), with their IDs, in order.
func authLogEvents(tb testing.TB, n int) []*timeline.Event {
	var b bytes.Buffer
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		ts := t.Add(time.Duration(i) * time.Second).Format("Jan _2 15:04:05")
		ip := fmt.Sprintf("%d.%d.%d.%d", 1+i%223, (i>>8)%256, (i>>16)%256, 1+i%254)
		if i%3 != 0 {
			ip = fmt.Sprintf("10.0.%d.%d", i%500/250, 1+i%250)
		}
		u := fmt.Sprintf("u%03d", i%206)
		var msg string
		switch k := i % 10; {
		case k < 4:
			msg = fmt.Sprintf("sshd[%d]: Failed password for %s from %s port %d ssh2", 1000+i%30000, u, ip, 1024+i%60000)
		case k < 6:
			msg = fmt.Sprintf("sshd[%d]: Invalid user %sx from %s port %d", 1000+i%30000, u, ip, 1024+i%60000)
		case k == 6:
			msg = fmt.Sprintf("sshd[%d]: Accepted publickey for %s from %s port %d ssh2: RSA SHA256:%032x", 1000+i%30000, u, ip, 1024+i%60000, i)
		case k == 7:
			msg = fmt.Sprintf("sshd[%d]: pam_unix(sshd:session): session opened for user %s by (uid=0)", 1000+i%30000, u)
		case k == 8:
			msg = fmt.Sprintf("sudo:   %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/true", u, i%8, u)
		default:
			msg = fmt.Sprintf("CRON[%d]: pam_unix(cron:session): session closed for user root", 1000+i%30000)
		}
		fmt.Fprintf(&b, "%s tabulasi-01 %s\n", ts, msg)
	}
	entry := parsertest.BytesEntry("auth.log", b.Bytes(), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	src := &parsers.Source{Entry: entry, R: bytes.NewReader(b.Bytes()), Size: int64(b.Len()), Zone: time.UTC,
		Warn: func(re *parsers.RecordError) { tb.Fatalf("warning: %v", re.Err) }}
	var evs []*timeline.Event
	err := syslog.New().Parse(context.Background(), src, func(ev *timeline.Event) error {
		ev.Jejak.Provenance.Path = "/var/log/auth.log"
		ev.Jejak.Provenance.EvidenceSHA256 = sha
		ev.Finalize()
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// BenchmarkFeedAuthLog is the zone check's share of a syslog analyze: the
// events of a 200k-line auth.log (half of them logons, all read in an
// assumed zone) fed as ingest feeds them, under the caps as a 50 MB log
// is, and past the global one as a 1 GB log is for all but its first
// 2*maxObs logons (here with the cap lowered, to keep the input small).
func BenchmarkFeedAuthLog(b *testing.B) {
	evs := authLogEvents(b, 200_000)
	for _, bc := range []struct {
		name   string
		maxObs int
	}{{"under-cap", maxObs}, {"past-cap", 1 << 12}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := New()
				c.maxObs = bc.maxObs
				for _, ev := range evs {
					c.Feed(ev)
				}
				if c.Seal(); c.n == 0 || c.n > bc.maxObs {
					b.Fatalf("kept %d", c.n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}
