/* test_ident.c - RFC 1413 reply grammar and ident probe outcomes. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "analyze/ident.h"
#include "../support/guardbuf.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

/* ---- reply grammar ----------------------------------------------------------- */

/* Criterion copies parameters to the test process: no pointers in them */
struct reply_case {
	char line[128];
	int rc;
	unsigned lport, rport;
	int error;
	char os[32], info[64], text[128];
};

ParameterizedTestParameters(ident_reply, table)
{
	static struct reply_case c[] = {
	    {"6193, 23 : USERID : UNIX : stjohns\r\n", 0, 6193, 23, 0, "UNIX", "stjohns",
	     "USERID : UNIX : stjohns"},
	    {"6195, 23 : ERROR : NO-USER\r\n", 0, 6195, 23, 1, "", "NO-USER", "ERROR : NO-USER"},
	    {"40112 , 25 : USERID : UNIX : joe", 0, 40112, 25, 0, "UNIX", "joe",
	     "USERID : UNIX : joe"},
	    {"40112,25:USERID:UNIX:joe\n", 0, 40112, 25, 0, "UNIX", "joe", "USERID : UNIX : joe"},
	    {"  1 ,\t2\t:  userid  : OTHER , US-ASCII :  a:b c  ", 0, 1, 2, 0, "OTHER , US-ASCII",
	     "a:b c", "USERID : OTHER , US-ASCII : a:b c"},
	    {"113,2000 : error : HIDDEN-USER", 0, 113, 2000, 1, "", "HIDDEN-USER",
	     "ERROR : HIDDEN-USER"},
	    {"6191, 23 : ERROR : INVALID-PORT", 0, 6191, 23, 1, "", "INVALID-PORT",
	     "ERROR : INVALID-PORT"},
	    {"6191, 23 : ERROR : X-private", 0, 6191, 23, 1, "", "X-private", "ERROR : X-private"},
	    /* malformed */
	    {"", -1, 0, 0, 0, "", "", ""},
	    {"\r\n", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23 : USERID : UNIX", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23 : USERID : UNIX :", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23 : USERID :  : joe", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23 : ERROR :", -1, 0, 0, 0, "", "", ""},
	    {"6193, 23 : MAYBE : x", -1, 0, 0, 0, "", "", ""},
	    {"6193 23 : ERROR : NO-USER", -1, 0, 0, 0, "", "", ""},
	    {"70000, 23 : ERROR : NO-USER", -1, 0, 0, 0, "", "", ""},
	    {"0, 23 : ERROR : NO-USER", -1, 0, 0, 0, "", "", ""},
	    {"x6193, 23 : ERROR : NO-USER", -1, 0, 0, 0, "", "", ""},
	    {"SSH-2.0-OpenSSH_9.6", -1, 0, 0, 0, "", "", ""},
	};
	return cr_make_param_array(struct reply_case, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct reply_case *c, ident_reply, table)
{
	struct ident_reply r;
	size_t n = strlen(c->line);
	uint8_t *g = guardbuf_new(c->line, n); /* no NUL: must not read past n */
	cr_assert_not_null(g);
	int rc = ident_parse_reply((const char *)g, n, &r);
	guardbuf_free(g, n);
	cr_expect_eq(rc, c->rc, "'%s'", c->line);
	if (rc != 0)
		return;
	cr_expect_eq(r.lport, c->lport, "'%s'", c->line);
	cr_expect_eq(r.rport, c->rport, "'%s'", c->line);
	cr_expect_eq(r.error, c->error != 0, "'%s'", c->line);
	cr_expect_str_eq(r.os, c->os, "'%s'", c->line);
	cr_expect_str_eq(r.info, c->info, "'%s'", c->line);
	cr_expect_str_eq(r.text, c->text, "'%s'", c->line);
}

Test(ident_reply, every_prefix_is_safe)
{
	const char *l = "6193, 23 : USERID : UNIX : stjohns\r\n";
	struct ident_reply r;
	for (size_t k = 0; k <= strlen(l); k++) {
		uint8_t *g = guardbuf_new(l, k);
		int rc = ident_parse_reply((const char *)g, k, &r);
		guardbuf_free(g, k);
		/* complete from "...: s" on */
		cr_expect_eq(rc, k >= 28 ? 0 : -1, "prefix %zu", k);
	}
}

/* ---- probes -------------------------------------------------------------------- */

static struct mx_ident evs[8];
static int nev;
static struct mx_ids ids;

static void
collect(void *sink, const struct mx_event *ev)
{
	(void)sink;
	cr_assert_eq(ev->type, EV_IDENT);
	cr_assert_lt(nev, 8);
	evs[nev++] = ev->u.ident;
}

static const struct mx_sink sink = {collect, NULL, &ids};

/* the mail host 192.0.2.10:40001 probes 198.51.100.7:113, first SYN at 100 s */
static void
flow(struct cap_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->id = 1;
	cr_assert(mx_addr_parse("192.0.2.10", &f->cli.addr));
	f->cli.port = 40001;
	cr_assert(mx_addr_parse("198.51.100.7", &f->srv.addr));
	f->srv.port = 113;
	f->saw_syn = true;
	f->syn_count = 1;
	f->first_ns = f->last_ns = f->syn_ns = f->last_syn_ns = 100 * SEC;
	f->rst_dir = -1;
	nev = 0;
	memset(&ids, 0, sizeof(ids));
}

Test(ident_probe, unanswered_syns_only)
{
	struct cap_flow f;
	flow(&f);
	struct ident_probe *p = ident_new(&f, &sink);
	cr_assert_not_null(p);
	/* tcpserver-like: SYN at 100, 103, 109 s, then gives up */
	f.syn_count = 3;
	f.last_syn_ns = 109 * SEC;
	f.last_ns = 109 * SEC;
	ident_close(p, &f, CLOSE_IDLE, 184 * SEC);
	ident_close(p, &f, CLOSE_END, 200 * SEC); /* once only */
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].id, 1);
	cr_expect_eq(evs[0].outcome, MXI_UNANSWERED);
	cr_expect_eq(evs[0].ts_ns, 100 * SEC);
	cr_expect_eq(evs[0].end_ns, 109 * SEC);
	cr_expect_eq(evs[0].syn_retransmits, 2);
	cr_expect_str_eq(evs[0].response, "");
	cr_expect(mx_ep_eq(&evs[0].host, &f.cli));
	cr_expect(mx_ep_eq(&evs[0].peer, &f.srv));
}

