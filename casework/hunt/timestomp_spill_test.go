package hunt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestSpillSorter: records come back grouped by key in key order, those of
// one key in the order they were added, whether they were held in memory
// or spilled into many runs; the run file is gone afterwards.
func TestSpillSorter(t *testing.T) {
	for _, c := range []struct {
		name       string
		limit, n   int
		keys       int
		wantSpills bool
	}{
		{"in memory", 1 << 20, 2000, 50, false},
		{"two runs", 6000, 2000, 50, true},
		{"a run per record", 1, 300, 7, true},
		{"one key, many runs", 500, 3000, 1, true},
		{"every key once", 4096, 3000, 1 << 30, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newSpillSorter(dir, c.limit)
			rng := rand.New(rand.NewPCG(1, uint64(c.n)))
			type rec struct {
				key string
				seq int
			}
			var in []rec
			for i := range c.n {
				k := fmt.Sprintf("k%d", rng.IntN(min(c.keys, 1<<20)))
				if c.keys > c.n {
					k = fmt.Sprintf("k%d", i)
				}
				in = append(in, rec{k, i})
				b := binary.AppendUvarint([]byte(k), uint64(i))
				s.add(b, len(k))
			}
			if spilled := s.f != nil; spilled != c.wantSpills {
				t.Fatalf("spilled = %v, want %v (%d runs)", spilled, c.wantSpills, len(s.runs))
			}
			t.Logf("%d runs written", len(s.runs))
			want := slices.Clone(in)
			slices.SortStableFunc(want, func(a, b rec) int { return strings.Compare(a.key, b.key) })
			var got []rec
			err := s.each(context.Background(), func(b []byte, klen int) error {
				v, n := binary.Uvarint(b[klen:])
				if n <= 0 {
					return fmt.Errorf("bad record %q", b)
				}
				got = append(got, rec{string(b[:klen]), int(v)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("record %d of %d: got %v, want %v", i, len(want), got[i], want[i])
					}
				}
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			left, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("left in the spill folder: %v", left)
			}
		})
	}
}

