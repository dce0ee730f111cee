// Package ual parses Windows Server User Access Logging databases
// (C:\Windows\System32\LogFiles\Sum: Current.mdb, the past years'
// {GUID}.mdb, SystemIdentity.mdb): which user, from which address, used
// which server role, first and last, with a count per day.
//
// They are ESE (JET Blue) databases. No Go module that reads ESE is served
// to this project, so ese.go is a minimal read-only ESE reader written here
// from the libesedb documentation: file header, B-tree pages (4 and 8 KiB
// pages; the 16/32 KiB page layout is implemented but untested, no such
// file being at hand), the catalog, and records with fixed, variable and
// tagged columns. It does not read long values kept in a table's
// long-value tree or compressed column values (Windows 8+ may compress
// long text): a column stored so is a warning naming it, and the row is
// still an event without it. It does not replay the transaction logs
// (.log/.jrs): a database copied while the service had it open (state
// dirty shutdown) is read as it is on disk. Page and header checksums are
// not verified (libesedb refuses Current.mdb of the test corpus for its
// header checksum; the pages read alike).
//
// Events, each with provenance offset at the page holding the row:
//   - CLIENTS: two per row, at InsertDate ("First Access Time") and
//     LastAccess ("Last Access Time"): source.ip (Address), user.name and
//     user.domain (AuthenticatedUserName, "domain\user"), jejak.data
//     ual.role_guid, ual.role_name, ual.tenant_id, ual.total_accesses,
//     ual.client_name and ual.day_counts ("day-of-year:count" for each
//     non-empty Day### column, in day order).
//   - ROLE_ACCESS: two per row, FirstSeen and LastSeen of a role.
//   - DNS: one per row at LastSeen (ual.address, ual.host_name).
//   - VIRTUALMACHINES: CreationTime and LastSeenActive.
//   - SYSTEM_IDENTITY: one per row at CreationTime (host.name, the OS
//     build and the domain).
//
// Role names come from a table of the role GUIDs Windows Server ships
// (the ROLE_IDS table of SystemIdentity.mdb, which the parser reads
// with its file but cannot join to another file's rows). ROLE_IDS and
// CHAINED_DATABASES rows hold no time and become no event. ESE declares no
// record count a reader could check against, so no parsers.Accounting is
// reported.
//
// The file is recognised by the ESE signature; the .mdb name decides
// between UAL and the many other ESE databases of a Windows system
// (Windows.edb, SRUDB.dat, WebCacheV01.dat), whose content a head of 4 KiB
// cannot tell apart.
package ual

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name in jejak.provenance.parser.
const Name = "ual"

// Parser reads UAL databases.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the UAL parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess.
func (*Parser) NeedsReaderAt() bool { return true }

// Match accepts an ESE database (signature 0x89abcdef, file type 0) whose
// name ends in .mdb.
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	if len(head) < 240 || binary.LittleEndian.Uint32(head[4:]) != eseMagic || binary.LittleEndian.Uint32(head[12:]) != 0 {
		return false
	}
	return e != nil && strings.EqualFold(path.Ext(e.Path), ".mdb")
}

// Requires implements parsers.Requirer: a ".mdb" name, whatever the
// content (the ESE signature is not at the first byte).
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "mdb"}
}

// roleNames are the server roles UAL knows, by role GUID, as
// SystemIdentity.mdb's ROLE_IDS lists them on Windows Server 2022.
var roleNames = map[string]string{
	"C50FCC83-BC8D-4DF5-8A3D-89D7F80F074B": "Active Directory Certificate Services",
	"B4CDD739-089C-417E-878D-855F90081BE7": "Active Directory Rights Management Service",
	"48EED6B2-9CDC-4358-B5A5-8DEA3B2F3F6A": "DHCP Server",
	"7CC4B071-292C-4732-97A1-CF9A7301195D": "FAX Server",
	"10A9226F-50EE-49D8-A393-9A501D47CE04": "File Server",
	"BBD85B29-9DCC-4FD9-865D-3846DCBA75C7": "Network Policy and Access Services",
	"7FB09BD3-7FE6-435E-8348-7D8AEFB6CEA3": "Print and Document Services",
	"D6256CF7-98FB-4EB4-AA18-303F1DA1F770": "Web Server",
	"4116A14D-3840-4F42-A67F-F2F9FF46EB4C": "Windows Deployment Services",
	"D8DC1C8E-EA13-49CE-9A68-C9DCA8DB8B33": "Windows Server Update Services",
	"C23F1C6A-30A8-41B6-BBF7-F266563DFCD6": "FTP Server",
	"910CBAF9-B612-4782-A21F-F7C75105434A": "BranchCache",
	"952285D9-EDB7-4B6B-9D85-0C09E3DA0BBD": "Remote Access",
}

// row is one decoded record with its table's columns, by name.
type row struct {
	t    *table
	vals map[uint32]value
	page uint32
	warn func(err error)
}

