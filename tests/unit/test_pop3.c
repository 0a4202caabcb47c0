/* test_pop3.c - POP3 stream parser: transcripts fed whole and split. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/pop3.h"
#include "../support/guardbuf.h"
#include "../support/mxscript.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
expect(const struct mxs_result *r, size_t i, const char *cmd, const char *arg, double req_ms,
       double rep_ms, const char *code, enum mx_outcome o)
{
	if (i >= r->n) {
		mxs_dump(r);
		cr_assert_fail("event %zu missing (have %zu)", i, r->n);
	}
	const struct mx_txn *t = &r->txn[i];
	if (strcmp(t->command, cmd) != 0 || (arg && strcmp(t->argument, arg) != 0) ||
	    t->request_ns != MS(req_ms) || t->reply_ns != MS(rep_ms) ||
	    strcmp(t->reply_code, code) != 0 || t->outcome != o) {
		mxs_dump(r);
		cr_assert_fail("event %zu: got %s '%s' %llu %llu %s %s, want %s '%s' %g %g %s %s",
		               i, t->command, t->argument, (unsigned long long)t->request_ns,
		               (unsigned long long)t->reply_ns, t->reply_code,
		               mx_outcome_str(t->outcome), cmd, arg ? arg : "*", req_ms, rep_ms,
		               code, mx_outcome_str(o));
	}
	cr_assert_eq(t->id, i + 1);
	cr_assert_eq(t->session_id, 42);
}

#define MSG1 "From: a@example.org\r\nSubject: hi\r\n\r\n..dot line\r\nbye\r\n"
#define MSG1_SIZE (sizeof(MSG1) - 1 - 1) /* one stuffed dot removed */

/* tcpserver + a small POP3 responder: the +OK greeting waits 2 minutes */
static const struct mxs_step session[] = {
    SRV(120000, "+OK lab POP3 ready <1896.697170952@lab>\r\n"),
    CLI(120010, "CAPA\r\n"),
    SRV(120011, "+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\n"),
    SRV(120012, "PIPELINING\r\n.\r\n"),
    CLI(120020, "USER bob\r\n"),
    SRV(120021, "+OK\r\n"),
    CLI(120030, "PASS s3cret-Pa55\r\n"),
    SRV(121530, "+OK maildrop has 2 messages (320 octets)\r\n"),
    CLI(121540, "STAT\r\nLIST\r\nUIDL 1\r\n"),
    SRV(121541,
        "+OK 2 320\r\n+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"),
    CLI(121550, "RETR 1\r\n"),
    SRV(121560, "+OK 120 octets\r\n" MSG1),
    SRV(121561, ".\r\n"),
    CLI(121570, "TOP 2 0\r\n"),
    SRV(121571, "+OK\r\nSubject: two\r\n\r\n.\r\n"),
    CLI(121580, "UIDL\r\nDELE 1\r\nRSET\r\nNOOP\r\nLIST 9\r\nXTND XMIT\r\n"),
    SRV(121581, "+OK\r\n1 a\r\n2 b\r\n.\r\n+OK deleted\r\n+OK\r\n+OK\r\n-ERR no such "
                "message\r\n-ERR unknown\r\n"),
    CLI(121590, "QUIT\r\n"),
    SRV(121591, "+OK bye\r\n"),
    END(121592, MXE_SERVER_FIN),
    END(121593, MXE_CLIENT_FIN),
};

