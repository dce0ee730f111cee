package ntfs

import (
	"errors"
	"fmt"
	"io"
)

// Run is one extent of a non-resident attribute: Length clusters from
// cluster LCN of the volume, or a sparse extent (LCN -1) that reads as
// zeros.
type Run struct {
	LCN    int64
	Length int64
}

// maxRuns bounds a run list: mapping pairs fill at most one attribute of
// one record, two bytes a run at the least.
const maxRuns = 1 << 15

// DecodeRuns decodes mapping pairs (the run list of a non-resident
// attribute). Each run is a header byte (low nibble: bytes of the length,
// high nibble: bytes of the signed LCN delta from the previous run, none
// for a sparse run), the length, then the delta; a zero header ends the
// list. Written by hand: go-ntfs decodes runs only inside its own
// attribute types, which need its whole volume context.
func DecodeRuns(b []byte) ([]Run, error) {
	var out []Run
	var lcn int64
	for i := 0; ; {
		if i >= len(b) {
			return out, fmt.Errorf("run list not terminated after %d bytes", i)
		}
		h := b[i]
		if h == 0 {
			return out, nil
		}
		nl, no := int(h&0xF), int(h>>4)
		if nl == 0 || nl > 8 || no > 8 {
			return out, fmt.Errorf("run header 0x%02x at %d", h, i)
		}
		if i+1+nl+no > len(b) {
			return out, fmt.Errorf("run at %d: %d bytes past the list", i, i+1+nl+no-len(b))
		}
		length := int64(0)
		for k := nl - 1; k >= 0; k-- {
			length = length<<8 | int64(b[i+1+k])
		}
		if length <= 0 {
			return out, fmt.Errorf("run at %d: length %d", i, length)
		}
		r := Run{LCN: -1, Length: length}
		if no > 0 {
			delta := int64(int8(b[i+nl+no])) // the sign is the top byte's
			for k := no - 2; k >= 0; k-- {
				delta = delta<<8 | int64(b[i+1+nl+k])
			}
			lcn += delta
			if lcn < 0 {
				return out, fmt.Errorf("run at %d: cluster %d", i, lcn)
			}
			r.LCN = lcn
		}
		out = append(out, r)
		if len(out) > maxRuns {
			return out, fmt.Errorf("more than %d runs", maxRuns)
		}
		i += 1 + nl + no
	}
}

// maxListSize bounds a non-resident $ATTRIBUTE_LIST read: a row per
// attribute, 32 to 48 bytes for the attributes NTFS splits off (names,
// data extents); 4 MiB is ~100k of them, far past any real volume's.
const maxListSize = 4 << 20

// readRuns reads size bytes of the stream that runs describe, from vol
// with clusters of cluster bytes. A sparse run is an error: NTFS never
// writes a list with holes.
func readRuns(vol io.ReaderAt, cluster int64, runs []Run, size int64) ([]byte, error) {
	buf := make([]byte, size)
	var at int64
	for _, r := range runs {
		if at >= size {
			break
		}
		if r.LCN < 0 {
			return nil, fmt.Errorf("sparse run at byte %d", at)
		}
		if r.LCN > (1<<62)/cluster {
			return nil, fmt.Errorf("run at byte %d: cluster %d past any volume", at, r.LCN)
		}
		n := size - at // what the list still needs; a run may hold more
		if r.Length < (n+cluster-1)/cluster {
			n = r.Length * cluster
		}
		got, err := vol.ReadAt(buf[at:at+n], r.LCN*cluster)
		if int64(got) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("clusters %d+%d (byte %d of the volume): %w", r.LCN, r.Length, r.LCN*cluster, err)
		}
		at += n
	}
	if at < size {
		return nil, fmt.Errorf("runs hold %d bytes of %d", at, size)
	}
	return buf, nil
}
