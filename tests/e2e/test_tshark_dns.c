/*
 * test_tshark_dns.c - on every corpus capture with DNS (MANIFEST.tsv dns
 * column > 0, rows marked DUPLICATE left out), every logical DNS query that
 * tshark sees on port 53 is a dns_query record of mxlag with the same
 * qtype, rcode and latency (within 0.001 ms), except the exceptions listed
 * below, each with its reason; the test log says how many agree
 * ("dns: A/N queries agree, E listed exceptions ...").  Also the checks of
 * issue 15's DNS faults on their captures (5, 6a, 6b, 7).
 *
 * tshark is the oracle for the messages: its frames, addresses, ids,
 * question names and types, header rcodes and its own response times
 * (dns.time).  A logical query: query messages of the same client, server,
 * transport, txid, qname and qtype within the retry window (15 s after the
 * previous send, the tracker's default) are one query; its response is
 * the first response message after its first send with the same five.  Its
 * latency is tshark's dns.time of that response when the query was sent
 * once and the frame holds one message, else the time from its first send
 * to the response's frame.  A record matches by client, server, transport,
 * txid, qname and qtype (the nearest in time).  Names are compared in
 * lower case with every run of octets >= 0x80 as one '?' (tshark shows
 * them as UTF-8 or U+FFFD).  DNS inside ICMP errors and on other ports
 * (mDNS, LLMNR, heuristics) is out of scope: mxlag reads port 53.
 *
 * The captures are read two at a time (xargs -P2, one tshark and one
 * mxlag per capture) into a temporary directory, then compared: about
 * 40 s for the whole corpus on 2 cores.  Skipped when tshark or ../shared
 * is missing.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../analyze/event.h"
#include "../support/e2e.h"

#define SEC 1000000000ULL
#define RETRY_NS (15ULL * SEC)
#define SPAN_NS (60ULL * SEC) /* a lookup's retries end this long after its first send */
#define NAMEMAX 3100          /* a name as tshark shows it: up to 3 octets for one */

/*
 * The listed exceptions: (capture, qname or "*" for every query of the
 * capture, what differs, why).  "what" is one of the mismatch words the
 * test prints: "missing" (no record), "rcode", "latency".
 */
struct exc {
	const char *capture; /* local_path in MANIFEST.tsv */
	const char *qname;   /* tshark's name, or "*" */
	const char *what;
	const char *why;
};

#define TD "the-tcpdump-group+tcpdump/tests/"
#define NDPI "ntop+nDPI/tests/cfgs/default/pcap/"
#define ZEEK "zeek+zeek/testing/btest/Traces/"
#define SV "OISF+suricata-verify/tests/"
#define LINK                                                                                       \
	"a link layer or tunnel mxlag does not decode (DESIGN: Ethernet, 802.1Q, SLL, raw IP, "    \
	"loopback)"
#define MALFORMED                                                                                  \
	"a damaged message tshark decodes leniently (its name shows empty, TYPE0): mxlag's "       \
	"parser rejects it"
#define EXTRCODE                                                                                   \
	"EDNS extended rcode: mxlag's rcode is the 12-bit one (OPT, RFC 6891), tshark's "          \
	"dns.flags.rcode the header's 4 bits"
#define FIRSTBYTE                                                                                  \
	"a TCP response in several segments: mxlag's latency ends at its first byte (DESIGN), "    \
	"tshark's at the segment that completes it"
#define TIME2038                                                                                   \
	"mxlag's time is wrong after 2038-01-19 (the capture layer's time, not DNS): noticed, "    \
	"left for issue 15's capture part"

