package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

var (
	reRecID   = regexp.MustCompile(`<EventRecordID>(\d+)</EventRecordID>`)
	reCreated = regexp.MustCompile(`<TimeCreated SystemTime="([^"]+)"`)
)

// recoveredRecord is one record evtxexport -m recovered prints.
type recoveredRecord struct {
	id      uint64
	created time.Time
}

// evtxexportRecovered runs libevtx's evtxexport -m recovered -f xml. Its
// XML is read with regular expressions, not encoding/xml: for slack records
// whose names were overwritten libevtx prints element names made of the
// overwriting bytes, which no XML parser accepts.
func evtxexportRecovered(t *testing.T, file string) []recoveredRecord {
	t.Helper()
	bin := oracle.Tool(t, "evtxexport", "libevtx-utils")
	cmd := exec.Command(bin, "-m", "recovered", "-f", "xml", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("evtxexport -m recovered %s: %v\n%s", file, err, stderr.Bytes())
	}
	var recs []recoveredRecord
	for _, block := range bytes.Split(out, []byte("<Event xmlns=")) {
		m := reRecID.FindSubmatch(block)
		if m == nil {
			continue
		}
		r := recoveredRecord{}
		r.id, _ = strconv.ParseUint(string(m[1]), 10, 64)
		if c := reCreated.FindSubmatch(block); c != nil {
			if r.created, err = time.Parse(time.RFC3339Nano, string(c[1])); err != nil {
				t.Fatalf("evtxexport time %q: %v", c[1], err)
			}
		}
		recs = append(recs, r)
	}
	return recs
}

func isRecovered(ev *timeline.Event) bool {
	for _, tag := range ev.Jejak.Tags {
		if tag == TagRecovered {
			return true
		}
	}
	return false
}

// liveArea reads, from the file itself, whether the file offset off lies in
// the records area (header end to free-space offset) of a chunk with a valid
// magic, and the chunk's first and last record numbers.
func liveArea(file []byte, off int64) (in bool, first, last uint64) {
	base := fileHeaderBlock + (off-fileHeaderBlock)/chunkSize*chunkSize
	if base+chunkHeaderSize > int64(len(file)) || !bytes.Equal(file[base:base+8], chunkMagic) {
		return false, 0, 0
	}
	h := file[base:]
	free := int64(binary.LittleEndian.Uint32(h[48:]))
	return off-base >= chunkHeaderSize && off-base < free, binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:])
}

// TestRecoveredAgainstEvtxexport holds the records we recover from slack to
// libevtx's: every record evtxexport -m recovered prints must be one we
// recover, with the same TimeCreated, or one we read as live. The latter
// happens where evtxexport's walk of a chunk stops at damage and its slack
// scan then finds the chunk's remaining live records; the test proves from
// the file's bytes that such a record lies inside its chunk's records area
// and record-number range. Records we recover beyond evtxexport's are
// logged; each must have a header written time within a day of its
// TimeCreated (a record decoded against the wrong template would not), or
// say that its TimeCreated is lost.
func TestRecoveredAgainstEvtxexport(t *testing.T) {
	totalOracle, totalOurs := 0, 0
	for _, rel := range corpusEVTX(t) {
		t.Run(path.Base(rel), func(t *testing.T) {
			file := parsertest.Corpus(t, rel)
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res := parsertest.ParseFile(t, New(2), file, nil)
			if res.Err != nil {
				t.Fatalf("Parse: %v", res.Err)
			}
			type key struct {
				id uint64
				t  time.Time
			}
			ours := map[key]int{}
			live := map[uint64]*timeline.Event{}
			recovered, partial := 0, 0
			offsets := map[int64]bool{}
			for _, ev := range res.Events {
				if offsets[ev.Jejak.Provenance.Offset] {
					t.Errorf("two events at offset %d", ev.Jejak.Provenance.Offset)
				}
				offsets[ev.Jejak.Provenance.Offset] = true
				if !isRecovered(ev) {
					live[ev.Winlog.RecordID] = ev
					continue
				}
				recovered++
				if ev.Jejak.Data["recovered_partial"] != "" {
					partial++
				}
				if ev.Jejak.Data["recovered_from"] == "" {
					t.Errorf("record %d tagged recovered without recovered_from", ev.Winlog.RecordID)
				}
				ours[key{ev.Winlog.RecordID, ev.Timestamp}]++
			}
			oracleRecs := evtxexportRecovered(t, file)
			oracleLive, _, _ := evtxexport(t, file)
			inOracleLive := map[uint64]bool{}
			for _, r := range oracleLive {
				inOracleLive[r.ID] = true
			}
			matched, liveHere := 0, 0
			left := maps(ours)
			for _, r := range oracleRecs {
				k := key{r.id, r.created}
				if left[k] > 0 {
					left[k]--
					matched++
					continue
				}
				ev := live[r.id]
				if ev == nil || inOracleLive[r.id] {
					t.Errorf("record %d (TimeCreated %v), recovered by evtxexport, is missing", r.id, r.created)
					continue
				}
				if !ev.Timestamp.Equal(r.created) {
					t.Errorf("record %d: TimeCreated %v, evtxexport %v", r.id, ev.Timestamp, r.created)
				}
				in, first, last := liveArea(raw, ev.Jejak.Provenance.Offset)
				hdrID := uint64(ev.Jejak.Provenance.Record)
				if !in || hdrID < first || hdrID > last {
					t.Errorf("record %d at offset %d: evtxexport recovers it and we read it as live, but it is outside its chunk's records area or range %d-%d",
						r.id, ev.Jejak.Provenance.Offset, first, last)
				}
				liveHere++
			}
			extra := 0
			for _, ev := range res.Events {
				k := key{ev.Winlog.RecordID, ev.Timestamp}
				if !isRecovered(ev) || left[k] == 0 {
					continue
				}
				left[k]--
				extra++
				if src := ev.Jejak.Data["time_source"]; src != "" {
					continue // TimeCreated lost with an overwritten name; said so
				}
				written, err := time.Parse(time.RFC3339Nano, ev.Jejak.Data["written_time"])
				if err != nil {
					t.Errorf("record %d: written_time %q: %v", ev.Winlog.RecordID, ev.Jejak.Data["written_time"], err)
					continue
				}
				if d := written.Sub(ev.Timestamp); d < -24*time.Hour || d > 24*time.Hour {
					t.Errorf("recovered record %d at offset %d: TimeCreated %v is %v from its written time", ev.Winlog.RecordID, ev.Jejak.Provenance.Offset, ev.Timestamp, d)
				}
			}
			unrecovered := 0
			for _, w := range res.Warnings {
				if errors.Is(w.Err, parsers.ErrUnrecovered) {
					unrecovered++
				}
			}
			totalOracle += len(oracleRecs)
			totalOurs += recovered
			t.Logf("evtxexport -m recovered: %d; ours: %d recovered (%d partial), %d not recovered (warned); %d match evtxexport, %d live here, %d extra",
				len(oracleRecs), recovered, partial, unrecovered, matched, liveHere, extra)
		})
	}
	t.Logf("all files: evtxexport recovers %d records, we recover %d", totalOracle, totalOurs)
}

