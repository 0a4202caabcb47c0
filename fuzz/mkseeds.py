#!/usr/bin/env python3
"""Writes fuzz/seeds/{smtp,pop3}/ in the fuzz_stream.h input format.

A transcript is a list of steps: ('S', text) server data, ('C', text)
client data, ('gap', n) lost bytes, ('end', how) a close (0..4 as in
enum mx_end).  Byte 0 seeds the chunking.
"""
import os

def enc(seed, steps):
    out = bytearray([seed])
    d = 'S'
    for st in steps:
        k = st[0]
        if k in ('S', 'C'):
            if k != d:
                out.append(0xFF)
                d = k
            for b in st[1].encode('latin-1'):
                if b >= 0xFC:
                    out += bytes([0xFC, b])
                else:
                    out.append(b)
            out.append(0xFF)  # segment boundary: switch twice = same dir
            out.append(0xFF)
        elif k == 'gap':
            out += bytes([0xFE, st[1]])
        elif k == 'end':
            out += bytes([0xFD, st[1]])
    return bytes(out)

SMTP = {
 'exim_pipelining': [
  ('S', '220 mx.example.org ESMTP Exim 4.96 Mon, 23 Nov 2026 06:53:36 +0000\r\n'),
  ('C', 'EHLO client.good.example\r\n'),
  ('S', '250-mx.example.org Hello client.good.example [192.0.2.200]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 HELP\r\n'),
  ('C', 'MAIL FROM:<a@good.example>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n'),
  ('S', '250 OK\r\n250 Accepted\r\n354 Enter message, ending with "." on a line by itself\r\n'),
  ('C', 'Subject: x\r\n\r\n..dot\r\nbody\r\n'), ('C', '.\r\nQUIT\r\n'),
  ('S', '250 OK id=1\r\n221 mx.example.org closing connection\r\n'),
  ('end', 2), ('end', 0)],
 'bdat_auth': [
  ('S', '220-mx.example.org ESMTP\r\n220 hi\r\n'), ('C', 'EHLO c\r\n'),
  ('S', '250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n'),
  ('C', 'AUTH LOGIN\r\n'), ('S', '334 VXNlcm5hbWU6\r\n'), ('C', 'Ym9i\r\n'),
  ('S', '334 UGFzc3dvcmQ6\r\n'), ('C', 'c2VjcmV0\r\n'), ('S', '235 ok\r\n'),
  ('C', 'AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n'), ('S', '503 already\r\n'),
  ('C', 'MAIL FROM:<>\r\nRCPT TO:<x@[192.0.2.1]>\r\nBDAT 10\r\n0123\r\n'),
  ('C', '678BDAT 0 LAST\r\n'), ('S', '250 ok\r\n250 ok\r\n250 10\r\n250 done\r\n'),
  ('end', 1)],
 'starttls': [
  ('S', '220 mx ESMTP\r\n'), ('C', 'EHLO c\r\nSTARTTLS\r\n'),
  ('S', '250 mx\r\n220 go ahead\r\n'), ('C', '\x16\x03\x01\x00\x05hello'),
  ('S', '\x16\x03\x03\x00\x02ok'), ('end', 2)],
 'gaps_421': [
  ('S', '220 mx ESMTP\r\n'), ('C', 'HELO c\r\nMAIL FR'), ('gap', 3),
  ('C', 'om>\r\nRCPT TO:<a@b>\r\nDATA\r\n'), ('S', '250 mx\r\n250-a\r\n25'), ('gap', 1),
  ('S', '0 x\r\n354 go\r\n'), ('C', 'body\r\n'), ('gap', 200), ('S', '250 ok\r\n'),
  ('C', 'NOOP\r\nRSET\r\n'), ('S', '421 4.3.2 shutting down\r\n'), ('end', 2)],
 'abort_before_greeting': [('end', 0), ('S', '220 slow ESMTP\r\n'), ('end', 1)],
}

POP3 = {
 'session': [
  ('S', '+OK lab POP3 ready <1.2@lab>\r\n'), ('C', 'CAPA\r\n'),
  ('S', '+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n'), ('C', 'USER bob\r\n'), ('S', '+OK\r\n'),
  ('C', 'PASS s3cret\r\n'), ('S', '+OK maildrop has 1 message\r\n'),
  ('C', 'STAT\r\nLIST\r\nUIDL\r\n'), ('S', '+OK 1 120\r\n+OK\r\n1 120\r\n.\r\n+OK\r\n1 abc\r\n.\r\n'),
  ('C', 'RETR 1\r\n'), ('S', '+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n.\r\n'),
  ('C', 'TOP 1 0\r\nDELE 1\r\n'), ('S', '+OK\r\nSubject: x\r\n\r\n.\r\n+OK\r\n'),
  ('C', 'QUIT\r\n'), ('S', '+OK bye\r\n'), ('end', 2), ('end', 0)],
 'auth_apop_stls': [
  ('S', '+OK ready <9.9@host>\r\n'), ('C', 'APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n'),
  ('S', '-ERR no\r\n'), ('C', 'AUTH\r\n'), ('S', '+OK\r\nPLAIN\r\n.\r\n'),
  ('C', 'AUTH LOGIN\r\n'), ('S', '+ VXNlcm5hbWU6\r\n'), ('C', 'Ym9i\r\n'),
  ('S', '+ UGFzc3dvcmQ6\r\n'), ('C', 'c2VjcmV0\r\n'), ('S', '+OK\r\n'),
  ('C', 'STLS\r\n'), ('S', '+OK begin\r\n'), ('C', '\x16\x03\x01junk\r\n'), ('end', 1)],
 'gaps': [
  ('S', '+OK ready\r\n'), ('C', 'RETR 1\r\n'), ('S', '+OK\r\nbody\r\n'), ('gap', 9),
  ('S', 'x\r\n.\r\n'), ('C', 'US'), ('gap', 1), ('C', 'er\r\nSTAT\r\n'),
  ('S', '-ERR\r\n+OK 0 0\r\n'), ('end', 4)],
 'abort_before_greeting': [('end', 0), ('S', '+OK late\r\n'), ('end', 1)],
}

