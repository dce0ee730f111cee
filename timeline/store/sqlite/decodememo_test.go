package sqlite

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestMemoShares decodes a run of syslog-like documents as a transient
// read does and as Search does: the events are equal, the repeated
// sub-objects of the transient read are one value (the memos found them),
// and its shared slices cannot be appended to in place.
func TestMemoShares(t *testing.T) {
	mk := func(i int) []byte {
		action, cat := "ssh_failed_login", `["authentication"]`
		if i%3 == 0 {
			action, cat = "ssh_login", `["authentication","session"]`
		}
		return fmt.Appendf(nil, `{"@timestamp":"2026-01-01T00:00:%02dZ","event":{"action":%q,"category":%s,"kind":"event","type":["start"]},`+
			`"host":{"name":"tabulasi-01"},"jejak":{"data":{"ssh.method":"password"},"id":"","provenance":{"chain":["file:auth.log"],"evidence_name":"auth.log","offset":%d,"parser":"syslog","path":"auth.log","record":%d},`+
			`"time":{"year_basis":"file mtime","year_inferred":true,"zone_assumed":"UTC"}},"message":"line %d","user":{"name":"u%d"}}`,
			i, action, cat, i*100, i+1, i, i%2)
	}
	var in interner
	shared := interner{share: true}
	var events []timeline.Event
	for i := range 12 {
		doc := mk(i)
		var plain, memo timeline.Event
		if err := decodeEventOpts(doc, &plain, &in, true); err != nil {
			t.Fatal(err)
		}
		if err := decodeEventOpts(doc, &memo, &shared, true); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plain, memo) {
			t.Fatalf("event %d: with memos\n got  %#v\n want %#v", i, memo, plain)
		}
		events = append(events, memo)
	}
	a, b := events[1], events[2] // the same action, host, time note, data, chain
	if a.Host != b.Host || a.Jejak.Time != b.Jejak.Time {
		t.Errorf("host or time note not shared: %p %p, %p %p", a.Host, b.Host, a.Jejak.Time, b.Jejak.Time)
	}
	if reflect.ValueOf(a.Jejak.Data).Pointer() != reflect.ValueOf(b.Jejak.Data).Pointer() {
		t.Error("jejak.data not shared")
	}
	if &a.Event.Category[0] != &b.Event.Category[0] || &a.Jejak.Provenance.Chain[0] != &b.Jejak.Provenance.Chain[0] {
		t.Error("category or chain not shared")
	}
	if events[0].Event.Action != "ssh_login" || events[3].Event.Action != "ssh_login" || a.Event.Action != "ssh_failed_login" {
		t.Errorf("actions %q %q %q", events[0].Event.Action, events[3].Event.Action, a.Event.Action)
	}
	for i, e := range events {
		for _, s := range [][]string{e.Event.Category, e.Event.Type, e.Jejak.Provenance.Chain} {
			if cap(s) != len(s) {
				t.Fatalf("event %d: shared slice %q has room to append in place (cap %d)", i, s, cap(s))
			}
		}
	}
	if events[0].User != events[2].User || events[0].User.Name != "u0" || events[1].User.Name != "u1" {
		t.Errorf("users %+v %+v %+v", events[0].User, events[1].User, events[2].User)
	}
}

// TestMemoReplaces: a memo holds the memoWays values kept last; a new
// one replaces the oldest, and every value held is found, whichever was
// found before.
func TestMemoReplaces(t *testing.T) {
	var m memo[int]
	raw := func(i int) []byte { return fmt.Appendf(nil, `"v%d"`, i) }
	for i := range memoWays + 3 {
		m.keep(raw(i), i)
	}
	for _, i := range []int{memoWays + 2, 3, memoWays + 1, 3, 5, memoWays + 2} {
		if v, n, ok := m.find(append(raw(i), '}')); !ok || v != i || n != len(raw(i)) {
			t.Fatalf("find %s = %d, %d, %v", raw(i), v, n, ok)
		}
	}
	for i := range 3 {
		if _, _, ok := m.find(raw(i)); ok {
			t.Errorf("%s found, one of the oldest", raw(i))
		}
	}
}