Test(pop3, full_session)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, session, N(session), &r);

	mxs_expect_n(&r, 16);
	expect(&r, 0, "GREETING", "", 0, 120000, "+OK", MXO_OK);
	expect(&r, 1, "CAPA", "", 120010, 120011, "+OK", MXO_OK);
	cr_assert_str_eq(r.txn[1].reply_text, "Capability list follows");
	cr_assert_eq(r.txn[1].size, strlen("USER\r\nUIDL\r\nTOP\r\nPIPELINING\r\n"));
	expect(&r, 2, "USER", "bob", 120020, 120021, "+OK", MXO_OK);
	expect(&r, 3, "PASS", "***", 120030, 121530, "+OK", MXO_OK);
	expect(&r, 4, "STAT", "", 121540, 121541, "+OK", MXO_OK);
	expect(&r, 5, "LIST", "", 121540, 121541, "+OK", MXO_OK);
	expect(&r, 6, "UIDL", "1", 121540, 121541, "+OK", MXO_OK);
	expect(&r, 7, "RETR", "1", 121550, 121560, "+OK", MXO_OK);
	cr_assert_eq(r.txn[7].size, MSG1_SIZE);
	expect(&r, 8, "TOP", "2 0", 121570, 121571, "+OK", MXO_OK);
	cr_assert_eq(r.txn[8].size, strlen("Subject: two\r\n\r\n"));
	expect(&r, 9, "UIDL", "", 121580, 121581, "+OK", MXO_OK);
	expect(&r, 10, "DELE", "1", 121580, 121581, "+OK", MXO_OK);
	expect(&r, 11, "RSET", "", 121580, 121581, "+OK", MXO_OK);
	expect(&r, 12, "NOOP", "", 121580, 121581, "+OK", MXO_OK);
	expect(&r, 13, "LIST", "9", 121580, 121581, "-ERR", MXO_OK);
	expect(&r, 14, "XTND", "XMIT", 121580, 121581, "-ERR", MXO_OK);
	expect(&r, 15, "QUIT", "", 121590, 121591, "+OK", MXO_OK);
	cr_assert_eq(r.txn[3].reply_ns - r.txn[3].request_ns, MS(1500));
	cr_assert_not(mxs_leaks(&r, "s3cret"));
	cr_assert_str_eq(r.sess.banner_host, "lab");
	cr_assert_eq(r.sess.software, MXS_UNKNOWN, "an APOP timestamp names no software");
	cr_assert_eq(r.sess.messages, 1);
	cr_assert_eq(r.sess.bytes_in, MSG1_SIZE);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* ---- APOP and SASL AUTH ------------------------------------------------- */

#define APOP_DIGEST "c4c9334bac560ecc979e58001b3e22fb"
#define SASL_PLAIN "AGJvYgBzM2NyZXQ="
#define SASL_USER "Ym9i"
#define SASL_PASS "c2VjcmV0cGFzcw=="

static const struct mxs_step auth[] = {
    SRV(1, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
    CLI(2, "APOP mrose " APOP_DIGEST "\r\n"),
    SRV(3, "-ERR permission denied\r\n"),
    CLI(4, "AUTH\r\n"),
    SRV(5, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"),
    CLI(6, "AUTH PLAIN " SASL_PLAIN "\r\n"),
    SRV(7, "-ERR nope\r\n"),
    CLI(8, "AUTH LOGIN\r\n"),
    SRV(9, "+ VXNlcm5hbWU6\r\n"),
    CLI(10, SASL_USER "\r\n"),
    SRV(11, "+ UGFzc3dvcmQ6\r\n"),
    CLI(12, SASL_PASS "\r\n"),
    SRV(1012, "+OK logged in\r\n"),
    CLI(1013, "STAT\r\n"),
    SRV(1014, "+OK 0 0\r\n"),
    END(1015, MXE_CLIENT_RST),
};

Test(pop3, apop_and_auth_redacted)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, auth, N(auth), &r);

	mxs_expect_n(&r, 8);
	cr_assert_str_eq(r.sess.banner_host, "pop3");
	expect(&r, 1, "APOP", "mrose ***", 2, 3, "-ERR", MXO_OK);
	expect(&r, 2, "AUTH", "", 4, 5, "+OK", MXO_OK);
	cr_assert_eq(r.txn[2].size, strlen("PLAIN\r\nLOGIN\r\n"));
	expect(&r, 3, "AUTH", "PLAIN ***", 6, 7, "-ERR", MXO_OK);
	expect(&r, 4, "AUTH", "LOGIN", 8, 9, "+", MXO_OK);
	expect(&r, 5, "AUTH", "***", 10, 11, "+", MXO_OK);
	expect(&r, 6, "AUTH", "***", 12, 1012, "+OK", MXO_OK);
	expect(&r, 7, "STAT", "", 1013, 1014, "+OK", MXO_OK);
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.txn[i].reply_code, "+"))
			cr_assert_str_eq(r.txn[i].reply_text, "");
	cr_assert_not(mxs_leaks(&r, APOP_DIGEST));
	cr_assert_not(mxs_leaks(&r, "c4c9334b"));
	cr_assert_not(mxs_leaks(&r, SASL_PLAIN));
	cr_assert_not(mxs_leaks(&r, SASL_USER));
	cr_assert_not(mxs_leaks(&r, SASL_PASS));
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

