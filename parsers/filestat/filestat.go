// Package filestat turns the times a container records for a file (a tar
// member's mtime, a zip entry's modified time, a file system's MACB times)
// into timeline events. It reads no content: the container is the source.
package filestat

import (
	"io/fs"
	"path"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name these events carry.
const Name = "filestat"

// Events returns one event per distinct time the container recorded for
// e, as mactime merges a file's equal times into one row: its
// jejak.data.macb names the times it is ("m.c.": modified and changed
// then; a dot for a time it is not) and its timestamp_desc names them with
// plaso's vocabulary in MACB order, joined by "; " ("Content Modification
// Time; Metadata Modification Time"; a lone time keeps its description).
// Events come in MACB order of their first time. The mft parser writes
// its events the same way, so the two agree on a file's times.
//
// An expanded container (e.Container) gets its events like any file,
// under its own chain, so they never collide with its members'. Times a
// member only inherited from its container (e.InheritedTimes) are the
// container's events, not a second copy under the member's name.
func Events(e *jfs.Entry) []*timeline.Event {
	if e.InheritedTimes {
		return nil
	}
	var (
		sets [4]uint8 // bit i: times[i] is the event's time
		at   [4]time.Time
		n    int
	)
	for i, tm := range [4]time.Time{e.Times.Modified, e.Times.Accessed, e.Times.Changed, e.Times.Born} {
		if tm.IsZero() {
			continue // not recorded (a zip entry's access time, ext2's birth)
		}
		j := 0
		for j < n && !at[j].Equal(tm) {
			j++
		}
		if j == n {
			at[n] = tm
			n++
		}
		sets[j] |= 1 << i
	}
	var out []*timeline.Event
	kind := fileType(e.Mode)
	for j, set := range sets[:n] {
		desc := descOf[set]
		ev := &timeline.Event{
			Timestamp:     at[j].UTC(),
			TimestampDesc: desc,
			Message:       fileMessage(e, desc),
			Event: timeline.EventMeta{
				Kind:     "event",
				Category: []string{"file"},
				Type:     []string{"info"},
				Action:   actionOf[set],
				Dataset:  Name,
			},
			File: &timeline.File{Path: e.Path, Name: path.Base(e.Path), Inode: e.Inode, Type: kind, TargetPath: e.Link},
		}
		ev.Jejak.Data = map[string]string{"macb": macbOf[set]}
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

// descs are plaso's descriptions of the four times, in MACB order.
var descs = [4]string{"Content Modification Time", "Last Access Time", "Metadata Modification Time", "Creation Time"}

// macbOf, descOf and actionOf give, for a set of the four times (bit i is
// descs[i]), the event's macb letters ("m.c."), its timestamp_desc (the
// descriptions joined in MACB order with "; ") and its event.action
// ("file_" and the letters and "time": "file_mtime", "file_mctime"). Made
// once, so an event allocates none of them.
var macbOf, descOf, actionOf = func() (macb, desc, action [16]string) {
	for set := 1; set < 16; set++ {
		letters := []byte("....")
		var parts []string
		for i := range descs {
			if set&(1<<i) != 0 {
				letters[i] = "macb"[i]
				parts = append(parts, descs[i])
			}
		}
		macb[set], desc[set] = string(letters), strings.Join(parts, "; ")
		action[set] = "file_" + strings.ReplaceAll(string(letters), ".", "") + "time"
	}
	return macb, desc, action
}()

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
