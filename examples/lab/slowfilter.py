#!/usr/bin/env python3
"""slowfilter.py - a slow before-queue content filter for postfix in the mxlag lab.

Postfix's smtpd_proxy_filter (SMTPD_PROXY_README) hands every SMTP session
to this filter, which passes it on, command by command, to a second smtpd
(--next, e.g. 127.0.0.1:10026) that queues the message.  At the end of a
message the filter "scans" it: it holds the final dot for --delay seconds
before passing it on, so the client's wait for the reply to its final dot
is the filter's time, with no DNS or ident traffic (incident 5: "only the
final dot is slow").  The body is passed through untouched.

The conversation with postfix is lock-step: the filter drops PIPELINING
and CHUNKING from the EHLO reply it passes back, so its client sends one
command at a time and DATA, never BDAT.  It prints one line per message
on stdout, e.g.

    12.345 message 1 (2051 bytes): held the final dot 4.0 s
"""
import argparse
import socket
import socketserver
import sys
import time

T0 = time.time()


def log(msg):
    print("%8.3f %s" % (time.time() - T0, msg), flush=True)


def hostport(s):
    h, _, p = s.rpartition(":")
    return h, int(p)


class Handler(socketserver.StreamRequestHandler):
    def read_reply(self, down):
        """One whole (multi-line) SMTP reply from the next hop, as lines."""
        lines = []
        while True:
            l = down.readline()
            if not l:
                raise EOFError("the next hop closed the connection")
            lines.append(l)
            if len(l) < 4 or l[3:4] != b"-":
                return lines

    def up(self, lines):
        self.wfile.write(b"".join(lines))
        self.wfile.flush()

    def handle(self):
        srv = self.server
        try:
            sock = socket.create_connection(srv.next, timeout=300)
        except OSError as e:
            log("cannot reach %s:%d: %s" % (srv.next[0], srv.next[1], e))
            self.up([b"421 4.3.0 content filter unavailable\r\n"])
            return
        down = sock.makefile("rb")
        try:
            self.up(self.read_reply(down))  # the next hop's greeting
            while True:
                cmd = self.rfile.readline()
                if not cmd:
                    break
                sock.sendall(cmd)
                verb = cmd.split(b" ", 1)[0].strip().upper()
                reply = self.read_reply(down)
                if verb == b"EHLO":
                    reply = self.no_pipelining(reply)
                elif verb == b"DATA" and reply[-1][:3] == b"354":
                    self.up(reply)
                    reply = self.message(sock, down)
                self.up(reply)
                if verb == b"QUIT":
                    break
        except (OSError, EOFError) as e:
            log("session ended: %s" % e)
        finally:
            sock.close()

    @staticmethod
    def no_pipelining(reply):
        drop = (b"PIPELINING", b"CHUNKING")
        keep = reply[:1] + [l for l in reply[1:] if l[4:].split(b" ", 1)[0].strip().upper() not in drop]
        # the last line ends the reply: "250 ", the others "250-"
        keep = [l[:3] + b"-" + l[4:] for l in keep[:-1]] + [keep[-1][:3] + b" " + keep[-1][4:]]
        return keep

    def message(self, sock, down):
        """Passes the body on, holds the final dot, returns the reply to it."""
        srv = self.server
        n = 0
        while True:
            l = self.rfile.readline()
            if not l:
                raise EOFError("the client closed the connection in the message")
            if l in (b".\r\n", b".\n"):
                break
            sock.sendall(l)
            n += len(l)
        srv.messages += 1
        t = time.time()
        time.sleep(srv.delay)  # the "scan"
        sock.sendall(l)
        reply = self.read_reply(down)
        log("message %d (%d bytes): held the final dot %.1f s, next hop said %s"
            % (srv.messages, n, time.time() - t, reply[-1][:3].decode("ascii", "replace")))
        return reply


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:10025", help="ADDR:PORT postfix's smtpd_proxy_filter connects to")
    p.add_argument("--next", default="127.0.0.1:10026", help="ADDR:PORT of the smtpd that queues the message")
    p.add_argument("--delay", type=float, default=4.0, help="seconds the final dot is held (the scan)")
    a = p.parse_args()
    srv = Server(hostport(a.listen), Handler)
    srv.next = hostport(a.next)
    srv.delay = a.delay
    srv.messages = 0
    log("listening on %s, next hop %s, holding the final dot %.1f s" % (a.listen, a.next, a.delay))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