// TestMemoPrefix: a value that begins as a remembered one but goes on is
// not taken for it, and a document around a remembered value decodes as
// json.Unmarshal has it (a key given twice, merged) or errs as it errs.
func TestMemoPrefix(t *testing.T) {
	shared := interner{share: true}
	docs := []string{
		`{"host":{"name":"a"}}`,
		`{"host":{"name":"a","hostname":"b"}}`,
		`{"host":{"name":"ab"}}`,
		`{"host":{"name":"a"}}`,
	}
	for _, doc := range docs {
		var want, got timeline.Event
		if err := decodeEventOpts([]byte(doc), &want, nil, true); err != nil {
			t.Fatal(err)
		}
		if err := decodeEventOpts([]byte(doc), &got, &shared, true); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v want %#v", doc, got.Host, want.Host)
		}
	}
	for _, doc := range []string{`{"host":{"name":"a"},"host":{"hostname":"c"}}`, `{"host":{"name":"a"}`, `{"host":{"name":"a"}} x`} {
		var want, got timeline.Event
		werr := json.Unmarshal([]byte(doc), &want)
		err := decodeEventOpts([]byte(doc), &got, &shared, true)
		if (err == nil) != (werr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: error %v, json.Unmarshal's %v; got %#v want %#v", doc, err, werr, got.Host, want.Host)
		}
	}
}

// TestMemoTurnsOff: a memo that finds few of its values stops looking for
// memoOff lookups, then looks again.
func TestMemoTurnsOff(t *testing.T) {
	var m memo[int]
	raw := func(i int) []byte { return fmt.Appendf(nil, `"v%d"`, i) }
	lookups := 0
	for i := 0; m.off == 0; i++ {
		if lookups > memoJudge {
			t.Fatalf("still on after %d lookups without a hit", lookups)
		}
		lookups++
		if !m.active() {
			break
		}
		if _, _, ok := m.find(raw(i)); ok {
			t.Fatalf("found %s, never kept", raw(i))
		}
		m.keep(raw(i), i)
	}
	if m.off != memoOff {
		t.Fatalf("off = %d, want %d", m.off, memoOff)
	}
	for range memoOff {
		if m.active() {
			t.Fatal("on again before memoOff lookups")
		}
	}
	if !m.active() {
		t.Fatal("still off after memoOff lookups")
	}
	// The last values it kept are found.
	if v, n, ok := m.find(append(raw(memoJudge-1), ',')); !ok || v != memoJudge-1 || n != len(raw(memoJudge-1)) {
		t.Fatalf("find = %d, %d, %v", v, n, ok)
	}
	if m.n != memoWays {
		t.Fatalf("%d values kept, want %d", m.n, memoWays)
	}
}

// TestSharedAllocs: decoding a syslog event of a transient read takes
// its repeated sub-objects from the memos and its structs from slabs, so
// it allocates only the strings of its own (message, address, procid):
// measured 17 allocations an event without, 4 with.
func TestSharedAllocs(t *testing.T) {
	doc := []byte(`{"@timestamp":"2026-01-01T00:00:01Z","event":{"action":"ssh_failed_login","category":["authentication"],"dataset":"syslog","kind":"event","outcome":"failure","timezone":"UTC","type":["start"]},` +
		`"host":{"name":"tabulasi-01"},"jejak":{"data":{"ssh.method":"password"},"id":"","provenance":{"chain":["file:auth.log"],"evidence_name":"auth.log","evidence_sha256":"3072d634","offset":0,"parser":"syslog","path":"auth.log","record":1},` +
		`"time":{"year_basis":"file mtime","year_inferred":true,"zone_assumed":"UTC"}},"log":{"syslog":{"appname":"sshd","hostname":"tabulasi-01","procid":"1001"}},` +
		`"message":"sshd[1001]: Failed password for admin from 10.18.80.234 port 1025 ssh2","process":{"name":"sshd","pid":1001},"related":{"ip":["10.18.80.234"],"user":["admin"]},` +
		`"source":{"address":"10.18.80.234","ip":"10.18.80.234","port":1025},"timestamp_desc":"Content Modification Time","user":{"name":"admin"}}`)
	allocs := func(in *interner) float64 {
		var e timeline.Event
		return testing.AllocsPerRun(200, func() {
			e = timeline.Event{}
			if !decodeFastOpts(doc, &e, in, true) {
				t.Fatal("the fast decoder gave up")
			}
		})
	}
	plain, shared := allocs(&interner{}), allocs(&interner{share: true})
	t.Logf("allocations an event: %v without sharing, %v with", plain, shared)
	if shared > 6 || shared > plain-8 {
		t.Errorf("%v allocations an event with sharing (%v without), want at most 6 and 8 fewer", shared, plain)
	}
}

