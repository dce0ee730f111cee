// Package registry reads Windows registry hives (regf): SYSTEM, SOFTWARE,
// SAM, SECURITY, NTUSER.DAT, UsrClass.dat, Amcache.hve and any other, found
// anywhere (loose, in folders, archives, disk images), recognised by content
// ("regf" at 0, a hive bin at 4096), names only a tie-breaker for the type.
//
// Every key is an event at its last-written time ("Key Last Written", as
// plaso's winreg parser gives it, to the 100 ns), with the key path (from
// the root, "\"-joined, without the root key's own name) in
// jejak.data.registry.key and its values in the message, bounded to about
// 4 KiB (each value's text to 160 characters): the values that do not fit
// go into events after it at the same time (jejak.data.registry.part), so
// every value is on the timeline. The provenance offset is the file offset
// of the key's nk cell (of its first value's vk cell for those). Keys left in
// free cells (deleted keys, and deleted SAM accounts) are events too,
// tagged "deleted" and "recovered", under their old parent's path. Plugins
// chosen by the hive's type (known from its root keys) decode what an
// audit asks of it, each event with the key it was read from:
//
//   - SAM: local accounts (RID, name, full name, flags, logon count, group
//     membership) with last logon, password set, last failed logon, expiry
//     and creation; local groups with their members.
//   - SYSTEM: computer name, time zone (TimeZoneOf, ReadTimeZone: the
//     Windows name, its IANA zone and the bias), last shutdown, services,
//     interfaces and DHCP leases, MountedDevices, USBSTOR/USB/SWD device
//     times (event.action usb-device-first-connected, -last-connected,
//     -last-removed; device.id, device.serial, device.name, device.vendor,
//     device.product), ShimCache (Vista to Windows 10 Creators layouts).
//   - SOFTWARE: Windows version and install time, installed programs,
//     network profiles (first and last connected), Run and RunOnce.
//   - NTUSER.DAT: UserAssist, RecentDocs, RunMRU, TypedPaths, the RDP
//     client's servers and MRU, MountPoints2, Run keys, XP shellbags.
//   - Amcache.hve: file entries with path and SHA-1, and PE link dates.
//   - UsrClass.dat: shellbags, through a minimal shell-item decoder (root
//     folders, volumes, file entries with their long names, network
//     places, URIs; control panel items, MTP devices and other types are
//     named by their type byte).
//
// Decoder: the served module www.velocidex.com/golang/regparser was read
// first. Its key times are cut to whole seconds (FileTime goes through Unix
// seconds), it follows subkey lists without a bound or a loop check (a
// crafted hive recurses forever), reads value data one byte per ReadAt,
// and reports no damage (a bad cell is an empty result). The hive format
// is small and well documented (msuhanov's regf specification, which
// regparser follows too), so this package decodes cells itself (hive.go)
// from the file held in memory, with every offset bounds-checked, subkey
// loops cut, and every damaged cell a warning naming its offset. regparser
// is the tests' differential oracle (keys and times, ShimCache), beside
// libregf's regfexport, reglookup and RegRipper.
//
// Transaction logs: a parser sees one file, not its neighbours, so a dirty
// hive (primary and secondary sequence numbers differ: its last changes
// may be only in <hive>.LOG1/.LOG2) is read as it is on disk, and a
// warning names the file and both sequence numbers; the log files are
// recognised by content (a regf base block of file type 1, 2 or 6) and
// reported with the entries they hold, and a warning says they were not
// applied.
package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "registry"

// TimestampDesc of a key's event, as plaso's winreg parser names it.
const TimestampDesc = "Key Last Written"

// maxHive bounds the file held in memory: hive offsets are 32-bit.
const maxHive = 4<<30 + baseBlockSize

// Hive types, in jejak.data.registry.hive.
const (
	TypeSYSTEM   = "SYSTEM"
	TypeSOFTWARE = "SOFTWARE"
	TypeSAM      = "SAM"
	TypeSECURITY = "SECURITY"
	TypeNTUSER   = "NTUSER"
	TypeUsrClass = "UsrClass"
	TypeAmcache  = "Amcache"
	TypeOther    = "other"
)

// Warnings specific to hives; test with errors.Is.
var (
	ErrDirty       = errors.New("dirty hive: transaction logs not applied")
	ErrChecksum    = errors.New("base block checksum mismatch")
	ErrKeyLoop     = errors.New("key reached twice (subkey lists form a loop)")
	ErrTransaction = errors.New("registry transaction log not applied")
)

