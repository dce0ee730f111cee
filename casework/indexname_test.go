package casework_test

import (
	"testing"

	"github.com/jejak-forensics/jejak/casework"
)

// TestIndexName: a case name becomes a valid Elasticsearch index name
// (lower case, no characters an index name refuses, not starting with
// '-', '_' or '.'), and a name with nothing usable left is "case".
func TestIndexName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"kpu-2024", "jejak-kpu-2024"},
		{"KPU 2024", "jejak-kpu-2024"},
		{"a/b\\c*d?e", "jejak-a-b-c-d-e"},
		{"__.Case.", "jejak-case"},
		{"-_.", "jejak-case"},
		{"", "jejak-case"},
		{"Kasus Pemilu #3", "jejak-kasus-pemilu-3"},
		{"café", "jejak-caf"},
	} {
		if got := casework.IndexName(tc.name); got != tc.want {
			t.Errorf("IndexName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
