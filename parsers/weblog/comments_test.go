package weblog

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// Comment lines at the top of an access, error or W3C log (an export
// banner, a note by whoever collected it) do not hide the records after
// them: Match looks past them, and Parse reads every record and reports
// each comment as a warning at its line. W3C directives, #Remark included,
// are not comments.
func TestCommentLinesAtTheTop(t *testing.T) {
	const comments = "# collected from web01 for case 117\n#\n\n# times are server local\n"
	cases := []struct {
		rel   string
		extra string // a directive added after the comments, not a warning
	}{
		{"logs/web/apache_access.log", ""},
		{"more/web/nginx/crowdsec_nginx_http-logs.log", ""},
		{"more/web/apache/crowdsec_apache2-logs.log", ""},
		{"logs/web/iis6.log", "#Remark: rotated daily\n"},
	}
	for _, c := range cases {
		t.Run(c.rel, func(t *testing.T) {
			clean, err := os.ReadFile(parsertest.Corpus(t, c.rel))
			if err != nil {
				t.Fatal(err)
			}
			commented := append([]byte(comments+c.extra), clean...)
			e := parsertest.BytesEntry("access.log", commented, time.Time{})
			head := commented[:min(len(commented), 4096)]
			if !New().Match(e, head) {
				t.Fatal("Match rejects the commented log")
			}
			want := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("clean.log", clean, time.Time{}), time.UTC)
			got := parsertest.Parse(context.Background(), New(), e, time.UTC)
			if got.Err != nil || want.Err != nil {
				t.Fatal(got.Err, want.Err)
			}
			if len(got.Events) != len(want.Events) || len(got.Events) == 0 {
				t.Fatalf("%d events, clean file %d", len(got.Events), len(want.Events))
			}
			for i := range want.Events {
				if !got.Events[i].Timestamp.Equal(want.Events[i].Timestamp) || got.Events[i].Message != want.Events[i].Message {
					t.Fatalf("event %d differs: %q, want %q", i, got.Events[i].Message, want.Events[i].Message)
				}
			}
			// Lines 1, 2 and 4 are comments ("#" alone too); line 3 is blank.
			var lines []int64
			for _, w := range got.Warnings[:len(got.Warnings)-len(want.Warnings)] {
				lines = append(lines, w.Record)
			}
			if !slices.Equal(lines, []int64{1, 2, 4}) {
				t.Errorf("comment warnings at lines %v, want [1 2 4]", lines)
			}
		})
	}
}

// MatchLine takes every record line of real access logs and none of the
// comment lines put before them.
func TestMatchLine(t *testing.T) {
	for _, rel := range []string{"more/web/nginx/crowdsec_nginx_http-logs.log", "more/web/apache/crowdsec_apache2-logs.log"} {
		b, err := os.ReadFile(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if !New().MatchLine(nil, l) {
				t.Errorf("%s line %d not matched: %q", rel, i+1, l)
			}
		}
	}
	for _, l := range []string{"# collected from web01", "#", "Minutes of the canvass board."} {
		if New().MatchLine(nil, []byte(l)) {
			t.Errorf("%q matched", l)
		}
	}
}
