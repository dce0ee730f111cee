package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestExportsLoadIntoDefaultIndex loads the exports of the whole corpus case
// into the test Elasticsearch node, each into a new index with default
// dynamic mapping (what Timesketch and an analyst's own index do): not one
// document refused, and the field count well under the 1,000-field limit.
// Before, the corpus export had 937 distinct fields and 18,014 of 32,728
// documents were refused, most over that limit, others because one field
// name was a dotted prefix of another (jejak.data.db.statement and
// jejak.data.db.statement.verb).
func TestExportsLoadIntoDefaultIndex(t *testing.T) {
	es := strings.TrimRight(esURL(t), "/")
	root, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(t.TempDir(), "case")
	jejak(t, "analyze", root, "../../fixtures/example", "--out", dir, "--tz", "Asia/Jakarta", "-q")
	out := t.TempDir()
	for _, format := range []string{"jsonl", "timesketch", "csv", "l2tcsv"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(out, "timeline."+format)
			mustRun(t, exitOK, "export", dir, "--format", format, "-o", file)
			index := "export-load-" + format
			httpDo(t, "DELETE", es+"/"+index+"?ignore_unavailable=true", nil)
			defer httpDo(t, "DELETE", es+"/"+index, nil)
			docs := readDocs(t, file, format)
			if len(docs) < 10000 {
				t.Fatalf("%d documents: the corpus case is smaller than expected", len(docs))
			}
			refused := bulkLoad(t, es, index, docs)
			if len(refused) > 0 {
				t.Errorf("%d of %d documents refused; first: %s", len(refused), len(docs), refused[0])
			}
			var m map[string]struct {
				Mappings map[string]any `json:"mappings"`
			}
			if err := json.Unmarshal(httpDo(t, "GET", es+"/"+index+"/_mapping", nil), &m); err != nil {
				t.Fatal(err)
			}
			n := countFields(m[index].Mappings)
			t.Logf("%s: %d documents, %d mapped fields", format, len(docs), n)
			if n > 500 {
				t.Errorf("%d mapped fields: more than half the 1,000-field limit", n)
			}
		})
	}
}

// readDocs reads an export as JSON documents: one per line for the JSON
// formats, a header-keyed object per row for the CSVs.
func readDocs(t *testing.T, file, format string) [][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs [][]byte
	if format == "jsonl" || format == "timesketch" {
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			docs = append(docs, append([]byte(nil), sc.Bytes()...))
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		return docs
	}
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		doc := map[string]string{}
		for i, h := range header {
			doc[h] = row[i]
		}
		b, _ := json.Marshal(doc)
		docs = append(docs, b)
	}
}

// bulkLoad sends docs to index with _bulk in 4 MB requests and returns
// the error of every document refused.
func bulkLoad(t *testing.T, es, index string, docs [][]byte) []string {
	t.Helper()
	var refused []string
	var body bytes.Buffer
	flush := func() {
		if body.Len() == 0 {
			return
		}
		var res struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				Status int             `json:"status"`
				Error  json.RawMessage `json:"error"`
			} `json:"items"`
		}
		if err := json.Unmarshal(httpDo(t, "POST", es+"/"+index+"/_bulk", body.Bytes()), &res); err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			for _, r := range it {
				if r.Status >= 300 {
					refused = append(refused, fmt.Sprintf("%d %s", r.Status, r.Error))
				}
			}
		}
		body.Reset()
	}
	for _, d := range docs {
		body.WriteString("{\"index\":{}}\n")
		body.Write(d)
		body.WriteByte('\n')
		if body.Len() > 4<<20 {
			flush()
		}
	}
	flush()
	return refused
}

// countFields counts the leaf fields of a mapping (multi-fields included,
// as the field limit counts them).
func countFields(m map[string]any) int {
	n := 0
	if props, ok := m["properties"].(map[string]any); ok {
		for _, v := range props {
			sub, _ := v.(map[string]any)
			if _, obj := sub["properties"]; obj {
				n += countFields(sub)
				continue
			}
			n++
			if fields, ok := sub["fields"].(map[string]any); ok {
				n += len(fields)
			}
		}
	}
	return n
}

func httpDo(t *testing.T, method, url string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode >= 300 && method != "DELETE" {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return b
}
