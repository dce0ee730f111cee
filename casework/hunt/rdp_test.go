package hunt

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// orec is a record as evtxexport shows it, with its time and every named
// value of EventData or UserData.
type orec struct {
	file    string
	id      uint64
	eventID string
	at      time.Time
	data    map[string]string
}

var (
	oRecordID = regexp.MustCompile(`<EventRecordID>(\d+)</EventRecordID>`)
	oEventID  = regexp.MustCompile(`<EventID[^>]*>(\d+)</EventID>`)
	oTime     = regexp.MustCompile(`<TimeCreated SystemTime="([^"]+)"`)
	oData     = regexp.MustCompile(`<Data Name="(\w+)">([^<]*)</Data>`)
	oUserData = regexp.MustCompile(`<(\w+)>([^<]*)</(\w+)>`)
)

func evtxexportRecords(t *testing.T, path string) []orec {
	t.Helper()
	blocks, ok, stderr := oracle.EvtxExport(t, path)
	if !ok {
		t.Fatalf("evtxexport refused %s: %s", path, stderr)
	}
	var out []orec
	for _, b := range blocks {
		s := string(b)
		r := orec{file: filepath.Base(path), data: map[string]string{}}
		if m := oRecordID.FindStringSubmatch(s); m != nil {
			r.id = parseU(m[1])
		}
		if m := oEventID.FindStringSubmatch(s); m != nil {
			r.eventID = m[1]
		}
		if m := oTime.FindStringSubmatch(s); m != nil {
			r.at, _ = time.Parse(time.RFC3339Nano, m[1])
		}
		for _, m := range oData.FindAllStringSubmatch(s, -1) {
			r.data[m[1]] = m[2]
		}
		if i := strings.Index(s, "<UserData>"); i >= 0 {
			for _, m := range oUserData.FindAllStringSubmatch(s[i:], -1) {
				if m[1] == m[3] {
					r.data[m[1]] = m[2]
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func parseU(s string) uint64 {
	var n uint64
	for _, c := range s {
		n = n*10 + uint64(c-'0')
	}
	return n
}

func rowKeys(f Finding) []string {
	var got []string
	for _, e := range f.Events {
		if !slices.Contains(e.State, "recovered") {
			got = append(got, baseName(e.Provenance)+":"+itoa(e.RecordID))
		}
	}
	slices.Sort(got)
	return got
}

// TestRDPChainAcrossLogs: Velociraptor's RDP recording (a vagrant user
// reconnecting over RDP to the console session of a DC). The four logs
// make one chain: 1149 from the client, the 4624 type 10 logons and 4778
// from that address, and the LocalSessionManager records of the session the
// reconnection (25) names, from that reconnection on (the console's own
// disconnect of that session just before, address LOCAL, is not the RDP
// client's). The oracle selects these by
// those plain criteria from evtxexport's output.
func TestRDPChainAcrossLogs(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	var paths []string
	var recs []orec
	for _, n := range []string{"RemoteConnectionManager", "Security", "LocalSessionManager", "System"} {
		p := parsertest.Corpus(t, "agpl/evtx/RDPAuth_"+n+".evtx")
		paths = append(paths, p)
		recs = append(recs, evtxexportRecords(t, p)...)
	}
	const client = "192.168.38.1"
	var want []string
	var start time.Time
	var reconnect time.Time
	session := ""
	for _, r := range recs {
		if r.eventID == "1149" && r.data["Param3"] == client && (start.IsZero() || r.at.Before(start)) {
			start = r.at
		}
		if r.eventID == "25" && r.data["Address"] == client {
			session, reconnect = r.data["SessionID"], r.at
		}
	}
	if start.IsZero() || session == "" {
		t.Fatalf("evtxexport: no 1149 or 25 from %s", client)
	}
	for _, r := range recs {
		switch {
		case r.eventID == "1149" && r.data["Param3"] == client,
			r.eventID == "4624" && r.data["LogonType"] == "10" && r.data["IpAddress"] == client,
			r.eventID == "4778" && r.data["ClientAddress"] == client,
			strings.HasPrefix(r.file, "RDPAuth_LocalSessionManager") && slices.Contains([]string{"21", "22", "23", "24", "25"}, r.eventID) &&
				r.data["SessionID"] == session && !r.at.Before(reconnect):
			want = append(want, r.file+":"+itoa(r.id))
		}
	}
	slices.Sort(want)

	st := buildCase(t, paths...)
	all := hunt(t, st, Config{})
	// One session, one finding: JEJAK-AUTH-06 yields the chain's 1149,
	// 4624 type 10 and 25 to it, and the console's 21 (address LOCAL,
	// a record carved from slack among them) is no remote logon.
	for _, f := range byRule(all, "JEJAK-AUTH-06") {
		t.Errorf("JEJAK-AUTH-06 beside the session: %s", f.Explanation)
	}
	fs := byRule(all, "JEJAK-RDP-01")
	if len(fs) != 1 {
		for _, f := range fs {
			t.Log(f.Key, rowKeys(f))
		}
		t.Fatalf("%d RDP chains, want 1", len(fs))
	}
	f := fs[0]
	if got := rowKeys(f); !slices.Equal(got, want) {
		t.Errorf("chain rows %v\nevtxexport selects %v", got, want)
	}
	for _, s := range []string{`WINDOMAIN\vagrant`, client, "authenticated (1149)", "logon type 10", "session reconnected (25)", "session disconnected (24)", "session logoff (23)"} {
		if !strings.Contains(f.Explanation, s) {
			t.Errorf("explanation lacks %q: %s", s, f.Explanation)
		}
	}
	if f.Technique != "T1021.001" || f.Severity != Medium {
		t.Errorf("technique %s severity %s, want T1021.001 medium without a cut-off", f.Technique, f.Severity)
	}
	t.Logf("%s [%s] %s", f.Key, f.Severity, f.Explanation)

	// With the cut-off just before the 1149, no baseline names the source:
	// high. After the chain: nothing.
	fs = byRule(hunt(t, st, Config{After: start.Add(-time.Hour)}), "JEJAK-RDP-01")
	if len(fs) != 1 || fs[0].Severity != High || !strings.Contains(fs[0].Explanation, "no RDP session from this source before the cut-off") {
		t.Errorf("cut-off before the chain: %+v", fs)
	}
	if fs = byRule(hunt(t, st, Config{After: start.Add(time.Hour)}), "JEJAK-RDP-01"); len(fs) != 0 {
		t.Errorf("cut-off after the chain: %d findings", len(fs))
	}
}

// TestRDPChainsByGap: a RemoteConnectionManager log (omerbenamram/evtx's
// sample, MIT) with five 1149s over 42 minutes: four of mpowers from one
// address, one of "A" from another. One account from one address is one
// chain until a gap of more than the rule's 30m; evtxexport's values and
// times decide the oracle's chains. With the cut-off after the first chain,
// the later ones, from other addresses, are high and say why.
func TestRDPChainsByGap(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	p := parsertest.Corpus(t, "logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx")
	var want [][]string
	last := map[string]time.Time{}
	cur := map[string]int{}
	for _, r := range evtxexportRecords(t, p) {
		if r.eventID != "1149" {
			continue
		}
		k := strings.ToLower(r.data["Param1"]) + "|" + r.data["Param3"]
		if l, ok := last[k]; !ok || r.at.Sub(l) > 30*time.Minute {
			cur[k] = len(want)
			want = append(want, nil)
		}
		want[cur[k]] = append(want[cur[k]], r.file+":"+itoa(r.id))
		last[k] = r.at
	}
	if len(want) < 3 {
		t.Fatalf("evtxexport: 1149 chains %v, want at least 2 to test the gap", want)
	}
	st := buildCase(t, p)
	fs := byRule(hunt(t, st, Config{}), "JEJAK-RDP-01")
	var got [][]string
	for _, f := range fs {
		if k := rowKeys(f); len(k) > 0 {
			got = append(got, k)
		}
	}
	for _, w := range want {
		slices.Sort(w)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("chains (live rows) %v\nevtxexport by 30m gaps %v", got, want)
	}
	// Cut-off after the first chain's last record.
	var firstIPs []string
	for _, r := range evtxexportRecords(t, p) {
		if r.eventID == "1149" && slices.Contains(want[0], r.file+":"+itoa(r.id)) {
			firstIPs = append(firstIPs, r.data["Param3"])
		}
	}
	var cut time.Time
	for _, f := range fs {
		if slices.Equal(rowKeys(f), want[0]) {
			cut = f.Last.Add(time.Second)
		}
	}
	fs = byRule(hunt(t, st, Config{After: cut}), "JEJAK-RDP-01")
	for _, f := range fs {
		if f.First.Before(cut) {
			t.Errorf("finding before the cut-off: %s", f.Key)
		}
		// Each chain after the cut-off is from an address none of the
		// chains before it used (evtxexport's Param3): high, and said so.
		known := false
		for _, ip := range firstIPs {
			known = known || strings.Contains(f.Key, " from "+ip+" ")
		}
		if known || f.Severity != High || !strings.Contains(f.Explanation, "no RDP session from this source before the cut-off") {
			t.Errorf("chain after the cut-off: [%s] %s", f.Severity, f.Explanation)
		}
	}
}

// TestRDPNotOnBenignLogs: logs without remote sessions raise no chain,
// the console logons of the LocalSessionManager log (address LOCAL) alone
// included.
func TestRDPNotOnBenignLogs(t *testing.T) {
	for _, p := range []string{
		"agpl/evtx/RDPAuth_LocalSessionManager.evtx",
		"logs/windows/security.evtx",
		"logs/windows/System2.evtx",
		"agpl/evtx/TaskScheduler.evtx",
		"more/evtx/mitre_cc0/ID4624-Mimikatz_pass_the_hash.evtx",
	} {
		fs := hunt(t, buildCase(t, parsertest.Corpus(t, p)), Config{})
		for _, f := range byRule(fs, "JEJAK-RDP-01") {
			if p == "agpl/evtx/RDPAuth_LocalSessionManager.evtx" && strings.Contains(f.Key, "192.168.38.1") {
				// The reconnection (25) carries the client address: that
				// one is a real RDP session even without the other logs.
				continue
			}
			t.Errorf("%s: RDP chain %s: %s", p, f.Key, f.Explanation)
		}
	}
}

// pyEvtx1149 lists "record computer param1 param3" for the 1149 records the
// python evtx crate (omerbenamram/evtx, an independent decoder) reads.
const pyEvtx1149 = `
import sys, re, evtx
for r in evtx.PyEvtxParser(sys.argv[1]).records():
    x = r["data"]
    if re.search(r"<EventID[^>]*>1149<", x):
        p = dict(re.findall(r"<(Param\d)>([^<]*)</Param\d>", x))
        c = re.search(r"<Computer>([^<]*)</Computer>", x).group(1)
        print(r["event_record_id"], c, p.get("Param1", ""), p.get("Param3", ""))
`

// TestRDPChainsPerHost: the EVTX-to-MITRE file (CC0) of 1149s collected
// from several servers (one account, one source, "RDP success logins to
// multiple hosts"), which evtxexport cannot read; the python evtx crate is
// the oracle. Each host is its own chain, with its records; together they
// are a fan-out, stated on the first.
func TestRDPChainsPerHost(t *testing.T) {
	oracle.Tool(t, "python3", "python3")
	if err := exec.Command("python3", "-c", "import evtx").Run(); err != nil {
		t.Skip("python evtx module missing: pip install evtx")
	}
	p := parsertest.Corpus(t, "more/evtx/mitre_cc0/ID1149-RDP_success_logins.evtx")
	want := map[string][]int64{} // key as the finding names it → records
	for _, line := range strings.Split(strings.TrimSpace(string(oracle.Output(t, "python3", "-c", pyEvtx1149, p))), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("python evtx line %q", line)
		}
		k := "RDP " + f[2] + " from " + f[3] + " on " + f[1]
		want[k] = append(want[k], int64(parseU(f[0])))
	}
	if len(want) < 2 {
		t.Fatalf("python evtx: %v, want several hosts", want)
	}
	st := buildCase(t, p)
	fs := byRule(hunt(t, st, Config{After: time.Date(2021, 12, 1, 0, 0, 0, 0, time.UTC)}), "JEJAK-RDP-01")
	if len(fs) != len(want) {
		t.Fatalf("%d chains, python evtx has %d hosts", len(fs), len(want))
	}
	for _, f := range fs {
		k, _, _ := strings.Cut(f.Key, " at ")
		var got []int64
		for _, e := range f.Events {
			got = append(got, e.Provenance.Record)
		}
		slices.Sort(got)
		if w := want[k]; !slices.Equal(got, w) {
			t.Errorf("%s: records %v, python evtx %v", k, got, w)
		}
	}
	// One account from one address on every host within a second: lateral
	// movement. The first session (report order) is high and names the
	// fan-out; the others are low and point to it.
	for i, f := range fs {
		sev, says := Low, fmt.Sprintf("one of %d hosts this account reached from this address within the hour", len(want))
		if i == 0 {
			sev, says = High, fmt.Sprintf("opened sessions on %d hosts within the hour", len(want))
		}
		if f.Severity != sev || !strings.Contains(f.Explanation, says) {
			t.Errorf("%s: want %s and %q: [%s] %s", f.Key, sev, says, f.Severity, f.Explanation)
		}
	}
}

// TestRDPRepeatSessionsLow: an Attack Range recording in the SigmaHQ
// snapshot holds a day of the operator's RDP sessions (one account, one
// address, hours apart). Each session is a chain of its own; only the
// first keeps the rule's severity, the repeats are low and say why. With
// the cut-off after the first, the later ones are the baseline's routine:
// low.
func TestRDPRepeatSessionsLow(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sigmaRegression(t), "file", "file_event", "file_event_win_cred_dump_tools_dropped_files", "*.evtx"))
	if len(files) != 1 {
		t.Skip("Attack Range recording not in this SigmaHQ snapshot")
	}
	fs := byRule(hunt(t, buildCase(t, files[0]), Config{}), "JEJAK-RDP-01")
	if len(fs) < 2 {
		t.Fatalf("%d RDP chains, want the day's several sessions", len(fs))
	}
	first := map[string]bool{}
	for _, f := range fs { // report order: by first time
		pair, _, _ := strings.Cut(f.Key, " at ")
		want := Low
		if !first[pair] {
			first[pair], want = true, Medium
		}
		if f.Severity != want {
			t.Errorf("%s: severity %s, want %s", f.Key, f.Severity, want)
		}
		if want == Low && !strings.Contains(f.Explanation, "the same account from this address had a session at ") {
			t.Errorf("%s: repeat not stated: %s", f.Key, f.Explanation)
		}
	}
	// The cut-off after the first session: the operator's later sessions
	// from the same address are the baseline's routine, low.
	cut := fs[0].Last.Add(time.Second)
	later := byRule(hunt(t, buildCase(t, files[0]), Config{After: cut}), "JEJAK-RDP-01")
	if len(later) == 0 {
		t.Fatal("no session after the first")
	}
	for _, f := range later {
		if f.Severity != Low || !strings.Contains(f.Explanation, "this account had RDP sessions from this source before the cut-off") {
			t.Errorf("routine session after the cut-off: [%s] %s", f.Severity, f.Explanation)
		}
	}
}

// TestLoopback: the client addresses Windows logs for an RDP connection
// that came through a local port forward.
func TestLoopback(t *testing.T) {
	for ip, want := range map[string]bool{"127.0.0.1": true, "::1": true, "::%16777216": true, "127.0.0.2": true,
		"::ffff:127.0.0.1": true, "192.168.38.1": false, "LOCAL": false, "": false, "fe80::1%12": false} {
		if got := loopback(ip); got != want {
			t.Errorf("loopback(%q) = %v, want %v", ip, got, want)
		}
	}
}
