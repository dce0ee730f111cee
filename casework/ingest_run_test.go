package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// zoneHosts writes a RHEL host whose secure log is in UTC−3 wall time
// beside auditd's epochs, and a web server in Jakarta whose Apache and
// nginx error logs are in wall time beside access logs with +0700: the
// shapes of cmd/jejak's zone tests (taken from the corpus' logs), each a
// finding of its own.
func zoneHosts(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"rhel/var/log/secure": `Dec  7 00:17:22 rhel7 sshd[1298]: Accepted publickey for andrew from 96.241.146.97 port 50382 ssh2: RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg
Dec  7 00:17:23 rhel7 sshd[1298]: pam_unix(sshd:session): session opened for user andrew by (uid=0)
Dec  7 00:20:05 rhel7 sshd[1340]: Failed password for root from 203.0.113.9 port 40022 ssh2
`,
		"rhel/var/log/audit/audit.log": `type=USER_LOGIN msg=audit(1481080643.193:421): pid=1298 uid=0 auid=1000 ses=1 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=pool-96-241-146-97.washdc.fios.verizon.net addr=96.241.146.97 terminal=/dev/pts/0 res=success'
type=USER_LOGIN msg=audit(1481080805.733:433): pid=1340 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed'
`,
		"web/var/log/httpd/access_log": `198.51.100.23 - - [14/Feb/2024:19:02:11 +0700] "GET /c1/admin HTTP/1.1" 401 381 "-" "Mozilla/5.0 (X11; Linux x86_64)"
198.51.100.23 - - [14/Feb/2024:19:02:15 +0700] "GET /c1/upload.php HTTP/1.1" 404 196 "-" "Mozilla/5.0 (X11; Linux x86_64)"
203.0.113.77 - - [14/Feb/2024:19:05:02 +0700] "GET /index.html HTTP/1.1" 200 5120 "-" "curl/8.5.0"
203.0.113.77 - - [14/Feb/2024:19:07:40 +0700] "GET /wp-login.php HTTP/1.1" 404 196 "-" "curl/8.5.0"
`,
		"web/var/log/httpd/error_log": `[Wed Feb 14 19:02:11.482113 2024] [auth_basic:error] [pid 2211:tid 140120579262208] [client 198.51.100.23:50229] AH01618: user tps01 not found: /c1/admin
[Wed Feb 14 19:02:15.090331 2024] [core:info] [pid 2213:tid 140120570869504] [client 198.51.100.23:50231] AH00128: File does not exist: /var/www/html/c1/upload.php
[Wed Feb 14 19:07:40.711804 2024] [core:info] [pid 2214:tid 140120562476800] [client 203.0.113.77:41502] AH00128: File does not exist: /var/www/html/wp-login.php
`,
		"web/var/log/nginx/access.log": `203.0.113.77 - - [14/Feb/2024:19:07:40 +0700] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8.5.0"
203.0.113.78 - tps01 [14/Feb/2024:19:09:02 +0700] "POST /c1/upload HTTP/1.1" 413 183 "-" "Mozilla/5.0"
`,
		"web/var/log/nginx/error.log": `2024/02/14 19:07:40 [error] 1925800#1925800: *17 open() "/usr/share/nginx/html/wp-login.php" failed (2: No such file or directory), client: 203.0.113.77, server: _, request: "GET /wp-login.php HTTP/1.1", host: "kpu.example"
2024/02/14 19:09:02 [error] 1925800#1925800: *18 client intended to send too large body: 10485761 bytes, client: 203.0.113.78, server: _, request: "POST /c1/upload HTTP/1.1", host: "kpu.example"
`,
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The year of the secure log's lines is its mtime's.
	mt := time.Date(2016, 12, 7, 3, 20, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "rhel/var/log/secure"), mt, mt); err != nil {
		t.Fatal(err)
	}
}

