#!/usr/bin/env python3
"""mxclient.py - a small SMTP / POP3 client for the mxlag lab.

It speaks one dialogue with realistic pacing (a short "think" pause
between commands, the message body written in a few chunks like a real
MUA does) and, when told to with --give-up, gives up waiting for a reply
the way Outlook (Express) does: after that many seconds it closes the
connection without QUIT.  It prints a timestamped transcript on stdout.

With --tls starttls it sends STARTTLS after the first EHLO (STLS for
POP3) and speaks the rest inside TLS; with --tls implicit (ports 465 and
995) the whole connection is TLS.  Certificates are not verified (the lab's
are self-signed); --tls-max 1.2 keeps it to TLS 1.2.

An SMTP session can carry several messages (--messages N); --from may be
given several times (message i uses them in turn) and "{i}" in --from and
--rcpt is replaced by the message's number, counting from 1.  A refused
MAIL or every RCPT refused ends that message (with RSET when another
follows).

Exit status: 0 dialogue completed, 2 gave up waiting, 1 other error.
"""
import argparse
import socket
import ssl
import sys
import time

T0 = time.time()


def log(msg):
    print("%8.3f %s" % (time.time() - T0, msg), flush=True)


class GaveUp(Exception):
    pass


class Conn:
    def __init__(self, a):
        fam = socket.AF_INET6 if ":" in a.server else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        if a.source:
            self.s.bind((a.source, 0))
        self.s.settimeout(a.connect_timeout)
        log("connect %s port %d from %s" % (a.server, a.port, a.source or "*"))
        self.s.connect((a.server, a.port))
        self.buf = b""
        self.give_up = a.give_up
        self.think = a.think

    def line(self):
        """One reply line (without CRLF), waiting at most give_up seconds."""
        deadline = time.time() + self.give_up
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise GaveUp()
            self.s.settimeout(left)
            try:
                d = self.s.recv(4096)
            except socket.timeout:
                raise GaveUp()
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        l = l.rstrip(b"\r").decode("latin-1")
        log("S: " + l)
        return l

    def send(self, text, show=None):
        if self.think > 0:
            time.sleep(self.think)
        log("C: " + (show if show is not None else text))
        self.s.sendall(text.encode("latin-1") + b"\r\n")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def start_tls(self, a):
        """The TLS handshake on the connection (nothing buffered may be left)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if a.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.s.settimeout(self.give_up)
        log("TLS handshake")
        try:
            self.s = ctx.wrap_socket(self.s)
        except socket.timeout:
            raise GaveUp()
        log("TLS %s established" % self.s.version())


def smtp_reply(c):
    """A whole (multi-line) SMTP reply; returns the code."""
    while True:
        l = c.line()
        if len(l) < 4 or l[3] != "-":
            return l[:3]


def smtp_message(c, a, i, mail_from):
    """One message of the session (MAIL, RCPT..., DATA); i counts from 1.
    A refused message is ended with RSET when another one follows."""
    more = i < a.messages
    rcpts = [r.replace("{i}", str(i)) for r in a.rcpt]
    c.send("MAIL FROM:<%s>" % mail_from)
    code = smtp_reply(c)
    if not code.startswith("2"):
        if more:
            c.send("RSET")
            smtp_reply(c)
        return
    for r in rcpts:
        c.send("RCPT TO:<%s>" % r)
        if smtp_reply(c).startswith("2"):
            break
    else:
        if more:
            c.send("RSET")
            smtp_reply(c)
        return
    c.send("DATA")
    code = smtp_reply(c)
    if code != "354":
        return
    head = [
        "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
        "From: <%s>" % mail_from,
        "To: <%s>" % rcpts[0],
        "Subject: mxlag lab message",
        "Message-ID: <%d.%d%s@%s>" % (int(T0), int(T0 * 1000) % 1000,
                                      ".%d" % i if a.messages > 1 else "", a.helo),
        "",
    ]
    n = max(1, a.size // 72)
    total = sum(len(h) + 2 for h in head) + n * 74 + 3
    if c.think > 0:
        time.sleep(c.think)
    log("C: <message, %d bytes> ." % total)
    # generated and written in pieces of about 1 MB, so that a message of
    # several hundred MB never sits in memory whole
    out = "\r\n".join(head) + "\r\n"
    for k in range(n):
        out += ("line %05d " % k).ljust(72, "x") + "\r\n"
        if len(out) >= 1 << 20:
            send_raw(c, out)
            out = ""
    send_raw(c, out + ".\r\n")
    smtp_reply(c)


def send_raw(c, text):
    raw = text.encode("latin-1")
    for off in range(0, len(raw), 16384):
        c.s.sendall(raw[off:off + 16384])


def smtp(c, a):
    code = smtp_reply(c)
    if not code.startswith("2"):
        c.send("QUIT")
        smtp_reply(c)
        return
    c.send("EHLO " + a.helo)
    smtp_reply(c)
    if a.tls == "starttls":
        c.send("STARTTLS")
        if not smtp_reply(c).startswith("2"):
            raise EOFError("STARTTLS refused")
        c.start_tls(a)
        c.send("EHLO " + a.helo)
        smtp_reply(c)
    for i in range(1, a.messages + 1):
        smtp_message(c, a, i, a.mail_from[(i - 1) % len(a.mail_from)].replace("{i}", str(i)))
    c.send("QUIT")
    smtp_reply(c)


def pop3(c, a):
    if not c.line().startswith("+OK"):
        return
    if a.tls == "starttls":
        c.send("STLS")
        if not c.line().startswith("+OK"):
            raise EOFError("STLS refused")
        c.start_tls(a)
    c.send("USER " + a.user)
    c.line()
    c.send("PASS " + a.password, show="PASS ***")
    if not c.line().startswith("+OK"):
        c.send("QUIT")
        c.line()
        return
    c.send("STAT")
    l = c.line()
    count = int(l.split()[1]) if l.startswith("+OK") and len(l.split()) > 1 else 0
    c.send("LIST")
    if c.line().startswith("+OK"):
        while c.line() != ".":
            pass
    for i in range(1, min(count, 2) + 1):
        c.send("RETR %d" % i)
        if c.line().startswith("+OK"):
            while c.line() != ".":
                pass
    c.send("QUIT")
    c.line()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proto", choices=["smtp", "pop3"], default="smtp")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--source", help="local address to bind")
    p.add_argument("--give-up", type=float, default=600.0,
                   help="seconds to wait for any reply before closing (Outlook: 60)")
    p.add_argument("--connect-timeout", type=float, default=30.0)
    p.add_argument("--think", type=float, default=0.02, help="pause before each command (s)")
    p.add_argument("--helo", default="client.good.example")
    p.add_argument("--from", dest="mail_from", action="append",
                   help="envelope sender (repeatable: message i uses the i-th, in turn; default a@good.example)")
    p.add_argument("--rcpt", action="append",
                   help="recipient (repeatable: tried in order until one is accepted)")
    p.add_argument("--messages", type=int, default=1, help="messages in the session")
    p.add_argument("--size", type=int, default=200, help="approximate body size in bytes")
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="s3cret")
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3")
    a = p.parse_args()
    if not a.port:
        if a.tls == "implicit":
            a.port = 465 if a.proto == "smtp" else 995
        else:
            a.port = 25 if a.proto == "smtp" else 110
    if not a.rcpt:
        a.rcpt = ["b@example.org"]
    if not a.mail_from:
        a.mail_from = ["a@good.example"]
    try:
        c = Conn(a)
    except OSError as e:
        log("connect failed: %s" % e)
        return 1
    try:
        if a.tls == "implicit":
            c.start_tls(a)
        (smtp if a.proto == "smtp" else pop3)(c, a)
    except GaveUp:
        log("no reply after %.0f s: giving up (closing without QUIT)" % a.give_up)
        c.close()
        return 2
    except (OSError, EOFError) as e:
        log("error: %s" % e)
        c.close()
        return 1
    c.close()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
