/*
 * tlsgen.c - TLS record flights for generated captures (issue 18): hellos
 * with the fields a real stack sends, and "encrypted" records of random
 * bytes of the sizes real stacks produce.  Timing follows the session
 * helpers of gen.c: a client flight completes at s->req_t, the server's
 * first record of the reply is at the time given.
 */
#include <string.h>

#include "gen.h"

/* the record and handshake headers in b[0..9) of a hello whose body (after
   them) is hs bytes: record version 3.minor, handshake message type */
static void
hello_headers(uint8_t *b, uint8_t minor, uint8_t type, size_t hs)
{
	b[0] = 0x16;
	b[1] = 3;
	b[2] = minor;
	b[3] = (uint8_t)((hs + 4) >> 8);
	b[4] = (uint8_t)(hs + 4);
	b[5] = type;
	b[6] = 0;
	b[7] = (uint8_t)(hs >> 8);
	b[8] = (uint8_t)hs;
}

size_t
tlsgen_client_hello(struct prng *r, uint8_t *b)
{
	static const uint8_t ext[] = {
	    0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,                   /* supported_versions */
	    0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d,             /* supported_groups */
	    0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03,             /* signature_algorithms */
	    0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, /* key_share + 32 */
	};
	size_t o = 9, hs;

	b[o++] = 3;
	b[o++] = 3;
	for (int i = 0; i < 32; i++)
		b[o++] = (uint8_t)prng_next(r);
	b[o++] = 32;
	for (int i = 0; i < 32; i++)
		b[o++] = (uint8_t)prng_next(r);
	b[o++] = 0;
	b[o++] = 6;
	b[o++] = 0x13;
	b[o++] = 0x01;
	b[o++] = 0x13;
	b[o++] = 0x02;
	b[o++] = 0x13;
	b[o++] = 0x03;
	b[o++] = 1;
	b[o++] = 0;
	b[o++] = 0;
	b[o++] = (uint8_t)(sizeof(ext) + 32);
	memcpy(b + o, ext, sizeof(ext));
	o += sizeof(ext);
	for (int i = 0; i < 32; i++)
		b[o++] = (uint8_t)prng_next(r);
	hs = o - 9;
	hello_headers(b, 1, 1, hs);
	return o;
}