def rec(t, body):
    """a TLS record of type t (bytes body)"""
    return bytes([t, 3, 3, len(body) >> 8, len(body) & 0xff]) + body

def txt(b):
    return b.decode('latin-1')

CH = rec(22, b'\x01\x00\x00\x2c\x03\x03' + bytes(range(40)))
SH12 = rec(22, b'\x02\x00\x00\x26\x03\x03' + bytes(38)) + rec(22, b'\x0b' + bytes(300))
SH13 = rec(22, b'\x02\x00\x00\x26\x03\x03' + bytes(38)) + rec(20, b'\x01') + rec(23, bytes(900))
APP = lambda n: rec(23, bytes([0x41]) * n)

# TLS from the connect (465/995): the client speaks first
TLS = {
 'tls12_full': [
  ('C', txt(CH)), ('S', txt(SH12)),
  ('C', txt(rec(22, bytes(70)) + rec(20, b'\x01') + rec(22, bytes(40)))),
  ('S', txt(rec(20, b'\x01') + rec(22, bytes(40)))), ('S', txt(APP(40))),
  ('C', txt(APP(30))), ('S', txt(APP(150))), ('C', txt(APP(400))), ('S', txt(APP(30))),
  ('C', txt(APP(10))), ('S', txt(APP(30))), ('S', txt(rec(21, bytes(26)))),
  ('end', 2), ('end', 0)],
 'tls13_tickets': [
  ('C', txt(CH)), ('S', txt(SH13)),
  ('C', txt(rec(20, b'\x01') + APP(53) + APP(30))), ('S', txt(APP(233) + APP(233))),
  ('S', txt(APP(170))), ('C', txt(APP(19))), ('end', 0), ('end', 2)],
 'alert': [('C', txt(CH)), ('S', txt(rec(21, b'\x02\x28'))), ('end', 2), ('end', 0)],
 'sslv2_gap_garbage': [
  ('C', txt(b'\x80\x2e\x01\x03\x01' + bytes(43))), ('gap', 3), ('S', 'EHLO\r\n'),
  ('end', 1)],
 'unanswered': [('C', txt(CH)), ('end', 0), ('end', 3)],
}

# POP3 with its own byte 0 (top bit: the session is midstream, fuzz_stream.h)
POP3_ODD = {
 'client_first': (0x07, [
  ('C', 'CAPA\r\n'), ('S', '+OK\r\nUSER\r\n.\r\n'), ('C', 'AUTH XOAUTH2\r\n'),
  ('S', '+ \r\n'), ('C', 'dXNlcj1ib2IBAQ==\r\n'), ('S', '+OK Welcome.\r\n'),
  ('C', 'STAT\r\n'), ('S', '+OK 1 2\r\n'), ('C', 'QUIT\r\n'), ('end', 0)]),
 'midstream': (0x93, [
  ('S', '+OK 2 320\r\n'), ('C', 'LIST\r\n'), ('S', '+OK\r\n1 120\r\n.\r\n'),
  ('C', 'QUIT\r\n'), ('S', '+OK bye\r\n'), ('end', 2)]),
 'list_without_dot': (0x21, [
  ('S', '+OK ready\r\n'), ('C', 'LIST\r\n'), ('S', '+OK 2 messages\r\n1 120\r\n'),
  ('C', 'RETR 1\r\n'), ('S', '+OK follows\r\nSubject: x\r\n\r\n+OK body\r\n.\r\n'),
  ('C', 'UIDL\r\n'), ('S', '+OK\r\n1 a\r\n'), ('C', 'NOOP\r\n'), ('S', '-ERR no\r\n'),
  ('C', 'QUIT\r\n'), ('S', '+OK bye\r\n'), ('end', 2), ('end', 0)]),
}

here = os.path.dirname(os.path.abspath(__file__))
for proto, table in (('smtp', SMTP), ('pop3', POP3), ('tls', TLS)):
    for i, (name, steps) in enumerate(sorted(table.items())):
        with open(os.path.join(here, 'seeds', proto, name), 'wb') as f:
            f.write(enc(7 + 13 * i, steps))
for name, (seed, steps) in sorted(POP3_ODD.items()):
    with open(os.path.join(here, 'seeds', 'pop3', name), 'wb') as f:
        f.write(enc(seed, steps))
