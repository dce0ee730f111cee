package query

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		in   string
		col  int
		want string
	}{
		{"user.nmae:root", 1, "did you mean user.name"},
		{"user.name:x and User.Name:root", 17, "did you mean user.name"},
		{"event.original:x", 1, "not indexed"},
		{"source.ip:10.0.*", 11, "CIDR"},
		{"source.ip:nonsense", 11, "not an IP address"},
		{"source.ip > 10.0.0.0/8", 13, "not an IP address"},
		{"http.response.status_code:abc", 27, "not a number"},
		{"http.response.status_code:4*", 27, "wildcards do not apply"},
		{"process.pid >= x", 16, "not a number"},
		{`@timestamp < "yesterday"`, 14, "ISO 8601"},
		{`@timestamp:"2024-02-30"`, 12, "not a valid date"},
		{"message > a", 1, "full-text field"},
		{"jejak.time.year_inferred:yes", 26, "true or false"},
		{"jejak.time.year_inferred > 1", 1, "boolean"},
	}
	for _, tt := range tests {
		_, err := New(tt.in, Options{})
		qe, ok := err.(*Error)
		if !ok {
			t.Errorf("New(%q) = %v, want an *Error", tt.in, err)
			continue
		}
		if qe.Col != tt.col || !strings.Contains(qe.Msg, tt.want) {
			t.Errorf("New(%q): column %d %q, want column %d containing %q", tt.in, qe.Col, qe.Msg, tt.col, tt.want)
		}
	}
}

