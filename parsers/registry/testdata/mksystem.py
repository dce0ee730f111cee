# Builds a SYSTEM hive for the tests with hivex (python3-hivex), the
# library libguestfs uses to write hives: argv[1] is a copy of a real hive
# (its root keys are replaced), argv[2] the raw AppCompatCache value data.
import struct
import sys

import hivex

EPOCH = 11644473600


def ft(unix, frac=0):
    return struct.pack("<Q", (unix + EPOCH) * 10_000_000 + frac)


def sz(s):
    return (s + "\0").encode("utf-16-le")


def dword(n):
    return struct.pack("<I", n & 0xFFFFFFFF)


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


values("Select", [("Current", 4, dword(1)), ("Default", 4, dword(1)), ("LastKnownGood", 4, dword(2))])
cs = "ControlSet001"
values(cs + r"\Control\ComputerName\ComputerName", [("ComputerName", 1, sz("TABULASI-01"))])
values(cs + r"\Control\TimeZoneInformation", [
    ("Bias", 4, dword(-420)), ("ActiveTimeBias", 4, dword(-420)), ("DaylightBias", 4, dword(-60)),
    ("StandardName", 1, sz("@tzres.dll,-632")), ("DaylightName", 1, sz("@tzres.dll,-631")),
    ("TimeZoneKeyName", 1, sz("SE Asia Standard Time")), ("DynamicDaylightTimeDisabled", 4, dword(0)),
])
values(cs + r"\Control\Windows", [("ShutdownTime", 3, ft(1707912000, 1234567))])


def shim_value(path):
    # A Windows 10 cache (header 0x30 or 0x34, then entries of 12 bytes
    # plus their size) cut to its whole entries within 16000 bytes: the
    # value fits one cell (RegRipper loops on a big-data value).
    d = open(path, "rb").read()
    off = struct.unpack_from("<I", d, 0)[0]
    while off + 12 <= len(d):
        size = struct.unpack_from("<I", d, off + 8)[0]
        if off + 12 + size > 16000:
            break
        off += 12 + size
    return d[:off]


values(cs + r"\Control\Session Manager\AppCompatCache", [("AppCompatCache", 3, shim_value(sys.argv[2]))])
values(cs + r"\Services\Spooler", [
    ("ImagePath", 2, sz(r"%SystemRoot%\System32\spoolsv.exe")), ("Start", 4, dword(2)), ("Type", 4, dword(0x10)),
    ("DisplayName", 1, sz("Print Spooler")), ("ObjectName", 1, sz("LocalSystem")),
])
values(cs + r"\Services\updsvc", [
    ("ImagePath", 2, sz(r"C:\Users\Public\updsvc.exe")), ("Start", 4, dword(3)), ("Type", 4, dword(0x10)),
])
values(cs + r"\Services\disk", [("ImagePath", 2, sz(r"System32\drivers\disk.sys")), ("Start", 4, dword(0)), ("Type", 4, dword(1))])
values(cs + r"\Services\Tcpip\Parameters\Interfaces\{6f1c4b1e-2d3a-4c5b-9e8f-0123456789ab}", [
    ("EnableDHCP", 4, dword(1)), ("DhcpIPAddress", 1, sz("10.20.30.40")), ("DhcpServer", 1, sz("10.20.30.1")),
    ("DhcpDomain", 1, sz("kpu.local")), ("LeaseObtainedTime", 4, dword(1707900000)),
    ("LeaseTerminatesTime", 4, dword(1707986400)),
])
values(cs + r"\Services\Tcpip\Parameters\Interfaces\{00000000-0000-0000-0000-000000000001}", [
    ("EnableDHCP", 4, dword(0)), ("IPAddress", 7, sz("192.168.1.5") + b"\0\0"),
])

PROPS = r"Properties\{83da6326-97a6-4088-9453-a1923f573b29}"
DEVPROP_FILETIME = 0xFFFF0010


def device(path, friendly, times):
    values(path, [("FriendlyName", 1, sz(friendly))] if friendly else [("DeviceDesc", 1, sz("@usb.inf,%usb.mass%;USB Mass Storage Device"))])
    for prop, t in times.items():
        values(path + "\\" + PROPS + "\\" + prop, [("", DEVPROP_FILETIME, ft(*t))])


device(cs + r"\Enum\USBSTOR\Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00\4C530001230517117292&0",
       "SanDisk Cruzer Blade USB Device",
       {"0064": (1707800000, 1), "0065": (1707800000, 1), "0066": (1707915600, 5000000), "0067": (1707919200, 0)})
device(cs + r"\Enum\USBSTOR\Disk&Ven_Kingston&Prod_DataTraveler_3.0&Rev_PMAP\60A44C413A8CF2A0B95A0045&0",
       "Kingston DataTraveler 3.0 USB Device", {"0064": (1700000000, 0)})
device(cs + r"\Enum\USB\VID_0781&PID_5567\4C530001230517117292", None, {"0066": (1707915601, 0)})
# Windows 7 keeps a property in a 00000000 subkey: Type and Data values.
win7 = cs + r"\Enum\USBSTOR\Disk&Ven_Verbatim&Prod_STORE_N_GO&Rev_PMAP\0701286A3C5B&0"
values(win7, [("FriendlyName", 1, sz("Verbatim STORE N GO USB Device"))])
values(win7 + "\\" + PROPS + r"\0064\00000000", [("Type", 4, dword(0x10)), ("Data", 3, ft(1707890000, 0))])
values("MountedDevices", [
    (r"\DosDevices\C:", 3, bytes.fromhex("a1b2c3d4") + struct.pack("<Q", 1048576)),
    (r"\DosDevices\E:", 3, sz(r"\??\STORAGE#RemovableMedia#7&1d1a3b0&0&RM#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}")[:-2]),
])
h.commit(None)

# The base block names the file the hive was loaded from (the copy's
# says SAM): name it SYSTEM (Windows keeps the last 31 characters) and recompute the checksum (XOR of the first
# 127 dwords), as Windows writes it, so tools that go by the name agree.
with open(sys.argv[1], "r+b") as out:
    block = bytearray(out.read(512))
    block[48:112] = r"\SystemRoot\System32\Config\SYSTEM"[-31:].encode("utf-16-le").ljust(64, b"\0")
    csum = 0
    for i in range(0, 508, 4):
        csum ^= struct.unpack_from("<I", block, i)[0]
    struct.pack_into("<I", block, 508, {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(csum, csum))
    out.seek(0)
    out.write(block)
