/*
 * test_tls.c - the TLS record reader and the timing of encrypted exchanges
 * (after STARTTLS / STLS, and on 465 / 995), fed whole and split at every
 * offset and in small chunks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/pop3.h"
#include "analyze/smtp.h"
#include "analyze/tls.h"
#include "../support/mxscript.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building records ------------------------------------------------------ */

struct buf {
	uint8_t b[20000];
	size_t n;
};

/* appends a record of type t with a body of len bytes: b0, b1, then 'x' */
static struct buf *
rec(struct buf *o, uint8_t t, uint16_t len, uint8_t b0, uint8_t b1)
{
	cr_assert(o->n + 5 + len <= sizeof(o->b));
	uint8_t *p = o->b + o->n;
	p[0] = t;
	p[1] = 3;
	p[2] = 3;
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
	memset(p + 5, 'x', len);
	if (len > 0)
		p[5] = b0;
	if (len > 1)
		p[6] = b1;
	o->n += 5 + (size_t)len;
	return o;
}

/* a record whose body is text (plaintext that must never be parsed) */
static struct buf *
rec_text(struct buf *o, uint8_t t, uint8_t b0, const char *text)
{
	size_t len = 1 + strlen(text);
	rec(o, t, (uint16_t)len, b0, 0);
	memcpy(o->b + o->n - len + 1, text, len - 1);
	return o;
}

#define DATA(d, t, bf)                                                                             \
	{                                                                                          \
		MXS_DATA, (d), MS(t), (const char *)(bf)->b, (bf)->n, 0, MXE_CAPTURE_END           \
	}

/* txn i: command, guess, request and reply ms (reply 0 = none), outcome */
static void
expect_tls(const struct mxs_result *r, size_t i, const char *cmd, const char *guess,
           uint64_t req_ms, uint64_t reply_ms, enum mx_outcome o)
{
	cr_assert_lt(i, r->n);
	const struct mx_txn *t = &r->txn[i];
	if (strcmp(t->command, cmd) != 0 || strcmp(t->guess, guess) != 0 ||
	    t->request_ns != MS(req_ms) || t->reply_ns != MS(reply_ms) || t->outcome != o) {
		mxs_dump(r);
		cr_assert_fail("txn %zu: %s/%s %llu->%llu %s, want %s/%s %llu->%llu %s", i,
		               t->command, t->guess, (unsigned long long)(t->request_ns / 1000000),
		               (unsigned long long)(t->reply_ns / 1000000),
		               mx_outcome_str(t->outcome), cmd, guess, (unsigned long long)req_ms,
		               (unsigned long long)reply_ms, mx_outcome_str(o));
	}
}

/* ---- the record reader ---------------------------------------------------------- */

struct rev {
	enum tlsr_ev ev;
	uint8_t type;
	uint32_t len;
	uint8_t head0;
};

static size_t
read_all(const uint8_t *p, size_t n, size_t chunk, size_t cut, struct rev *out, size_t max,
         bool *bad)
{
	struct tlsr r;
	size_t k = 0, off = 0;
	tlsr_init(&r, true);
	*bad = false;
	while (off < n) {
		size_t len = chunk ? chunk : (off < cut ? cut - off : n - off);
		if (len > n - off)
			len = n - off;
		/* a copy exactly the piece's size: reading past it is caught by ASan */
		uint8_t *piece = malloc(len);
		memcpy(piece, p + off, len);
		size_t pos = 0;
		while (pos < len) {
			struct tlsr_out o;
			size_t used;
			enum tlsr_ev ev = tlsr_feed(&r, piece + pos, len - pos, 1, &used, &o);
			cr_assert_leq(used, len - pos);
			pos += used;
			if (ev == TLSR_BAD)
				*bad = true;
			if (ev != TLSR_MORE && k < max) {
				/* field by field: the arrays are zeroed, padding included,
				   and compared with memcmp */
				struct rev *e = &out[k++];
				e->ev = ev;
				e->type = o.type;
				e->len = o.len;
				e->head0 = o.headlen ? o.head[0] : 0;
			}
			if (ev == TLSR_MORE)
				cr_assert_eq(pos, len);
		}
		free(piece);
		off += len;
	}
	return k;
}

