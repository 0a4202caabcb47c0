/*
 * test_mail_faults.c - the SMTP parsing faults of issue 15, each on the
 * public capture it was found on (../shared/corpus), asserting the records
 * the oracles (tshark, Zeek) show there.  Skipped without ../shared.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

struct rec {
	long session;
	char command[32], argument[80], code[8], outcome[24];
	double latency;   /* -1 = null */
	int has_request;  /* request_ts not null */
};

struct recs {
	struct rec v[512];
	int n;
	char sess_outcome[64][24]; /* by session id (small captures) */
	char sess_helo[64][64];
	int nsess;
};

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
	while (*p && *p != '"' && i + 1 < n)
		out[i++] = *p++;
	out[i] = '\0';
	return out;
}

static double
jnum(const char *line, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p || !strncmp(p + strlen(pat), "null", 4))
		return -1;
	return atof(p + strlen(pat));
}

static void
run(const char *rel, struct recs *r)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char bin[512], *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	memset(r, 0, sizeof(*r));
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --no-db --quiet --events '%s/corpus/%s'", bin, sh,
			    rel),
		     0, "%s", rel);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		if (strstr(l, "\"event\":\"session\"")) {
			long id = (long)jnum(l, "id");
			if (id > 0 && id < 64) {
				jstr(l, "outcome", r->sess_outcome[id], sizeof(r->sess_outcome[id]));
				jstr(l, "helo", r->sess_helo[id], sizeof(r->sess_helo[id]));
				if (id > r->nsess)
					r->nsess = (int)id;
			}
			continue;
		}
		if (!strstr(l, "\"event\":\"transaction\"") || r->n == 512)
			continue;
		struct rec *x = &r->v[r->n++];
		x->session = (long)jnum(l, "session");
		jstr(l, "command", x->command, sizeof(x->command));
		jstr(l, "argument", x->argument, sizeof(x->argument));
		jstr(l, "reply_code", x->code, sizeof(x->code));
		jstr(l, "outcome", x->outcome, sizeof(x->outcome));
		x->latency = jnum(l, "latency_ms");
		x->has_request = jnum(l, "request_ts") >= 0;
	}
	free(out);
}

/* "COMMAND CODE OUTCOME | ..." of one session */
static void
seq(const struct recs *r, long session, char *buf, size_t n)
{
	buf[0] = '\0';
	for (int i = 0; i < r->n; i++) {
		const struct rec *x = &r->v[i];
		if (x->session != session)
			continue;
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, "%s%s %s %s", l ? " | " : "", x->command,
			 x->code[0] ? x->code : "-", x->outcome);
	}
}

static void
expect_seq(const char *rel, long session, const char *want)
{
	struct recs *r = malloc(sizeof(*r));
	cr_assert_not_null(r);
	run(rel, r);
	char got[4096];
	seq(r, session, got, sizeof(got));
	cr_expect_str_eq(got, want, "%s session %ld", rel, session);
	free(r);
}

static const struct rec *
find(const struct recs *r, long session, const char *command, int nth)
{
	for (int i = 0; i < r->n; i++)
		if (r->v[i].session == session && !strcmp(r->v[i].command, command) && nth-- == 0)
			return &r->v[i];
	return NULL;
}

#define ZT "zeek+zeek/testing/btest/Traces/smtp/"
#define SV "OISF+suricata-verify/tests/"

/* 1. a BDAT outside the grammar is refused (521) and no chunk follows */
Test(mail_faults, bdat_count_overflow_gets_its_521)
{
	const char *w = "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | BDAT 521 ok";
	expect_seq(ZT "smtp-bdat-cmd-chunk-size-overflow.pcap", 1, w);
	expect_seq(ZT "smtp-bdat-cmd-chunk-size-overflow2.pcap", 1, w);
	struct recs *r = malloc(sizeof(*r));
	run(ZT "smtp-bdat-cmd-chunk-size-overflow.pcap", r);
	const struct rec *b = find(r, 1, "BDAT", 0);
	cr_assert_not_null(b);
	/* Zeek and tshark: the 521 came 1.1 ms after the command */
	cr_expect(b->latency > 1.0 && b->latency < 1.2, "BDAT latency %.3f", b->latency);
	free(r);
}

Test(mail_faults, bdat_scramble_and_missing_count_get_their_521)
{
	for (long s = 1; s <= 3; s++)
		expect_seq(ZT "smtp-bdat-cmd-invalid.pcapng", s,
			   "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | BDAT 521 ok");
}

Test(mail_faults, bdat_bad_tail_then_next_mail)
{
	/* the 521 is the BDAT's; the client's later commands got no reply before
	 * the server closed */
	expect_seq(SV "smtp-bdat-bad-tail-next-mail/input.pcap", 1,
		   "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | BDAT 521 ok | "
		   "BDAT - server-close | MAIL - server-close | RCPT - server-close | "
		   "DATA - server-close | DATA-END - server-close");
}

Test(mail_faults, rejected_bdat_swallows_no_bytes)
{
	const char *rel = SV "smtp-bdat-bad-tail-reply-queue/input.pcap";
	expect_seq(rel, 1,
		   "GREETING 220 ok | EHLO 250 ok | BDAT 501 ok | MAIL 250 ok | RCPT 250 ok | "
		   "DATA 354 ok | DATA-END 250 ok | QUIT 221 ok");
	struct recs *r = malloc(sizeof(*r));
	run(rel, r);
	const struct rec *m = find(r, 1, "MAIL", 0);
	cr_assert_not_null(m);
	cr_expect_str_eq(m->argument, "FROM:<alice@example.com>");
	free(r);
}

