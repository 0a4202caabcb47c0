/*
 * diagnose.c - diagnosis and remedy text for a settled slow reply.
 */
#include "diagnose.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_REMEDIES 8

static const char local_processing[] =
	"look at local processing: content filter, queue disk, load (no network cause seen)";

const char *
diag_remedy(enum mx_cause_kind kind, enum mx_relation r)
{
	if (kind == MXC_IDENT)
		return "disable ident (RFC 1413) lookups (tcpserver -R, exim rfc1413_query_timeout = "
		       "0s, sendmail Timeout.ident=0) or make the client's firewall reject port 113 "
		       "instead of dropping it";
	switch (r) {
	case MXR_CLIENT_PTR:
		return "serve an (even empty) reverse zone for the client's address range on the "
		       "resolver so PTR lookups get a fast NXDOMAIN, or turn off the server's client "
		       "reverse lookups (tcpserver -H)";
	case MXR_SELF_PTR:
		return "publish a PTR record / reverse zone for the server's own address, or give "
		       "the name directly (tcpserver -l NAME; with -H -R against client PTR and "
		       "ident)";
	case MXR_SELF_NAME:
		return "make the host's own name resolvable locally (/etc/hosts or the local zone)";
	case MXR_CLIENT_FORWARD:
		return "fix the resolver or the forward zone of the client's PTR name";
	case MXR_DNSBL:
		return "the DNSBL zone answers slowly or not at all: remove or replace it, or lower "
		       "the DNSBL lookup timeout";
	case MXR_IP_LITERAL:
		return "write the relay/smart host as an address literal in brackets, e.g. "
		       "[10.11.12.13], so no MX/A lookup is made for it";
	case MXR_HELO:
	case MXR_SENDER_DOMAIN:
	case MXR_RECIPIENT_DOMAIN:
	case MXR_SPF:
		return "fix the resolver or the slow zone; shorter resolver timeouts for the "
		       "sender/recipient checks (sendmail Timeout.resolver.*, exim dns_retrans/"
		       "dns_retry)";
	default:
		return "look at local processing or at lookups not visible in this capture";
	}
}

/* Appends to buf (size n, length *len), keeping it terminated; cut silently. */
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	if (*len + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len += (size_t)w;
	if (*len >= n)
		*len = n - 1;
}

static void
cause_line(const struct diag_cause *k, char *line, size_t n)
{
	char a[MX_ADDRSTRLEN];
	if (k->kind == MXC_IDENT) {
		mx_addr_fmt(&k->peer, a, sizeof(a));
		snprintf(line, n, "ident probe to %s port 113 was %s for %.1f s", a,
			 mx_ident_outcome_str(k->ident_outcome), k->overlap_ms / 1000);
		return;
	}
	char tb[12], chain[96] = "";
	const char *qt = mx_qtype_str(k->qtype, tb, sizeof(tb));
	mx_addr_fmt(&k->resolver, a, sizeof(a));
	if (k->upstream)
		snprintf(chain, sizeof(chain),
			 " (behind it %d upstream quer%s of the resolver, %d unanswered)", k->upstream,
			 k->upstream == 1 ? "y" : "ies", k->upstream_unanswered);
	snprintf(line, n, "%s lookup %s %.200s to %s was %s for %.1f s%s", mx_relation_str(k->rel),
		 qt, k->qname ? k->qname : "?", a, mx_dns_outcome_str(k->dns_outcome),
		 k->overlap_ms / 1000, chain);
}

static const char *
conn_state(enum mx_outcome o)
{
	return o == MXO_UNANSWERED ? "unanswered (SYNs only)" : o == MXO_REFUSED ? "refused" : "open";
}