Test(tlsr, records_split_anywhere_read_the_same)
{
	struct buf b = {0};
	rec(&b, TLS_HANDSHAKE, 300, 1, 3);
	rec(&b, TLS_CCS, 1, 1, 0);
	rec(&b, TLS_APPDATA, 0, 0, 0);
	rec(&b, TLS_ALERT, 2, 2, 40);
	rec(&b, TLS_APPDATA, 16384 + 2048 - 5000, 0x17, 0);
	struct rev ref[16], got[16];
	bool bad;
	memset(ref, 0, sizeof(ref));
	memset(got, 0, sizeof(got));
	size_t n = read_all(b.b, b.n, 0, b.n, ref, 16, &bad);
	cr_assert_not(bad);
	cr_assert_eq(n, 10, "a begin and an end per record: %zu", n);
	cr_assert_eq(ref[1].ev, TLSR_END);
	cr_assert_eq(ref[1].type, TLS_HANDSHAKE);
	cr_assert_eq(ref[1].len, 300);
	cr_assert_eq(ref[1].head0, 1);
	cr_assert_eq(ref[7].type, TLS_ALERT);
	for (size_t cut = 1; cut < 400; cut++) {
		size_t m = read_all(b.b, b.n, 0, cut, got, 16, &bad);
		cr_assert_eq(m, n, "cut at %zu", cut);
		cr_assert(memcmp(ref, got, n * sizeof(ref[0])) == 0, "cut at %zu", cut);
	}
	for (size_t c = 1; c <= 7; c++) {
		size_t m = read_all(b.b, b.n, c, 0, got, 16, &bad);
		cr_assert_eq(m, n, "chunks of %zu", c);
		cr_assert(memcmp(ref, got, n * sizeof(ref[0])) == 0, "chunks of %zu", c);
	}
}

Test(tlsr, not_tls_stops_the_reader)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t n;
	} cases[] = {
	    {"a command after STARTTLS", "EHLO x\r\n", 8},
	    {"version 2.0", "\x16\x02\x00\x00\x05hello", 10},
	    {"version 3.9", "\x16\x03\x09\x00\x05hello", 10},
	    {"a record over 2^14 + 2048", "\x17\x03\x03\x48\x01", 5},
	    {"an empty handshake record", "\x16\x03\x03\x00\x00", 5},
	    {"SSLv2 that is not a CLIENT-HELLO", "\x80\x05\x04xxxx", 7},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct rev ev[4];
		bool bad;
		read_all((const uint8_t *)cases[i].bytes, cases[i].n, 0, cases[i].n, ev, 4, &bad);
		cr_expect(bad, "%s", cases[i].what);
	}
}

Test(tlsr, sslv2_client_hello_first_only)
{
	/* SSLv2 framing: 0x80 | length, then CLIENT-HELLO (1) */
	static const uint8_t v2[] = {0x80, 0x05, 0x01, 0x00, 0x02, 0x00, 0x00};
	struct rev ev[4];
	bool bad;
	size_t n = read_all(v2, sizeof(v2), 0, sizeof(v2), ev, 4, &bad);
	cr_assert_not(bad);
	cr_assert_eq(n, 2);
	cr_assert_eq(ev[1].type, TLS_HANDSHAKE);
	cr_assert_eq(ev[1].head0, 1);
	/* not as a second record */
	uint8_t two[sizeof(v2) * 2];
	memcpy(two, v2, sizeof(v2));
	memcpy(two + sizeof(v2), v2, sizeof(v2));
	read_all(two, sizeof(two), 0, sizeof(two), ev, 4, &bad);
	cr_assert(bad);
}

/* ---- STARTTLS, TLS 1.2 ---------------------------------------------------------------- */

static struct buf ch, sh12, cfin12, sfin12, ehlo, r250, quit, r221, body, close12;

static void
build_12(void)
{
	memset(&ch, 0, sizeof(ch));
	rec_text(&ch, TLS_HANDSHAKE, 1, "QUIT\r\nMAIL FROM:<x@leak.example>\r\n");
	memset(&sh12, 0, sizeof(sh12));
	rec(rec(rec(&sh12, TLS_HANDSHAKE, 80, 2, 0), TLS_HANDSHAKE, 900, 11, 0), TLS_HANDSHAKE, 4,
	    14, 0);
	memset(&cfin12, 0, sizeof(cfin12));
	rec(rec(rec(&cfin12, TLS_HANDSHAKE, 70, 16, 0), TLS_CCS, 1, 1, 0), TLS_HANDSHAKE, 40, 0x55,
	    0);
	memset(&sfin12, 0, sizeof(sfin12));
	rec(rec(&sfin12, TLS_CCS, 1, 1, 0), TLS_HANDSHAKE, 40, 0x66, 0);
	memset(&ehlo, 0, sizeof(ehlo));
	rec(&ehlo, TLS_APPDATA, 40, 0x17, 0);
	memset(&r250, 0, sizeof(r250));
	rec(&r250, TLS_APPDATA, 160, 0x18, 0);
	memset(&quit, 0, sizeof(quit));
	rec(&quit, TLS_APPDATA, 30, 0x19, 0);
	memset(&r221, 0, sizeof(r221));
	rec(&r221, TLS_APPDATA, 50, 0x20, 0);
	memset(&body, 0, sizeof(body));
	rec(&body, TLS_APPDATA, 2000, 0x21, 0);
	memset(&close12, 0, sizeof(close12));
	rec(&close12, TLS_ALERT, 26, 0x22, 0);
}

