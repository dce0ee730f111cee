package report

import (
	"strings"
	"testing"
)

// A file event is one per distinct time (mft, filestat): its description
// joins several known ones, and the glossary explains each part; an
// unknown part makes the whole description the generic text.
func TestTimestampMeaningJoined(t *testing.T) {
	generic := timestampMeaning("No Such Time")
	for _, tc := range []struct {
		desc  string
		parts []string
	}{
		{"Content Modification Time", nil},
		{"Content Modification Time; Creation Time", []string{"Content Modification Time", "Creation Time"}},
		{"Content Modification Time; Last Access Time; Metadata Modification Time; Creation Time",
			[]string{"Content Modification Time", "Last Access Time", "Metadata Modification Time", "Creation Time"}},
		{"Creation Time; No Such Time", nil},
	} {
		got := timestampMeaning(tc.desc)
		if tc.parts == nil {
			if m, ok := timestampMeanings[tc.desc]; ok && got != m {
				t.Errorf("%q: %q, want the table's %q", tc.desc, got, m)
			}
			if _, ok := timestampMeanings[tc.desc]; !ok && got != generic {
				t.Errorf("%q: %q, want the generic text", tc.desc, got)
			}
			continue
		}
		for _, p := range tc.parts {
			if want := p + ": " + timestampMeanings[p]; !strings.Contains(got, want) {
				t.Errorf("%q: %q does not explain %q as %q", tc.desc, got, p, want)
			}
		}
	}
}
