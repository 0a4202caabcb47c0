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

/* the kinds of cause a remedy is written for */
enum rem_class {
	RC_IDENT,
	RC_CLIENT_PTR,
	RC_CLIENT_FORWARD,
	RC_SELF_PTR,
	RC_SELF_NAME,
	RC_DNSBL,
	RC_IP_LITERAL,
	RC_NAMES, /* helo, sender-domain, recipient-domain, spf */
	RC_BIG,   /* big-message (issue 17) */
	RC_N,
};

#define FIREWALL_113 "or make the client's firewall reject port 113 instead of dropping it"
#define REVERSE_ZONE                                                                               \
	"serve an (even empty) reverse zone for the client's address range on the resolver so "    \
	"PTR lookups get a fast NXDOMAIN"
#define SELF_PTR "publish a PTR record / reverse zone for the server's own address"
#define SELF_NAME "make the host's own name resolvable locally (/etc/hosts or the local zone)"
#define FORWARD "fix the resolver or the forward zone of the client's PTR name"
#define DNSBL_SLOW "the DNSBL zone answers slowly or not at all: remove or replace it"
#define LITERAL_EG "[10.11.12.13], so no MX/A lookup is made for it"

/* The fix whatever the software: what a remedy says when it names none. */
#define GENERIC_IDENT "disable the server's ident (RFC 1413) lookups, " FIREWALL_113
#define GENERIC_CLIENT_PTR REVERSE_ZONE ", or turn off the server's client reverse lookups"
#define GENERIC_SELF_PTR SELF_PTR ", or configure the server's own name so it is not looked up"
#define GENERIC_DNSBL DNSBL_SLOW ", or lower the DNSBL lookup timeout"
#define GENERIC_IP_LITERAL                                                                         \
	"write the relay/smart host as an address literal in brackets, e.g. " LITERAL_EG
#define GENERIC_NAMES                                                                              \
	"fix the resolver or the slow zone, or shorten the resolver timeouts of the "              \
	"sender/recipient/HELO checks"
#define BIG_WHY                                                                                    \
	"so that a huge message is refused at MAIL (SIZE=) or DATA instead of loading the "        \
	"host's disk and filters and being delivered (and failing) again and again"
#define GENERIC_BIG                                                                                \
	"limit the size of the messages the server accepts (exim, postfix: message_size_limit; "   \
	"sendmail: MaxMessageSize; qmail: control/databytes) and of the mailboxes (quotas), " BIG_WHY
#define GENERIC(prefix)                                                                            \
	{                                                                                          \
		prefix GENERIC_IDENT, prefix GENERIC_CLIENT_PTR, prefix FORWARD,                   \
		    prefix GENERIC_SELF_PTR, prefix SELF_NAME, prefix GENERIC_DNSBL,               \
		    prefix GENERIC_IP_LITERAL, prefix GENERIC_NAMES, prefix GENERIC_BIG,           \
	}

/* what the remedy of a server whose software is not known says first */
#define UNKNOWN_PREFIX "server software not recognized from its greeting, so the generic fix: "
#define UNSEEN_PREFIX "server software not known (its greeting was not seen), so the generic fix: "
#define EXCHANGE_PREFIX "Microsoft Exchange (no Exchange setting is named here), the generic fix: "

/*
 * Per software and kind of cause; NULL: the plain generic text.  Every
 * setting named here is in that software's documentation (DESIGN.md,
 * remedies, says where).
 */