Test(tls, starttls_tls12_exchanges_are_timed)
{
	build_12();
	mxs_server_port = 25;
	const struct mxs_step steps[] = {
	    SRV(5, "220 mx.example.org ESMTP\r\n"),
	    CLI(6, "EHLO c\r\n"),
	    SRV(7, "250-mx.example.org\r\n250 STARTTLS\r\n"),
	    CLI(8, "STARTTLS\r\n"),
	    SRV(9, "220 2.0.0 Ready to start TLS\r\n"),
	    DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 11, &sh12),
	    DATA(MX_C2S, 12, &cfin12),
	    DATA(MX_S2C, 13, &sfin12),
	    DATA(MX_C2S, 20, &ehlo),
	    DATA(MX_S2C, 21, &r250),
	    DATA(MX_C2S, 22, &quit), /* MAIL */
	    DATA(MX_S2C, 23, &r221),
	    DATA(MX_C2S, 24, &quit), /* RCPT, answered after 4 s */
	    DATA(MX_S2C, 4024, &r221),
	    DATA(MX_C2S, 4025, &quit), /* DATA */
	    DATA(MX_S2C, 4026, &r221),
	    DATA(MX_C2S, 4027, &body), /* the message */
	    DATA(MX_S2C, 4028, &r221),
	    DATA(MX_C2S, 4029, &quit), /* QUIT */
	    DATA(MX_S2C, 4030, &r221),
	    DATA(MX_S2C, 4031, &close12),
	    END(4032, MXE_SERVER_FIN),
	    DATA(MX_C2S, 4033, &close12),
	    END(4034, MXE_CLIENT_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 10);
	expect_tls(&r, 3, "TLS-HELLO", "", 10, 11, MXO_OK);
	cr_assert_str_eq(r.txn[3].reply_text, "ServerHello");
	expect_tls(&r, 4, "TLS", "EHLO", 20, 21, MXO_OK);
	cr_assert_str_eq(r.txn[4].argument, "1 record, 45 bytes");
	cr_assert_str_eq(r.txn[4].reply_text, "1 record, 165 bytes");
	expect_tls(&r, 5, "TLS", "MAIL", 22, 23, MXO_OK);
	expect_tls(&r, 6, "TLS", "RCPT", 24, 4024, MXO_OK);
	expect_tls(&r, 7, "TLS", "DATA", 4025, 4026, MXO_OK);
	expect_tls(&r, 8, "TLS", "DATA-END", 4027, 4028, MXO_OK);
	expect_tls(&r, 9, "TLS", "QUIT", 4029, 4030, MXO_OK);
	cr_assert(r.sess.tls);
	cr_assert_eq(r.sess.outcome, MXO_OK, "a close inside TLS is no abort: %s",
	             mx_outcome_str(r.sess.outcome));
	cr_assert_not(mxs_leaks(&r, "leak.example"), "TLS bytes are never parsed as SMTP");
	cr_assert_str_eq(r.sess.sender_domain, "");
	mxs_result_free(&r);
	mxs_server_port = 0;
}

