package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/evtx"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/parsers/weblog"
	"github.com/jejak-forensics/jejak/timeline"
)

// events is a Searcher over events held in memory, in the store's order.
type events []*timeline.Event

func (es events) Search(_ context.Context, _ timeline.Query, fn func(*timeline.Event) error) error {
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// corpusEvents parses real files of several shapes: EVTX (event_data maps,
// 100 ns times), RFC 5424 syslog (structured data, two levels of maps), a
// web log (http.*, url.*) and classic syslog (zone assumed, year inferred).
func corpusEvents(t *testing.T) events {
	t.Helper()
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Fatal(err)
	}
	var out events
	for _, c := range []struct {
		p    parsers.Parser
		file string
	}{
		{evtx.New(1), "more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx"},
		{syslog.New(), "logs/syslog/syslog_rsyslog_SyslogProtocol23Format"},
		{syslog.New(), "logs/syslog/syslog_ssh.log"},
		{weblog.New(), "logs/web/apache_access.log"},
	} {
		res := parsertest.ParseFile(t, c.p, parsertest.Corpus(t, c.file), jakarta)
		if res.Err != nil || len(res.Events) == 0 {
			t.Fatalf("%s: %d events, %v", c.file, len(res.Events), res.Err)
		}
		out = append(out, res.Events...)
	}
	return out
}

// timesketchReserved are the names Timesketch strips from an imported event
// (FIELDS_TO_REMOVE in timesketch/lib/utils.py).
var timesketchReserved = []string{"_id", "_type", "_index", "_source", "__ts_timeline_id"}

// TestTimesketchImportRules checks the export against Timesketch's own
// import rules, as its server applies them to a JSONL upload
// (read_and_validate_jsonl in timesketch/lib/utils.py) and as its import
// guide states them: one JSON object per line; message, datetime and
// timestamp_desc on every line; datetime in ISO 8601; timestamp, when
// given, microseconds since the epoch of the same instant; extra fields
// are kept as they are. Beyond Timesketch's rules it checks that nothing
// of the event is lost: every leaf of the stored ECS document is a dotted
// field with the same value.
func TestTimesketchImportRules(t *testing.T) {
	evs := corpusEvents(t)
	var buf bytes.Buffer
	n, err := Write(context.Background(), &buf, Timesketch, evs, timeline.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(evs)) {
		t.Fatalf("wrote %d events of %d", n, len(evs))
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("%d lines for %d events", len(lines), len(evs))
	}
	var datetimes []string
	var micros []int64
	for i, line := range lines {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value", i+1)
		}
		for _, k := range []string{"message", "datetime", "timestamp_desc"} {
			if s, ok := doc[k].(string); !ok || (k != "message" && s == "") {
				t.Fatalf("line %d: mandatory field %s missing or not a string: %v", i+1, k, doc[k])
			}
		}
		for _, k := range timesketchReserved {
			if _, ok := doc[k]; ok {
				t.Errorf("line %d has %s, which Timesketch strips", i+1, k)
			}
		}
		dt := doc["datetime"].(string)
		got, err := time.Parse(time.RFC3339Nano, dt)
		if err != nil {
			t.Fatalf("line %d: datetime %q is not ISO 8601: %v", i+1, dt, err)
		}
		ev := evs[i]
		if want := ev.Timestamp.UTC().Truncate(time.Microsecond); !got.Equal(want) {
			t.Errorf("line %d: datetime %s, event at %s", i+1, dt, ev.Timestamp.Format(time.RFC3339Nano))
		}
		ts, err := doc["timestamp"].(json.Number).Int64()
		if err != nil || ts != got.UnixMicro() {
			t.Errorf("line %d: timestamp %v is not datetime %s in microseconds", i+1, doc["timestamp"], dt)
		}
		datetimes, micros = append(datetimes, dt), append(micros, ts)
		if doc["message"] != ev.Message || doc["timestamp_desc"] != ev.TimestampDesc {
			t.Errorf("line %d: message or timestamp_desc differ from the event", i+1)
		}

		// Nothing lost, nothing nested.
		want := map[string]any{}
		raw, _ := json.Marshal(ev)
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		leaves(want, "", m)
		// The free-form maps are one field each, holding the map as JSON
		// text: decode them and look each key up there.
		maps := map[string]map[string]any{}
		for _, f := range []string{"jejak.data", "winlog.event_data"} {
			if v, ok := doc[f]; ok {
				s, isString := v.(string)
				var mm map[string]any
				if !isString || json.Unmarshal([]byte(s), &mm) != nil {
					t.Fatalf("line %d: %s is not a JSON object in a string: %v", i+1, f, v)
				}
				maps[f] = mm
				want[f] = v
			}
		}
		for k, v := range want {
			if f, key, ok := inFreeMap(k); ok {
				if maps[f][key] != v {
					t.Errorf("line %d: %s[%q] = %v, event has %v", i+1, f, key, maps[f][key], v)
				}
				delete(want, k)
				continue
			}
			gb, _ := json.Marshal(doc[k])
			wb, _ := json.Marshal(v)
			if !bytes.Equal(gb, wb) {
				t.Errorf("line %d: field %s = %s, event has %s", i+1, k, gb, wb)
			}
		}
		for k, v := range doc {
			if _, nested := v.(map[string]any); nested {
				t.Errorf("line %d: field %s is an object, not flat", i+1, k)
			}
			if _, ok := want[k]; !ok && k != "datetime" && k != "timestamp" {
				t.Errorf("line %d: field %s is not in the event", i+1, k)
			}
		}
	}
	t.Run("dateutil", func(t *testing.T) { checkWithDateutil(t, datetimes, micros) })
}

