#!/usr/bin/env python3
"""smtpsink.py - a remote MX for the mxlag lab that answers and keeps nothing.

It accepts SMTP connections, says yes to every command, counts the
message bytes after DATA up to the final dot (the body is thrown away) and
prints one line per message on stdout, e.g.

    12.345 message from 192.0.2.10: 3051234 bytes

--delay-data N makes it wait N seconds before answering the final dot (a
slow remote MX).
"""
import argparse
import socket
import socketserver
import sys
import time

T0 = time.time()


def log(msg):
    print("%8.3f %s" % (time.time() - T0, msg), flush=True)


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        peer = self.client_address[0]
        log("connect from %s" % peer)
        self.reply("220 mx.remote.example ESMTP mxlab sink")
        while True:
            line = self.rfile.readline()
            if not line:
                break
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250-mx.remote.example")
                self.reply("250-PIPELINING")
                self.reply("250-SIZE 1000000000")
                self.reply("250 8BITMIME")
            elif verb == b"DATA":
                self.reply("354 go ahead")
                n = 0
                while True:
                    l = self.rfile.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    n += len(l)
                log("message from %s: %d bytes" % (peer, n))
                if self.server.delay_data > 0:
                    time.sleep(self.server.delay_data)
                self.reply("250 2.0.0 accepted (%d bytes, discarded)" % n)
            elif verb == b"QUIT":
                self.reply("221 2.0.0 bye")
                break
            else:
                self.reply("250 2.0.0 ok")
        log("disconnect %s" % peer)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="address to listen on")
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--delay-data", type=float, default=0.0)
    a = p.parse_args()
    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    Server.address_family = fam
    srv = Server((a.listen, a.port), Handler)
    srv.delay_data = a.delay_data
    log("listening on %s port %d" % (a.listen, a.port))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