/* the client gives up on an encrypted reply: client-abort at its FIN */
Test(tls, client_gives_up_inside_tls)
{
	build_12();
	const struct mxs_step steps[] = {
	    SRV(5, "220 mx ESMTP\r\n"),        CLI(8, "STARTTLS\r\n"),
	    SRV(9, "220 go ahead\r\n"),        DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 11, &sh12),           DATA(MX_C2S, 12, &cfin12),
	    DATA(MX_S2C, 13, &sfin12),         DATA(MX_C2S, 20, &ehlo),
	    END(30020, MXE_CLIENT_FIN),        END(30021, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 4);
	expect_tls(&r, 3, "TLS", "EHLO", 20, 0, MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[3].end_ns, MS(30020));
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

/* ---- TLS 1.3: tickets before the reply ------------------------------------------- */

Test(tls, tls13_ticket_is_not_the_reply)
{
	build_12();
	struct buf sh13 = {0}, cfin13 = {0}, nst = {0}, close13 = {0};
	rec(rec(rec(rec(&sh13, TLS_HANDSHAKE, 88, 2, 0), TLS_CCS, 1, 1, 0), TLS_APPDATA, 30, 1, 0),
	    TLS_APPDATA, 1200, 2, 0);
	/* CCS, Finished (53 bytes: SHA-256), and EHLO in the same flight */
	rec(rec(rec(&cfin13, TLS_CCS, 1, 1, 0), TLS_APPDATA, 53, 3, 0), TLS_APPDATA, 40, 4, 0);
	rec(rec(&nst, TLS_APPDATA, 200, 5, 0), TLS_APPDATA, 200, 6, 0);
	rec(&close13, TLS_APPDATA, 19, 7, 0);
	mxs_server_port = 25;
	const struct mxs_step steps[] = {
	    SRV(5, "220 mx ESMTP\r\n"),
	    CLI(8, "STARTTLS\r\n"),
	    SRV(9, "220 go ahead\r\n"),
	    DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 11, &sh13),
	    DATA(MX_C2S, 12, &cfin13),
	    DATA(MX_S2C, 13, &nst),  /* two tickets at once */
	    DATA(MX_S2C, 2012, &r250), /* the EHLO reply, 2 s later (a HELO lookup) */
	    DATA(MX_C2S, 2013, &quit),
	    DATA(MX_S2C, 2014, &r221),
	    DATA(MX_C2S, 2015, &close13), /* close_notify: not a request */
	    END(2016, MXE_CLIENT_FIN),
	    END(2017, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 5);
	expect_tls(&r, 2, "TLS-HELLO", "", 10, 11, MXO_OK);
	cr_assert_str_eq(r.txn[2].reply_text, "ServerHello, TLS 1.3");
	expect_tls(&r, 3, "TLS", "EHLO", 12, 2012, MXO_OK);
	expect_tls(&r, 4, "TLS", "QUIT", 2013, 2014, MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
	mxs_server_port = 0;
}

/* ---- 465 / 995 ------------------------------------------------------------------------ */

Test(tls, port465_slow_server_hello_and_banner)
{
	build_12();
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 4010, &sh12), /* the server's PTR lookup of the client first */
	    DATA(MX_C2S, 4011, &cfin12),
	    DATA(MX_S2C, 4012, &sfin12),
	    DATA(MX_S2C, 4015, &r250), /* the banner inside TLS */
	    DATA(MX_C2S, 4016, &ehlo),
	    DATA(MX_S2C, 4017, &r250),
	    DATA(MX_C2S, 4018, &quit),
	    DATA(MX_S2C, 4019, &r221),
	    END(4020, MXE_SERVER_FIN),
	    END(4021, MXE_CLIENT_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtps_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 4);
	expect_tls(&r, 0, "TLS-HELLO", "", 10, 4010, MXO_OK);
	expect_tls(&r, 1, "TLS", "GREETING", 4012, 4015, MXO_OK);
	cr_assert_str_eq(r.txn[1].argument, "handshake end");
	expect_tls(&r, 2, "TLS", "EHLO", 4016, 4017, MXO_OK);
	expect_tls(&r, 3, "TLS", "QUIT", 4018, 4019, MXO_OK);
	cr_assert(r.sess.tls);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

Test(tls, port995_tls13_banner_after_tickets)
{
	build_12();
	struct buf sh13 = {0}, cfin13 = {0}, nst = {0};
	rec(rec(&sh13, TLS_HANDSHAKE, 88, 2, 0), TLS_APPDATA, 900, 1, 0);
	rec(&cfin13, TLS_APPDATA, 53, 3, 0);
	rec(&nst, TLS_APPDATA, 200, 5, 0);
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),    DATA(MX_S2C, 11, &sh13),  DATA(MX_C2S, 12, &cfin13),
	    DATA(MX_S2C, 13, &nst),   DATA(MX_S2C, 3012, &r250), /* +OK after a lookup */
	    DATA(MX_C2S, 3013, &ehlo), DATA(MX_S2C, 3014, &r250), END(3015, MXE_CLIENT_FIN),
	    END(3016, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&pop3s_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 3);
	expect_tls(&r, 0, "TLS-HELLO", "", 10, 11, MXO_OK);
	expect_tls(&r, 1, "TLS", "GREETING", 12, 3012, MXO_OK);
	expect_tls(&r, 2, "TLS", "QUIT", 3013, 3014, MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* ---- outcomes ---------------------------------------------------------------------------- */

Test(tls, handshake_alert)
{
	build_12();
	struct buf alert = {0};
	rec(&alert, TLS_ALERT, 2, 2, 40);
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 11, &alert),
	    END(12, MXE_SERVER_FIN),
	    END(13, MXE_CLIENT_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtps_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 1);
	expect_tls(&r, 0, "TLS-HELLO", "", 10, 11, MXO_OK);
	cr_assert_str_eq(r.txn[0].reply_code, "alert");
	cr_assert_str_eq(r.txn[0].reply_text, "fatal alert 40 handshake_failure");
	cr_assert_eq(r.sess.outcome, MXO_TLS_ALERT, "%s", mx_outcome_str(r.sess.outcome));
	mxs_result_free(&r);
}

Test(tls, client_hello_never_answered)
{
	build_12();
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),
	    END(60010, MXE_CLIENT_FIN),
	    END(60011, MXE_SERVER_RST),
	};
	struct mxs_result r;
	mxs_check_splits(&smtps_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 1);
	expect_tls(&r, 0, "TLS-HELLO", "", 10, 0, MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[0].end_ns, MS(60010));
	cr_assert_eq(r.sess.outcome, MXO_TLS_UNANSWERED, "%s", mx_outcome_str(r.sess.outcome));
	mxs_result_free(&r);
}