// inFreeMap splits a dotted leaf name under one of the free-form maps into
// the map's field and the key (which may hold dots itself).
func inFreeMap(k string) (field, key string, ok bool) {
	for _, f := range []string{"jejak.data", "winlog.event_data"} {
		if strings.HasPrefix(k, f+".") {
			return f, k[len(f)+1:], true
		}
	}
	return "", "", false
}

// leaves is an independent walk of the event's JSON: every non-object
// value under its dotted path.
func leaves(out map[string]any, path string, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			p := k
			if path != "" {
				p = path + "." + k
			}
			leaves(out, p, x)
		}
		return
	}
	out[path] = v
}

// checkWithDateutil reads every datetime with python-dateutil's parser,
// which is what Timesketch's server uses on an imported datetime, and
// compares its epoch microseconds with ours. Timesketch multiplies a float
// (timestamp() * 1000000), so its result may be one microsecond lower.
func checkWithDateutil(t *testing.T, datetimes []string, micros []int64) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed (Debian package python3-dateutil brings it)")
	}
	if err := exec.Command(py, "-c", "import dateutil.parser").Run(); err != nil {
		t.Skip("python3 has no dateutil: install the Debian package python3-dateutil")
	}
	script := `import sys
from dateutil import parser
for line in sys.stdin:
    print(int(parser.parse(line.strip()).timestamp() * 1000000))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(datetimes, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dateutil: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	for ; sc.Scan(); i++ {
		v, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if d := micros[i] - v; d < 0 || d > 1 {
			t.Errorf("%s: dateutil reads %d µs, jejak wrote %d", datetimes[i], v, micros[i])
		}
	}
	if i != len(datetimes) {
		t.Fatalf("dateutil answered %d of %d lines", i, len(datetimes))
	}
}

// TestTimesketchReproducible: the same events give the same bytes.
func TestTimesketchReproducible(t *testing.T) {
	evs := corpusEvents(t)
	var a, b bytes.Buffer
	if _, err := Write(context.Background(), &a, Timesketch, evs, timeline.Query{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), &b, Timesketch, evs, timeline.Query{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two exports of the same events differ")
	}
}

func BenchmarkTimesketch(b *testing.B) {
	evs := corpusEventsB(b)
	var line []byte
	var size int64
	for _, e := range evs {
		line, _ = AppendTimesketch(line[:0], e)
		size += int64(len(line))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		for _, e := range evs {
			var err error
			if line, err = AppendTimesketch(line[:0], e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

func corpusEventsB(b *testing.B) events {
	res := parsertest.ParseFile(b, evtx.New(1), parsertest.Corpus(b, "more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx"), nil)
	if res.Err != nil {
		b.Fatal(res.Err)
	}
	return events(res.Events)
}
