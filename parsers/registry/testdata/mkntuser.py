# Adds what the corpus NTUSER.DAT lacks (RunMRU entries, TypedPaths, the
# RDP client's servers and MRU) to a copy of it with hivex
# (python3-hivex): argv[1] is the copy.
import sys

import hivex


def sz(s):
    return (s + "\0").encode("utf-16-le")


h = hivex.Hivex(sys.argv[1], write=True)
root = h.root()


def key(path):
    node = root
    for part in path.split("\\"):
        node = h.node_get_child(node, part) or h.node_add_child(node, part)
    return node


def values(path, vals):
    h.node_set_values(key(path), [{"key": k, "t": t, "value": v} for k, t, v in vals])


EX = r"Software\Microsoft\Windows\CurrentVersion\Explorer"
values(EX + r"\RunMRU", [("a", 1, sz(r"cmd\1")), ("b", 1, sz(r"\\10.0.0.9\share\1")),
                         ("c", 1, sz(r"powershell -ep bypass\1")), ("MRUList", 1, sz("cab"))])
values(EX + r"\TypedPaths", [("url1", 1, sz(r"C:\Sirekap\export")), ("url2", 1, sz(r"\\10.0.0.9\share"))])
TS = r"Software\Microsoft\Terminal Server Client"
values(TS + r"\Default", [("MRU0", 1, sz("10.0.0.9")), ("MRU1", 1, sz("tabulasi-02.kpu.local"))])
values(TS + r"\Servers\10.0.0.9", [("UsernameHint", 1, sz(r"KPU\operator"))])
values(TS + r"\Servers\tabulasi-02.kpu.local", [("UsernameHint", 1, sz("admin"))])
h.commit(None)
