/*
 * compact.c - open sessions' ordinary replies and open histogram groups
 * (see compact.h).
 */
#include "compact.h"

#include "hist.h"

#include "../capture/addr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one reply of an open session */
struct crep {
	uint64_t id, request_ns, reply_ns;
	uint64_t size;
	double ms; /* bind_ms's value; NaN = none */
	char *arg;  /* compact only; NULL = none */
	char *text; /* compact, no reply code (TLS): the reply's description */
	char command[16], guess[16], code[8];
	bool compact;
};

/* what the histograms need of a session */
struct sinfo {
	bool known; /* a session was seen */
	enum mx_proto proto;
	char host[48];
	bool outbound;
	uint8_t end; /* which end host is the text of: 0 none, 1 server, 2 client */
	struct mx_addr addr; /* that end's address, when end */
};

struct csess {
	uint64_t id; /* 0 = free slot */
	struct sinfo info;
	struct crep *r;
	uint32_t n, cap, ncompact;
};

struct hbin {
	uint16_t bin;
	uint32_t count;
};

struct group {
	struct compact_group key; /* bins unused */
	struct hbin *b;
	uint32_t nb, capb;
	uint64_t hash;
};

struct compact {
	struct csess *s; /* open addressing on id */
	size_t ns, nslot;
	struct group *g;
	size_t ng, capg;
	uint32_t *gslot; /* index + 1 into g, 0 = empty */
	size_t ngslot;
	uint64_t latest_ns;
	char *out; /* compact_session_json's text */
	size_t outcap;
	char *htext; /* compact_flush_groups's text, HIST_TEXT_MAX */
};

struct compact *
compact_new(void)
{
	return calloc(1, sizeof(struct compact));
}

static void
free_reps(struct csess *x)
{
	for (uint32_t i = 0; i < x->n; i++) {
		free(x->r[i].arg);
		free(x->r[i].text);
	}
	free(x->r);
	x->r = NULL;
	x->n = x->cap = x->ncompact = 0;
}

void
compact_free(struct compact *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nslot; i++)
		if (c->s[i].id)
			free_reps(&c->s[i]);
	free(c->s);
	for (size_t i = 0; i < c->ng; i++)
		free(c->g[i].b);
	free(c->g);
	free(c->gslot);
	free(c->out);
	free(c->htext);
	free(c);
}

static bool
failed_code(const char *code)
{
	return code[0] == '4' || code[0] == '5' || (code[0] == '-' && strcmp(code, "-ERR") == 0);
}

/* the latency the store writes for t (bind_ms), NaN when it writes NULL */
static double
txn_ms(const struct mx_txn *t)
{
	uint64_t end = t->reply_ns ? t->reply_ns : t->end_ns;
	if (!t->request_ns || !end)
		return NAN;
	return (double)(int64_t)(end - t->request_ns) / 1e6;
}

bool
compact_is_notable(const struct mx_txn *t, double notable_ms)
{
	if (notable_ms <= 0 || !t->reply_ns || !t->request_ns || t->outcome != MXO_OK ||
	    failed_code(t->reply_code) || t->reply_ns < t->request_ns)
		return true;
	return txn_ms(t) >= notable_ms;
}

/* ---- sessions ----------------------------------------------------------------- */

static struct csess *
sess_find(struct compact *c, uint64_t id)
{
	if (!c->nslot)
		return NULL;
	for (size_t i = mx_mix64(id) & (c->nslot - 1);; i = (i + 1) & (c->nslot - 1)) {
		if (c->s[i].id == id)
			return &c->s[i];
		if (c->s[i].id == 0)
			return NULL;
	}
}

static bool
sess_grow(struct compact *c)
{
	size_t n = c->nslot ? c->nslot * 2 : 256;
	struct csess *s = calloc(n, sizeof(*s));
	if (!s)
		return false;
	for (size_t i = 0; i < c->nslot; i++) {
		if (!c->s[i].id)
			continue;
		size_t j = mx_mix64(c->s[i].id) & (n - 1);
		while (s[j].id)
			j = (j + 1) & (n - 1);
		s[j] = c->s[i];
	}
	free(c->s);
	c->s = s;
	c->nslot = n;
	return true;
}