Test(ident_probe, refused_by_rst)
{
	struct cap_flow f;
	flow(&f);
	struct ident_probe *p = ident_new(&f, &sink);
	f.rst_ns = 100 * SEC + 40 * MS;
	f.rst_dir = DIR_S2C;
	ident_close(p, &f, CLOSE_RST, f.rst_ns);
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXI_REFUSED);
	cr_expect_eq(evs[0].end_ns, 100 * SEC + 40 * MS);
	cr_expect_eq(evs[0].syn_retransmits, 0);
}

Test(ident_probe, host_reset_is_not_refused)
{
	struct cap_flow f;
	flow(&f);
	struct ident_probe *p = ident_new(&f, &sink);
	f.syn_count = 2;
	f.last_syn_ns = 103 * SEC;
	f.rst_ns = 110 * SEC;
	f.rst_dir = DIR_C2S;
	ident_close(p, &f, CLOSE_RST, f.rst_ns);
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXI_UNANSWERED);
	cr_expect_eq(evs[0].end_ns, 103 * SEC);
}

static void
answered_split(size_t k)
{
	struct cap_flow f;
	flow(&f);
	struct ident_probe *p = ident_new(&f, &sink);
	f.saw_synack = true;
	f.synack_ns = 100 * SEC + 20 * MS;
	f.established = true;
	f.established_ns = 100 * SEC + 21 * MS;
	const char *req = "40112 , 25\r\n";
	const char *rsp = "40112 , 25 : USERID : UNIX : joe\r\n";
	ident_data(p, MX_C2S, (const uint8_t *)req, strlen(req), 100 * SEC + 22 * MS);
	size_t n = strlen(rsp);
	if (k > n)
		k = n;
	ident_data(p, MX_S2C, (const uint8_t *)rsp, k, 100 * SEC + 60 * MS);
	ident_data(p, MX_S2C, (const uint8_t *)rsp + k, n - k, 100 * SEC + 70 * MS);
	f.fin_ns[0] = f.fin_ns[1] = 100 * SEC + 80 * MS;
	ident_close(p, &f, CLOSE_FIN, 100 * SEC + 80 * MS);
	ident_free(p);
}

