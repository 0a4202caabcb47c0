/*
 * fuzz_ident.c - libFuzzer target for the ident reply grammar and probes.
 *
 * 1. ident_parse_reply() on the whole input (exact-size copy, no NUL).
 * 2. Byte 0 shapes the flow (bit 0 SYN-ACK seen, bit 1 RST seen, bit 2 RST
 *    from the peer, bits 3..5 SYN count), byte 1 seeds the chunking; the
 *    rest is the conversation, starting with the peer's reply direction;
 *    0xFF switches direction.  It is replayed whole and cut into
 *    pseudo-random pieces; the two EV_IDENT events must be identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct mx_ident ev;
	int n;
};

static void
on_event(void *sink, const struct mx_event *ev)
{
	struct fz *f = sink;
	if (ev->type != EV_IDENT || f->n++ > 0)
		abort();
	if (strnlen(ev->u.ident.response, sizeof(ev->u.ident.response)) >=
	    sizeof(ev->u.ident.response))
		abort();
	if ((unsigned)ev->u.ident.outcome > MXI_UNANSWERED)
		abort();
	memcpy(&f->ev, &ev->u.ident, sizeof(f->ev)); /* padding included */
}

static void
run(const uint8_t *data, size_t size, bool cut, struct fz *f)
{
	struct mx_ids ids = {0};
	struct mx_sink sink = {on_event, f, &ids};
	struct cap_flow fl;
	uint32_t seed = data[1];

	memset(&fl, 0, sizeof(fl));
	const uint8_t h[4] = {192, 0, 2, 10}, p[4] = {198, 51, 100, 7};
	mx_addr_set4(&fl.cli.addr, h);
	mx_addr_set4(&fl.srv.addr, p);
	fl.cli.port = 40001;
	fl.srv.port = 113;
	fl.saw_syn = true;
	fl.syn_count = 1u + (data[0] >> 3 & 7);
	fl.first_ns = fl.syn_ns = 1000;
	fl.last_syn_ns = 1000 + fl.syn_count * 100;
	fl.rst_dir = -1;
	struct ident_probe *pr = ident_new(&fl, &sink);
	if (!pr)
		abort();
	int dir = MX_S2C;
	uint64_t ts = 5000;
	size_t o = 2;
	while (o < size) {
		if (data[o] == 0xFF) {
			dir ^= 1;
			o++;
			continue;
		}
		size_t e = o;
		while (e < size && data[e] != 0xFF)
			e++;
		size_t left = e - o;
		while (left > 0) {
			size_t k = left;
			if (cut) {
				seed = seed * 1103515245u + 12345u;
				k = 1 + (seed >> 16) % (left < 16 ? left : 16);
			}
			uint8_t *piece = malloc(k);
			if (!piece)
				abort();
			memcpy(piece, data + o, k);
			ident_data(pr, dir, piece, k, ts);
			free(piece);
			o += k;
			left -= k;
		}
		ts += 1000;
	}
	fl.saw_synack = data[0] & 1;
	if (data[0] & 2) {
		fl.rst_ns = ts;
		fl.rst_dir = data[0] & 4 ? DIR_S2C : DIR_C2S;
	}
	ident_close(pr, &fl, fl.rst_ns ? CLOSE_RST : CLOSE_FIN, ts);
	ident_close(pr, &fl, CLOSE_END, ts + 1);
	ident_free(pr);
	if (f->n != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ident_reply r;
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (ident_parse_reply(copy, size, &r) == 0) {
		if (strnlen(r.text, sizeof(r.text)) >= sizeof(r.text) || r.lport == 0 ||
		    r.rport == 0)
			abort();
	}
	free(copy);
	if (size < 2)
		return 0;
	struct fz a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run(data, size, false, &a);
	run(data, size, true, &b);
	if (memcmp(&a.ev, &b.ev, sizeof(a.ev)) != 0)
		abort();
	return 0;
}