static struct csess *
sess_get(struct compact *c, uint64_t id)
{
	struct csess *x = sess_find(c, id);
	if (x)
		return x;
	if ((c->ns + 1) * 2 > c->nslot && !sess_grow(c))
		return NULL;
	size_t i = mx_mix64(id) & (c->nslot - 1);
	while (c->s[i].id)
		i = (i + 1) & (c->nslot - 1);
	memset(&c->s[i], 0, sizeof(c->s[i]));
	c->s[i].id = id;
	c->ns++;
	return &c->s[i];
}

/* removes x from the table (backward-shift deletion) */
static void
sess_del(struct compact *c, struct csess *x)
{
	free_reps(x);
	size_t i = (size_t)(x - c->s);
	c->s[i].id = 0;
	c->ns--;
	for (size_t j = (i + 1) & (c->nslot - 1); c->s[j].id; j = (j + 1) & (c->nslot - 1)) {
		size_t home = mx_mix64(c->s[j].id) & (c->nslot - 1);
		/* can entry j move back into the hole at i? */
		if (((j - home) & (c->nslot - 1)) >= ((j - i) & (c->nslot - 1))) {
			c->s[i] = c->s[j];
			c->s[j].id = 0;
			c->s[j].r = NULL;
			i = j;
		}
	}
}

/* What the histograms need of sess; the host's text is formatted again
 * only when its end or address changed (a session's replies share it). */
static void
info_of(struct sinfo *in, const struct mx_session *sess)
{
	uint8_t end = !sess ? 0 : sess->server_is_host ? 1 : sess->client_is_host ? 2 : 0;
	const struct mx_addr *a = end == 1 ? &sess->server.addr : end == 2 ? &sess->client.addr : NULL;
	if (sess && in->known && in->end == end && (!a || mx_addr_eq(&in->addr, a))) {
		in->proto = sess->proto;
		in->outbound = sess->outbound;
		return;
	}
	memset(in, 0, sizeof(*in));
	if (!sess)
		return;
	in->known = true;
	in->proto = sess->proto;
	in->outbound = sess->outbound;
	in->end = end;
	if (a) {
		in->addr = *a;
		mx_addr_fmt(a, in->host, sizeof(in->host));
	}
}

/* ---- histogram groups ----------------------------------------------------------- */

/*
 * A group's key is hashed and compared a word at a time: count_reply()
 * builds it on a zeroed struct with every text zero-padded to its array's
 * end, so two keys are equal exactly when their arrays' bytes are.  (This
 * runs for every reply; byte-wise hashing and four strcmp()s were most of
 * count_reply().)
 */
_Static_assert(sizeof(((struct compact_group *)0)->host) % 8 == 0 &&
                   sizeof(((struct compact_group *)0)->protocol) % 8 == 0 &&
                   sizeof(((struct compact_group *)0)->command) % 8 == 0 &&
                   sizeof(((struct compact_group *)0)->guess) % 8 == 0,
               "the key's texts are whole words");

static uint64_t
words_hash(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, sizeof(w));
		h = mx_mix_word(h, w);
	}
	return h;
}

static bool
words_eq(const char *a, const char *b, size_t n)
{
	uint64_t d = 0;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		d |= x ^ y;
	}
	return d == 0;
}

#define KEY_TEXTS(X) X(host) X(protocol) X(command) X(guess)

static uint64_t
key_hash(const struct compact_group *k)
{
	uint64_t h = mx_mix64((uint64_t)k->minute) ^ (k->outbound ? 0x9e3779b97f4a7c15ull : 0);
#define HASH(f) h = words_hash(h, k->f, sizeof(k->f));
	KEY_TEXTS(HASH)
#undef HASH
	return mx_mix64(h);
}

static bool
key_eq(const struct compact_group *a, const struct compact_group *b)
{
	return a->minute == b->minute && a->outbound == b->outbound &&
#define EQ(f) words_eq(a->f, b->f, sizeof(a->f)) &&
	       KEY_TEXTS(EQ) true;
#undef EQ
}

