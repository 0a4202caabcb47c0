/* store_fixture.c - see store_fixture.h. */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
fx_tmpdb(char *buf, unsigned long n)
{
	snprintf(buf, n, "/tmp/mxlag-test-XXXXXX");
	int fd = mkstemp(buf);
	if (fd >= 0)
		close(fd);
}

void
fx_rmdb(const char *path)
{
	char p[512];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static void
ep(struct mx_endpoint *e, const char *addr, uint16_t port)
{
	mx_addr_parse(addr, &e->addr);
	e->port = port;
}

static int
emit(struct store *s, struct mx_event *ev)
{
	return store_event(s, ev);
}

static int
txn(struct store *s, const struct mx_session *sess, uint64_t id, const char *cmd, const char *arg,
    uint64_t req, uint64_t rep, const char *code, enum mx_outcome oc, uint64_t end)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = sess;
	ev.u.txn.id = id;
	ev.u.txn.session_id = sess->id;
	mx_strlcpy(ev.u.txn.command, cmd, sizeof(ev.u.txn.command));
	mx_strlcpy(ev.u.txn.argument, arg, sizeof(ev.u.txn.argument));
	ev.u.txn.request_ns = req;
	ev.u.txn.reply_ns = rep;
	mx_strlcpy(ev.u.txn.reply_code, code, sizeof(ev.u.txn.reply_code));
	ev.u.txn.outcome = oc;
	ev.u.txn.end_ns = end;
	return emit(s, &ev);
}

static int
cause(struct store *s, uint64_t id, uint64_t txn_id, enum mx_cause_kind k, enum mx_relation r,
      uint64_t dns, uint64_t ident, uint64_t parent, double overlap, double share, double query_ms,
      const char *remedy)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_CAUSE;
	ev.u.cause = (struct mx_cause){.id = id,
	                               .txn_id = txn_id,
	                               .kind = k,
	                               .relation = r,
	                               .dns_id = dns,
	                               .ident_id = ident,
	                               .parent_id = parent,
	                               .overlap_ms = overlap,
	                               .share = share,
	                               .query_ms = query_ms,
	                               .remedy = remedy};
	return emit(s, &ev);
}

