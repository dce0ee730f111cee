package hunt

import (
	"path"
	"strconv"
	"strings"
)

// SigmaHQ's auditd rules (logsource product linux, service auditd) test one
// audit record at a time, with its own field names: type: EXECVE and
// a0/a1..., type: SYSCALL with exe, key, SYSCALL (the syscall's name),
// type: PATH with name and nametype. jejak's auditd parser groups the
// records of one audit event into a timeline event and keeps each record's
// fields under its lower-case type ("execve.a0", "path[1].name"); the
// records are rebuilt here so such a rule is evaluated on each record
// and the event matches when one of its records does.

// auditdRecordsField carries the rebuilt records in the Sigma field map.
const auditdRecordsField = "jejak.auditd.records"

// auditdRecords rebuilds the per-record field maps of an auditd event from
// its Data keys, in the order of audit.record_types.
func auditdRecords(data map[string]string) []map[string]string {
	byPrefix := map[string]map[string]string{}
	for k, v := range data {
		prefix, field, ok := strings.Cut(k, ".")
		if !ok || prefix == "audit" || prefix == "avc" || strings.Contains(field, "#") {
			// audit.* is jejak's own bookkeeping; a "#2" key is a
			// field repeated in one record (the first one is Sigma's).
			continue
		}
		r := byPrefix[prefix]
		if r == nil {
			typ, _, _ := strings.Cut(prefix, "[")
			r = map[string]string{"type": strings.ToUpper(typ)}
			byPrefix[prefix] = r
		}
		r[field] = v
	}
	// Keep the parser's record order: audit.record_types lists the types,
	// a type seen more than once numbered [0], [1]...
	types := strings.Split(data["audit.record_types"], ",")
	count := map[string]int{}
	for _, t := range types {
		count[t]++
	}
	seen := map[string]int{}
	out := make([]map[string]string, 0, len(byPrefix))
	for _, t := range types {
		prefix := strings.ToLower(t)
		if count[t] > 1 {
			prefix += "[" + strconv.Itoa(seen[t]) + "]"
		}
		seen[t]++
		if r := byPrefix[prefix]; r != nil {
			if r["type"] == "SYSCALL" && r["SYSCALL"] == "" {
				if name := syscallName(r["arch"], r["syscall"]); name != "" {
					r["SYSCALL"] = name
				}
			}
			out = append(out, r)
			delete(byPrefix, prefix)
		}
	}
	return out
}

// syscallName names a syscall number as ausearch -i (and the enriched log
// format's SYSCALL= field) does, for the calls SigmaHQ's auditd rules name.
// An enriched log already carries the name; a raw one only the number.
func syscallName(arch, nr string) string {
	if strings.HasPrefix(nr, "0x") {
		return ""
	}
	if !strings.EqualFold(arch, "c000003e") { // x86_64; other tables are not carried
		if _, err := strconv.Atoi(nr); err == nil {
			return ""
		}
		return nr // already a name (ausearch -i output)
	}
	if n, ok := x8664Syscalls[nr]; ok {
		return n
	}
	return ""
}

// x8664Syscalls: linux/arch/x86/entry/syscalls/syscall_64.tbl, the calls
// that SigmaHQ's auditd rules name plus the file and process calls rules
// usually pair them with.
var x8664Syscalls = map[string]string{
	"0": "read", "1": "write", "2": "open", "59": "execve", "322": "execveat", "319": "memfd_create",
	"133": "mknod", "259": "mknodat", "135": "personality", "156": "_sysctl", "99": "sysinfo", "103": "syslog",
	"82": "rename", "264": "renameat", "316": "renameat2", "87": "unlink", "263": "unlinkat", "76": "truncate", "77": "ftruncate",
	"90": "chmod", "91": "fchmod", "268": "fchmodat", "92": "chown", "93": "fchown", "260": "fchownat", "94": "lchown",
	"257": "openat", "42": "connect", "43": "accept", "49": "bind", "50": "listen", "101": "ptrace", "165": "mount", "166": "umount2",
	"175": "init_module", "313": "finit_module", "176": "delete_module", "105": "setuid", "106": "setgid", "62": "kill",
}

// auditdCreated is the file an auditd event created: the name of its PATH
// record of nametype CREATE, made absolute with the CWD record.
func auditdCreated(data map[string]string) string {
	for k, v := range data {
		prefix, ok := strings.CutSuffix(k, ".nametype")
		if !ok || v != "CREATE" || !strings.HasPrefix(prefix, "path") {
			continue
		}
		name := data[prefix+".name"]
		if name == "" || name == "(null)" {
			continue
		}
		if !strings.HasPrefix(name, "/") {
			if cwd := data["cwd.cwd"]; cwd != "" {
				name = path.Join(cwd, name)
			}
		}
		return name
	}
	return ""
}
