package lines

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// A UTF-16 text gives the same lines as its UTF-8 form (iconv's when it is
// installed, as an independent encoder), with offsets of the UTF-16 bytes.
func TestTextReaderUTF16(t *testing.T) {
	text := "2024-02-14 19:03:11.52 Logon  Login failed for user 'sa'.\r\nbaris kedua — ĉ 𝄞\r\n\r\nlast"
	b := parsertest.UTF16LE(text, true)
	if _, err := exec.LookPath("iconv"); err == nil {
		cmd := exec.Command("iconv", "-f", "UTF-8", "-t", "UTF-16LE")
		cmd.Stdin = bytes.NewReader([]byte(text))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b[2:]) {
			t.Fatalf("test encoder differs from iconv")
		}
	}
	head, isUTF16 := DecodeHead(b[:40])
	if !isUTF16 || head[:10] != "2024-02-14" {
		t.Errorf("DecodeHead = %q, %v", head, isUTF16)
	}
	lr := NewTextReader(bufio.NewReader(bytes.NewReader(b)), true)
	want := []struct {
		line string
		off  int64
	}{
		{"2024-02-14 19:03:11.52 Logon  Login failed for user 'sa'.", 2},
		{"baris kedua — ĉ 𝄞", 2 + 2*(57+2)},
		{"", 2 + 2*(57+2) + 2*(18+2)}, // 𝄞 is two code units
		{"last", 2 + 2*(57+2) + 2*(18+2) + 2*2},
	}
	for i, w := range want {
		line, off, num, err := lr.Next()
		if err != nil || line != w.line || off != w.off || num != int64(i+1) {
			t.Errorf("line %d: %q @%d #%d %v; want %q @%d", i+1, line, off, num, err, w.line, w.off)
		}
	}
	if _, _, _, err := lr.Next(); err != io.EOF {
		t.Errorf("after the last line: %v", err)
	}
	odd := NewTextReader(bufio.NewReader(bytes.NewReader(append(parsertest.UTF16LE("ab\n", false), 'x'))), true)
	odd.Next()
	if _, _, _, err := odd.Next(); !errors.Is(err, ErrOddByte) {
		t.Errorf("odd last byte: %v", err)
	}
}

func TestTextReaderUTF8BOM(t *testing.T) {
	lr := NewTextReader(bufio.NewReader(bytes.NewReader([]byte("\xEF\xBB\xBFfirst\nsecond\n"))), false)
	if line, _, _, _ := lr.Next(); line != "first" {
		t.Errorf("first line %q", line)
	}
	if _, isUTF16 := DecodeHead([]byte("\xEF\xBB\xBFplain")); isUTF16 {
		t.Errorf("UTF-8 head read as UTF-16")
	}
}

// Each hands every line to fn, a line over Max to warn, and goes on.
func TestTextReaderEach(t *testing.T) {
	text := "one\n" + strings.Repeat("x", Max+10) + "\nthree\n"
	var got []string
	var warned []int64
	err := NewTextReader(bufio.NewReader(strings.NewReader(text)), false).Each(context.Background(),
		func(line string, _, num int64) error { got = append(got, line); return nil },
		func(_, num int64, err error) {
			if errors.Is(err, ErrTooLong) {
				warned = append(warned, num)
			}
		})
	if err != nil || strings.Join(got, ",") != "one,three" || len(warned) != 1 || warned[0] != 2 {
		t.Errorf("lines %q, warned at %v, err %v", got, warned, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewTextReader(bufio.NewReader(strings.NewReader(text)), false).Each(ctx,
		func(string, int64, int64) error { return nil }, func(int64, int64, error) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
