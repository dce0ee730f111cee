package evt

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

const sysEvent = "windows/evt/SysEvent.Evt"

// exported is one record as evtexport prints it.
type exported struct {
	number           uint32
	created, written time.Time
	eventType        int
	computer, source string
	category         int
	identifier       uint32
	strings          []string
	sid              string
}

// evtexport runs libevt's evtexport in mode and reads its records.
func evtexport(t *testing.T, file, mode string) []exported {
	t.Helper()
	oracle.Tool(t, "evtexport", "libevt-utils")
	out := oracle.Output(t, "evtexport", "-m", mode, file)
	var res []exported
	blocks := strings.Split(string(out), "\n\nEvent number\t\t\t: ")
	for bi, blk := range blocks[1:] {
		if bi == len(blocks)-2 {
			// The last record is followed by evtexport's closing blank
			// line.
			blk = strings.TrimSuffix(blk, "\n\n")
		}
		var e exported
		lines := strings.Split(blk, "\n")
		n, err := strconv.ParseUint(strings.TrimSpace(lines[0]), 10, 32)
		if err != nil {
			t.Fatalf("evtexport block %q", blk[:min(80, len(blk))])
		}
		e.number = uint32(n)
		cur := -1 // the string a continuation line belongs to
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, "\t: ")
			k = strings.TrimRight(k, "\t")
			if !ok || strings.Contains(k, " ") && !isKey(k) {
				if cur >= 0 {
					e.strings[cur] += "\n" + l
				}
				continue
			}
			switch {
			case k == "Creation time":
				e.created = exportTime(t, v)
			case k == "Written time":
				e.written = exportTime(t, v)
			case k == "Event type":
				e.eventType, _ = strconv.Atoi(strings.TrimSuffix(v[strings.LastIndexByte(v, '(')+1:], ")"))
			case k == "Computer name":
				e.computer = v
			case k == "Source name":
				e.source = v
			case k == "Event category":
				e.category, _ = strconv.Atoi(v)
			case k == "Event identifier":
				x, _ := strconv.ParseUint(strings.TrimPrefix(strings.Fields(v)[0], "0x"), 16, 32)
				e.identifier = uint32(x)
			case k == "User security identifier":
				e.sid = v
			case strings.HasPrefix(k, "String: "):
				e.strings = append(e.strings, v)
				cur = len(e.strings) - 1
			}
		}
		res = append(res, e)
	}
	return res
}

func isKey(k string) bool {
	switch k {
	case "Creation time", "Written time", "Event type", "Computer name", "Source name", "Event category",
		"Event identifier", "Number of strings", "User security identifier":
		return true
	}
	return strings.HasPrefix(k, "String: ")
}

func exportTime(t *testing.T, v string) time.Time {
	tm, err := time.Parse("Jan 02, 2006 15:04:05 UTC", v)
	if err != nil {
		t.Fatalf("evtexport time %q: %v", v, err)
	}
	return tm
}

// compare checks events against evtexport's records: same count, order and
// values. evtexport prints strings as they are ("\r\n" included), so they
// compare exactly.
func compare(t *testing.T, evs []*timeline.Event, want []exported) {
	t.Helper()
	if len(evs) != len(want) {
		t.Fatalf("%d events, evtexport %d records", len(evs), len(want))
	}
	for i, ev := range evs {
		w := want[i]
		wl := ev.Winlog
		if wl.RecordID != uint64(w.number) || !ev.Timestamp.Equal(w.created) ||
			ev.Jejak.Data["written_time"] != w.written.Format(time.RFC3339) ||
			wl.EventID != int(w.identifier&0xffff) || ev.Jejak.Data["qualifiers"] != strconv.Itoa(int(w.identifier>>16)) ||
			wl.ProviderName != w.source || wl.ComputerName != w.computer ||
			ev.Jejak.Data["event_type"] != strconv.Itoa(w.eventType) || ev.Jejak.Data["event_category"] != strconv.Itoa(w.category) ||
			ev.Jejak.Data["user_sid"] != w.sid {
			t.Errorf("record %d: event %+v %+v %v, evtexport %+v", i, ev.Timestamp, wl, ev.Jejak.Data, w)
			continue
		}
		for j, s := range w.strings {
			if _, ok := wl.EventData["Data"+strconv.Itoa(j+1)]; !ok && ev.Jejak.Data["recovered_partial"] != "" {
				break
			}
			if got := wl.EventData["Data"+strconv.Itoa(j+1)]; got != s {
				t.Errorf("record %d string %d: %q, evtexport %q", w.number, j+1, got, s)
			}
		}
		if ev.Jejak.Data["recovered_partial"] != "" {
			// libevt reads strings past the overwrite until the data
			// offset (more than the record declares); ours are the
			// record's own count, and must be the start of evtexport's.
			continue
		}
		if _, extra := wl.EventData["Data"+strconv.Itoa(len(w.strings)+1)]; extra {
			t.Errorf("record %d: more strings than evtexport's %d", w.number, len(w.strings))
		}
	}
}