Test(mail_faults, bdat_answered_before_its_chunk_and_a_gap)
{
	/* tshark: 220 250 250 250 250 250 354 250 221; DATA-END gets its 250 */
	expect_seq(ZT "smtp-bdat-gap.pcap", 1,
		   "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | BDAT 250 ok | "
		   "? 250 incomplete | DATA 354 ok | DATA-END 250 ok | QUIT 221 ok");
}

/* 2. a multi-line greeting cut by the scanner's close is still a reply */
Test(mail_faults, cut_multiline_greeting_is_answered)
{
	struct recs *r = malloc(sizeof(*r));
	run("ivre+ivre-test-samples/tests/samples/banners.pcap", r);
	int cut = 0;
	for (int i = 0; i < r->n; i++) {
		const struct rec *x = &r->v[i];
		cr_expect_str_eq(x->command, "GREETING");
		cr_expect_str_eq(x->code, "220", "session %ld", x->session);
		cr_expect(x->latency > 0 && x->latency < 10, "session %ld: %.3f ms", x->session,
			  x->latency);
		cut += !strcmp(x->outcome, "client-abort");
	}
	cr_expect_eq(r->n, 154);
	cr_expect_eq(cut, 41, "the 41 greetings cut by the scanner's close");
	free(r);
}

/* 6. all-zero timestamps keep their (zero) relative times */
Test(mail_faults, zero_timestamps_keep_latencies)
{
	struct recs *r = malloc(sizeof(*r));
	run(ZT "rfc3030-bdat-nonascii.pcap", r);
	cr_assert_gt(r->n, 5);
	for (int i = 0; i < r->n; i++) {
		cr_expect(r->v[i].has_request, "%s: request time lost", r->v[i].command);
		cr_expect_eq(r->v[i].latency, 0.0, "%s: latency %f", r->v[i].command,
			     r->v[i].latency);
	}
	free(r);
}

/* 6. the HELO name is kept as the client sent it */
Test(mail_faults, helo_keeps_its_case)
{
	struct recs *r = malloc(sizeof(*r));
	run("zeek+zeek/testing/btest/Traces/smtp.pcap", r);
	cr_expect_str_eq(r->sess_helo[1], "GP");
	const struct rec *e = find(r, 1, "EHLO", 0);
	cr_assert_not_null(e);
	cr_expect_str_eq(e->argument, r->sess_helo[1]);
	free(r);
}

/* 8. a client that half-closes before the greeting still reads every reply */
Test(mail_faults, half_close_before_greeting)
{
	const char *rel = "arkime+arkime/tests/pcap/smtp-subject-windows.pcap";
	expect_seq(rel, 1,
		   "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | DATA 354 ok | "
		   "DATA-END 250 ok | (BLANK) 500 ok");
	struct recs *r = malloc(sizeof(*r));
	run(rel, r);
	cr_expect_str_eq(r->sess_outcome[1], "client-half-close");
	free(r);
}

/* crafted replies with a missing CRLF / last line: the client going on
 * shows where they ended */
Test(mail_faults, reply_cut_short_by_the_client_going_on)
{
	expect_seq(SV "smtp-bug-6053/input.pcap", 1,
		   "GREETING 220 ok | EHLO 250 ok | AUTH 334 ok | AUTH 334 ok | AUTH 235 ok | "
		   "MAIL 250 ok | RCPT 250 ok | QUIT 221 ok");
	expect_seq(SV "detect-email-received/input.pcap", 1,
		   "GREETING 220 ok | EHLO 250 ok | MAIL 250 ok | RCPT 250 ok | RCPT 250 ok | "
		   "RCPT 250 ok | RCPT 250 ok | RCPT 250 ok | DATA 354 ok | DATA-END 250 ok | "
		   "QUIT 221 ok");
}

/* POP3 (issue 15, faults 3 and 4) */
#define POP_PPA "markofu+pcaps/PracticalPacketAnalysis/ppa-capture-files/email-troubles.pcap"

/* 3. suricata-verify pop3-auth-01: the handshake, then the client speaks
 * first (no greeting in the capture): no GREETING, no shift; tshark shows
 * CAPA, AUTH, the SASL line, STAT, LIST, UIDL each +OK and QUIT */
Test(mail_faults, pop3_client_first_has_no_greeting)
{
	expect_seq(SV "pop3-auth-01/input.pcap", 1,
		   "CAPA +OK ok | AUTH + ok | AUTH +OK ok | STAT +OK ok | LIST +OK ok | "
		   "UIDL +OK ok | QUIT - cut");
}

/* 3. picked up mid-stream (no SYN): the first packet is RETR 20, whose +OK
 * is no greeting */
Test(mail_faults, pop3_midstream_pickup)
{
	expect_seq(POP_PPA, 1, "RETR +OK ok | RETR +OK ok | RETR +OK ok");
}

/* 4. zeek bad-list-retr-crafted.pcap: LIST's body never ends with "."; RETR
 * 1 and QUIT, sent after it, are answered +OK (tshark) */
Test(mail_faults, pop3_list_without_dot_resyncs)
{
	expect_seq("zeek+zeek/testing/btest/Traces/pop3/bad-list-retr-crafted.pcap", 1,
		   "GREETING +OK ok | LIST +OK ok | RETR +OK ok | QUIT +OK ok");
}