// TestMemoLead: provenances that repeat but for their offset and record
// take their first members from the memo, and decode
// as json.Unmarshal has them, whatever follows those members: other
// values, a key given twice, a number that goes on where the remembered
// one ended.
func TestMemoLead(t *testing.T) {
	shared := interner{share: true}
	docs := []string{
		`{"jejak":{"provenance":{"chain":["file:a"],"evidence_name":"a","offset":1,"path":"a","record":1}},"log":{"syslog":{"appname":"sshd","hostname":"h","procid":"1"}},"process":{"name":"sshd","pid":1}}`,
		`{"jejak":{"provenance":{"chain":["file:a"],"evidence_name":"a","offset":2,"path":"a","record":2}},"log":{"syslog":{"appname":"sshd","hostname":"h","procid":"2"}},"process":{"name":"sshd","pid":2}}`,
		`{"jejak":{"provenance":{"chain":["file:a"],"evidence_name":"a","offset":3}},"log":{"syslog":{"appname":"sshd","hostname":"h","procid":"3"}},"process":{"name":"sshd","pid":3,"name":"x"}}`,
		`{"log":{"syslog":{"appname":"sshd","hostname":"h","procid":"3","appname":"cron"}}}`,
		`{"jejak":{"provenance":{"chain":["file:a"],"evidence_name":"ab","offset":4}},"log":{"syslog":{"appname":"sshd","hostname":"h2","procid":"4"}},"process":{"name":"sshd2","pid":4}}`,
		`{"jejak":{"provenance":{"record":5,"offset":5}}}`,
		`{"jejak":{"provenance":{"record":55,"offset":5}}}`,
		`{"jejak":{"provenance":{"record":5}}}`,
		`{"jejak":{"provenance":{"chain":["file:a"],"evidence_name":"a","offset":6,"path":"a","record":6}}}`,
	}
	for _, doc := range docs {
		var want, got timeline.Event
		werr := json.Unmarshal([]byte(doc), &want)
		err := decodeEventOpts([]byte(doc), &got, &shared, true)
		if (err == nil) != (werr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: error %v, json.Unmarshal's %v\n got  %#v\n want %#v", doc, err, werr, got, want)
		}
	}
	// Found: the second, third and fourth documents' (one refused later,
	// for its process's second name), the record 55 one's, the last two.
	if shared.memo.prov.ring.hits < 5 {
		t.Errorf("%d provenances found, want 5 or more", shared.memo.prov.ring.hits)
	}
}

