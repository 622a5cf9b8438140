#!/usr/bin/env python3
"""ntfs.py - NTFS structures the tests make the way Windows stores them,
written with nothing of khreset's.

  ntfs.py reparse junction 'C:\\Windows'        the hex value of ntfs-3g's
  ntfs.py reparse symlink 'C:\\Windows\\x'      system.ntfs_reparse_data for
  ntfs.py reparse relsymlink '..\\x'            a junction (mount point), an
                                               absolute or a relative symlink
                                               (setfattr -v 0xHEX)
  ntfs.py corrupt IMAGE RECORD                 breaks MFT record RECORD of
                                               the NTFS volume in IMAGE (its
                                               "FILE" signature becomes
                                               "BAAD"): the entry cannot be
                                               opened or stat'ed any more

Reparse data (REPARSE_DATA_BUFFER): tag (IO_REPARSE_TAG_MOUNT_POINT
0xA0000003, IO_REPARSE_TAG_SYMLINK 0xA000000C), data length, reserved;
then substitute name offset/length, print name offset/length (a symlink:
then flags, 1 = relative), then the UTF-16LE names; a junction's and an
absolute symlink's substitute name starts "\\??\\".  Boot sector: bytes per
sector (0x0B), sectors per cluster (0x0D), $MFT cluster (0x30), clusters
per MFT record (0x40; negative n: 2^-n bytes).
"""
import struct
import sys


def u16(s):
    return s.encode("utf-16le")


def junction(target):
    sub, pr = u16("\\??\\" + target), u16(target)
    data = struct.pack("<HHHH", 0, len(sub), len(sub) + 2, len(pr)) + sub + b"\0\0" + pr + b"\0\0"
    return struct.pack("<IHH", 0xA0000003, len(data), 0) + data


def symlink(target, relative):
    sub, pr = u16(target if relative else "\\??\\" + target), u16(target)
    data = struct.pack("<HHHHI", 0, len(sub), len(sub), len(pr), 1 if relative else 0) + sub + pr
    return struct.pack("<IHH", 0xA000000C, len(data), 0) + data


def reparse(kind, target):
    if kind == "junction":
        b = junction(target)
    elif kind in ("symlink", "relsymlink"):
        b = symlink(target, kind == "relsymlink")
    else:
        sys.exit(f"unknown reparse kind {kind}")
    print("0x" + b.hex())


def corrupt(image, record):
    with open(image, "r+b") as f:
        bs = f.read(512)
        bps = struct.unpack_from("<H", bs, 0x0B)[0]
        cluster = bps * bs[0x0D]
        mft = struct.unpack_from("<q", bs, 0x30)[0]
        cpr = struct.unpack_from("<b", bs, 0x40)[0]
        size = cluster * cpr if cpr > 0 else 1 << -cpr
        off = mft * cluster + int(record) * size
        f.seek(off)
        if f.read(4) != b"FILE":
            sys.exit(f"{image}: MFT record {record} is not at {off}")
        f.seek(off)
        f.write(b"BAAD")


if __name__ == "__main__":
    cmds = {"reparse": reparse, "corrupt": corrupt}
    if len(sys.argv) != 4 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