func dslJSON(t *testing.T, q string) string {
	t.Helper()
	f, err := New(q, Options{})
	if err != nil {
		t.Fatalf("New(%q): %v", q, err)
	}
	b, err := json.Marshal(f.DSL())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDSL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `{"match_all":{}}`},
		{"user.name:root", `{"term":{"user.name":{"value":"root"}}}`},
		{"user.name:adm*", `{"wildcard":{"user.name":{"value":"adm*"}}}`},
		{`user.name:a\*b?*`, `{"wildcard":{"user.name":{"value":"a\\*b\\?*"}}}`},
		{"user.name:*", `{"exists":{"field":"user.name"}}`},
		{"not user.name:root", `{"bool":{"must_not":[{"term":{"user.name":{"value":"root"}}}]}}`},
		{"a*", `{"wildcard":{"message":{"value":"a*"}}}`},
		{"Failed PASSWORD", `{"match":{"message":{"query":"Failed PASSWORD"}}}`},
		{`"Failed password"`, `{"match_phrase":{"message":{"query":"Failed password"}}}`},
		{"message:FAIL* pass*", `{"bool":{"minimum_should_match":1,"should":[{"wildcard":{"message":{"value":"fail*"}}},{"wildcard":{"message":{"value":"pass*"}}}]}}`},
		{`message:"..."`, `{"match_none":{}}`},
		{"*", `{"match_all":{}}`},
		{"http.response.status_code >= 500", `{"range":{"http.response.status_code":{"gte":500}}}`},
		{"http.response.status_code > 499.5", `{"range":{"http.response.status_code":{"gte":500}}}`},
		{"http.response.status_code < -1.5", `{"range":{"http.response.status_code":{"lte":-2}}}`},
		{"http.response.status_code:404.5", `{"match_none":{}}`},
		{"source.ip:10.0.0.0/8", `{"range":{"source.ip":{"gte":"10.0.0.0","lte":"10.255.255.255"}}}`},
		{"source.ip:10.1.2.3", `{"term":{"source.ip":{"value":"10.1.2.3"}}}`},
		{"source.ip > 10.1.2.3", `{"range":{"source.ip":{"gte":"10.1.2.4","lte":"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}}}`},
		{"winlog.event_id >= 4700", `{"range":{"winlog.event_id":{"gte":"4700"}}}`},
		{"winlog.event_data.TargetUserName:x", `{"term":{"winlog.event_data.TargetUserName":{"value":"x"}}}`},
		{`@timestamp:"2024-02-14"`, `{"range":{"@timestamp":{"format":"strict_date_optional_time_nanos","gte":"2024-02-14T00:00:00Z","lte":"2024-02-14T23:59:59.999999999Z"}}}`},
		{`@timestamp > "2024-02-14T12:00"`, `{"range":{"@timestamp":{"format":"strict_date_optional_time_nanos","gte":"2024-02-14T12:01:00Z"}}}`},
		{`@timestamp < "1960-01-01"`, `{"match_none":{}}`},
		{"jejak.time.year_inferred:TRUE", `{"term":{"jejak.time.year_inferred":{"value":true}}}`},
		{"user.name:a or (user.name:b and not host.name:c)", `{"bool":{"minimum_should_match":1,"should":[{"term":{"user.name":{"value":"a"}}},{"bool":{"filter":[{"term":{"user.name":{"value":"b"}}},{"bool":{"must_not":[{"term":{"host.name":{"value":"c"}}}]}}]}}]}}`},
	}
	for _, tt := range tests {
		if got := dslJSON(t, tt.in); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestSQL(t *testing.T) {
	tests := []struct {
		in, want string
		args     string
	}{
		{"user.name:root", "(user_name = ?)", "[root]"},
		{"host.name:x", "(host_name = ?)", "[x]"},
		{"user.domain:x", "(CAST(json_extract(doc, '$.user.domain') AS TEXT) = ?)", "[x]"},
		{"not user.name:root", "NOT COALESCE((user_name = ?), 0)", "[root]"},
		{"user.name:a*[?]", "(kql_wild(CAST(user_name AS BLOB), ?))", "[a\x1e[?]]"},
		{`user.name:a\*`, "(user_name = ?)", "[a*]"},
		{`user.name:a\**`, "(kql_wild(CAST(user_name AS BLOB), ?))", "[a*\x1e]"},
		{"jejak.tags:x", "EXISTS (SELECT 1 FROM json_each(doc, '$.jejak.tags') WHERE (CAST(value AS TEXT) = ?))", "[x]"},
		{"winlog.event_data.TargetUserName:x", "EXISTS (SELECT 1 FROM json_each(doc, '$.winlog.event_data') AS a WHERE a.key = ? AND (CAST(a.value AS TEXT) = ? AND length(CAST(a.value AS TEXT)) <= 8191))", "[TargetUserName x]"},
		{"log.syslog.structured_data.origin.ip:x", "EXISTS (SELECT 1 FROM json_each(doc, '$.log.syslog.structured_data') AS a, json_each(a.value) AS b WHERE a.key || '.' || b.key = ? AND (CAST(b.value AS TEXT) = ? AND length(CAST(b.value AS TEXT)) <= 8191))", "[origin.ip x]"},
		{"message.keyword:x", "(CAST(json_extract(doc, '$.message') AS TEXT) = ? AND length(CAST(json_extract(doc, '$.message') AS TEXT)) <= 1024)", "[x]"},
		{"process.pid:5", "(json_extract(doc, '$.process.pid') = ?)", "[5]"},
		{"jejak.provenance.identity:tar#2@*", "(kql_wild(CAST(CAST(json_extract(doc, '$.jejak.provenance.identity') AS TEXT) AS BLOB), ?))", "[tar#2@\x1e]"},
		{"Failed password", "kql_text(CAST(json_extract(doc, '$.message') AS BLOB), 'any', ?)", "[failed\x1fpassword]"},
		{"jejak.id:00112233445566778899aabbccddeeff", "CAST(id AS TEXT) = CAST(? AS TEXT)", "[[0 17 34 51 68 85 102 119 136 153 170 187 204 221 238 255]]"},
	}
	for _, tt := range tests {
		f, err := New(tt.in, Options{})
		if err != nil {
			t.Fatalf("New(%q): %v", tt.in, err)
		}
		got, args := f.SQL()
		if got != tt.want || sprint(args) != tt.args {
			t.Errorf("%s\n got %s %s\nwant %s %s", tt.in, got, sprint(args), tt.want, tt.args)
		}
	}
	// A store without a host_name column reads the document.
	f, _ := New("host.name:x", Options{})
	if got, _ := f.SQLColumns(func(c string) bool { return c != "host_name" }); got != "(CAST(json_extract(doc, '$.host.name') AS TEXT) = ?)" {
		t.Errorf("without host_name: %s", got)
	}
}

func sprint(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case string:
			parts[i] = a
		default:
			b, _ := json.Marshal(a)
			parts[i] = strings.Trim(string(b), `"`)
			if bs, ok := a.([]byte); ok {
				var s []string
				for _, x := range bs {
					s = append(s, strconv.Itoa(int(x)))
				}
				parts[i] = "[" + strings.Join(s, " ") + "]"
			}
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestParseDate(t *testing.T) {
	jkt := time.FixedZone("WIB", 7*3600)
	tests := []struct {
		in     string
		zone   *time.Location
		lo, hi string
	}{
		{"2024", time.UTC, "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.999999999Z"},
		{"2024-02", time.UTC, "2024-02-01T00:00:00Z", "2024-02-29T23:59:59.999999999Z"},
		{"2024-02-14", jkt, "2024-02-13T17:00:00Z", "2024-02-14T16:59:59.999999999Z"},
		{"2024-02-14T19:00", jkt, "2024-02-14T12:00:00Z", "2024-02-14T12:00:59.999999999Z"},
		{"2024-02-14 19", time.UTC, "2024-02-14T19:00:00Z", "2024-02-14T19:59:59.999999999Z"},
		{"2024-02-14T19:00:00+07:00", time.UTC, "2024-02-14T12:00:00Z", "2024-02-14T12:00:00.999999999Z"},
		{"2024-02-14T19:00:00.5Z", jkt, "2024-02-14T19:00:00.5Z", "2024-02-14T19:00:00.5Z"},
		{"2024-02-14T19:00:00,123456789-0130", time.UTC, "2024-02-14T20:30:00.123456789Z", "2024-02-14T20:30:00.123456789Z"},
	}
	for _, tt := range tests {
		lo, hi, err := parseDate(tt.in, tt.zone)
		if err != nil {
			t.Errorf("parseDate(%q): %v", tt.in, err)
			continue
		}
		f := func(n int64) string { return time.Unix(0, n).UTC().Format(time.RFC3339Nano) }
		if f(lo) != tt.lo || f(hi) != tt.hi {
			t.Errorf("parseDate(%q) = %s .. %s, want %s .. %s", tt.in, f(lo), f(hi), tt.lo, tt.hi)
		}
	}
	if lo, hi, err := parseDate("9999-01-01", time.UTC); err != nil || lo != math.MaxInt64 || hi != math.MaxInt64 {
		t.Errorf("far future: %d %d %v", lo, hi, err)
	}
}

func TestIPRange(t *testing.T) {
	tests := []struct{ in, lo, hi string }{
		{"10.0.0.0/8", "::ffff:10.0.0.0", "::ffff:10.255.255.255"},
		{"10.1.2.3/8", "::ffff:10.0.0.0", "::ffff:10.255.255.255"},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"0.0.0.0/0", "::ffff:0.0.0.0", "::ffff:255.255.255.255"},
	}
	for _, tt := range tests {
		lo, hi, err := ipRange(tt.in)
		if err != nil || lo != netip.MustParseAddr(tt.lo) || hi != netip.MustParseAddr(tt.hi) {
			t.Errorf("ipRange(%q) = %v %v %v, want %s %s", tt.in, lo, hi, err, tt.lo, tt.hi)
		}
	}
}

func TestTokens(t *testing.T) {
	// Expected terms as Elasticsearch 8's standard analyzer gives them
	// (checked against a live node by TestTokensMatchElasticsearch).
	got := strings.Join(Tokens("sshd[1234]: Failed password for invalid user Admin from 192.168.1.1 port 22 ssh2 Password:root __init__ e-mail 2001:db8::1 10.0.0.0/8 漢字テスト"), " ")
	want := "sshd 1234 failed password for invalid user admin from 192.168.1.1 port 22 ssh2 password:root __init__ e mail 2001 db8 1 10.0.0.0 8 漢 字 テスト"
	if got != want {
		t.Errorf("Tokens:\n got %s\nwant %s", got, want)
	}
	if n := len(Tokens(strings.Repeat("a", 600))); n != 3 {
		t.Errorf("a 600-letter word gives %d tokens, want 3 (max_token_length 255)", n)
	}
}

func TestWildMatch(t *testing.T) {
	tests := []struct {
		s    string
		segs []string
		want bool
	}{
		{"admin", []string{"adm", ""}, true},
		{"admin", []string{"", "min"}, true},
		{"admin", []string{"a", "i", ""}, true},
		{"aa", []string{"a", "a"}, true},
		{"a", []string{"a", "a"}, false},
		{"abcabc", []string{"", "bc", "c"}, true},
		{"abc", []string{"", "bc", "c"}, false},
		{"x", []string{"x"}, true},
		{"x", []string{"y"}, false},
		{"", []string{"", ""}, true},
		{"ab", []string{"ab", "b"}, false},
		// A NUL is a character like any other (Elasticsearch compares
		// whole values; SQLite's GLOB stopped at it).
		{"x\x00y", []string{"", "y"}, true},
		{"x\x00y", []string{"x", ""}, true},
		{"x\x00y", []string{"", "x"}, false},
		{"x\x00y", []string{"x\x00y"}, true},
	}
	for _, tt := range tests {
		if got := wildMatch(tt.s, tt.segs); got != tt.want {
			t.Errorf("wildMatch(%q, %q) = %v", tt.s, tt.segs, got)
		}
		// kql_wild's form, segments joined, must agree.
		if got := wildMatchJoined(tt.s, strings.Join(tt.segs, sepSeg)); got != tt.want {
			t.Errorf("wildMatchJoined(%q, %q) = %v", tt.s, tt.segs, got)
		}
	}
}

func TestFieldsCoverModel(t *testing.T) {
	// Every field of the stored JSON that the template indexes must be
	// known here: a field the table missed would be an "unknown field"
	// error for a query Kibana accepts.
	for _, name := range []string{"event.action", "winlog.event_data.X", "jejak.data.ssh.method", "log.syslog.structured_data.a.b",
		"related.ip", "user.target.name", "http.response.body.bytes", "jejak.provenance.chain", "jejak.provenance.identity"} {
		if _, ok := lookup(name); !ok {
			t.Errorf("lookup(%q) failed", name)
		}
	}
}
