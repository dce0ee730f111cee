package syslog

import "strings"

// sdLen returns the length of the STRUCTURED-DATA at the start of s: one or
// more SD-ELEMENTs "[id name="value" ...]" with no blank between them. Inside
// a value '"', '\' and ']' are escaped with '\' (RFC 5424 section 6.3.3).
func sdLen(s string) (int, bool) {
	i := 0
	for i < len(s) && s[i] == '[' {
		n := sdElementLen(s[i:])
		if n == 0 {
			return 0, false
		}
		i += n
	}
	return i, i > 0
}

// sdElementLen is the length of one "[...]" element, 0 when unterminated.
func sdElementLen(s string) int {
	inValue := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inValue && c == '\\':
			i++
		case c == '"':
			inValue = !inValue
		case !inValue && c == ']':
			return i + 1
		}
	}
	return 0
}

// parseSD turns STRUCTURED-DATA that sdLen accepted into element ID →
// param name → value, with escapes removed. A param repeated in one element
// keeps its last value; the verbatim text stays in jejak.data.
func parseSD(s string) map[string]map[string]string {
	out := make(map[string]map[string]string)
	for len(s) > 0 && s[0] == '[' {
		s = s[1:]
		end := strings.IndexAny(s, " ]")
		if end < 0 {
			return out
		}
		id := s[:end]
		params := out[id]
		if params == nil {
			params = make(map[string]string)
			out[id] = params
		}
		s = s[end:]
		for len(s) > 0 && s[0] == ' ' {
			s = strings.TrimLeft(s, " ")
			eq := strings.Index(s, "=\"")
			if eq < 0 {
				return out
			}
			name := s[:eq]
			s = s[eq+2:]
			var b strings.Builder
			i := 0
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			params[name] = b.String()
			if i < len(s) {
				i++
			}
			s = s[i:]
		}
		if len(s) > 0 && s[0] == ']' {
			s = s[1:]
		}
	}
	return out
}
