package watch

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// openStore opens (or reopens) a case store at dir/case.db as the command
// does: a run, with the indexes built at once so repeats are refused.
func openStore(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartRun(ctx, sqlite.RunStart{Started: time.Now(), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func baseConfig(dir string, sink timeline.Sink) Config {
	return Config{Dir: filepath.Join(dir, "watch"), Registry: all.Registry(), Syslog: syslog.New(),
		Sink: sink, Latency: 200 * time.Millisecond, Poll: 50 * time.Millisecond}
}

// started runs w in the background; stop cancels it and returns the
// summary.
func started(t testing.TB, w *Watcher) (stop func() Summary) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		s   Summary
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := w.Run(ctx)
		ch <- res{s, err}
	}()
	return func() Summary {
		cancel()
		r := <-ch
		if r.err != nil {
			t.Fatalf("watch: %v", r.err)
		}
		return r.s
	}
}

// tokens counts, for every stored event, the "tok=…" word in its message.
func tokens(t testing.TB, st *sqlite.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		for _, f := range strings.Fields(ev.Message) {
			if strings.HasPrefix(f, "tok=") {
				out[f]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// selfSigned makes a loopback server certificate with crypto/x509.
func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// committed is where w has committed the followed file path: its
// offsets are saved after each batch is stored, so once they reach the
// file's size every line of it is stored and counted (events, warnings,
// duplicates). It is what a test waits for instead of a fixed sleep.
func committed(w *Watcher, path string) fileState {
	s, _ := w.offsets.get(path)
	return s
}

// downWebhook returns the URL of a webhook that is down: every POST to it
// fails. Its port stays held by a listener that resets each connection,
// where a listener closed to free its port would leave the port to any
// other process (or test) that binds one meanwhile.
func downWebhook(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0) // close with a reset, before any reply
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook"
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func stored(t testing.TB, st *sqlite.Store) []*timeline.Event {
	t.Helper()
	var out []*timeline.Event
	if err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

var timelineAll = timeline.Query{}