static const char *const remedy_text[][RC_N] = {
    [MXS_NONE] = GENERIC(UNSEEN_PREFIX),
    [MXS_UNKNOWN] = GENERIC(UNKNOWN_PREFIX),
    [MXS_EXIM] =
        {
            [RC_IDENT] = "turn off Exim's ident (RFC 1413) calls with "
                         "rfc1413_query_timeout = 0s, or leave the client out of "
                         "rfc1413_hosts, " FIREWALL_113,
            [RC_CLIENT_PTR] = REVERSE_ZONE ", or narrow Exim's host_lookup (Debian: the "
                                           "MAIN_HOST_LOOKUP macro, default *) to the "
                                           "networks whose names are needed",
            [RC_CLIENT_FORWARD] = FORWARD " (Exim checks the name it finds forward; "
                                          "narrowing host_lookup avoids both lookups)",
            [RC_SELF_NAME] = SELF_NAME ", or set Exim's primary_hostname to the fully "
                                       "qualified name (unset, Exim looks up a bare "
                                       "uname() name)",
            [RC_DNSBL] = DNSBL_SLOW " in the dnslists condition of Exim's ACLs, or "
                                    "shorten Exim's DNS timeouts (dns_retrans, dns_retry)",
            [RC_NAMES] = "fix the resolver or the slow zone, or shorten Exim's DNS timeouts "
                         "of the sender/recipient/HELO checks (dns_retrans, dns_retry)",
            [RC_BIG] = "limit the message size with Exim's message_size_limit (Debian "
                       "exim4-config: the MESSAGE_SIZE_LIMIT macro, 50 MB when unset), e.g. "
                       "10M, and the mailboxes with the quota option of the appendfile "
                       "transport, " BIG_WHY,
        },
    [MXS_POSTFIX] =
        {
            [RC_IDENT] = "Postfix makes no ident (RFC 1413) calls itself: find what "
                         "probes the client's port 113 (a policy service or milter), " FIREWALL_113,
            [RC_CLIENT_PTR] =
                REVERSE_ZONE ", or set smtpd_peername_lookup = no in Postfix's main.cf "
                             "(clients are then \"unknown\": reject_unknown_client_hostname "
                             "and name-based access rules no longer match)",
            [RC_CLIENT_FORWARD] = FORWARD " (Postfix checks the PTR name forward; "
                                          "smtpd_peername_lookup = no avoids both lookups)",
            [RC_SELF_NAME] = SELF_NAME ", and set Postfix's myhostname to the fully "
                                       "qualified name in main.cf",
            [RC_DNSBL] = DNSBL_SLOW " in Postfix's postscreen_dnsbl_sites or its "
                                    "reject_rbl_client restrictions (postscreen_dnsbl_timeout "
                                    "bounds postscreen's wait)",
            [RC_IP_LITERAL] = "write Postfix's relayhost as an address literal in "
                              "brackets, e.g. relayhost = " LITERAL_EG,
            [RC_NAMES] = "fix the resolver or the slow zone behind Postfix's "
                         "reject_unknown_helo_hostname / reject_unknown_sender_domain / "
                         "reject_unknown_recipient_domain (or SPF policy) checks, or shorten "
                         "the system resolver's timeouts (options timeout: attempts: in "
                         "/etc/resolv.conf)",
            [RC_BIG] = "limit the message size with Postfix's message_size_limit (10240000 "
                       "bytes by default) and the mailboxes with mailbox_size_limit "
                       "(virtual_mailbox_limit for virtual mailboxes), " BIG_WHY,
        },
    [MXS_SENDMAIL] =
        {
            [RC_IDENT] = "turn off sendmail's ident (RFC 1413) queries with "
                         "Timeout.ident=0 (m4: define(`confTO_IDENT', `0s')), " FIREWALL_113,
            [RC_CLIENT_PTR] =
                REVERSE_ZONE " (sendmail always looks clients up), or shorten "
                             "sendmail's resolver timeouts (Timeout.resolver.retrans, "
                             "Timeout.resolver.retry)",
            [RC_CLIENT_FORWARD] = FORWARD ", or shorten sendmail's resolver timeouts "
                                          "(Timeout.resolver.retrans, "
                                          "Timeout.resolver.retry)",
            [RC_SELF_NAME] = SELF_NAME ", or give sendmail its fully qualified name "
                                       "with define(`confDOMAIN_NAME', ...) ($j)",
            [RC_DNSBL] = DNSBL_SLOW " in sendmail's FEATURE(`dnsbl') / FEATURE(`enhdnsbl') "
                                    "lines, or shorten Timeout.resolver.retrans and "
                                    "Timeout.resolver.retry",
            [RC_IP_LITERAL] = "write sendmail's smart host as an address literal in "
                              "brackets, e.g. define(`SMART_HOST', `[10.11.12.13]'), "
                              "so no MX/A lookup is made for it",
            [RC_NAMES] = "fix the resolver or the slow zone, or shorten sendmail's resolver "
                         "timeouts for the sender/recipient checks "
                         "(Timeout.resolver.retrans, Timeout.resolver.retry)",
            [RC_BIG] = "limit the message size with sendmail's MaxMessageSize (m4: "
                       "define(`confMAX_MESSAGE_SIZE', ...)) and the local mailer's with "
                       "define(`LOCAL_MAILER_MAX', ...), and cap the mailboxes (quotas), " BIG_WHY,
        },
    [MXS_DOVECOT] =
        {
            [RC_IDENT] = "Dovecot makes no ident (RFC 1413) calls itself, but TCP "
                         "wrappers do for user@host patterns in hosts.allow / hosts.deny "
                         "(login_access_sockets = tcpwrap): remove those, " FIREWALL_113,
            [RC_CLIENT_PTR] = REVERSE_ZONE "; if Dovecot checks clients with TCP wrappers "
                                           "(login_access_sockets = tcpwrap), write "
                                           "addresses, not names, in hosts.allow / "
                                           "hosts.deny",
            [RC_SELF_NAME] = SELF_NAME ": Dovecot's login processes look up the "
                                       "system's own host name",
            [RC_BIG] = "cap the mailboxes with Dovecot's quota plugin (quota_rule, e.g. "
                       "*:storage=1G) and the message size at the MTA that delivers to them "
                       "(exim, postfix: message_size_limit; sendmail: MaxMessageSize; qmail: "
                       "control/databytes), so that a huge message never reaches a mailbox "
                       "and is not fetched again and again",
        },
    [MXS_EXCHANGE] = GENERIC(EXCHANGE_PREFIX),
};

