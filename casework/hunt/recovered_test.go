package hunt

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestRecoveredRowsFlaggedAndMarked: an RDP logon (1149) recovered from the
// slack of a TerminalServices log is flagged like a live one, and the
// finding's row says it was recovered. libevtx's own recovery (evtxexport
// -m recovered) is the oracle for the recovered record IDs and event IDs.
func TestRecoveredRowsFlaggedAndMarked(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	path := parsertest.Corpus(t, "logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx")
	out, err := exec.Command("evtxexport", "-m", "recovered", "-f", "xml", path).Output()
	if err != nil {
		t.Fatalf("evtxexport -m recovered: %v", err)
	}
	// The recovered 1149 records, by EventID then EventRecordID in each
	// exported event.
	var want []uint64
	re := regexp.MustCompile(`(?s)<EventID>(\d+)</EventID>.*?<EventRecordID>(\d+)</EventRecordID>`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		if m[1] == "1149" {
			id, _ := strconv.ParseUint(m[2], 10, 64)
			want = append(want, id)
		}
	}
	st := buildCase(t, path)
	// The recovered 1149s are rows of RDP session chains: JEJAK-RDP-01
	// reads them by position when their template was overwritten.
	fs := byRule(hunt(t, st, Config{}), "JEJAK-RDP-01")
	got := recoveredIDs(fs)
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Errorf("evtxexport -m recovered has RDP logon %d; no finding row for it (flagged: %v)", id, got)
		}
	}
	// A record libevtx does not recover must be one whose template was
	// overwritten, decoded as far as it goes and said to be partial.
	partial := map[uint64]string{}
	if err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if e.Winlog != nil && slices.Contains(e.Jejak.Tags, "recovered") {
			partial[e.Winlog.RecordID] = e.Jejak.Data["recovered_partial"]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range got {
		if !slices.Contains(want, id) && partial[id] == "" {
			t.Errorf("recovered row %d flagged; evtxexport -m recovered does not have it and it is not marked partial", id)
		}
	}
	for _, f := range fs {
		for _, e := range f.Events {
			if e.Code == "1149" && len(e.State) > 0 && !slices.Equal(e.State, []string{"recovered"}) {
				t.Errorf("row %d state %v", e.RecordID, e.State)
			}
		}
	}
	t.Logf("recovered RDP logons flagged: %v (evtxexport -m recovered 1149s: %v)", got, want)
}

// TestLogVerdictCountsSlack: records carved from chunk slack do not enter
// the live sequence a log is judged on, but the reason about records not in
// the file says how many of them were recovered, as counted in the store.
func TestLogVerdictCountsSlack(t *testing.T) {
	path := "logs/windows/Application_no_crc32.evtx"
	st := buildCase(t, path)
	var live []uint64
	slack := map[uint64]bool{}
	if err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if e.Winlog == nil || e.Winlog.RecordID == 0 {
			return nil
		}
		if e.Jejak.Data["recovered_from"] == slackSource {
			slack[e.Winlog.RecordID] = true
		} else {
			live = append(live, e.Winlog.RecordID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	oldest := slices.Min(live)
	below := 0
	for id := range slack {
		if id < oldest {
			below++
		}
	}
	if below == 0 {
		t.Fatalf("no slack record below the oldest live record %d: the test tests nothing", oldest)
	}
	fs, _ := examined(t, st, Config{})
	if len(fs) != 1 {
		t.Fatalf("%d logs examined, want 1", len(fs))
	}
	want := fmt.Sprintf("the oldest record is %d ", oldest)
	suffix := fmt.Sprintf("; %d of them recovered from chunk slack (rows tagged recovered)", below)
	found := false
	for _, r := range fs[0].Reasons {
		if strings.HasPrefix(r, want) {
			found = true
			if !strings.HasSuffix(r, suffix) {
				t.Errorf("reason %q does not end %q", r, suffix)
			}
		}
	}
	if !found {
		t.Errorf("no reason about the oldest record %d: %q", oldest, fs[0].Reasons)
	}
	if fs[0].Verdict != VerdictRolled {
		t.Errorf("verdict %q, want %q: slack records must not open gaps", fs[0].Verdict, VerdictRolled)
	}
}