static const struct exc exceptions[] = {
    /* deliberate: folding (DESIGN "Lifetime of an unanswered lookup") */
    {"*", "*", "folded",
     "a repeat with another id or port within 15 s of the previous send and 60 s of the first is a "
     "retry of the "
     "same lookup to mxlag; tshark pairs by id, so its query is in mxlag's record, which started "
     "earlier or was "
     "answered through the other id"},
    /* link layers and tunnels */
    {SV "vxlan-decoder-03/vxlan.pcap", "*", "missing", LINK " (VXLAN)"},
    {ZEEK "tunnels/vxlan-triple-v2.pcap", "*", "missing", LINK " (VXLAN)"},
    {ZEEK "tunnels/geneve-vxlan-dns-truncated.pcap", "*", "missing", LINK " (Geneve)"},
    {ZEEK "tunnels/gre-pptp.pcap", "*", "missing", LINK " (GRE/PPTP)"},
    {ZEEK "tunnels/gre-sample.pcap", "*", "missing", LINK " (GRE)"},
    {ZEEK "erspan.pcap", "*", "missing", LINK " (ERSPAN)"},
    {"arkime+arkime/tests/pcap/gtp-iphone.pcap", "*", "missing", LINK " (GTP-U)"},
    {"arkime+arkime/tests/pcap/arkime_synthetic.pcap", "example.com", "missing",
     LINK " (IP in IP)"},
    {ZEEK "radiotap.pcap", "*", "missing", LINK " (802.11 radiotap)"},
    {ZEEK "wlanmon.pcap", "*", "missing", LINK " (802.11 monitor)"},
    {TD "arcnet-rfc1051-arp-icmp-http.pcap", "*", "missing", LINK " (ARCNET)"},
    {TD "arcnet-rfc1201-arp-icmp-http.pcap", "*", "missing", LINK " (ARCNET)"},
    {TD "LINKTYPE_PKTAP.pcap", "*", "missing", LINK " (PKTAP)"},
    {TD "LINKTYPE_USER2_PKTAP.pcap", "*", "missing", LINK " (PKTAP as USER2)"},
    {"seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/nflogPacket.pcap", "*", "missing",
     LINK " (NFLOG)"},
    {NDPI "dns.pcap", "e7.whatsapp.net", "missing", LINK " (PPPoE in QinQ)"},
    {TD "LINKTYPE_IPV4_invalid.pcap", "*", "missing",
     "an IPv6 packet in a LINKTYPE_IPV4 file: tshark decodes it anyway, mxlag keeps to the link "
     "type"},
    /* malformed messages */
    {NDPI "fuzz-2006-06-26-2594.pcap", "*", "missing",
     "a fuzzed capture (bits flipped in IP, UDP and DNS): damaged packets and messages tshark "
     "decodes "
     "leniently and mxlag rejects (not checked one by one)"},
    {ZEEK "dns/dns-invalid-names.pcap", "*", "missing", MALFORMED " (a looping or bad name)"},
    {TD "rtp-seg-fault-1.pcapng", "*", "missing", MALFORMED " (RTP on port 53)"},
    {SV "dns-udp-junkrequest-first/input.pcap", "*", "missing", MALFORMED " (junk on port 53)"},
    {"seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/DnsTooManyResources.pcap", "*",
     "missing", MALFORMED " (counts beyond the message)"},
    {SV "dns/dns-forward-pointer/input.pcap", "codemonkey.net", "latency",
     "the query's second question uses a forward compression pointer, which mxlag rejects "
     "(tcpdump's rule, "
     "dns.c): the query is not seen and its response is a no-query record"},
    {NDPI "malformed_dns.pcap", "www.xt.com", "rcode",
     "the responses' second question has a name over 255 octets: mxlag uses no response whose "
     "question "
     "section does not parse (tshark pairs it by id)"},
    /* deliberate differences */
    {ZEEK "dns/dns_extended_rcode.pcap", "*", "rcode", EXTRCODE},
    {TD "dns-badvers.pcap", "*", "rcode", EXTRCODE},
    {TD "dns-badcookie.pcap", "*", "rcode", EXTRCODE},
    {"arkime+arkime/tests/pcap/arkime_synthetic.pcap", "edns-badvers.example.com", "rcode",
     EXTRCODE},
    {"chrissanders+packets/dns_tcp.pcapng", "*", "latency", FIRSTBYTE},
    {"ntop+nDPI/_history/tests/pcap/dns_zone_transfer.pcap", "*", "latency", FIRSTBYTE},
    {SV "dns/dns-query/dns-detect-query-02/input.pcap", "*", "latency",
     "the capture's times start at the epoch (0 s): a time of 0 means 'none' to mxlag, so no "
     "latency"},
    {SV "dns/dns-query/dns-detect-query-05/input.pcap", "*", "latency",
     "the capture's times start at the epoch (0 s): a time of 0 means 'none' to mxlag, so no "
     "latency"},
    /* not DNS */
    {TD "time_2038_overflow.pcap", "*", "missing", TIME2038},
    {TD "time_2039.pcap", "*", "missing", TIME2038},
    {TD "time_2106.pcap", "*", "missing", TIME2038},
    {TD "time_2106_max.pcap", "*", "missing", TIME2038},
    {NULL, NULL, NULL, NULL},
};

/* ---- small parsers ------------------------------------------------------- */

/* "1491950843.825586000" -> ns; 0 when empty */
static uint64_t
parse_ns(const char *s)
{
	uint64_t sec = 0, frac = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9')
		sec = sec * 10 + (uint64_t)(*s++ - '0');
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9' && digits < 9) {
			frac = frac * 10 + (uint64_t)(*s++ - '0');
			digits++;
		}
	}
	while (digits++ < 9)
		frac *= 10;
	return sec * SEC + frac;
}

/* splits s at sep into at most max fields (modifies s); returns the count */
static int
split(char *s, char sep, char **f, int max)
{
	int k = 0;
	if (!s)
		return 0;
	for (;;) {
		if (k == max)
			return k;
		f[k++] = s;
		char *e = strchr(s, sep);
		if (!e)
			return k;
		*e = '\0';
		s = e + 1;
	}
}

/* the last value of a multi-valued field (the innermost header of a tunnel) */
static const char *
last_value(char *s)
{
	char *c = strrchr(s, '\001');
	return c ? c + 1 : s;
}