size_t
tlsgen_server_hello(struct prng *r, uint8_t *b, const uint8_t *client_sid, int v13)
{
	static const uint8_t ext13[] = {
	    0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,             /* supported_versions */
	    0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, /* key_share + 32 */
	};
	static const uint8_t ext12[] = {0xff, 0x01, 0x00, 0x01, 0x00}; /* renegotiation_info */
	size_t o = 9, hs;

	b[o++] = 3;
	b[o++] = 3;
	for (int i = 0; i < 32; i++)
		b[o++] = (uint8_t)prng_next(r);
	b[o++] = 32;
	memcpy(b + o, client_sid, 32);
	o += 32;
	b[o++] = v13 ? 0x13 : 0xc0;
	b[o++] = v13 ? 0x01 : 0x2f;
	b[o++] = 0;
	if (v13) {
		b[o++] = 0;
		b[o++] = (uint8_t)(sizeof(ext13) + 32);
		memcpy(b + o, ext13, sizeof(ext13));
		o += sizeof(ext13);
		for (int i = 0; i < 32; i++)
			b[o++] = (uint8_t)prng_next(r);
	} else {
		b[o++] = 0;
		b[o++] = (uint8_t)sizeof(ext12);
		memcpy(b + o, ext12, sizeof(ext12));
		o += sizeof(ext12);
	}
	hs = o - 9;
	hello_headers(b, 3, 2, hs);
	if (v13) {
		/* middlebox-compatibility ChangeCipherSpec */
		static const uint8_t ccs[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
		memcpy(b + o, ccs, sizeof(ccs));
		o += sizeof(ccs);
	}
	return o;
}

size_t
tlsgen_record(struct prng *r, uint8_t *b, uint8_t type, size_t n)
{
	b[0] = type;
	b[1] = 3;
	b[2] = 3;
	b[3] = (uint8_t)(n >> 8);
	b[4] = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		b[5 + i] = (uint8_t)prng_next(r);
	if (type == 0x15 && n == 2) {
		b[5] = 1; /* close_notify, warning */
		b[6] = 0;
	}
	return n + 5;
}

/* the server's flight at `at`, outside the truth's command list */
static void
srv_flight(struct sess *s, uint64_t at, const uint8_t *b, size_t n)
{
	s->t = pw_tcp_send(s->g->sink, &s->c, 1, at, b, n, s->srv_gap, 0) + s->rtt + s->think;
}

struct truth_slow *
tlsgen_handshake(struct sess *s, int v13, uint64_t hello_delay, int tickets, const char *early)
{
	struct prng *r = &s->g->rng;
	uint8_t b[4096], sid[32];
	struct truth_slow *sl;
	size_t n;

	if (s->tr)
		s->tr->tls = 1;
	n = tlsgen_client_hello(r, b);
	memcpy(sid, b + 9 + 2 + 32 + 1, 32);
	sess_send(s, b, n);
	n = tlsgen_server_hello(r, b, sid, v13);
	if (v13) {
		/* EncryptedExtensions, Certificate, CertificateVerify, Finished */
		n += tlsgen_record(r, b + n, 0x17, 42);
		n += tlsgen_record(r, b + n, 0x17, 1180);
		n += tlsgen_record(r, b + n, 0x17, 286);
		n += tlsgen_record(r, b + n, 0x17, 53);
	} else {
		/* Certificate, ServerKeyExchange, ServerHelloDone */
		n += tlsgen_record(r, b + n, 0x16, 1190);
		n += tlsgen_record(r, b + n, 0x16, 300);
		n += tlsgen_record(r, b + n, 0x16, 4);
	}
	sl = sess_reply_at(s, s->req_t + s->rtt + hello_delay, "TLS-HELLO", b, n);
	if (sl)
		sl->reply_code[0] = '\0';
	if (v13) {
		/* the client's CCS and Finished (and maybe its first request) */
		n = tlsgen_record(r, b, 0x14, 1);
		n += tlsgen_record(r, b + n, 0x17, 53);
		if (early)
			n += tlsgen_record(r, b + n, 0x17, strlen(early) + 17);
		sess_send(s, b, n);
		if (tickets) {
			uint64_t at = s->req_t + s->rtt + US(250);
			n = tlsgen_record(r, b, 0x17, 233);
			n += tlsgen_record(r, b + n, 0x17, 233);
			srv_flight(s, at, b, n);
		}
	} else {
		/* ClientKeyExchange, CCS, Finished; the server's CCS and Finished */
		n = tlsgen_record(r, b, 0x16, 70);
		n += tlsgen_record(r, b + n, 0x14, 1);
		n += tlsgen_record(r, b + n, 0x16, 40);
		sess_send(s, b, n);
		n = tlsgen_record(r, b, 0x14, 1);
		n += tlsgen_record(r, b + n, 0x16, 40);
		srv_flight(s, s->req_t + s->rtt + US(900), b, n);
		/* the handshake ends with the server's Finished: a banner inside
		   TLS is timed from there */
		s->req_t = s->t - s->rtt - s->think;
	}
	return sl;
}

/* record overhead of AES-GCM: TLS 1.3 17 (tag + type), TLS 1.2 24 */
#define OVERHEAD 24

struct truth_slow *
tlsgen_reply(struct sess *s, const char *guess, uint64_t at, size_t slen)
{
	struct prng *r = &s->g->rng;
	uint8_t b[4096];
	size_t n = tlsgen_record(r, b, 0x17, slen + OVERHEAD);
	struct truth_slow *sl = sess_reply_at(s, at, "TLS", b, n);

	if (sl) {
		sl->reply_code[0] = '\0';
		snprintf(sl->guess, sizeof(sl->guess), "%s", guess);
	}
	return sl;
}

void
tlsgen_send(struct sess *s, size_t clen)
{
	struct prng *r = &s->g->rng;
	uint8_t b[16384 + 64];
	size_t n = 0;

	/* records of at most 16 KiB of plaintext */
	while (clen > 0 && n + 16384 + 64 <= sizeof(b)) {
		size_t k = clen > 16384 ? 16384 : clen;
		n += tlsgen_record(r, b + n, 0x17, k + OVERHEAD);
		clen -= k;
	}
	sess_send(s, b, n);
}

struct truth_slow *
tlsgen_exchange(struct sess *s, const char *guess, size_t clen, uint64_t delay, size_t slen)
{
	tlsgen_send(s, clen);
	return tlsgen_reply(s, guess, s->req_t + s->rtt + delay, slen);
}

void
tlsgen_close(struct sess *s)
{
	uint8_t b[64];
	size_t n = tlsgen_record(&s->g->rng, b, 0x15, 26); /* encrypted close_notify */

	srv_flight(s, s->t - s->think, b, n);
	sess_close(s, 1);
}
