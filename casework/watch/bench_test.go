package watch

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchWatch starts a TCP-listening watcher into a fresh case store and
// returns its address and a function that waits until n events are stored
// and stops it.
func benchWatch(b *testing.B) (addr string, finish func(n int) Summary) {
	dir := b.TempDir()
	st := openStore(b, dir)
	b.Cleanup(func() { st.Close() })
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.NoHunt = true
	cfg.Latency = 500 * time.Millisecond
	w, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	stop := started(b, w)
	return w.Addrs()[0].String(), func(n int) Summary {
		if !waitFor(120*time.Second, func() bool {
			c, err := st.Count(b.Context(), timelineAll)
			return err == nil && c >= int64(n)
		}) {
			b.Fatalf("not all %d lines stored", n)
		}
		return stop()
	}
}

// BenchmarkTCPReceiveStore: sustained lines/s received over loopback TCP
// (newline-framed RFC 3164, sshd-like lines the parser normalises) and
// stored in the case store, from the first byte sent to the last event
// committed.
func BenchmarkTCPReceiveStore(b *testing.B) {
	addr, finish := benchWatch(b)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(c, 1<<16)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(bw, "<38>Dec  6 07:%02d:%02d tabsrv sshd[%d]: Failed password for root from 203.0.113.%d port %d ssh2\n",
			i/60%60, i%60, 1000+i%30000, i%250+1, 1024+i%60000)
	}
	bw.Flush()
	c.Close()
	sum := finish(b.N)
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "lines/s")
	b.ReportMetric(float64(sum.MaxLatency.Milliseconds()), "max-latency-ms")
}

// BenchmarkLoggerTCP drives the watcher with util-linux logger reading
// lines from stdin (one TCP connection, RFC 5424, octet-counted), beside
// the rate logger reaches into a listener that only counts bytes: the
// sender's own ceiling.
func BenchmarkLoggerTCP(b *testing.B) {
	bin, err := exec.LookPath("logger")
	if err != nil {
		b.Skip("util-linux logger not installed")
	}
	const n = 20000
	in := filepath.Join(b.TempDir(), "lines")
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "Failed password for root from 203.0.113.%d port %d ssh2\n", i%250+1, 1024+i)
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	send := func(addr string) time.Duration {
		host, port, _ := net.SplitHostPort(addr)
		f, _ := os.Open(in)
		defer f.Close()
		cmd := exec.Command(bin, "--tcp", "--octet-count", "-n", host, "-P", port, "-t", "sshd")
		cmd.Stdin = f
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("logger: %v %s", err, out)
		}
		return time.Since(t0)
	}
	// The sender alone: a listener that discards.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { bufio.NewReader(c).WriteTo(discard{}); c.Close() }()
		}
	}()
	alone := send(ln.Addr().String())
	ln.Close()

	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		addr, finish := benchWatch(b)
		t0 := time.Now()
		send(addr)
		finish(n)
		total += time.Since(t0)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "stored-lines/s")
	// After the loop: ResetTimer clears metrics reported before it.
	b.ReportMetric(n/alone.Seconds(), "logger-alone-lines/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
