/*
 * fuzz_dns.c - libFuzzer target for the DNS parser and tracker.
 *
 * 1. dns_parse() on the whole input; the text fields must be terminated.
 * 2. The input as a script for the tracker.  Byte 0 seeds the chunking;
 *    then records  ctl, len_hi, len_lo, payload[len] (clamped):
 *      ctl bit 0   direction: 0 client -> server, 1 server -> client
 *      ctl bit 1   client port (two of them, one address)
 *      ctl bit 2   server (two resolvers)
 *      ctl bit 3   TCP: the payload is stream bytes of one connection
 *                  (length prefixes included); else one UDP datagram
 *      ctl bit 7   with bit 3: a gap of len bytes (no payload)
 *      ctl 4..6    packet time advances by that many seconds first
 *    The script is replayed twice: TCP records whole, then cut into
 *    pseudo-random pieces with the record's timestamp.  The events and
 *    counters of both runs must be identical, or the harness aborts,
 *    unless TCP framing was lost (a gap, a length below a header): then
 *    where reading resumes depends on where segments begin (it resumes at
 *    a segment that begins a message), so the two runs may differ.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	uint64_t h, n;
};

static void
mix(struct fz *f, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 1099511628211ull;
	}
}

static void
check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) >= cap)
		abort();
}

static void
on_event(void *sink, const struct mx_event *ev)
{
	struct fz *f = sink;
	const struct mx_dns *d = &ev->u.dns;
	if (ev->type != EV_DNS)
		abort();
	check_str(d->qname, sizeof(d->qname));
	check_str(d->answers, sizeof(d->answers));
	if ((unsigned)d->outcome > MXD_NO_QUERY)
		abort();
	if ((d->outcome == MXD_UNANSWERED) != (d->response_ns == 0 && d->rcode == -1))
		abort();
	if (d->outcome == MXD_NO_QUERY) {
		/* a response alone: no start, no sends */
		if (d->response_ns != d->ts_ns || d->last_send_ns != 0 || d->retransmits)
			abort();
	} else if (d->last_send_ns < d->ts_ns) {
		abort();
	}
	f->n++;
	mix(f, d, sizeof(*d)); /* the event was zeroed before filling: no stray padding */
}

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void
run(const uint8_t *data, size_t size, bool cut, struct fz *f, struct dns_stats *st)
{
	struct mx_ids ids = {0};
	struct mx_sink sink = {on_event, f, &ids};
	struct dns_cfg cfg = {.timeout_ns = 5ull * 1000000000ull, .max_pending = 16};
	struct dns_tracker *t = dns_tracker_new(&cfg, &sink);
	struct mx_endpoint cli[2], srv[2];
	uint32_t seed = data[0];
	uint64_t ts = 1000000000ull;
	size_t o = 1;

	if (!t)
		abort();
	memset(cli, 0, sizeof(cli));
	memset(srv, 0, sizeof(srv));
	for (int i = 0; i < 2; i++) {
		const uint8_t a4[4] = {192, 0, 2, 10};
		const uint8_t r4[4] = {198, 51, 100, (uint8_t)(53 + i)};
		mx_addr_set4(&cli[i].addr, a4);
		mx_addr_set4(&srv[i].addr, r4);
		cli[i].port = (uint16_t)(40000 + i);
		srv[i].port = 53;
	}
	/* one TCP connection per (client port, server) pair */
	struct dns_tcp *conn[2][2] = {{NULL, NULL}, {NULL, NULL}};

	while (o + 3 <= size) {
		uint8_t ctl = data[o];
		size_t len = (size_t)data[o + 1] << 8 | data[o + 2];
		o += 3;
		int dir = ctl & 1, ci = ctl >> 1 & 1, si = ctl >> 2 & 1;
		ts += (uint64_t)(ctl >> 4 & 7) * 1000000000ull + 1000;
		if (ctl & 8) {
			struct dns_tcp **c = &conn[ci][si];
			if (!*c)
				*c = dns_tcp_new(t, &cli[ci], &srv[si]);
			if (!*c)
				abort();
			if (ctl & 0x80) {
				dns_tcp_gap(*c, dir, len, ts);
				continue;
			}
			if (len > size - o)
				len = size - o;
			const uint8_t *p = data + o;
			size_t left = len;
			while (left > 0) {
				size_t k = cut ? 1 + rnd(&seed) % (left < 40 ? left : 40) : left;
				/* exact-size copy so ASan sees reads past the piece */
				uint8_t *piece = malloc(k);
				if (!piece)
					abort();
				memcpy(piece, p, k);
				dns_tcp_data(*c, dir, piece, k, ts);
				free(piece);
				p += k;
				left -= k;
			}
		} else {
			if (len > size - o)
				len = size - o;
			uint8_t *dg = malloc(len ? len : 1);
			if (!dg)
				abort();
			memcpy(dg, data + o, len);
			if (dir == 0)
				dns_datagram(t, &cli[ci], &srv[si], dg, len, ts);
			else
				dns_datagram(t, &srv[si], &cli[ci], dg, len, ts);
			free(dg);
		}
		o += len;
		if (ctl & 0x40)
			dns_tracker_expire(t, ts);
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			dns_tcp_free(conn[i][j]);
	dns_tracker_finish(t, ts + 1);
	if (dns_tracker_pending(t) != 0)
		abort();
	*st = *dns_tracker_stats(t);
	dns_tracker_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (dns_parse(copy, size, &m) == 0 && !m.question_ok)
		abort();
	check_str(m.qname, sizeof(m.qname));
	check_str(m.answers, sizeof(m.answers));
	if (m.question_ok && m.has_question) {
		struct mx_addr a;
		const char *zone;
		dns_arpa_to_addr(m.qname, &a);
		if (dns_name_reversed_addr(m.qname, &a, &zone) && (zone < m.qname || !*zone))
			abort();
		dns_name_is_ip_literal(m.qname, &a);
	}
	free(copy);

	if (size < 1)
		return 0;
	struct fz f1 = {1469598103934665603ull, 0}, f2 = {1469598103934665603ull, 0};
	struct dns_stats s1, s2;
	run(data, size, false, &f1, &s1);
	run(data, size, true, &f2, &s2);
	bool resegmented = s1.tcp_dropped || s2.tcp_dropped;
	if (!resegmented && (f1.h != f2.h || f1.n != f2.n || memcmp(&s1, &s2, sizeof(s1)) != 0))
		abort();
	if (s2.emitted != f2.n)
		abort();
	if (s1.emitted != f1.n)
		abort();
	return 0;
}