/* tshark's name, "<Root>" -> "", folded (below) */
static void fold_high(const unsigned char *in, size_t n, char *out, size_t outn);
static void
norm_name(const char *in, char *out, size_t n)
{
	unsigned char raw[NAMEMAX];
	size_t r = 0;
	if (strcmp(in, "<Root>") == 0)
		in = "";
	/* tshark shows a non-printable octet as \ooo (octal) */
	while (*in && r < sizeof(raw)) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			raw[r++] =
			    (unsigned char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 4;
		} else {
			raw[r++] = (unsigned char)*in++;
		}
	}
	fold_high(raw, r, out, n);
}

/*
 * Names are compared as tshark shows them, lower case, with every run of
 * octets >= 0x80 as one '?': tshark shows such octets as UTF-8 when they
 * are, else as U+FFFD (one for one or for several, by its own rules).
 */
static void
fold_high(const unsigned char *in, size_t n, char *out, size_t outn)
{
	size_t i = 0;
	for (size_t j = 0; j < n && i + 1 < outn; j++) {
		if (in[j] < 0x80)
			out[i++] = (char)tolower(in[j]);
		else if (i == 0 || out[i - 1] != '?' || j == 0 || in[j - 1] < 0x80)
			out[i++] = '?';
	}
	out[i] = '\0';
}

/* mxlag's text form (\DDD escapes, "." = root) to octets, then folded */
static void
unescape_name(const char *in, char *out, size_t n)
{
	unsigned char raw[NAMEMAX];
	size_t r = 0;
	if (strcmp(in, ".") == 0)
		in = "";
	while (*in && r < sizeof(raw)) {
		if (in[0] == '\\' && isdigit((unsigned char)in[1]) &&
		    isdigit((unsigned char)in[2]) && isdigit((unsigned char)in[3])) {
			raw[r++] = (unsigned char)((in[1] - '0') * 100 + (in[2] - '0') * 10 +
			                           (in[3] - '0'));
			in += 4;
		} else {
			raw[r++] = (unsigned char)*in++;
		}
	}
	fold_high(raw, r, out, n);
}

/* a JSON string value of key in line (unescaped), "" when absent */
static void
json_str(const char *line, const char *key, char *out, size_t n)
{
	char pat[40];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	size_t i = 0;
	out[0] = '\0';
	if (!p)
		return;
	for (p += strlen(pat); *p && *p != '"' && i + 1 < n; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'u' && strlen(p) >= 5) {
				out[i++] =
				    (char)strtol((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
				p += 4;
				continue;
			}
		}
		out[i++] = *p;
	}
	out[i] = '\0';
}

/* a JSON number (or null -> def) */
static const char *
json_raw(const char *line, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

/* ---- the two sides -------------------------------------------------------- */

struct lq { /* a logical query of tshark */
	char client[48], server[48];
	bool tcp;
	unsigned txid, qtype;
	char qname[NAMEMAX];
	uint64_t first_ns, last_ns;
	int sends;
	bool answered;
	int rcode;
	double latency_ms;
};

struct rec { /* a dns_query record of mxlag */
	char client[48], server[48];
	bool tcp, used;
	unsigned txid;
	char qtype[16];
	char qname[NAMEMAX];
	uint64_t ts_ns;
	int rcode;
	bool has_latency;
	double latency_ms;
	unsigned retransmits;
	char outcome[20];
};

struct vec {
	void *a;
	size_t n, cap, sz;
};

static void *
vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->a = realloc(v->a, v->cap * v->sz);
		cr_assert_not_null(v->a);
	}
	void *e = (char *)v->a + v->n++ * v->sz;
	memset(e, 0, v->sz);
	return e;
}

/*
 * tshark's lines: frame time, ip.src, ipv6.src, ip.dst, ipv6.dst, udp.srcport,
 * tcp.srcport, dns.id, dns.flags.response, dns.count.queries, dns.qry.name,
 * dns.qry.type, dns.flags.rcode, dns.time; several messages of one frame
 * (DNS over TCP) give several values, separated by \001.
 */
