package watch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxMessage is the longest syslog message kept whole (RFC 5425 asks
// receivers for at least 2 KiB, rsyslog's default is 8 KiB); longer ones
// are cut here and the cut is a counted warning.
const maxMessage = 64 << 10

// listener receives syslog over one socket.
type listener struct {
	w       *Watcher
	src     int
	network string // "udp", "tcp", "tls"
	pc      net.PacketConn
	ln      net.Listener
	seq     int64 // receive sequence number; guarded by the watcher's seqMu
	conns   sync.WaitGroup
	// drainEnd (unix ns) is set when the watch stops: what senders already
	// sent is still read, while it keeps coming (each read extends the
	// deadline by drainIdle), up to this time.
	drainEnd atomic.Int64
}

const (
	drainIdle = 200 * time.Millisecond
	drainMax  = 5 * time.Second
)

// extend moves a stopping connection's read deadline after a read.
func (l *listener) extend(set func(time.Time) error) {
	if end := l.drainEnd.Load(); end != 0 {
		d := time.Now().Add(drainIdle)
		if e := time.Unix(0, end); e.Before(d) {
			d = e
		}
		set(d)
	}
}

// parseListen reads "udp://host:port", "tcp://host:port" or
// "tls://host:port".
func parseListen(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("--listen %q: want udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", s)
	}
	switch u.Scheme {
	case "udp", "tcp", "tls":
		return u.Scheme, u.Host, nil
	}
	return "", "", fmt.Errorf("--listen %q: scheme %q is not udp, tcp or tls", s, u.Scheme)
}

func (l *listener) bind(addr string, tc *tls.Config) error {
	var err error
	switch l.network {
	case "udp":
		l.pc, err = net.ListenPacket("udp", addr)
	case "tcp":
		l.ln, err = net.Listen("tcp", addr)
	case "tls":
		if tc == nil {
			return errors.New("tls listener without a certificate (--tls-cert, --tls-key)")
		}
		l.ln, err = tls.Listen("tcp", addr, tc)
	}
	return err
}

func (l *listener) addr() net.Addr {
	if l.pc != nil {
		return l.pc.LocalAddr()
	}
	return l.ln.Addr()
}

func (l *listener) close() {
	if l.pc != nil {
		l.pc.Close()
	}
	if l.ln != nil {
		l.ln.Close()
	}
}

func (l *listener) run(ctx context.Context) error {
	if l.pc != nil {
		return l.runUDP(ctx)
	}
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	go func() {
		<-ctx.Done()
		l.drainEnd.Store(time.Now().Add(drainMax).UnixNano())
		l.ln.Close()
		mu.Lock()
		for c := range open {
			// Let what the sender already wrote be read, then stop.
			c.SetReadDeadline(time.Now().Add(drainIdle))
		}
		mu.Unlock()
	}()
	defer l.conns.Wait()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		l.w.stats[l.src].Connections.Add(1)
		mu.Lock()
		open[c] = true
		mu.Unlock()
		l.conns.Add(1)
		go func() {
			defer l.conns.Done()
			l.serve(ctx, c)
			c.Close()
			mu.Lock()
			delete(open, c)
			mu.Unlock()
		}()
	}
}

func (l *listener) runUDP(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		// Datagrams already in the socket buffer are read before stopping.
		l.drainEnd.Store(time.Now().Add(drainMax).UnixNano())
		l.pc.SetReadDeadline(time.Now().Add(drainIdle))
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := l.pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil && errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		// One datagram is one message (RFC 5426); a trailing newline or
		// NUL some senders add is not part of it.
		l.receive(from.String(), buf[:n], n)
		l.extend(l.pc.SetReadDeadline)
	}
}

// serve reads one TCP (or TLS) connection. Each message is framed as its
// first byte says (RFC 6587): a digit starts an octet count ("LEN SP
// MSG"), anything else a message ended by LF (or NUL, as some senders
// use); the sender may mix both.
func (l *listener) serve(ctx context.Context, c net.Conn) {
	peer := c.RemoteAddr().String()
	br := bufio.NewReaderSize(c, maxMessage)
	for {
		l.extend(c.SetReadDeadline)
		b, err := br.Peek(1)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				l.w.warnf(l.src, peer, -1, "%s: %v", peer, err) // a failed TLS handshake, a reset
			}
			return
		}
		if b[0] >= '0' && b[0] <= '9' {
			n, ok := l.octetCount(br)
			if ok {
				msg := make([]byte, min(n, maxMessage))
				if _, err := io.ReadFull(br, msg); err != nil {
					if len(msg) > 0 {
						l.w.warnf(l.src, peer, -1, "%s: connection ended inside an octet-counted message of %d bytes", peer, n)
					}
					return
				}
				if n > maxMessage {
					l.w.warnf(l.src, peer, -1, "%s: message of %d bytes cut to %d", peer, n, maxMessage)
					if _, err := br.Discard(n - maxMessage); err != nil {
						return
					}
				}
				l.receive(peer, msg, n+len(strconv.Itoa(n))+1)
				continue
			}
			// Digits not followed by a space: a newline-framed message
			// that starts with a digit (a bare timestamp).
		}
		line, err := readFrame(br)
		if len(line) > 0 {
			raw := len(line)
			if raw > maxMessage {
				l.w.warnf(l.src, peer, -1, "%s: message of %d bytes cut to %d", peer, raw, maxMessage)
				line = line[:maxMessage]
			}
			if m := bytes.TrimRight(line, "\r\n\x00"); len(m) > 0 {
				l.receive(peer, m, raw)
			}
		}
		if err != nil {
			return
		}
	}
}

// octetCount reads "LEN " when the buffered bytes hold it.
func (l *listener) octetCount(br *bufio.Reader) (int, bool) {
	b, _ := br.Peek(11)
	for i := 0; i < len(b) && i < 10; i++ {
		if b[i] == ' ' && i > 0 {
			n, err := strconv.Atoi(string(b[:i]))
			if err != nil || n <= 0 {
				return 0, false
			}
			br.Discard(i + 1)
			return n, true
		}
		if b[i] < '0' || b[i] > '9' {
			return 0, false
		}
	}
	return 0, false
}

// readFrame reads up to and including LF or NUL; at the end of the
// connection, what is left.
func readFrame(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		b, err := br.Peek(br.Buffered())
		if len(b) == 0 {
			if _, err := br.Peek(1); err != nil {
				return out, err
			}
			continue
		}
		if i := bytes.IndexAny(b, "\n\x00"); i >= 0 {
			out = append(out, b[:i+1]...)
			br.Discard(i + 1)
			return out, nil
		}
		if len(out) < 4*maxMessage {
			out = append(out, b...)
		}
		br.Discard(len(b))
		_ = err
	}
}

// receive queues one message; it never waits (see queue).
func (l *listener) receive(peer string, msg []byte, raw int) {
	msg = bytes.TrimRight(msg, "\r\n\x00")
	s := l.w.stats[l.src]
	s.Bytes.Add(int64(raw))
	if len(msg) == 0 {
		return
	}
	s.Lines.Add(1)
	l.w.seqMu.Lock()
	l.seq++
	seq := l.seq
	l.w.seqMu.Unlock()
	it := &item{Src: l.src, Label: l.w.sources[l.src].label, Path: peer, Ident: l.w.session,
		Off: seq, Rec: seq, Text: append([]byte(nil), msg...), Recv: l.w.cfg.Now()}
	l.w.q.put(it)
}
