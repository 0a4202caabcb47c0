/*
 * bounce_storm.h - the shape of mxlag-gen's bounce-storm scenario
 * (scenarios.c), shared with its end-to-end test (tests/e2e/test_bounce.c)
 * so the asserted counts follow from one definition.
 *
 * The spammer BS_SPAMMER opens BS_SESSIONS sessions to the host, BS_PER_SESSION
 * messages each.  Message m (0 ...) has the sender user<m>@f<d>.example with
 * d = (m / 10) % BS_DOMAINS, a recipient that does not exist; its RCPT is
 * refused (550) when m % 10 == 9, else it is accepted and bounced: the host
 * looks up the MX of f<d>.example (mx.f<d>.example) and its A (100.64.0.d,
 * the first bounce to the domain only) and connects.  The MX of a domain
 * with d % 50 == 0 refuses (RST), with d % 50 == 25 answers and takes the
 * null-sender bounce; every other one never answers (SYN and 4 retransmissions,
 * 15 s).  Meanwhile the ordinary client BS_CLIENT sends one message to
 * bob@remote.example, which the host delivers BS_LATE_S s later to
 * BS_REMOTE_MX (no bounce).
 */
#ifndef MXLAG_BOUNCE_STORM_H
#define MXLAG_BOUNCE_STORM_H

#define BS_SPAMMER "198.51.100.66"
#define BS_CLIENT "198.51.100.20"
#define BS_REMOTE_MX "203.0.113.200"
#define BS_SESSIONS 250
#define BS_PER_SESSION 8
#define BS_MESSAGES (BS_SESSIONS * BS_PER_SESSION)
#define BS_DOMAINS 200
#define BS_SESSION_GAP_MS 2000 /* between the spammer's sessions */
#define BS_LATE_S 30
#define BS_ORDINARY_AT_S 200 /* the ordinary client's message, after the first session */

/* the kinds of a domain's MX */
#define BS_REFUSING(d) ((d) % 50 == 0)
#define BS_ANSWERING(d) ((d) % 50 == 25)
#define BS_REFUSED_AT_RCPT(m) ((m) % 10 == 9)
#define BS_DOMAIN_OF(m) (((m) / 10) % BS_DOMAINS)

#endif