static void
read_tshark(char *text, struct vec *lqs)
{
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[14];
		if (split(l, '\t', f, 14) < 14)
			continue;
		uint64_t ts = parse_ns(f[0]);
		const char *src = f[1][0] ? last_value(f[1]) : last_value(f[2]);
		const char *dst = f[3][0] ? last_value(f[3]) : last_value(f[4]);
		bool tcp = f[6][0] != '\0';
		char *ids[64], *qr[64], *qc[64], *names[256], *types[256], *rc[64], *tm[64];
		int nm = split(f[7], '\001', ids, 64);
		int nqr = split(f[8], '\001', qr, 64);
		int nqc = split(f[9], '\001', qc, 64);
		int nn = split(f[10], '\001', names, 256);
		int nt = split(f[11], '\001', types, 256);
		int nrc = split(f[12], '\001', rc, 64);
		int ntm = f[13][0] ? split(f[13], '\001', tm, 64) : 0;
		int qi = 0, ri = 0;
		if (nqr != nm || nqc != nm)
			continue;
		for (int m = 0; m < nm; m++) {
			int count = atoi(qc[m]);
			int first = qi;
			qi += count;
			if (count < 1 || first >= nn || first >= nt)
				continue; /* no question: not a lookup */
			bool resp = strcmp(qr[m], "1") == 0 || strcmp(qr[m], "True") == 0;
			unsigned id = (unsigned)strtoul(ids[m], NULL, 16);
			unsigned qtype = (unsigned)atoi(types[first]);
			char name[NAMEMAX];
			norm_name(names[first], name, sizeof(name));
			if (!resp) {
				struct lq *q = NULL;
				for (size_t i = lqs->n; i-- > 0;) {
					struct lq *x = (struct lq *)lqs->a + i;
					if (x->tcp == tcp && x->txid == id && x->qtype == qtype &&
					    !x->answered && strcmp(x->client, src) == 0 &&
					    strcmp(x->server, dst) == 0 &&
					    strcmp(x->qname, name) == 0) {
						if (ts >= x->last_ns && ts - x->last_ns <= RETRY_NS)
							q = x;
						break;
					}
				}
				if (q) {
					q->last_ns = ts;
					q->sends++;
					continue;
				}
				q = vec_push(lqs);
				snprintf(q->client, sizeof(q->client), "%s", src);
				snprintf(q->server, sizeof(q->server), "%s", dst);
				q->tcp = tcp;
				q->txid = id;
				q->qtype = qtype;
				mx_strlcpy(q->qname, name, sizeof(q->qname));
				q->first_ns = q->last_ns = ts;
				q->sends = 1;
				q->rcode = -1;
				continue;
			}
			int r = ri < nrc ? atoi(rc[ri]) : -1;
			ri++;
			for (size_t i = lqs->n; i-- > 0;) {
				struct lq *x = (struct lq *)lqs->a + i;
				if (x->tcp == tcp && x->txid == id && x->qtype == qtype &&
				    !x->answered && x->first_ns <= ts &&
				    strcmp(x->client, dst) == 0 && strcmp(x->server, src) == 0 &&
				    strcmp(x->qname, name) == 0) {
					x->answered = true;
					x->rcode = r;
					/* dns.time counts from the send it pairs the
					   response with; a retransmitted query's latency
					   counts from its first send */
					if (nm == 1 && ntm == 1 && x->sends == 1)
						x->latency_ms = atof(tm[0]) * 1e3;
					else
						x->latency_ms = (double)(ts - x->first_ns) / 1e6;
					break;
				}
			}
		}
	}
}

static void
read_events(char *text, struct vec *recs)
{
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strstr(l, "\"event\":\"dns_query\""))
			continue;
		struct rec *r = vec_push(recs);
		char tmp[NAMEMAX * 4 + 8];
		json_str(l, "client", r->client, sizeof(r->client));
		json_str(l, "server", r->server, sizeof(r->server));
		json_str(l, "transport", tmp, sizeof(tmp));
		r->tcp = strcmp(tmp, "tcp") == 0;
		json_str(l, "qtype", r->qtype, sizeof(r->qtype));
		json_str(l, "outcome", r->outcome, sizeof(r->outcome));
		json_str(l, "qname", tmp, sizeof(tmp));
		unescape_name(tmp, r->qname, sizeof(r->qname));
		const char *v = json_raw(l, "txid");
		r->txid = v ? (unsigned)atoi(v) : 0;
		v = json_raw(l, "ts");
		r->ts_ns = v ? parse_ns(v) : 0;
		v = json_raw(l, "rcode");
		r->rcode = v && strncmp(v, "null", 4) ? atoi(v) : -1;
		v = json_raw(l, "retransmits");
		r->retransmits = v ? (unsigned)atoi(v) : 0;
		v = json_raw(l, "latency_ms");
		r->has_latency = v && strncmp(v, "null", 4) != 0;
		r->latency_ms = r->has_latency ? atof(v) : 0;
	}
}

static const struct exc *
listed(const char *capture, const char *qname, const char *what)
{
	for (const struct exc *e = exceptions; e->capture; e++)
		if ((strcmp(e->capture, "*") == 0 || strcmp(e->capture, capture) == 0) &&
		    strcmp(e->what, what) == 0 &&
		    (strcmp(e->qname, "*") == 0 || strcmp(e->qname, qname) == 0))
			return e;
	return NULL;
}

struct tally {
	int queries, agree, excepted, failed;
	int folded; /* ... of the excepted: folded retries */
};

/* count mismatches without failing (a test that checks something else) */
static bool quiet_mismatches;

