package oracle

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// EvtxExport runs libevtx's evtxexport -f xml on an EVTX file and returns
// each record's <Event>...</Event> block, for the caller to unmarshal into
// the fields it compares. ok is false, with evtxexport's stderr, when it
// refuses the file; the records it printed before are still returned.
func EvtxExport(t testing.TB, path string) (events [][]byte, ok bool, stderr string) {
	t.Helper()
	bin := Tool(t, "evtxexport", "libevtx-utils")
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "-f", "xml", path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	// Each event is an <Event ...>...</Event> block on its own lines.
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var block strings.Builder
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "<Event ") || line == "<Event>" {
			in = true
			block.Reset()
		}
		if !in {
			continue
		}
		block.WriteString(line)
		block.WriteByte('\n')
		if line != "</Event>" {
			continue
		}
		in = false
		// libevtx copies control characters from the record into its
		// XML, which encoding/xml rejects.
		clean := strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				return -1
			}
			return r
		}, block.String())
		events = append(events, []byte(clean))
	}
	return events, runErr == nil, errb.String()
}
