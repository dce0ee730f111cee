package hunt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// dispatchStores are the cases the dispatch tests hunt: the whole corpus
// (every EVTX file under it, the syslog, auth, auditd, web, database and
// utmp logs, the Windows artefacts), the README's example evidence, and
// the corpus's disk image read as a file system ($MFT times, deleted
// files).
func dispatchStores(t *testing.T) map[string]*sqlite.Store {
	t.Helper()
	root, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	example, err := filepath.Abs(filepath.Join("..", "..", "fixtures", "example"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*sqlite.Store{}
	out["corpus+example"], _ = casetest.Build(t, root, example)
	out["image.E01"], _ = casetest.BuildDisk(t, filepath.Join(root, "images", "image.E01"))
	return out
}

// dispatchConfigs run every analyzer (working hours and watched paths
// set), with no cut-off and with cut-offs in the corpus's years, so that
// both the baseline's and the findings' paths run.
func dispatchConfigs(t *testing.T) []Config {
	wh, err := ParseWorkingHours("07:00-19:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	watch := []string{"/var/log", "Windows/System32/winevt/Logs", "/etc", "/home", "/root"}
	var out []Config
	for _, after := range []time.Time{{}, time.Date(2016, 7, 9, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)} {
		out = append(out, Config{After: after, WorkingHours: wh, Watch: watch, TempDir: t.TempDir()})
	}
	return out
}

// TestDispatchFindings: the hunt's findings, every analyzer's, are the
// same whether each event goes to the analyzers that want it (dispatch.go)
// or to every analyzer, on every corpus event.
func TestDispatchFindings(t *testing.T) {
	for name, st := range dispatchStores(t) {
		for _, cfg := range dispatchConfigs(t) {
			run := func(all bool) ([]byte, int) {
				t.Helper()
				dispatchAll = all
				defer func() { dispatchAll = false }()
				fs, err := Hunt(context.Background(), st, cfg)
				if err != nil {
					t.Fatal(err)
				}
				b, err := json.Marshal(fs)
				if err != nil {
					t.Fatal(err)
				}
				return b, len(fs)
			}
			every, n := run(true)
			wanted, _ := run(false)
			if string(every) != string(wanted) {
				t.Errorf("%s after %v: findings differ when each event goes only to the analyzers that want it (%d and %d bytes)",
					name, cfg.After, len(every), len(wanted))
			}
			t.Logf("%s after %v: %d findings", name, cfg.After, n)
		}
	}
}

// TestDispatchCoverage runs every analyzer on every corpus event, the ones
// its interest (wants) leaves out included, and fails when such an event
// changes the analyzer's state (all it holds, followed through pointers,
// maps, slices): an analyzer given a new test the interest does not name
// fails here, on the first corpus event that meets it.
func TestDispatchCoverage(t *testing.T) {
	ctx := context.Background()
	for name, st := range dispatchStores(t) {
		for _, cfg := range dispatchConfigs(t) {
			h, err := newHunter(ctx, st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			d := newDispatch(h.anas)
			if len(d.extra) > 0 {
				t.Fatalf("%d analyzers beyond the dispatch's 64", len(d.extra))
			}
			// A left-out analyzer's state is taken when a run of events it
			// does not want starts, and compared when the run ends (before
			// an event it wants, and at the end): a run of events that
			// changes it names the first and last.
			type run struct {
				open        bool
				fp          uint64
				first, last *timeline.Event
			}
			runs := make([]run, len(h.anas))
			fps := newFingerprinter(h.anas)
			var n, checked int
			end := func(i int) {
				r := &runs[i]
				if r.open && fps.of(i) != r.fp {
					t.Fatalf("%s after %v: rule %s (%T) changed its state on an event its interest leaves out, between events %s and %s: wants() must name it\n first %s (action %q, dataset %q, parser %q, event ID %q)\n last %s (action %q, dataset %q, parser %q, event ID %q)",
						name, cfg.After, h.anaRules[i].ID, h.anas[i], r.first.Jejak.ID, r.last.Jejak.ID,
						r.first.Jejak.Provenance.Path, r.first.Event.Action, r.first.Event.Dataset, r.first.Jejak.Provenance.Parser, r.first.Event.Code,
						r.last.Jejak.Provenance.Path, r.last.Event.Action, r.last.Event.Dataset, r.last.Jejak.Provenance.Parser, r.last.Event.Code)
				}
				r.open = false
			}
			err = st.Search(ctx, timeline.Query{To: cfg.Before}, func(ev *timeline.Event) error {
				n++
				m := d.mask(ev)
				// The analyzers that want the event first: they may change
				// the state of those they share it with (brute force's lead
				// closes the episodes of all three rules), whose runs end
				// before and start after.
				for i, a := range h.anas {
					if m&(1<<i) != 0 {
						end(i)
						for _, j := range fps.group[i] {
							end(j)
						}
						a.observe(ev)
					}
				}
				for i, a := range h.anas {
					if m&(1<<i) != 0 {
						continue
					}
					r := &runs[i]
					if !r.open {
						r.open, r.fp, r.first = true, fps.of(i), ev
					}
					r.last = ev
					a.observe(ev)
					checked++
				}
				return nil
			})
			for i := range runs {
				end(i)
			}
			if h.seqs != nil {
				_ = h.seqs.release()
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || name == "corpus+example" && n < 50_000 {
				t.Fatalf("%s: %d events, want the whole case", name, n)
			}
			t.Logf("%s after %v: %d events, %d left-out observes checked, %d analyzers", name, cfg.After, n, checked, len(h.anas))
		}
	}
}

// TestDispatchEventIDs: for every EVTX event ID up to 20,000 (and
// MSSQL's), an event an analyzer's interest leaves out changes nothing in
// it, even one with every provider, channel and data field the analyzers
// look for: a test of a new event ID the interest misses fails here even
// if no corpus file has such a record.
func TestDispatchEventIDs(t *testing.T) {
	ctx := context.Background()
	wh, err := ParseWorkingHours("07:00-19:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{WorkingHours: wh, Watch: []string{"/var/log"}, TempDir: t.TempDir(), Rules: rules}
	data := map[string]string{}
	for _, k := range []string{"TargetUserName", "SubjectUserName", "TargetSid", "TargetDomainName", "IpAddress", "WorkstationName",
		"Param1", "Param2", "Param3", "User", "Address", "SessionID", "AccountName", "AccountDomain", "ClientAddress",
		"TaskName", "ServiceName", "ImagePath", "ServiceFileName", "ObjectName", "ObjectValueName", "TargetObject",
		"RuleName", "ModifyingApplication", "ModifyingUser", "Channel", "ProcessName", "TargetServerName", "Data1",
		"MemberName", "MemberSid", "TaskContent"} {
		data[k] = "mallory"
	}
	data["IpAddress"], data["Param3"], data["ClientIP"], data["ClientAddress"], data["Address"] = "203.0.113.9", "203.0.113.9", "203.0.113.9:4444", "203.0.113.9", "203.0.113.9"
	data["LogonType"], data["Status"], data["LogonProcessName"], data["AuthenticationPackageName"] = "10", "0x18", "NtLmSsp", "NTLM"
	data["PreviousTime"], data["NewTime"], data["OldTime"] = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"
	data["NewValue"], data["Details"], data["SettingType"], data["SettingValue"] = "0", "DWORD (0x00000001)", "Enable", "No"
	data["Data"] = "mallory"
	const provider = "Microsoft-Windows-Security-Auditing TerminalServices-RemoteConnectionManager RemoteDesktopServices-RdpCoreTS " +
		"TerminalServices-LocalSessionManager Kernel-General Eventlog Sysmon Windows Defender MSSQLSERVER TaskScheduler Firewall"
	ids := make([]int, 0, 20_010)
	for id := range 20_000 {
		ids = append(ids, id)
	}
	ids = append(ids, 18453, 18454, 18455, 18456)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var checked int
	for _, channel := range []string{"Security", "Microsoft-Windows-TaskScheduler/Operational Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"} {
		for _, id := range ids {
			at = at.Add(time.Second)
			ev := &timeline.Event{Timestamp: at, Message: "x",
				Event:  timeline.EventMeta{Code: strconv.Itoa(id)},
				Host:   &timeline.Host{Name: "WS1"},
				User:   &timeline.User{Name: "mallory", ID: "S-1-5-21-1"},
				Winlog: &timeline.Winlog{EventID: id, ProviderName: provider, Channel: channel, ComputerName: "WS1", RecordID: uint64(id + 1), EventData: data, Logon: &timeline.WinlogLogon{Type: "Network", ID: "0x1"}},
				Source: &timeline.Endpoint{IP: "203.0.113.9"},
				Jejak:  timeline.Jejak{ID: fmt.Sprintf("%032x", id), Provenance: timeline.Provenance{Path: "x.evtx", Parser: "evtx", Record: int64(id + 1)}},
			}
			// A new hunt for each: the state of the last does not grow.
			h, err := newHunter(ctx, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			fps := newFingerprinter(h.anas)
			m := newDispatch(h.anas).mask(ev)
			for i, a := range h.anas {
				if m&(1<<i) != 0 {
					continue
				}
				before := fps.of(i)
				a.observe(ev)
				checked++
				if fps.of(i) != before {
					t.Fatalf("rule %s (%T) changed its state on event ID %d of channel %q, which its interest leaves out: wants() must name it",
						h.anaRules[i].ID, a, id, channel)
				}
			}
			if h.seqs != nil {
				_ = h.seqs.release()
			}
		}
	}
	t.Logf("%d left-out observes checked", checked)
}

// TestDispatchLists: the lists the interests use hold what the tests they
// stand for accept.
func TestDispatchLists(t *testing.T) {
	for id := range 70_000 {
		for _, w := range []timeline.Winlog{{EventID: id, Channel: "Security"}, {EventID: id, Channel: "Microsoft-Windows-TaskScheduler/Operational", ProviderName: "Microsoft-Windows-TaskScheduler"}} {
			if taskKind(&w) != "" && !slices.Contains(taskIDs, id) {
				t.Errorf("taskKind knows event ID %d, taskIDs does not", id)
			}
		}
	}
	for _, a := range []string{"ssh_failed_login", "logon-failed", "failed_logon", "auth_failure", "ssh_login", "logged-in",
		"rdp-authenticated", "rdp-session-logon", "rdp-session-reconnected", "logon", "logoff", "user_created", "x"} {
		for _, outcome := range []string{"", "success", "failure"} {
			ev := &timeline.Event{Event: timeline.EventMeta{Action: a, Outcome: outcome}}
			if classifyAuth(ev) != authNone && !slices.Contains(authActions, a) {
				t.Errorf("classifyAuth takes action %q, authActions does not", a)
			}
		}
	}
}

// fingerprints hashes all an analyzer holds, following pointers, maps
// (in any order), slices and interfaces; the hunter, the rule and the
// operating system's objects it points to are left out (shared, or not
// the analyzer's state). State two analyzers share (the sequence lists,
// brute force's episodes) counts for the one whose interest is not empty:
// the others are handed no event, and the one that is sees a change any of
// them makes.
type fingerprints struct {
	seed  maphash.Seed
	anas  []analyzer
	skip  []map[uintptr]bool // per analyzer, the shared objects left out
	group [][]int            // per analyzer, the others it shares an object with
}

func newFingerprinter(anas []analyzer) *fingerprints {
	fs := &fingerprints{seed: maphash.MakeSeed(), anas: anas, skip: make([]map[uintptr]bool, len(anas)), group: make([][]int, len(anas))}
	// The objects an analyzer's fields point to, and how many analyzers
	// point to each.
	refs := make([][]uintptr, len(anas))
	count := map[uintptr]int{}
	for i, a := range anas {
		v := reflect.ValueOf(a)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		v = v.Elem()
		for j := range v.NumField() {
			f := v.Field(j)
			if f.Kind() == reflect.Pointer && !f.IsNil() && !skipTypes[f.Type().Elem().String()] {
				refs[i] = append(refs[i], f.Pointer())
				count[f.Pointer()]++
			}
		}
	}
	for i := range anas {
		for j := range anas {
			if j != i && slices.ContainsFunc(refs[i], func(p uintptr) bool { return slices.Contains(refs[j], p) }) {
				fs.group[i] = append(fs.group[i], j)
			}
		}
	}
	for i, a := range anas {
		w, ok := a.(wanter)
		if !ok || !reflect.ValueOf(w.wants()).IsZero() {
			continue
		}
		for _, p := range refs[i] {
			if count[p] > 1 {
				if fs.skip[i] == nil {
					fs.skip[i] = map[uintptr]bool{}
				}
				fs.skip[i][p] = true
			}
		}
	}
	return fs
}

// of is the fingerprint of analyzer i's state now.
func (fs *fingerprints) of(i int) uint64 {
	var h maphash.Hash
	h.SetSeed(fs.seed)
	f := fingerprinter{seed: fs.seed, path: map[uintptr]bool{}, skip: fs.skip[i]}
	f.value(&h, reflect.ValueOf(fs.anas[i]))
	return h.Sum64()
}

type fingerprinter struct {
	seed maphash.Seed
	path map[uintptr]bool // the pointers being walked: a cycle stops there
	skip map[uintptr]bool // objects left out
}

var skipTypes = map[string]bool{
	"hunt.hunter": true, "hunt.Rule": true, "os.File": true, "regexp.Regexp": true, "time.Location": true,
}

func (f *fingerprinter) value(h *maphash.Hash, v reflect.Value) {
	var b [8]byte
	word := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	word(uint64(v.Kind()))
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			word(1)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		word(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		word(v.Uint())
	case reflect.Float32, reflect.Float64:
		word(math.Float64bits(v.Float()))
	case reflect.String:
		word(uint64(v.Len()))
		h.WriteString(v.String())
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		word(uint64(v.Len()))
		if plain(v.Type().Elem()) {
			h.Write(unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*int(v.Type().Elem().Size())))
			return
		}
		for i := range v.Len() {
			f.value(h, v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			f.value(h, v.Index(i))
		}
	case reflect.Struct:
		if skipTypes[v.Type().String()] {
			return
		}
		if v.CanAddr() && plain(v.Type()) {
			h.Write(unsafe.Slice((*byte)(v.Addr().UnsafePointer()), v.Type().Size()))
			return
		}
		for i := range v.NumField() {
			if k := v.Field(i).Kind(); k == reflect.Func || k == reflect.Chan || k == reflect.UnsafePointer {
				continue
			}
			f.value(h, v.Field(i))
		}
	case reflect.Pointer:
		if v.IsNil() || skipTypes[v.Type().Elem().String()] {
			return
		}
		p := v.Pointer()
		if f.skip[p] {
			return
		}
		if f.path[p] {
			word(1) // a cycle
			return
		}
		f.path[p] = true
		f.value(h, v.Elem())
		delete(f.path, p)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		h.WriteString(v.Elem().Type().String())
		f.value(h, v.Elem())
	case reflect.Map:
		if v.IsNil() {
			return
		}
		word(uint64(v.Len()))
		// Each entry on its own, summed: the map's order does not count.
		var sum uint64
		it := v.MapRange()
		for it.Next() {
			var e maphash.Hash
			e.SetSeed(f.seed)
			f.value(&e, it.Key())
			f.value(&e, it.Value())
			sum += e.Sum64()
		}
		word(sum)
	}
}

// plain: a type whose values hold no pointers, hashed as its bytes. A
// padded struct's padding is hashed too: it is the same before and after
// an observe that writes nothing, which is all fingerprint must tell.
func plain(t reflect.Type) bool {
	if p, ok := plainTypes[t]; ok {
		return p
	}
	p := false
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		p = true
	case reflect.Array:
		p = plain(t.Elem())
	case reflect.Struct:
		p = true
		for i := range t.NumField() {
			p = p && plain(t.Field(i).Type)
		}
	}
	plainTypes[t] = p
	return p
}

var plainTypes = map[reflect.Type]bool{}
