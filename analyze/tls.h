/*
 * tls.h - timing of mail inside TLS from the record layer alone (issue 18):
 * after a successful STARTTLS / STLS, and on the implicit-TLS ports 465
 * (SMTP submission) and 995 (POP3S).  Nothing is decrypted.
 *
 * Two layers:
 *
 *  - tlsr: an incremental reader of one direction's TLS records (5-byte
 *    header: content type, version 3.x, length <= 2^14 + 2048; an SSLv2
 *    style ClientHello as the client's first record).  It reports the first
 *    byte of each record (with the time of the segment carrying it) and each
 *    record's end, with the first body bytes (handshake message type, a
 *    plaintext alert).  Bytes that are not TLS records stop it for good.
 *
 *  - tls_timer: one session's exchanges.  An exchange is a client flight
 *    (the records the client sent since the server's last record) and the
 *    server's next record.  The wait runs from the end of the flight (the
 *    segment completing its last record) to the first byte of the server's
 *    record, as for clear-text replies.  Emitted as transactions:
 *
 *      TLS-HELLO  ClientHello -> the server's first record (ServerHello or
 *                 an alert): on 465/995 the greeting-time work (the PTR
 *                 lookup of the client) shows here;
 *      TLS        an encrypted exchange, with guess = the command it most
 *                 likely was (GREETING for the banner inside TLS on
 *                 465/995: handshake end -> the server's first application
 *                 data; EHLO, MAIL, RCPT, DATA, DATA-END, QUIT by position
 *                 and size for SMTP), "" when no guess is sound.
 *
 *    The TLS 1.2 second handshake round trip and close_notify records are
 *    not exchanges.  TLS 1.3 (known from encrypted server handshake records
 *    before the client's second flight): the first server records after the
 *    client's Finished may be NewSessionTickets; when another server record
 *    follows them after a pause, with no client record between, that one is
 *    taken as the reply.
 *
 * An exchange is emitted when the client's next flight starts (its guess
 * may need the next flight's size) or at the session's end.  The session
 * outcome inside TLS: ok (closed with nothing waiting), tls-unanswered (the
 * ClientHello never got a server record), tls-alert (a fatal plaintext
 * alert in the handshake), tls-failed (closed before the handshake ended,
 * or bytes that are not TLS), else the clear-text outcomes.
 */
#ifndef MXLAG_TLS_H
#define MXLAG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* TLS content types */
#define TLS_CCS 20
#define TLS_ALERT 21
#define TLS_HANDSHAKE 22
#define TLS_APPDATA 23
#define TLS_HEARTBEAT 24

#define TLS_REC_MAX (16384 + 2048) /* TLSCiphertext.length limit */
#define TLSR_HEAD 4                /* body bytes kept of each record */

/* ---- the record reader --------------------------------------------------- */

struct tlsr {
	uint8_t hdr[5];
	uint8_t hlen; /* header bytes held */
	uint8_t head[TLSR_HEAD];
	uint8_t headlen;
	bool in_body;
	bool sslv2;    /* the current record is an SSLv2-style ClientHello */
	bool allow_v2; /* the next record may be one (client, first record) */
	bool bad;      /* not TLS: everything from here on is ignored */
	uint32_t len, left;
	uint64_t first_ns; /* segment carrying the current record's first byte */
};

enum tlsr_ev {
	TLSR_MORE = 0, /* all bytes taken, nothing to report */
	TLSR_BEGIN,    /* first byte of a record: out->type, out->first_ns */
	TLSR_END,      /* a whole record: type, len, head, first_ns */
	TLSR_BAD,      /* not a TLS record: the reader stopped (out zeroed) */
};

struct tlsr_out {
	uint8_t type; /* content type (22 for an SSLv2 ClientHello) */
	bool sslv2;
	uint32_t len;
	uint8_t head[TLSR_HEAD];
	uint8_t headlen;
	uint64_t first_ns;
};

void tlsr_init(struct tlsr *r, bool allow_v2);
/*
 * Reads from p[0..n) until something is to report; *used = bytes taken.
 * Call again with the rest.  Never reads outside [p, p+n).
 */
enum tlsr_ev tlsr_feed(struct tlsr *r, const uint8_t *p, size_t n, uint64_t ts_ns, size_t *used,
                       struct tlsr_out *out);

/* ---- a session's exchanges ------------------------------------------------------- */

struct tls_timer;

/*
 * Starts timing a session from its first TLS byte.  implicit: TLS from the
 * connect (465/995), so the banner is inside TLS; else after STARTTLS/STLS.
 * sess and out as for a protocol parser (proto.h).
 */
struct tls_timer *tls_timer_new(struct mx_session *sess, const struct mx_sink *out, bool implicit);
void tls_timer_data(struct tls_timer *t, int dir, const uint8_t *p, size_t n, uint64_t ts_ns);
/* lost bytes: record boundaries are gone, timing stops (the exchange waiting
   is emitted as incomplete) */
void tls_timer_gap(struct tls_timer *t, int dir, uint64_t lost, uint64_t ts_ns);
/* a side closed or the capture ended; sets sess->outcome (may be called
   more than once) */
void tls_timer_end(struct tls_timer *t, enum mx_end how, uint64_t ts_ns);
/* when the exchange waiting for the server's reply began, 0 = none */
uint64_t tls_timer_waiting_since(const struct tls_timer *t);
/* when the exchange not yet emitted began, answered or not, 0 = none */
uint64_t tls_timer_pending_since(const struct tls_timer *t);
void tls_timer_free(struct tls_timer *t);

/* 465 and 995: the whole session is TLS */
extern const struct proto_parser_ops smtps_parser_ops;
extern const struct proto_parser_ops pop3s_parser_ops;

#endif