static void
compare(const char *capture, char *ts_text, char *ev_text, struct tally *t, bool use_exceptions)
{
	struct vec lqs = {.sz = sizeof(struct lq)}, recs = {.sz = sizeof(struct rec)};
	read_tshark(ts_text, &lqs);
	read_events(ev_text, &recs);
	for (size_t i = 0; i < lqs.n; i++) {
		struct lq *q = (struct lq *)lqs.a + i;
		char qtb[16];
		const char *qt = mx_qtype_str((uint16_t)q->qtype, qtb, sizeof(qtb));
		struct rec *best = NULL;
		uint64_t bestd = UINT64_MAX;
		for (size_t j = 0; j < recs.n; j++) {
			struct rec *r = (struct rec *)recs.a + j;
			if (r->used || r->tcp != q->tcp || r->txid != q->txid ||
			    strcmp(r->qtype, qt) != 0 || strcmp(r->client, q->client) != 0 ||
			    strcmp(r->server, q->server) != 0 || strcmp(r->qname, q->qname) != 0)
				continue;
			uint64_t d = r->ts_ns > q->first_ns ? r->ts_ns - q->first_ns
			                                    : q->first_ns - r->ts_ns;
			if (d < bestd) {
				bestd = d;
				best = r;
			}
		}
		const char *what = NULL;
		char detail[200] = "";
		if (!best || bestd > 2 * SEC) {
			what = "missing";
			/* mxlag folds a repeat with another id or port within the
			   retry window into the lookup it repeats (DESIGN,
			   "Lifetime of an unanswered lookup") */
			for (size_t j = 0; j < recs.n; j++) {
				struct rec *r = (struct rec *)recs.a + j;
				if (r->retransmits > 0 && r->tcp == q->tcp &&
				    strcmp(r->qtype, qt) == 0 &&
				    strcmp(r->client, q->client) == 0 &&
				    strcmp(r->server, q->server) == 0 &&
				    strcmp(r->qname, q->qname) == 0 && r->ts_ns <= q->first_ns &&
				    q->first_ns - r->ts_ns <= SPAN_NS) {
					what = "folded";
					break;
				}
			}
		} else {
			best->used = true;
			int want_rcode = q->answered ? q->rcode : -1;
			/* the lookup mxlag folded this query into began earlier
			   (a send with another id), or was answered through a
			   retry with another id: folded, as above */
			bool folded_in =
			    best->retransmits > 0 && (best->ts_ns + 1000 < q->first_ns ||
			                              (!q->answered && best->has_latency) ||
			                              (q->answered && best->has_latency &&
			                               best->latency_ms + 0.001 < q->latency_ms));
			if (folded_in &&
			    (best->rcode != want_rcode || q->answered != best->has_latency ||
			     (q->answered && fabs(best->latency_ms - q->latency_ms) > 0.001))) {
				what = "folded";
			} else if (best->rcode != want_rcode) {
				what = "rcode";
				snprintf(detail, sizeof(detail), "rcode %d, tshark %d (%s)",
				         best->rcode, want_rcode, best->outcome);
			} else if (q->answered != best->has_latency ||
			           (q->answered && best->latency_ms - q->latency_ms > 0.001) ||
			           (q->answered && q->latency_ms - best->latency_ms > 0.001)) {
				what = "latency";
				snprintf(detail, sizeof(detail), "latency %.6f ms, tshark %.6f ms",
				         best->has_latency ? best->latency_ms : -1.0,
				         q->answered ? q->latency_ms : -1.0);
			}
		}
		t->queries++;
		if (!what) {
			t->agree++;
			continue;
		}
		if (use_exceptions && listed(capture, q->qname, what)) {
			t->excepted++;
			t->folded += strcmp(what, "folded") == 0;
			continue;
		}
		t->failed++;
		if (!quiet_mismatches)
			cr_expect_fail("%s: %s %s %s txid %u %s %s->%s at %.6f: %s", capture, what,
			               q->tcp ? "tcp" : "udp", qt, q->txid, q->qname, q->client,
			               q->server, (double)q->first_ns / 1e9, detail);
	}
	free(lqs.a);
	free(recs.a);
}

/* writes dir/one.sh: "one.sh INDEX PCAP" -> dir/INDEX.ts (tshark) and
 * dir/INDEX.ev (mxlag's records) */
static void
write_script(const char *dir, const char *bin)
{
	char script[800];
	snprintf(script, sizeof(script), "%s/one.sh", dir);
	FILE *sf = fopen(script, "w");
	cr_assert_not_null(sf);
	fprintf(
	    sf,
	    "#!/bin/sh\n"
	    "d='%s'; agg=$(printf '\\001')\n"
	    "/usr/bin/tshark -n -r \"$2\" -Y 'dns && (udp.port == 53 || tcp.port == 53) && "
	    "!icmp && !icmpv6' -T fields -E separator=/t -E occurrence=a -E \"aggregator=$agg\" "
	    "-e frame.time_epoch -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e udp.srcport "
	    "-e tcp.srcport -e dns.id -e dns.flags.response -e dns.count.queries "
	    "-e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.time "
	    ">\"$d/$1.ts\" 2>/dev/null\n"
	    "'%s' analyze --no-db --quiet --events \"$2\" >\"$d/$1.ev\" 2>/dev/null\n"
	    "exit 0\n",
	    dir, bin);
	fclose(sf);
}

