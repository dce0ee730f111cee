package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A parser that needs random access (EVTX, SQLite, ESE…) to a member of a
// compressed stream (a .gz, a file in a .tar.gz) gets it through a copy of
// the member in the case's tmp folder. The copy is as large as the member
// expanded: a gz of a 3 GB file writes 3 GB. The spool limit bounds that
// per member, so one huge member cannot fill the examiner's disk; the
// member over the limit is skipped with a warning that names it and the
// limit, and the rest of the evidence is read.
//
// The default is a fixed size, not a share of the free disk space: the
// same evidence with the same flags must read the same on every machine,
// and a limit that moved with the free space would make a case's content
// depend on the examiner's disk. 4 GiB holds every EVTX (Windows caps a
// log at 4 GiB) and the databases of an election server seen so far.
const (
	DefaultSpoolLimit int64 = 4 << 30
	// NoSpoolLimit lifts the limit: members are spooled whatever their
	// size (the disk's free space is then the limit).
	NoSpoolLimit int64 = -1
)

// ErrSpoolLimit is the cause of a SkipSpoolLimit skip.
var ErrSpoolLimit = errors.New("too large to spool")

// sizeName writes n in binary units when it is a whole number of them
// (4 GiB, 512 MiB), else in bytes: the spelling --spool-limit accepts.
func sizeName(n int64) string {
	for _, u := range []struct {
		name  string
		scale int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.scale && n%u.scale == 0 {
			return fmt.Sprintf("%d %s", n/u.scale, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// ParseSpoolLimit reads a --spool-limit value: a byte count with an
// optional unit, binary (KiB, MiB, GiB, TiB; K, M, G, T mean the same) or
// decimal (KB, MB, GB, TB), spaces allowed between ("4GiB", "512 MiB",
// "1000000"). "0" and "none" lift the limit (NoSpoolLimit).
func ParseSpoolLimit(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "none") {
		return NoSpoolLimit, nil
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("spool limit %q: want a size such as 4GiB, 512MiB or none", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("spool limit %q: %w", s, err)
	}
	scale, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("spool limit %q: unknown unit %q (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s, strings.TrimSpace(t[i:]))
	}
	if n == 0 {
		return NoSpoolLimit, nil
	}
	if n > math.MaxInt64/scale {
		return 0, fmt.Errorf("spool limit %q is too large", s)
	}
	return n * scale, nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}
