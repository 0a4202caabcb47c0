/*
 * transfer.h - a message body as it goes (issue 17): the SMTP and POP3
 * parsers feed the bytes of the current message, this emits EV_TRANSFER
 * at every MX_TRANSFER_STEP of it and once at its end (when it reached a
 * step), for the correlator's big-message causes.
 */
#ifndef MXLAG_TRANSFER_H
#define MXLAG_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct xfer_track {
	uint64_t start_ns; /* the message's first byte, 0 = none yet */
	uint64_t steps;    /* MX_TRANSFER_STEPs reported */
};

/* A new message (or none): forget the current one. */
void xfer_reset(struct xfer_track *t);
/*
 * The current message has bytes so far at ts_ns (done: all of it, and the
 * track is reset after).  to_client: the server sends it (a POP3 RETR).
 */
void xfer_progress(struct xfer_track *t, const struct mx_sink *out, const struct mx_session *sess,
                   bool to_client, uint64_t bytes, uint64_t ts_ns, bool done);

#endif