/*
 * One capture (local_path of MANIFEST.tsv) against tshark, with no
 * exceptions: every mismatch fails.  Returns mxlag's records (malloc'd
 * text of JSON lines) for more checks; *t gets the counts.
 */
static char *
one_capture(const char *rel, struct tally *t)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
	char path[800], bin[512];
	snprintf(path, sizeof(path), "%s/corpus/%s", sh, rel);
	if (access(path, R_OK) != 0)
		cr_skip_test("%s absent", path);
	e2e_bin("mxlag", bin, sizeof(bin));
	char *dir = e2e_tmpdir();
	write_script(dir, bin);
	cr_assert_eq(e2e_sh(NULL, "sh '%s/one.sh' 0 '%s'", dir, path), 0);
	snprintf(path, sizeof(path), "%s/0.ts", dir);
	char *ts_text = e2e_slurp(path);
	snprintf(path, sizeof(path), "%s/0.ev", dir);
	char *ev_text = e2e_slurp(path);
	cr_assert(ts_text && ev_text);
	char *ev_copy = strdup(ev_text);
	memset(t, 0, sizeof(*t));
	compare(rel, ts_text, ev_text, t, false);
	free(ts_text);
	free(ev_text);
	e2e_rmdir(dir);
	return ev_copy;
}

Test(tshark_dns, every_corpus_capture, .timeout = 600)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
	if (getenv("MXLAG_UNDER_VALGRIND"))
		cr_skip_test("valgrind.sh runs mxlag on every corpus capture itself");
	char manifest[600], bin[512];
	snprintf(manifest, sizeof(manifest), "%s/corpus/MANIFEST.tsv", sh);
	char *man = e2e_slurp(manifest);
	if (!man)
		cr_skip_test("%s absent", manifest);
	e2e_bin("mxlag", bin, sizeof(bin));
	char *dir = e2e_tmpdir();

	/* the captures: index<TAB>local_path */
	char listf[700];
	snprintf(listf, sizeof(listf), "%s/list", dir);
	FILE *lf = fopen(listf, "w");
	cr_assert_not_null(lf);
	struct vec caps = {.sz = sizeof(char *)};
	char *save = NULL;
	int row = 0;
	for (char *l = strtok_r(man, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[12];
		if (row++ == 0 || split(l, '\t', f, 12) < 12)
			continue;
		if (atoi(f[8]) <= 0 || strstr(f[11], "DUPLICATE"))
			continue;
		char **c = vec_push(&caps);
		*c = f[2];
		fprintf(lf, "%zu %s/corpus/%s\n", caps.n - 1, sh, f[2]);
	}
	fclose(lf);

	/* one tshark and one mxlag per capture, two captures at a time */
	write_script(dir, bin);
	char script[800];
	snprintf(script, sizeof(script), "%s/one.sh", dir);
	cr_assert_eq(e2e_sh(NULL, "xargs -P2 -n2 sh '%s' <'%s'", script, listf), 0);

	struct tally t = {0};
	quiet_mismatches = false;
	for (size_t i = 0; i < caps.n; i++) {
		char p[800];
		const char *cap = ((char **)caps.a)[i];
		snprintf(p, sizeof(p), "%s/%zu.ts", dir, i);
		char *ts_text = e2e_slurp(p);
		snprintf(p, sizeof(p), "%s/%zu.ev", dir, i);
		char *ev_text = e2e_slurp(p);
		cr_assert(ts_text && ev_text, "%s: no output", cap);
		compare(cap, ts_text, ev_text, &t, true);
		free(ts_text);
		free(ev_text);
	}
	int nexc = 0;
	for (const struct exc *e = exceptions; e->capture; e++)
		nexc++;
	cr_log_info("dns: %d/%d queries agree, %d listed exceptions (%d of them folded retries; "
	            "%d entries), %d failed, %zu captures",
	            t.agree, t.queries, t.excepted, t.folded, nexc, t.failed, caps.n);
	fprintf(stderr,
	        "dns: %d/%d queries agree, %d listed exceptions (%d of them folded retries; "
	        "%d entries), %d failed, %zu captures\n",
	        t.agree, t.queries, t.excepted, t.folded, nexc, t.failed, caps.n);
	free(caps.a);
	free(man);
	e2e_rmdir(dir);
}

/* the name of each JSON line of ev that is longer than min characters */
static int
long_names(char *ev, size_t min)
{
	int n = 0;
	char name[NAMEMAX * 4 + 8];
	for (char *l = ev, *e; l && *l; l = e ? e + 1 : NULL) {
		e = strchr(l, '\n');
		if (e)
			*e = '\0';
		if (strstr(l, "\"event\":\"dns_query\"")) {
			json_str(l, "qname", name, sizeof(name));
			n += strlen(name) > min;
		}
		if (e)
			*e = '\n';
	}
	return n;
}

