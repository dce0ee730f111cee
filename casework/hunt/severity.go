package hunt

import (
	"fmt"
	"strings"
)

// Severity orders findings; the names are Sigma's levels. The scale is
// calibrated so that what an examiner must read first sorts first, and a
// built-in rule's severity (or the one its analyzer sets) follows it:
//
//   - critical: the attack or the tampering itself, after the cut-off:
//     a successful logon after password guessing (JEJAK-AUTH-02), an event
//     log cleared (JEJAK-LOG-01), Linux logs deleted or emptied by a typed
//     command (JEJAK-LNX-01), tabulation data files changed (JEJAK-DATA-01).
//   - high: a step an intruder takes that an operator rarely does, after
//     the cut-off: an account created or made administrator, pass-the-hash,
//     a suspicious service, firewall or RDP settings changed, history
//     cleared, an SSH key added, auditing disabled, the database dumped, a
//     log file found deleted, the clock changed or records stamped
//     backwards, timestomped files, database writes, an edited tally photo,
//     a web admin page from a new source, records missing from a log
//     (JEJAK-LOG-02 gap or clear).
//   - medium: worth a look, often innocent: password guessing, spraying or
//     failure bursts that did not get in, a logon from a source or by an
//     account never seen before, explicit credentials, a Remote Desktop
//     logon or session, a scheduled task, a logon outside working hours,
//     photos taken after the cut-off or recovered deleted.
//   - low: background noise kept for completeness: internet scanners that
//     each tried a few passwords (one aggregated finding per host), new
//     sources that never got in, a log rolled over past the cut-off, the
//     same tampering found before the cut-off.
//   - informational: context, not a finding to act on.
//
// An analyzer may raise or lower its rule's level per finding when the
// evidence is stronger or weaker (a source new after the cut-off, an event
// before it); the rule files' descriptions say when.
// Sigma rules keep their own level. 'jejak hunt --min-severity' drops
// what is below a level; --fail-on sets the exit status.
type Severity int

const (
	Informational Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"informational", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a Sigma level name ("info" is accepted for
// informational, as some rule sets write it).
func ParseSeverity(s string) (Severity, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "info" {
		return Informational, nil
	}
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

// MarshalText writes the name, so JSON reports read "high", not 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
