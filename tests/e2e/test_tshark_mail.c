/*
 * test_tshark_mail.c - on every capture of ../shared/corpus with SMTP or
 * POP3 (MANIFEST.tsv), each connection's command sequence and reply-code
 * sequence equal tshark's.
 *
 * What is compared, per TCP connection (matched by its two endpoints):
 *  - commands: the verbs the client sent, in order.  mxlag's GREETING,
 *    DATA-END, TLS exchanges, lost-command placeholders ("?") and blank
 *    lines are no commands to tshark; a SASL line is nothing to tshark's
 *    SMTP dissector and a command to its POP3 dissector ("<SASL>" here).
 *  - reply codes, in order (POP3: +OK / -ERR; a POP3 "+ " challenge is no
 *    indicator to tshark).  tshark gives a code per reply group *per
 *    packet*: a multi-line reply split over packets shows its code again
 *    in the next packet, which is dropped here (the earlier packet's last
 *    line is "NNN-").
 *
 * Where the two differ, the connection must be in the list below, with the
 * reason and the exact sequences mxlag gives (so a listed connection still
 * fails when mxlag's records change).  Most are tshark's own faults: it cuts
 * STARTTLS to STAR (normalised, not listed), shows no commands when the
 * client speaks before the greeting, takes a pipelined "." plus QUIT for
 * message data, loses the commands after a BDAT chunk or a rejected DATA,
 * and merges or drops replies in some segmentations.  The rest are replies
 * no command asked for (a server's "421"/"451" before it closes), which
 * mxlag has nothing to pair with.  The log line gives the agreement count.
 *
 * Skipped when tshark or ../shared is missing, and under valgrind (the
 * valgrind pass runs mxlag on every corpus capture by itself).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/e2e.h"

#define SEQ_MAX 4096

struct conn {
	char key[200];  /* "addrA portA|addrB portB", the smaller first */
	char cmds[SEQ_MAX];
	char codes[SEQ_MAX];
	long stream;    /* tshark's stream index; -1 for mxlag's sessions */
	long session;   /* mxlag's session id */
	int pop3;
	int used;
	int cont;       /* tshark: the last server packet ended in "NNN-" */
};

struct conns {
	struct conn *v;
	size_t n, cap;
};

static struct conn *
conn_add(struct conns *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		cr_assert_not_null(c->v);
	}
	struct conn *x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

static void
key_of(char *out, size_t n, const char *a1, const char *p1, const char *a2, const char *p2)
{
	char x[100], y[100];
	snprintf(x, sizeof(x), "%s %s", a1, p1);
	snprintf(y, sizeof(y), "%s %s", a2, p2);
	if (strcmp(x, y) <= 0)
		snprintf(out, n, "%s|%s", x, y);
	else
		snprintf(out, n, "%s|%s", y, x);
}

static void
seq_add(char *seq, const char *item)
{
	size_t l = strlen(seq);
	snprintf(seq + l, SEQ_MAX - l, "%s%s", l ? " " : "", item);
}

/* ---- tshark ------------------------------------------------------------- */

static const char *const pop3_verbs[] = {"USER", "PASS", "APOP", "STAT", "LIST", "RETR",
					 "DELE", "NOOP", "RSET", "QUIT", "TOP",  "UIDL",
					 "CAPA", "STLS", "AUTH", "UTF8", "LANG"};

static int
is_pop3_verb(const char *v)
{
	for (size_t i = 0; i < sizeof(pop3_verbs) / sizeof(pop3_verbs[0]); i++)
		if (!strcmp(v, pop3_verbs[i]))
			return 1;
	return 0;
}

/* does hex payload p end in a complete "NNN-" line? */
static int
ends_in_continuation(const char *hex)
{
	size_t n = strlen(hex) / 2;
	if (n < 5)
		return 0;
	unsigned char *b = malloc(n);
	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			v = 0;
		b[i] = (unsigned char)v;
	}
	int r = 0;
	if (b[n - 1] == '\n') {
		size_t s = n - 1;
		while (s > 0 && b[s - 1] != '\n')
			s--;
		r = n - s >= 4 && b[s + 3] == '-';
	}
	free(b);
	return r;
}

static char empty[1];

static void
split_fields(char *line, char **f, int nf)
{
	for (int i = 0; i < nf; i++) {
		f[i] = line;
		char *t = line ? strchr(line, '\t') : NULL;
		if (t) {
			*t = '\0';
			line = t + 1;
		} else {
			line = NULL;
		}
	}
	for (int i = 0; i < nf; i++)
		if (!f[i])
			f[i] = empty;
}

