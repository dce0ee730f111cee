package elastic_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// esURLs returns the node URLs from JEJAK_TEST_ES (comma-separated), or
// skips: the node is started by scripts/elasticsearch.sh, and CI sets it.
func esURLs(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("JEJAK_TEST_ES")
	if v == "" {
		t.Skip("JEJAK_TEST_ES not set: run via scripts/elasticsearch.sh")
	}
	return strings.Split(v, ",")
}

func freshIndex(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(strings.NewReplacer("/", "-", " ", "-", "#", "").Replace(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	return "jejak-test-" + name + "-" + hex.EncodeToString(b[:])
}

// open opens a store on a fresh index and deletes the index and its
// template when the test ends.
func open(t testing.TB, cfg elastic.Config) *elastic.Store {
	t.Helper()
	if cfg.URLs == nil {
		cfg.URLs = esURLs(t)
	}
	if cfg.Index == "" {
		cfg.Index = freshIndex(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := elastic.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A client of its own: the store may be closed already (the
		// contract's Close test closes it).
		c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: cfg.URLs})
		if err != nil {
			t.Errorf("cleanup client: %v", err)
			return
		}
		// The findings and hunts indices too, where a test stored findings.
		if res, err := c.Indices.Delete([]string{cfg.Index, elastic.FindingsIndex(cfg.Index), elastic.HuntsIndex(cfg.Index)},
			c.Indices.Delete.WithIgnoreUnavailable(true), c.Indices.Delete.WithContext(ctx)); err == nil {
			res.Body.Close()
		}
		if res, err := c.Indices.DeleteIndexTemplate(elastic.TemplateName(cfg.Index), c.Indices.DeleteIndexTemplate.WithContext(ctx)); err == nil {
			res.Body.Close()
		}
		s.Close()
	})
	return s
}

func TestContract(t *testing.T) {
	esURLs(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		// A small page size so the contract's paging test crosses many pages.
		return open(t, elastic.Config{PageSize: 128})
	})
}