/* issue 15, 6a: names of iodine's tunnel are 252 octets on the wire; as
   \DDD text 24 queries have names longer than 255 characters, kept
   whole (they were cut at 255, and then matched no tshark name) */
Test(tshark_dns, iodine_long_names)
{
	struct tally t;
	char *ev = one_capture("ntop+nDPI/tests/cfgs/default/pcap/dns-tunnel-iodine.pcap", &t);
	cr_expect_eq(t.failed, 0);
	cr_expect_gt(t.queries, 200);
	cr_expect_eq(t.agree, t.queries, "%d/%d agree", t.agree, t.queries);
	cr_expect_eq(long_names(ev, 255), 24);
	free(ev);
}

/* issue 15, 6b: the answers summary of a zone transfer does not hold its
   50 records; the stored text says how many are left out, and what it
   shows and what it leaves out add up to tshark's answer count */
Test(tshark_dns, axfr_summary_says_cut)
{
	const char *rel = "ntop+nDPI/_history/tests/pcap/dns_zone_transfer.pcap";
	struct tally t;
	quiet_mismatches = true; /* the latency of this transfer: see the exceptions */
	char *ev = one_capture(rel, &t);
	char ans[1024] = "", qtype[16] = "", *out = NULL;
	for (char *l = strtok(ev, "\n"); l; l = strtok(NULL, "\n"))
		if (strstr(l, "\"event\":\"dns_query\"")) {
			json_str(l, "answers", ans, sizeof(ans));
			json_str(l, "qtype", qtype, sizeof(qtype));
		}
	free(ev);
	cr_assert_str_eq(qtype, "AXFR");
	cr_assert_eq(e2e_sh(&out,
	                    "/usr/bin/tshark -n -r '%s/corpus/%s' -Y 'dns.flags.response == 1' "
	                    "-T fields -e dns.count.answers 2>/dev/null",
	                    e2e_shared(), rel),
	             0);
	int total = atoi(out);
	free(out);
	cr_expect_eq(total, 50);
	const char *mark = strstr(ans, ",... (");
	cr_assert_not_null(mark, "answers not marked as cut: %s", ans);
	int more = atoi(mark + 6), shown = 1;
	for (const char *p = ans; p < mark; p++)
		shown += *p == ',';
	cr_expect_str_eq(mark, ",... (27 more)");
	cr_expect_eq(shown + more, total, "%d shown + %d more", shown, more);
	/* a TXT text longer than 60 characters says so too */
	cr_expect_not_null(strstr(ans, "pippa@...,"));
}

/* issue 15, 5: DNS over TCP after a client-side gap (suricata-verify
   dns-tcp-ts-gap): query id 1 is lost; queries 0 and 2 and their
   responses are what tshark (and Suricata) see, with tshark's latencies */
Test(tshark_dns, tcp_gap_resync)
{
	struct tally t;
	char *ev = one_capture("OISF+suricata-verify/tests/dns-tcp-ts-gap/input.pcap", &t);
	cr_expect_eq(t.queries, 2);
	cr_expect_eq(t.agree, 2);
	cr_expect_eq(t.failed, 0);
	int n = 0;
	for (char *l = strtok(ev, "\n"); l; l = strtok(NULL, "\n")) {
		struct vec v = {.sz = sizeof(struct rec)};
		read_events(l, &v);
		if (v.n != 1 || !((struct rec *)v.a)->has_latency) {
			free(v.a);
			continue;
		}
		struct rec *r = v.a;
		static const unsigned txid[] = {0, 2};
		static const double ms[] = {37.338, 38.209};
		cr_assert_lt(n, 2, "an extra record: %s", l);
		cr_expect_eq(r->txid, txid[n]);
		cr_expect_str_eq(r->qname, "www.google.com");
		cr_expect_str_eq(r->qtype, "A");
		cr_expect(r->tcp);
		cr_expect_eq(r->rcode, 0);
		cr_expect_str_eq(r->outcome, "answered");
		cr_expect(r->latency_ms > ms[n] - 0.0005 && r->latency_ms < ms[n] + 0.0005,
		          "latency %.6f", r->latency_ms);
		n++;
		free(v.a);
	}
	cr_expect_eq(n, 2);
	free(ev);
}

/*
 * issue 15, 7: a response whose query was not seen is a record of its own,
 * outcome no-query, at the response's time, with the response's rcode and
 * no latency: one for each response tshark pairs with no query
 * (dns.response_to absent).  Returns the number of such responses.
 */
