/*
 * transfer.c - EV_TRANSFER for a message body as it goes (transfer.h).
 */
#include "transfer.h"

#include <string.h>

void
xfer_reset(struct xfer_track *t)
{
	t->start_ns = t->steps = 0;
}

void
xfer_progress(struct xfer_track *t, const struct mx_sink *out, const struct mx_session *sess,
              bool to_client, uint64_t bytes, uint64_t ts_ns, bool done)
{
	uint64_t steps = bytes / MX_TRANSFER_STEP;

	if (!t->start_ns && bytes)
		t->start_ns = ts_ns;
	if (steps && (done || steps != t->steps)) {
		struct mx_event ev;
		ev.type = EV_TRANSFER;
		ev.session = sess;
		memset(&ev.u.xfer, 0, sizeof(ev.u.xfer));
		ev.u.xfer.session_id = sess->id;
		ev.u.xfer.client = sess->client;
		ev.u.xfer.server = sess->server;
		ev.u.xfer.to_client = to_client;
		ev.u.xfer.start_ns = t->start_ns;
		ev.u.xfer.ts_ns = ts_ns;
		ev.u.xfer.bytes = bytes;
		ev.u.xfer.done = done;
		mx_sink_emit(out, &ev);
	}
	t->steps = steps;
	if (done)
		xfer_reset(t);
}
