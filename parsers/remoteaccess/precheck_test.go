package remoteaccess

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTVConnectionPrecheck: the precheck of TVConnections.MatchLine never
// rejects a line the parse accepts.
func FuzzTVConnectionPrecheck(f *testing.F) {
	for _, s := range []string{
		"1234567\t11-07-2024 10:00:00\t11-07-2024 10:05:00\tuser\tRemoteControl\t{12345678-1234-1234-1234-123456789abc}",
		" \v1234567  11-07-2024 10:00:00  11-07-2024 10:05:00  a user  RemoteControl  {12345678-1234-1234-1234-123456789abc}",
		"\u00a01234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {12345678-1234-1234-1234-123456789abc}",
		"\u20281234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {12345678-1234-1234-1234-123456789abc}",
		"x1234567 11-07-2024 10:00:00 11-07-2024 10:05:00 u RemoteControl {x}", "", "\t\t",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n"))[:min(30, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, err := parseTVConnection(string(line), false)
		if err == nil && !mayBeTVConnection(line) {
			t.Errorf("precheck rejects %q, which parses", line)
		}
	})
}
