// Package usnjrnl reads the NTFS change journal, $Extend/$UsnJrnl:$J: one
// event per USN record (versions 2 and 3) with the reasons decoded, the
// file name, and the MFT references of the file and of its parent folder.
package usnjrnl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/internal/zeros"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "usnjrnl"

// Plaso's timeliner maps fs:ntfs:usn_change update_time to this.
const timestampDesc = "Metadata Modification Time"

// ErrBadRecord marks bytes where a record should be and none can be read.
var ErrBadRecord = errors.New("not a USN record")

// Parser reads $UsnJrnl:$J streams.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the change journal parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts the $J stream by name (the walker yields it as
// "$Extend/$UsnJrnl:$J"; extracted copies keep "UsnJrnl" or "$J" in their
// name) when its first bytes are a record or the zeros of a trimmed
// journal. A record has no magic strong enough to match on content alone.
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	// Both names hold a 'j', which only 'j' or 'J' lowers to: a name
	// without one is neither, in one pass (fold.ContainsASCII).
	if base := path.Base(e.Path); !fold.ContainsASCII(base, "j") || !fold.Contains(base, "usnjrnl") && !fold.Equal(base, "$j") {
		return false
	}
	if len(head) < 8 {
		return false
	}
	if zeros.All(head) {
		return true
	}
	_, ok := plausible(head)
	return ok
}

// Requires implements parsers.Requirer: both names hold a 'j', whatever
// the content.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "j"}
}

// plausible checks a record header: its length and version.
func plausible(b []byte) (int, bool) {
	if len(b) < 8 {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	major, minor := binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])
	switch {
	case n%8 != 0 || n > 64<<10 || minor > 1:
		return n, false
	case major == 2:
		return n, n >= 64
	case major == 3:
		return n, n >= 80
	case major == 4:
		return n, n >= 56
	}
	return n, false
}

// Parse implements parsers.Parser. The journal is read as a stream: it
// starts with the zeros of the trimmed part (often gigabytes, sparse on
// disk), skipped a buffer at a time.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	br := bufio.NewReaderSize(src.R, 64<<10)
	var off, rec int64
	var junkAt int64 = -1
	warn := func(o int64, err error) {
		src.WarnErr(o, rec+1, err)
	}
	endJunk := func() {
		if junkAt >= 0 {
			warn(junkAt, fmt.Errorf("%w: %d bytes skipped", ErrBadRecord, off-junkAt))
			junkAt = -1
		}
	}
	defer endJunk()
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := br.Peek(8)
		if len(hdr) < 8 {
			if len(hdr) > 0 && !zeros.All(hdr) {
				endJunk()
				warn(off, fmt.Errorf("%w: %d trailing bytes", io.ErrUnexpectedEOF, len(hdr)))
			}
			if err == io.EOF || err == nil {
				return nil
			}
			return fmt.Errorf("usnjrnl: read at offset %d: %w", off, err)
		}
		if binary.LittleEndian.Uint64(hdr) == 0 {
			endJunk()
			k, err := skipZeros(br)
			off += k
			if err != nil {
				return fmt.Errorf("usnjrnl: read at offset %d: %w", off, err)
			}
			continue
		}
		size, ok := plausible(hdr)
		var body []byte
		if ok {
			body, err = br.Peek(size)
			if len(body) < size {
				// size is at most the reader's buffer, so a short Peek is
				// the end of the file (a cut record, reported) or a failed
				// read, which is the caller's to see, not a record's damage.
				if err != nil && err != io.EOF {
					return fmt.Errorf("usnjrnl: read at offset %d: %w", off, err)
				}
				endJunk()
				warn(off, fmt.Errorf("%w: record of %d bytes, %d left", io.ErrUnexpectedEOF, size, len(body)))
				return nil
			}
		}
		if !ok {
			if junkAt < 0 {
				junkAt = off
			}
			br.Discard(8)
			off += 8
			continue
		}
		endJunk()
		rec++
		ev, err := decode(body)
		if err != nil {
			warn(off, err)
		} else if ev != nil {
			parsers.At(ev, off, rec)
			if err := emit(ev); err != nil {
				return err
			}
		} else {
			warn(off, errors.New("USN_RECORD_V4 (extent ranges, no time) not placed on the timeline"))
		}
		br.Discard(size)
		off += int64(size)
	}
}

// skipZeros discards zero bytes in steps of 8 (records are 8-byte aligned).
func skipZeros(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		// Peeking what is already buffered cannot fail.
		b, _ := br.Peek(br.Buffered())
		if len(b) == 0 {
			var err error
			b, err = br.Peek(8)
			if len(b) < 8 {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					err = nil
				}
				// a short zero tail: the caller sees it at its next Peek
				return n, err
			}
		}
		i := 0
		for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:]) == 0 {
			i += 8
		}
		br.Discard(i)
		n += int64(i)
		if i+8 <= len(b) || i == 0 {
			return n, nil
		}
	}
}

