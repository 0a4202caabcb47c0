/*
 * capture.c - the capture pipeline: decode (SPAN duplicates dropped) ->
 * TCP flow table / UDP datagrams, with timeouts driven by packet time.
 *
 * The duplicate check runs inside decode_packet(), as its filter: it must
 * see each IP fragment before reassembly, so that a fragment's copy never
 * reaches ipfrag.c (where, arriving after its datagram was complete, it
 * would open a second, never-finished datagram under the same IP ID).
 * A reassembled datagram is not checked again: every fragment of its copy
 * was dropped already.
 */
#include "capture.h"

#include <stdbool.h>
#include <stdlib.h>

/* how often (packet time) fragment state is expired */
#define EXPIRE_INTERVAL_NS 1000000000ULL

struct capture {
	struct cap_stats stats;
	struct decoder *dec;
	struct dedup *dedup;
	struct flowtab *flows;
	const struct cap_ops *ops;
	uint64_t now_ns;
	uint64_t next_expire_ns;
	bool copy; /* the packet being decoded was dropped as a SPAN copy */
};

static bool
drop_copy(void *ctx, struct bview l3, uint32_t wirelen, uint64_t ts_ns)
{
	struct capture *c = ctx;
	c->copy = dedup_seen(c->dedup, l3, wirelen, ts_ns);
	return c->copy;
}

struct capture *
capture_new(const struct capture_cfg *cfg, const struct cap_ops *ops)
{
	struct capture *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ops = ops;
	c->dec = decoder_new(cfg ? &cfg->dec : NULL, &c->stats);
	c->dedup = dedup_new(cfg ? &cfg->dedup : NULL, &c->stats);
	c->flows = flowtab_new(cfg ? &cfg->flow : NULL, ops, &c->stats);
	if (!c->dec || !c->dedup || !c->flows) {
		capture_free(c);
		return NULL;
	}
	decoder_set_filter(c->dec, drop_copy, c);
	return c;
}

void
capture_packet(struct capture *c, const struct pkt *p)
{
	struct decoded d;

	CAP_COUNT(&c->stats, PACKETS);
	CAP_ADD(&c->stats, BYTES, p->wirelen);
	c->copy = false;
	enum decode_rc rc = decode_packet(c->dec, p, &d);
	/* a copy is as if never captured: even its time, later than the
	 * original's, must not move the clock (end of input, timeouts) */
	if (c->copy)
		return;
	if (p->ts_ns < c->now_ns)
		CAP_COUNT(&c->stats, TS_BACKWARDS);
	else
		c->now_ns = p->ts_ns;

	if (rc == DEC_OK) {
		if (d.l4proto == 6) {
			CAP_COUNT(&c->stats, TCP);
			flowtab_tcp(c->flows, &d);
		} else if (d.l4proto == 17) {
			CAP_COUNT(&c->stats, UDP);
			if (c->ops->datagram)
				c->ops->datagram(c->ops->ctx, &d);
		}
	}
	flowtab_expire(c->flows, c->now_ns);
	if (c->now_ns >= c->next_expire_ns) {
		decoder_expire(c->dec, c->now_ns);
		c->next_expire_ns = c->now_ns + EXPIRE_INTERVAL_NS;
	}
}

void
capture_finish(struct capture *c)
{
	flowtab_finish(c->flows, c->now_ns);
}

uint64_t
capture_now(const struct capture *c)
{
	return c->now_ns;
}

struct cap_stats *
capture_stats(struct capture *c)
{
	return &c->stats;
}

void
capture_free(struct capture *c)
{
	if (!c)
		return;
	if (c->flows)
		flowtab_free(c->flows);
	if (c->dec)
		decoder_free(c->dec);
	dedup_free(c->dedup);
	free(c);
}
