# Builds a SOFTWARE hive for the tests with hivex (python3-hivex): argv[1]
# is a copy of a real hive whose root keys are replaced.
import struct
import sys

import hivex

EPOCH = 11644473600


def sz(s):
    return (s + "\0").encode("utf-16-le")


def dword(n):
    return struct.pack("<I", n & 0xFFFFFFFF)


def systemtime(y, mo, d, h, mi, s, ms=0):
    # SYSTEMTIME: year, month, day of week (unused here), day, hour,
    # minute, second, milliseconds.
    return struct.pack("<8H", y, mo, 0, d, h, mi, s, ms)


h = hivex.Hivex(sys.argv[1], write=True)
root = h.root()
for child in h.node_children(root):
    h.node_delete_child(child)


def key(path):
    node = root
    for part in path.split("\\"):
        node = h.node_get_child(node, part) or h.node_add_child(node, part)
    return node


def values(path, vals):
    h.node_set_values(key(path), [{"key": k, "t": t, "value": v} for k, t, v in vals])


key("Classes")
key("Policies")
values(r"Microsoft\Windows NT\CurrentVersion", [
    ("ProductName", 1, sz("Windows Server 2019 Standard")), ("CurrentBuild", 1, sz("17763")),
    ("CurrentBuildNumber", 1, sz("17763")), ("ReleaseId", 1, sz("1809")), ("CurrentVersion", 1, sz("6.3")),
    ("RegisteredOwner", 1, sz("KPU")), ("InstallDate", 4, dword(1704153600)),
    ("InstallTime", 11, struct.pack("<Q", (1704153600 + EPOCH) * 10_000_000 + 1234567)),
])
UN = r"Microsoft\Windows\CurrentVersion\Uninstall"
values(UN + r"\{11111111-2222-3333-4444-555555555555}", [
    ("DisplayName", 1, sz("Sistem Rekapitulasi Suara")), ("DisplayVersion", 1, sz("2.4.1")),
    ("Publisher", 1, sz("Vendor Pemilu")), ("InstallDate", 1, sz("20240210")),
    ("InstallLocation", 1, sz(r"C:\Program Files\Sirekap")),
])
values(UN + r"\AnyDesk", [("DisplayName", 1, sz("AnyDesk")), ("DisplayVersion", 1, sz("8.0.8")),
                          ("Publisher", 1, sz("AnyDesk Software GmbH")), ("InstallDate", 1, sz("20240215"))])
values(r"Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall\7-Zip", [
    ("DisplayName", 1, sz("7-Zip 19.00")), ("DisplayVersion", 1, sz("19.00")), ("Publisher", 1, sz("Igor Pavlov"))])
NL = r"Microsoft\Windows NT\CurrentVersion\NetworkList"
values(NL + r"\Profiles\{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", [
    ("ProfileName", 1, sz("KPU-LAN")), ("Description", 1, sz("KPU-LAN")), ("Managed", 4, dword(0)),
    ("Category", 4, dword(1)), ("NameType", 4, dword(6)),
    ("DateCreated", 3, systemtime(2024, 2, 1, 9, 15, 30, 250)),
    ("DateLastConnected", 3, systemtime(2024, 2, 14, 20, 5, 1)),
])
values(NL + r"\Signatures\Unmanaged\010103000F0000F0080000000F0000F0", [
    ("ProfileGuid", 1, sz("{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}")), ("Description", 1, sz("KPU-LAN")),
    ("DefaultGatewayMac", 3, bytes.fromhex("001122334455")), ("DnsSuffix", 1, sz("kpu.local")),
    ("FirstNetwork", 1, sz("KPU-LAN")),
])
values(r"Microsoft\Windows\CurrentVersion\Run", [
    ("SecurityHealth", 2, sz(r"%windir%\system32\SecurityHealthSystray.exe")),
    ("Updater", 1, sz(r'"C:\ProgramData\upd\updater.exe" /silent')),
])
values(r"Microsoft\Windows\CurrentVersion\RunOnce", [("Cleanup", 1, sz(r"cmd.exe /c del C:\Temp\x.log"))])
h.commit(None)

# The base block names the file the hive was loaded from (the copy's
# says SAM): name it SOFTWARE (Windows keeps the last 31 characters) and recompute the checksum (XOR of the first
# 127 dwords), as Windows writes it, so tools that go by the name agree.
with open(sys.argv[1], "r+b") as out:
    block = bytearray(out.read(512))
    block[48:112] = r"\SystemRoot\System32\Config\SOFTWARE"[-31:].encode("utf-16-le").ljust(64, b"\0")
    csum = 0
    for i in range(0, 508, 4):
        csum ^= struct.unpack_from("<I", block, i)[0]
    struct.pack_into("<I", block, 508, {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(csum, csum))
    out.seek(0)
    out.write(block)
