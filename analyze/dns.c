/*
 * dns.c - DNS message parser and query/response tracker (RFC 1035, 3596,
 * 6891, 7766).  See dns.h for the contract.
 *
 * Every wire read goes through capture/bview.h.  Names are decoded with
 * tcpdump's rule for compression pointers: each pointer must point
 * strictly before the previous jump target (the first one before the start
 * of the name), so a walk can only move backwards and always ends; a hop
 * counter and the 255-octet name limit are checked as well.
 */
#include "dns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/bview.h"

/* ---- names ---------------------------------------------------------------- */

struct txt {
	char *buf;
	size_t cap, len;
	bool cut;
};

/* Appends s[0..n) whole or not at all (then marks the text cut). */
static void
txt_put(struct txt *t, const char *s, size_t n)
{
	if (t->cut || t->cap == 0 || n > t->cap - 1 - t->len) {
		t->cut = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* an octet a TXT string shows as itself, not as \DDD */
static inline bool
plain_text_octet(uint8_t c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != ',';
}

/* an octet a name shows as itself (lower-cased): not space, '.' or '"' either */
static inline bool
plain_name_octet(uint8_t c)
{
	return plain_text_octet(c) && c != ' ' && c != '.' && c != '"';
}

static inline char
lower_octet(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* plain_name_octet() and lower_octet() as one table: an octet's lower-cased
 * self, or 0 for one that is escaped (dns_read_name()'s loop) */
#define NAME_PLAIN(c)                                                                        \
	(char)((c) > 0x20 && (c) < 0x7f && (c) != '\\' && (c) != ',' && (c) != '.' && (c) != '"' \
	           ? ((c) >= 'A' && (c) <= 'Z' ? (c) + ('a' - 'A') : (c))                        \
	           : 0)
#define NAME_PLAIN4(c) NAME_PLAIN(c), NAME_PLAIN((c) + 1), NAME_PLAIN((c) + 2), NAME_PLAIN((c) + 3)
#define NAME_PLAIN16(c)                                                                      \
	NAME_PLAIN4(c), NAME_PLAIN4((c) + 4), NAME_PLAIN4((c) + 8), NAME_PLAIN4((c) + 12)
#define NAME_PLAIN64(c)                                                                      \
	NAME_PLAIN16(c), NAME_PLAIN16((c) + 16), NAME_PLAIN16((c) + 32), NAME_PLAIN16((c) + 48)
static const char name_plain[256] = {NAME_PLAIN64(0), NAME_PLAIN64(64), NAME_PLAIN64(128),
                                     NAME_PLAIN64(192)};
#undef NAME_PLAIN64
#undef NAME_PLAIN16
#undef NAME_PLAIN4
#undef NAME_PLAIN

/*
 * One octet of a label (name: lower-cased; '.', space and '"' escaped too)
 * or of a TXT character-string, as is or \DDD.  ',' and '\\' are always
 * escaped: ',' separates the items of an answer summary.
 */
static void
txt_octet(struct txt *t, uint8_t c, bool name)
{
	char e[5];
	if (name ? plain_name_octet(c) : plain_text_octet(c)) {
		e[0] = name ? lower_octet(c) : (char)c;
		txt_put(t, e, 1);
		return;
	}
	e[0] = '\\';
	e[1] = (char)('0' + c / 100);
	e[2] = (char)('0' + c / 10 % 10);
	e[3] = (char)('0' + c % 10);
	txt_put(t, e, 4);
}

bool
dns_read_name(const uint8_t *msg, size_t n, size_t off, char *buf, size_t buflen, size_t *next,
              bool *cut)
{
	struct bview v = bv_make(msg, n);
	struct txt t = {buf, buflen, 0, false};
	size_t pos = off, limit = off, end = 0, wire = 0;
	unsigned hops = 0;
	bool jumped = false;

	if (buflen)
		buf[0] = '\0';
	for (;;) {
		uint8_t len;
		if (!bv_u8(v, pos, &len))
			return false;
		if ((len & 0xc0) == 0xc0) {
			uint8_t lo;
			if (!bv_u8(v, pos + 1, &lo))
				return false;
			size_t ptr = (size_t)(len & 0x3f) << 8 | lo;
			if (!jumped)
				end = pos + 2;
			/* strictly backwards: before the name start, then before the
			 * previous target */
			if (ptr >= limit || ++hops > DNS_MAX_HOPS)
				return false;
			limit = ptr;
			pos = ptr;
			jumped = true;
			continue;
		}
		if (len & 0xc0) /* 01 (extended, RFC 6891) and 10: unsupported */
			return false;
		wire += 1u + len;
		if (wire > DNS_MAX_NAME_WIRE)
			return false;
		if (len == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (!bv_has(v, pos + 1, len))
			return false;
		size_t i = 0, dot = t.len > 0;
		if (!t.cut && t.len + dot + len + 1 <= t.cap) {
			/* room for the dot, the whole label and the NUL: its plain
			   octets straight in, through the table */
			if (dot)
				t.buf[t.len++] = '.';
			char *o = t.buf + t.len;
			const uint8_t *l = msg + pos + 1;
			for (; i < len && name_plain[l[i]]; i++)
				o[i] = name_plain[l[i]];
			t.len += i;
		} else if (dot) {
			txt_put(&t, ".", 1);
		}
		for (; i < len; i++) {
			uint8_t c = msg[pos + 1 + i];
			/* a plain octet with room for it and the NUL: straight in
			   (txt_octet() would do the same, a call and a copy later) */
			if (!t.cut && t.len + 2 <= t.cap && plain_name_octet(c))
				t.buf[t.len++] = lower_octet(c);
			else
				txt_octet(&t, c, true);
		}
		if (t.cap)
			t.buf[t.len] = '\0';
		pos += 1u + len;
	}
	if (wire == 1)
		txt_put(&t, ".", 1);
	if (next)
		*next = end;
	if (cut)
		*cut = t.cut;
	return true;
}

/* ---- message parser ----------------------------------------------------- */

struct summ {
	struct txt t;
	unsigned items;
};

/* room kept for the marker ",... (65535 more)" */
#define SUMM_MARK_MAX 19

static void
summ_add(struct summ *s, const char *item)
{
	size_t n = strlen(item);
	size_t need = n + (s->items ? 1 : 0);
	if (s->t.cut)
		return;
	/* keep room for the marker, so the last item stays whole */
	if (s->t.cap < SUMM_MARK_MAX + 1 || need > s->t.cap - SUMM_MARK_MAX - 1 - s->t.len) {
		s->t.cut = true;
		return;
	}
	if (s->items)
		txt_put(&s->t, ",", 1);
	txt_put(&s->t, item, n);
	s->items++;
}

/* A cut summary ends in ",... (N more)" ("... (N more)" when no item fits):
 * N answer RRs of the header's count are not in it. */
static void
summ_finish(struct summ *s, unsigned ancount)
{
	char mark[SUMM_MARK_MAX + 1];
	if (!s->t.cut)
		return;
	unsigned more = ancount > s->items ? ancount - s->items : 0;
	int k = snprintf(mark, sizeof(mark), "%s... (%u more)", s->items ? "," : "", more);
	s->t.cut = false; /* the marker goes in the room kept for it */
	txt_put(&s->t, mark, (size_t)k);
	s->t.cut = true;
}

/* Renders the rdata of one answer RR; false when the rdata is malformed. */
static bool
rr_summary(const uint8_t *p, size_t n, uint16_t type, size_t rd, uint16_t rdlen, char *item,
           size_t itemlen)
{
	struct bview v = bv_make(p, n);
	size_t next;
	char tb[12];

	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		struct mx_addr a;
		size_t alen = type == DNS_T_A ? 4 : 16;
		if (rdlen != alen)
			break;
		memset(&a, 0, sizeof(a));
		if (type == DNS_T_A)
			mx_addr_set4(&a, p + rd);
		else
			mx_addr_set6(&a, p + rd);
		mx_addr_fmt(&a, item, itemlen);
		return true;
	}
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
	case DNS_T_DNAME:
		if (!dns_read_name(p, n, rd, item, itemlen, &next, NULL) || next > rd + rdlen)
			return false;
		return true;
	case DNS_T_MX: {
		uint16_t pref;
		char host[MX_QNAME_MAX];
		if (rdlen < 3 || !bv_be16(v, rd, &pref))
			return false;
		if (!dns_read_name(p, n, rd + 2, host, sizeof(host), &next, NULL) ||
		    next > rd + rdlen)
			return false;
		snprintf(item, itemlen, "%u %s", (unsigned)pref, host);
		return true;
	}
	case DNS_T_TXT: {
		struct txt t = {item, itemlen < DNS_TXT_SUMMARY + 1 ? itemlen : DNS_TXT_SUMMARY + 1,
		                0, false};
		size_t o = rd, e = rd + rdlen;
		item[0] = '\0';
		while (o < e) {
			uint8_t sl = p[o];
			if (sl > e - o - 1)
				return false;
			for (size_t i = 0; i < sl; i++)
				txt_octet(&t, p[o + 1 + i], false);
			o += 1u + sl;
		}
		/* a text cut at DNS_TXT_SUMMARY characters says so */
		if (t.cut && itemlen > t.len + 3)
			memcpy(item + t.len, "...", 4);
		return true;
	}
	default:
		break;
	}
	snprintf(item, itemlen, "%s", mx_qtype_str(type, tb, sizeof(tb)));
	return true;
}

int
dns_parse(const uint8_t *p, size_t n, struct dns_msg *m)
{
	struct bview v = bv_make(p, n);
	size_t off = DNS_HDR_LEN;

	memset(m, 0, sizeof(*m));
	m->rcode = -1;
	if (!bv_be16(v, 0, &m->id) || !bv_be16(v, 2, &m->flags) || !bv_be16(v, 4, &m->qdcount) ||
	    !bv_be16(v, 6, &m->ancount) || !bv_be16(v, 8, &m->nscount) ||
	    !bv_be16(v, 10, &m->arcount))
		return -1;
	m->qr = (m->flags & DNS_F_QR) != 0;
	m->tc = (m->flags & DNS_F_TC) != 0;
	m->opcode = (uint8_t)(m->flags >> 11 & 0xf);
	m->rcode = m->flags & 0xf;

	for (unsigned i = 0; i < m->qdcount; i++) {
		char scratch[1];
		bool first = i == 0;
		if (!dns_read_name(p, n, off, first ? m->qname : scratch,
		                   first ? sizeof(m->qname) : 0, &off,
		                   first ? &m->qname_cut : NULL))
			return -1;
		uint16_t qt, qc;
		if (!bv_be16(v, off, &qt) || !bv_be16(v, off + 2, &qc))
			return -1;
		off += 4;
		if (first) {
			m->qtype = qt;
			m->qclass = qc;
			m->has_question = true;
		}
	}
	m->question_ok = true;

	struct summ s = {{m->answers, sizeof(m->answers), 0, false}, 0};
	unsigned counts[3] = {m->ancount, m->nscount, m->arcount};
	int rc = 0;
	for (int sec = 0; sec < 3 && rc == 0; sec++) {
		for (unsigned i = 0; i < counts[sec] && rc == 0; i++) {
			uint16_t type, cls, rdlen;
			uint32_t ttl;
			size_t owner = off;
			if (!dns_read_name(p, n, off, NULL, 0, &off, NULL)) {
				rc = -1;
				break;
			}
			if (!bv_be16(v, off, &type) || !bv_be16(v, off + 2, &cls) ||
			    !bv_be32(v, off + 4, &ttl) || !bv_be16(v, off + 8, &rdlen)) {
				rc = -1;
				break;
			}
			off += 10;
			if (!bv_has(v, off, rdlen)) {
				rc = -1;
				break;
			}
			if (sec == 0) {
				char item[MX_QNAME_MAX + 8];
				if (!rr_summary(p, n, type, off, rdlen, item, sizeof(item))) {
					rc = -1;
					break;
				}
				summ_add(&s, item);
				m->n_answers++;
				if (type == m->qtype || m->qtype == DNS_T_ANY ||
				    type == DNS_T_CNAME || type == DNS_T_DNAME)
					m->n_match++;
			} else if (sec == 2 && type == DNS_T_OPT && !m->edns) {
				/* RFC 6891 6.1.3: the owner is the root */
				if (p[owner] == 0) {
					m->edns = true;
					m->edns_udp_size = cls;
					m->edns_version = (uint8_t)(ttl >> 16);
					m->rcode = (int)((ttl >> 24) << 4 | (m->flags & 0xfu));
				}
			}
			off += rdlen;
		}
	}
	summ_finish(&s, m->ancount);
	m->answers_cut = s.t.cut;
	return rc;
}

/* ---- name helpers --------------------------------------------------------- */

/* Splits name into at most max labels (without a trailing dot). */
static int
split_labels(const char *name, const char **lab, size_t *len, int max)
{
	int k = 0;
	const char *s = name;
	size_t total = strlen(name);
	if (total && name[total - 1] == '.')
		total--;
	const char *end = name + total;
	while (s < end && k < max) {
		const char *dot = memchr(s, '.', (size_t)(end - s));
		const char *e = dot ? dot : end;
		lab[k] = s;
		len[k] = (size_t)(e - s);
		k++;
		s = dot ? dot + 1 : end;
		if (dot && s == end) /* empty last label */
			return -1;
	}
	return s < end ? k + 1 : k; /* k+1: more labels follow */
}

static int
dec_octet(const char *s, size_t n)
{
	int v = 0;
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 255 ? v : -1;
}

static int
hex_nibble(const char *s, size_t n)
{
	if (n != 1)
		return -1;
	char c = s[0];
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Reads a reversed address from the first labels of name: 4 decimal
 * labels (v4) or 32 nibbles (v6), v6 tried first.  Returns the number of
 * labels used, 0 if neither form fits.  nlab = labels available.
 */
static int
reversed_addr(const char **lab, const size_t *len, int nlab, struct mx_addr *out)
{
	uint8_t b[16];
	if (nlab >= 32) {
		int i;
		memset(b, 0, sizeof(b));
		for (i = 0; i < 32; i++) {
			int x = hex_nibble(lab[i], len[i]);
			if (x < 0)
				break;
			/* label 0 is the low nibble of the last byte */
			b[15 - i / 2] |= (uint8_t)(i % 2 ? x << 4 : x);
		}
		if (i == 32) {
			memset(out, 0, sizeof(*out));
			mx_addr_set6(out, b);
			return 32;
		}
	}
	if (nlab >= 4) {
		int i;
		for (i = 0; i < 4; i++) {
			int x = dec_octet(lab[i], len[i]);
			if (x < 0)
				break;
			b[3 - i] = (uint8_t)x;
		}
		if (i == 4) {
			memset(out, 0, sizeof(*out));
			mx_addr_set4(out, b);
			return 4;
		}
	}
	return 0;
}

static bool
label_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

#define MAX_LABELS 40

/* The name ends in .in-addr.arpa or .ip6.arpa (a root dot allowed), which
 * dns_arpa_to_addr() needs: most names are passed over on this alone. */
static bool
reverse_zone_suffix(const char *name)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	return (n >= 13 && strncasecmp(name + n - 13, ".in-addr.arpa", 13) == 0) ||
	       (n >= 9 && strncasecmp(name + n - 9, ".ip6.arpa", 9) == 0);
}

bool
dns_arpa_to_addr(const char *qname, struct mx_addr *out)
{
	if (!reverse_zone_suffix(qname))
		return false;
	const char *lab[MAX_LABELS];
	size_t len[MAX_LABELS];
	struct mx_addr a;
	int k = split_labels(qname, lab, len, MAX_LABELS);
	if (k == 6 && reversed_addr(lab, len, 4, &a) == 4 && label_eq(lab[4], len[4], "in-addr") &&
	    label_eq(lab[5], len[5], "arpa"))
		goto ok;
	if (k == 34 && reversed_addr(lab, len, 32, &a) == 32 && label_eq(lab[32], len[32], "ip6") &&
	    label_eq(lab[33], len[33], "arpa"))
		goto ok;
	return false;
ok:
	if (out)
		*out = a;
	return true;
}

/* The zone's first label must not be an address part itself. */
static bool
zone_label_ok(const char *s, size_t n, int family)
{
	if (n == 0)
		return false;
	if (family == 4)
		return dec_octet(s, n) < 0;
	return hex_nibble(s, n) < 0;
}

bool
dns_name_reversed_addr(const char *name, struct mx_addr *out, const char **zone)
{
	const char *lab[MAX_LABELS];
	size_t len[MAX_LABELS];
	struct mx_addr a;
	int k = split_labels(name, lab, len, MAX_LABELS);
	if (k < 0)
		return false;
	int used = reversed_addr(lab, len, k, &a);
	if (used == 32 && (k <= 32 || !zone_label_ok(lab[32], len[32], 6)))
		used = reversed_addr(lab, len, k < 32 ? k : 31, &a); /* try v4 instead */
	if (used == 0 || k <= used || !zone_label_ok(lab[used], len[used], a.family))
		return false;
	if (out)
		*out = a;
	if (zone)
		*zone = lab[used];
	return true;
}

void
dns_name_about(const char *name, struct mx_dns_about *out)
{
	memset(out, 0, sizeof(*out));
	if (dns_arpa_to_addr(name, &out->addr))
		out->kind = MXD_ABOUT_ARPA;
	else if (dns_name_reversed_addr(name, &out->addr, NULL))
		out->kind = MXD_ABOUT_REVERSED;
	else
		out->kind = MXD_ABOUT_NOTHING;
}

const struct mx_dns_about *
dns_about(const char *name, const struct mx_dns_about *ab, struct mx_dns_about *tmp)
{
	if (ab && ab->kind != MXD_ABOUT_UNKNOWN)
		return ab;
	dns_name_about(name, tmp);
	return tmp;
}

bool
dns_name_is_ip_literal(const char *name, struct mx_addr *out)
{
	char tmp[MX_NAME_MAX];
	struct mx_addr a;
	size_t n = 0;
	/* an unbracketed literal has only hex digits, dots and colons: most
	   names fail on their first letters, before any copy */
	for (; name[n]; n++)
		if (name[0] != '[' && !isxdigit((unsigned char)name[n]) && name[n] != '.' &&
		    name[n] != ':')
			return false;
	if (n >= sizeof(tmp))
		return false;
	if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
		memcpy(tmp, name + 1, n - 2);
		tmp[n - 2] = '\0';
		if (strncasecmp(tmp, "ipv6:", 5) == 0)
			memmove(tmp, tmp + 5, strlen(tmp + 5) + 1);
	} else {
		memcpy(tmp, name, n + 1);
		if (n > 1 && tmp[n - 1] == '.')
			tmp[n - 1] = '\0';
	}
	if (!mx_addr_parse(tmp, &a))
		return false;
	if (out)
		*out = a;
	return true;
}

/* ---- tracker -------------------------------------------------------------- */

#define DNS_ALIASES 8 /* (txid, port) pairs remembered per logical query */
#define DEFAULT_TIMEOUT_NS (30ULL * 1000000000ULL)
#define DEFAULT_RETRY_NS (15ULL * 1000000000ULL)
#define DEFAULT_SPAN_NS (60ULL * 1000000000ULL)
#define DEFAULT_MAX_PENDING 65536u

struct alias {
	uint16_t txid, port;
};

/* the (txid, port) pairs of the last answered queries: a second response
   to one of them (a server that answers twice, a resent query or a retry
   with another id or port answered too) is no record */
#define DNS_RECENT 256
struct recent {
	uint64_t hash, ns;
	uint16_t txid, port;
};

struct pq {
	struct pq *hnext;       /* hash chain */
	struct pq *prev, *next; /* age list, oldest last send first */
	struct pq *fprev, *fnext; /* start list, oldest first send first */
	uint64_t hash;
	struct mx_endpoint client, server;
	bool tcp;
	uint16_t qtype, qclass;
	uint16_t txid; /* of the first transmission */
	uint64_t first_ns, last_ns;
	uint64_t owner; /* the session it was made for (dns_owner_fn), 0 = unknown */
	struct mx_dns_about about; /* of the name (dns_name_about()), once */
	uint32_t retransmits;
	uint8_t nalias, alias_next;
	struct alias alias[DNS_ALIASES];
	char *qlong; /* the name when it does not fit qname (\DDD text of a
	                tunnel's names), else NULL */
	char qname[MX_NAME_MAX];
};

static const char *
pq_name(const struct pq *q)
{
	return q->qlong ? q->qlong : q->qname;
}

struct dns_tracker {
	struct dns_cfg cfg;
	struct mx_sink out;
	uint64_t local_ids; /* when out.ids is NULL */
	uint64_t seed;
	struct pq **buckets;
	size_t nbuckets; /* power of two */
	size_t npending;
	struct pq *oldest, *newest;
	struct pq *first, *last; /* by first send */
	struct pq *free; /* reusable entries, chained by hnext */
	dns_owner_fn owner_fn;
	dns_reowner_fn reowner_fn;
	void *owner_ctx;
	struct recent recent[DNS_RECENT];
	unsigned recent_next;
	struct dns_stats st;
};

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static inline uint64_t
mix_addr(uint64_t h, const struct mx_addr *a)
{
	uint64_t w[2];
	mx_addr_words(a, w);
	return mx_mix_word(mx_mix_word(h, w[0]), w[1]);
}

/* A word at a time (a byte at a time was a tenth of a DNS message's
 * handling); the key is what pq_find() compares. */
static uint64_t
key_hash(const struct dns_tracker *t, const struct mx_addr *cli, const struct mx_addr *srv,
         const char *qname, uint16_t qtype, uint16_t qclass, bool tcp)
{
	uint64_t h = mx_mix_word(t->seed, (uint64_t)cli->family | (uint64_t)srv->family << 8 |
	                                      (uint64_t)qtype << 16 | (uint64_t)qclass << 32 |
	                                      (uint64_t)tcp << 48);
	h = mix_addr(h, cli);
	h = mix_addr(h, srv);
	return mx_mix64(mx_mix_bytes(h, qname, strlen(qname)));
}

struct dns_tracker *
dns_tracker_new(const struct dns_cfg *cfg, const struct mx_sink *out)
{
	struct dns_tracker *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg.timeout_ns = cfg && cfg->timeout_ns ? cfg->timeout_ns : DEFAULT_TIMEOUT_NS;
	t->cfg.retry_ns = cfg && cfg->retry_ns ? cfg->retry_ns : DEFAULT_RETRY_NS;
	t->cfg.span_ns = cfg && cfg->span_ns ? cfg->span_ns : DEFAULT_SPAN_NS;
	t->cfg.max_pending = cfg && cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
	if (out)
		t->out = *out;
	size_t nb = 16;
	while (nb < t->cfg.max_pending / 2 && nb < (1u << 20))
		nb <<= 1;
	t->nbuckets = nb;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	/* a per-tracker seed: hash order never shows in the output */
	uintptr_t a = (uintptr_t)t;
	t->seed = mix(1469598103934665603ULL, &a, sizeof(a));
	return t;
}

static bool alias_has(const struct pq *q, uint16_t txid, uint16_t port);

/*
 * The newest pending query with this key (chains hold the newest first);
 * with match_id, the one that sent (txid, port).
 */
static struct pq *
pq_find(const struct dns_tracker *t, uint64_t h, const struct mx_addr *cli,
        const struct mx_addr *srv, const struct dns_msg *m, bool tcp, bool match_id,
        uint16_t port)
{
	for (struct pq *q = t->buckets[h & (t->nbuckets - 1)]; q; q = q->hnext)
		if (q->hash == h && q->qtype == m->qtype && q->qclass == m->qclass && q->tcp == tcp &&
		    mx_addr_eq(&q->client.addr, cli) && mx_addr_eq(&q->server.addr, srv) &&
		    strcmp(pq_name(q), m->qname) == 0 && (!match_id || alias_has(q, m->id, port)))
			return q;
	return NULL;
}

static void
first_unlink(struct dns_tracker *t, struct pq *q)
{
	if (q->fprev)
		q->fprev->fnext = q->fnext;
	else
		t->first = q->fnext;
	if (q->fnext)
		q->fnext->fprev = q->fprev;
	else
		t->last = q->fprev;
	q->fprev = q->fnext = NULL;
}

static void
first_append(struct dns_tracker *t, struct pq *q)
{
	q->fprev = t->last;
	q->fnext = NULL;
	if (t->last)
		t->last->fnext = q;
	else
		t->first = q;
	t->last = q;
}

static void
age_unlink(struct dns_tracker *t, struct pq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		t->oldest = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		t->newest = q->prev;
	q->prev = q->next = NULL;
}

static void
age_append(struct dns_tracker *t, struct pq *q)
{
	q->prev = t->newest;
	q->next = NULL;
	if (t->newest)
		t->newest->next = q;
	else
		t->oldest = q;
	t->newest = q;
}

/* Unlinks q from the table and puts it on the free list. */
static void
pq_release(struct dns_tracker *t, struct pq *q)
{
	struct pq **pp = &t->buckets[q->hash & (t->nbuckets - 1)];
	while (*pp && *pp != q)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = q->hnext;
	age_unlink(t, q);
	first_unlink(t, q);
	t->npending--;
	free(q->qlong);
	q->qlong = NULL;
	q->hnext = t->free;
	t->free = q;
}

/* The outcome of a response: its flags and rcode. */
static enum mx_dns_outcome
rsp_outcome(const struct dns_msg *rsp)
{
	if (rsp->tc)
		return MXD_TRUNCATED;
	if (rsp->rcode == 0)
		return rsp->n_match > 0 || (rsp->n_answers == 0 && rsp->ancount > 0) ? MXD_ANSWERED
		                                                                       : MXD_NODATA;
	if (rsp->rcode == 3)
		return MXD_NXDOMAIN;
	if (rsp->rcode == 2)
		return MXD_SERVFAIL;
	if (rsp->rcode == 5)
		return MXD_REFUSED;
	return MXD_OTHER;
}

static void
pq_emit(struct dns_tracker *t, const struct pq *q, const struct dns_msg *rsp, uint64_t rsp_ns)
{
	struct mx_event ev;
	struct mx_dns *d = &ev.u.dns;

	mx_event_init(&ev, EV_DNS);
	d->id = t->out.ids ? ++t->out.ids->dns : ++t->local_ids;
	d->ts_ns = q->first_ns;
	d->client = q->client;
	d->server = q->server;
	d->tcp = q->tcp;
	d->txid = q->txid;
	mx_strlcpy(d->qname, pq_name(q), sizeof(d->qname));
	d->qtype = q->qtype;
	d->retransmits = q->retransmits;
	d->last_send_ns = q->last_ns;
	d->owner = q->owner;
	d->about = q->about;
	if (!rsp) {
		d->outcome = MXD_UNANSWERED;
		d->rcode = -1;
		d->response_ns = 0;
	} else {
		d->rcode = rsp->rcode;
		d->response_ns = rsp_ns;
		mx_strlcpy(d->answers, rsp->answers, sizeof(d->answers));
		d->outcome = rsp_outcome(rsp);
	}
	t->st.emitted++;
	mx_sink_emit(&t->out, &ev);
}

static void
pq_unanswered(struct dns_tracker *t, struct pq *q)
{
	t->st.unanswered++;
	pq_emit(t, q, NULL, 0);
	pq_release(t, q);
}

void
dns_tracker_expire(struct dns_tracker *t, uint64_t now_ns)
{
	while (t->oldest && now_ns >= t->oldest->last_ns &&
	       now_ns - t->oldest->last_ns >= t->cfg.timeout_ns)
		pq_unanswered(t, t->oldest);
}

void
dns_tracker_finish(struct dns_tracker *t, uint64_t now_ns)
{
	(void)now_ns;
	while (t->oldest)
		pq_unanswered(t, t->oldest);
}

static bool
alias_has(const struct pq *q, uint16_t txid, uint16_t port)
{
	for (unsigned i = 0; i < q->nalias; i++)
		if (q->alias[i].txid == txid && q->alias[i].port == port)
			return true;
	return false;
}

static void
alias_add(struct pq *q, uint16_t txid, uint16_t port)
{
	if (alias_has(q, txid, port))
		return;
	/* a ring: the newest retransmissions are the likeliest to be answered,
	 * but slot 0 (the first transmission) is kept */
	if (q->nalias < DNS_ALIASES) {
		q->alias[q->nalias++] = (struct alias){txid, port};
		return;
	}
	if (q->alias_next < 1 || q->alias_next >= DNS_ALIASES)
		q->alias_next = 1;
	q->alias[q->alias_next++] = (struct alias){txid, port};
}

static void
on_query(struct dns_tracker *t, const struct mx_endpoint *cli, const struct mx_endpoint *srv,
         bool tcp, const struct dns_msg *m, uint64_t ts)
{
	uint64_t h = key_hash(t, &cli->addr, &srv->addr, m->qname, m->qtype, m->qclass, tcp);
	struct pq *q = pq_find(t, h, &cli->addr, &srv->addr, m, tcp, false, 0);
	uint64_t owner = 0;
	struct mx_dns_about about = {0}; /* worked out when first needed */
	/* a retry comes within a resolver's retry interval of the last send,
	   and a lookup does not go on for ever: later, it is a new lookup (a
	   client that reconnects); an answered query is no longer pending */
	if (q && ts >= q->last_ns && (ts - q->last_ns > t->cfg.retry_ns ||
	                              ts - q->first_ns > t->cfg.span_ns))
		q = NULL;
	/* a resend of the same id and port is a retransmission; another id or
	   port may be a retry (djbdns) or a lookup of its own made for another
	   session: its owner tells */
	if (!q || !alias_has(q, m->id, cli->port)) {
		if (t->owner_fn) {
			struct pending_lookup pl = {q ? q->owner : 0, q ? q->last_ns : 0};
			dns_name_about(m->qname, &about);
			owner = t->owner_fn(t->owner_ctx, cli, m, &about, q ? &pl : NULL, ts);
		}
		if (q && owner != q->owner) {
			t->st.owned_apart++;
			q = NULL;
		}
	}
	if (q) {
		t->st.folded++;
		if (q->retransmits == 0 && q->owner && t->reowner_fn) {
			uint64_t o = t->reowner_fn(t->owner_ctx, q->owner, cli, pq_name(q), q->qtype,
			                           q->first_ns, ts);
			if (o != q->owner) {
				t->st.reowned++;
				q->owner = o;
			}
		}
		q->retransmits++;
		if (ts > q->last_ns)
			q->last_ns = ts;
		alias_add(q, m->id, cli->port);
		age_unlink(t, q);
		age_append(t, q);
		return;
	}
	if (t->npending >= t->cfg.max_pending && t->oldest) {
		t->st.overflow++;
		pq_unanswered(t, t->oldest);
	}
	if (t->free) {
		q = t->free;
		t->free = q->hnext;
	} else {
		q = malloc(sizeof(*q));
		if (!q)
			return;
		q->qlong = NULL;
	}
	size_t qlen = strlen(m->qname);
	if (qlen >= sizeof(q->qname)) {
		q->qlong = strdup(m->qname);
		if (!q->qlong) {
			q->hnext = t->free;
			t->free = q;
			return;
		}
	} else {
		memcpy(q->qname, m->qname, qlen + 1);
	}
	q->hash = h;
	q->client = *cli;
	q->server = *srv;
	q->tcp = tcp;
	q->qtype = m->qtype;
	q->qclass = m->qclass;
	q->txid = m->id;
	q->first_ns = q->last_ns = ts;
	q->owner = owner;
	if (about.kind == MXD_ABOUT_UNKNOWN)
		dns_name_about(m->qname, &about);
	q->about = about;
	q->retransmits = 0;
	q->nalias = 1;
	q->alias_next = 1;
	q->alias[0] = (struct alias){m->id, cli->port};
	struct pq **b = &t->buckets[h & (t->nbuckets - 1)];
	q->hnext = *b;
	*b = q;
	age_append(t, q);
	first_append(t, q);
	t->npending++;
}

static bool
recent_has(const struct dns_tracker *t, uint64_t h, uint16_t txid, uint16_t port, uint64_t ts)
{
	for (unsigned i = 0; i < DNS_RECENT; i++) {
		const struct recent *r = &t->recent[i];
		if (r->hash == h && r->txid == txid && r->port == port && r->ns && ts >= r->ns &&
		    ts - r->ns <= t->cfg.timeout_ns)
			return true;
	}
	return false;
}

/*
 * A response with no query seen (the capture began after it, the query
 * was lost, a NOTIFY's answer, an unsolicited answer): a record of its own
 * with outcome no-query, stamped with the response's time, no latency.
 */
static void
emit_no_query(struct dns_tracker *t, const struct mx_endpoint *srv,
              const struct mx_endpoint *cli, bool tcp, const struct dns_msg *m, uint64_t ts)
{
	struct mx_event ev;
	struct mx_dns *d = &ev.u.dns;

	mx_event_init(&ev, EV_DNS);
	d->id = t->out.ids ? ++t->out.ids->dns : ++t->local_ids;
	d->ts_ns = ts;
	d->client = *cli;
	d->server = *srv;
	d->tcp = tcp;
	d->txid = m->id;
	mx_strlcpy(d->qname, m->qname, sizeof(d->qname));
	d->qtype = m->qtype;
	d->outcome = MXD_NO_QUERY;
	d->rcode = m->rcode;
	d->response_ns = ts;
	mx_strlcpy(d->answers, m->answers, sizeof(d->answers));
	t->st.no_query++;
	t->st.emitted++;
	mx_sink_emit(&t->out, &ev);
}

static void
on_response(struct dns_tracker *t, const struct mx_endpoint *srv, const struct mx_endpoint *cli,
            bool tcp, const struct dns_msg *m, uint64_t ts)
{
	uint64_t h = key_hash(t, &cli->addr, &srv->addr, m->qname, m->qtype, m->qclass, tcp);
	struct pq *q = pq_find(t, h, &cli->addr, &srv->addr, m, tcp, true, cli->port);
	if (!q) {
		t->st.unsolicited++;
		if (recent_has(t, h, m->id, cli->port, ts))
			t->st.duplicate++;
		else
			emit_no_query(t, srv, cli, tcp, m, ts);
		return;
	}
	t->st.answered++;
	for (unsigned i = 0; i < q->nalias; i++)
		t->recent[t->recent_next++ % DNS_RECENT] =
			(struct recent){h, ts, q->alias[i].txid, q->alias[i].port};
	pq_emit(t, q, m, ts);
	pq_release(t, q);
}

/* One complete message: src sent it.  Queries are stamped with ts_last
 * (the segment completing them), responses with ts_first (first byte). */
static void
on_message(struct dns_tracker *t, const struct mx_endpoint *src, const struct mx_endpoint *dst,
           bool tcp, const uint8_t *p, size_t n, uint64_t ts_first, uint64_t ts_last)
{
	struct dns_msg m;
	int rc = dns_parse(p, n, &m);

	dns_tracker_expire(t, ts_last);
	if (rc < 0)
		t->st.malformed++;
	if (m.rcode < 0) /* not even a header */
		return;
	if (m.qr)
		t->st.responses++;
	else
		t->st.queries++;
	if (!m.question_ok) {
		if (m.qr)
			t->st.unsolicited++;
		return;
	}
	if (!m.has_question) {
		t->st.no_question++;
		if (m.qr)
			t->st.unsolicited++;
		return;
	}
	if (m.qr)
		on_response(t, src, dst, tcp, &m, ts_first);
	else
		on_query(t, src, dst, tcp, &m, ts_last);
}

void
dns_datagram(struct dns_tracker *t, const struct mx_endpoint *src, const struct mx_endpoint *dst,
             const uint8_t *p, size_t n, uint64_t ts_ns)
{
	on_message(t, src, dst, false, p, n, ts_ns, ts_ns);
}

void
dns_tracker_set_reowner(struct dns_tracker *t, dns_reowner_fn fn)
{
	t->reowner_fn = fn;
}

void
dns_tracker_set_owner(struct dns_tracker *t, dns_owner_fn fn, void *ctx)
{
	t->owner_fn = fn;
	t->owner_ctx = ctx;
}

uint64_t
dns_tracker_oldest_start(const struct dns_tracker *t)
{
	return t->first ? t->first->first_ns : 0;
}

size_t
dns_tracker_pending(const struct dns_tracker *t)
{
	return t->npending;
}

const struct dns_stats *
dns_tracker_stats(const struct dns_tracker *t)
{
	return &t->st;
}

void
dns_tracker_free(struct dns_tracker *t)
{
	if (!t)
		return;
	struct pq *q = t->oldest;
	while (q) {
		struct pq *nx = q->next;
		free(q->qlong);
		free(q);
		q = nx;
	}
	q = t->free;
	while (q) {
		struct pq *nx = q->hnext;
		free(q);
		q = nx;
	}
	free(t->buckets);
	free(t);
}

/* ---- DNS over TCP (RFC 7766 8: 2-octet length prefix) ------------------- */

struct tcp_dir {
	uint8_t hdr[2];
	uint8_t hdr_n;     /* length octets seen */
	uint16_t need;     /* message length once hdr_n == 2 */
	uint32_t have;     /* message octets buffered */
	uint8_t *buf;      /* 65535 octets, allocated on first split message */
	uint64_t first_ns; /* first octet (of the length prefix) */
	bool resync;       /* after a gap or a bad length: waiting for a segment
	                      that begins a message */
	bool dead;         /* no buffer: nothing more is read */
};

struct dns_tcp {
	struct dns_tracker *t;
	struct mx_endpoint cli, srv;
	struct tcp_dir d[2];
};

struct dns_tcp *
dns_tcp_new(struct dns_tracker *t, const struct mx_endpoint *cli, const struct mx_endpoint *srv)
{
	struct dns_tcp *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->t = t;
	c->cli = *cli;
	c->srv = *srv;
	return c;
}

static void
tcp_deliver(struct dns_tcp *c, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct tcp_dir *d = &c->d[dir];
	const struct mx_endpoint *src = dir == MX_C2S ? &c->cli : &c->srv;
	const struct mx_endpoint *dst = dir == MX_C2S ? &c->srv : &c->cli;
	on_message(c->t, src, dst, true, p, n, d->first_ns, ts);
	d->hdr_n = 0;
	d->have = 0;
	d->need = 0;
}

/*
 * Whether a segment after a gap begins a message: a length prefix of at
 * least a header, then a message that parses whole when the segment holds
 * all of it, else one question that parses with a known opcode (0-6) in
 * what the segment holds.  Later segments of a message that began in the
 * gap never pass: they would have to look like a framed message.
 */
static bool
starts_message(const uint8_t *p, size_t n)
{
	struct dns_msg m;
	if (n < 2 + DNS_HDR_LEN)
		return false;
	size_t len = (size_t)p[0] << 8 | p[1];
	if (len < DNS_HDR_LEN)
		return false;
	if (n - 2 >= len)
		return dns_parse(p + 2, len, &m) == 0;
	return dns_parse(p + 2, n - 2, &m) < 0 && m.question_ok && m.qdcount == 1 &&
	       m.opcode <= 6;
}

/* framing lost: what is buffered goes; the next segment that begins a
   message resynchronises */
static void
tcp_lose(struct dns_tcp *c, struct tcp_dir *d)
{
	c->t->st.tcp_dropped += d->have + d->hdr_n;
	d->hdr_n = 0;
	d->have = 0;
	d->need = 0;
	d->resync = true;
}

void
dns_tcp_data(struct dns_tcp *c, int dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	if (!c || (dir != MX_C2S && dir != MX_S2C))
		return;
	struct tcp_dir *d = &c->d[dir];
	if (d->resync && !d->dead) {
		if (!starts_message(p, n)) {
			c->t->st.tcp_dropped += n;
			return;
		}
		d->resync = false;
		c->t->st.tcp_resync++;
	}
	while (n > 0) {
		if (d->dead || d->resync) {
			c->t->st.tcp_dropped += n;
			return;
		}
		if (d->hdr_n < 2) {
			if (d->hdr_n == 0)
				d->first_ns = ts_ns;
			d->hdr[d->hdr_n++] = *p++;
			n--;
			if (d->hdr_n == 2) {
				d->need = (uint16_t)(d->hdr[0] << 8 | d->hdr[1]);
				d->have = 0;
				if (d->need < DNS_HDR_LEN) {
					/* no DNS message is this short: framing is lost */
					c->t->st.malformed++;
					tcp_lose(c, d);
				}
			}
			continue;
		}
		size_t want = d->need - d->have;
		if (d->have == 0 && n >= want) {
			/* whole message in this segment: parse in place */
			tcp_deliver(c, dir, p, want, ts_ns);
			p += want;
			n -= want;
			continue;
		}
		if (!d->buf) {
			d->buf = malloc(65535);
			if (!d->buf) {
				d->dead = true;
				continue;
			}
		}
		size_t k = n < want ? n : want;
		memcpy(d->buf + d->have, p, k);
		d->have += (uint32_t)k;
		p += k;
		n -= k;
		if (d->have == d->need)
			tcp_deliver(c, dir, d->buf, d->need, ts_ns);
	}
}

void
dns_tcp_gap(struct dns_tcp *c, int dir, uint64_t lost, uint64_t ts_ns)
{
	(void)ts_ns;
	if (!c || (dir != MX_C2S && dir != MX_S2C))
		return;
	tcp_lose(c, &c->d[dir]);
	c->t->st.tcp_dropped += lost;
}

void
dns_tcp_free(struct dns_tcp *c)
{
	if (!c)
		return;
	free(c->d[0].buf);
	free(c->d[1].buf);
	free(c);
}