/* ---- STLS ---------------------------------------------------------------- */

static const char hello[] = "\x16\x03\x01\x00\x10\x01\x00\x00\x0cPASS leak\r\n+OK\r\n";

static const struct mxs_step stls[] = {
    SRV(1, "+OK ready\r\n"),
    CLI(2, "STLS\r\n"),
    SRV(3, "+OK Begin TLS negotiation\r\n"),
    CLIN(4, hello, sizeof(hello) - 1),
    SRVN(5, hello, sizeof(hello) - 1),
    END(6, MXE_SERVER_FIN),
};

Test(pop3, stls_stops_parsing)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, stls, N(stls), &r);
	/* after the record, "+OK" is no TLS: the TLS timer stops there (tls.h) */
	mxs_expect_n(&r, 3);
	expect(&r, 1, "STLS", "", 2, 3, "+OK", MXO_OK);
	cr_assert_str_eq(r.txn[2].command, "TLS-HELLO");
	cr_assert_eq(r.txn[2].outcome, MXO_INCOMPLETE);
	cr_assert(r.sess.tls);
	cr_assert_eq(r.sess.outcome, MXO_TLS_FAILED);
	cr_assert_not(mxs_leaks(&r, "leak"));
	mxs_result_free(&r);
}

/* ---- aborts -------------------------------------------------------------- */

static const struct mxs_step greet_abort[] = {
    END(60000, MXE_CLIENT_FIN),
    SRV(120000, "+OK late\r\n"),
    END(120001, MXE_CLIENT_RST),
};

Test(pop3, client_gives_up_before_greeting)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, greet_abort, N(greet_abort), &r);
	mxs_expect_n(&r, 1);
	expect(&r, 0, "GREETING", "", 0, 0, "", MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[0].end_ns, MS(60000));
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

static const struct mxs_step retr_cut[] = {
    SRV(1, "+OK ready\r\n"),
    CLI(2, "RETR 1\r\nQUIT\r\n"),
    SRV(3, "+OK\r\nline one\r\nline"),
    END(4, MXE_SERVER_RST),
};

Test(pop3, retr_cut_by_server)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, retr_cut, N(retr_cut), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 1, "RETR", "1", 2, 3, "+OK", MXO_SERVER_CLOSE);
	cr_assert_eq(r.txn[1].size, 14);
	cr_assert_eq(r.txn[1].end_ns, MS(4));
	expect(&r, 2, "QUIT", "", 2, 0, "", MXO_SERVER_CLOSE);
	cr_assert_eq(r.sess.outcome, MXO_SERVER_CLOSE);
	cr_assert_eq(r.sess.messages, 0);
	mxs_result_free(&r);
}

static const struct mxs_step mid_cmd[] = {
    SRV(1, "+OK ready\r\n"),
    CLI(2, "USER bob\r\nPA"),
    SRV(3, "+OK\r\n"),
    END(4, MXE_CAPTURE_END),
};

Test(pop3, capture_ends_mid_command)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, mid_cmd, N(mid_cmd), &r);
	mxs_expect_n(&r, 2);
	cr_assert_eq(r.sess.outcome, MXO_INCOMPLETE);
	mxs_result_free(&r);
}

/* ---- gaps ---------------------------------------------------------------- */

static const struct mxs_step gaps[] = {
    SRV(1, "+OK ready\r\n"),
    CLI(2, "USER bob\r\n"),
    SRV(3, "+OK\r\n"),
    CLI(4, "PASS hunter2-secret\r\n"),
    SRV(5, "+OK in\r\n"),
    CLI(6, "RETR 1\r\n"),
    SRV(7, "+OK\r\nbody\r\n"),
    GAP(8, MX_S2C, 100000),
    SRV(9, "more body\r\n+OK not a status\r\n.\r\n"),
    CLI(10, "PA"),
    GAP(11, MX_C2S, 10),
    CLI(12, "ret\r\nSTAT\r\n"),
    SRV(13, "-ERR what\r\n+OK 1 1\r\n"),
    CLI(14, "QUIT\r\n"),
    SRV(15, "+OK bye\r\n"),
    END(16, MXE_SERVER_FIN),
};