static void
read_tshark(const char *path, int pop3, struct conns *out)
{
	char *txt = NULL;
	/* tshark exits 2 on a damaged file, after printing what it read */
	(void)(e2e_sh(&txt,
			    "tshark -n -r '%s' -Y '%s' -T fields -E separator=/t "
			    "-E aggregator='\x1f' -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport "
			    "-e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.payload -e %s -e %s 2>/dev/null",
			    path, pop3 ? "pop.request || pop.response" : "smtp.req || smtp.rsp",
			    pop3 ? "pop.request.command" : "smtp.req.command",
			    pop3 ? "pop.response.indicator" : "smtp.response.code"));
	cr_assert_not_null(txt, "tshark did not run on %s", path);
	char *save = NULL;
	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[10];
		split_fields(l, f, 10);
		long stream = atol(f[0]);
		char key[200];
		key_of(key, sizeof(key), *f[1] ? f[1] : f[2], f[3], *f[4] ? f[4] : f[5], f[6]);
		struct conn *c = NULL;
		for (size_t i = 0; i < out->n; i++)
			if (out->v[i].stream == stream && !strcmp(out->v[i].key, key))
				c = &out->v[i];
		if (!c) {
			c = conn_add(out);
			snprintf(c->key, sizeof(c->key), "%s", key);
			c->stream = stream;
			c->pop3 = pop3;
		}
		char *s2 = NULL;
		for (char *v = strtok_r(f[8], "\x1f", &s2); v; v = strtok_r(NULL, "\x1f", &s2)) {
			char up[64];
			size_t i;
			for (i = 0; v[i] && i + 1 < sizeof(up); i++)
				up[i] = (char)toupper((unsigned char)v[i]);
			up[i] = '\0';
			if (!strcmp(up, "STAR"))
				strcpy(up, "STARTTLS"); /* tshark 4.0 cuts it */
			if (pop3 && !is_pop3_verb(up))
				strcpy(up, "<SASL>");
			seq_add(c->cmds, up);
		}
		int first = 1;
		char *payload = strtok_r(f[7], "\x1f", &s2);
		for (char *v = strtok_r(f[9], "\x1f", &s2); v; v = strtok_r(NULL, "\x1f", &s2)) {
			if (first && !pop3 && c->cont) {
				first = 0;
				continue; /* the previous packet's reply, continued */
			}
			first = 0;
			seq_add(c->codes, v);
		}
		if (!pop3 && *f[9])
			c->cont = payload ? ends_in_continuation(payload) : 0;
	}
	free(txt);
}

/* ---- mxlag -------------------------------------------------------------- */

static const char *
jstr(const char *line, const char *key, char *out, size_t n)
{
	char pat[40];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	out[0] = '\0';
	if (!p)
		return out;
	p += strlen(pat);
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < n) {
		if (*p == '\\' && p[1])
			p++;
		out[i++] = *p++;
	}
	out[i] = '\0';
	return out;
}

static long
jnum(const char *line, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	return p ? atol(p + strlen(pat)) : -1;
}

static void
read_mxlag(const char *path, struct conns *out)
{
	char bin[512], *txt = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	size_t pl = strlen(path);
	int gz = pl > 3 && !strcmp(path + pl - 3, ".gz");
	cr_assert_eq(e2e_sh(&txt, "%s '%s' | '%s' analyze --no-db --quiet --events -",
			    gz ? "zcat" : "cat", path, bin),
		     0, "mxlag failed on %s", path);
	/* sessions come after their transactions: collect both, then join */
	struct conns tx = {0};
	char *save = NULL;
	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char v[256], a[64];
		if (strstr(l, "\"event\":\"session\"")) {
			struct conn *c = conn_add(out);
			char cl[64], sv[64], cp[16], sp[16];
			snprintf(cp, sizeof(cp), "%ld", jnum(l, "client_port"));
			snprintf(sp, sizeof(sp), "%ld", jnum(l, "server_port"));
			key_of(c->key, sizeof(c->key), jstr(l, "client", cl, sizeof(cl)), cp,
			       jstr(l, "server", sv, sizeof(sv)), sp);
			c->session = jnum(l, "id");
			c->stream = -1;
			c->pop3 = strcmp(jstr(l, "protocol", v, sizeof(v)), "pop3") == 0;
			continue;
		}
		if (!strstr(l, "\"event\":\"transaction\""))
			continue;
		long sid = jnum(l, "session");
		struct conn *c = NULL;
		for (size_t i = 0; i < tx.n; i++)
			if (tx.v[i].session == sid)
				c = &tx.v[i];
		if (!c) {
			c = conn_add(&tx);
			c->session = sid;
		}
		char proto[16];
		jstr(l, "command", v, sizeof(v));
		jstr(l, "argument", a, sizeof(a));
		int pop3 = strcmp(jstr(l, "protocol", proto, sizeof(proto)), "pop3") == 0;
		if (!strcmp(v, "TLS") || !strcmp(v, "TLS-HELLO"))
			continue;
		if (!strcmp(v, "AUTH") && !strcmp(a, "***")) {
			if (pop3)
				seq_add(c->cmds, "<SASL>");
		} else if (strcmp(v, "GREETING") && strcmp(v, "DATA-END") && strcmp(v, "?") &&
			   strcmp(v, "(BLANK)")) {
			seq_add(c->cmds, v);
		}
		jstr(l, "reply_code", v, sizeof(v));
		if (*v && !(pop3 && !strcmp(v, "+")))
			seq_add(c->codes, v);
	}
	for (size_t i = 0; i < out->n; i++)
		for (size_t j = 0; j < tx.n; j++)
			if (tx.v[j].session == out->v[i].session) {
				memcpy(out->v[i].cmds, tx.v[j].cmds, SEQ_MAX);
				memcpy(out->v[i].codes, tx.v[j].codes, SEQ_MAX);
			}
	free(tx.v);
	free(txt);
}