// TestMappingTakesEverything indexes events with every field of the model
// set, checks none is rejected, and that every field in them is mapped
// (dynamic: false would otherwise keep it unsearchable without a word).
func TestMappingTakesEverything(t *testing.T) {
	s := open(t, elastic.Config{})
	evs := storetest.Events()
	full := fullEvent()
	evs = append(evs, full)
	ctx := context.Background()
	st, err := s.Write(ctx, evs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if st.Inserted != len(evs) {
		t.Fatalf("inserted %d of %d", st.Inserted, len(evs))
	}
	for _, e := range evs {
		doc, _ := json.Marshal(e)
		missing, err := elastic.UnmappedFields(doc)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Errorf("event %s has fields the template does not map: %v", e.Jejak.ID, missing)
		}
	}
	// The node's own view: its mapping has the field types we asked for.
	c := s.Client()
	res, err := c.Indices.GetFieldMapping([]string{"@timestamp", "source.ip", "related.ip", "winlog.event_data", "jejak.provenance.offset", "message"},
		c.Indices.GetFieldMapping.WithIndex(s.Index()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var fm map[string]struct {
		Mappings map[string]struct {
			Mapping map[string]struct {
				Type string `json:"type"`
			} `json:"mapping"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&fm); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"@timestamp": "date_nanos", "source.ip": "ip", "related.ip": "ip",
		"winlog.event_data": "flattened", "jejak.provenance.offset": "long", "message": "text"}
	got := fm[s.Index()].Mappings
	for f, typ := range want {
		leaf := f[strings.LastIndexByte(f, '.')+1:]
		if g := got[f].Mapping[leaf].Type; g != typ {
			t.Errorf("node maps %s as %q, want %q", f, g, typ)
		}
	}
	// A pivot on a flattened key, an ip range and a chain element each find
	// events (Count refreshes the index first).
	if n, err := s.Count(ctx, timeline.Query{}); err != nil || n != int64(len(evs)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(evs))
	}
	for _, q := range []string{
		`{"query":{"term":{"winlog.event_data.TargetUserName":"operator1"}}}`,
		`{"query":{"term":{"source.ip":"10.20.30.0/24"}}}`,
		`{"query":{"term":{"jejak.provenance.chain":"tar:var/log/auth.log.1"}}}`,
	} {
		res, err := c.Count(c.Count.WithIndex(s.Index()), c.Count.WithBody(strings.NewReader(q)))
		if err != nil {
			t.Fatal(err)
		}
		var n struct{ Count int }
		json.NewDecoder(res.Body).Decode(&n)
		res.Body.Close()
		if n.Count == 0 {
			t.Errorf("query %s found nothing", q)
		}
	}
}

// fullEvent sets every field of the event model, with a malformed IP on
// purpose: the template must keep the event rather than reject it.
func fullEvent() *timeline.Event {
	size, body := int64(77), int64(12)
	e := &timeline.Event{
		Timestamp:     time.Date(2024, 11, 5, 12, 0, 0, 1, time.UTC),
		TimestampDesc: "Event Time",
		Message:       "everything set",
		Event: timeline.EventMeta{Kind: "event", Category: []string{"a"}, Type: []string{"b"}, Action: "c", Outcome: "success",
			Code: "1", Dataset: "d", Provider: "p", Severity: 3, Timezone: "Asia/Jakarta", Original: "raw"},
		Log: &timeline.Log{Level: "info", Logger: "l", Syslog: &timeline.Syslog{Priority: 13, Facility: &timeline.Code{Code: 1, Name: "user"},
			Severity: &timeline.Code{Code: 5, Name: "notice"}, Appname: "a", Hostname: "h", MsgID: "m", ProcID: "1", Version: "1",
			StructuredData: map[string]map[string]string{"x@1": {"k": "v"}}}},
		Host: &timeline.Host{Name: "h", Hostname: "h.example"},
		User: &timeline.User{Name: "u", Domain: "d", ID: "S-1", Effective: &timeline.User{Name: "e", Domain: "d", ID: "0"},
			Target: &timeline.User{Name: "t", Domain: "d", ID: "1"}},
		Source:      &timeline.Endpoint{IP: "not-an-ip", Port: 1, Domain: "s.example", Address: "s"},
		Destination: &timeline.Endpoint{IP: "::1", Port: 2, Domain: "d.example", Address: "d"},
		Process:     &timeline.Process{Name: "p", PID: 1, Executable: "/p", CommandLine: "/p -x", WorkingDir: "/", TTY: "pts/0"},
		File:        &timeline.File{Path: "/f", Name: "f", Inode: "12", Size: &size},
		URL:         &timeline.URL{Original: "/u?q", Path: "/u", Query: "q", Domain: "u.example"},
		HTTP: &timeline.HTTP{Version: "2", Request: &timeline.HTTPRequest{Method: "GET", Referrer: "r"},
			Response: &timeline.HTTPResponse{StatusCode: 200, Body: &timeline.HTTPBody{Bytes: &body}}},
		UserAgent: &timeline.UserAgent{Original: "ua"},
		Winlog: &timeline.Winlog{Channel: "c", EventID: 1, RecordID: 2, ComputerName: "c", ProviderName: "p",
			EventData: map[string]string{"k": "v"}, Logon: &timeline.WinlogLogon{Type: "t", ID: "i"}},
		Group: &timeline.Group{Name: "g", ID: "1"},
		Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: "ab", EvidenceName: "n", Chain: []string{"dir:f"},
			Path: "f", Offset: 1, Record: 1, Parser: "x"},
			Time: &timeline.TimeNote{ZoneAssumed: "UTC", YearInferred: true, YearBasis: "b", OutOfRange: true},
			Data: map[string]string{"k": "v"}, Tags: []string{"t"}},
	}
	e.Finalize()
	return e
}

func TestTemplatePrintable(t *testing.T) {
	b, err := elastic.Template("jejak-case1")
	if err != nil {
		t.Fatal(err)
	}
	var tm struct {
		IndexPatterns []string `json:"index_patterns"`
		Template      struct {
			Mappings struct {
				Dynamic any `json:"dynamic"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(b, &tm); err != nil {
		t.Fatal(err)
	}
	if len(tm.IndexPatterns) != 1 || tm.IndexPatterns[0] != "jejak-case1" {
		t.Errorf("index_patterns = %v", tm.IndexPatterns)
	}
	if tm.Template.Mappings.Dynamic != false && tm.Template.Mappings.Dynamic != "strict" {
		t.Errorf("mappings.dynamic = %v, want false or strict", tm.Template.Mappings.Dynamic)
	}
	fields, err := elastic.MappedFields()
	if err != nil {
		t.Fatal(err)
	}
	for f, typ := range map[string]string{"@timestamp": "date_nanos", "source.ip": "ip", "destination.ip": "ip", "related.ip": "ip",
		"message": "text", "message.keyword": "keyword", "winlog.event_data": "flattened", "jejak.data": "flattened",
		"log.syslog.structured_data": "flattened", "jejak.id": "keyword", "jejak.provenance.chain": "keyword"} {
		if fields[f] != typ {
			t.Errorf("template maps %s as %q, want %q", f, fields[f], typ)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Port 9 (discard) on loopback: nothing listens there in a test sandbox.
	_, err := elastic.Open(ctx, elastic.Config{URLs: []string{"http://127.0.0.1:9"}, Index: "jejak-x", MaxRetries: 1, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Open on a closed port = %v, want an 'unreachable' error", err)
	}
}

func TestForeignIndexRefused(t *testing.T) {
	urls := esURLs(t)
	idx := freshIndex(t)
	s := open(t, elastic.Config{Index: idx + "-probe"})
	c := s.Client()
	res, err := c.Indices.Create(idx)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	t.Cleanup(func() {
		if res, err := c.Indices.Delete([]string{idx}); err == nil {
			res.Body.Close()
		}
		if res, err := c.Indices.DeleteIndexTemplate(elastic.TemplateName(idx)); err == nil {
			res.Body.Close()
		}
	})
	_, err = elastic.Open(context.Background(), elastic.Config{URLs: urls, Index: idx})
	if err == nil || !strings.Contains(err.Error(), "not created by this jejak") {
		t.Fatalf("Open on an index made elsewhere = %v, want a refusal", err)
	}
}
