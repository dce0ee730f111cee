package registry

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

type ripUser struct {
	name, rid, full, count string
	times                  map[string]string // timestamp_desc → RFC 3339 UTC, "" for Never
	flags                  []string
}

// samparse runs RegRipper's samparse and reads its users and groups.
func samparse(t *testing.T, path string) (map[string]*ripUser, map[string][]string) {
	out := oracle.Output(t, "regripper", "-r", path, "-p", "samparse")
	users := map[string]*ripUser{}
	groups := map[string][]string{}
	var u *ripUser
	group, inMembers := "", false
	field := func(l string) (string, string) {
		k, v, _ := strings.Cut(l, ":")
		return strings.TrimSpace(k), strings.TrimSpace(v)
	}
	ripTime := func(v string) string {
		if v == "Never" {
			return ""
		}
		tm, err := time.Parse(time.ANSIC, strings.TrimSuffix(v, " Z"))
		if err != nil {
			t.Fatalf("samparse time %q: %v", v, err)
		}
		return tm.Format(time.RFC3339)
	}
	for _, l := range strings.Split(string(out), "\n") {
		k, v := field(l)
		switch {
		case k == "Username":
			name, rid, _ := strings.Cut(v, " [")
			u = &ripUser{name: name, rid: strings.TrimSuffix(rid, "]"), times: map[string]string{}}
			users[u.rid] = u
		case u != nil && k == "Full Name":
			u.full = v
		case u != nil && k == "Last Login Date":
			u.times["Last Logon"] = ripTime(v)
		case u != nil && k == "Pwd Reset Date":
			u.times["Password Last Set"] = ripTime(v)
		case u != nil && k == "Pwd Fail Date":
			u.times["Last Failed Logon"] = ripTime(v)
		case u != nil && k == "Account Created":
			u.times["Account Created"] = ripTime(v)
		case u != nil && k == "Login Count":
			u.count = v
		case u != nil && strings.HasPrefix(strings.TrimSpace(l), "--> "):
			u.flags = append(u.flags, strings.TrimPrefix(strings.TrimSpace(l), "--> "))
		case k == "Group Name":
			u = nil
			group, _, _ = strings.Cut(v, " [")
			groups[group] = nil
			inMembers = false
		case group != "" && k == "Users":
			inMembers = v == ""
		case group != "" && inMembers && strings.HasPrefix(strings.TrimSpace(l), "S-1-"):
			groups[group] = append(groups[group], strings.TrimSpace(l))
		case strings.TrimSpace(l) == "":
			inMembers = false
		}
	}
	return users, groups
}

