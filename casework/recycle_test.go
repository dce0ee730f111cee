package casework

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// TestRecycledIngestPoisoned: an ingest whose syslog events go back to
// the parser once stored (recycleEvents), with every block poisoned as it
// is given back (slab.SetPoison), gives the same case as one without
// recycling: the same summary and zone check findings, the same exported
// timeline byte for byte, the same hunt findings. Whatever kept an event
// past the store's Write (the zone check fed beside it, the store's
// written-behind encoding, the custody digest) would read poison or
// another record's fields. The evidence: the Elastic auth.log under four
// names, loghub's Linux syslog, CrowdSec's sshd logs, and zoneHosts' RHEL
// and web server, whose syslog and audit lines the zone check pairs.
func TestRecycledIngestPoisoned(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	zoneHosts(t, root)
	parsertest.CopyCorpus(t, root, map[string]string{
		"rhel/var/log/auth.log":   "more/linux/auth/elastic_examples_auth.log",
		"rhel/var/log/auth.log.1": "more/linux/auth/elastic_examples_auth.log",
		"rhel/var/log/auth.log.2": "more/linux/auth/elastic_examples_auth.log",
		"rhel/var/log/auth.log.3": "more/linux/auth/elastic_examples_auth.log",
		"rhel/var/log/messages":   "logs/loghub/Linux_2k.log",
		"rhel/var/log/secure.1":   "more/linux/auth/crowdsec_sshd-logs.log",
		"rhel/var/log/secure.2":   "more/linux/auth/crowdsec_ssh-slow-bf.log",
	}, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))

	type outcome struct{ summary, export, findings string }
	run := func(recycle bool) outcome {
		t.Helper()
		defer func(old bool) { recycleEvents = old }(recycleEvents)
		recycleEvents = recycle
		clock := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
		c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: "UTC", ToolVersion: "test",
			Clock: func() time.Time { clock = clock.Add(time.Second); return clock }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, p := range []string{filepath.Join(root, "rhel"), filepath.Join(root, "web")} {
			if _, err := c.AddEvidence(ctx, p, AddOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := c.Ingest(ctx, IngestOptions{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !res.zonesFed || len(res.ZoneCheck) == 0 || res.Summary.Parsers["syslog"] == nil || res.Summary.Parsers["syslog"].Events < 30000 {
			t.Fatalf("recycle %v: zone check fed %v, %d findings, syslog %+v: the test no longer tests what it says",
				recycle, res.zonesFed, len(res.ZoneCheck), res.Summary.Parsers["syslog"])
		}
		sum, err := json.Marshal(res.RunSummary)
		if err != nil {
			t.Fatal(err)
		}
		var exp bytes.Buffer
		if _, err := c.Export(ctx, ExportOptions{Format: export.JSONL, W: &exp}); err != nil {
			t.Fatal(err)
		}
		h, err := c.Hunt(ctx, HuntOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Findings) == 0 {
			t.Fatalf("recycle %v: no findings", recycle)
		}
		f, err := json.Marshal([]any{h.Key, h.Findings, h.Summary, h.Logs})
		if err != nil {
			t.Fatal(err)
		}
		return outcome{string(sum), exp.String(), string(f)}
	}
	plain := run(false)
	restore := slab.SetPoison()
	defer restore()
	recycled := run(true)
	if plain.summary != recycled.summary {
		t.Errorf("summaries differ:\nplain    %s\nrecycled %s", plain.summary, recycled.summary)
	}
	if plain.export != recycled.export {
		t.Errorf("exports differ (%d and %d bytes)", len(plain.export), len(recycled.export))
	}
	if plain.findings != recycled.findings {
		t.Errorf("hunt findings differ:\nplain    %.2000s\nrecycled %.2000s", plain.findings, recycled.findings)
	}
}