/* ---- the listed differences ----------------------------------------------- */

struct known {
	const char *capture; /* path under corpus/ */
	long stream;
	const char *why;
	const char *mxlag;   /* "COMMANDS / CODES" as mxlag gives them */
	int seen;
};

#include "tshark_mail_known.h"

static struct known *
known_of(const char *capture, long stream)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i].capture, capture) && known[i].stream == stream)
			return &known[i];
	return NULL;
}

Test(tshark_mail, every_corpus_connection_agrees, .timeout = 900)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
	if (getenv("MXLAG_UNDER_VALGRIND"))
		cr_skip_test("valgrind.sh runs mxlag on every corpus capture itself");
	char mpath[600];
	snprintf(mpath, sizeof(mpath), "%s/corpus/MANIFEST.tsv", sh);
	FILE *m = fopen(mpath, "r");
	cr_assert_not_null(m, "%s", mpath);
	char line[8192];
	int total = 0, agree = 0, listed = 0, captures = 0;
	while (fgets(line, sizeof(line), m)) {
		char *f[12];
		line[strcspn(line, "\n")] = '\0';
		split_fields(line, f, 12);
		if (!strcmp(f[0], "source_repo") || strstr(f[11], "DUPLICATE"))
			continue;
		int smtp = atoi(f[6]) > 0, pop = atoi(f[7]) > 0;
		if (!smtp && !pop)
			continue;
		char path[800];
		snprintf(path, sizeof(path), "%s/corpus/%s", sh, f[2]);
		struct conns me = {0};
		read_mxlag(path, &me);
		captures++;
		for (int p = 0; p < 2; p++) {
			if ((p == 0 && !smtp) || (p == 1 && !pop))
				continue;
			struct conns ts = {0};
			read_tshark(path, p, &ts);
			for (size_t i = 0; i < ts.n; i++) {
				struct conn *t = &ts.v[i], *x = NULL;
				if (!*t->cmds && !*t->codes)
					continue;
				for (size_t j = 0; j < me.n && !x; j++)
					if (!me.v[j].used && !strcmp(me.v[j].key, t->key))
						x = &me.v[j];
				if (x)
					x->used = 1;
				char want[2 * SEQ_MAX + 4], got[2 * SEQ_MAX + 4];
				snprintf(want, sizeof(want), "%s / %s", t->cmds, t->codes);
				snprintf(got, sizeof(got), "%s / %s", x ? x->cmds : "", x ? x->codes : "");
				total++;
				if (!strcmp(want, got)) {
					agree++;
					continue;
				}
				struct known *k = known_of(f[2], t->stream);
				if (!k) {
					cr_expect_fail("%s stream %ld (%s): tshark \"%s\", mxlag \"%s\"",
						       f[2], t->stream, p ? "pop3" : "smtp", want, got);
					continue;
				}
				k->seen = 1;
				listed++;
				cr_expect_str_eq(got, k->mxlag, "%s stream %ld (listed: %s)", f[2],
						 t->stream, k->why);
			}
			free(ts.v);
		}
		free(me.v);
	}
	fclose(m);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		cr_expect(known[i].seen, "listed but agreeing or absent: %s stream %ld",
			  known[i].capture, known[i].stream);
	fprintf(stderr,
		"tshark_mail: %d captures, %d connections: %d agree with tshark, %d listed "
		"differences, %d unlisted\n",
		captures, total, agree, listed, total - agree - listed);
	cr_expect_gt(total, 250, "the corpus has about 300 mail connections");
}
