package volume

// mbrTypes names the common MBR partition type bytes (the names mmls uses
// where they agree).
var mbrTypes = map[byte]string{
	0x01: "DOS FAT12", 0x04: "DOS FAT16 (<32MB)", 0x05: "DOS Extended", 0x06: "DOS FAT16 (>=32MB)",
	0x07: "NTFS / exFAT", 0x0b: "Win95 FAT32", 0x0c: "Win95 FAT32 (LBA)", 0x0e: "Win95 FAT16 (LBA)",
	0x0f: "Win95 Extended (LBA)", 0x11: "Hidden FAT12", 0x12: "Hidden FAT16/Diagnostics",
	0x17: "Hidden NTFS", 0x1b: "Hidden Win95 FAT32", 0x1c: "Hidden Win95 FAT32 (LBA)",
	0x27: "Windows RE / hidden NTFS", 0x42: "Windows dynamic (LDM)", 0x82: "Linux Swap / Solaris x86",
	0x83: "Linux", 0x85: "Linux Extended", 0x8e: "Linux Logical Volume Manager",
	0xa5: "FreeBSD", 0xa6: "OpenBSD", 0xa8: "Mac OS X", 0xa9: "NetBSD", 0xaf: "Mac OS X HFS",
	0xbe: "Solaris 8 Boot", 0xbf: "Solaris x86", 0xee: "GPT Safety Partition", 0xef: "EFI File System",
	0xfb: "VMware File System", 0xfc: "VMware Swap", 0xfd: "Linux RAID Auto Detect",
}

// gptTypes names common GPT partition type GUIDs.
var gptTypes = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"024DEE41-33E7-11D3-9D69-0008C781F39F": "MBR partition scheme",
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery",
	"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3": "Windows LDM metadata",
	"AF9B60A0-1431-4F62-BC68-3311714A69AD": "Windows LDM data",
	"E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D": "Windows Storage Spaces",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
	"44479540-F297-41B2-9AF7-D131D5F0458A": "Linux root (x86)",
	"B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM64)",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
	"48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS+",
	"7C3457EF-0000-11AA-AA11-00306543ECAC": "Apple APFS",
	"516E7CB4-6ECF-11D6-8FF8-00022D09712B": "FreeBSD data",
	"516E7CBA-6ECF-11D6-8FF8-00022D09712B": "FreeBSD ZFS",
	"6A898CC3-1DD2-11B2-99A6-080020736631": "ZFS (Solaris /usr)",
	"AA31E02A-400F-11DB-9590-000C2911D1B8": "VMware VMFS",
}
