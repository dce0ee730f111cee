package hunt

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// sigmaRuleText compiles a Sigma rule written in the test.
func sigmaRuleText(t testing.TB, text string) *Rule {
	t.Helper()
	r, why := parseSigmaFile([]byte(text), "test.yml")
	if why != "" {
		t.Fatalf("rule not loaded: %s\n%s", why, text)
	}
	return r
}

func matchedEvents(fs []Finding) int {
	n := 0
	for _, f := range fs {
		n += len(f.Events)
	}
	return n
}

// TestSigmaPowerShellLogsources hunts SigmaHQ-style ps_script and
// ps_module rules over real PowerShell Operational logs, against the
// records evtxexport shows: only 4104 (ps_script) or 4103 (ps_module)
// records, with the field the rule reads.
func TestSigmaPowerShellLogsources(t *testing.T) {
	for _, tc := range []struct {
		file, category, field, needle, eventID string
	}{
		{"agpl/evtx/EID4104_PowershellScriptblock.evtx", "ps_script", "ScriptBlockText", "get-", "4104"},
		{"agpl/evtx/EID4103_PowershellModule.evtx", "ps_script", "ScriptBlockText", "add-type", "4104"},
		{"agpl/evtx/EID4103_PowershellModule.evtx", "ps_module", "ContextInfo", "host", "4103"},
		{"agpl/evtx/EID4103_PowershellModule.evtx", "ps_module", "Payload", "CommandInvocation", "4103"},
	} {
		// Names unique without Go's "#01" suffix: the subtest's temporary
		// folder holds the case store, and sqlite.Open reads a '#' in a
		// path as the end of its file name.
		name := strings.TrimSuffix(tc.file[strings.LastIndexByte(tc.file, '/')+1:], ".evtx")
		t.Run(tc.category+"/"+tc.field+"/"+name, func(t *testing.T) {
			r := sigmaRuleText(t, `title: test `+tc.category+`
id: 11111111-2222-3333-4444-`+strings.Repeat("5", 12)+`
logsource:
    product: windows
    category: `+tc.category+`
detection:
    selection:
        `+tc.field+`|contains: '`+tc.needle+`'
    condition: selection
level: medium
`)
			path := parsertest.Corpus(t, tc.file)
			recs, ok := evtxexport(t, path)
			if !ok {
				t.Skip("evtxexport refuses the file")
			}
			want := oracleIDs(recs, func(x xrec) bool {
				return x.EventID == tc.eventID && strings.Contains(strings.ToLower(x.Data[tc.field]), strings.ToLower(tc.needle))
			})
			if len(want) == 0 {
				t.Fatalf("oracle: no %s record with %s containing %q: the test proves nothing", tc.eventID, tc.field, tc.needle)
			}
			got := findingIDs(hunt(t, buildCase(t, tc.file), Config{Rules: []*Rule{r}}))
			if !equalIDs(got, want) {
				t.Errorf("%s on %s: records %v, evtxexport says %v", tc.category, tc.file, got, want)
			}
		})
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSigmaAuditdRecords hunts SigmaHQ auditd-style rules (one audit record
// at a time: type, SYSCALL, a0..., key) over real audit logs; the oracle
// counts the raw lines of the log that carry the record.
func TestSigmaAuditdRecords(t *testing.T) {
	for _, tc := range []struct {
		name, file, detection string
		line                  *regexp.Regexp // the raw records the rule must match, one per event
	}{
		// Enriched log: SYSCALL= is written by auditd itself.
		{"enriched execve", "logs/linux/audit_enriched.log", "type: SYSCALL\n        SYSCALL: execve",
			regexp.MustCompile(`^type=SYSCALL .*\bSYSCALL=execve\b`)},
		// Raw log: only syscall=313 on x86_64; the name comes from the table.
		{"raw finit_module", "more/audit/go-libaudit_audit-rhel7.log", "type: 'SYSCALL'\n        SYSCALL: 'finit_module'",
			regexp.MustCompile(`^type=SYSCALL .*arch=c000003e syscall=313 `)},
		// EXECVE arguments, one of them hex-encoded in the log.
		{"execve args", "logs/linux/audit_enriched.log", "type: EXECVE\n        a0: '/bin/sh'\n        a1: '-c'\n        a2|contains: 'hostname'",
			regexp.MustCompile(`^type=EXECVE .*a0="/bin/sh" a1="-c" a2=`)},
		{"key", "logs/linux/audit_enriched.log", "type: SYSCALL\n        key: specimen_exec",
			regexp.MustCompile(`^type=SYSCALL .*key="specimen_exec"`)},
		// A field of another record type does not leak into this one.
		{"no cross-record", "logs/linux/audit_enriched.log", "type: EXECVE\n        exe: '/usr/bin/id'", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sigmaRuleText(t, `title: test auditd
id: 11111111-2222-3333-4444-666666666666
logsource:
    product: linux
    service: auditd
detection:
    selection:
        `+tc.detection+`
    condition: selection
level: medium
`)
			want := 0
			if tc.line != nil {
				b, err := os.ReadFile(parsertest.Corpus(t, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(string(b), "\n") {
					if tc.line.MatchString(l) {
						want++
					}
				}
				if want == 0 {
					t.Fatalf("oracle: no line of %s matches %s", tc.file, tc.line)
				}
			}
			got := matchedEvents(hunt(t, buildCase(t, tc.file), Config{Rules: []*Rule{r}}))
			if got != want {
				t.Errorf("%s: %d events matched, the log has %d such records", tc.name, got, want)
			}
		})
	}
}

// TestSigmaLogsourceMapping: the log sources SigmaHQ's Windows server and
// Linux rules name are mapped, and an unmappable one says why.
func TestSigmaLogsourceMapping(t *testing.T) {
	for _, l := range []sigma.Logsource{
		{Product: "windows", Category: "ps_script"}, {Product: "windows", Category: "ps_module"},
		{Product: "windows", Category: "ps_classic_start"}, {Product: "windows", Category: "ps_classic_provider_start"},
		{Product: "windows", Category: "pipe_created"}, {Product: "windows", Category: "file_access"},
		{Product: "windows", Category: "file_event"}, {Product: "windows", Category: "file_delete"},
		{Product: "windows", Service: "dns-client"}, {Product: "windows", Service: "security-mitigations"},
		{Product: "linux", Service: "auditd"}, {Product: "linux", Category: "file_event"},
	} {
		if _, err := logsourceFilter(l); err != nil {
			t.Errorf("%s: %v", logsourceString(l), err)
		}
	}
	_, err := logsourceFilter(sigma.Logsource{Product: "windows", Category: "file_rename"})
	if err == nil || !strings.Contains(err.Error(), "Kernel-File") {
		t.Errorf("file_rename: %v, want the reason it cannot be mapped", err)
	}
	_, err = logsourceFilter(sigma.Logsource{Product: "macos", Category: "process_creation"})
	if err == nil || !strings.Contains(err.Error(), `product "macos"`) {
		t.Errorf("macos: %v, want the product named", err)
	}
}

// TestSigmaConditionWildcardAfterDigit: "1 of selection_1_*" and "all of
// set1*" (which sigma-go's lexer rejects) mean the explicit or/and over
// the matching search names.
func TestSigmaConditionWildcardAfterDigit(t *testing.T) {
	rule := func(cond string) *Rule {
		return sigmaRuleText(t, `title: quantifier
id: 11111111-2222-3333-4444-777777777777
logsource:
    product: windows
    service: security
detection:
    selection_1_a:
        EventID: 4720
    selection_1_b:
        TargetUserName|startswith: 'adm'
    other:
        EventID: 1102
    condition: `+cond+`
`)
	}
	for _, tc := range []struct {
		cond  string
		event map[string]any
		want  bool
	}{
		{"1 of selection_1_*", map[string]any{"EventID": "4720", "TargetUserName": "bob"}, true},
		{"1 of selection_1_*", map[string]any{"EventID": "1102", "TargetUserName": "bob"}, false},
		{"all of selection_1_*", map[string]any{"EventID": "4720", "TargetUserName": "bob"}, false},
		{"all of selection_1_*", map[string]any{"EventID": "4720", "TargetUserName": "admin2"}, true},
		{"other and not 1 of selection_1_*", map[string]any{"EventID": "1102", "TargetUserName": "bob"}, true},
		{"other and not 1 of selection_1_*", map[string]any{"EventID": "1102", "TargetUserName": "adm"}, false},
	} {
		got, err := rule(tc.cond).sigma.matches(t.Context(), tc.event)
		if err != nil || got != tc.want {
			t.Errorf("%s on %v: %v (%v), want %v", tc.cond, tc.event, got, err, tc.want)
		}
	}
}