// TestSysEventOracle reads plaso's SysEvent.Evt (a dirty, wrapped XP
// System log) and compares every live record with evtexport, and every
// recovered one with evtexport -m recovered; plaso's test expects 6063
// records and 438 recovered, and record 1392's values.
func TestSysEventOracle(t *testing.T) {
	file := parsertest.Corpus(t, sysEvent)
	var acct parsers.Accounting
	e := parsertest.FileEntry(t, file)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*timeline.Event
	var warns []*parsers.RecordError
	err = New().Parse(context.Background(), &parsers.Source{Entry: e, R: f, ReaderAt: f, Size: e.Size, Zone: time.UTC,
		Warn: func(w *parsers.RecordError) { warns = append(warns, w) }, Account: func(a parsers.Accounting) { acct = a }},
		func(ev *timeline.Event) error { evs = append(evs, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Logf("warning: %v", w)
	}
	var live, rec []*timeline.Event
	for _, ev := range evs {
		if len(ev.Jejak.Tags) > 0 {
			rec = append(rec, ev)
		} else {
			live = append(live, ev)
		}
	}
	// plaso's expectations.
	if len(live) != 6063 || len(rec) != 438 || acct.Live != 6063 || acct.Recovered != 438 || acct.Declared != 6063 {
		t.Errorf("%d live, %d recovered (accounting %+v); plaso expects 6063 and 438", len(live), len(rec), acct)
	}
	if len(live) > 0 {
		ev := live[0]
		want2 := "\"The system detected a possible attempt to compromise security. Please ensure that you can contact the server that authenticated you.\r\n (0xc0000388)\""
		if ev.Winlog.RecordID != 1392 || ev.Winlog.EventID != 40961 || ev.Winlog.ProviderName != "LSASRV" || ev.Winlog.ComputerName != "WKS-WINXP32BIT" ||
			!ev.Timestamp.Equal(time.Date(2011, 7, 27, 6, 41, 47, 0, time.UTC)) || ev.Winlog.Channel != "System" ||
			ev.Winlog.EventData["Data1"] != "cifs/CONTROLLER" || ev.Winlog.EventData["Data2"] != want2 ||
			ev.Jejak.Data["event_type"] != "2" || ev.Jejak.Data["event_category"] != "3" || ev.Log == nil || ev.Log.Level != "warning" {
			t.Errorf("record 1392 (plaso's expectation): %+v %+v %v", ev.Timestamp, ev.Winlog, ev.Jejak.Data)
		}
	}
	compare(t, live, evtexport(t, file, "items"))
	compare(t, rec, evtexport(t, file, "recovered"))
	for _, ev := range rec {
		if ev.Jejak.Data["recovered_from"] == "" || ev.Jejak.Tags[0] != TagRecovered {
			t.Fatalf("recovered event without recovered_from: %v", ev.Jejak.Data)
		}
	}
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, sysEvent))
}

// TestCleanHeader: a copy whose header is rewritten with the end-of-file
// record's offsets and the dirty flag cleared (a log closed cleanly) reads
// the same records, with no warning; a header whose end offset is wrong
// and no end-of-file record at all reads what the header gives and warns.
func TestCleanHeader(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, sysEvent))
	if err != nil {
		t.Fatal(err)
	}
	dirty := parse(t, b)
	i := bytes.Index(b, eofMagic) - 4
	le := binary.LittleEndian
	clean := bytes.Clone(b)
	copy(clean[16:32], b[i+20:i+36])
	le.PutUint32(clean[36:], le.Uint32(b[36:])&^flagDirty)
	res := parse(t, clean)
	if len(res.Events) != len(dirty.Events) || len(res.Warnings) != len(dirty.Warnings) {
		t.Errorf("clean header: %d events %d warnings, dirty %d %d", len(res.Events), len(res.Warnings), len(dirty.Events), len(dirty.Warnings))
	}
	// No end-of-file record: the (stale) header is all there is.
	noEOF := bytes.Clone(b)
	copy(noEOF[i+4:], make([]byte, 16))
	res = parse(t, noEOF)
	if len(res.Warnings) == 0 || len(res.Events) == 0 {
		t.Errorf("no end-of-file record: %d events, %d warnings", len(res.Events), len(res.Warnings))
	}
}

