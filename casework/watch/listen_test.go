package watch

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Messages as senders put them on the wire: RFC 5424 (rsyslog's and
// util-linux logger's layout) and RFC 3164 (BSD, with <PRI>).
func msg5424(i int, tok string) string {
	return fmt.Sprintf("<38>1 2026-12-06T07:%02d:%02d.123456+00:00 tabsrv sshd 4242 - - Accepted password for admin from 198.51.100.%d port 5%04d ssh2 %s",
		i/60%60, i%60, i%250+1, i, tok)
}

func msg3164(i int, tok string) string {
	return fmt.Sprintf("<86>Dec  6 07:%02d:%02d tabsrv sudo: operator : TTY=pts/0 ; PWD=/home/operator ; USER=root ; COMMAND=/bin/true %s",
		i/60%60, i%60, tok)
}

func TestListenersStoreEachMessageOnce(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	srvTLS, pool := selfSigned(t)
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", "tls://127.0.0.1:0"}
	cfg.TLS = srvTLS
	cfg.NoHunt = true
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addrs := w.Addrs()
	stop := started(t, w)

	want := map[string]bool{}
	const n = 300
	// TCP: octet-counted and newline-framed messages on one connection,
	// both formats, and a message of several writes.
	c, err := net.Dial("tcp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		tok := fmt.Sprintf("tok=tcp-%d", i)
		want[tok] = true
		m := msg5424(i, tok)
		if i%2 == 1 {
			m = msg3164(i, tok)
		}
		var frame string
		if i%3 == 0 {
			frame = fmt.Sprintf("%d %s", len(m), m)
		} else {
			frame = m + "\n"
		}
		if _, err := c.Write([]byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// TLS (RFC 5425 uses octet counting).
	tc, err := tls.Dial("tcp", addrs[2].String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		tok := fmt.Sprintf("tok=tls-%d", i)
		want[tok] = true
		m := msg5424(i, tok)
		fmt.Fprintf(tc, "%d %s", len(m), m)
	}
	tc.Close()
	// UDP: one datagram per message, paced (loopback UDP may still drop:
	// what counts is that what was received is stored once).
	uc, err := net.Dial("udp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	udpSent := map[string]bool{}
	for i := 0; i < n; i++ {
		tok := fmt.Sprintf("tok=udp-%d", i)
		udpSent[tok] = true
		m := msg3164(i, tok)
		if i%2 == 0 {
			m = msg5424(i, tok)
		}
		uc.Write([]byte(m + "\n"))
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	uc.Close()
	waitFor(5*time.Second, func() bool { return len(tokens(t, st)) >= len(want)+len(udpSent)*9/10 })
	sum := stop()

	got := tokens(t, st)
	for tok := range want {
		if got[tok] != 1 {
			t.Errorf("%s stored %d times, want once", tok, got[tok])
		}
	}
	udpStored := 0
	for tok := range udpSent {
		switch got[tok] {
		case 0:
		case 1:
			udpStored++
		default:
			t.Errorf("%s stored %d times", tok, got[tok])
		}
	}
	if len(got) != len(want)+udpStored {
		t.Errorf("%d distinct tokens stored, want %d sent over TCP/TLS + %d UDP stored", len(got), len(want), udpStored)
	}
	bySrc := map[string]SourceStats{}
	for _, s := range sum.Sources {
		bySrc[s.Source[:len("syslog-tcp")]] = s
	}
	if s := bySrc["syslog-tcp"]; s.Lines != n || s.Events != n || s.Warnings != 0 || s.Connections != 1 {
		t.Errorf("tcp stats %+v, want %d lines and events, no warnings, 1 connection", s, n)
	}
	if s := bySrc["syslog-tls"]; s.Lines != n || s.Events != n {
		t.Errorf("tls stats %+v", s)
	}
	// The receive counter agrees with what was stored.
	if s := bySrc["syslog-udp"]; s.Lines != int64(udpStored) || s.Events != int64(udpStored) || s.Dropped != 0 {
		t.Errorf("udp stats %+v, but %d of %d UDP messages stored", s, udpStored, n)
	}
	if udpStored < n/2 {
		t.Errorf("only %d of %d loopback UDP messages arrived", udpStored, n)
	}
	if sum.MaxLatency > time.Second+500*time.Millisecond {
		t.Errorf("a line waited %v to be stored, want about ≤ 1 s", sum.MaxLatency)
	}
	t.Logf("summary: %+v", sum.Total)
}

// A message's parsed fields: RFC 3164 and RFC 5424 read by parsers/syslog,
// with the provenance of a received line.
func TestReceivedProvenance(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.NoHunt = true
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	c, err := net.Dial("tcp", w.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%s\n", msg5424(7, "tok=a"))
	c.Close()
	waitFor(3*time.Second, func() bool { return len(tokens(t, st)) == 1 })
	stop()
	evs := stored(t, st)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	p := ev.Jejak.Provenance
	if p.Parser != "syslog" || p.EvidenceName != "watch" || len(p.Chain) != 1 || p.Chain[0] != "syslog-tcp:"+w.Addrs()[0].String() ||
		p.Offset != 1 || p.Record != 1 || p.Identity != w.session {
		t.Errorf("provenance %+v", p)
	}
	if ev.User == nil || ev.User.Name != "admin" || ev.Source == nil || ev.Source.IP != "198.51.100.8" || ev.Event.Outcome != "success" {
		t.Errorf("sshd fields not read: user %+v source %+v outcome %q", ev.User, ev.Source, ev.Event.Outcome)
	}
	if want := time.Date(2026, 12, 6, 7, 0, 7, 123456000, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("time %v, want %v", ev.Timestamp, want)
	}
}

// A message that does not start like a record is never joined to the one
// before it (as a continuation line in a file would be): messages are
// parsed together for speed, and again one by one when one of them did
// not come out as its own record.
func TestMessagesNeverJoined(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.NoHunt = true
	var warns []string
	var mu sync.Mutex
	cfg.Warn = func(w timeline.Warning) { mu.Lock(); warns = append(warns, w.Message); mu.Unlock() }
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	c, _ := net.Dial("tcp", w.Addrs()[0].String())
	fmt.Fprintf(c, "%s\n<13>no timestamp at all tok=junk\n%s\n", msg3164(1, "tok=one"), msg5424(2, "tok=two"))
	c.Close()
	waitFor(3*time.Second, func() bool { return len(tokens(t, st)) >= 2 })
	sum := stop()
	got := tokens(t, st)
	if got["tok=one"] != 1 || got["tok=two"] != 1 {
		t.Errorf("tokens %v", got)
	}
	for _, ev := range stored(t, st) {
		if strings.Contains(ev.Message, "tok=junk") && strings.Contains(ev.Message, "tok=one") {
			t.Errorf("message joined to the one before: %q", ev.Message)
		}
	}
	s := sum.Sources[0]
	if s.Lines != 3 || s.Events+s.Warnings != 3 {
		t.Errorf("stats %+v: every message an event or a warning", s)
	}
	t.Logf("junk message: %d events, warnings %q", s.Events, warns)
}
