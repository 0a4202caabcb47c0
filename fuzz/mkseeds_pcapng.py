#!/usr/bin/env python3
"""Writes fuzz/seeds/pcapng/: small pcapng files for fuzz_pcapng.c.

Hand-built from the format (draft-ietf-opsawg-pcapng): interfaces of
different link types, snap lengths and time resolutions, if_tsoffset,
sections in both byte orders, SPB, the obsolete PB, skipped blocks.  With
MXLAG_BUILD set (mxlag-gen there) and mergecap installed, also mergecap's
output of two generated scenarios on different link types.
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "pcapng")


class W:
    def __init__(self):
        self.b = b""
        self.e = "<"

    def block(self, btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        self.b += struct.pack(self.e + "II", btype, n) + body + struct.pack(self.e + "I", n)

    def shb(self, big=False, major=1):
        self.e = ">" if big else "<"
        self.block(0x0A0D0D0A, struct.pack(self.e + "IHHq", 0x1A2B3C4D, major, 0, -1))

    def opt(self, code, value):
        return struct.pack(self.e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)

    def idb(self, linktype, snaplen, tsresol=None, tsoffset=None):
        opts = b""
        if tsresol is not None:
            opts += self.opt(9, bytes([tsresol]))
        if tsoffset is not None:
            opts += self.opt(14, struct.pack(self.e + "q", tsoffset))
        if opts:
            opts += self.opt(0, b"")
        self.block(1, struct.pack(self.e + "HHI", linktype, 0, snaplen) + opts)

    def epb(self, ifid, ts, data, wirelen=None):
        self.block(6, struct.pack(self.e + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(data),
                                  wirelen or len(data)) + data)

    def pb(self, ifid, ts, data):
        self.block(2, struct.pack(self.e + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF,
                                  len(data), len(data)) + data)

    def spb(self, data, wirelen=None):
        self.block(3, struct.pack(self.e + "I", wirelen or len(data)) + data)


def ipv4_udp(sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                       bytes([192, 0, 2, 10]), bytes([198, 51, 100, 53])) + udp


ETH = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0])
SLL = bytes([0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0])
DNS = bytes.fromhex("12340100000100000000000003323030013201300331393207696e2d61646472046172706100000c0001")


def seeds():
    s = {}
    w = W()
    w.shb()
    w.idb(1, 262144, 9)
    w.idb(113, 65535)
    w.idb(101, 96, 0x80 | 20)
    pkt = ipv4_udp(40000, 53, DNS)
    w.epb(0, 1767225600123456789, ETH + pkt)
    w.block(4, struct.pack("<HH", 1, 8) + bytes([192, 0, 2, 10]) + b"mx\0\0" + b"\0" * 4)
    w.epb(1, 1767225600123457, SLL + pkt)
    w.epb(2, (1767225600 << 20) | 1, pkt[:96], len(pkt))
    w.block(5, struct.pack("<IIIHH", 0, 0, 0, 0, 0))
    w.spb(ETH + pkt)
    w.pb(1, 1767225601000000, SLL + pkt)
    s["multi_iface_le"] = w.b

    w = W()
    w.shb()
    w.idb(1, 0, 6, 3600)
    w.epb(0, 1767225600000001, ETH + pkt)
    w.shb(big=True)
    w.idb(113, 65535, 9, -3600)
    w.idb(1, 1500)
    w.epb(1, 1767225600000002, ETH + pkt)
    w.epb(0, 1767225600000000003, SLL + pkt)
    s["sections_le_be"] = w.b

    w = W()
    w.shb(big=True)
    w.block(0x00000BAD, struct.pack(">I", 32473) + b"custom")
    w.idb(228, 20)
    w.block(0x0A, b"\0" * 16)
    w.spb(pkt[:20], len(pkt))
    w.block(0x80000001, b"")
    w.spb(pkt[:8])
    s["spb_custom_be"] = w.b

    w = W()
    w.shb()
    w.idb(1, 65535)
    w.epb(0, 1, ETH + pkt)
    w.shb(major=2)
    s["version2"] = w.b

    # the limits: one interface more than a section may have, and a packet
    # block claiming 16 MiB that the file does not hold
    w = W()
    w.shb()
    for i in range(4097):
        w.idb(i % 300, i)
    w.epb(4095, 1, ETH + pkt)
    s["iface_limit"] = w.b
    w = W()
    w.shb(big=True)
    w.idb(1, 0)
    w.epb(0, 1, ETH + pkt)
    w.b += struct.pack(">II", 6, 16 << 20) + b"\0" * 64
    s["oversized_claim"] = w.b
    return s


def mergecap_seed():
    build = os.environ.get("MXLAG_BUILD")
    gen = build and os.path.join(build, "mxlag-gen")
    if not gen or not os.path.exists(gen):
        return None
    with tempfile.TemporaryDirectory() as d:
        a, b, m = (os.path.join(d, x) for x in ("a.pcap", "b.pcap", "m.pcapng"))
        try:
            subprocess.run([gen, "scenario", "ptr-timeout", "--link", "sll", "-q", "-o", a], check=True)
            subprocess.run([gen, "scenario", "ipv6", "--link", "raw", "-q", "-o", b], check=True)
            subprocess.run(["mergecap", "-w", m, a, b], check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        with open(m, "rb") as f:
            return f.read()


def main():
    os.makedirs(OUT, exist_ok=True)
    s = seeds()
    m = mergecap_seed()
    if m:
        s["mergecap_sll_raw"] = m
    for name, data in s.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(s), OUT))


if __name__ == "__main__":
    main()
