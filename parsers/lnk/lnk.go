// Package lnk reads Windows shell links (.lnk, [MS-SHLLINK]): the target's
// creation, modification and access times the link recorded are events,
// with the target path (LinkInfo's local or network path, else the path
// the shell item list spells), arguments, working directory, the volume
// (type, serial, label), the network share and the distributed link
// tracking data (machine ID, droid identifiers).
//
// No Go module for shell links is served here, so the decoder is written
// in this package after [MS-SHLLINK]; lnkinfo (liblnk-utils) is the
// oracle the tests compare with. Jump lists (parsers/jumplist) hold shell
// links too and build their events with Events.
package lnk

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "lnk"

// maxFile bounds what is read of one link: real ones are a few KiB.
const maxFile = 16 << 20

// Parser reads shell link files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the shell link parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts a file starting with the shell link header: its size
// (0x4c) and the link CLSID, 20 bytes no other format starts with.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool { return IsLink(head) }

// Requires implements parsers.Requirer: IsLink's header size, 0x4C, is
// the first byte of a little-endian uint32.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(string(rune(HeaderSize)))}
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(src.R, maxFile+1))
	if err != nil {
		return fmt.Errorf("lnk: %s: read: %w", src.Entry.Path, err)
	}
	if len(b) > maxFile {
		return fmt.Errorf("lnk: %s: larger than %d bytes, not read as a shell link", src.Entry.Path, maxFile)
	}
	l, warns, err := Decode(b)
	if err != nil {
		return fmt.Errorf("lnk: %s: %w", src.Entry.Path, err)
	}
	for _, w := range warns {
		src.WarnErr(0, 0, w)
	}
	evs := Events(l, 0)
	if len(evs) == 0 {
		src.Warnf(28, 0, "%w: no target time set (target %q): nothing to place on the timeline", ErrFormat, l.desc())
	}
	for _, ev := range evs {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

func (l *Link) desc() string {
	p, _ := l.TargetPath()
	if p == "" {
		p = l.IDListPath
	}
	return p
}

// Data returns the link's detail under the lnk.* keys (empty values left
// out).
func (l *Link) Data() map[string]string {
	path, source := l.TargetPath()
	d := map[string]string{
		"lnk.path_source":        source,
		"lnk.idlist_path":        l.IDListPath,
		"lnk.local_path":         l.LocalPath,
		"lnk.network_path":       l.NetworkPath,
		"lnk.arguments":          l.Arguments,
		"lnk.working_dir":        l.WorkingDir,
		"lnk.relative_path":      l.RelativePath,
		"lnk.description":        l.Description,
		"lnk.icon_location":      l.IconLocation,
		"lnk.env_location":       l.EnvLocation,
		"lnk.volume_label":       l.VolumeLabel,
		"lnk.machine_id":         l.MachineID,
		"lnk.droid_volume":       l.DroidVolume,
		"lnk.droid_file":         l.DroidFile,
		"lnk.birth_droid_volume": l.BirthDroidVolume,
		"lnk.birth_droid_file":   l.BirthDroidFile,
		"lnk.file_attributes":    fmt.Sprintf("0x%08x", l.Attributes),
	}
	if l.HasVolume {
		d["lnk.drive_type"] = DriveType(l.DriveType)
		d["lnk.volume_serial"] = fmt.Sprintf("%08X", l.DriveSerial)
	}
	if path == l.IDListPath {
		delete(d, "lnk.idlist_path")
	}
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
	return d
}

// DriveType names a VolumeID drive type.
func DriveType(t uint32) string {
	names := []string{"unknown", "no_root_dir", "removable", "fixed", "remote", "cdrom", "ramdisk"}
	if int(t) < len(names) {
		return names[t]
	}
	return strconv.FormatUint(uint64(t), 10)
}

// Events returns one event per target time the link holds (a zero time is
// not set and left out), each with the target path as file.path. base is
// the link's offset in the file it was read from: the events point at
// their time fields.
func Events(l *Link, base int64) []*timeline.Event {
	path, _ := l.TargetPath()
	shown := path
	if shown == "" {
		shown = l.IDListPath
	}
	if shown == "" {
		shown = "(no target path)"
	}
	var extra []string
	if l.Arguments != "" {
		extra = append(extra, "arguments "+strconv.Quote(l.Arguments))
	}
	if l.WorkingDir != "" {
		extra = append(extra, "in "+l.WorkingDir)
	}
	if l.HasVolume {
		v := fmt.Sprintf("%s volume %08X", DriveType(l.DriveType), l.DriveSerial)
		if l.VolumeLabel != "" {
			v += " " + strconv.Quote(l.VolumeLabel)
		}
		extra = append(extra, v)
	}
	if l.MachineID != "" {
		extra = append(extra, "machine "+l.MachineID)
	}
	tail := ""
	if len(extra) > 0 {
		tail = " (" + strings.Join(extra, ", ") + ")"
	}
	// One map per event (callers add their own keys), built once.
	data := l.Data()
	var evs []*timeline.Event
	for _, t := range []struct {
		ft   ntfs.Filetime
		at   int64
		desc string
		what string
		typ  string // ECS event.type for a file
	}{
		{l.Created, 28, "Target Creation Time", "created", "creation"},
		{l.Modified, 44, "Target Modification Time", "modified", "change"},
		{l.Accessed, 36, "Target Last Access Time", "accessed", "access"},
	} {
		if t.ft == 0 {
			continue
		}
		size := int64(l.FileSize)
		ev := &timeline.Event{
			Timestamp:     t.ft.Time(),
			TimestampDesc: t.desc,
			Message:       fmt.Sprintf("shell link target %s %s%s", shown, t.what, tail),
			Event: timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{t.typ},
				Action: "link-target-" + t.what, Dataset: "windows.lnk"},
			File:  &timeline.File{Path: path, Size: &size},
			Jejak: timeline.Jejak{Data: maps.Clone(data)},
		}
		if path != "" {
			ev.File.Name = path[strings.LastIndexAny(path, `\/`)+1:]
		}
		if t.ft.OutOfRange() {
			ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
		}
		ev.Jejak.Provenance.Offset = base + t.at
		evs = append(evs, ev)
	}
	// The tracker's object IDs, when time-based, say when the target got
	// its object ID and on which machine (MAC address); the birth ID
	// differs only for a target moved since.
	for i, id := range []string{l.DroidFile, l.BirthDroidFile} {
		if i == 1 && id == l.DroidFile {
			break
		}
		tm, mac, ok := UUIDTime(id)
		if !ok || l.TrackerAt == 0 {
			continue
		}
		desc, what, at := "Link Tracking Object ID Creation Time", "object ID", int64(48)
		if i == 1 {
			desc, what, at = "Link Tracking Birth Object ID Creation Time", "birth object ID", 80
		}
		ev := &timeline.Event{
			Timestamp:     tm,
			TimestampDesc: desc,
			Message:       fmt.Sprintf("shell link target %s %s %s created on MAC %s%s", shown, what, id, mac, tail),
			Event: timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"info"},
				Action: "link-object-id-created", Dataset: "windows.lnk"},
			File:  &timeline.File{Path: path},
			Jejak: timeline.Jejak{Data: maps.Clone(data)},
		}
		if path != "" {
			ev.File.Name = path[strings.LastIndexAny(path, `\/`)+1:]
		}
		ev.Jejak.Data["lnk.droid_mac"] = mac
		ev.Jejak.Provenance.Offset = base + int64(l.TrackerAt) + at
		evs = append(evs, ev)
	}
	return evs
}
