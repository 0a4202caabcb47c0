/*
 * ident.h - ident probes (RFC 1413, TCP port 113) made by the mail host.
 *
 * A probe is one TCP connection from the mail host (the flow's client) to
 * port 113 of a peer.  The request line "lport , rport" goes client to
 * server; the reply "lport , rport : USERID : OS : user" or
 * "lport , rport : ERROR : NO-USER" comes back.  One EV_IDENT event is
 * emitted per probe, at ident_close():
 *
 *  - answered:   a reply line arrived (complete, or cut by the close);
 *                end_ns = timestamp of the reply line's first byte;
 *                response = "USERID : UNIX : joe" / "ERROR : NO-USER"
 *                (the raw line, sanitised, when it does not parse);
 *  - refused:    no SYN-ACK, the peer reset the SYN; end_ns = the RST;
 *  - unanswered: no SYN-ACK and no RST (SYNs only); end_ns = the last SYN,
 *                the moment the host gave up retrying.
 *                Also a connection that was accepted (SYN-ACK) but closed
 *                without a reply line, for whatever reason (RST or FIN
 *                from either side, idle, end of input): end_ns = the close
 *                time passed to ident_close().
 * ts_ns is the first SYN (the flow's first packet without one),
 * syn_retransmits = SYNs - 1.
 */
#ifndef MXLAG_IDENT_H
#define MXLAG_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/flow.h"
#include "event.h"
#include "proto.h"

#define IDENT_PORT 113
#define IDENT_LINE_MAX 512 /* RFC 1413: 1000 max; we keep 512 octets per line */

struct ident_reply {
	uint16_t lport, rport; /* port on the server side of the probed connection, then ours */
	bool error;            /* ERROR reply */
	char type[16];         /* "USERID" / "ERROR" (upper case) */
	char os[32];           /* USERID: opsys field (charset after ',' kept) */
	char info[96];         /* USERID: the user id; ERROR: the error token */
	char text[128];        /* normalised "USERID : UNIX : joe", "ERROR : NO-USER" */
};

/*
 * Parses one reply line (with or without its CR LF) of n octets; line
 * needs no NUL.  Returns 0 and fills *out, or -1 when the line is not an
 * RFC 1413 reply (*out then zeroed).  Never reads past line[n-1].
 */
int ident_parse_reply(const char *line, size_t n, struct ident_reply *out);

struct ident_probe;

/*
 * New probe for flow f (f->cli = the mail host, f->srv = peer:113); f is
 * only read during the call.  out (and out->ids) must outlive the probe;
 * the event id is ++out->ids->ident.  Returns NULL when out of memory.
 */
struct ident_probe *ident_new(const struct cap_flow *f, const struct mx_sink *out);

/* In-order stream bytes of direction dir (MX_C2S request, MX_S2C reply), split anywhere. */
void ident_data(struct ident_probe *pr, int dir, const uint8_t *p, size_t n, uint64_t ts_ns);

/*
 * The connection ended (f is the flow in its final state).  Emits the
 * EV_IDENT event, once; later calls do nothing.
 */
void ident_close(struct ident_probe *pr, const struct cap_flow *f, enum cap_close why,
                 uint64_t ts_ns);

/* The session the probe was made for (mx_ident.owner), 0 = cannot tell. */
void ident_set_owner(struct ident_probe *pr, uint64_t session_id);

void ident_free(struct ident_probe *pr);

#endif