int
fx_store_scenario(struct store *s)
{
	const uint64_t t0 = FX_T0_NS;
	struct mx_session sess;
	struct mx_event ev;
	int rc = 0;

	memset(&sess, 0, sizeof(sess));
	sess.id = 1;
	sess.proto = MXP_SMTP;
	ep(&sess.client, "192.0.2.200", 40112);
	ep(&sess.server, "192.0.2.10", 25);
	sess.server_is_host = true; /* the monitored host */
	sess.start_ns = t0;
	sess.syn_ns = t0 - FX_MS;
	mx_strlcpy(sess.app, "port", sizeof(sess.app));
	sess.software = MXS_EXIM; /* its greeting named exim */

	/* DNS: PTR of the client to the local resolver, and its upstream hop */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = 1;
	ev.u.dns.ts_ns = t0 + 11500ULL * 1000;
	ep(&ev.u.dns.client, "192.0.2.10", 5353);
	ep(&ev.u.dns.server, "127.0.0.1", 53);
	ev.u.dns.txid = 0x1234;
	mx_strlcpy(ev.u.dns.qname, "200.2.0.192.in-addr.arpa", sizeof(ev.u.dns.qname));
	ev.u.dns.qtype = 12;
	ev.u.dns.outcome = MXD_UNANSWERED;
	ev.u.dns.rcode = -1;
	ev.u.dns.retransmits = 2;
	ev.u.dns.last_send_ns = t0 + 20 * FX_SEC;
	rc |= emit(s, &ev);
	ev.u.dns.id = 2;
	ev.u.dns.ts_ns = t0 + 12 * FX_MS;
	ep(&ev.u.dns.client, "192.0.2.10", 33000);
	ep(&ev.u.dns.server, "199.180.180.63", 53);
	ev.u.dns.retransmits = 0;
	ev.u.dns.last_send_ns = 0;
	rc |= emit(s, &ev);

	/* ident probe to the client, dropped by its firewall */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_IDENT;
	ev.u.ident.id = 1;
	ev.u.ident.ts_ns = t0 + 10500ULL * 1000;
	ep(&ev.u.ident.host, "192.0.2.10", 40000);
	ep(&ev.u.ident.peer, "192.0.2.200", 113);
	ev.u.ident.outcome = MXI_UNANSWERED;
	ev.u.ident.end_ns = t0 + 20 * FX_SEC;
	ev.u.ident.syn_retransmits = 3;
	rc |= emit(s, &ev);

	/* slow greeting: 30012.5 ms */
	rc |= txn(s, &sess, 1, "GREETING", "", t0, t0 + 30012500ULL * 1000, "220", MXO_OK, 0);
	mx_strlcpy(sess.helo, "pc17.example", sizeof(sess.helo));
	rc |= txn(s, &sess, 2, "EHLO", "pc17.example", t0 + 30100 * FX_MS, t0 + 30105 * FX_MS,
	          "250", MXO_OK, 0);
	rc |= txn(s, &sess, 3, "AUTH", "PLAIN c2VjcmV0", t0 + 31 * FX_SEC,
	          t0 + 31 * FX_SEC + 2 * FX_MS, "235", MXO_OK, 0);
	rc |= txn(s, &sess, 4, "MAIL", "FROM:<\"a,b\"@example.org>\r\nX", t0 + 32 * FX_SEC,
	          t0 + 32005 * FX_MS, "250", MXO_OK, 0);
	/* slow end of DATA: nothing on the network */
	rc |=
	    txn(s, &sess, 5, "DATA-END", "", t0 + 40 * FX_SEC, t0 + 52 * FX_SEC, "250", MXO_OK, 0);
	/* the client gave up waiting for the RCPT reply after 61 s */
	rc |= txn(s, &sess, 6, "RCPT", "TO:<joe@example.net>", t0 + 50 * FX_SEC, 0, "",
	          MXO_CLIENT_ABORT, t0 + 111 * FX_SEC);

	/* query_ms given by the correlator for the dns causes; the store
	 * derives it for the ident cause (0 = not given) */
	rc |= cause(s, 1, 1, MXC_DNS, MXR_CLIENT_PTR, 1, 0, 0, 30001.0, 1.0, 30001.0,
	            "serve a reverse zone, or narrow Exim's host_lookup");
	rc |= cause(s, 2, 1, MXC_DNS, MXR_UPSTREAM, 2, 0, 1, 30000.5, 0.9999, 30000.5, NULL);
	rc |= cause(s, 3, 1, MXC_IDENT, MXR_IDENT, 0, 1, 0, 26000.0, 0.8663, 0,
	            "rfc1413_query_timeout = 0s");
	rc |= cause(s, 4, 5, MXC_NONE, MXR_NONE, 0, 0, 0, 0, 0, 0, "look at local processing");

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DIAGNOSIS;
	ev.u.diag.txn_id = 1;
	mx_strlcpy(ev.u.diag.diagnosis, "the server's PTR query for the client went unanswered",
	           sizeof(ev.u.diag.diagnosis));
	mx_strlcpy(ev.u.diag.remedy,
	           "serve an (even empty) reverse zone for the internal range so the answer is a "
	           "fast NXDOMAIN",
	           sizeof(ev.u.diag.remedy));
	rc |= emit(s, &ev);
	ev.u.diag.txn_id = 5;
	mx_strlcpy(ev.u.diag.diagnosis, "no network cause seen", sizeof(ev.u.diag.diagnosis));
	mx_strlcpy(ev.u.diag.remedy, "look at local processing", sizeof(ev.u.diag.remedy));
	rc |= emit(s, &ev);

	/* the session, complete */
	sess.end_ns = t0 + 111 * FX_SEC;
	sess.outcome = MXO_CLIENT_ABORT;
	mx_strlcpy(sess.sender_domain, "example.org", sizeof(sess.sender_domain));
	sess.messages = 1;
	sess.bytes_in = 1234;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session = sess;
	rc |= emit(s, &ev);
	return rc;
}

int
fx_run(const char *path, const char *fingerprint)
{
	char err[256];
	struct store *s;
	int rc = store_open(&s, path, err, sizeof(err));
	if (rc != STORE_OK) {
		fprintf(stderr, "fx_run: %s\n", err);
		return rc;
	}
	rc = store_begin_run(s, "fixture.pcap", fingerprint, NULL);
	if (rc == STORE_OK)
		rc = fx_store_scenario(s);
	if (rc == STORE_OK)
		rc = store_end_run(s, NULL);
	if (rc != STORE_OK)
		fprintf(stderr, "fx_run: %s\n", store_errmsg(s));
	store_close(s);
	return rc;
}