static int
check_no_query(const char *rel)
{
	struct tally t;
	quiet_mismatches = true;
	char *ev = one_capture(rel, &t);
	char *out = NULL;
	cr_assert_eq(
	    e2e_sh(&out,
	           "/usr/bin/tshark -n -r '%s/corpus/%s' -Y 'dns.flags.response == 1 && "
	           "!dns.response_to && (udp.port == 53 || tcp.port == 53) && !icmp' "
	           "-T fields -E separator=/t -e frame.time_epoch -e ip.src -e ipv6.src "
	           "-e ip.dst -e ipv6.dst "
	           "-e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode 2>/dev/null",
	           e2e_shared(), rel),
	    0);
	struct vec recs = {.sz = sizeof(struct rec)};
	read_events(ev, &recs);
	int n = 0, have = 0;
	for (size_t j = 0; j < recs.n; j++)
		have += strcmp(((struct rec *)recs.a)[j].outcome, "no-query") == 0;
	char *save = NULL;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[9], name[NAMEMAX], qtb[16];
		if (split(l, '\t', f, 9) < 9)
			continue;
		const char *src = f[1][0] ? last_value(f[1]) : last_value(f[2]);
		const char *dst = f[3][0] ? last_value(f[3]) : last_value(f[4]);
		f[1] = (char *)src;
		f[2] = (char *)dst;
		f[3] = f[5];
		f[4] = f[6];
		f[5] = f[7];
		f[6] = f[8];
		n++;
		norm_name(f[4], name, sizeof(name));
		const char *qt = mx_qtype_str((uint16_t)atoi(f[5]), qtb, sizeof(qtb));
		uint64_t ts = parse_ns(f[0]);
		struct rec *r = NULL;
		for (size_t j = 0; j < recs.n && !r; j++) {
			struct rec *x = (struct rec *)recs.a + j;
			if (!x->used && strcmp(x->outcome, "no-query") == 0 &&
			    x->txid == (unsigned)strtoul(f[3], NULL, 16) &&
			    strcmp(x->qname, name) == 0 && strcmp(x->qtype, qt) == 0 &&
			    strcmp(x->client, f[2]) == 0 && strcmp(x->server, f[1]) == 0 &&
			    x->ts_ns + 1000 >= ts && x->ts_ns <= ts + 1000)
				r = x;
		}
		cr_expect_not_null(r, "%s: no record for the response %s (id %s) at %s", rel, name,
		                   f[3], f[0]);
		if (!r)
			continue;
		r->used = true;
		cr_expect_eq(r->rcode, atoi(f[6]), "%s: %s rcode", rel, name);
		cr_expect_not(r->has_latency, "%s: %s has a latency", rel, name);
	}
	cr_expect_eq(have, n, "%s: %d no-query records, tshark %d responses alone", rel, have, n);
	free(out);
	free(recs.a);
	free(ev);
	return n;
}

Test(tshark_dns, no_query_records)
{
	/* the response to the query lost in the gap */
	cr_expect_eq(check_no_query("OISF+suricata-verify/tests/dns-tcp-ts-gap/input.pcap"), 1);
	/* an unsolicited response before the answered query */
	cr_expect_eq(check_no_query("OISF+suricata-verify/tests/dns/dns-udp-unsolicited-response/"
	                            "dns-response-2x.pcap"),
	             1);
	/* a response the capture began after, then a NOTIFY answered */
	cr_expect_eq(check_no_query("zeek+zeek/testing/btest/Traces/dns/dns_notify2.pcap"), 1);
	/* a server's answers only */
	cr_expect_eq(check_no_query("zeek+zeek/testing/btest/Traces/dns-edns-ecs.pcap"), 50);
}

/* ... stored with no latency, and no lookup of the host in the reports */
Test(tshark_dns, no_query_stored_not_reported)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char bin[512], *dir = e2e_tmpdir(), *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	cr_assert_eq(e2e_sh(NULL,
	                    "'%s' analyze --quiet --db '%s/m.db' "
	                    "'%s/corpus/zeek+zeek/testing/btest/Traces/dns-edns-ecs.pcap'",
	                    bin, dir, sh),
	             0);
	cr_assert_eq(e2e_sh(&out,
	                    "sqlite3 '%s/m.db' \"SELECT count(*), count(latency_ms), "
	                    "sum(ts = response_ts), count(last_send_ts) FROM dns_queries "
	                    "WHERE outcome = 'no-query'\"",
	                    dir),
	             0);
	cr_expect_str_eq(out, "50|0|50|0\n");
	free(out);
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s/m.db' --format json dns", bin, dir), 0);
	cr_expect_null(strstr(out, "no-query"), "%s", out);
	/* 13 answered, 2 nodata and 4 unanswered queries over the resolvers */
	int sum = 0;
	for (const char *p = strstr(out, "\"queries\":"); p; p = strstr(p + 1, "\"queries\":"))
		sum += atoi(p + strlen("\"queries\":"));
	cr_expect_eq(sum, 19, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s/m.db' --format json summary", bin, dir), 0);
	cr_expect_not_null(strstr(out, "\"dns_queries\":19,"), "%s", out);
	free(out);
	e2e_rmdir(dir);
}