// TestTimestompSpilledSame hunts the planted volume of
// TestTimestompPlantedNTFS with its records held in memory and spilled a
// few at a time, into many runs in Config.TempDir: the same
// findings, row for row, and nothing left in the folder.
func TestTimestompSpilledSame(t *testing.T) {
	oracle.Tool(t, "istat", "sleuthkit")
	dir := t.TempDir()
	img := filepath.Join(dir, "planted.ntfs")
	ntfstest.Format(t, img, 16<<20, "-L", "planted")
	plantBytes(t, dir, img)
	st := buildDiskCase(t, img)
	// Config.TempDir, as casework sets it to the case's temp folder: the
	// spilled runs go there, never where other cases' files are.
	spillDir := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(spillDir, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(spillDir)
	if err != nil {
		t.Fatal(err)
	}
	rule := ruleByID(t, "JEJAK-TIME-03")
	for _, after := range []time.Time{{}, mustTime(t, "2017-01-01T00:00:00Z"), time.Now().Add(time.Hour)} {
		held := hunt(t, st, Config{After: after, Rules: []*Rule{rule}, TempDir: spillDir})
		if len(held) == 0 {
			t.Fatalf("after %v: no finding on the planted volume", after)
		}
		func() {
			defer func(l int) { spillLimit = l }(spillLimit)
			spillLimit = 300 // about one record a run
			spilled := hunt(t, st, Config{After: after, Rules: []*Rule{rule}, TempDir: spillDir})
			if !reflect.DeepEqual(held, spilled) {
				t.Errorf("after %v: spilled findings differ:\nheld    %+v\nspilled %+v", after, held, spilled)
			}
		}()
		t.Logf("after %v: %d findings", after, len(held))
	}
	left, err := os.ReadDir(spillDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != len(before) {
		t.Errorf("spill folder %s: %d entries before the hunts, %d after", spillDir, len(before), len(left))
	}
}

// fixupEdit edits an NTFS FILE record in place with its update sequence
// undone, so that an edit may cross a sector's last two bytes (a $FILE_NAME
// in an extension record of a file with many names does): the sectors'
// saved bytes are put back from the update sequence array, fn edits the
// record, and the array is filled again from what the edit left there.
func fixupEdit(t *testing.T, r []byte, fn func(r []byte)) {
	t.Helper()
	usa, count := int(binary.LittleEndian.Uint16(r[4:])), int(binary.LittleEndian.Uint16(r[6:]))
	if count < 2 || usa+2*count > len(r) || (count-1)*512 > len(r) {
		t.Fatalf("FILE record with update sequence at %d, %d entries", usa, count)
	}
	usn := slices.Clone(r[usa : usa+2])
	for i := 1; i < count; i++ {
		end := i * 512
		if !bytes.Equal(r[end-2:end], usn) {
			t.Fatalf("sector %d of a FILE record does not end in its update sequence number", i)
		}
		copy(r[end-2:end], r[usa+2*i:usa+2*i+2])
	}
	fn(r)
	for i := 1; i < count; i++ {
		end := i * 512
		copy(r[usa+2*i:usa+2*i+2], r[end-2:end])
		copy(r[end-2:end], usn)
	}
}

// editNames sets the $FILE_NAME times of MFT entry `entry` name by name
// (times[name], in the base record or its extension records) and its
// $STANDARD_INFORMATION times (si), in an unmounted image. Every name in
// times must be found.
func editNames(t *testing.T, img string, entry uint64, si map[byte]time.Time, times map[string]map[byte]time.Time) {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	const rs = 1024
	found := map[string]bool{}
	siDone := false
	for off := 0; off+rs <= len(data); off += rs {
		r := data[off : off+rs]
		if string(r[:4]) != "FILE" {
			continue
		}
		base := binary.LittleEndian.Uint64(r[0x20:]) & (1<<48 - 1)
		if uint64(binary.LittleEndian.Uint32(r[0x2C:])) != entry && base != entry {
			continue
		}
		fixupEdit(t, r, func(r []byte) {
			for p := int(binary.LittleEndian.Uint16(r[0x14:])); p+0x18 <= rs; {
				at, n := binary.LittleEndian.Uint32(r[p:]), int(binary.LittleEndian.Uint32(r[p+4:]))
				if at == 0xFFFFFFFF || n <= 0 || p+n > rs {
					break
				}
				c := p + int(binary.LittleEndian.Uint16(r[p+0x14:]))
				switch {
				case at == 0x10 && r[p+8] == 0 && base == 0:
					for k, v := range si {
						binary.LittleEndian.PutUint64(r[c+siOff[k]:], filetime(v))
					}
					siDone = true
				case at == 0x30 && r[p+8] == 0:
					l := int(r[c+0x40])
					u := make([]rune, l)
					for i := range l {
						u[i] = rune(binary.LittleEndian.Uint16(r[c+0x42+2*i:]))
					}
					name := string(u)
					if ts, ok := times[name]; ok {
						for k, v := range ts {
							binary.LittleEndian.PutUint64(r[c+fnOff[k]:], filetime(v))
						}
						found[name] = true
					}
				}
				p += n
			}
		})
	}
	if !siDone || len(found) != len(times) {
		t.Fatalf("entry %d: $SI edited %v, %d of %d names found", entry, siDone, len(found), len(times))
	}
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reversed hands out a store's events newest first: not the time order
// the hunt reads a store in, and the order in which every one of a file's
// names, each earlier than the last, wins its $FN slots in turn (how the
// check lost rows when it counted each winner's row once in a fixed
// table of 127).
type reversed struct{ st timeline.Store }

func (r reversed) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	var evs []*timeline.Event
	if err := r.st.Search(ctx, q, func(ev *timeline.Event) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if err := fn(evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestTimestompManyNames plants a file with 150 hard links on a real
// NTFS volume (mkntfs, ntfs-3g), each name's $FILE_NAME with its own
// times, and its $SI creation set back with whole seconds. Its finding
// must hold, once each, the $SI events and the events of the four
// earliest $FN times it cites, the times the names were planted with,
// whichever order the events come in.
func TestTimestompManyNames(t *testing.T) {
	oracle.Tool(t, "istat", "sleuthkit")
	dir := t.TempDir()
	img := filepath.Join(dir, "names.ntfs")
	ntfstest.Format(t, img, 16<<20, "-L", "names")
	mnt, unmount := ntfstest.Mount(t, img)
	const links = 150
	p := filepath.Join(mnt, "many.exe")
	if err := os.WriteFile(p, []byte("MZ many names"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"many.exe"}
	for k := range links {
		n := fmt.Sprintf("name%03d.exe", k)
		if err := os.Link(p, filepath.Join(mnt, n)); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	st0, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	ino := st0.Sys().(*syscall.Stat_t).Ino // ntfs-3g's inode is the MFT entry
	unmount()

	// Name k's times: each letter's earliest on a different name (B on
	// the last, M, A and C on three others), all with sub-seconds and all
	// distinct, so there is one winner per slot in any order; the names
	// are planted in the order that makes each one earlier than the last
	// for B.
	base := time.Date(2019, 4, 1, 9, 0, 0, 123456700, time.UTC)
	times := map[string]map[byte]time.Time{}
	earliest := map[byte]string{}
	low := map[byte]time.Time{}
	for k, n := range names {
		ts := map[byte]time.Time{}
		for j, l := range []byte{'B', 'M', 'A', 'C'} {
			// rank 0 is the earliest of the letter.
			rank := (len(names) - 1 - k + 40*j) % len(names)
			ts[l] = base.Add(time.Duration(rank)*time.Hour + time.Duration(j)*time.Minute + time.Duration(k)*100)
			if low[l].IsZero() || ts[l].Before(low[l]) {
				low[l], earliest[l] = ts[l], n
			}
		}
		times[n] = ts
	}
	stomp := time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC) // whole seconds, before every $FN B
	siC := base.Add(500 * time.Hour)
	editNames(t, img, ino, map[byte]time.Time{'B': stomp, 'M': stomp, 'A': stomp, 'C': siC}, times)

	// TSK's istat is the oracle that the volume holds what was planted.
	got := istatTimes(t, img, ino)
	if got["SI"][0] != stomp || got["SI"][2] != siC {
		t.Fatalf("istat $SI = %v, want B %v and C %v", got["SI"], stomp, siC)
	}

	st := buildDiskCase(t, img)
	// The entry's events on the timeline. The mft parser reads the names
	// in the base record and in extension records reached through a
	// resident $ATTRIBUTE_LIST; ntfs-3g writes the list of a file this
	// linked non-resident, and forensics/fs/ntfs does not read such a
	// list yet, so only the names left in the base record are on the
	// timeline. The check is held to those; the part below builds the
	// many names the parser does not give.
	var entryEvs []*timeline.Event
	if err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		if ev.File != nil && ev.Jejak.Data["mft_entry"] == fmt.Sprint(ino) {
			entryEvs = append(entryEvs, ev)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := earliestFN(t, entryEvs, times)
	rule := ruleByID(t, "JEJAK-TIME-03")
	var first []Finding
	for _, c := range []struct {
		name string
		src  Searcher
	}{{"time order", st}, {"newest first", reversed{st}}} {
		f := oneFinding(t, c.name, c.src, rule)
		checkManyNameRows(t, c.name, f, stomp, want)
		if first == nil {
			first = []Finding{f}
		} else if !reflect.DeepEqual(first[0], f) {
			t.Errorf("%s: finding differs from the time order's:\n%+v\n%+v", c.name, f, first[0])
		}
	}

	// 300 names, each earlier than the one before for every time: the
	// entry's real events, its $FN events copied under new names, in the
	// order the parser writes an entry ($SI, then name after name), which
	// a Searcher that is not a time-ordered store may give. Every name
	// wins every $FN slot in turn; the rows must be the last name's.
	var siEvs, tmpl []*timeline.Event
	for _, ev := range entryEvs {
		if ev.Jejak.Data["attribute"] == attrSI {
			siEvs = append(siEvs, ev)
		} else if filepath.Base(ev.File.Path) == filepath.Base(entryEvs[len(entryEvs)-1].File.Path) {
			tmpl = append(tmpl, ev)
		}
	}
	if len(siEvs) == 0 || len(tmpl) == 0 {
		t.Fatalf("entry %d: %d $SI events, %d $FN events of one name", ino, len(siEvs), len(tmpl))
	}
	seq := slices.Clone(siEvs)
	const copies = 300
	for k := range copies {
		name := fmt.Sprintf("copy%03d.exe", k)
		for j, ev := range tmpl {
			c := *ev
			file := *ev.File
			old := filepath.Base(file.Path)
			file.Path = strings.TrimSuffix(file.Path, old) + name
			file.Name = name
			c.File = &file
			c.Message = strings.Replace(ev.Message, old, name, 1)
			c.Jejak.ID = fmt.Sprintf("%016x%016x", 0xC0FFEE, k*16+j)
			// An hour earlier with each copy: the last is below every
			// planted name (at most 150 hours above base) and still
			// above the stomped $SI creation.
			c.Timestamp = ev.Timestamp.Add(-time.Duration(k+1) * time.Hour)
			seq = append(seq, &c)
		}
	}
	f := oneFinding(t, "parser order", inOrder(seq), rule)
	last := map[byte]fnRow{}
	for _, ev := range seq[len(seq)-len(tmpl):] {
		for _, l := range macbLetters(ev.Jejak.Data["macb"]) {
			last[l] = fnRow{name: filepath.Base(ev.File.Path), at: ev.Timestamp, id: ev.Jejak.ID}
		}
	}
	checkManyNameRows(t, "parser order", f, stomp, last)
}

// fnRow is the $FN event a finding must hold for one letter.
type fnRow struct {
	name string
	at   time.Time
	id   string
}

// macbLetters are the upper-case letters of an event's macb ("m.c." → M, C).
func macbLetters(macb string) []byte {
	var out []byte
	for _, l := range []byte(strings.ReplaceAll(macb, ".", "")) {
		out = append(out, l-'a'+'A')
	}
	return out
}

// earliestFN is, per letter, the entry's $FN event with the earliest time;
// each must carry the time planted for its name.
func earliestFN(t *testing.T, evs []*timeline.Event, planted map[string]map[byte]time.Time) map[byte]fnRow {
	t.Helper()
	out := map[byte]fnRow{}
	names := map[string]bool{}
	for _, ev := range evs {
		if ev.Jejak.Data["attribute"] != attrFN {
			continue
		}
		name := filepath.Base(ev.File.Path)
		names[name] = true
		for _, l := range macbLetters(ev.Jejak.Data["macb"]) {
			if p := planted[name][l]; !ev.Timestamp.Equal(p) {
				t.Errorf("%s $FN %c on the timeline at %s, planted %s", name, l, tsFine(ev.Timestamp), tsFine(p))
			}
			if r, ok := out[l]; !ok || ev.Timestamp.Before(r.at) {
				out[l] = fnRow{name: name, at: ev.Timestamp, id: ev.Jejak.ID}
			}
		}
	}
	t.Logf("%d of %d planted names on the timeline", len(names), len(planted))
	if len(names) < 2 || len(out) != 4 {
		t.Fatalf("%d names, %d $FN letters on the timeline", len(names), len(out))
	}
	return out
}

func oneFinding(t *testing.T, label string, src Searcher, rule *Rule) Finding {
	t.Helper()
	fs, err := Hunt(context.Background(), src, Config{Rules: []*Rule{rule}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%s: %d findings, want the one of many.exe: %+v", label, len(fs), fs)
	}
	t.Logf("%s: %s (%d rows)", label, fs[0].Explanation, len(fs[0].Events))
	return fs[0]
}

// checkManyNameRows: the finding compares the stomped $SI creation with
// the earliest $FN creation, and its rows are the $SI events (M, A, C
// and B once each) and, for each letter, the event of the earliest $FN
// time, each row once.
func checkManyNameRows(t *testing.T, label string, f Finding, stomp time.Time, want map[byte]fnRow) {
	t.Helper()
	if !strings.Contains(f.Explanation, "SI<FN: $SI creation "+tsFine(stomp)) ||
		!strings.Contains(f.Explanation, "before $FN creation "+tsFine(want['B'].at)) {
		t.Errorf("%s: explanation does not compare with the earliest $FN creation %s: %s", label, tsFine(want['B'].at), f.Explanation)
	}
	ids := map[string]bool{}
	si := ""
	fn := map[byte]bool{}
	for _, ev := range f.Events {
		if ids[ev.ID] {
			t.Errorf("%s: row %s twice", label, ev.Message)
		}
		ids[ev.ID] = true
		fields := strings.Fields(ev.Message)
		if len(fields) < 3 {
			t.Fatalf("%s: row %q", label, ev.Message)
		}
		switch fields[0] {
		case attrSI:
			si += string(macbLetters(fields[1]))
		case attrFN:
			for _, l := range macbLetters(fields[1]) {
				w := want[l]
				if ev.ID != w.id || !ev.Timestamp.Equal(w.at) || filepath.Base(fields[2]) != w.name {
					t.Errorf("%s: $FN row %q at %s: the earliest %c is %s's, at %s", label, ev.Message, tsFine(ev.Timestamp), l, w.name, tsFine(w.at))
				}
				fn[l] = true
			}
		}
	}
	if len(si) != 4 || !strings.Contains(si, "M") || !strings.Contains(si, "A") || !strings.Contains(si, "C") || !strings.Contains(si, "B") {
		t.Errorf("%s: $SI rows give times %q, want M, A, C and B once each", label, si)
	}
	if len(fn) != 4 {
		t.Errorf("%s: $FN rows give %d of the 4 earliest times: %v", label, len(fn), fn)
	}
}

// inOrder hands out its events in the order given.
type inOrder []*timeline.Event

func (s inOrder) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	for _, ev := range s {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// TestTimestompRecord: a record gives back what the check and a row need
// of its event, the message cut as a row cuts it.
func TestTimestompRecord(t *testing.T) {
	h := &hunter{strs: map[string]string{}, chains: map[string][]string{}}
	tabs := newRecTables()
	long := strings.Repeat("é", 200) // 400 bytes, cut at a character
	for _, c := range []struct {
		name string
		ev   timeline.Event
		si   bool
		set  uint8
	}{
		{"si", timeline.Event{
			Timestamp: time.Date(2016, 3, 1, 10, 0, 0, 123456700, time.UTC), TimestampDesc: "Content Modification Time",
			Message: "$STANDARD_INFORMATION m.cb a.txt [64-1]",
			File:    &timeline.File{Path: "dir/a.txt", Inode: "64-1"},
			Jejak: timeline.Jejak{ID: "00112233445566778899aabbccddeeff", Tags: []string{"recovered", "deleted"},
				Data:       map[string]string{"mft_entry": "64", "sequence": "1"},
				Provenance: timeline.Provenance{EvidenceSHA256: "ab", EvidenceName: "img", Chain: []string{"ntfs:"}, Path: "$MFT", Offset: 65536 + 56, Record: 64, Parser: "mft"}},
		}, true, 1<<tsM | 1<<tsC | 1<<tsB},
		{"fn, long message, before 1970", timeline.Event{
			Timestamp: time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC), TimestampDesc: "Creation Time",
			Message: long,
			File:    &timeline.File{Path: "", Inode: "5-5"},
			Jejak: timeline.Jejak{ID: "x",
				Data:       map[string]string{"mft_entry": "5", "sequence": "5"},
				Provenance: timeline.Provenance{Path: "$MFT", Offset: -1, Parser: "mft"}},
		}, false, 1 << tsA},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, klen := tabs.encode(h, nil, &c.ev, c.si, c.set)
			e := mftEvent{span: [2]int{0, len(rec)}, klen: klen}
			if err := e.decode(rec); err != nil {
				t.Fatal(err)
			}
			var state uint8
			for i, tag := range stateTags {
				if slices.Contains(c.ev.Jejak.Tags, tag) {
					state |= 1 << i
				}
			}
			p := tabs.provs[e.prov]
			p.Offset, p.Record = e.off, e.record
			wantP := c.ev.Jejak.Provenance
			if e.si != c.si || e.set != c.set || e.state != state || e.at != c.ev.Timestamp.UnixNano() ||
				!reflect.DeepEqual(p, wantP) || tabs.descs[e.desc] != c.ev.TimestampDesc ||
				string(e.id) != c.ev.Jejak.ID || string(e.path) != c.ev.File.Path {
				t.Errorf("decoded %+v (prov %+v), from %+v", e, p, c.ev)
			}
			if got, want := string(e.msg), h.ref(&c.ev).Message; got != want {
				t.Errorf("message %q, a row shows %q", got, want)
			}
		})
	}
}

// FuzzTimestompRecord: decoding never panics, whatever the spill file
// holds, and a record that decodes stays within its bytes.
func FuzzTimestompRecord(f *testing.F) {
	h := &hunter{strs: map[string]string{}, chains: map[string][]string{}}
	tabs := newRecTables()
	ev := timeline.Event{Timestamp: time.Unix(1, 5), Message: "$FILE_NAME ...b x [1-1]", File: &timeline.File{Path: "x", Inode: "1-1"},
		Jejak: timeline.Jejak{ID: "id", Data: map[string]string{"mft_entry": "1", "sequence": "1"}}}
	rec, klen := tabs.encode(h, nil, &ev, false, 1<<tsB)
	f.Add(rec, klen)
	f.Add(rec[:len(rec)-1], klen)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, klen int) {
		if klen < 0 {
			klen = -klen
		}
		e := mftEvent{span: [2]int{0, len(b)}, klen: klen}
		if e.decode(b) == nil && len(e.id)+len(e.path)+len(e.msg) > len(b) {
			t.Fatalf("decoded strings longer than the record")
		}
	})
}
