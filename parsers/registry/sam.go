package registry

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

// Account is one local account of a SAM hive.
type Account struct {
	RID         uint32
	Name        string
	FullName    string
	Comment     string
	SID         string
	Flags       uint16
	LogonCount  uint16
	FailedCount uint16
	LastLogon   ntfs.Filetime
	PasswordSet ntfs.Filetime
	Expires     ntfs.Filetime
	LastFailed  ntfs.Filetime
	Created     ntfs.Filetime // the Names\<user> key's last write (RegRipper's "Account Created")
	Groups      []string
	// Deleted marks an account whose key was read from free cells: the
	// account was removed, its record not yet overwritten.
	Deleted      bool
	keyPath      string
	fOffset      int64 // the F value's cell
	namesOffset  int64
	namesKeyPath string
}

// Group is a local group (alias) with its members' SIDs.
type Group struct {
	Name, Comment string
	Members       []string
	Written       ntfs.Filetime
	keyPath       string
	offset        int64
}

// The user account control flags (ACB_*) as samparse names them.
var acbFlags = []struct {
	bit  uint16
	name string
}{
	{0x0001, "Account Disabled"},
	{0x0002, "Home directory required"},
	{0x0004, "Password not required"},
	{0x0008, "Temporary duplicate account"},
	{0x0010, "Normal user account"},
	{0x0020, "MNS logon user account"},
	{0x0040, "Interdomain trust account"},
	{0x0080, "Workstation trust account"},
	{0x0100, "Server trust account"},
	{0x0200, "Password does not expire"},
	{0x0400, "Account auto locked"},
}

// FlagNames lists the names of the flags set.
func FlagNames(f uint16) []string {
	var out []string
	for _, a := range acbFlags {
		if f&a.bit != 0 {
			out = append(out, a.name)
		}
	}
	return out
}

// Disabled reports the account disabled flag.
func (a *Account) Disabled() bool { return a.Flags&0x0001 != 0 }

// vString reads one of the V value's (offset, length) entries: offsets
// are relative to the end of its 0xCC-byte header.
func vString(v []byte, entry int) string {
	if entry+8 > len(v) {
		return ""
	}
	off := int(binary.LittleEndian.Uint32(v[entry:])) + 0xcc
	n := int(binary.LittleEndian.Uint32(v[entry+4:]))
	if n <= 0 || off < 0 || off+n > len(v) {
		return ""
	}
	return utf16String(v[off : off+n])
}

