#!/usr/bin/env python3
"""scanner.py - a single-worker content scanner for exim in the mxlag lab.

exim's DATA ACL asks it, over a Unix socket (${readsocket}), to scan the
message it has just received: the request is one line

    SCAN /path/to/spool/input/MESSAGE-ID-D

and the answer one line, "CLEAN <sha256> <bytes> <seconds>" (or "VIRUS
<signature>", "SPAM <phrase>", or "ERROR <why>").  The scan is real work proportional to the
message's size: the spool file is read in 1 MB pieces, hashed (SHA-256),
searched for the EICAR test signature and for case-insensitive spam
phrases (--phrases; the search costs some 20-30 ms per MB for the
default three), and copied into the quarantine directory (--keep),
the copy written and fsync()ed before the answer; the copy is removed
afterwards unless --keep-copies is given.  A message of 200 MB keeps it
busy for several seconds (3.5-7 s on the machine it was written on).  There is one
worker: a second request waits in the socket's backlog until the first is
answered, as with a content scanner limited to one process.

It prints one line per scan on stdout, e.g.

    12.345 scan 1 start: /spool/input/1abc-D (200000123 bytes)
    17.345 scan 1: CLEAN 3f0a...e1 200000123 5.000 (5.0 s)
"""
import argparse
import hashlib
import os
import re
import socket
import sys
import time

T0 = time.time()
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PIECE = 1 << 20


def log(msg):
    print("%8.3f %s" % (time.time() - T0, msg), flush=True)


def scan(path, keep, n, keep_copies, phrases):
    t = time.time()
    size = os.path.getsize(path)
    log("scan %d start: %s (%d bytes)" % (n, path, size))
    h = hashlib.sha256()
    found = False
    spam = None
    tail = b""
    copy = os.path.join(keep, "%d-%s" % (n, os.path.basename(path)))
    total = 0
    with open(path, "rb") as f, open(copy, "wb") as out:
        while True:
            piece = f.read(PIECE)
            if not piece:
                break
            total += len(piece)
            h.update(piece)
            both = tail + piece
            if EICAR in both:
                found = True
            m = phrases.search(both)
            if m and spam is None:
                spam = m.group(0).decode("latin-1")
            tail = piece[-len(EICAR):]
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    if not keep_copies:
        os.unlink(copy)
    took = time.time() - t
    if found:
        answer = "VIRUS Eicar-Test-Signature"
    elif spam is not None:
        answer = "SPAM %s" % spam.replace(" ", "_")
    else:
        answer = "CLEAN %s %d %.3f" % (h.hexdigest(), total, took)
    log("scan %d: %s (%.1f s)" % (n, answer, took))
    return answer


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True, help="Unix socket exim's ${readsocket} connects to")
    p.add_argument("--keep", required=True, help="quarantine directory for the copies")
    p.add_argument("--keep-copies", action="store_true", help="do not remove the copies")
    p.add_argument("--phrases", default="viagra,lottery,bitcoin",
                   help="comma-separated spam phrases, matched case-insensitively")
    a = p.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    os.makedirs(a.keep, exist_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    os.chmod(a.socket, 0o666)  # exim receives as Debian-exim
    srv.listen(16)
    log("listening on %s (one worker)" % a.socket)
    phrases = re.compile(b"(?i)(?:" + b"|".join(
        re.escape(w.strip().encode("latin-1")) for w in a.phrases.split(",") if w.strip()) + b")")
    n = 0
    try:
        while True:
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(30)
                req = b""
                try:
                    while b"\n" not in req:
                        d = conn.recv(4096)
                        if not d:
                            break
                        req += d
                    words = req.decode("latin-1").split()
                    if len(words) != 2 or words[0] != "SCAN":
                        answer = "ERROR bad request"
                    else:
                        n += 1
                        try:
                            answer = scan(words[1], a.keep, n, a.keep_copies, phrases)
                        except OSError as e:
                            answer = "ERROR %s" % e.strerror
                            log("scan %d: %s" % (n, answer))
                    conn.sendall(answer.encode("ascii") + b"\n")
                except OSError as e:
                    log("request failed: %s" % e)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
