package elastic

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRedact: Redact agrees with net/url's own Redacted on every URL that
// parses, and hides the password in text that does not parse or merely
// quotes a URL.
func TestRedact(t *testing.T) {
	for _, raw := range []string{
		"http://jejak:pw@127.0.0.1:9200",
		"https://jejak:p%40ss@es1:9200/prefix?x=1",
		"http://jejak@es1:9200",
		"http://es1:9200",
		"http://jejak:@es1",
		"http://a:b@c@es1:9200/",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Redact(raw), u.Redacted(); got != want {
			t.Errorf("Redact(%q) = %q, net/url says %q", raw, got, want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`parse "http://jejak:s3cret@127.0.0.1:bad": invalid port`, `parse "http://jejak:xxxxx@127.0.0.1:bad": invalid port`},
		{"at http://u:p@a:1, http://v:q@b:2; done", "at http://u:xxxxx@a:1, http://v:xxxxx@b:2; done"},
		{"no url here", "no url here"},
		{"://:x@", "://:xxxxx@"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitUserinfo(t *testing.T) {
	urls, user, pw, err := SplitUserinfo([]string{"http://127.0.0.1:9200", "http://jejak:p%40ss@10.0.0.2:9200/", "https://jejak:p%40ss@es3:9200"})
	if err != nil {
		t.Fatal(err)
	}
	if user != "jejak" || pw != "p@ss" || !slices.Equal(urls, []string{"http://127.0.0.1:9200", "http://10.0.0.2:9200/", "https://es3:9200"}) {
		t.Errorf("got %q %q %q", urls, user, pw)
	}
	if _, _, _, err := SplitUserinfo([]string{"http://a:pwA1@x", "http://a:pwB2@y"}); err == nil || strings.Contains(err.Error(), "pwA1") || strings.Contains(err.Error(), "pwB2") {
		t.Errorf("different credentials: %v", err)
	}
	if _, _, _, err := SplitUserinfo([]string{"http://a:s3cret@x:port"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestPlainCredentials(t *testing.T) {
	got := PlainCredentials([]string{"http://127.0.0.1:9200", "http://[::1]:9200", "http://localhost:9200",
		"https://es1:9200", "http://u:p@es2:9200", "HTTP://10.0.0.3:9200", "http://127.0.0.2:9200"})
	want := []string{"http://es2:9200", "http://10.0.0.3:9200"}
	if !slices.Equal(got, want) {
		t.Errorf("PlainCredentials = %q, want %q", got, want)
	}
}
