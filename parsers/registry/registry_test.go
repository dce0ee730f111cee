package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// corpusHives are every hive of the shared corpus, with the type each is.
var corpusHives = []struct{ rel, typ string }{
	{"windows/registry/NTUSER.DAT", TypeNTUSER},
	{"windows/registry/NTUSER-XP.DAT", TypeNTUSER},
	{"windows/registry/SAM", TypeSAM},
	{"windows/registry/UsrClass.dat", TypeUsrClass},
	{"agpl/registry/SAM", TypeSAM},
	{"agpl/registry/Amcache.hve", TypeAmcache},
}

func keyEvents(res parsertest.Result) []*timeline.Event {
	var out []*timeline.Event
	for _, ev := range res.Events {
		if ev.Event.Dataset == "windows.registry" && ev.Jejak.Provenance.Record == 0 && len(ev.Jejak.Tags) == 0 && ev.Jejak.Data["registry.part"] == "" {
			out = append(out, ev)
		}
	}
	return out
}

// regfexportKeys lists the key paths regfexport prints, in its order,
// without the root key's name (our paths start at "\").
func regfexportKeys(t *testing.T, path string) []string {
	out := oracle.Output(t, "regfexport", path)
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l, ok := strings.CutPrefix(sc.Text(), "Key path: ")
		if !ok {
			continue
		}
		if _, rest, ok := strings.Cut(l, `\`); ok {
			keys = append(keys, `\`+rest)
		} else {
			keys = append(keys, `\`)
		}
	}
	return keys
}

// TestKeysEqualRegfexport: every key regfexport (libregf) lists is an
// event, in the same order, and nothing else is; no warnings on these
// hives but the dirty one's.
func TestKeysEqualRegfexport(t *testing.T) {
	oracle.Tool(t, "regfexport", "libregf-utils")
	for _, c := range corpusHives {
		t.Run(c.rel, func(t *testing.T) {
			path := parsertest.Corpus(t, c.rel)
			want := regfexportKeys(t, path)
			res := parsertest.ParseFile(t, New(), path, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			evs := keyEvents(res)
			if len(evs) != len(want) {
				t.Errorf("%d keys, regfexport lists %d", len(evs), len(want))
			}
			for i := range min(len(evs), len(want)) {
				if got := evs[i].Jejak.Data["registry.key"]; got != want[i] {
					t.Fatalf("key %d: %q, regfexport %q", i, got, want[i])
				}
			}
			for _, ev := range evs {
				if ev.Jejak.Data["registry.hive"] != c.typ {
					t.Fatalf("hive type %q, want %q", ev.Jejak.Data["registry.hive"], c.typ)
				}
			}
			for _, w := range res.Warnings {
				if !errors.Is(w.Err, ErrDirty) {
					t.Errorf("warning: %v", w)
				}
			}
		})
	}
}

// TestKeyTimesEqualReglookup: every key's last-written time, to the second
// (reglookup prints seconds), equals reglookup's MTIME; and the 100 ns
// precision is kept (not every time of a hive falls on a whole second).
func TestKeyTimesEqualReglookup(t *testing.T) {
	oracle.Tool(t, "reglookup", "reglookup")
	for _, c := range corpusHives {
		t.Run(c.rel, func(t *testing.T) {
			path := parsertest.Corpus(t, c.rel)
			out := oracle.Output(t, "reglookup", "-H", "-t", "KEY", path)
			want := map[string]string{}
			for _, l := range strings.Split(string(out), "\n") {
				f := strings.Split(l, ",")
				if len(f) != 4 {
					continue
				}
				want[f[0]] = f[3]
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			compared, fractional := 0, 0
			for _, ev := range keyEvents(res) {
				k := strings.ReplaceAll(ev.Jejak.Data["registry.key"], `\`, "/")
				w, ok := want[k]
				if !ok {
					continue // reglookup escapes some characters in names
				}
				compared++
				if got := ev.Timestamp.Format(time.DateTime); got != w {
					t.Errorf("%s: %s, reglookup %s", k, got, w)
				}
				if ev.Timestamp.Nanosecond() != 0 {
					fractional++
				}
			}
			if compared < len(want)*95/100 || compared == 0 {
				t.Errorf("compared %d keys of reglookup's %d", compared, len(want))
			}
			if fractional == 0 {
				t.Errorf("no key time has a fraction of a second: precision lost?")
			}
		})
	}
}

func TestContract(t *testing.T) {
	var files []string
	for _, c := range corpusHives {
		if strings.HasPrefix(c.rel, "windows/") {
			files = append(files, parsertest.Corpus(t, c.rel))
		}
	}
	parsertest.Contract(t, New(), files...)
}

// The dirty Amcache hive (sequence numbers 3 and 2) is warned with both.
func TestDirtyHiveWarned(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "agpl/registry/Amcache.hve"), nil)
	n := 0
	for _, w := range res.Warnings {
		if errors.Is(w.Err, ErrDirty) {
			n++
			if !strings.Contains(w.Err.Error(), "primary sequence number 3, secondary 2") || w.Offset != offSeq1 {
				t.Errorf("warning %v at %d", w.Err, w.Offset)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d dirty warnings, want 1", n)
	}
}

// Damaged copies: a key cell zeroed and a subkey list pointed at itself
// are warnings with offsets; the rest is read.
func TestDamagedHive(t *testing.T) {
	path := parsertest.Corpus(t, "windows/registry/SAM")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clean := parsertest.ParseFile(t, New(), path, nil)
	h, _ := Open(data)
	root, _ := h.Root()
	sam := h.Lookup(root, `SAM\Domains`)
	if sam == nil {
		t.Fatal(`no SAM\Domains`)
	}
	bad := bytes.Clone(data)
	// Zero the "nk" signature of SAM\Domains: its subtree is lost, one warning.
	bad[sam.Offset+4], bad[sam.Offset+5] = 0, 0
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("SAM", bad, time.Time{}), time.UTC)
	if res.Err != nil || len(res.Warnings) == 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	if len(res.Events) >= len(clean.Events) || len(res.Events) == 0 {
		t.Errorf("%d events of %d", len(res.Events), len(clean.Events))
	}
	found := false
	for _, w := range res.Warnings {
		if strings.Contains(w.Err.Error(), "offset") && errors.Is(w.Err, ErrBadCell) {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning naming the damaged cell: %v", res.Warnings)
	}
}

func FuzzParse(f *testing.F) {
	dir, err := parsertest.CorpusDir()
	if err == nil {
		b, err := os.ReadFile(filepath.Join(dir, "windows/registry/SAM"))
		if err == nil {
			f.Add(b)
			f.Add(b[:8192])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := parsertest.BytesEntry("hive", b, time.Time{})
		head := b[:min(len(b), 4096)]
		if !New().Match(e, head) {
			return
		}
		parsertest.Parse(context.Background(), New(), e, time.UTC)
	})
}

// TestDeletedKeysEqualRegRipper: the keys recovered from free cells are
// those RegRipper's del plugin finds (name and last-written time), each
// tagged deleted, under its old parent's path when that is still a key.
func TestDeletedKeysEqualRegRipper(t *testing.T) {
	oracle.Tool(t, "regripper", "regripper")
	total := 0
	for _, c := range corpusHives {
		t.Run(c.rel, func(t *testing.T) {
			path := parsertest.Corpus(t, c.rel)
			want := map[string]int{}
			name := ""
			for _, l := range strings.Split(string(oracle.Output(t, "regripper", "-r", path, "-p", "del")), "\n") {
				if n, ok := strings.CutPrefix(l, "Key name: "); ok {
					name = n
				}
				if tm, ok := strings.CutPrefix(l, "Key LastWrite time = "); ok && name != "" {
					want[name+"|"+strings.TrimSuffix(tm, "Z")]++
					name = ""
				}
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			have := map[string]int{}
			for _, ev := range res.Events {
				if ev.Event.Dataset == "windows.registry" && slices.Contains(ev.Jejak.Tags, TagDeleted) && slices.Contains(ev.Jejak.Tags, TagRecovered) {
					k := ev.Jejak.Data["registry.key"]
					have[k[strings.LastIndexByte(k, '\\')+1:]+"|"+ev.Timestamp.Format(time.DateTime)]++
					if strings.Contains(k, "unknown parent") {
						t.Errorf("%s: parent not resolved", k)
					}
				}
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Errorf("deleted keys %v, RegRipper del %v", have, want)
			}
			total += len(want)
		})
	}
	// The Velociraptor SAM (AGPL, only in ../shared) holds most of them.
	if total < 4 && parsertest.Shared() || total < 1 {
		t.Errorf("%d deleted keys in the corpus, RegRipper finds 6", total)
	}
}

// A new-format transaction log (a base block of file type 6, then HvLE
// entries at 512, as msuhanov's specification and regparser's profile lay
// them out) is recognised by content, reported as one event with its
// entries, pages and sequence numbers, and warned as not applied.
func TestTransactionLog(t *testing.T) {
	hive, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	log := bytes.Clone(hive[:512])
	le.PutUint32(log[offFileType:], 6)
	le.PutUint32(log[offSeq1:], 61)
	le.PutUint32(log[offSeq2:], 61)
	for i, seq := range []uint32{60, 61} {
		e := make([]byte, 512+4096)
		copy(e, "HvLE")
		le.PutUint32(e[4:], uint32(len(e)))
		le.PutUint32(e[12:], seq)
		le.PutUint32(e[16:], le.Uint32(hive[offBinsSize:]))
		le.PutUint32(e[20:], 1)                // one dirty page
		le.PutUint32(e[40:], uint32(i)*0x1000) // its offset in the hive bins
		le.PutUint32(e[44:], 0x1000)
		copy(e[512:], hive[4096+i*0x1000:])
		log = append(log, e...)
	}
	e := parsertest.BytesEntry("SAM.LOG1", log, time.Time{})
	if !New().Match(e, log[:4096]) {
		t.Fatal("Match refuses the log")
	}
	res := parsertest.Parse(context.Background(), New(), e, time.UTC)
	if res.Err != nil || len(res.Events) != 1 || len(res.Warnings) != 1 || !errors.Is(res.Warnings[0].Err, ErrTransaction) {
		t.Fatalf("%v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	if m := res.Events[0].Message; !strings.Contains(m, "2 log entries (sequence 60 to 61), 2 dirty pages") {
		t.Errorf("message %q", m)
	}
}

// TestValuesOnTimeline: every value regfexport lists for a key is named
// in that key's events (the key's own, and the ones after it that carry
// the values a message of bounded length could not hold).
func TestValuesOnTimeline(t *testing.T) {
	oracle.Tool(t, "regfexport", "libregf-utils")
	for _, c := range corpusHives {
		t.Run(c.rel, func(t *testing.T) {
			path := parsertest.Corpus(t, c.rel)
			out := oracle.Output(t, "regfexport", path)
			want := map[string][]string{} // key path → value names
			key := ""
			for _, l := range strings.Split(string(out), "\n") {
				if k, ok := strings.CutPrefix(l, "Key path: "); ok {
					key = `\`
					if _, rest, ok := strings.Cut(k, `\`); ok {
						key = `\` + rest
					}
				}
				if v, ok := strings.CutPrefix(l, "Value: "); ok {
					_, name, _ := strings.Cut(v, " ")
					want[key] = append(want[key], name)
				}
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			msgs := map[string]string{}
			parts := 0
			for _, ev := range res.Events {
				if ev.Event.Dataset == "windows.registry" && len(ev.Jejak.Tags) == 0 {
					msgs[ev.Jejak.Data["registry.key"]] += ev.Message + "\n"
					if ev.Jejak.Data["registry.part"] != "" {
						parts++
					}
				}
			}
			n := 0
			for k, names := range want {
				for _, name := range names {
					n++
					if !strings.Contains(msgs[k], " "+name+": [") {
						t.Errorf("%s: value %q not on the timeline", k, name)
					}
				}
			}
			t.Logf("%d values checked, %d continuation events", n, parts)
		})
	}
}