static bool
gindex_build(struct compact *c, size_t nslot)
{
	uint32_t *s = calloc(nslot, sizeof(*s));
	if (!s)
		return false;
	for (size_t i = 0; i < c->ng; i++) {
		size_t j = c->g[i].hash & (nslot - 1);
		while (s[j])
			j = (j + 1) & (nslot - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(c->gslot);
	c->gslot = s;
	c->ngslot = nslot;
	return true;
}

static struct group *
group_get(struct compact *c, const struct compact_group *k)
{
	uint64_t h = key_hash(k);
	if (c->ngslot) {
		for (size_t j = h & (c->ngslot - 1); c->gslot[j]; j = (j + 1) & (c->ngslot - 1)) {
			struct group *g = &c->g[c->gslot[j] - 1];
			if (g->hash == h && key_eq(&g->key, k))
				return g;
		}
	}
	if (c->ng == c->capg) {
		size_t cap = c->capg ? c->capg * 2 : 64;
		struct group *n = realloc(c->g, cap * sizeof(*n));
		if (!n)
			return NULL;
		c->g = n;
		c->capg = cap;
	}
	if ((c->ng + 1) * 2 > c->ngslot &&
	    !gindex_build(c, c->ngslot ? c->ngslot * 2 : 128))
		return NULL;
	struct group *g = &c->g[c->ng++];
	memset(g, 0, sizeof(*g));
	g->key = *k;
	g->hash = h;
	size_t j = h & (c->ngslot - 1);
	while (c->gslot[j])
		j = (j + 1) & (c->ngslot - 1);
	c->gslot[j] = (uint32_t)c->ng;
	return g;
}

static bool
group_add(struct group *g, double ms)
{
	g->key.replies++;
	if (isnan(ms))
		return true;
	g->key.n++;
	g->key.sum_ms += ms;
	if (ms > g->key.max_ms || g->key.n == 1)
		g->key.max_ms = ms;
	if (ms < g->key.min_ms || g->key.n == 1)
		g->key.min_ms = ms;
	uint16_t bin = (uint16_t)hist_bin(ms);
	/* the first bin >= bin, without a branch on the comparisons (the
	   bins of replies in turn are not predictable, and the mispredicted
	   branches of the plain search were a third of count_reply()) */
	uint32_t lo = 0;
	if (g->nb) {
		const struct hbin *base = g->b;
		for (uint32_t n = g->nb; n > 1;) {
			uint32_t half = n / 2;
			base = base[half].bin < bin ? base + half : base;
			n -= half;
		}
		lo = (uint32_t)(base - g->b) + (base->bin < bin);
	}
	if (lo < g->nb && g->b[lo].bin == bin) {
		g->b[lo].count++;
		return true;
	}
	if (g->nb == g->capb) {
		uint32_t cap = g->capb ? g->capb * 2 : 8;
		struct hbin *n = realloc(g->b, cap * sizeof(*n));
		if (!n)
			return false;
		g->b = n;
		g->capb = cap;
	}
	memmove(&g->b[lo + 1], &g->b[lo], (g->nb - lo) * sizeof(*g->b));
	g->b[lo] = (struct hbin){bin, 1};
	g->nb++;
	return true;
}

static int
count_reply(struct compact *c, const struct sinfo *in, const struct crep *r)
{
	/* zeroed, each text copied up to its NUL: key_hash() and key_eq() read
	   the arrays whole */
	struct compact_group k;
	memset(&k, 0, sizeof(k));
	uint64_t sec = r->request_ns / 1000000000u;
	k.minute = (int64_t)(sec - sec % 60);
	memcpy(k.host, in->host, strnlen(in->host, sizeof(k.host) - 1));
	if (in->known)
		mx_strlcpy(k.protocol, mx_proto_str(in->proto), sizeof(k.protocol));
	k.outbound = in->outbound;
	memcpy(k.command, r->command, strnlen(r->command, sizeof(k.command) - 1));
	memcpy(k.guess, r->guess, strnlen(r->guess, sizeof(k.guess) - 1));
	struct group *g = group_get(c, &k);
	if (!g || !group_add(g, r->ms))
		return COMPACT_NOMEM;
	if (r->request_ns > c->latest_ns)
		c->latest_ns = r->request_ns;
	return 0;
}

/* ---- replies ------------------------------------------------------------------ */

static void
rep_of(struct crep *r, const struct mx_txn *t)
{
	memset(r, 0, sizeof(*r));
	r->id = t->id;
	r->request_ns = t->request_ns;
	r->reply_ns = t->reply_ns;
	r->size = t->size;
	/* a wait cut by the end of the input is counted, its latency is not: it
	   was at least that long, not that long (no percentile reads it) */
	r->ms = t->outcome == MXO_CUT ? NAN : txn_ms(t);
	memcpy(r->command, t->command, sizeof(r->command));
	r->command[sizeof(r->command) - 1] = '\0';
	memcpy(r->guess, t->guess, sizeof(r->guess));
	r->guess[sizeof(r->guess) - 1] = '\0';
	memcpy(r->code, t->reply_code, sizeof(r->code));
	r->code[sizeof(r->code) - 1] = '\0';
}

int
compact_reply(struct compact *c, const struct mx_session *sess, const struct mx_txn *t,
              const char *argument, bool notable)
{
	struct crep r;
	rep_of(&r, t);
	if (!sess || sess->id != t->session_id) {
		/* no session to hang it on: counted now, stored as a row */
		struct sinfo in;
		info_of(&in, NULL);
		return count_reply(c, &in, &r) ? COMPACT_NOMEM : COMPACT_ROW;
	}
	struct csess *x = sess_get(c, sess->id);
	if (!x)
		return COMPACT_NOMEM;
	info_of(&x->info, sess);
	if (x->n == x->cap) {
		uint32_t cap = x->cap ? x->cap * 2 : 8;
		struct crep *n = realloc(x->r, cap * sizeof(*n));
		if (!n)
			return COMPACT_NOMEM;
		x->r = n;
		x->cap = cap;
	}
	bool keep = !notable && x->ncompact < COMPACT_MAX_PER_SESSION;
	if (keep && argument && argument[0] && !(r.arg = strdup(argument)))
		return COMPACT_NOMEM;
	if (keep && !t->reply_code[0] && t->reply_text[0] &&
	    !(r.text = strndup(t->reply_text, sizeof(t->reply_text)))) {
		free(r.arg);
		return COMPACT_NOMEM;
	}
	r.compact = keep;
	x->r[x->n++] = r;
	if (keep)
		x->ncompact++;
	return keep ? COMPACT_KEPT : COMPACT_ROW;
}

/* ---- JSON --------------------------------------------------------------------- */

struct sbuf {
	struct compact *c;
	size_t n;
	bool nomem;
};

/* room for n more bytes and the NUL; false (b->nomem set) when out of memory */
static __attribute__((noinline)) bool
grow(struct sbuf *b, size_t n)
{
	size_t cap = b->c->outcap ? b->c->outcap : 256;
	while (cap < b->n + n + 1)
		cap *= 2;
	char *o = realloc(b->c->out, cap);
	if (!o) {
		b->nomem = true;
		return false;
	}
	b->c->out = o;
	b->c->outcap = cap;
	return true;
}

/* inline: a record is written a few bytes at a time (put_char()) */
static inline void
put(struct sbuf *b, const char *s, size_t n)
{
	if (b->nomem || (b->n + n + 1 > b->c->outcap && !grow(b, n)))
		return;
	memcpy(b->c->out + b->n, s, n);
	b->n += n;
	b->c->out[b->n] = '\0';
}

/* the n bytes at s inside a JSON string: '"', '\\' and control bytes escaped */
static void
put_esc(struct sbuf *b, const char *s, size_t n)
{
	const char *end = s + n, *run = s;
	for (; s < end; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		put(b, run, (size_t)(s - run));
		char esc[8];
		int k = ch == '"' ? snprintf(esc, sizeof(esc), "\\\"")
		        : ch == '\\' ? snprintf(esc, sizeof(esc), "\\\\")
		                     : snprintf(esc, sizeof(esc), "\\u%04x", ch);
		put(b, esc, (size_t)k);
		run = s + 1;
	}
	put(b, run, (size_t)(s - run));
}

/* the n bytes at s as a JSON string */
static void
put_strn(struct sbuf *b, const char *s, size_t n)
{
	put(b, "\"", 1);
	put_esc(b, s, n);
	put(b, "\"", 1);
}

/* s as a JSON string; null for NULL or "" */
static void
put_str(struct sbuf *b, const char *s)
{
	if (!s || !*s)
		put(b, "null", 4);
	else
		put_strn(b, s, strlen(s));
}

/*
 * The parts of a MAIL or RCPT argument "FROM:<local@sender>rest" or
 * "TO:<local@rcpt>rest" (compact.h): *local and its length, *rest (maybe
 * ""); false when the argument has not that form.  A domain with a comma is
 * never used: the view takes the first recipient domain up to the first
 * comma.
 */
static bool
addr_parts(const char *cmd, const char *arg, const char *sender, const char *rcpt,
           const char **local, size_t *local_len, const char **rest)
{
	const char *pre, *dom;
	if (strcmp(cmd, "MAIL") == 0) {
		pre = "FROM:<";
		dom = sender;
	} else if (strcmp(cmd, "RCPT") == 0) {
		pre = "TO:<";
		dom = rcpt;
	} else {
		return false;
	}
	size_t pl = strlen(pre);
	if (!arg || !dom || !dom[0] || strchr(dom, ',') || strncmp(arg, pre, pl) != 0)
		return false;
	/* "@" dom ">" after the local part */
	size_t dl = strlen(dom);
	const char *l = arg + pl, *at = l;
	while ((at = strchr(at, '@')) != NULL) {
		if (strncmp(at + 1, dom, dl) == 0 && at[1 + dl] == '>')
			break;
		at++;
	}
	if (!at)
		return false;
	*local = l;
	*local_len = (size_t)(at - l);
	*rest = at + 1 + dl + 1;
	return true;
}

/* The argument of a MAIL or RCPT as ["local"] or ["local", "rest"] when
 * addr_parts() finds them; false (nothing written) otherwise. */
static bool
put_addr_arg(struct sbuf *b, const char *cmd, const char *arg, const char *sender,
             const char *rcpt)
{
	const char *local, *rest;
	size_t len;
	if (!addr_parts(cmd, arg, sender, rcpt, &local, &len, &rest))
		return false;
	put(b, "[", 1);
	put_strn(b, local, len);
	if (*rest) {
		put(b, ",", 1);
		put_strn(b, rest, strlen(rest));
	}
	put(b, "]", 1);
	return true;
}

/* appends ",v" or "v" (sep = 0) in decimal */
static void
put_int(struct sbuf *b, int sep, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	if (sep)
		*--p = (char)sep;
	put(b, p, (size_t)(buf + sizeof(buf) - p));
}

/* microseconds from a to b, rounded to nearest */
static int64_t
us_between(uint64_t a, uint64_t b)
{
	int64_t d = (int64_t)(b - a);
	return d >= 0 ? (d + 500) / 1000 : -((-d + 500) / 1000);
}

/*
 * The command words of the record (sessions.replies, version 11): a
 * command or guess in this list is written as its index.  The numbers are
 * part of the schema (the table command_words holds the same list): append
 * only.
 */
static const char *const command_words[] = {
    "GREETING", "HELO", "EHLO", "MAIL",      "RCPT", "DATA", "DATA-END", "BDAT",
    "STARTTLS", "AUTH", "RSET", "NOOP",      "QUIT", "VRFY", "EXPN",     "HELP",
    "ETRN",     "USER", "PASS", "APOP",      "CAPA", "STLS", "STAT",     "LIST",
    "UIDL",     "RETR", "TOP",  "DELE",      "TLS-HELLO", "TLS",
};
#define NCOMMAND_WORDS (sizeof(command_words) / sizeof(command_words[0]))

int
compact_command_code(const char *word)
{
	if (!word || !*word)
		return -1;
	/* the first letter first: a reply's command is looked up once or
	   twice, and a call to strcmp() for each of the 30 words was a
	   fifteenth of the writer's time */
	for (size_t i = 0; i < NCOMMAND_WORDS; i++)
		if (word[0] == command_words[i][0] && strcmp(word, command_words[i]) == 0)
			return (int)i;
	return -1;
}

const char *
compact_command_word(int code)
{
	return code >= 0 && (size_t)code < NCOMMAND_WORDS ? command_words[code] : NULL;
}

/* strcmp(code, usual) == 0 for one of compact_usual_code()'s codes (three
 * characters): their four bytes with the NUL compared at once */
static inline bool
usual_is(const char code[8], const char *usual)
{
	return memcmp(code, usual, 4) == 0;
}

const char *
compact_usual_code(enum mx_proto proto, int cmd)
{
	if (cmd < 0)
		return NULL;
	if (proto == MXP_POP3)
		return "+OK";
	if (proto != MXP_SMTP)
		return NULL;
	switch (cmd) {
	case 0: /* GREETING */
	case 8: /* STARTTLS */
		return "220";
	case 5: /* DATA */
		return "354";
	case 9: /* AUTH */
		return "235";
	case 12: /* QUIT */
		return "221";
	case 1:  /* HELO */
	case 2:  /* EHLO */
	case 3:  /* MAIL */
	case 4:  /* RCPT */
	case 6:  /* DATA-END */
	case 7:  /* BDAT */
	case 10: /* RSET */
	case 11: /* NOOP */
		return "250";
	}
	return NULL;
}

/* a command word: its number when it has one, else the text (or null) */
static void
put_word(struct sbuf *b, const char *w)
{
	int code = compact_command_code(w);
	if (code >= 0)
		put_int(b, 0, code);
	else
		put_str(b, w);
}

/* a reply code: three digits (not starting with 0) as a number, else the text */
static void
put_code(struct sbuf *b, const char *c)
{
	if (c[0] >= '1' && c[0] <= '9' && c[1] >= '0' && c[1] <= '9' && c[2] >= '0' &&
	    c[2] <= '9' && c[3] == '\0')
		put_int(b, 0, (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0'));
	else
		put_str(b, c);
}

/*
 * A number as one character of a packed head (version 17): the code point
 * v + 32, v below COMPACT_CHAR_MAX (so below the UTF-16 surrogates, which
 * SQLite's unicode() would read as U+FFFD), in UTF-8; '"' and '\\' escaped
 * for JSON.  A value below COMPACT_CHAR_LO takes at most two bytes.
 */
static void
put_char(struct sbuf *b, int64_t v)
{
	uint32_t cp = (uint32_t)v + 32;
	char u[3];
	size_t n;
	if (cp == '"' || cp == '\\') {
		u[0] = '\\';
		u[1] = (char)cp;
		n = 2;
	} else if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	}
	put(b, u, n);
}

/* a reply's argument as the record writes it: 0, 1 or what put_arg() spells */
enum arg_kind { ARG_NONE = 0, ARG_HELO = 1, ARG_OTHER };

static enum arg_kind
arg_kind(const struct crep *r, const char *helo)
{
	if (r->arg && helo && helo[0] && strcmp(r->arg, helo) == 0)
		return ARG_HELO; /* the session's helo */
	if (!r->arg || !r->arg[0])
		return ARG_NONE; /* none (version 13; null before) */
	return ARG_OTHER;
}

/* the argument: 1 for the session's helo, 0 for none, ["local"(, "rest")] or text */
static void
put_arg(struct sbuf *b, const struct crep *r, enum arg_kind k, const char *sender,
        const char *rcpt)
{
	if (k != ARG_OTHER)
		put_int(b, 0, k);
	else if (!put_addr_arg(b, r->command, r->arg, sender, rcpt))
		put_str(b, r->arg);
}

/*
 * ",code, size, guess, text" up to the last one set; the command's usual
 * code is left out, or written 0 when a later element follows (version 16).
 */
static void
put_tail(struct sbuf *b, const struct crep *r, const char *usual)
{
	int last = r->text ? 3 : r->guess[0] ? 2 : r->size ? 1 : 0;
	if (usual && usual_is(r->code, usual)) {
		if (last >= 1)
			put(b, ",0", 2);
	} else {
		put(b, ",", 1);
		put_code(b, r->code);
	}
	if (last >= 1) {
		if (r->size)
			put_int(b, ',', (int64_t)r->size);
		else
			put(b, ",null", 5);
	}
	if (last >= 2) {
		put(b, ",", 1);
		put_word(b, r->guess);
	}
	if (last >= 3) {
		put(b, ",", 1);
		put_str(b, r->text);
	}
}

/* the commands whose tail (version 18) is not the argument as text */
enum { CMD_MAIL = 3, CMD_RCPT = 4, CMD_DATA_END = 6 };

enum tail_kind { TAIL_NONE = 0, TAIL_TEXT, TAIL_SIZE };

/*
 * What a head with a tail (version 18, compact.h) holds after its six
 * characters, for a reply with its usual code and no guess or text: a MAIL
 * or RCPT its local part (*tail, *len) when the argument is
 * "FROM:<local@sender>" or "TO:<local@rcpt>" with nothing after it;
 * DATA-END its size when it has no argument; any other command its
 * argument, other than the helo, when it has no size.  TAIL_NONE: none of
 * these (the reply takes an array), or a text that begins with a UTF-8
 * continuation byte, which SQLite's substr() would count as part of the
 * head's last character.
 */
static enum tail_kind
tail_of(const struct crep *r, int cmd, enum arg_kind ak, const char *sender, const char *rcpt,
        const char **tail, size_t *len)
{
	if (cmd == CMD_DATA_END)
		return ak == ARG_NONE && r->size ? TAIL_SIZE : TAIL_NONE;
	if (ak != ARG_OTHER || r->size)
		return TAIL_NONE;
	const char *rest = "";
	if (cmd != CMD_MAIL && cmd != CMD_RCPT) {
		*tail = r->arg;
		*len = strlen(r->arg);
	} else if (!addr_parts(r->command, r->arg, sender, rcpt, tail, len, &rest) || *rest) {
		return TAIL_NONE;
	}
	return *len && ((unsigned char)**tail & 0xc0) == 0x80 ? TAIL_NONE : TAIL_TEXT;
}

const char *
compact_session_json(struct compact *c, uint64_t id, int64_t txn_base, uint64_t base_ns,
                     enum mx_proto proto, const char *helo, const char *sender, const char *rcpt,
                     bool *nomem)
{
	struct csess *x = sess_find(c, id);
	if (!x || !x->ncompact)
		return NULL;
	struct sbuf b = {.c = c};
	/* the id base (version 17): the first compact reply's transaction id */
	int64_t first_id = 0;
	for (uint32_t i = 0; i < x->n; i++) {
		if (x->r[i].compact) {
			first_id = (int64_t)x->r[i].id + txn_base;
			break;
		}
	}
	put(&b, "[", 1);
	put_int(&b, 0, first_id);
	for (uint32_t i = 0; i < x->n; i++) {
		const struct crep *r = &x->r[i];
		if (!r->compact)
			continue;
		int64_t off = (int64_t)r->id + txn_base - first_id;
		int64_t req = us_between(base_ns, r->request_ns);
		int64_t lat = us_between(r->request_ns, r->reply_ns);
		int cmd = compact_command_code(r->command);
		const char *usual = compact_usual_code(proto, cmd);
		enum arg_kind ak = arg_kind(r, helo);
		if (cmd < 0 || cmd >= 32 || off < 0 || off >= COMPACT_CHAR_MAX || req < 0 ||
		    req >= COMPACT_TWO_MAX || lat < 0 || lat >= COMPACT_TWO_MAX) {
			/* what a head cannot hold: the element of versions 11 to 16 */
			put(&b, ",[", 2);
			put_int(&b, 0, off);
			put(&b, ",", 1);
			put_word(&b, r->command);
			put(&b, ",", 1);
			put_arg(&b, r, ak, sender, rcpt);
			put_int(&b, ',', req);
			put_int(&b, ',', lat);
			put_tail(&b, r, usual);
			put(&b, "]", 1);
			continue;
		}
		/* the head alone: the usual code, no guess, no text, and either no
		   argument (or the helo) and no size, or a tail (version 18) */
		bool plain = usual && usual_is(r->code, usual) && !r->guess[0] && !r->text;
		bool alone = plain && ak != ARG_OTHER && !r->size;
		const char *tail = NULL;
		size_t tail_len = 0;
		enum tail_kind tk = plain && !alone
		                        ? tail_of(r, cmd, ak, sender, rcpt, &tail, &tail_len)
		                        : TAIL_NONE;
		put(&b, alone || tk ? ",\"" : ",[\"", alone || tk ? 2 : 3);
		put_char(&b, tk ? COMPACT_TAILED + cmd : cmd * 2 + (alone && ak == ARG_HELO));
		put_char(&b, off);
		put_char(&b, req / COMPACT_CHAR_LO);
		put_char(&b, req % COMPACT_CHAR_LO);
		if (lat < COMPACT_CHAR_MAX && !tk) {
			put_char(&b, lat);
		} else {
			put_char(&b, lat / COMPACT_CHAR_LO);
			put_char(&b, lat % COMPACT_CHAR_LO);
		}
		if (tk == TAIL_SIZE)
			put_int(&b, 0, (int64_t)r->size);
		else if (tk == TAIL_TEXT)
			put_esc(&b, tail, tail_len);
		put(&b, "\"", 1);
		if (!alone && !tk) {
			put(&b, ",", 1);
			put_arg(&b, r, ak, sender, rcpt);
			put_tail(&b, r, usual);
			put(&b, "]", 1);
		}
	}
	put(&b, "]", 1);
	if (b.nomem) {
		*nomem = true;
		return NULL;
	}
	return c->out;
}

static int
end_one(struct compact *c, struct csess *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		if (count_reply(c, &x->info, &x->r[i]))
			return COMPACT_NOMEM;
	sess_del(c, x);
	return 0;
}

int
compact_session_end(struct compact *c, const struct mx_session *sess)
{
	struct csess *x = sess_find(c, sess->id);
	if (!x)
		return 0;
	info_of(&x->info, sess);
	return end_one(c, x);
}

int
compact_end_all(struct compact *c)
{
	for (size_t i = 0; i < c->nslot;) {
		if (c->s[i].id) {
			if (end_one(c, &c->s[i]))
				return COMPACT_NOMEM;
			continue; /* the deletion may have shifted another entry into i */
		}
		i++;
	}
	return 0;
}

int
compact_flush_groups(struct compact *c, int64_t before_s,
                     int (*fn)(void *arg, const struct compact_group *g), void *arg)
{
	if (!c->htext && !(c->htext = malloc(HIST_TEXT_MAX)))
		return COMPACT_NOMEM;
	char *text = c->htext;
	size_t keep = 0;
	int rc = 0;
	for (size_t i = 0; i < c->ng; i++) {
		struct group *g = &c->g[i];
		if (rc || g->key.minute >= before_s) {
			c->g[keep++] = *g;
			continue;
		}
		size_t o = 0;
		text[o++] = '[';
		for (uint32_t k = 0; k < g->nb; k++)
			o += (size_t)snprintf(text + o, HIST_TEXT_MAX - o, "%s%u,%u", k ? "," : "",
			                      g->b[k].bin, g->b[k].count);
		text[o++] = ']';
		text[o] = '\0';
		g->key.bins = text;
		rc = fn(arg, &g->key);
		if (rc) {
			c->g[keep++] = *g;
			continue;
		}
		free(g->b);
	}
	c->ng = keep;
	size_t nslot = 128;
	while (nslot < c->ng * 2 + 2)
		nslot *= 2;
	if (!gindex_build(c, nslot))
		return COMPACT_NOMEM;
	return rc;
}

uint64_t
compact_latest_ns(const struct compact *c)
{
	return c->latest_ns;
}
