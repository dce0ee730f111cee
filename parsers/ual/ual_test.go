package ual

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

const (
	currentMDB  = "agpl/ual/Current.mdb"
	identityMDB = "agpl/ual/SystemIdentity.mdb"
)

// oracleCopy returns a path esedbexport opens for the corpus file. The
// Current.mdb of the corpus (a database copied while UAL had it open)
// carries a header checksum libesedb 20181229 refuses; the copy gets the
// checksum libesedb computes itself, in both header pages, and nothing
// else changes. Our reader does not check it.
func oracleCopy(t *testing.T, file string) string {
	t.Helper()
	oracle.Tool(t, "esedbinfo", "libesedb-utils")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(file))
	mismatch := regexp.MustCompile(`mismatch in file header checksum \( 0x([0-9a-f]+) != 0x([0-9a-f]+) \)`)
	for range 3 {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("esedbinfo", p).CombinedOutput()
		if err == nil {
			return p
		}
		m := mismatch.FindSubmatch(out)
		if m == nil {
			t.Fatalf("esedbinfo: %v\n%s", err, out)
		}
		calc, _ := strconv.ParseUint(string(m[2]), 16, 32)
		pageSize := int(binary.LittleEndian.Uint32(b[236:]))
		for _, off := range []int{0, pageSize} {
			binary.LittleEndian.PutUint32(b[off:], uint32(calc))
		}
	}
	t.Fatalf("esedbinfo keeps refusing %s", file)
	return ""
}

// esedbexport exports every table of file and returns each as rows of
// named values.
func esedbexport(t *testing.T, file string) map[string][]map[string]string {
	t.Helper()
	dir := t.TempDir()
	oracle.Output(t, "esedbexport", "-t", filepath.Join(dir, "x"), file)
	files, _ := filepath.Glob(filepath.Join(dir, "x.export", "*"))
	out := map[string][]map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		head := strings.Split(lines[0], "\t")
		rows := []map[string]string{}
		for _, l := range lines[1:] {
			vals := strings.Split(l, "\t")
			r := map[string]string{}
			for i, h := range head {
				if i < len(vals) {
					r[h] = vals[i]
				}
			}
			rows = append(rows, r)
		}
		out[name] = rows
	}
	return out
}