static int
rem_class(enum mx_cause_kind kind, enum mx_relation r)
{
	if (kind == MXC_IDENT)
		return RC_IDENT;
	switch (r) {
	case MXR_CLIENT_PTR:
		return RC_CLIENT_PTR;
	case MXR_CLIENT_FORWARD:
		return RC_CLIENT_FORWARD;
	case MXR_SELF_PTR:
		return RC_SELF_PTR;
	case MXR_SELF_NAME:
		return RC_SELF_NAME;
	case MXR_DNSBL:
		return RC_DNSBL;
	case MXR_IP_LITERAL:
		return RC_IP_LITERAL;
	case MXR_HELO:
	case MXR_SENDER_DOMAIN:
	case MXR_RECIPIENT_DOMAIN:
	case MXR_SPF:
		return RC_NAMES;
	case MXR_NONE:
		return kind == MXC_BIG_MESSAGE ? RC_BIG : -1;
	default:
		return -1;
	}
}

const char *
diag_remedy(enum mx_cause_kind kind, enum mx_relation r, enum mx_software sw)
{
	static const char *const plain[RC_N] = {
	    GENERIC_IDENT, GENERIC_CLIENT_PTR, FORWARD,       GENERIC_SELF_PTR, SELF_NAME,
	    GENERIC_DNSBL, GENERIC_IP_LITERAL, GENERIC_NAMES, GENERIC_BIG,
	};
	int c = rem_class(kind, r);
	if (c < 0)
		return "look at local processing or at lookups not visible in this capture";
	if ((unsigned)sw >= sizeof(remedy_text) / sizeof(remedy_text[0]))
		sw = MXS_UNKNOWN;
	return remedy_text[sw][c] ? remedy_text[sw][c] : plain[c];
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

const char *
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
	} else if (w->ncauses == 0 && w->nbig > 0) {
		/* no lookups: big messages loaded the host meanwhile */
		put(g->diagnosis, sizeof(g->diagnosis), &dl,
		    "%sno DNS or ident traffic of the host related to this session during the %.1f s "
		    "wait, while %s on the wire on the same host: ",
		    pre, ws, w->nbig == 1 ? "a big message was" : "big messages were");
		for (int i = 0; i < w->nbig; i++) {
			const struct diag_big *b = &w->big[i];
			double mb = (double)b->bytes / 1e6;
			mx_addr_fmt(&b->peer, r, sizeof(r));
			if (i)
				put(g->diagnosis, sizeof(g->diagnosis), &dl, "; ");
			if (b->own)
				put(g->diagnosis, sizeof(g->diagnosis), &dl,
				    "this session's own message, %s%.1f MB", b->done ? "" : "so far ",
				    mb);
			else
				put(g->diagnosis, sizeof(g->diagnosis), &dl, "%s%.1f MB %s %s",
				    b->done ? "" : "so far ", mb, b->outbound ? "to" : "from", r);
			put(g->diagnosis, sizeof(g->diagnosis), &dl,
			    " (on the wire %.1f s, covering %.1f s of the wait)", b->on_wire_s,
			    b->overlap_ms / 1000);
		}
		rem = diag_remedy(MXC_BIG_MESSAGE, MXR_NONE, w->software);
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
		return rem;
	}

	/* every presented cause, largest overlap first; each remedy once */
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
		const char *m = diag_remedy(w->causes[top].kind, w->causes[top].rel, w->software);
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
	/* one remedy as it is; several numbered, the preamble of a software not
	   known said once when they all have it */
	const char *preamble = w->software == MXS_NONE       ? UNSEEN_PREFIX
	                       : w->software == MXS_EXCHANGE ? EXCHANGE_PREFIX
	                       : w->software == MXS_EXIM || w->software == MXS_POSTFIX ||
	                               w->software == MXS_SENDMAIL || w->software == MXS_DOVECOT
	                           ? NULL
	                           : UNKNOWN_PREFIX;
	size_t skip = 0;
	if (nrem > 1 && preamble) {
		skip = strlen(preamble);
		for (int i = 0; i < nrem; i++)
			if (strncmp(remedies[i], preamble, skip) != 0)
				skip = 0;
		if (skip)
			put(g->remedy, sizeof(g->remedy), &rl, "%s", preamble);
	}
	for (int i = 0; i < nrem; i++) {
		if (nrem > 1)
			put(g->remedy, sizeof(g->remedy), &rl, "%s(%d) ", i ? "; " : "", i + 1);
		put(g->remedy, sizeof(g->remedy), &rl, "%s", remedies[i] + skip);
	}
	return NULL;
}