void
diag_compose(const struct diag_wait *w, struct mx_diagnosis *g)
{
	char pre[96] = "", r[MX_ADDRSTRLEN];
	size_t dl = 0, rl = 0;
	double ws = w->wait_ms / 1000;
	g->diagnosis[0] = g->remedy[0] = '\0';
	if (!w->replied && w->outcome == MXO_CUT)
		snprintf(pre, sizeof(pre),
			 "The capture ended while the client was still waiting (%.1f s so far). ", ws);
	else if (!w->replied && w->outcome == MXO_CLIENT_ABORT)
		snprintf(pre, sizeof(pre), "The client gave up after %.1f s without a reply. ", ws);
	else if (!w->replied)
		snprintf(pre, sizeof(pre), "The server closed after %.1f s without a reply. ", ws);
	const char *rem = NULL;
	if (w->ncauses == 0 && w->incomplete) {
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sthe lookups and probes of the host during this %.1f s wait were not all kept "
		    "(the analysis reached its memory caps): no cause is named",
		    pre, ws);
		rem = "analyze a shorter span or fewer hosts at a time (or raise the caps) to see "
		      "the causes of this wait";
	} else if (w->ncauses == 0 && !w->replied && w->outcome == MXO_CUT) {
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sno lookup or probe of the host related to this session during the part of "
		    "the wait the capture saw; what it waited for may come after the end",
		    pre);
		rem = "analyze a capture that covers the whole wait (with the next file of a "
		      "rotation) to see its cause";
	} else if (w->ncauses == 0 && w->outbound) {
		/* the host is the client here: the remote server kept it waiting */
		mx_addr_fmt(&w->server, r, sizeof(r));
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sthe remote server %s took %.1f s to answer the mail host's %s; nothing the "
		    "host did on the network explains it",
		    pre, r, ws, w->command);
		rem = "the delay is on the remote side (its checks or content filter); locally, only "
		      "make sure such waits do not use up the delivery slots (outbound concurrency, "
		      "connect and data timeouts)";
	} else if (w->ncauses == 0 && w->other && strncmp(w->command, "TLS", 3) == 0) {
		/* inside TLS the names the server checks are hidden: a lookup that
		   other sessions' waits overlapped too may well be this one's */
		char line[512];
		cause_line(w->other, line, sizeof(line));
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sinside TLS the names this session's checks use are hidden, and other sessions "
		    "were waiting too, so no lookup of the host can be tied to this %.1f s wait; "
		    "the host's %s",
		    pre, ws, strncmp(line, "unrelated ", 10) == 0 ? line + 10 : line);
		rem = "if that lookup is this session's check (sender, recipient, HELO, SPF), fix "
		      "its zone or the resolver, or shorten the resolver timeouts of those checks; "
		      "else look at local processing (content filter, queue disk, load)";
	} else if (w->ncauses == 0 && w->other) {
		char line[512];
		cause_line(w->other, line, sizeof(line));
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sno DNS or ident lookup of the host related to this session during the %.1f s "
		    "wait (an %s): no network cause seen",
		    pre, ws, line);
		rem = "look at local processing: content filter (and any lookups it makes itself), "
		      "queue disk, load (no network cause seen)";
	} else if (w->ncauses == 0 && w->conn) {
		/* no lookups, but the host itself was connecting out meanwhile */
		mx_addr_fmt(&w->conn->server.addr, r, sizeof(r));
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sno DNS or ident traffic of the host during the %.1f s wait, but its own SMTP "
		    "connection to %s port %u was %s for %.1f s of it",
		    pre, ws, r, w->conn->server.port, conn_state(w->conn->outcome),
		    w->conn->overlap_ms / 1000);
		rem = "the reply waits for a connection the host makes itself (a sender or recipient "
		      "callout, or an interactive delivery to a smart host): make that destination "
		      "reachable or turn the callout/interactive delivery off";
	} else if (w->ncauses == 0 && w->minor_ms > 0) {
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sthe host's lookups for this session covered at most %.1f ms of the %.1f s "
		    "wait: no network cause seen",
		    pre, w->minor_ms, ws);
		rem = local_processing;
	} else if (w->ncauses == 0) {
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sno DNS or ident traffic of the host during the %.1f s wait: no network cause "
		    "seen",
		    pre, ws);
		rem = local_processing;
	}
	if (rem) {
		put(g->remedy, sizeof(g->remedy), &rl, "%s", rem);
		return;
	}

	/* every presented cause, largest overlap first; one remedy per kind */
	put(g->diagnosis, sizeof(g->diagnosis), &dl, "%s", pre);
	bool done[64] = {false};
	const char *remedies[MAX_REMEDIES];
	int nrem = 0, n = w->ncauses < 64 ? w->ncauses : 64;
	for (int shown = 0; shown < n; shown++) {
		int top = -1;
		for (int i = 0; i < n; i++)
			if (!done[i] &&
			    (top < 0 || w->causes[i].overlap_ms > w->causes[top].overlap_ms))
				top = i;
		done[top] = true;
		char line[512];
		cause_line(&w->causes[top], line, sizeof(line));
		put(g->diagnosis, sizeof(g->diagnosis), &dl, "%s%s", shown ? "; " : "", line);
		const char *m = diag_remedy(w->causes[top].kind, w->causes[top].rel);
		bool seen = false;
		for (int i = 0; i < nrem; i++)
			seen |= remedies[i] == m;
		if (!seen && nrem < MAX_REMEDIES)
			remedies[nrem++] = m;
	}
	if (!w->replied && w->outcome == MXO_CUT)
		put(g->diagnosis, sizeof(g->diagnosis), &dl, " (of the %.1f s of the wait seen)",
		    ws);
	else
		put(g->diagnosis, sizeof(g->diagnosis), &dl, " (of a %.1f s wait)", ws);
	if (w->incomplete)
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "; some lookups of that time were not kept (memory caps), others may have "
		    "added to it");
	for (int i = 0; i < nrem; i++)
		put(g->remedy, sizeof(g->remedy), &rl, "%s%s", i ? "; " : "", remedies[i]);
}