func maps[K comparable](m map[K]int) map[K]int {
	out := make(map[K]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestRecoveredChunkStates edits one field of a real file and checks where
// its records land: a chunk a clean file header no longer counts, and a
// chunk whose magic is wiped, still yield every record, with the same IDs,
// now tagged recovered with the reason; a dirty header's stale count
// changes nothing; every event ID stays unique.
func TestRecoveredChunkStates(t *testing.T) {
	orig, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	base := parseBytes(t, orig)
	chunkOf := func(off int64) int64 { return (off - fileHeaderBlock) / chunkSize }
	for _, tc := range []struct {
		name  string
		edit  func(b []byte)
		chunk int64
		from  string
	}{
		// A clean file header (dirty flag cleared) that counts 25 chunks:
		// the 26th is not in use, as libevtx reads it.
		{"clean header counts 25 of 26 chunks", func(b []byte) {
			binary.LittleEndian.PutUint16(b[42:], 25)
			binary.LittleEndian.PutUint32(b[120:], binary.LittleEndian.Uint32(b[120:])&^fileFlagDirty)
			binary.LittleEndian.PutUint32(b[124:], crc32.ChecksumIEEE(b[:120]))
		}, 25, fromUnused},
		// The same stale count in a dirty header (security.evtx is dirty)
		// is normal for a log not closed cleanly: chunk 25 stays live.
		{"dirty header counts 25 of 26 chunks", func(b []byte) {
			binary.LittleEndian.PutUint16(b[42:], 25)
			binary.LittleEndian.PutUint32(b[124:], crc32.ChecksumIEEE(b[:120]))
		}, 25, ""},
		{"chunk 3 magic wiped", func(b []byte) {
			copy(b[fileHeaderBlock+3*chunkSize:], "XXXXXXXX")
		}, 3, fromNoHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			tc.edit(b)
			got := parseBytes(t, b)
			if len(got) != len(base) {
				t.Fatalf("%d events, unedited file %d", len(got), len(base))
			}
			moved := 0
			ids := map[string]bool{}
			for i, ev := range got {
				was := base[i]
				if ev.Winlog.RecordID != was.Winlog.RecordID || ev.Jejak.Provenance.Offset != was.Jejak.Provenance.Offset {
					t.Fatalf("event %d: record %d at %d, unedited %d at %d", i, ev.Winlog.RecordID, ev.Jejak.Provenance.Offset, was.Winlog.RecordID, was.Jejak.Provenance.Offset)
				}
				id := timeline.ComputeID(ev.Jejak.Provenance, ev.TimestampDesc)
				if ids[id] {
					t.Errorf("event ID %s repeats (record %d)", id, ev.Winlog.RecordID)
				}
				ids[id] = true
				from := ev.Jejak.Data["recovered_from"]
				wasFrom := was.Jejak.Data["recovered_from"]
				switch {
				case chunkOf(ev.Jejak.Provenance.Offset) != tc.chunk:
					if from != wasFrom {
						t.Errorf("record %d outside chunk %d: recovered_from %q, unedited %q", ev.Winlog.RecordID, tc.chunk, from, wasFrom)
					}
				case wasFrom == "":
					if from != tc.from || isRecovered(ev) != (tc.from != "") {
						t.Errorf("record %d: recovered_from %q, want %q", ev.Winlog.RecordID, from, tc.from)
					}
					moved++
				}
			}
			if moved == 0 {
				t.Fatalf("no live record in chunk %d", tc.chunk)
			}
			t.Logf("%d live records of chunk %d now recovered (%s)", moved, tc.chunk, tc.from)
		})
	}
}

func parseBytes(t *testing.T, b []byte) []*timeline.Event {
	t.Helper()
	e := parsertest.BytesEntry("security.evtx", b, time.Time{})
	res := parsertest.Parse(context.Background(), New(2), e, time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res.Events
}