// SAMAccounts decodes the accounts and groups of a SAM hive. Damaged
// parts are returned as errors beside what could be read.
func SAMAccounts(h *Hive, root *Key) (accts []*Account, groups []*Group, errs []error) {
	const users = `SAM\Domains\Account\Users`
	domainSID := ""
	if acc := h.Lookup(root, `SAM\Domains\Account`); acc != nil {
		if v := h.ValueMap(acc)["v"]; v != nil && len(v.Data) >= 12 {
			d := v.Data[len(v.Data)-12:]
			domainSID = fmt.Sprintf("S-1-5-21-%d-%d-%d", binary.LittleEndian.Uint32(d), binary.LittleEndian.Uint32(d[4:]), binary.LittleEndian.Uint32(d[8:]))
		}
	}
	uk := h.Lookup(root, users)
	if uk == nil {
		return nil, nil, nil
	}
	names := map[string]*Key{} // by lower-case user name
	if nk := h.Lookup(uk, "Names"); nk != nil {
		subs, _ := h.Subkeys(nk)
		for _, s := range subs {
			names[strings.ToLower(s.Name)] = s
		}
	}
	subs, _ := h.Subkeys(uk)
	for _, s := range subs {
		if strings.EqualFold(s.Name, "Names") {
			continue
		}
		rid, err := strconv.ParseUint(s.Name, 16, 32)
		if err != nil {
			continue // not a user key
		}
		a, e := accountOf(h, s, uint32(rid), `\`+users+`\`+s.Name, domainSID, names)
		errs = append(errs, e...)
		accts = append(accts, a)
	}
	// Deleted accounts: user keys (and their Names entries) left in free
	// cells under the live Users and Names keys.
	nk := h.Lookup(uk, "Names")
	delNames := map[string]*Key{}
	for _, k := range h.FreeKeys() {
		if nk != nil && k.Parent == uint32(nk.Offset-baseBlockSize) {
			delNames[strings.ToLower(k.Name)] = k
		}
	}
	for _, k := range h.FreeKeys() {
		if k.Parent != uint32(uk.Offset-baseBlockSize) {
			continue
		}
		rid, err := strconv.ParseUint(k.Name, 16, 32)
		if err != nil {
			continue
		}
		a, e := accountOf(h, k, uint32(rid), `\`+users+`\`+k.Name, domainSID, delNames)
		if len(e) > 0 && a.Name == "" {
			continue // nothing of the account left to read
		}
		a.Deleted = true
		accts = append(accts, a)
	}
	// Local groups: Builtin and Account aliases, each C value naming its
	// members by SID.
	for _, dom := range []string{`SAM\Domains\Builtin\Aliases`, `SAM\Domains\Account\Aliases`} {
		ak := h.Lookup(root, dom)
		if ak == nil {
			continue
		}
		subs, _ := h.Subkeys(ak)
		for _, s := range subs {
			c := h.ValueMap(s)["c"]
			if c == nil {
				continue
			}
			g, err := parseAlias(c.Data)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s\\%s\\C: %w", dom, s.Name, err))
				continue
			}
			g.Written, g.keyPath, g.offset = s.Written, `\`+dom+`\`+s.Name, c.Offset
			groups = append(groups, g)
		}
	}
	bySID := map[string]*Account{}
	for _, a := range accts {
		bySID[a.SID] = a
	}
	for _, g := range groups {
		for _, m := range g.Members {
			if a := bySID[m]; a != nil && m != "" {
				a.Groups = append(a.Groups, g.Name)
			}
		}
	}
	for _, a := range accts {
		sort.Strings(a.Groups)
	}
	return accts, groups, errs
}

// accountOf decodes one user key's F and V values.
func accountOf(h *Hive, s *Key, rid uint32, keyPath, domainSID string, names map[string]*Key) (*Account, []error) {
	var errs []error
	m := h.ValueMap(s)
	a := &Account{RID: rid, keyPath: keyPath}
	if f := m["f"]; f != nil {
		a.fOffset = f.Offset
		if len(f.Data) < 0x44 {
			errs = append(errs, fmt.Errorf("%w: %s\\F has %d bytes, want 80", ErrBadCell, a.keyPath, len(f.Data)))
		} else {
			d := f.Data
			a.LastLogon, a.PasswordSet, a.Expires, a.LastFailed = filetimeAt(d, 8), filetimeAt(d, 0x18), filetimeAt(d, 0x20), filetimeAt(d, 0x28)
			a.Flags = binary.LittleEndian.Uint16(d[0x38:])
			a.FailedCount = binary.LittleEndian.Uint16(d[0x40:])
			a.LogonCount = binary.LittleEndian.Uint16(d[0x42:])
		}
	} else {
		errs = append(errs, fmt.Errorf("%w: %s has no F value", ErrBadCell, a.keyPath))
		a.fOffset = s.Offset
	}
	if v := m["v"]; v != nil {
		a.Name, a.FullName, a.Comment = vString(v.Data, 0x0c), vString(v.Data, 0x18), vString(v.Data, 0x24)
	}
	if domainSID != "" {
		a.SID = domainSID + "-" + strconv.FormatUint(uint64(rid), 10)
	}
	if nk := names[strings.ToLower(a.Name)]; nk != nil {
		a.Created, a.namesOffset = nk.Written, nk.Offset
		a.namesKeyPath = keyPath[:strings.LastIndexByte(keyPath, '\\')] + `\Names\` + nk.Name
	}
	return a, errs
}

// parseAlias decodes an alias's C value: a 0x34-byte header of offsets
// (relative to its end) to the name, the comment and the member SIDs.
func parseAlias(c []byte) (*Group, error) {
	if len(c) < 0x34 {
		return nil, fmt.Errorf("%w: %d bytes, header is 52", ErrBadCell, len(c))
	}
	le := binary.LittleEndian
	str := func(at int) string {
		off, n := int(le.Uint32(c[at:]))+0x34, int(le.Uint32(c[at+4:]))
		if n <= 0 || off+n > len(c) {
			return ""
		}
		return utf16String(c[off : off+n])
	}
	g := &Group{Name: str(0x10), Comment: str(0x1c)}
	off, count := int(le.Uint32(c[0x28:]))+0x34, int(le.Uint32(c[0x30:]))
	for i := 0; i < count; i++ {
		if off >= len(c) {
			return g, fmt.Errorf("%w: %d members counted, %d read", ErrBadCell, count, i)
		}
		s, n := sid(c[off:])
		if n == 0 {
			return g, fmt.Errorf("%w: member SID %d damaged", ErrBadCell, i+1)
		}
		g.Members = append(g.Members, s)
		off += n
	}
	return g, nil
}

// sam emits each account's times and each group's membership.
func (w *walker) sam(root *Key) error {
	accts, groups, errs := SAMAccounts(w.hive, root)
	for _, e := range errs {
		w.warn(root.Offset, fmt.Errorf("SAM: %w", e))
	}
	for _, a := range accts {
		data := map[string]string{
			"registry.full_name":     a.FullName,
			"registry.comment":       a.Comment,
			"registry.sid":           a.SID,
			"registry.flags":         strings.Join(FlagNames(a.Flags), ", "),
			"registry.logon_count":   strconv.Itoa(int(a.LogonCount)),
			"registry.failed_logons": strconv.Itoa(int(a.FailedCount)),
			"registry.groups":        strings.Join(a.Groups, ", "),
		}
		state := "enabled"
		if a.Disabled() {
			state = "disabled"
		}
		kind := "local account"
		if a.Deleted {
			kind = "deleted local account"
		}
		who := fmt.Sprintf("%s (RID %d, %s, %d logons", a.Name, a.RID, state, a.LogonCount)
		if len(a.Groups) > 0 {
			who += ", member of " + strings.Join(a.Groups, ", ")
		}
		who += ")"
		user := &timeline.User{Name: a.Name, ID: strconv.Itoa(int(a.RID))}
		for _, t := range []struct {
			ft     ntfs.Filetime
			desc   string
			action string
			off    int64
			key    string
			typ    string
		}{
			{a.LastLogon, "Last Logon", "last-logon", a.fOffset, a.keyPath, "info"},
			{a.PasswordSet, "Password Last Set", "password-last-set", a.fOffset, a.keyPath, "change"},
			{a.LastFailed, "Last Failed Logon", "last-failed-logon", a.fOffset, a.keyPath, "info"},
			{a.Expires, "Account Expires", "account-expires", a.fOffset, a.keyPath, "info"},
			{a.Created, "Account Created", "account-created", a.namesOffset, a.namesKeyPath, "creation"},
		} {
			if !set(t.ft) {
				continue
			}
			deleted := a.Deleted
			if err := w.emitNote(finding{when: t.ft, desc: t.desc, msg: t.desc + ": " + kind + " " + who,
				key: t.key, off: t.off, data: data, dataset: "windows.registry.sam", action: t.action,
				cat: []string{"iam"}, typ: []string{"user", t.typ}, user: cloneUser(user)}, func(ev *timeline.Event) {
				if deleted {
					ev.Jejak.Tags = []string{TagDeleted, TagRecovered}
				}
			}); err != nil {
				return err
			}
		}
	}
	for _, g := range groups {
		members := strings.Join(g.Members, ", ")
		if members == "" {
			members = "no members"
		}
		if err := w.emitFinding(finding{when: g.Written, desc: "Group Last Written",
			msg: fmt.Sprintf("Local group %s: %s", g.Name, members), key: g.keyPath, off: g.offset,
			data:    map[string]string{"registry.members": strings.Join(g.Members, ", "), "registry.comment": g.Comment},
			dataset: "windows.registry.sam", action: "group-membership", cat: []string{"iam"}, typ: []string{"group", "info"}, group: &timeline.Group{Name: g.Name}}); err != nil {
			return err
		}
	}
	return nil
}

func cloneUser(u *timeline.User) *timeline.User { c := *u; return &c }