// TestSAMEqualsSamparse: accounts (RID, name, full name, logon count,
// flags, the four times) and every group's members equal RegRipper's
// samparse.
func TestSAMEqualsSamparse(t *testing.T) {
	oracle.Tool(t, "regripper", "regripper")
	for _, rel := range []string{"windows/registry/SAM", "agpl/registry/SAM"} {
		t.Run(rel, func(t *testing.T) {
			path := parsertest.Corpus(t, rel)
			wantUsers, wantGroups := samparse(t, path)
			if len(wantUsers) == 0 {
				t.Fatal("samparse listed no users")
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			got := map[string]map[string]*timeline.Event{} // RID → desc → event
			gotGroups := map[string][]string{}
			for _, ev := range res.Events {
				if ev.Event.Action == "group-membership" {
					if !strings.Contains(ev.Jejak.Data["registry.key"], `\Builtin\`) {
						continue // samparse reads the Builtin domain's aliases only
					}
					m := ev.Jejak.Data["registry.members"]
					if m != "" {
						gotGroups[ev.Group.Name] = strings.Split(m, ", ")
					} else {
						gotGroups[ev.Group.Name] = nil
					}
					continue
				}
				if ev.User == nil || slices.Contains(ev.Jejak.Tags, TagDeleted) {
					continue // samparse reads live accounts only
				}
				if got[ev.User.ID] == nil {
					got[ev.User.ID] = map[string]*timeline.Event{}
				}
				got[ev.User.ID][ev.TimestampDesc] = ev
			}
			for rid, u := range wantUsers {
				evs := got[rid]
				for desc, want := range u.times {
					ev := evs[desc]
					switch {
					case want == "" && ev != nil:
						t.Errorf("RID %s: %s %s, samparse Never", rid, desc, ev.Timestamp)
					case want != "" && ev == nil:
						t.Errorf("RID %s: no %s event, samparse %s", rid, desc, want)
					case want != "" && ev.Timestamp.Truncate(time.Second).Format(time.RFC3339) != want:
						t.Errorf("RID %s: %s %s, samparse %s", rid, desc, ev.Timestamp, want)
					}
				}
				var any *timeline.Event
				for _, ev := range evs {
					any = ev
				}
				if any == nil {
					// An account with no time at all has no event: samparse
					// must then say Never everywhere.
					continue
				}
				if any.User.Name != u.name {
					t.Errorf("RID %s: name %q, samparse %q", rid, any.User.Name, u.name)
				}
				if any.Jejak.Data["registry.full_name"] != u.full {
					t.Errorf("RID %s: full name %q, samparse %q", rid, any.Jejak.Data["registry.full_name"], u.full)
				}
				if any.Jejak.Data["registry.logon_count"] != u.count {
					t.Errorf("RID %s: logon count %q, samparse %q", rid, any.Jejak.Data["registry.logon_count"], u.count)
				}
				flags := strings.Split(any.Jejak.Data["registry.flags"], ", ")
				sort.Strings(flags)
				sort.Strings(u.flags)
				if !slices.Equal(flags, u.flags) {
					t.Errorf("RID %s: flags %v, samparse %v", rid, flags, u.flags)
				}
			}
			for rid := range got {
				if wantUsers[rid] == nil {
					t.Errorf("RID %s: not listed by samparse", rid)
				}
			}
			if len(wantGroups) != len(gotGroups) {
				t.Errorf("%d groups, samparse %d", len(gotGroups), len(wantGroups))
			}
			for g, want := range wantGroups {
				have, ok := gotGroups[g]
				sort.Strings(have)
				sort.Strings(want)
				if !ok || !slices.Equal(have, want) {
					t.Errorf("group %q: members %v, samparse %v", g, have, want)
				}
			}
		})
	}
}

// Group membership reaches the account: the agpl SAM's "test" (1001) is an
// Administrator (samparse lists its SID under Administrators).
func TestSAMAccountGroups(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "agpl/registry/SAM"), nil)
	for _, ev := range res.Events {
		if ev.User != nil && ev.User.ID == strconv.Itoa(1001) {
			if g := ev.Jejak.Data["registry.groups"]; !strings.Contains(g, "Administrators") {
				t.Errorf("groups of 1001: %q", g)
			}
			return
		}
	}
	t.Error("no event of RID 1001")
}

// The Velociraptor SAM keeps a deleted account in free cells: RegRipper's
// del finds its user key 000003E8 and its Names entry defaultuser0. It is
// an account event, tagged deleted, RID 1000, name defaultuser0, with the
// Names key's time as its creation.
func TestSAMDeletedAccount(t *testing.T) {
	path := parsertest.Corpus(t, "agpl/registry/SAM")
	del := rip(t, path, "del")
	if !slices.Contains(del, "Key name: 000003E8") || !slices.Contains(del, "Key name: defaultuser0") {
		t.Fatalf("RegRipper del does not list the deleted account")
	}
	res := parsertest.ParseFile(t, New(), path, nil)
	n := 0
	for _, ev := range res.Events {
		if ev.User == nil || !slices.Contains(ev.Jejak.Tags, TagDeleted) {
			continue
		}
		n++
		if ev.User.ID != "1000" || ev.User.Name != "defaultuser0" || !strings.Contains(ev.Message, "deleted local account") {
			t.Errorf("%+v %s", ev.User, ev.Message)
		}
	}
	if n == 0 {
		t.Error("no event of the deleted account")
	}
}
