package registry

import (
	"fmt"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// sha1Of strips the four zeros Amcache puts before a SHA-1.
func sha1Of(fileID string) string {
	s := strings.ToLower(strings.TrimSpace(fileID))
	if len(s) == 44 && strings.HasPrefix(s, "0000") {
		return s[4:]
	}
	if len(s) == 40 {
		return s
	}
	return ""
}

// amcache reports every file Amcache.hve inventoried: its path and SHA-1
// at the entry key's last write (when Windows recorded the file; often
// taken as its first run), and the PE link date when there is one.
// Windows 10 1709+ keeps Root\InventoryApplicationFile; Windows 8 and
// early 10 Root\File\{volume}\{entry} with numbered values.
func (w *walker) amcache(root *Key) error {
	if k := w.hive.Lookup(root, `Root\InventoryApplicationFile`); k != nil {
		for _, s := range w.subkeys(k) {
			m := w.hive.ValueMap(s)
			path := valStr(m, "LowerCaseLongPath")
			if path == "" {
				continue // WritePermissionsCheck and other bookkeeping keys
			}
			f := w.amcacheFinding(s, `\Root\InventoryApplicationFile\`+s.Name, path, sha1Of(valStr(m, "FileId")))
			f.data["registry.publisher"] = valStr(m, "Publisher")
			f.data["registry.version"] = valStr(m, "Version")
			f.data["registry.product"] = valStr(m, "ProductName")
			f.data["registry.link_date"] = valStr(m, "LinkDate")
			if err := w.emitFinding(f); err != nil {
				return err
			}
			ld, err := time.Parse("01/02/2006 15:04:05", f.data["registry.link_date"])
			if err != nil || m["linkdate"] == nil {
				continue
			}
			lf := f
			lf.when, lf.desc, lf.off, lf.action = fromTime(ld), "Link Date", m["linkdate"].Offset, "amcache-link-date"
			lf.msg = "PE link (compile) date of " + path
			// Windows' own binaries are built reproducibly: their link date
			// is a hash, often decades off. One after Amcache saw the file
			// cannot be a date and is flagged.
			after := lf.when > s.Written
			if after {
				lf.msg += " (after the entry was written: a build hash, not a date)"
			}
			if err := w.emitNote(lf, func(ev *timeline.Event) {
				if after {
					ev.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
				}
			}); err != nil {
				return err
			}
		}
	}
	if k := w.hive.Lookup(root, `Root\File`); k != nil {
		for _, vol := range w.subkeys(k) {
			for _, s := range w.subkeys(vol) {
				m := w.hive.ValueMap(s)
				path := valStr(m, "15")
				if path == "" {
					continue
				}
				f := w.amcacheFinding(s, `\Root\File\`+vol.Name+`\`+s.Name, path, sha1Of(valStr(m, "101")))
				if err := w.emitFinding(f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *walker) amcacheFinding(s *Key, key, path, sha1 string) finding {
	msg := "Amcache file entry: " + path
	if sha1 != "" {
		msg += " SHA-1 " + sha1
	}
	return finding{when: s.Written, desc: TimestampDesc, msg: msg, key: key, off: s.Offset,
		dataset: "windows.registry.amcache", action: "amcache-file", cat: []string{"file"},
		file: &timeline.File{Path: path, Name: baseName(path)},
		data: map[string]string{"registry.sha1": sha1}}
}

// Shell items: a minimal decoder of the items shellbags hold (libfwsi's
// "Windows Shell Item format"): root folders (by GUID), volumes, file
// entries (short name, and the long name of their 0xbeef0004 extension
// block), network locations and URIs. Control panel items, property
// views of phones and cameras (MTP), and other types are named by their
// type byte only.
var knownFolders = map[string]string{
	"{20D04FE0-3AEA-1069-A2D8-08002B30309D}": "My Computer",
	"{450D8FBA-AD25-11D0-98A8-0800361B1103}": "My Documents",
	"{208D2C60-3AEA-1069-A2D7-08002B30309D}": "My Network Places",
	"{F02C1A0D-BE21-4350-88B0-7367FC96EF3C}": "Network",
	"{59031A47-3F72-44A7-89C5-5595FE6B30EE}": "Users Files",
	"{26EE0668-A00A-44D7-9371-BEB064C98683}": "Control Panel",
	"{21EC2020-3AEA-1069-A2DD-08002B30309D}": "Control Panel",
	"{645FF040-5081-101B-9F08-00AA002F954E}": "Recycle Bin",
	"{031E4825-7B94-4DC3-B131-E946B44C8DD5}": "Libraries",
	"{871C5380-42A0-1069-A2EA-08002B30309D}": "Internet Explorer",
	"{679F85CB-0220-4080-B29B-5540CC05AAB6}": "Quick Access",
	"{3134EF9C-6B18-4996-AD04-ED5912E00EB5}": "Recent Files",
	"{A8CDFF1C-4878-43BE-B5FD-F8091C1C60D0}": "Documents",
	"{374DE290-123F-4565-9164-39C4925E467B}": "Downloads",
	"{B4BFCC3A-DB2C-424C-B029-7FE99A87C641}": "Desktop",
	"{3ADD1653-EB32-4CB0-BBD7-DFA0ABB5ACCA}": "Pictures",
	"{24AD3AD4-A569-4530-98E1-AB02F9417AA8}": "Pictures",
	"{1CF1260C-4DD0-4EBB-811F-33C572699FDE}": "Music",
	"{A0953C92-50DC-43BF-BE83-3742FED03C9C}": "Videos",
}

// ShellItem names one shell item.
func ShellItem(b []byte) string {
	if len(b) < 3 {
		return ""
	}
	typ := b[2]
	switch {
	case (typ == 0x1f || typ == 0x2e) && len(b) >= 20:
		g := guid(b[4:20])
		if n, ok := knownFolders[g]; ok {
			return n
		}
		return g
	case typ&0x70 == 0x20: // volume
		if len(b) >= 6 {
			return strings.TrimRight(cString(b[3:]), `\`)
		}
	case typ&0x70 == 0x30: // file entry
		return fileEntryName(b)
	case typ&0x70 == 0x40: // network location
		if len(b) > 5 {
			return cString(b[5:])
		}
	case typ == 0x61: // URI
		if len(b) > 0x2c {
			return strings.TrimSpace(utf16OrASCII(b[0x2c:]))
		}
	case typ == 0x71 || typ == 0x01:
		return "Control Panel"
	}
	return fmt.Sprintf("[shell item type 0x%02x]", typ)
}

// fileEntryName reads a file entry's long name from its 0xbeef0004
// extension block, or its short name.
func fileEntryName(b []byte) string {
	if len(b) < 15 {
		return ""
	}
	unicode := b[2]&0x04 != 0
	var short string
	end := 14
	if unicode {
		short = utf16String(b[14:])
		end = 14 + 2*len([]rune(short)) + 2
	} else {
		short = cString(b[14:])
		end = 14 + len(short) + 1
	}
	if end%2 == 1 {
		end++
	}
	// The extension block starts after the short name: size (2), version
	// (2), signature 0xbeef0004; the long name is the UTF-16 string whose
	// offset depends on the version (0x12 for version 3, 0x1c for 7, 0x1e
	// for 8, 0x2e for 9).
	for off := end; off+8 <= len(b); off += 2 {
		if b[off+4] != 0x04 || b[off+5] != 0x00 || b[off+6] != 0xef || b[off+7] != 0xbe {
			continue
		}
		ver := int(b[off+2]) | int(b[off+3])<<8
		at := map[int]int{3: 0x12, 7: 0x1c, 8: 0x1e, 9: 0x2e}[ver]
		if at == 0 && ver > 9 {
			at = 0x2e
		}
		if at > 0 && off+at < len(b) {
			if long := utf16String(b[off+at:]); long != "" {
				return long
			}
		}
		break
	}
	return short
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return decodeName(b[:i], true)
		}
	}
	return decodeName(b, true)
}

func utf16OrASCII(b []byte) string {
	if len(b) > 1 && b[1] == 0 {
		return utf16String(b)
	}
	return cString(b)
}

// bagMRU walks a shellbags tree: each numbered value of a BagMRU key is a
// shell item, and the subkey of the same number holds its children. An
// item's event is at its parent key's last write (the time the key's
// most recently used item, MRU position 0, was written, as RegRipper
// reports it); its position is kept.
func (w *walker) bagMRU(k *Key, keyPath, parent string, depth int) error {
	if depth > 64 {
		w.warn(k.Offset, fmt.Errorf("%w: shellbags deeper than 64 at %s", ErrBadCell, keyPath))
		return nil
	}
	subs := map[string]*Key{}
	for _, s := range w.subkeys(k) {
		subs[s.Name] = s
	}
	for pos, v := range w.mruOrder(k) {
		name := ShellItem(v.Data)
		path := name
		if parent != "" {
			path = parent + `\` + name
		}
		if err := w.emitFinding(finding{when: k.Written, desc: TimestampDesc, msg: fmt.Sprintf("Shellbag %s (MRU position %d)", path, pos),
			key: keyPath, off: v.Offset, dataset: "windows.registry.shellbags", action: "shellbag", cat: []string{"file"},
			data: map[string]string{"registry.value": v.Name, "registry.shell_path": path, "registry.mru_position": fmt.Sprint(pos)}}); err != nil {
			return err
		}
		if s := subs[v.Name]; s != nil {
			if err := w.bagMRU(s, keyPath+`\`+s.Name, path, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// shellbags reads UsrClass.dat's BagMRU (Windows 7 and later).
func (w *walker) shellbags(root *Key) error {
	const p = `Local Settings\Software\Microsoft\Windows\Shell\BagMRU`
	if k := w.hive.Lookup(root, p); k != nil {
		return w.bagMRU(k, `\`+p, "", 0)
	}
	return nil
}
