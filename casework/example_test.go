package casework_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/jejak-forensics/jejak/casework"
)

// Example runs the README's first command through the Go API alone: a case
// in Asia/Jakarta, the bundled example evidence, an ingest, and a hunt
// after the count closed at 19:00 WIB. It prints the findings by rule, as
// the command line's summary table does: the README's 9 findings, under
// the same hunt key as 'jejak analyze fixtures/example --tz Asia/Jakarta
// --after "2024-02-14 19:00"' stores them (the key is the hash of the
// hunt's parameters, times in UTC).
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "jejak-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	c, err := casework.Init(ctx, filepath.Join(tmp, "case"), casework.Options{Examiner: "A. Examiner", Zone: "Asia/Jakarta"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.AddEvidence(ctx, "../fixtures/example", casework.AddOptions{}); err != nil {
		log.Fatal(err)
	}
	ing, err := c.Ingest(ctx, casework.IngestOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// The events the parsers read from the logs: the file times of the
	// .tgz itself (also events) are the checkout's, so not counted here.
	var logs int64
	for _, st := range ing.Summary.Parsers {
		logs += st.Events
	}
	fmt.Printf("ingested: %d log events from %d files, %d record warnings\n", logs, ing.Summary.FilesParsed, ing.Summary.Warnings)

	wib, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Hunt(ctx, casework.HuntOptions{After: time.Date(2024, 2, 14, 19, 0, 0, 0, wib)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hunt %s: %d findings, timeline complete: %v\n", res.Key, len(res.Findings), res.Timeline.Complete)
	for _, s := range res.Summary {
		fmt.Printf("%-13s %-22s %d\n", s.Severity, s.RuleID, s.Findings)
	}
	// Output:
	// ingested: 74 log events from 6 files, 0 record warnings
	// hunt 447d533f12744be0b8e68d40da13cecd: 9 findings, timeline complete: true
	// critical      JEJAK-AUTH-02          1
	// high          JEJAK-ACCT-01          1
	// high          JEJAK-ACCT-02          1
	// high          JEJAK-DATA-02          1
	// high          JEJAK-WEB-01           1
	// medium        JEJAK-AUTH-03          2
	// medium        JEJAK-AUTH-04          1
	// informational JEJAK-DATA-02          1
}