// Parser reads registry hives and their transaction logs.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the registry parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess: cells are reached by
// offset all over the file.
func (*Parser) NeedsReaderAt() bool { return true }

// Match accepts a regf base block of a known version: a primary file
// (type 0) when a hive bin stands at 4096 (checked when the entry gives
// random access; a stream member is taken on its base block alone), and
// transaction logs (types 1, 2, 6).
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	if len(head) < 512 || string(head[:4]) != regfMagic {
		return false
	}
	h, err := parseHeader(head)
	if err != nil || h.Major != 1 || h.Minor > 6 {
		return false
	}
	switch h.FileType {
	case 1, 2, 6:
		return true
	case 0:
	default:
		return false
	}
	if len(head) > baseBlockSize+4 {
		return string(head[baseBlockSize:baseBlockSize+4]) == hbinMagic
	}
	if e == nil {
		return true
	}
	ra, ok, _ := e.ReaderAt()
	if !ok {
		return true
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	var b [4]byte
	n, _ := ra.ReadAt(b[:], baseBlockSize)
	return n == 4 && string(b[:]) == hbinMagic
}

// Requires implements parsers.Requirer: the base block starts "regf".
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(regfMagic[:1])}
}

// readAll holds the file in memory.
func readAll(src *parsers.Source) ([]byte, error) {
	if src.ReaderAt != nil && src.Size >= 0 {
		if src.Size > maxHive {
			return nil, fmt.Errorf("registry: %d bytes: larger than any hive (%d)", src.Size, int64(maxHive))
		}
		b := make([]byte, src.Size)
		n, err := src.ReaderAt.ReadAt(b, 0)
		if n < len(b) && err != nil && err != io.EOF {
			return nil, fmt.Errorf("registry: reading: %w", err)
		}
		return b[:n], nil
	}
	b, err := io.ReadAll(io.LimitReader(src.R, maxHive+1))
	if err != nil {
		return nil, fmt.Errorf("registry: reading: %w", err)
	}
	if len(b) > maxHive {
		return nil, fmt.Errorf("registry: larger than any hive (%d bytes)", int64(maxHive))
	}
	return b, nil
}

// Stats accounts for the keys of one hive.
type Stats struct {
	Type string
	// Declared counts the root and every subkey the keys read declare;
	// Keys those read (each an event); Unreadable those declared but not
	// read (each behind a warning).
	Declared, Keys, Unreadable int64
	// Recovered counts keys read from free cells (deleted keys), each an
	// event tagged "deleted".
	Recovered    int64
	Values       int64
	PluginEvents int64
	Warnings     int64
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	st, err := p.ParseStats(ctx, src, emit)
	if src.Account != nil && st.Declared > 0 {
		src.Account(parsers.Accounting{Declared: st.Declared, Live: st.Keys, Recovered: st.Recovered, Unreadable: st.Unreadable})
	}
	return err
}

// walker holds what one Parse run shares.
type walker struct {
	ctx  context.Context
	src  *parsers.Source
	emit func(*timeline.Event) error
	hive *Hive
	st   *Stats
	path string // the file's path, for the dirty-hive warning
	rec  int64  // plugin events emitted so far: their Record
}

func (w *walker) warn(off int64, err error) {
	w.st.Warnings++
	w.src.WarnErr(off, 0, err)
}