Test(tls, handshake_cut_is_a_failure)
{
	build_12();
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),
	    DATA(MX_S2C, 11, &sh12),
	    END(12, MXE_CLIENT_RST),
	};
	struct mxs_result r;
	mxs_check_splits(&smtps_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 1);
	cr_assert_eq(r.sess.outcome, MXO_TLS_FAILED, "%s", mx_outcome_str(r.sess.outcome));
	mxs_result_free(&r);
}

Test(tls, garbage_after_starttls)
{
	const struct mxs_step steps[] = {
	    SRV(5, "220 mx ESMTP\r\n"),
	    CLI(8, "STARTTLS\r\n"),
	    SRV(9, "220 go ahead\r\n"),
	    CLI(10, "EHLO still-clear.example\r\n"),
	    SRV(11, "\x15\x03\x03\x00\x02\x02\x32"),
	    END(12, MXE_SERVER_FIN),
	    END(13, MXE_CLIENT_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 2);
	cr_assert_str_eq(r.txn[1].command, "STARTTLS");
	cr_assert_eq(r.sess.outcome, MXO_TLS_FAILED, "%s", mx_outcome_str(r.sess.outcome));
	cr_assert_str_eq(r.sess.helo, "", "bytes after STARTTLS are never SMTP");
	mxs_result_free(&r);
}

Test(tls, gap_stops_timing)
{
	build_12();
	const struct mxs_step steps[] = {
	    DATA(MX_C2S, 10, &ch),    DATA(MX_S2C, 11, &sh12), DATA(MX_C2S, 12, &cfin12),
	    DATA(MX_S2C, 13, &sfin12), DATA(MX_S2C, 14, &r250), DATA(MX_C2S, 20, &ehlo),
	    GAP(21, MX_S2C, 500),     DATA(MX_S2C, 22, &r250), DATA(MX_C2S, 23, &quit),
	    END(24, MXE_CLIENT_FIN),  END(25, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&smtps_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 3);
	expect_tls(&r, 2, "TLS", "EHLO", 20, 0, MXO_INCOMPLETE);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* ---- POP3 STLS ------------------------------------------------------------------------- */

Test(tls, pop3_stls_then_timed_inside)
{
	build_12();
	const struct mxs_step steps[] = {
	    SRV(1, "+OK ready\r\n"),
	    CLI(2, "STLS\r\n"),
	    SRV(3, "+OK Begin TLS negotiation\r\n"),
	    DATA(MX_C2S, 4, &ch),
	    DATA(MX_S2C, 5, &sh12),
	    DATA(MX_C2S, 6, &cfin12),
	    DATA(MX_S2C, 7, &sfin12),
	    DATA(MX_C2S, 8, &ehlo), /* USER */
	    DATA(MX_S2C, 9, &r250),
	    DATA(MX_C2S, 10, &ehlo), /* PASS: a slow login */
	    DATA(MX_S2C, 2510, &r250),
	    DATA(MX_C2S, 2511, &quit),
	    DATA(MX_S2C, 2512, &r221),
	    END(2513, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, steps, N(steps), &r);
	mxs_expect_n(&r, 6);
	expect_tls(&r, 2, "TLS-HELLO", "", 4, 5, MXO_OK);
	expect_tls(&r, 3, "TLS", "", 8, 9, MXO_OK);
	expect_tls(&r, 4, "TLS", "", 10, 2510, MXO_OK);
	expect_tls(&r, 5, "TLS", "QUIT", 2511, 2512, MXO_OK);
	cr_assert(r.sess.tls);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	cr_assert_not(mxs_leaks(&r, "leak"));
	mxs_result_free(&r);
}