func (r *row) col(name string) (column, value, bool) {
	for _, c := range r.t.columns {
		if c.name == name {
			v, ok := r.vals[c.id]
			if ok && (v.separated || v.compressed) {
				how := "in the long-value tree"
				if v.compressed {
					how = "compressed"
				}
				r.warn(fmt.Errorf("table %s column %s is stored %s: %w; the row is read without it", r.t.name, name, how, errUnsupported))
				return c, value{}, false
			}
			return c, v, ok
		}
	}
	return column{}, value{}, false
}

func (r *row) str(name string) string {
	c, v, ok := r.col(name)
	if !ok {
		return ""
	}
	if n := fixedSize(c.typ); n > 0 && len(v.raw) < n {
		r.warn(fmt.Errorf("table %s column %s: %d bytes for a %d-byte type", r.t.name, name, len(v.raw), n))
		return ""
	}
	switch c.typ {
	case colText, colLongText:
		return text(v.raw, c.codepage)
	case colGUID:
		return guid(v.raw)
	case colBit:
		if len(v.raw) > 0 && v.raw[0] != 0 {
			return "true"
		}
		return "false"
	case colUint8:
		return strconv.Itoa(int(v.raw[0]))
	case colInt16:
		return strconv.Itoa(int(int16(binary.LittleEndian.Uint16(v.raw))))
	case colUint16:
		return strconv.Itoa(int(binary.LittleEndian.Uint16(v.raw)))
	case colInt32:
		return strconv.Itoa(int(int32(binary.LittleEndian.Uint32(v.raw))))
	case colUint32:
		return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(v.raw)), 10)
	case colInt64, colCurrency:
		return strconv.FormatInt(int64(binary.LittleEndian.Uint64(v.raw)), 10)
	}
	return fmt.Sprintf("%x", v.raw)
}

// time reads a "Date and time" column. UAL writes FILETIMEs into them
// (100 ns since 1601), not the OLE dates ESE defines the type as.
func (r *row) time(name string) (time.Time, bool) {
	c, v, ok := r.col(name)
	if !ok || c.typ != colDateTime || len(v.raw) != 8 {
		return time.Time{}, false
	}
	ft := binary.LittleEndian.Uint64(v.raw)
	if ft == 0 {
		return time.Time{}, false
	}
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	return time.Unix(0, 0).UTC().Add(time.Duration(int64(ft)-epochDiff) * 100), true
}

// guid writes 16 bytes in Windows GUID layout as XXXXXXXX-XXXX-….
func guid(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	le := binary.LittleEndian
	return strings.ToUpper(fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:]))
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	name := ""
	if src.Entry != nil {
		name = src.Entry.Path
	}
	if src.ReaderAt == nil || src.Size < 0 {
		return fmt.Errorf("ual: %s: needs random access", name)
	}
	db, err := openESE(src.ReaderAt, src.Size)
	if err != nil {
		return fmt.Errorf("ual: %s: offset 0: %w", name, err)
	}
	warnAt := func(pg uint32, err error) {
		src.WarnErr(int64(pg+1)*int64(db.pageSize), 0, err)
	}
	tables, err := db.catalog(warnAt)
	if err != nil {
		return fmt.Errorf("ual: %s: catalog: %w", name, err)
	}
	found := false
	n := 0
	for _, tn := range []string{"CLIENTS", "ROLE_ACCESS", "DNS", "VIRTUALMACHINES", "SYSTEM_IDENTITY", "ROLE_IDS", "CHAINED_DATABASES"} {
		t := tables[tn]
		if t == nil {
			continue
		}
		found = true
		err := db.walkTree(t.fdp, func(pg uint32, data []byte) error {
			if n++; n%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			vals, err := decodeRecord(data, t.columns)
			if err != nil {
				warnAt(pg, fmt.Errorf("table %s: record: %w", tn, err))
				return nil
			}
			r := &row{t: t, vals: vals, page: pg, warn: func(err error) { warnAt(pg, err) }}
			for _, ev := range events(r) {
				ev.Jejak.Provenance.Offset = int64(pg+1) * int64(db.pageSize)
				if err := emit(ev); err != nil {
					return err
				}
			}
			return nil
		}, warnAt)
		if err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("ual: %s: an ESE database without the UAL tables (CLIENTS, ROLE_ACCESS, SYSTEM_IDENTITY …)", name)
	}
	return ctx.Err()
}

func newEvent(t time.Time, desc, action, msg string) *timeline.Event {
	ev := &timeline.Event{Timestamp: t, TimestampDesc: desc, Message: msg}
	ev.Event.Kind = "event"
	ev.Event.Dataset = "ual"
	ev.Event.Action = action
	ev.Jejak.Data = map[string]string{}
	return ev
}

