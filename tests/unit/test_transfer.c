/*
 * test_transfer.c - a message body as it goes (analyze/transfer.c): one
 * EV_TRANSFER at every MiB and at the end, nothing for a small message.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "analyze/transfer.h"

struct seen {
	int n;
	struct mx_transfer last;
	const struct mx_session *sess;
};

static void
keep(void *ctx, const struct mx_event *ev)
{
	struct seen *s = ctx;
	cr_assert_eq(ev->type, EV_TRANSFER);
	s->n++;
	s->last = ev->u.xfer;
	s->sess = ev->session;
}

Test(transfer, steps_and_end)
{
	struct seen seen = {0};
	struct mx_ids ids = {0};
	struct mx_sink out = {keep, &seen, &ids};
	struct mx_session sess;
	memset(&sess, 0, sizeof(sess));
	sess.id = 7;
	struct xfer_track t;
	xfer_reset(&t);

	xfer_progress(&t, &out, &sess, false, 1000, 100, false);
	xfer_progress(&t, &out, &sess, false, MX_TRANSFER_STEP - 1, 200, false);
	cr_expect_eq(seen.n, 0, "under one step: nothing");
	xfer_progress(&t, &out, &sess, false, MX_TRANSFER_STEP + 5, 300, false);
	xfer_progress(&t, &out, &sess, false, MX_TRANSFER_STEP + 900, 400, false);
	cr_expect_eq(seen.n, 1, "one event per step");
	cr_expect_eq(seen.last.start_ns, 100, "the first byte's time");
	cr_expect_eq(seen.last.session_id, 7);
	cr_expect_eq(seen.sess, &sess);
	xfer_progress(&t, &out, &sess, false, 3 * MX_TRANSFER_STEP, 500, true);
	cr_expect_eq(seen.n, 2, "steps skipped in one call give one event");
	cr_expect(seen.last.done);
	cr_expect_eq(seen.last.bytes, 3 * MX_TRANSFER_STEP);
	cr_expect_eq(t.start_ns, 0, "reset after the end");
	/* the next message starts anew; a small one ends with no event */
	xfer_progress(&t, &out, &sess, true, 10, 600, true);
	cr_expect_eq(seen.n, 2);
	xfer_progress(&t, &out, &sess, true, 2 * MX_TRANSFER_STEP, 700, true);
	cr_expect_eq(seen.n, 3);
	cr_expect(seen.last.to_client);
	cr_expect_eq(seen.last.start_ns, 700);
}