// reasonNames are the USN_REASON_* flags, in bit order.
var reasonNames = [32]string{
	0: "DATA_OVERWRITE", 1: "DATA_EXTEND", 2: "DATA_TRUNCATION",
	4: "NAMED_DATA_OVERWRITE", 5: "NAMED_DATA_EXTEND", 6: "NAMED_DATA_TRUNCATION",
	8: "FILE_CREATE", 9: "FILE_DELETE", 10: "EA_CHANGE", 11: "SECURITY_CHANGE",
	12: "RENAME_OLD_NAME", 13: "RENAME_NEW_NAME", 14: "INDEXABLE_CHANGE",
	15: "BASIC_INFO_CHANGE", 16: "HARD_LINK_CHANGE", 17: "COMPRESSION_CHANGE",
	18: "ENCRYPTION_CHANGE", 19: "OBJECT_ID_CHANGE", 20: "REPARSE_POINT_CHANGE",
	21: "STREAM_CHANGE", 22: "TRANSACTED_CHANGE", 23: "INTEGRITY_CHANGE",
	24: "DESIRED_STORAGE_CLASS_CHANGE", 31: "CLOSE",
}

// Reasons names the set flags, "|"-separated; unknown bits as hex.
func Reasons(r uint32) string {
	var parts []string
	for i := 0; i < 32; i++ {
		if r&(1<<i) == 0 {
			continue
		}
		if n := reasonNames[i]; n != "" {
			parts = append(parts, n)
		} else {
			parts = append(parts, fmt.Sprintf("0x%08x", uint32(1)<<i))
		}
	}
	return strings.Join(parts, "|")
}

// decode turns one record into an event; nil for a v4 record.
func decode(b []byte) (*timeline.Event, error) {
	le := binary.LittleEndian
	major := le.Uint16(b[4:])
	var fileRef, parentRef string
	var usn int64
	var ft ntfs.Filetime
	var reason, source, attrs uint32
	var nameLen, nameOff int
	switch major {
	case 2:
		fileRef, parentRef = ref64(le.Uint64(b[8:])), ref64(le.Uint64(b[16:]))
		usn, ft = int64(le.Uint64(b[24:])), ntfs.Filetime(le.Uint64(b[32:]))
		reason, source, attrs = le.Uint32(b[40:]), le.Uint32(b[44:]), le.Uint32(b[52:])
		nameLen, nameOff = int(le.Uint16(b[56:])), int(le.Uint16(b[58:]))
	case 3:
		// 128-bit ReFS-style IDs: on NTFS the low 64 bits are the MFT
		// reference.
		fileRef, parentRef = ref128(b[8:24]), ref128(b[24:40])
		usn, ft = int64(le.Uint64(b[40:])), ntfs.Filetime(le.Uint64(b[48:]))
		reason, source, attrs = le.Uint32(b[56:]), le.Uint32(b[60:]), le.Uint32(b[68:])
		nameLen, nameOff = int(le.Uint16(b[72:])), int(le.Uint16(b[74:]))
	default:
		return nil, nil
	}
	if nameLen%2 != 0 || nameOff+nameLen > len(b) || nameOff < 60 {
		return nil, fmt.Errorf("%w: name of %d bytes at %d in a record of %d", ErrBadRecord, nameLen, nameOff, len(b))
	}
	u := make([]uint16, nameLen/2)
	for i := range u {
		u[i] = le.Uint16(b[nameOff+2*i:])
	}
	name := string(utf16.Decode(u))
	reasons := Reasons(reason)
	ev := &timeline.Event{
		Timestamp:     ft.Time(),
		TimestampDesc: timestampDesc,
		Message:       fmt.Sprintf("%s %s (file %s, parent %s, USN %d)", name, reasons, fileRef, parentRef, usn),
		Event:         timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"change"}, Dataset: "ntfs.usnjrnl", Action: reasons},
		File:          &timeline.File{Name: name, Inode: fileRef},
		Jejak: timeline.Jejak{Data: map[string]string{
			"reasons":          reasons,
			"reason_flags":     fmt.Sprintf("0x%08x", reason),
			"file_reference":   fileRef,
			"parent_reference": parentRef,
			"usn":              strconv.FormatInt(usn, 10),
			"source_info":      fmt.Sprintf("0x%08x", source),
			"file_attributes":  fmt.Sprintf("0x%08x", attrs),
			"version":          strconv.Itoa(int(major)),
		}},
	}
	if ft.OutOfRange() {
		ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
		ev.Jejak.Data["filetime"] = strconv.FormatUint(uint64(ft), 10)
	}
	return ev, nil
}

func ref64(r uint64) string { return fmt.Sprintf("%d-%d", r&0xFFFFFFFFFFFF, r>>48) }

func ref128(b []byte) string { return ref64(binary.LittleEndian.Uint64(b)) }
