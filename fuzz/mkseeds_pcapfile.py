#!/usr/bin/env python3
"""Writes fuzz/seeds/pcapfile/: small classic pcap files for fuzz_pcapfile.c.

Both byte orders, micro- and nanoseconds, the link types the fast path
takes and one it leaves to libpcap, and files with a record in the middle
that the fast path hands to libpcap (beyond the snap length, more captured
than sent, a fraction of a second too big, a negative time, a cut).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "pcapfile")


def header(e, nano, snaplen, linktype, minor=4):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack(e + "IHHiIII", magic, 2, minor, 0, 0, snaplen, linktype)


def record(e, sec, frac, data, wirelen=None):
    wl = len(data) if wirelen is None else wirelen
    return struct.pack(e + "IIII", sec, frac, len(data), wl) + data


def packet(i):
    # an Ethernet frame with an IPv4 UDP datagram to port 53
    ip = bytes([0x45, 0, 0, 28, 0, i & 0xFF, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 53])
    udp = struct.pack(">HHHH", 40000 + i, 53, 8, 0)
    return bytes(12) + b"\x08\x00" + ip + udp


def plain(e, nano, linktype=1, n=8):
    b = header(e, nano, 65535, linktype)
    for i in range(n):
        b += record(e, 1700000000 + i, i * 1000, packet(i))
    return b


def odd(e, nano, which):
    b = header(e, nano, 100, 1)
    for i in range(4):
        b += record(e, 1700000000 + i, i, packet(i))
    if which == "snap":
        b += record(e, 1700000010, 0, bytes(150))
    elif which == "wire":
        b += record(e, 1700000010, 0, packet(9), wirelen=20)
    elif which == "frac":
        b += record(e, 1700000010, 1000000000 if nano else 1000000, packet(9))
    elif which == "sign":
        b += record(e, 0x80000000, 0, packet(9))
    for i in range(4):
        b += record(e, 1700000020 + i, i, packet(i))
    if which == "cut":
        b = b[:-30]
    return b


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "le_us": plain("<", False),
        "be_us": plain(">", False),
        "le_ns": plain("<", True),
        "be_ns": plain(">", True),
        "raw": plain("<", False, linktype=101),
        "ppp_left_to_libpcap": plain("<", False, linktype=9),
        "minor3_left_to_libpcap": header("<", False, 65535, 1, minor=3)
        + record("<", 1, 2, packet(1)),
    }
    for e, name in (("<", "le"), (">", "be")):
        for which in ("snap", "wire", "frac", "sign", "cut"):
            seeds["%s_%s" % (which, name)] = odd(e, name == "be", which)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
