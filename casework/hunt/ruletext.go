package hunt

import (
	"fmt"
	"os"
	"strings"
)

// RuleText returns the exact bytes of the file a rule was read from (the
// embedded file of a built-in rule), checked against the SHA-256 recorded
// when it was loaded, so a report can quote the text that produced a
// finding.
func RuleText(r *Rule) ([]byte, error) {
	var b []byte
	var err error
	if name, ok := strings.CutPrefix(r.Source, "builtin:"); ok {
		b, err = builtinFS.ReadFile(name)
	} else {
		b, err = os.ReadFile(r.Source)
	}
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	if s := sum(b); s != r.SHA256 {
		return nil, fmt.Errorf("rule %s: %s changed since it was loaded (sha256 %s, loaded %s)", r.ID, r.Source, s, r.SHA256)
	}
	return b, nil
}
