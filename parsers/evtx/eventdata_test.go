package evtx

import (
	stdmaps "maps"
	"slices"
	"testing"

	"github.com/jejak-forensics/jejak/internal/slab"
)

// el builds an Element with the given children (attrs as name, value
// pairs).
func el(name, text string, attrs []string, kids ...*Element) *Element {
	e := &Element{Name: name, Text: text}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, Attr{attrs[i], attrs[i+1]})
	}
	for _, k := range kids {
		e.add(k)
	}
	return e
}

func data(name, text string) *Element {
	if name == "" {
		return el("Data", text, nil)
	}
	return el("Data", text, []string{"Name", name})
}

// TestEventData covers the names EventData gives, the repeated ones
// above all: they take the path that refills the map with setUnique, and
// the members list the message reads must then be the map's.
func TestEventData(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   *Element
		want map[string]string
	}{
		{"named", el("Event", "", nil, el("EventData", "", nil, data("A", "1"), data("B", "2"))),
			map[string]string{"A": "1", "B": "2"}},
		{"unnamed and Binary", el("Event", "", nil, el("EventData", "", nil, data("", "x"), el("Binary", "00FF", nil), data("", "y"))),
			map[string]string{"Data1": "x", "Binary": "00FF", "Data2": "y"}},
		{"repeated names", el("Event", "", nil, el("EventData", "", nil, data("A", "1"), data("A", "2"), data("A_2", "3"), data("A", "4"))),
			// A, then A_2 for the second A; the third member, named A_2,
			// finds it taken and becomes A_2_2; the fourth A takes A_3.
			map[string]string{"A": "1", "A_2": "2", "A_2_2": "3", "A_3": "4"}},
		{"UserData leaves", el("Event", "", nil, el("UserData", "", nil, el("LogFileCleared", "", nil,
			el("SubjectUserName", "bob", nil), el("Nested", "", nil, el("SubjectUserName", "eve", nil))))),
			map[string]string{"SubjectUserName": "bob", "SubjectUserName_2": "eve"}},
		{"orphan values after members", el("Event", "", nil, el("EventData", "", nil, data("A", "1"), data("", "u")),
			el("Data", "o1", nil), el("Data", "o2", nil), el(unresolvedName+"512", "lost", nil)),
			// Data1 is EventData's own unnamed; the orphans count on from
			// the two members: Data3, Data4.
			map[string]string{"A": "1", "Data1": "u", "Data3": "o1", "Data4": "o2", unresolvedName + "512": "lost"}},
		{"orphan colliding with a member", el("Event", "", nil, el("EventData", "", nil, data("Data2", "m")), el("Data", "o", nil)),
			map[string]string{"Data2": "m", "Data2_2": "o"}},
		{"no data", el("Event", "", nil, el("System", "", nil)), map[string]string{}},
	} {
		got, members := eventData(c.ev, nil, nil)
		if !stdmaps.Equal(got, c.want) {
			t.Errorf("%s: map %v, want %v", c.name, got, c.want)
		}
		if !stdmaps.Equal(EventData(c.ev), c.want) {
			t.Errorf("%s: EventData %v, want %v", c.name, EventData(c.ev), c.want)
		}
		fromMembers := map[string]string{}
		for _, m := range members {
			fromMembers[m.k] = m.v
		}
		if len(members) != len(got) || !stdmaps.Equal(fromMembers, got) {
			t.Errorf("%s: members %v, map %v", c.name, members, got)
		}
		keys := slices.Sorted(stdmaps.Keys(got))
		if len(slices.Compact(keys)) != len(members) {
			t.Errorf("%s: members repeat a name: %v", c.name, members)
		}
	}
}

func TestBlockSlabFitsSizeClass(t *testing.T) {
	if fit := slab.FitCells[eventBlock](); blockSlab != fit {
		t.Errorf("blockSlab is %d; %d blocks of %d bytes fit the largest small size class (%d)", blockSlab, fit, slab.CellSize[eventBlock](), slab.LargestSmall)
	}
}