// events builds the events of one row.
func events(r *row) []*timeline.Event {
	var out []*timeline.Event
	at := func(col, desc, action, msg string) *timeline.Event {
		t, ok := r.time(col)
		if !ok {
			return nil
		}
		ev := newEvent(t, desc, action, msg)
		out = append(out, ev)
		return ev
	}
	switch r.t.name {
	case "CLIENTS":
		role := r.str("RoleGuid")
		roleName := roleNames[role]
		user := r.str("AuthenticatedUserName")
		_, addrVal, _ := r.col("Address")
		ip := address(addrVal.raw)
		data := map[string]string{"ual.role_guid": role, "ual.total_accesses": r.str("TotalAccesses")}
		if roleName != "" {
			data["ual.role_name"] = roleName
		}
		if v := r.str("TenantId"); v != "" && v != "00000000-0000-0000-0000-000000000000" {
			data["ual.tenant_id"] = v
		}
		if v := r.str("ClientName"); v != "" {
			data["ual.client_name"] = v
		}
		if d := dayCounts(r); d != "" {
			data["ual.day_counts"] = d
		}
		who := user
		if who == "" {
			who = "(no user)"
		}
		roleText := roleName
		if roleText == "" {
			roleText = "role " + role
		}
		msg := fmt.Sprintf("UAL: %s from %s used %s (%s accesses)", who, orDash(ip), roleText, data["ual.total_accesses"])
		for _, e := range []*timeline.Event{
			at("InsertDate", "First Access Time", "ual-client-first-access", msg+", first access"),
			at("LastAccess", "Last Access Time", "ual-client-last-access", msg+", last access"),
		} {
			if e == nil {
				continue
			}
			for k, v := range data {
				e.Jejak.Data[k] = v
			}
			e.Event.Category = []string{"network"}
			e.Event.Type = []string{"access"}
			if ip != "" {
				e.Source = &timeline.Endpoint{IP: ip}
			}
			if user != "" {
				u := &timeline.User{Name: user}
				if dom, name, ok := strings.Cut(user, `\`); ok {
					u.Domain, u.Name = dom, name
				}
				e.User = u
			}
		}
	case "ROLE_ACCESS":
		role := r.str("RoleGuid")
		label := roleNames[role]
		if label == "" {
			label = "role " + role
		}
		for _, e := range []*timeline.Event{
			at("FirstSeen", "First Seen Time", "ual-role-first-seen", "UAL: "+label+" first used"),
			at("LastSeen", "Last Seen Time", "ual-role-last-seen", "UAL: "+label+" last used"),
		} {
			if e != nil {
				e.Jejak.Data["ual.role_guid"] = role
				if n := roleNames[role]; n != "" {
					e.Jejak.Data["ual.role_name"] = n
				}
			}
		}
	case "DNS":
		addr, host := r.str("Address"), r.str("HostName")
		if e := at("LastSeen", "Last Seen Time", "ual-dns-seen", "UAL: DNS "+orDash(host)+" = "+orDash(addr)); e != nil {
			e.Jejak.Data["ual.address"] = addr
			e.Jejak.Data["ual.host_name"] = host
		}
	case "VIRTUALMACHINES":
		vm := r.str("VmGuid")
		for _, e := range []*timeline.Event{
			at("CreationTime", "Creation Time", "ual-vm-created", "UAL: virtual machine "+vm+" created"),
			at("LastSeenActive", "Last Seen Time", "ual-vm-seen", "UAL: virtual machine "+vm+" last seen active"),
		} {
			if e != nil {
				e.Jejak.Data["ual.vm_guid"] = vm
				if s := r.str("SerialNumber"); s != "" {
					e.Jejak.Data["ual.serial_number"] = s
				}
			}
		}
	case "SYSTEM_IDENTITY":
		host := r.str("SystemDNSHostName")
		build := r.str("OSMajor") + "." + r.str("OSMinor") + "." + r.str("OSBuildNumber")
		if e := at("CreationTime", "Creation Time", "ual-system-identity", "UAL: system identity of "+orDash(host)+", Windows "+build); e != nil {
			if host != "" {
				e.Host = &timeline.Host{Name: host}
			}
			e.Jejak.Data["ual.os_build"] = build
			if d := r.str("SystemDomainName"); d != "" {
				e.Jejak.Data["ual.domain"] = d
			}
		}
	}
	return out
}

// dayCounts lists the Day### columns that hold a count, as "day:count".
func dayCounts(r *row) string {
	type dc struct{ day, n int }
	var ds []dc
	for _, c := range r.t.columns {
		d, ok := strings.CutPrefix(c.name, "Day")
		if !ok {
			continue
		}
		day, err := strconv.Atoi(d)
		if err != nil {
			continue
		}
		if s := r.str(c.name); s != "" && s != "0" {
			n, _ := strconv.Atoi(s)
			ds = append(ds, dc{day, n})
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].day < ds[j].day })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.Itoa(d.day) + ":" + strconv.Itoa(d.n)
	}
	return strings.Join(parts, ",")
}

// address reads the Address column: 4 bytes IPv4, 16 bytes IPv6.
func address(b []byte) string {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)).String()
	case 16:
		return netip.AddrFrom16([16]byte(b)).Unmap().String()
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
