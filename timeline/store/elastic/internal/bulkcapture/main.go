// Command bulkcapture is a loopback reverse proxy in front of an
// Elasticsearch node that keeps a copy of every _bulk request body passing
// through it, byte for byte, one file per request. scripts/bench.sh puts it
// between `jejak index` and the node once, then replays the captured bodies
// with curl: the curl `_bulk` ceiling is measured on exactly the requests
// jejak sends (same documents, same action lines, same request sizes, same
// query string), not on a re-export that could differ in any of these.
// It is a benchmark driver, not part of jejak.
//
//	bulkcapture -upstream URL -dir DIR [-listen 127.0.0.1:0]
//
// It prints its own URL on the first line of stdout once it listens, and
// serves until killed. In DIR: bulk-NNNNNN.ndjson (or .ndjson.gz when the
// client gzipped the body), numbered in arrival order, and bulk.query, the
// query string of the first _bulk request (the replay sends the same).
// Every other request is forwarded untouched and not recorded.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	upstream := flag.String("upstream", "", "URL of the Elasticsearch node to forward to")
	dir := flag.String("dir", "", "folder the _bulk bodies are written to (created if needed)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	flag.Parse()
	if *upstream == "" || *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: bulkcapture -upstream URL -dir DIR [-listen 127.0.0.1:0]")
		os.Exit(2)
	}
	if err := run(*upstream, *dir, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "bulkcapture:", err)
		os.Exit(1)
	}
}

func run(upstream, dir, listen string) error {
	up, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("-upstream: %w", err)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %s: only a loopback address is allowed", listen)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	return http.Serve(ln, newRecorder(up, dir))
}

// recorder forwards every request to the node and writes a copy of each
// _bulk body to dir before forwarding it.
type recorder struct {
	proxy *httputil.ReverseProxy
	dir   string
	n     atomic.Int64
	query sync.Once
}

func newRecorder(upstream *url.URL, dir string) *recorder {
	return &recorder{proxy: httputil.NewSingleHostReverseProxy(upstream), dir: dir}
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && (r.URL.Path == "/_bulk" || strings.HasSuffix(r.URL.Path, "/_bulk")) {
		if err := rc.record(r); err != nil {
			// A body the replay would lack makes the whole comparison
			// wrong: fail the request, so jejak index fails loudly.
			http.Error(w, "bulkcapture: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	rc.proxy.ServeHTTP(w, r)
}

// record saves r's body to the next file and gives r a body that reads
// the same bytes again.
func (rc *recorder) record(r *http.Request) error {
	ext := ".ndjson"
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		ext = ".ndjson.gz"
	}
	name := filepath.Join(rc.dir, fmt.Sprintf("bulk-%06d%s", rc.n.Add(1), ext))
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.TeeReader(r.Body, f))
	r.Body.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	var qerr error
	rc.query.Do(func() {
		qerr = os.WriteFile(filepath.Join(rc.dir, "bulk.query"), []byte(r.URL.RawQuery+"\n"), 0o644)
	})
	if qerr != nil {
		return qerr
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return nil
}