func findingsJSON(t *testing.T, fs []zonecheck.Finding) string {
	t.Helper()
	b, err := json.MarshalIndent(fs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestZoneCheckFedEqualsStore: the findings of the zone check fed while
// the ingest wrote equal those of the store passes over the same case
// (checkZones), on a first ingest; a re-ingest (every event a duplicate)
// and a re-ingest after more evidence was added run the store passes and
// give the findings the store passes give.
func TestZoneCheckFedEqualsStore(t *testing.T) {
	ctx := context.Background()
	hosts := t.TempDir()
	zoneHosts(t, hosts)
	for _, tc := range []struct {
		name     string
		evidence []string
		later    []string // added before the third ingest
		zone     string
		min      int // findings at least
	}{
		{"hosts", []string{filepath.Join(hosts, "rhel"), filepath.Join(hosts, "web")}, []string{parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log")}, "UTC", 3},
		{"hosts in Jakarta", []string{filepath.Join(hosts, "rhel"), filepath.Join(hosts, "web")}, nil, "Asia/Jakarta", 3},
		{"example", []string{"../fixtures/example"}, []string{filepath.Join(hosts, "web")}, "Asia/Jakarta", 0},
		{"sshd logs", []string{parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log"), parsertest.Corpus(t, "more/linux/auth/crowdsec_sshd-logs.log")}, []string{filepath.Join(hosts, "rhel")}, "UTC", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: tc.zone, ToolVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, p := range tc.evidence {
				if _, err := c.AddEvidence(ctx, p, AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			check := func(what string, wantFed bool) []zonecheck.Finding {
				t.Helper()
				res, err := c.Ingest(ctx, IngestOptions{Workers: 2})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if res.zonesFed != wantFed {
					t.Errorf("%s: fed findings used %v, want %v", what, res.zonesFed, wantFed)
				}
				fromStore, err := checkZones(ctx, c.Store)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := findingsJSON(t, res.ZoneCheck), findingsJSON(t, fromStore); got != want {
					t.Errorf("%s: findings\n%s\nthe store passes give\n%s", what, got, want)
				}
				t.Logf("%s: %d findings, %d events inserted", what, len(res.ZoneCheck), res.Summary.Inserted)
				return res.ZoneCheck
			}
			first := check("first ingest", true)
			if len(first) < tc.min {
				t.Errorf("%d findings, want at least %d: %s", len(first), tc.min, findingsJSON(t, first))
			}
			if again := check("re-ingest", false); findingsJSON(t, again) != findingsJSON(t, first) {
				t.Errorf("re-ingest changed the findings")
			}
			if len(tc.later) == 0 {
				return
			}
			for _, p := range tc.later {
				if _, err := c.AddEvidence(ctx, p, AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			check("ingest after evidence was added", false)
		})
	}
}

// TestAccessOf: the access requests accessOf gives, client by client, are
// those the raw SQL it replaced gave (source_ip equal to the name, the
// access datasets, the store's order, at most zonecheck.PerKey): with more
// clients than one query asks for, a client logged by host name, an IPv6
// client written in capitals (KQL would match it for the lower-case name)
// and names no request has.
func TestAccessOf(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "web", "var", "log", "httpd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var access strings.Builder
	var hosts []string
	client := func(i int) string {
		switch i % 10 {
		case 3:
			return fmt.Sprintf("client%d.example", i)
		case 7:
			return fmt.Sprintf("2001:DB8::%X", i)
		}
		return fmt.Sprintf("198.51.100.%d", i)
	}
	for i := range 80 {
		c := client(i)
		hosts = append(hosts, c, strings.ToLower(c))
		for j := range i % 5 {
			fmt.Fprintf(&access, "%s - - [14/Feb/2024:19:%02d:%02d +0700] \"GET /p%d HTTP/1.1\" 404 196 \"-\" \"curl/8.5.0\"\n", c, j, i%60, j)
		}
	}
	hosts = append(hosts, "203.0.113.250", "nobody.example")
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if err := os.WriteFile(filepath.Join(dir, "access_log"), []byte(access.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: "UTC", ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.AddEvidence(ctx, filepath.Dir(filepath.Dir(filepath.Dir(dir))), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ingest(ctx, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := accessOf(ctx, c.Store, hosts, func(ev *timeline.Event) { got = append(got, ev.Source.IP+" "+ev.Jejak.ID) }); err != nil {
		t.Fatal(err)
	}
	// The SQL accessOf replaced.
	var want []string
	for _, h := range hosts {
		rows, err := c.Store.DB().QueryContext(ctx, `SELECT source_ip, hex(id) FROM events WHERE source_ip = ? AND json_extract(doc, '$.event.dataset') IN ('weblog.access', 'iis.access') ORDER BY ts, id LIMIT `+strconv.Itoa(zonecheck.PerKey), h)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ip, id string
			if err := rows.Scan(&ip, &id); err != nil {
				t.Fatal(err)
			}
			want = append(want, ip+" "+strings.ToLower(id))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The names as the parser keeps them: the host name and the IPv6
	// address as written are among them, or the case misses its point.
	for _, name := range []string{"client3.example ", "2001:DB8::7 "} {
		if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, name) }) {
			t.Errorf("no request of %s: %v", name, want)
		}
	}
	if len(want) < 100 {
		t.Fatalf("the SQL finds %d requests: the case tests little", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("accessOf gives %d requests:\n%v\nthe SQL %d:\n%v", len(got), got, len(want), want)
	}
}

// TestWarningWriterStoresAllInOrder adds more warnings than a few batches
// from several goroutines while the event writer holds transactions open
// on the same file, and reads back from the store: every warning stored
// once, each goroutine's in the order it added them, the sample the first
// ones, and writing goes on after a Flush.
func TestWarningWriterStoresAllInOrder(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.StartRun(ctx, sqlite.RunStart{Started: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	ws := NewWarningWriter(ctx, st)
	const adders, each = 4, 3*warnBatch + 17
	var wg sync.WaitGroup
	for g := range adders {
		wg.Go(func() {
			for i := range each {
				ws.Add(timeline.Warning{Kind: timeline.WarnSkipped, Offset: int64(i), Path: fmt.Sprintf("g%d", g), Message: "skipped"})
			}
		})
	}
	// The event writer busy on the same file meanwhile.
	wg.Go(func() {
		for i := range 20 {
			ev := &timeline.Event{Message: fmt.Sprintf("event %d", i)}
			ev.Jejak.Provenance.Parser = "test"
			ev.Finalize()
			if _, err := st.Write(ctx, []*timeline.Event{ev}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	ws.AddQuiet(timeline.Warning{Kind: timeline.WarnNote, Offset: -1, Message: "quiet"})
	if err := ws.Flush(); err != nil {
		t.Fatal(err)
	}
	ws.Add(timeline.Warning{Kind: timeline.WarnNote, Offset: -1, Message: "after flush"})
	if err := ws.Flush(); err != nil {
		t.Fatal(err)
	}

	next := map[string]int64{}
	var total int
	var last []string
	err = st.Warnings(ctx, false, func(w timeline.Warning) error {
		total++
		if w.Kind != timeline.WarnSkipped {
			last = append(last, w.Message)
			return nil
		}
		if w.Offset != next[w.Path] {
			return fmt.Errorf("%s: warning %d stored where %d was due", w.Path, w.Offset, next[w.Path])
		}
		next[w.Path]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := adders*each + 2; total != want {
		t.Errorf("stored %d warnings, want %d", total, want)
	}
	for g := range adders {
		if n := next[fmt.Sprintf("g%d", g)]; n != each {
			t.Errorf("g%d: %d warnings stored, want %d", g, n, each)
		}
	}
	if fmt.Sprint(last) != "[quiet after flush]" {
		t.Errorf("last warnings %q, want the quiet one then the one added after Flush", last)
	}
	if n := len(ws.Sample()); n != summarySample {
		t.Errorf("sample of %d, want %d", n, summarySample)
	}
}

// TestMachineZoneFedEqualsStore: the machine-zone warnings a first ingest
// gives from the events it kept as they were written are those the store
// query gives, in its order (two SYSTEM hives of the same time, told
// apart by ID), and a re-ingest, which queries the store, gives the same.
func TestMachineZoneFedEqualsStore(t *testing.T) {
	dir := t.TempDir()
	evidence := filepath.Join(dir, "evidence")
	for _, m := range []string{"pc1", "pc2"} {
		hive := filepath.Join(evidence, m, "Windows", "System32", "config", "SYSTEM")
		if err := os.MkdirAll(filepath.Dir(hive), 0o755); err != nil {
			t.Fatal(err)
		}
		registrytest.WriteSystemHive(t, hive)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		zone string
		want int
	}{{"UTC", 2}, {"Asia/Jakarta", 0}} {
		t.Run(tc.zone, func(t *testing.T) {
			c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: tc.zone, ToolVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.AddEvidence(ctx, evidence, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, run := range []string{"first ingest", "re-ingest"} {
				res, err := c.Ingest(ctx, IngestOptions{Workers: 2})
				if err != nil {
					t.Fatalf("%s: %v", run, err)
				}
				fromStore, err := checkMachineZones(ctx, c.Store, c.Evidence.Location(), nil)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := json.Marshal(res.MachineZones)
				want, _ := json.Marshal(fromStore)
				if string(got) != string(want) {
					t.Errorf("%s: machine zones\n%s\nthe store query gives\n%s", run, got, want)
				}
				if len(res.MachineZones) != tc.want {
					t.Errorf("%s: %d machine-zone warnings, want %d: %s", run, len(res.MachineZones), tc.want, got)
				}
			}
		})
	}
}