Test(ident_probe, answered_any_split)
{
	for (size_t k = 1; k <= 40; k++) {
		answered_split(k);
		cr_assert_eq(nev, 1);
		cr_expect_eq(evs[0].outcome, MXI_ANSWERED);
		cr_expect_eq(evs[0].end_ns, 100 * SEC + 60 * MS, "split %zu", k);
		cr_expect_str_eq(evs[0].response, "USERID : UNIX : joe", "split %zu", k);
	}
	/* k = 0: the whole reply in the second segment */
	answered_split(0);
	cr_expect_eq(evs[0].end_ns, 100 * SEC + 70 * MS);
}

Test(ident_probe, error_reply_and_unterminated_line)
{
	struct cap_flow f;
	flow(&f);
	f.saw_synack = true;
	struct ident_probe *p = ident_new(&f, &sink);
	const char *rsp = "\r\n40112 , 25 : ERROR : NO-USER"; /* closed before CRLF */
	ident_data(p, MX_S2C, (const uint8_t *)rsp, strlen(rsp), 101 * SEC);
	ident_close(p, &f, CLOSE_FIN, 102 * SEC);
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXI_ANSWERED);
	cr_expect_eq(evs[0].end_ns, 101 * SEC);
	cr_expect_str_eq(evs[0].response, "ERROR : NO-USER");
}

Test(ident_probe, garbage_reply_kept_sanitised)
{
	struct cap_flow f;
	flow(&f);
	f.saw_synack = true;
	struct ident_probe *p = ident_new(&f, &sink);
	char big[2000];
	memset(big, 'x', sizeof(big));
	big[5] = '\x01';
	ident_data(p, MX_S2C, (const uint8_t *)big, sizeof(big), 101 * SEC);
	ident_data(p, MX_S2C, (const uint8_t *)"\r\nmore\r\n", 8, 102 * SEC);
	ident_close(p, &f, CLOSE_FIN, 103 * SEC);
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXI_ANSWERED);
	cr_expect_eq(strlen(evs[0].response), sizeof(evs[0].response) - 1);
	cr_expect_eq(evs[0].response[5], '?');
}

Test(ident_probe, accepted_but_no_reply)
{
	struct cap_flow f;
	flow(&f);
	f.saw_synack = true;
	f.synack_ns = 100 * SEC + 10 * MS;
	struct ident_probe *p = ident_new(&f, &sink);
	ident_data(p, MX_C2S, (const uint8_t *)"40112 , 25\r\n", 12, 100 * SEC + 11 * MS);
	/* the host gives up after 10 s and resets */
	f.rst_ns = 110 * SEC;
	f.rst_dir = DIR_C2S;
	ident_close(p, &f, CLOSE_RST, 110 * SEC);
	ident_free(p);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXI_UNANSWERED);
	cr_expect_eq(evs[0].end_ns, 110 * SEC);
	/* the peer resetting after accepting is not "refused" either */
	flow(&f);
	f.saw_synack = true;
	p = ident_new(&f, &sink);
	f.rst_ns = 100 * SEC + 50 * MS;
	f.rst_dir = DIR_S2C;
	ident_close(p, &f, CLOSE_RST, f.rst_ns);
	ident_free(p);
	cr_expect_eq(evs[0].outcome, MXI_UNANSWERED);
	cr_expect_eq(evs[0].end_ns, 100 * SEC + 50 * MS);
}