Test(pop3, gaps_resync)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, gaps, N(gaps), &r);
	mxs_expect_n(&r, 7);
	expect(&r, 3, "RETR", "1", 6, 7, "+OK", MXO_INCOMPLETE);
	cr_assert_eq(r.txn[3].size, 6 + 100000);
	/* after the gap the body's "+OK not a status" line ends the resync
	 * (unmatched: nothing is waiting); the command cut by the client-side
	 * gap is queued as "?" and absorbs the -ERR, so STAT and QUIT pair up */
	expect(&r, 4, "?", "", 11, 13, "-ERR", MXO_INCOMPLETE);
	expect(&r, 5, "STAT", "", 12, 13, "+OK", MXO_OK);
	cr_assert_not(mxs_leaks(&r, "hunter2"));
	cr_assert_not(mxs_leaks(&r, "secret"));
	int q = mxs_find(&r, "QUIT", 0);
	cr_assert_geq(q, 0);
	expect(&r, (size_t)q, "QUIT", "", 14, 15, "+OK", MXO_OK);
	mxs_result_free(&r);
}

/* ---- long lines, probe, grammar ------------------------------------------ */

Test(pop3, megabyte_line_resyncs)
{
	size_t big = 1 << 20;
	char *c = malloc(big + 32);
	memset(c, 'U', big);
	strcpy(c + big, "\r\nNOOP\r\n");
	const struct mxs_step st[] = {
	    SRV(1, "+OK x\r\n"),
	    CLI(2, c),
	    SRV(3, "-ERR too long\r\n+OK\r\n"),
	    END(4, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	cr_assert(mxs_run(&pop3_parser_ops, st, N(st), MXS_CHUNKS, 1460, true, &r));
	mxs_expect_n(&r, 3);
	expect(&r, 1, "UUUUUUUUUUUUUUU", "", 2, 3, "-ERR", MXO_OK);
	expect(&r, 2, "NOOP", "", 2, 3, "+OK", MXO_OK);
	mxs_result_free(&r);
	free(c);
}

Test(pop3, probe)
{
	struct {
		const char *in;
		int want;
	} c[] = {
	    {"+OK ready\r\n", 1}, {"+OK", 1},          {"+O", -1}, {"+", -1}, {"", -1},
	    {"-ERR busy\r\n", 0}, {"220 smtp\r\n", 0}, {"+NO", 0},
	};
	for (size_t i = 0; i < N(c); i++) {
		size_t n = strlen(c[i].in);
		uint8_t *g = guardbuf_new(c[i].in, n);
		cr_assert_eq(pop3_parser_ops.probe(g, n), c[i].want, "'%s'", c[i].in);
		guardbuf_free(g, n);
	}
	cr_assert_str_eq(pop3_parser_ops.name, "pop3");
}

Test(pop3, status_grammar)
{
	const char *t;
	size_t tl;
	cr_assert_eq(pop3_parse_status("+OK 2 320", 9, &t, &tl), 1);
	cr_assert_eq(tl, 5);
	cr_assert_eq(pop3_parse_status("+OK", 3, &t, &tl), 1);
	cr_assert_eq(tl, 0);
	cr_assert_eq(pop3_parse_status("-ERR", 4, &t, &tl), 2);
	cr_assert_eq(pop3_parse_status("+ abc", 5, &t, &tl), 3);
	cr_assert_eq(pop3_parse_status("+", 1, &t, &tl), 3);
	cr_assert_eq(pop3_parse_status("+OKAY", 5, &t, &tl), 0);
	cr_assert_eq(pop3_parse_status("-ERRx", 5, &t, &tl), 0);
	cr_assert_eq(pop3_parse_status("", 0, &t, &tl), 0);
}

/* ---- no greeting in the capture ------------------------------------------ */

#define SASL_XO "dXNlcj1ib2IBYXV0aD1CZWFyZXIgczNjcmV0AQE="

/* the handshake was seen, then the client spoke first (suricata-verify
 * pop3-auth-01): the server's first line answers CAPA, no GREETING */
static const struct mxs_step client_first[] = {
    CLI(1, "CAPA\r\n"),
    SRV(2, "+OK Capability list follows\r\nUSER\r\nSASL PLAIN XOAUTH2\r\n.\r\n"),
    CLI(3, "AUTH XOAUTH2\r\n"),
    SRV(4, "+ \r\n"),
    CLI(5, SASL_XO "\r\n"),
    SRV(6, "+OK Welcome.\r\n"),
    CLI(7, "STAT\r\n"),
    SRV(8, "+OK 1 320\r\n"),
    CLI(9, "UIDL\r\n"),
    SRV(10, "+OK\r\n1 abc\r\n.\r\n"),
    CLI(11, "QUIT\r\n"),
    END(12, MXE_CAPTURE_END),
};

Test(pop3, client_first_no_greeting)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, client_first, N(client_first), &r);
	mxs_expect_n(&r, 6);
	expect(&r, 0, "CAPA", "", 1, 2, "+OK", MXO_OK);
	cr_assert_eq(r.txn[0].size, strlen("USER\r\nSASL PLAIN XOAUTH2\r\n"));
	expect(&r, 1, "AUTH", "XOAUTH2", 3, 4, "+", MXO_OK);
	expect(&r, 2, "AUTH", "***", 5, 6, "+OK", MXO_OK);
	expect(&r, 3, "STAT", "", 7, 8, "+OK", MXO_OK);
	expect(&r, 4, "UIDL", "", 9, 10, "+OK", MXO_OK);
	expect(&r, 5, "QUIT", "", 11, 0, "", MXO_CUT);
	/* no greeting: no banner name taken from a reply */
	cr_assert_str_eq(r.sess.banner_host, "");
	cr_assert_not(mxs_leaks(&r, SASL_XO));
	mxs_result_free(&r);
}

