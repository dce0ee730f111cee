package elastic

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

var bulkAnswers = []string{
	`{"errors":false,"items":[{"create":{"status":201}}]}`,
	`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}`,
	"{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}\n",
	`{"errors":false,"items":[]}`,
	`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[x]: version conflict"}}}]}`,
	`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [@timestamp]"}}}]}`,
	`{"errors":false,"items":[{"create":{"status":201}} ,{"create":{"status":201}}]}`,
	`{"errors":false,"items":[{"create":{"status":201}},]}`,
	`{"errors":false,"items":[{"index":{"status":201}}]}`,
	`{"took":3,"errors":false,"items":[{"create":{"status":201}}]}`,
}

// The decoder gives what encoding/json gives, on the fast path and off it.
func TestBulkDecoderIsEncodingJSON(t *testing.T) {
	for _, body := range bulkAnswers {
		checkBulkDecoder(t, body)
	}
	// The fast path is taken for all-created answers.
	for _, n := range []int{1, 3, 5000} {
		body := allCreatedHead + strings.Repeat(createdItem+",", n-1) + createdItem + allCreatedTail
		if got, ok := countAllCreated([]byte(body)); !ok || got != n {
			t.Errorf("countAllCreated(%d items) = %d, %v", n, got, ok)
		}
		checkBulkDecoder(t, body)
	}
}

func checkBulkDecoder(t *testing.T, body string) {
	t.Helper()
	var want, got esutil.BulkIndexerResponse
	werr := json.Unmarshal([]byte(body), &want)
	gerr := bulkDecoder{}.UnmarshalFromReader(strings.NewReader(body), &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%.80s: error %v, encoding/json says %v", body, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%.80s: decoded %+v, encoding/json gives %+v", body, got, want)
	}
}

func FuzzBulkDecoder(f *testing.F) {
	for _, b := range bulkAnswers {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkBulkDecoder(t, body)
	})
}
