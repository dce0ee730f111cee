// Package filestat turns the times a container records for a file (a tar
// member's mtime, a zip entry's modified time, a file system's MACB times)
// into timeline events. It reads no content: the container is the source.
package filestat

import (
	"io/fs"
	"path"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name these events carry.
const Name = "filestat"

// Events returns one event per time the container recorded for e, in MACB
// order, with plaso's timestamp_desc vocabulary. An expanded container
// (e.Container) gets its events like any file, under its own chain, so they
// never collide with its members'. Times a member only inherited from its
// container (e.InheritedTimes) are the container's events, not a second
// copy under the member's name.
func Events(e *jfs.Entry) []*timeline.Event {
	if e.InheritedTimes {
		return nil
	}
	times := []struct {
		t    time.Time
		desc string
		macb string
	}{
		{e.Times.Modified, "Content Modification Time", "m"},
		{e.Times.Accessed, "Last Access Time", "a"},
		{e.Times.Changed, "Metadata Modification Time", "c"},
		{e.Times.Born, "Creation Time", "b"},
	}
	var out []*timeline.Event
	kind := fileType(e.Mode)
	for _, tm := range times {
		if tm.t.IsZero() {
			continue
		}
		ev := &timeline.Event{
			Timestamp:     tm.t.UTC(),
			TimestampDesc: tm.desc,
			Message:       fileMessage(e, tm.desc),
			Event: timeline.EventMeta{
				Kind:     "event",
				Category: []string{"file"},
				Type:     []string{"info"},
				Action:   "file_" + tm.macb + "time",
				Dataset:  Name,
			},
			File: &timeline.File{Path: e.Path, Name: path.Base(e.Path), Inode: e.Inode, Type: kind, TargetPath: e.Link},
		}
		if e.Size >= 0 {
			sz := e.Size
			ev.File.Size = &sz
		}
		if e.Deleted {
			ev.Jejak.Tags = append(ev.Jejak.Tags, "deleted")
		}
		if e.ZoneAssumed != "" {
			// A local time (FAT) read in the evidence's zone: the row
			// says so, and the run summary counts it.
			ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: e.ZoneAssumed}
		}
		out = append(out, ev)
	}
	return out
}

// fileType is ECS file.type for what is not a regular file, else "".
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return ""
}

func fileMessage(e *jfs.Entry, desc string) string {
	m := desc + " of " + e.Path
	if e.Mode&fs.ModeSymlink != 0 {
		m += " -> " + e.Link
	}
	if e.Deleted {
		m += " (deleted)"
	}
	return m
}