// format writes a value as esedbexport does; ok is false for a type this
// test does not compare (floats, long values kept apart).
func format(c column, v value) (string, bool) {
	if v.separated || v.compressed {
		return "", false
	}
	raw := v.raw
	le := binary.LittleEndian
	if n := fixedSize(c.typ); n > 0 && len(raw) < n {
		return "", false
	}
	switch c.typ {
	case colBit:
		if raw[0] != 0 {
			return "true", true
		}
		return "false", true
	case colUint8:
		return strconv.Itoa(int(raw[0])), true
	case colInt16:
		return strconv.Itoa(int(int16(le.Uint16(raw)))), true
	case colUint16:
		return strconv.Itoa(int(le.Uint16(raw))), true
	case colInt32:
		return strconv.Itoa(int(int32(le.Uint32(raw)))), true
	case colUint32:
		return strconv.FormatUint(uint64(le.Uint32(raw)), 10), true
	case colInt64:
		return strconv.FormatInt(int64(le.Uint64(raw)), 10), true
	case colGUID, colBinary, colLongBin:
		return hex.EncodeToString(raw), true
	case colText, colLongText:
		return strings.ReplaceAll(text(raw, c.codepage), `\`, `\\`), true
	case colDateTime:
		ft := int64(le.Uint64(raw))
		tm := time.Unix(0, 0).UTC().Add(time.Duration(ft-116444736000000000) * 100)
		return tm.Format("Jan 02, 2006 15:04:05.000000000"), true
	}
	return "", false
}

// TestESEAgainstEsedbexport reads every table of both corpus databases
// with this package's ESE reader (catalog included) and compares each row
// and column with libesedb's esedbexport.
func TestESEAgainstEsedbexport(t *testing.T) {
	for _, rel := range []string{currentMDB, identityMDB} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			file := parsertest.Corpus(t, rel)
			want := esedbexport(t, oracleCopy(t, file))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			db, err := openESE(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			bad := func(pg uint32, err error) { t.Errorf("page %d: %v", pg, err) }
			tables, err := db.catalog(bad)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) != len(want) {
				t.Errorf("%d tables, esedbexport %d", len(tables), len(want))
			}
			compared := 0
			for name, rows := range want {
				tb := tables[name]
				if tb == nil {
					t.Errorf("table %s not in our catalog", name)
					continue
				}
				i := 0
				db.walkTree(tb.fdp, func(pg uint32, data []byte) error {
					vals, err := decodeRecord(data, tb.columns)
					if err != nil {
						t.Errorf("%s row %d: %v", name, i, err)
						i++
						return nil
					}
					if i < len(rows) {
						for _, c := range tb.columns {
							v, present := vals[c.id]
							if !present && c.id < 128 {
								// A fixed column whose null bit is set:
								// libesedb ignores the null bitmap and
								// prints the filler bytes (0x2a2a…) ESE
								// leaves there.
								continue
							}
							got, ok := "", true
							if present {
								got, ok = format(c, v)
							}
							if !ok {
								continue
							}
							if w := rows[i][c.name]; got != w {
								t.Errorf("%s row %d column %s: %q, esedbexport %q", name, i, c.name, got, w)
							}
							compared++
						}
					}
					i++
					return nil
				}, bad)
				if i != len(rows) {
					t.Errorf("table %s: %d rows, esedbexport %d", name, i, len(rows))
				}
			}
			t.Logf("%d values compared in %d tables", compared, len(want))
		})
	}
}

// TestEvents: the UAL rows as events — Velociraptor's test database holds
// one client (the local administrator on the File Server role, from ::1)
// and two role rows; SystemIdentity.mdb two system identities.
func TestEvents(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, currentMDB), nil)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	var first, last int
	for _, ev := range res.Events {
		switch ev.Event.Action {
		case "ual-client-first-access", "ual-client-last-access":
			if ev.Event.Action == "ual-client-first-access" {
				first++
			} else {
				last++
			}
			if ev.User == nil || ev.User.Name != "administrator" || ev.User.Domain != "win-e5k9rc5gu23" ||
				ev.Source == nil || ev.Source.IP != "::1" || ev.Jejak.Data["ual.role_name"] != "File Server" ||
				ev.Jejak.Data["ual.total_accesses"] != "1" || ev.Jejak.Data["ual.day_counts"] != "233:1" ||
				!ev.Timestamp.Equal(time.Date(2022, 8, 21, 9, 28, 38, 325072000, time.UTC)) {
				t.Errorf("client event: %s %+v %+v %v", ev.Timestamp, ev.User, ev.Source, ev.Jejak.Data)
			}
		}
	}
	if first != 1 || last != 1 || len(res.Events) != 6 {
		t.Errorf("%d events (%d first, %d last access)", len(res.Events), first, last)
	}
	res = parsertest.ParseFile(t, New(), parsertest.Corpus(t, identityMDB), nil)
	if res.Err != nil || len(res.Events) != 2 || res.Events[0].Host == nil || res.Events[0].Host.Name != "WIN-E5K9RC5GU23" {
		t.Errorf("SystemIdentity.mdb: err %v, %d events", res.Err, len(res.Events))
	}
}

func TestContract(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, rel := range []string{currentMDB, identityMDB} {
		// The contract reads the file under its own name.
		b, err := os.ReadFile(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(rel))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	parsertest.Contract(t, New(), files...)
}

func TestMatch(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, identityMDB))
	if err != nil {
		t.Fatal(err)
	}
	head := b[:parsers.HeadSize]
	if !New().Match(parsertest.BytesEntry("Sum/{E56D3FE3-073D-4249-B1A3-54EF6CF6878A}.mdb", nil, time.Time{}), head) {
		t.Error("Match rejects a UAL database")
	}
	if New().Match(parsertest.BytesEntry("SRUDB.dat", nil, time.Time{}), head) {
		t.Error("Match takes an ESE database not named .mdb")
	}
	if New().Match(parsertest.BytesEntry("x.mdb", nil, time.Time{}), bytes.Repeat([]byte{0}, 4096)) {
		t.Error("Match takes zeros")
	}
}

// FuzzParse: damaged databases never panic; seeded with the corpus files.
func FuzzParse(f *testing.F) {
	if dir, err := parsertest.CorpusDir(); err == nil {
		for _, rel := range []string{currentMDB, identityMDB} {
			if b, err := os.ReadFile(filepath.Join(dir, rel)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parsertest.Parse(t.Context(), New(), parsertest.BytesEntry("Current.mdb", data, time.Time{}), time.UTC)
	})
}

// TestDamagedRecords: record headers that claim more than the record
// holds are errors, never panics (found by FuzzParse on a corpus file,
// which cannot be stored here: it is AGPL).
func TestDamagedRecords(t *testing.T) {
	for _, b := range [][]byte{
		{0x40, 0x80, 0x04, 0x00},                               // 64 fixed columns, no room for their null bitmap
		{0x01, 0x80, 0xff, 0x00},                               // variable data offset past the end
		{0x00, 0xff, 0x04, 0x00, 0x01, 0x00},                   // 128 variable columns, one offset
		{0x00, 0x7f, 0x04, 0x00, 0x00, 0x01, 0x06, 0x00, 0x01}, // tagged table of 6 bytes
	} {
		if _, err := decodeRecord(b, catalogColumns); err == nil {
			t.Errorf("% x: no error", b)
		}
	}
}
