package image

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf16"
)

// headerNames maps the header/header2 identifiers to readable keys.
var headerNames = map[string]string{
	"a": "description", "c": "case_number", "n": "evidence_number",
	"e": "examiner_name", "t": "notes", "md": "model", "sn": "serial_number",
	"l": "device_label", "av": "software_version", "ov": "platform",
	"m": "acquisition_date", "u": "system_date", "p": "password_hash",
}

// parseHeader decodes a header (ASCII) or header2 (UTF-16) section payload:
// zlib-compressed text whose "main" category holds a line of tab-separated
// identifiers and a line of values. Unknown identifiers are kept as they are.
func parseHeader(b []byte, utf16Text bool) (map[string]string, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// Headers are a few hundred bytes; the limit keeps a hostile one small.
	raw, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return nil, err
	}
	text := string(raw)
	if utf16Text {
		if len(raw) >= 2 && raw[0] == 0xff && raw[1] == 0xfe {
			raw = raw[2:]
		}
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		text = string(utf16.Decode(u))
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	out := map[string]string{}
	for i := 0; i+2 < len(lines); i++ {
		if lines[i] != "main" {
			continue
		}
		keys, vals := strings.Split(lines[i+1], "\t"), strings.Split(lines[i+2], "\t")
		for j, k := range keys {
			if j >= len(vals) || vals[j] == "" {
				continue
			}
			if n, ok := headerNames[k]; ok {
				k = n
			}
			out[k] = vals[j]
		}
		break
	}
	return out, nil
}
