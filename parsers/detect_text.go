package parsers

import "bytes"

// HeadStartsWithDigit reports whether the text lines.DecodeHead makes of
// head starts with an ASCII digit, without decoding it: a Match that
// decodes a whole head to test its first line against a pattern that
// starts with a time (\d{4}-...) can first ask this, and a file of another
// kind costs no copy of its head. It follows DecodeHead's cases in its
// order: UTF-16LE with a BOM (the first code unit is a digit when its high
// byte is 0), UTF-16LE recognised by zero high bytes (the first byte),
// else UTF-8 after an optional BOM. The parsers using it compare it with
// DecodeHead in their fuzz tests (defender, sqlserver).
func HeadStartsWithDigit(head []byte) bool {
	switch {
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		return len(head) >= 4 && head[3] == 0 && isDigit(head[2])
	case len(head) >= 4 && head[1] == 0 && head[3] == 0 && head[0] != 0 && head[2] != 0:
		return isDigit(head[0])
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return len(head) > 0 && isDigit(head[0])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
