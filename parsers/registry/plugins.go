package registry

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// plugins runs the decoders for the hive's type. Their events come after
// every key's, each with the key (and value) it was read from.
func (w *walker) plugins(root *Key) error {
	var err error
	switch w.st.Type {
	case TypeSAM:
		err = w.sam(root)
	case TypeSYSTEM:
		err = w.system(root)
	case TypeSOFTWARE:
		err = w.software(root)
	case TypeNTUSER:
		err = w.ntuser(root)
	case TypeAmcache:
		err = w.amcache(root)
	case TypeUsrClass:
		err = w.shellbags(root)
	}
	return err
}

// finding is one decoded artifact, before it becomes an event.
type finding struct {
	when    ntfs.Filetime
	desc    string // timestamp_desc
	msg     string
	key     string // key path
	off     int64  // file offset of the cell it was read from
	data    map[string]string
	dataset string
	action  string
	cat     []string
	typ     []string
	user    *timeline.User
	file    *timeline.File
	host    *timeline.Host
	process *timeline.Process
	source  *timeline.Endpoint
	group   *timeline.Group
}

// emitFinding turns a finding into an event. Its Record is its place
// among the file's plugin events, so two findings of one cell with one
// timestamp_desc keep their own IDs.
func (w *walker) emitFinding(f finding) error { return w.emitNote(f, nil) }

// emitNote is emitFinding with a last touch to the event.
func (w *walker) emitNote(f finding, touch func(*timeline.Event)) error {
	w.rec++
	w.st.PluginEvents++
	if w.rec%256 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	data := map[string]string{"registry.key": f.key, "registry.hive": w.st.Type}
	for k, v := range f.data {
		if v != "" {
			data[k] = v
		}
	}
	cat := f.cat
	if cat == nil {
		cat = []string{"configuration"}
	}
	typ := f.typ
	if typ == nil {
		typ = []string{"info"}
	}
	ev := &timeline.Event{
		Timestamp:     f.when.Time(),
		TimestampDesc: f.desc,
		Message:       f.msg,
		Event:         timeline.EventMeta{Kind: "event", Dataset: f.dataset, Action: f.action, Category: cat, Type: typ},
		User:          f.user,
		File:          f.file,
		Host:          f.host,
		Process:       f.process,
		Source:        f.source,
		Group:         f.group,
		Jejak:         timeline.Jejak{Data: data},
	}
	if f.when.OutOfRange() {
		ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
	}
	parsers.At(ev, f.off, w.rec)
	if touch != nil {
		touch(ev)
	}
	return w.emit(ev)
}

// subkeys lists a key's subkeys (damage is warned by the key walk).
func (w *walker) subkeys(k *Key) []*Key {
	subs, _ := w.hive.Subkeys(k)
	return subs
}

// filetimeAt reads a FILETIME at off in b (0 when b is too short).
func filetimeAt(b []byte, off int) ntfs.Filetime {
	if off+8 > len(b) {
		return 0
	}
	return ntfs.Filetime(binary.LittleEndian.Uint64(b[off:]))
}

// set reports a FILETIME that holds a time: 0 and the "never" values
// (0x7fffffffffffffff, all ones) do not.
func set(ft ntfs.Filetime) bool {
	return ft != 0 && ft != 0x7fffffffffffffff && ft != 0xffffffffffffffff
}

// sid decodes a binary SID.
func sid(b []byte) (string, int) {
	if len(b) < 8 {
		return "", 0
	}
	n := int(b[1])
	if len(b) < 8+4*n {
		return "", 0
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := "S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10)
	for i := range n {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return s, 8 + 4*n
}

func valStr(m map[string]*Value, name string) string {
	if v, ok := m[strings.ToLower(name)]; ok {
		return v.String()
	}
	return ""
}

func valUint(m map[string]*Value, name string) (uint64, bool) {
	if v, ok := m[strings.ToLower(name)]; ok {
		return v.Uint()
	}
	return 0, false
}

// fromUnix converts Unix seconds to a FILETIME.
func fromUnix(sec int64) ntfs.Filetime {
	return ntfs.Filetime(uint64(sec+11644473600) * 10_000_000)
}

// fromTime converts a time to a FILETIME.
func fromTime(t time.Time) ntfs.Filetime {
	return ntfs.Filetime(uint64(t.Unix()+11644473600)*10_000_000 + uint64(t.Nanosecond()/100))
}
