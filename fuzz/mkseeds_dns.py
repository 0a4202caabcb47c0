#!/usr/bin/env python3
"""Writes fuzz/seeds/dns/ and fuzz/seeds/ident/.

dns: raw messages (for dns_parse) taken from a few corpus pcaps with
tshark when available, plus hand-built ones, and tracker scripts in the
fuzz_dns.c format: seed byte, then records ctl, len_hi, len_lo, payload.
ident: reply lines and conversations in the fuzz_ident.c format.
"""
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("MXLAG_SHARED", os.path.join(HERE, "..", "..", "shared"))
PCAPS = [
    "zeek+zeek/testing/btest/Traces/dns/long-connection.pcap",
    "ivre+ivre-test-samples/tests/samples/dnsbl.pcap",
    "zeek+zeek/testing/btest/Traces/dns-edns-ecs.pcap",
    "zeek+zeek/testing/btest/Traces/dns-txt-multiple.pcap",
    "zeek+zeek/testing/btest/Traces/dns/dns-invalid-names.pcap",
    "zeek+zeek/testing/btest/Traces/dns/max-compression-depth.pcap",
    "zeek+zeek/testing/btest/Traces/dns/dns_extended_rcode.pcap",
]


def name(n):
    out = b""
    if n != ".":
        for lab in n.split("."):
            out += bytes([len(lab)]) + lab.encode()
    return out + b"\0"


def msg(txid, flags, q, qtype, answers=(), extra=b"", ar=0):
    m = struct.pack(">HHHHHH", txid, flags, 1, len(answers), 0, ar)
    m += name(q) + struct.pack(">HH", qtype, 1)
    for t, rd in answers:
        m += b"\xc0\x0c" + struct.pack(">HHIH", t, 1, 60, len(rd)) + rd
    return m + extra


def rec(ctl, payload=b"", length=None):
    n = len(payload) if length is None else length
    return bytes([ctl]) + struct.pack(">H", n) + payload


def framed(*ms):
    return b"".join(struct.pack(">H", len(m)) + m for m in ms)


def main():
    d = os.path.join(HERE, "seeds", "dns")
    os.makedirs(d, exist_ok=True)
    seeds = {}
    q = msg(0x1234, 0x0100, "200.2.0.192.in-addr.arpa", 12)
    r = msg(0x1234, 0x8180, "200.2.0.192.in-addr.arpa", 12, [(12, name("host.example.org"))])
    nx = msg(0x1234, 0x8183, "200.2.0.192.in-addr.arpa", 12)
    mxq = msg(7, 0x0100, "example.com", 15)
    mxr = msg(7, 0x8180, "example.com", 15,
              [(15, b"\x00\x0a\x04mail\xc0\x0c"), (15, b"\x00\x14" + name("mx2.example.net"))])
    opt = b"\x00" + struct.pack(">HHIH", 41, 4096, 1 << 24, 0)
    bad = msg(9, 0x8180, "example.com", 1, extra=opt, ar=1)
    tc = msg(8, 0x8380, "example.com", 16)
    seeds["raw_ptr_query"] = q
    seeds["raw_ptr_response"] = r
    seeds["raw_mx_response"] = mxr
    seeds["raw_badvers"] = bad
    seeds["raw_loop"] = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    seeds["script_udp_answer"] = b"\x05" + rec(0x00, q) + rec(0x11, r)
    seeds["script_udp_nx_retx"] = (b"\x07" + rec(0x00, q) + rec(0x30, q) + rec(0x02, q)
                                   + rec(0x13, nx))
    seeds["script_udp_timeout"] = b"\x09" + rec(0x00, q) + rec(0x70, mxq) + rec(0x71, mxr) + rec(0x61, r)
    seeds["script_tcp"] = b"\x11" + rec(0x08, framed(q, mxq)) + rec(0x19, framed(r, mxr))
    seeds["script_tcp_gap"] = (b"\x13" + rec(0x08, framed(q)[:7]) + rec(0x88, length=40)
                               + rec(0x08, framed(mxq)) + rec(0x09, framed(tc)))
    seeds["script_mixed"] = (b"\x21" + rec(0x00, tc) + rec(0x01, tc) + rec(0x0a, framed(mxq))
                             + rec(0x1b, framed(mxr)) + rec(0x04, bad[:20]) + rec(0x05, bad))
    ov = bytearray(b"\x2b")
    for i in range(20):
        ov += rec(0x00, msg(i, 0x0100, "q%d.example" % i, 1))
    ov += rec(0x01, msg(19, 0x8180, "q19.example", 1, [(1, b"\xc0\x00\x02\x01")]))
    ov += rec(0x01, msg(0, 0x8183, "q0.example", 1))
    seeds["script_overflow"] = bytes(ov)
    rx = bytearray(b"\x2d")
    for i in range(12):
        rx += rec(0x10 | (i & 1) << 1, msg(100 + i, 0x0100, "mx.example", 15))
    rx += rec(0x03, msg(111, 0x8180, "mx.example", 15, [(15, b"\x00\x0a\x02mx\xc0\x0c")]))
    seeds["script_retx_many"] = bytes(rx)
    if os.path.exists("/usr/bin/tshark"):
        for rel in PCAPS:
            path = os.path.join(SHARED, "corpus", rel)
            if not os.path.exists(path):
                continue
            out = subprocess.run(["/usr/bin/tshark", "-r", path, "-Y", "udp.port == 53",
                                  "-T", "fields", "-e", "udp.srcport", "-e", "udp.payload"],
                                 capture_output=True, text=True).stdout
            script = bytearray(b"\x03")
            base = os.path.basename(rel).replace(".pcap", "")
            for i, line in enumerate(out.splitlines()):
                f = line.split("\t")
                if len(f) < 2 or not f[1]:
                    continue
                pl = bytes.fromhex(f[1].replace(":", ""))
                if i < 4:
                    seeds["raw_%s_%d" % (base, i)] = pl
                script += rec(0x01 if f[0] == "53" else 0x00, pl)
            seeds["script_%s" % base] = bytes(script)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as fh:
            fh.write(v)

    d = os.path.join(HERE, "seeds", "ident")
    os.makedirs(d, exist_ok=True)
    iseeds = {
        "reply_userid": b"6193, 23 : USERID : UNIX : stjohns\r\n",
        "reply_error": b"6195, 23 : ERROR : NO-USER\r\n",
        "reply_charset": b"1,2:USERID:OTHER , UTF-8:a:b\r\n",
        "conv_answered": b"\x01\x05\xff40112 , 25\r\n\xff40112 , 25 : USERID : UNIX : joe\r\n",
        "conv_error_nocrlf": b"\x01\x09\xff40112 , 25\r\n\xff\r\n40112 , 25 : ERROR : HIDDEN-USER",
        "conv_refused": b"\x06\x00",
        "conv_unanswered": b"\x18\x00",
        "conv_accepted_silent": b"\x03\x02\xff40112 , 25\r\n",
    }
    for k, v in iseeds.items():
        with open(os.path.join(d, k), "wb") as fh:
            fh.write(v)


if __name__ == "__main__":
    main()
