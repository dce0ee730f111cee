package baseline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"www.velocidex.com/golang/regparser"
)

// Windows facts come from the registry hives under
// Windows/System32/config, read with Velocidex's regparser (the module
// jejak's registry parser uses too; this package reads the few keys an
// auditor reviews and does not depend on the timeline parser):
//   - SAM: local accounts (SAM\Domains\Account\Users\Names; the RID is
//     the type of each name's default value);
//   - SYSTEM, in the current control set (Select\Current): services
//     (Services\* with an ImagePath), the time zone
//     (Control\TimeZoneInformation) and the NTP server
//     (Services\W32Time\Parameters\NtpServer);
//   - SOFTWARE: installed programs (Uninstall keys, 64- and 32-bit).
//
// A hive regparser cannot read, or that panics in its generated accessors
// (a damaged hive), gives one fact of category "error" naming the file,
// so the section says why it is empty.

// maxHive bounds a hive kept for reading (a server's SOFTWARE hive is
// 50–200 MB).
const maxHive = 512 << 20

func hiveFacts(p, kind string, b []byte) (out []Fact) {
	defer func() {
		if r := recover(); r != nil {
			out = append(out, Fact{Category: "error", Name: "damaged hive", Source: p, Detail: map[string]string{"error": fmt.Sprint(r)}})
		}
	}()
	if !bytes.HasPrefix(b, []byte("regf")) {
		return []Fact{{Category: "error", Name: "not a registry hive", Source: p, Detail: map[string]string{"error": "no regf signature at offset 0"}}}
	}
	// The base block says how many bytes of hive bins follow it (offset
	// 0x28): a copy cut short loses keys silently otherwise.
	if len(b) >= 0x2c {
		if want := 4096 + int64(binary.LittleEndian.Uint32(b[0x28:])); int64(len(b)) < want {
			out = append(out, Fact{Category: "error", Name: "hive cut short", Source: p, Detail: map[string]string{
				"error": fmt.Sprintf("%d bytes, the base block at offset 0 declares %d: keys past offset %d are missing", len(b), want, len(b))}})
		}
	}
	reg, err := regparser.NewRegistry(bytes.NewReader(b))
	if err != nil {
		return append(out, Fact{Category: "error", Name: "unreadable hive", Source: p, Detail: map[string]string{"error": err.Error()}})
	}
	var got []Fact
	var need string
	switch kind {
	case "sam":
		got, need = samFacts(p, reg), `SAM\Domains\Account\Users\Names`
	case "system":
		got, need = systemFacts(p, reg), "Select"
	case "software":
		got, need = softwareFacts(p, reg), `Microsoft\Windows\CurrentVersion`
	}
	if reg.OpenKey(need) == nil {
		out = append(out, Fact{Category: "error", Name: "key missing", Source: p, Detail: map[string]string{
			"error": "no " + need + " key: a damaged hive, or not a " + strings.ToUpper(kind) + " hive"}})
	}
	return append(out, got...)
}

func values(k *regparser.CM_KEY_NODE) map[string]*regparser.ValueData {
	m := map[string]*regparser.ValueData{}
	for _, v := range k.Values() {
		m[strings.ToLower(v.ValueName())] = v.ValueData()
	}
	return m
}

func str(v *regparser.ValueData) string {
	if v == nil {
		return ""
	}
	switch v.Type {
	case regparser.REG_SZ, regparser.REG_EXPAND_SZ:
		return strings.TrimRight(v.String, "\x00")
	case regparser.REG_DWORD, regparser.REG_QWORD, regparser.REG_DWORD_BIG_ENDIAN:
		return strconv.FormatUint(v.Uint64, 10)
	case regparser.REG_MULTI_SZ:
		return strings.Join(v.MultiSz, " ")
	}
	return ""
}

func samFacts(p string, reg *regparser.Registry) []Fact {
	k := reg.OpenKey(`SAM\Domains\Account\Users\Names`)
	if k == nil {
		return nil
	}
	var out []Fact
	for _, sub := range k.Subkeys() {
		d := map[string]string{"store": "SAM"}
		for _, v := range sub.Values() {
			if v.ValueName() == "" {
				d["rid"] = strconv.FormatUint(uint64(v.Type()), 10)
			}
		}
		out = append(out, Fact{Category: "account", Name: sub.Name(), Source: p, Detail: d})
	}
	return out
}

var startNames = map[string]string{"0": "boot", "1": "system", "2": "automatic", "3": "manual", "4": "disabled"}

func systemFacts(p string, reg *regparser.Registry) []Fact {
	cs := "ControlSet001"
	if sel := reg.OpenKey("Select"); sel != nil {
		if n, err := strconv.Atoi(str(values(sel)["current"])); err == nil && n > 0 {
			cs = fmt.Sprintf("ControlSet%03d", n)
		}
	}
	var out []Fact
	if k := reg.OpenKey(cs + `\Services`); k != nil {
		for _, sub := range k.Subkeys() {
			v := values(sub)
			img := str(v["imagepath"])
			if img == "" {
				continue
			}
			start := str(v["start"])
			if n, ok := startNames[start]; ok {
				start = n
			}
			out = append(out, Fact{Category: "service", Name: sub.Name(), Source: p, Detail: map[string]string{
				"image_path": img, "start": start, "account": str(v["objectname"]), "display_name": str(v["displayname"]), "control_set": cs}})
		}
	}
	if k := reg.OpenKey(cs + `\Control\TimeZoneInformation`); k != nil {
		v := values(k)
		name := str(v["timezonekeyname"])
		if name == "" {
			name = str(v["standardname"])
		}
		if name != "" {
			out = append(out, Fact{Category: "timezone", Name: name, Source: p, Detail: map[string]string{"bias_minutes": signedBias(v["bias"]), "control_set": cs}})
		}
	}
	if k := reg.OpenKey(cs + `\Services\W32Time\Parameters`); k != nil {
		v := values(k)
		if s := str(v["ntpserver"]); s != "" {
			out = append(out, Fact{Category: "ntp", Name: s, Source: p, Detail: map[string]string{"type": str(v["type"]), "control_set": cs}})
		}
	}
	return out
}

// signedBias: the Bias DWORD is a signed count of minutes (UTC = local +
// bias).
func signedBias(v *regparser.ValueData) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(int(int32(uint32(v.Uint64))))
}

func softwareFacts(p string, reg *regparser.Registry) []Fact {
	var out []Fact
	for _, base := range []string{`Microsoft\Windows\CurrentVersion\Uninstall`, `Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall`} {
		k := reg.OpenKey(base)
		if k == nil {
			continue
		}
		subs := k.Subkeys()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, sub := range subs {
			v := values(sub)
			name := str(v["displayname"])
			if name == "" {
				continue // updates and components without a name are not listed by Windows either
			}
			out = append(out, Fact{Category: "package", Name: name, Source: p, Detail: map[string]string{
				"version": str(v["displayversion"]), "publisher": str(v["publisher"]), "manager": "windows-uninstall", "key": base + `\` + sub.Name()}})
		}
	}
	return out
}
