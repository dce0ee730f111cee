package registry

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// Value types.
const (
	RegNone             = 0
	RegSZ               = 1
	RegExpandSZ         = 2
	RegBinary           = 3
	RegDword            = 4
	RegDwordBigEndian   = 5
	RegLink             = 6
	RegMultiSZ          = 7
	RegResourceList     = 8
	RegFullResourceDesc = 9
	RegResourceReqList  = 10
	RegQword            = 11
)

var typeNames = map[uint32]string{
	RegNone: "REG_NONE", RegSZ: "REG_SZ", RegExpandSZ: "REG_EXPAND_SZ", RegBinary: "REG_BINARY",
	RegDword: "REG_DWORD", RegDwordBigEndian: "REG_DWORD_BIG_ENDIAN", RegLink: "REG_LINK",
	RegMultiSZ: "REG_MULTI_SZ", RegResourceList: "REG_RESOURCE_LIST",
	RegFullResourceDesc: "REG_FULL_RESOURCE_DESCRIPTOR", RegResourceReqList: "REG_RESOURCE_REQUIREMENTS_LIST",
	RegQword: "REG_QWORD",
}

// Device properties (Enum\...\Properties) store their DEVPROP_TYPE in
// the low word of a value type whose high word is 0xffff.
const devPropBase = 0xffff0000

var devPropNames = map[uint32]string{0x07: "UINT32", 0x0d: "GUID", 0x10: "FILETIME", 0x11: "BOOLEAN", 0x12: "STRING", 0x2012: "STRING_LIST"}

// TypeName is the REG_* name of a value type.
func TypeName(t uint32) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	if n, ok := devPropNames[t-devPropBase]; ok && t >= devPropBase {
		return "DEVPROP_TYPE_" + n
	}
	return "REG_UNKNOWN_0x" + strconv.FormatUint(uint64(t), 16)
}

// String returns the value's data as a string: strings decoded, numbers in
// decimal, a multi-string joined by "; ", anything else in hex (cut to
// maxHex bytes). Data that does not fit its type is shown in hex too.
func (v *Value) String() string { return v.format(64) }

func (v *Value) format(maxHex int) string {
	d := v.Data
	switch v.Type {
	case RegSZ, RegExpandSZ, RegLink:
		if len(d)%2 == 1 {
			d = d[:len(d)-1]
		}
		return utf16String(d)
	case RegMultiSZ:
		return strings.Join(v.Strings(), "; ")
	case RegDword:
		if len(d) == 4 {
			return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(d)), 10)
		}
	case RegDwordBigEndian:
		if len(d) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32(d)), 10)
		}
	case RegQword:
		if len(d) == 8 {
			return strconv.FormatUint(binary.LittleEndian.Uint64(d), 10)
		}
	case devPropBase | 0x10:
		if len(d) == 8 {
			return ntfs.Filetime(binary.LittleEndian.Uint64(d)).Time().Format(time.RFC3339Nano)
		}
	case devPropBase | 0x12, devPropBase | 0x2012:
		return strings.Join((&Value{Type: RegMultiSZ, Data: d}).Strings(), "; ")
	case devPropBase | 0x07:
		if len(d) == 4 {
			return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(d)), 10)
		}
	case devPropBase | 0x0d:
		if len(d) == 16 {
			return guid(d)
		}
	}
	if len(d) > maxHex {
		return hex.EncodeToString(d[:maxHex]) + "…"
	}
	return hex.EncodeToString(d)
}

// Strings returns a REG_MULTI_SZ's strings (empty ones inside kept, the
// terminating empty ones dropped).
func (v *Value) Strings() []string {
	var out []string
	d := v.Data
	start := 0
	for i := 0; i+1 < len(d); i += 2 {
		if d[i] == 0 && d[i+1] == 0 {
			out = append(out, utf16String(d[start:i]))
			start = i + 2
		}
	}
	if start+1 < len(d) {
		out = append(out, utf16String(d[start:]))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// Uint returns a DWORD or QWORD value (and a 4- or 8-byte binary one).
func (v *Value) Uint() (uint64, bool) {
	switch {
	case v.Type == RegDwordBigEndian && len(v.Data) == 4:
		return uint64(binary.BigEndian.Uint32(v.Data)), true
	case len(v.Data) == 4 && (v.Type == RegDword || v.Type == RegBinary):
		return uint64(binary.LittleEndian.Uint32(v.Data)), true
	case len(v.Data) == 8 && (v.Type == RegQword || v.Type == RegBinary):
		return binary.LittleEndian.Uint64(v.Data), true
	}
	return 0, false
}

// maxMessage bounds a key event's message: a key with thousands of values
// (an MRU, a cache) is summarised, its values counted.
const maxMessage = 4096

// maxValueText bounds one value's text in a key's message, so one long
// string does not crowd the other values out.
const maxValueText = 160

// summarise writes "[path] name: value name2: value2 …" as plaso's winreg
// does, bounded by maxMessage: the first of summaryParts.
func summarise(path string, vals []*Value) string { return summaryParts(path, vals)[0].msg }

// part is one message of a key's values and the index of its first value.
type part struct {
	msg   string
	first int
}

// summaryParts splits a key's values into messages of at most about
// maxMessage bytes, so that every value is on the timeline: the key's
// event holds the first, events after it the rest (a value is never
// split: one longer than the bound is a part of its own).
func summaryParts(path string, vals []*Value) []part {
	head := "[" + path + "]"
	if len(vals) == 0 {
		return []part{{msg: head + " (no values)"}}
	}
	var parts []part
	var b strings.Builder
	first := 0
	flush := func(next int) {
		parts = append(parts, part{msg: b.String(), first: first})
		b.Reset()
		first = next
	}
	for i, v := range vals {
		name := v.Name
		if name == "" {
			name = "(default)"
		}
		text := v.format(16)
		if len(text) > maxValueText {
			text = strings.ToValidUTF8(text[:maxValueText], "") + "…"
		}
		item := " " + name + ": [" + TypeName(v.Type) + "] " + text
		if b.Len() > 0 && b.Len()+len(item) > maxMessage {
			flush(i)
		}
		if b.Len() == 0 {
			b.WriteString(head)
			if first > 0 {
				fmt.Fprintf(&b, " (values %d-", first+1)
			}
		}
		b.WriteString(item)
	}
	flush(len(vals))
	if len(parts) > 1 {
		for i := range parts {
			end := len(vals)
			if i+1 < len(parts) {
				end = parts[i+1].first
			}
			if i == 0 {
				parts[i].msg += fmt.Sprintf(" … (%d more values in the next %d events)", len(vals)-end, len(parts)-1)
				continue
			}
			// "(values 41-" gets its end and the total.
			parts[i].msg = strings.Replace(parts[i].msg, fmt.Sprintf("(values %d-", parts[i].first+1),
				fmt.Sprintf("(values %d-%d of %d)", parts[i].first+1, end, len(vals)), 1)
		}
	}
	return parts
}
