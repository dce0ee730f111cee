package query_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// TestFieldsMatchTemplate holds the query package's field table to the
// Elasticsearch index template: the query semantics (exact keyword, analysed
// text, numeric, IP and date ranges) follow each field's mapped type, so a
// field retyped in the template must be retyped here too.
func TestFieldsMatchTemplate(t *testing.T) {
	mapped, err := elastic.MappedFields()
	if err != nil {
		t.Fatal(err)
	}
	ours := query.FieldTypes()
	for _, name := range slices.Sorted(maps.Keys(mapped)) {
		if ours[name] != mapped[name] {
			t.Errorf("%s: template type %q, query package %q", name, mapped[name], ours[name])
		}
	}
	for name := range ours {
		if _, ok := mapped[name]; !ok {
			t.Errorf("%s: known to the query package but not in the template", name)
		}
	}
}