// ParseStats parses like Parse and returns the hive's key accounting.
func (p *Parser) ParseStats(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) (Stats, error) {
	var st Stats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	data, err := readAll(src)
	if err != nil {
		return st, err
	}
	h, err := Open(data)
	if err != nil {
		return st, fmt.Errorf("registry: %w", err)
	}
	w := &walker{ctx: ctx, src: src, emit: emit, hive: h, st: &st}
	if src.Entry != nil {
		w.path = src.Entry.Path
	}
	if h.Header.FileType != 0 {
		return st, w.transactionLog(data)
	}
	if len(data) < baseBlockSize+32 || string(data[baseBlockSize:baseBlockSize+4]) != hbinMagic {
		return st, fmt.Errorf("registry: %w: no hive bin at offset %d", ErrNotHive, baseBlockSize)
	}
	if !h.Header.ChecksumOK {
		w.warn(offChecksum, fmt.Errorf("%w: the base block's fields are read as they are", ErrChecksum))
	}
	if h.Header.Dirty() {
		w.warn(offSeq1, fmt.Errorf("%w: primary sequence number %d, secondary %d: the hive's last changes may be only in its transaction logs (%s.LOG1, %s.LOG2 beside it); read as it is on disk",
			ErrDirty, h.Header.Seq1, h.Header.Seq2, baseName(w.path), baseName(w.path)))
	}
	root, err := h.Root()
	if err != nil {
		return st, fmt.Errorf("registry: root key (cell 0x%x): %w", h.Header.RootCell, err)
	}
	st.Type = DetectType(h, root)
	paths, err := w.walk(root)
	if err != nil {
		return st, err
	}
	if err := w.deleted(paths); err != nil {
		return st, err
	}
	if err := w.plugins(root); err != nil {
		return st, err
	}
	return st, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// walk emits every key depth-first, in subkey-list order (regfexport's
// order). A key reached twice is a loop in damaged lists: warned, not
// followed again.
func (w *walker) walk(root *Key) (map[int64]string, error) {
	type item struct {
		k    *Key
		path string
	}
	seen := map[int64]string{}
	stack := []item{{root, `\`}}
	w.st.Declared = 1
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[it.k.Offset]; ok {
			w.st.Unreadable++
			w.warn(it.k.Offset, fmt.Errorf("%w: %s", ErrKeyLoop, it.path))
			continue
		}
		seen[it.k.Offset] = it.path
		if w.st.Keys%256 == 0 {
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := w.keyEvent(it.k, it.path); err != nil {
			return nil, err
		}
		subs, errs := w.hive.Subkeys(it.k)
		w.st.Declared += int64(it.k.NumSubkeys)
		if missing := int64(it.k.NumSubkeys) - int64(len(subs)); missing > 0 {
			w.st.Unreadable += missing
		}
		for _, e := range errs {
			w.warn(it.k.Offset, fmt.Errorf("subkeys of %s: %w", it.path, e))
		}
		if len(errs) == 0 && len(subs) != int(it.k.NumSubkeys) {
			w.warn(it.k.Offset, fmt.Errorf("%w: %s declares %d subkeys, its list holds %d", ErrBadCell, it.path, it.k.NumSubkeys, len(subs)))
		}
		for i := len(subs) - 1; i >= 0; i-- {
			stack = append(stack, item{subs[i], joinKey(it.path, subs[i].Name)})
		}
	}
	return seen, nil
}

func joinKey(parent, name string) string {
	if parent == `\` {
		return `\` + name
	}
	return parent + `\` + name
}

// keyEvent emits one key's event.
func (w *walker) keyEvent(k *Key, path string) error {
	vals, errs := w.hive.Values(k)
	for _, e := range errs {
		w.warn(k.Offset, fmt.Errorf("values of %s: %w", path, e))
	}
	for _, v := range vals {
		if v.Err != nil {
			w.warn(v.Offset, fmt.Errorf("%s: %w", path, v.Err))
		}
	}
	w.st.Keys++
	w.st.Values += int64(len(vals))
	parts := summaryParts(path, vals)
	if err := w.emit(w.keyEventOf(k, path, parts[0].msg, len(vals))); err != nil {
		return err
	}
	// The values that did not fit: more events at the key's time, each at
	// the offset of its first value's cell.
	for i, p := range parts[1:] {
		ev := w.keyEventOf(k, path, p.msg, len(vals))
		ev.Jejak.Provenance.Offset = vals[p.first].Offset
		ev.Jejak.Data["registry.part"] = fmt.Sprintf("%d/%d", i+2, len(parts))
		if err := w.emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// keyEventOf builds a key's event.
func (w *walker) keyEventOf(k *Key, path, msg string, nvals int) *timeline.Event {
	ev := &timeline.Event{
		Timestamp:     k.Written.Time(),
		TimestampDesc: TimestampDesc,
		Message:       msg,
		Event:         timeline.EventMeta{Kind: "event", Dataset: "windows.registry", Category: []string{"configuration"}, Type: []string{"info"}},
		Jejak: timeline.Jejak{Data: map[string]string{
			"registry.key":         path,
			"registry.hive":        w.st.Type,
			"registry.value_count": strconv.Itoa(nvals),
		}},
	}
	if k.Written.OutOfRange() {
		ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
	}
	ev.Jejak.Provenance.Offset = k.Offset
	return ev
}

// DetectType tells the hive's type from its root keys: each type has a
// set of top-level keys no other has. The base block's file name (the
// tail of the path Windows loaded it from) decides when the keys do not.
func DetectType(h *Hive, root *Key) string {
	subs, _ := h.Subkeys(root)
	has := map[string]bool{}
	for _, s := range subs {
		has[strings.ToLower(s.Name)] = true
	}
	switch {
	case has["sam"] && len(subs) <= 2:
		return TypeSAM
	case has["policy"] && (has["rxact"] || has["cache"] || has["sam"]):
		return TypeSECURITY
	case has["select"] && (has["controlset001"] || has["mounteddevices"] || has["setup"]):
		return TypeSYSTEM
	case has["microsoft"] && (has["classes"] || has["policies"] || has["clients"]):
		return TypeSOFTWARE
	case has["software"] && (has["control panel"] || has["environment"] || has["console"] || has["appevents"]):
		return TypeNTUSER
	case has["root"] && h.Lookup(root, `Root`) != nil && (h.Lookup(root, `Root\File`) != nil || h.Lookup(root, `Root\InventoryApplicationFile`) != nil || h.Lookup(root, `Root\Programs`) != nil):
		return TypeAmcache
	case strings.HasSuffix(strings.ToLower(root.Name), "_classes") || has["local settings"]:
		return TypeUsrClass
	}
	name := strings.ToLower(baseName(h.Header.FileName))
	switch {
	case name == "system":
		return TypeSYSTEM
	case name == "software":
		return TypeSOFTWARE
	case name == "sam":
		return TypeSAM
	case name == "security":
		return TypeSECURITY
	case name == "ntuser.dat":
		return TypeNTUSER
	case name == "usrclass.dat":
		return TypeUsrClass
	case name == "amcache.hve":
		return TypeAmcache
	}
	return TypeOther
}

// transactionLog reports a transaction log file. Its dirty pages belong
// to the primary hive beside it, which a parser does not see: the log is
// one event (the base block's last-written time) saying what it holds,
// and a warning that it was not applied.
func (w *walker) transactionLog(data []byte) error {
	h := w.hive.Header
	var entries, pages int
	first, last := uint32(0), uint32(0)
	format := "empty"
	if len(data) >= 516 && string(data[512:516]) == "DIRT" {
		format = "old (DIRT)"
	}
	if h.FileType == 6 || (len(data) >= 516 && string(data[512:516]) == "HvLE") {
		format = "new (HvLE)"
		for off := 512; off+40 <= len(data); {
			b := data[off:]
			if string(b[:4]) != "HvLE" {
				break
			}
			size := int(binary.LittleEndian.Uint32(b[4:]))
			seq := binary.LittleEndian.Uint32(b[12:])
			if size < 40 || size%512 != 0 || off+size > len(data) {
				break
			}
			if entries == 0 {
				first = seq
			}
			last = seq
			entries++
			pages += int(binary.LittleEndian.Uint32(b[20:]))
			off += size
		}
	}
	hive := baseName(h.FileName)
	msg := fmt.Sprintf("Registry transaction log of %s, %s format, sequence numbers %d/%d", hive, format, h.Seq1, h.Seq2)
	if entries > 0 {
		msg += fmt.Sprintf(": %d log entries (sequence %d to %d), %d dirty pages", entries, first, last, pages)
	}
	ev := &timeline.Event{
		Timestamp:     h.Written.Time(),
		TimestampDesc: "Log Last Written",
		Message:       msg,
		Event:         timeline.EventMeta{Kind: "event", Dataset: "windows.registry", Category: []string{"configuration"}, Type: []string{"info"}},
		Jejak:         timeline.Jejak{Data: map[string]string{"registry.hive": "transaction log"}},
	}
	if h.Written.OutOfRange() {
		ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
	}
	if entries > 0 || format == "old (DIRT)" {
		w.warn(0, fmt.Errorf("%w: %s holds changes of %s (sequence numbers %d/%d%s); they apply to the primary hive beside it and are not replayed",
			ErrTransaction, w.path, hive, h.Seq1, h.Seq2, entriesNote(entries, first, last)))
	}
	return w.emit(ev)
}

func entriesNote(n int, first, last uint32) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d entries, sequence %d to %d", n, first, last)
}