func parse(t *testing.T, b []byte) parsertest.Result {
	t.Helper()
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("SysEvent.Evt", b, time.Time{}), time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res
}

// FuzzParse: no input panics; seeded with the corpus file's head and ring.
func FuzzParse(f *testing.F) {
	if dir, err := parsertest.CorpusDir(); err == nil {
		if b, err := os.ReadFile(dir + "/" + sysEvent); err == nil {
			f.Add(b[:64<<10])
			f.Add(append(b[:48:48], b[len(b)-8192:]...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("x.evt", data, time.Time{}), time.UTC)
	})
}

func TestChannelOf(t *testing.T) {
	for in, want := range map[string]string{
		"WINDOWS/system32/config/SecEvent.Evt":    "Security",
		`C:\WINDOWS\system32\config\SysEvent.Evt`: "System",
		"AppEvent.evt":        "Application",
		"config/DnsEvent.Evt": "DnsEvent",
		"evidence.bin":        "",
	} {
		if got := channelOf(in); got != want {
			t.Errorf("channelOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLegacySecurity: the XP/2003 Security IDs get the evtx parser's
// actions and fields, and their positional strings the Vista names the
// hunt's analyzers read (no Security .evt is in the corpus: the records
// are built here from the string layouts Microsoft documents).
func TestLegacySecurity(t *testing.T) {
	f := &file{channel: "Security"}
	at := time.Date(2008, 3, 1, 10, 0, 0, 0, time.UTC)
	fail := f.event(&record{number: 7, generated: at, written: at, eventID: 529, eventType: 16, source: "Security", computer: "TABULASI",
		strings: []string{"administrator", "TABULASI", "10", "User32  ", "Negotiate", "TABULASI", "TABULASI$", "WORKGROUP", "(0x0,0x3E7)", "1234", "-", "203.0.113.7", "1025"}}, "")
	if fail.Event.Action != "logon-failed" || fail.Event.Outcome != "failure" || fail.User == nil || fail.User.Name != "administrator" ||
		fail.Source == nil || fail.Source.IP != "203.0.113.7" || fail.Source.Port != 1025 || fail.Winlog.Logon == nil || fail.Winlog.Logon.Type != "RemoteInteractive" ||
		fail.Winlog.EventData["TargetUserName"] != "administrator" || fail.Winlog.EventData["IpAddress"] != "203.0.113.7" || fail.Winlog.EventData["Data12"] != "203.0.113.7" {
		t.Errorf("529: %+v %+v %+v %v", fail.Event, fail.User, fail.Source, fail.Winlog.EventData)
	}
	add := f.event(&record{number: 8, generated: at, written: at, eventID: 636, eventType: 8, source: "Security", computer: "TABULASI",
		strings: []string{"-", "S-1-5-21-1-2-3-1005", "Administrators", "Builtin", "S-1-5-32-544", "admin", "TABULASI", "(0x0,0x1F2A3)", "-"}}, "")
	if add.Event.Action != "added-member-to-group" || add.Group == nil || add.Group.Name != "Administrators" ||
		add.Winlog.EventData["MemberSid"] != "S-1-5-21-1-2-3-1005" || add.User == nil || add.User.Name != "admin" {
		t.Errorf("636: %+v %+v %+v %v", add.Event, add.User, add.Group, add.Winlog.EventData)
	}
	// The same ID from another source is not a Security audit event.
	other := f.event(&record{number: 9, generated: at, written: at, eventID: 529, source: "MyApp", strings: []string{"x"}}, "")
	if other.Event.Action != "" || len(other.Winlog.EventData) != 1 {
		t.Errorf("529 from MyApp normalised: %+v %v", other.Event, other.Winlog.EventData)
	}
}
