#!/usr/bin/env python3
"""regf.py - the regf base block as the documented format has it, read and
written by the tests with nothing of khreset's: an independent check of
hook/offline/regf.c, and the fixtures hivex cannot make.

  regf.py info HIVE                 "PRIMARY SECONDARY CHECKSUM_OK TYPE"
  regf.py dirty HIVE [PRIMARY [SECONDARY]]
                                    sequence numbers PRIMARY (default
                                    secondary + 1) and SECONDARY, checksum
                                    fixed: a write that did not complete
  regf.py badsum HIVE               a wrong base block checksum
  regf.py log HIVE LOG SEQ [TYPE]   LOG: a transaction log of HIVE, its base
                                    block (file type TYPE, default 6, the
                                    format since Windows 8.1) with sequence
                                    numbers SEQ, then one log entry ("HvLE",
                                    or "DIRT" for types 1 and 2)
  regf.py keytime HIVE NAME EPOCH   the last-write time of every key named
                                    NAME (compressed ASCII name), Unix seconds
  regf.py keytimes HIVE PREFIX      "EPOCH NAME" of each key whose name starts
                                    with PREFIX

Base block (4096 bytes in a hive, 512 in a log): "regf", primary sequence number (offset 4),
secondary (8), last written FILETIME (12), major/minor version (20, 24),
file type (28: 0 primary, 1/2 old-format log, 6 new-format log), ...,
XOR-32 checksum of bytes 0..507 at 508.  Key node: "nk", flags (2),
last-write FILETIME (4), ..., name length (72), name (76).
"""
import struct
import sys

BLOCK = 4096
EPOCH_FT = 11644473600


def checksum(b):
    x = 0
    for (d,) in struct.iter_unpack("<I", bytes(b[:508])):
        x ^= d
    return 0xFFFFFFFE if x == 0xFFFFFFFF else 1 if x == 0 else x


def fix(b):
    struct.pack_into("<I", b, 508, checksum(b))


def load(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def save(path, b):
    with open(path, "wb") as f:
        f.write(b)


def info(path):
    b = load(path)
    if len(b) < 512 or b[:4] != b"regf":
        sys.exit(f"{path}: not a regf file")
    p, s = struct.unpack_from("<II", b, 4)
    ok = struct.unpack_from("<I", b, 508)[0] == checksum(b)
    print(p, s, "yes" if ok else "no", struct.unpack_from("<I", b, 28)[0])


def dirty(path, primary=None, secondary=None):
    b = load(path)
    if secondary:
        struct.pack_into("<I", b, 8, int(secondary))
    s = struct.unpack_from("<I", b, 8)[0]
    struct.pack_into("<I", b, 4, int(primary) if primary else s + 1)
    fix(b)
    save(path, b)


def badsum(path):
    b = load(path)
    struct.pack_into("<I", b, 508, checksum(b) ^ 0x5A5A5A5A)
    save(path, b)


def log(hive, out, seq, ftype="6"):
    b = load(hive)[:BLOCK]
    ftype = int(ftype)
    struct.pack_into("<III", b, 4, int(seq), int(seq), 0)
    struct.pack_into("<I", b, 28, ftype)
    fix(b)
    body = bytearray(512)
    if ftype == 6:
        bins = struct.unpack_from("<I", b, 40)[0]
        struct.pack_into("<4sIIIII", body, 0, b"HvLE", 512, 0, int(seq), bins, 0)
    else:
        body[:4] = b"DIRT"
    save(out, bytes(b[:512]) + bytes(body))


def nodes(b, name):
    """Offsets of the "nk" cells named name (compressed ASCII names)."""
    n = name.encode("ascii")
    i = BLOCK
    while True:
        i = b.find(b"nk", i)
        if i < 0:
            return
        ln = struct.unpack_from("<H", b, i + 72)[0] if i + 76 <= len(b) else 0
        if b[i + 76:i + 76 + ln] == n and ln == len(n):
            yield i
        i += 2


def keytime(hive, name, epoch):
    b = load(hive)
    hits = list(nodes(b, name))
    if not hits:
        sys.exit(f"{hive}: no key {name}")
    for i in hits:
        struct.pack_into("<Q", b, i + 4, (int(epoch) + EPOCH_FT) * 10000000)
    save(hive, b)


def keytimes(hive, prefix):
    b = load(hive)
    i = BLOCK
    while (i := b.find(b"nk", i)) >= 0:
        if i + 76 <= len(b):
            ln = struct.unpack_from("<H", b, i + 72)[0]
            nm = bytes(b[i + 76:i + 76 + ln])
            if nm.startswith(prefix.encode()):
                ft = struct.unpack_from("<Q", b, i + 4)[0]
                print(ft // 10000000 - EPOCH_FT, nm.decode("ascii", "replace"))
        i += 2


CMDS = {"info": info, "dirty": dirty, "badsum": badsum, "log": log,
        "keytime": keytime, "keytimes": keytimes}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in CMDS:
        sys.exit(__doc__)
    CMDS[sys.argv[1]](*sys.argv[2:])