// TestMemoLeadManyFiles: rows of more files than the ring holds, taking
// turns as a time-ordered read of a folder of EVTX logs gives them, take
// their provenances' first members from leadMemo.by, and decode as
// json.Unmarshal has them.
func TestMemoLeadManyFiles(t *testing.T) {
	const files = 40
	in := interner{share: true}
	for i := range 40 * files {
		f := i % files
		e := &timeline.Event{
			Timestamp: time.Date(2016, 7, 8, 18, 12, 51, i, time.UTC),
			Message:   "m",
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{
				EvidenceSHA256: "194c45a2", EvidenceName: "evtx",
				Chain: []string{fmt.Sprintf("dir:security-%02d.evtx", f)}, Path: fmt.Sprintf("security-%02d.evtx", f),
				Offset: int64(4096 + i*64), Record: int64(i/files + 1), Parser: "evtx",
			}},
		}
		decodesAsUnmarshal(t, &in, fmt.Sprintf("row %d", i), e)
	}
	if len(in.memo.prov.by) != files {
		t.Errorf("by holds %d leads, want one a file (%d)", len(in.memo.prov.by), files)
	}
	if want := 39 * files * 3 / 4; in.memo.prov.found < want {
		t.Errorf("by found %d leads of %d rows after the first of each file, want at least %d", in.memo.prov.found, 39*files, want)
	}
}

// BenchmarkDecodeShared decodes the first rows of a synthetic auth.log
// case's kinds (six actions, as scripts/bench.sh writes them) as a
// transient read does.
func BenchmarkDecodeShared(b *testing.B) {
	kinds := []struct{ action, cat, data, msg string }{
		{"ssh_failed_login", `["authentication"]`, `{"ssh.method":"password"}`, "Failed password for admin from 10.1.2.3 port 1025 ssh2"},
		{"ssh_invalid_user", `["authentication"]`, ``, "Invalid user adminx from 10.1.2.3 port 1025"},
		{"ssh_login", `["authentication","session"]`, `{"ssh.method":"publickey","ssh.signature":"RSA SHA256:%032x"}`, "Accepted publickey for kpu from 10.1.2.3 port 1025 ssh2"},
		{"session_opened", `["session"]`, ``, "pam_unix(sshd:session): session opened for user kpu by (uid=0)"},
		{"sudo_command", `["process"]`, ``, "kpu : TTY=pts/1 ; PWD=/home/kpu ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"},
		{"session_closed", `["session"]`, ``, "pam_unix(cron:session): session closed for user root"},
	}
	var docs [][]byte
	for i := range 600 {
		k := kinds[[]int{0, 0, 0, 0, 1, 1, 2, 3, 4, 5}[i%10]]
		data := k.data
		if strings.Contains(data, "%") {
			data = fmt.Sprintf(data, i) // a signature of its own
		}
		if data != "" {
			data = `"data":` + data + ","
		}
		docs = append(docs, fmt.Appendf(nil, `{"@timestamp":"2026-01-01T00:%02d:%02dZ","event":{"action":%q,"category":%s,"dataset":"syslog","kind":"event","outcome":"failure","timezone":"UTC","type":["start"]},`+
			`"host":{"name":"tabulasi-01"},"jejak":{%s"id":"","provenance":{"chain":["file:auth.log"],"evidence_name":"auth.log","evidence_sha256":"3072d634f0fc76444cbb336fd56475156d3cb109d5f304cd2c8345f47d3bdd1c","offset":%d,"parser":"syslog","path":"auth.log","record":%d},`+
			`"time":{"year_basis":"file mtime 2026-12-06T19:33:17Z: first line within the year before it, + 0 year rollover(s) seen in the file","year_inferred":true,"zone_assumed":"UTC"}},"log":{"syslog":{"appname":"sshd","hostname":"tabulasi-01","procid":"%d"}},`+
			`"message":%q,"process":{"name":"sshd","pid":%d},"related":{"ip":["10.1.2.3"],"user":["kpu"]},"source":{"address":"10.1.2.3","ip":"10.1.2.3","port":1025},"timestamp_desc":"Content Modification Time","user":{"name":"u%d"}}`,
			i/60, i%60, k.action, k.cat, data, i*100, i+1, 1000+i, k.msg, 1000+i, i%200))
	}
	in := interner{share: true}
	var e timeline.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e = timeline.Event{}
		if !decodeFastOpts(docs[i%len(docs)], &e, &in, true) {
			b.Fatal("the fast decoder gave up")
		}
	}
}
