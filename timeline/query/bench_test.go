package query_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
)

func BenchmarkParseCompile(b *testing.B) {
	q := `event.action:(ssh_failed_login or ssh_disconnect) and not source.ip:10.0.0.0/8 and @timestamp >= "2024-02-14T19:00" and message:"Failed password" and winlog.event_data.TargetUserName:adm*`
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := query.New(q, query.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokens(b *testing.B) {
	msg := "sshd[24182]: Failed password for invalid user admin from 24.151.103.17 port 52408 ssh2"
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		query.Tokens(msg)
	}
}

// BenchmarkSQLiteQuery measures events scanned per second on the test case
// for full-text queries (every message tokenized), keyword ones and
// wildcards, and the CPU time per query.
func BenchmarkSQLiteQuery(b *testing.B) {
	st := buildCase(b)
	total, err := st.Count(context.Background(), timeline.Query{})
	if err != nil {
		b.Fatal(err)
	}
	for _, kql := range []string{`message:"Failed password"`, "user.domain:WORKGROUP", "winlog.event_data.TargetUserName:fsir",
		// Wildcards: GLOB on a column, on a JSON value, on a flattened
		// key's values, and over the tokens of a text field.
		"user.name:*min", "message.keyword:*ssh2", "winlog.event_data.TargetUserName:*sir", "message:pass*"} {
		b.Run(strings.Fields(kql)[0], func(b *testing.B) {
			f, err := query.New(kql, query.Options{})
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cputime.Process()
			for b.Loop() {
				if _, err := st.QueryCount(context.Background(), f, timeline.Query{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "CPU-ns/op")
		})
	}
}