/* no SYN, no SYN-ACK: the server's first line is the end of an exchange
 * before the capture began, not a greeting */
static const struct mxs_step picked_up[] = {
    SRV(1, "+OK 2 320\r\n"),
    CLI(2, "LIST\r\n"),
    SRV(3, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
    CLI(4, "QUIT\r\n"),
    SRV(5, "+OK bye\r\n"),
    END(6, MXE_SERVER_FIN),
};

Test(pop3, midstream_no_greeting)
{
	struct mxs_result r;
	mxs_midstream = true;
	mxs_check_splits(&pop3_parser_ops, picked_up, N(picked_up), &r);
	mxs_midstream = false;
	mxs_expect_n(&r, 2);
	expect(&r, 0, "LIST", "", 2, 3, "+OK", MXO_OK);
	cr_assert_eq(r.txn[0].size, strlen("1 120\r\n2 200\r\n"));
	expect(&r, 1, "QUIT", "", 4, 5, "+OK", MXO_OK);
	cr_assert_str_eq(r.sess.banner_host, "");
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* ---- a multi-line body without its "." ------------------------------------ */

#define MSG2 "Subject: two\r\n\r\n+OK this line is the message's\r\n"

/* zeek bad-list-retr-crafted.pcap: LIST's body never ends; RETR 1 sent in
 * the middle of it is answered by the next line, "+OK" */
static const struct mxs_step bad_list[] = {
    SRV(1, "+OK example.com POP3-Server\r\n"),
    CLI(2, "LIST\r\n"),
    SRV(3, "GARBAGE (and LIST response missing .)\r\n"),
    SRV(4, "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n"),
    CLI(5, "RETR 2\r\n"),
    SRV(6, "+OK message follows\r\n" MSG2 ".\r\n"),
    CLI(7, "UIDL\r\n"),
    SRV(8, "+OK\r\n1 a\r\n"),
    CLI(9, "DELE 9\r\n"),
    SRV(10, "-ERR no such message\r\n"),
    CLI(11, "QUIT\r\n"),
    SRV(12, "+OK bye\r\n"),
    END(13, MXE_SERVER_FIN),
};

Test(pop3, body_without_dot_resyncs)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, bad_list, N(bad_list), &r);
	mxs_expect_n(&r, 6);
	expect(&r, 0, "GREETING", "", 0, 1, "+OK", MXO_OK);
	expect(&r, 1, "LIST", "", 2, 4, "+OK", MXO_OK);
	cr_assert_eq(r.txn[1].size, strlen("1 120\r\n2 200\r\n"));
	expect(&r, 2, "RETR", "2", 5, 6, "+OK", MXO_OK);
	cr_assert_eq(r.txn[2].size, strlen(MSG2));
	expect(&r, 3, "UIDL", "", 7, 8, "+OK", MXO_OK);
	cr_assert_eq(r.txn[3].size, strlen("1 a\r\n"));
	expect(&r, 4, "DELE", "9", 9, 10, "-ERR", MXO_OK);
	expect(&r, 5, "QUIT", "", 11, 12, "+OK", MXO_OK);
	cr_assert_eq(r.sess.messages, 1); /* the RETR; not LIST or UIDL */
	cr_assert_eq(r.sess.bytes_in, strlen(MSG2));
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* a message may hold lines starting "+OK" or "-ERR": read whole by a
 * client that waits for the "." or pipelined before the body began, and
 * when a command came in the middle of it but the next line is message */
#define MSG3 "Subject: transcript\r\n\r\n+OK POP3 ready\r\n-ERR nope\r\n+OK\r\n"
#define MSG4 "Subject: more\r\n\r\nfirst\r\n+OK later\r\n"

static const struct mxs_step body_status_lines[] = {
    SRV(1, "+OK ready\r\n"),      CLI(2, "RETR 1\r\n"),
    SRV(3, "+OK\r\n" MSG3),       SRV(4, ".\r\n"),
    CLI(5, "RETR 1\r\nNOOP\r\n"), SRV(6, "+OK\r\n" MSG3 ".\r\n+OK\r\n"),
    CLI(7, "RETR 2\r\n"),         SRV(8, "+OK\r\nSubject: more\r\n\r\n"),
    CLI(9, "NOOP\r\n"),           SRV(10, "first\r\n+OK later\r\n.\r\n+OK noop\r\n"),
    END(11, MXE_SERVER_FIN),
};

Test(pop3, body_status_lines_kept)
{
	struct mxs_result r;
	mxs_check_splits(&pop3_parser_ops, body_status_lines, N(body_status_lines), &r);
	mxs_expect_n(&r, 6);
	expect(&r, 1, "RETR", "1", 2, 3, "+OK", MXO_OK);
	cr_assert_eq(r.txn[1].size, strlen(MSG3));
	expect(&r, 2, "RETR", "1", 5, 6, "+OK", MXO_OK);
	cr_assert_eq(r.txn[2].size, strlen(MSG3));
	expect(&r, 3, "NOOP", "", 5, 6, "+OK", MXO_OK);
	expect(&r, 4, "RETR", "2", 7, 8, "+OK", MXO_OK);
	cr_assert_eq(r.txn[4].size, strlen(MSG4));
	expect(&r, 5, "NOOP", "", 9, 10, "+OK", MXO_OK);
	cr_assert_str_eq(r.txn[5].reply_text, "noop");
	cr_assert_eq(r.sess.messages, 3);
	mxs_result_free(&r);
}

/* ---- issue 17: a big RETR body is reported as it goes (EV_TRANSFER) ------ */

Test(pop3, big_retr_progress)
{
	size_t n = 5 * 512 * 1024; /* 2.5 MiB of lines */
	char *body = mxs_text_lines(n);
	struct mxs_step steps[] = {
	    SRV(10, "+OK ready\r\n"),
	    CLI(20, "USER bob\r\n"),
	    SRV(21, "+OK\r\n"),
	    CLI(30, "PASS secret\r\n"),
	    SRV(31, "+OK logged in\r\n"),
	    CLI(40, "RETR 1\r\n"),
	    SRV(41, "+OK 2621440 octets\r\n"),
	    SRVN(100, body, n / 2),
	    SRVN(200, body + n / 2, n - n / 2),
	    SRV(300, ".\r\n"),
	    CLI(400, "QUIT\r\n"),
	    SRV(401, "+OK bye\r\n"),
	    END(500, MXE_SERVER_FIN),
	};
	struct mxs_result r;
	cr_assert(mxs_run(&pop3_parser_ops, steps, N(steps), MXS_WHOLE, 0, false, &r));
	cr_expect_eq(r.transfers, 3, "%u transfer events", r.transfers);
	cr_expect(r.last_xfer.to_client, "the server sends a retrieved message");
	cr_expect(r.last_xfer.done);
	cr_expect_eq(r.last_xfer.bytes, n);
	cr_expect_eq(r.last_xfer.start_ns, MS(100));
	cr_expect_eq(r.last_xfer.ts_ns, MS(300));
	cr_expect_eq(r.sess.max_message, n);
	cr_expect_eq(r.other_events, 0);
	mxs_result_free(&r);
	free(body);
}
