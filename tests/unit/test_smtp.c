/* test_smtp.c - SMTP stream parser: transcripts fed whole and split. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/smtp.h"
#include "analyze/txnq.h"
#include "../support/guardbuf.h"
#include "../support/mxscript.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static double
lat_ms(const struct mx_txn *t)
{
	return (double)(t->reply_ns - t->request_ns) / 1e6;
}

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
	cr_assert_eq(t->id, i + 1, "txn ids in emission order");
	cr_assert_eq(t->session_id, 42);
}

/* ---- an exim 4.96 session with PIPELINING and a dot-stuffed body ------- */

static const struct mxs_step exim[] = {
    SRV(1500, "220 mx.example.org ESMTP Exim 4.96 Mon, 23 Nov 2026 06:53:36 +0000\r\n"),
    CLI(1510, "EHLO Client.Good.Example\r\n"),
    SRV(1530, "250-mx.example.org Hello client.good.example [192.0.2.200]\r\n250-SIZE "
              "52428800\r\n250-8BITMIME\r\n"),
    SRV(1531, "250-PIPELINING\r\n250-PIPECONNECT\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-"
              "SMTPUTF8\r\n250 HELP\r\n"),
    CLI(1540, "MAIL FROM:<a@Good.Example.> SIZE=123\r\nRCPT TO:<b@example.org>\r\nRCPT "
              "TO:<c@EXAMPLE.org>\r\nRCPT TO:<nobody@other.example>\r\nDATA\r\n"),
    SRV(3540, "250 OK\r\n"),
    SRV(3541, "250 Accepted\r\n250 Accepted\r\n"),
    SRV(23541, "550 Unrouteable address\r\n354 Enter message, ending with \".\" on a line "
               "by itself\r\n"),
    CLI(23550, "Date: Mon, 23 Nov 2026 06:53:36 +0000\r\nTo: b@example.org\r\nFrom: "
               "a@good.example\r\nSubject: dots\r\n\r\n..leading dot\r\n"),
    CLI(23551, "..\r\nend\r"),
    CLI(23552, "\n."),
    CLI(23553, "\r\n"),
    SRV(27553, "250 OK id=1pXyZa-0001aB-Cd\r\n"),
    CLI(27560, "QUIT\r\n"),
    SRV(27561, "221 mx.example.org closing connection\r\n"),
    END(27562, MXE_SERVER_FIN),
    END(27563, MXE_CLIENT_FIN),
};

Test(smtp, exim_pipelining_session)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, exim, N(exim), &r);

	mxs_expect_n(&r, 9);
	expect(&r, 0, "GREETING", "", 0, 1500, "220", MXO_OK);
	expect(&r, 1, "EHLO", "Client.Good.Example", 1510, 1530, "250", MXO_OK);
	cr_assert_str_eq(r.txn[1].reply_text,
	                 "mx.example.org Hello client.good.example [192.0.2.200]");
	expect(&r, 2, "MAIL", "FROM:<a@Good.Example.> SIZE=123", 1540, 3540, "250", MXO_OK);
	expect(&r, 3, "RCPT", "TO:<b@example.org>", 1540, 3541, "250", MXO_OK);
	expect(&r, 4, "RCPT", "TO:<c@EXAMPLE.org>", 1540, 3541, "250", MXO_OK);
	expect(&r, 5, "RCPT", "TO:<nobody@other.example>", 1540, 23541, "550", MXO_OK);
	expect(&r, 6, "DATA", "", 1540, 23541, "354", MXO_OK);
	expect(&r, 7, "DATA-END", "", 23553, 27553, "250", MXO_OK);
	expect(&r, 8, "QUIT", "", 27560, 27561, "221", MXO_OK);
	cr_assert_eq(lat_ms(&r.txn[0]), 1500.0);
	cr_assert_eq(lat_ms(&r.txn[5]), 22001.0);
	cr_assert_eq(lat_ms(&r.txn[7]), 4000.0);
	/* body with stuffing removed, terminator excluded */
	const char *body = "Date: Mon, 23 Nov 2026 06:53:36 +0000\r\nTo: b@example.org\r\nFrom: "
	                   "a@good.example\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\nend\r\n";
	cr_assert_eq(r.txn[7].size, strlen(body));
	cr_assert_eq(r.txn[7].end_ns, 0);
	cr_assert_eq(r.sess.bytes_in, strlen(body));
	cr_assert_eq(r.sess.messages, 1);
	cr_assert_eq(r.sess.max_message, strlen(body));
	cr_assert_not(r.sess.null_sender, "MAIL FROM:<a@...>");
	cr_assert_str_eq(r.sess.banner_host, "mx.example.org");
	cr_assert_eq(r.sess.software, MXS_EXIM, "told from the greeting");
	/* kept as sent (issue 15); compared case-insensitively */
	cr_assert_str_eq(r.sess.helo, "Client.Good.Example");
	cr_assert_str_eq(r.sess.sender_domain, "good.example");
	cr_assert_eq(r.sess.n_rcpt_domains, 2);
	cr_assert_str_eq(r.sess.rcpt_domains[0], "example.org");
	cr_assert_str_eq(r.sess.rcpt_domains[1], "other.example");
	cr_assert_eq(r.sess.outcome, MXO_OK);
	cr_assert_not(r.sess.tls);
	mxs_result_free(&r);
}

/* ---- BDAT (CHUNKING): chunk bytes that look like commands are skipped -- */

static const struct mxs_step bdat[] = {
    SRV(100, "220-mx.example.org ESMTP\r\n220 multi-line greeting\r\n"),
    CLI(110, "EHLO c.example\r\n"),
    SRV(111, "250-mx.example.org\r\n250 CHUNKING\r\n"),
    CLI(120, "MAIL FROM:<>\r\nRCPT TO:<postmaster@[192.0.2.10]>\r\nBDAT 22\r\nQUIT\r\nRSET\r\n"),
    CLI(121, "0123456789BDAT 7 LAST\r\nabc\r\n.\r"),
    SRV(130, "250 OK\r\n250 Accepted\r\n"),
    SRV(131, "250 22 bytes received\r\n"),
    SRV(900, "250 OK id=1\r\n"),
    CLI(901, "BDAT 0 LAST\r\n"),
    SRV(902, "503 no transaction\r\n"),
    END(1000, MXE_CAPTURE_END),
};

Test(smtp, bdat_chunks)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, bdat, N(bdat), &r);

	mxs_expect_n(&r, 7);
	expect(&r, 0, "GREETING", "", 0, 100, "220", MXO_OK);
	cr_assert_str_eq(r.txn[0].reply_text, "mx.example.org ESMTP");
	expect(&r, 2, "MAIL", "FROM:<>", 120, 130, "250", MXO_OK);
	expect(&r, 3, "RCPT", "TO:<postmaster@[192.0.2.10]>", 120, 130, "250", MXO_OK);
	/* chunk 1: 22 bytes, the last one at 121 */
	expect(&r, 4, "BDAT", "22", 121, 131, "250", MXO_OK);
	cr_assert_eq(r.txn[4].size, 22);
	expect(&r, 5, "BDAT", "7 LAST", 121, 900, "250", MXO_OK);
	cr_assert_eq(r.txn[5].size, 7);
	expect(&r, 6, "BDAT", "0 LAST", 901, 902, "503", MXO_OK);
	cr_assert_eq(r.sess.bytes_in, 29);
	cr_assert_eq(r.sess.messages, 2);
	/* one message of two chunks (22 + 7 to LAST); the empty LAST adds none */
	cr_assert_eq(r.sess.max_message, 29);
	cr_assert(r.sess.null_sender, "MAIL FROM:<>");
	cr_assert_str_eq(r.sess.sender_domain, "");
	cr_assert_eq(r.sess.n_rcpt_domains, 1);
	cr_assert_str_eq(r.sess.rcpt_domains[0], "[192.0.2.10]");
	cr_assert_eq(r.sess.outcome, MXO_INCOMPLETE);
	mxs_result_free(&r);
}

/* ---- AUTH PLAIN / LOGIN: secrets never leave the parser --------------- */

#define PLAIN_SECRET "AGJvYgBzM2NyZXQ="   /* \0bob\0s3cret */
#define LOGIN_USER "Ym9iQGV4YW1wbGUub3Jn" /* bob@example.org */
#define LOGIN_PASS "czNjcmV0LXBhc3N3b3Jk" /* s3cret-password */

static const struct mxs_step auth[] = {
    SRV(10, "220 mail.example.net ESMTP Postfix\r\n"),
    CLI(20, "EHLO laptop\r\n"),
    SRV(21, "250-mail.example.net\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
    CLI(30, "AUTH PLAIN " PLAIN_SECRET "\r\n"),
    SRV(530, "535 5.7.8 Error: authentication failed\r\n"),
    CLI(540, "auth login\r\n"),
    SRV(541, "334 VXNlcm5hbWU6\r\n"),
    CLI(550, LOGIN_USER "\r\n"),
    SRV(551, "334 UGFzc3dvcmQ6\r\n"),
    CLI(560, LOGIN_PASS "\r\n"),
    SRV(1560, "235 2.7.0 Authentication successful\r\n"),
    CLI(1570, "AUTH PLAIN\r\n"),
    SRV(1571, "334 \r\n"),
    CLI(1580, "*\r\n"),
    SRV(1581, "501 5.7.0 Authentication aborted\r\n"),
    CLI(1590, "NOOP\r\n"),
    SRV(1591, "250 2.0.0 Ok\r\n"),
    END(1600, MXE_CLIENT_RST),
};

Test(smtp, auth_plain_login_redacted)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, auth, N(auth), &r);

	mxs_expect_n(&r, 9);
	expect(&r, 2, "AUTH", "PLAIN ***", 30, 530, "535", MXO_OK);
	expect(&r, 3, "AUTH", "LOGIN", 540, 541, "334", MXO_OK);
	cr_assert_str_eq(r.txn[3].reply_text, "", "SASL challenges are not kept");
	expect(&r, 4, "AUTH", "***", 550, 551, "334", MXO_OK);
	expect(&r, 5, "AUTH", "***", 560, 1560, "235", MXO_OK);
	cr_assert_eq(lat_ms(&r.txn[5]), 1000.0);
	expect(&r, 6, "AUTH", "PLAIN", 1570, 1571, "334", MXO_OK);
	expect(&r, 7, "AUTH", "***", 1580, 1581, "501", MXO_OK);
	expect(&r, 8, "NOOP", "", 1590, 1591, "250", MXO_OK);
	cr_assert_not(mxs_leaks(&r, PLAIN_SECRET));
	cr_assert_not(mxs_leaks(&r, "AGJvYgBz"));
	cr_assert_not(mxs_leaks(&r, LOGIN_USER));
	cr_assert_not(mxs_leaks(&r, LOGIN_PASS));
	cr_assert_not(mxs_leaks(&r, "czNj"));
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT, "RST between commands");
	cr_assert_eq(r.sess.software, MXS_POSTFIX);
	mxs_result_free(&r);
}

/* ---- STARTTLS: nothing parsed after the 220 --------------------------- */

static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03QUIT\r\nMAIL "
                                "FROM:<x@leak.example>\r\n";
static const char tls_server[] = "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"
                                 "250 fake\r\n";

static const struct mxs_step starttls[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"),
    CLI(6, "EHLO c\r\n"),
    SRV(7, "250-mx.example.org\r\n250 STARTTLS\r\n"),
    CLI(8, "STARTTLS\r\n"),
    SRV(9, "220 2.0.0 Ready to start TLS\r\n"),
    CLIN(10, tls_hello, sizeof(tls_hello) - 1),
    SRVN(11, tls_server, sizeof(tls_server) - 1),
    CLIN(12, tls_hello, sizeof(tls_hello) - 1),
    END(20, MXE_SERVER_FIN),
    END(21, MXE_CLIENT_FIN),
};

Test(smtp, starttls_stops_parsing)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, starttls, N(starttls), &r);

	mxs_expect_n(&r, 3);
	expect(&r, 2, "STARTTLS", "", 8, 9, "220", MXO_OK);
	cr_assert(r.sess.tls);
	cr_assert_str_eq(r.sess.sender_domain, "");
	/* the records never complete: the handshake did not end (test_tls.c
	   has the timing of well-formed ones) */
	cr_assert_eq(r.sess.outcome, MXO_TLS_FAILED);
	mxs_result_free(&r);
}

/* ---- 421: pending commands get server-close --------------------------- */

static const struct mxs_step s421[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"),
    CLI(6, "HELO c.example\r\n"),
    SRV(7, "250 mx.example.org\r\n"),
    CLI(8, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"),
    SRV(20008, "421 4.4.2 mx.example.org lost input connection\r\n"),
    SRV(20009, "250 must be ignored\r\n"),
    END(20010, MXE_SERVER_FIN),
};

Test(smtp, reply_421_closes)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, s421, N(s421), &r);

	mxs_expect_n(&r, 5);
	expect(&r, 2, "MAIL", NULL, 8, 20008, "421", MXO_SERVER_CLOSE);
	expect(&r, 3, "RCPT", NULL, 8, 0, "", MXO_SERVER_CLOSE);
	cr_assert_eq(r.txn[3].end_ns, MS(20008));
	expect(&r, 4, "DATA", NULL, 8, 0, "", MXO_SERVER_CLOSE);
	cr_assert_eq(r.sess.outcome, MXO_SERVER_CLOSE);
	mxs_result_free(&r);
}

/* ---- Outlook Express gives up after 60 s before the greeting ----------- */

static const struct mxs_step oe_abort[] = {
    END(60000, MXE_CLIENT_FIN),
    SRV(75000, "220 slow.example.org ESMTP\r\n"),
    END(75001, MXE_CLIENT_RST),
    END(75002, MXE_SERVER_FIN),
};

Test(smtp, client_abort_before_greeting)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, oe_abort, N(oe_abort), &r);

	mxs_expect_n(&r, 1);
	expect(&r, 0, "GREETING", "", 0, 0, "", MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[0].end_ns, MS(60000));
	cr_assert_eq(r.txn[0].end_ns - r.txn[0].request_ns, MS(60000), "the wait is computable");
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	cr_assert_str_eq(r.sess.banner_host, "slow.example.org");
	cr_assert_eq(r.sess.software, MXS_UNKNOWN, "\"ESMTP\" alone names no software");
	mxs_result_free(&r);
}

static const struct mxs_step rst_no_greeting[] = {
    END(30000, MXE_CLIENT_RST),
};

Test(smtp, client_rst_before_greeting)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, rst_no_greeting, N(rst_no_greeting), &r);
	mxs_expect_n(&r, 1);
	expect(&r, 0, "GREETING", "", 0, 0, "", MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[0].end_ns, MS(30000));
	mxs_result_free(&r);
}

/* ---- client aborts mid-command and while waiting ---------------------- */

static const struct mxs_step mid_cmd[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"),
    CLI(6, "HELO c.example\r\nMAIL FROM:<a@b.exa"),
    SRV(7, "250 mx.example.org\r\n"),
    END(9, MXE_CLIENT_FIN),
    END(10, MXE_SERVER_FIN),
};

Test(smtp, client_abort_mid_command)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, mid_cmd, N(mid_cmd), &r);
	mxs_expect_n(&r, 2);
	expect(&r, 1, "HELO", "c.example", 6, 7, "250", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

static const struct mxs_step wait_abort[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"),
    CLI(6, "HELO c.example\r\n"),
    SRV(7, "250 mx.example.org\r\n"),
    CLI(8, "MAIL FROM:<a@slow.example>\r\n"),
    END(20008, MXE_CLIENT_RST),
    SRV(25000, "250 OK\r\n"),
};

Test(smtp, client_abort_while_waiting)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, wait_abort, N(wait_abort), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 2, "MAIL", NULL, 8, 0, "", MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[2].end_ns, MS(20008));
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

static const struct mxs_step quit_fin[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"), CLI(6, "RSET\r\nQUIT\r\n"), END(6, MXE_CLIENT_FIN),
    SRV(8, "250 Reset OK\r\n221 bye\r\n"),  END(9, MXE_SERVER_FIN),
};

Test(smtp, quit_then_fin_is_normal)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, quit_fin, N(quit_fin), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 1, "RSET", "", 6, 8, "250", MXO_OK);
	expect(&r, 2, "QUIT", "", 6, 8, "221", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

static const struct mxs_step cap_end[] = {
    SRV(5, "220 mx.example.org ESMTP\r\n"),
    CLI(6, "EHLO c\r\n"),
    SRV(7, "250-mx.example.org\r\n250-SIZE\r\n"),
    END(9, MXE_CAPTURE_END),
};

Test(smtp, capture_end_incomplete)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, cap_end, N(cap_end), &r);
	mxs_expect_n(&r, 2);
	/* the reply began: its code and first byte are kept (issue 15) */
	expect(&r, 1, "EHLO", "c", 6, 7, "250", MXO_INCOMPLETE);
	cr_assert_eq(r.sess.outcome, MXO_INCOMPLETE);
	mxs_result_free(&r);
}

/* ---- DATA details: empty body, body cut by the close ------------------- */

static const struct mxs_step empty_body[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
    SRV(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
    CLI(4, ".\r\nQUIT\r\n"),
    SRV(5, "250 queued\r\n221 bye\r\n"),
    END(6, MXE_SERVER_FIN),
};

Test(smtp, empty_body)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, empty_body, N(empty_body), &r);
	mxs_expect_n(&r, 6);
	expect(&r, 4, "DATA-END", "", 4, 5, "250", MXO_OK);
	cr_assert_eq(r.txn[4].size, 0);
	expect(&r, 5, "QUIT", "", 4, 5, "221", MXO_OK);
	cr_assert_eq(r.sess.messages, 1);
	mxs_result_free(&r);
}

static const struct mxs_step refused_data[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
    SRV(3, "250 ok\r\n550 no such user\r\n554 5.5.1 Error: no valid recipients\r\n"),
    CLI(4, "QUIT\r\n"),
    SRV(5, "221 bye\r\n"),
    END(6, MXE_SERVER_FIN),
};

Test(smtp, refused_data_returns_to_commands)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, refused_data, N(refused_data), &r);
	mxs_expect_n(&r, 5);
	expect(&r, 3, "DATA", "", 2, 3, "554", MXO_OK);
	expect(&r, 4, "QUIT", "", 4, 5, "221", MXO_OK);
	cr_assert_eq(r.sess.messages, 0);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

static const struct mxs_step body_cut[] = {
    SRV(1, "220 x ESMTP\r\n"),  CLI(2, "DATA\r\n"),
    SRV(3, "354 go ahead\r\n"), CLI(4, "Subject: big\r\n\r\nxxxxxxxx"),
    END(5000, MXE_CLIENT_RST),
};

Test(smtp, body_cut_by_client)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, body_cut, N(body_cut), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 2, "DATA-END", "", 4, 0, "", MXO_CLIENT_ABORT);
	cr_assert_eq(r.txn[2].size, 24);
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

/* ---- argument hygiene, unknown verbs, pipelining overflow -------------- */

static const struct mxs_step odd[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "xclient NAME=foo\r\nverylongunknownverb123 arg\r\nvrfy \x01\x7f"
           "bob\r\n"),
    SRV(3, "550 no\r\n500 what\r\n252 maybe\r\n"),
    CLI(4, "etrn @example.org\r\nhelp\r\n\r\nnoop\r\n"),
    /* servers answer a blank line too (sendmail, postfix, exim: 500) */
    SRV(5, "458 no\r\n214 see rfc\r\n500 blank\r\n250 ok\r\n"),
    SRV(6, "this is no reply line\r\n"),
    END(7, MXE_CLIENT_FIN),
};

Test(smtp, verbs_and_arguments)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, odd, N(odd), &r);
	mxs_expect_n(&r, 8);
	expect(&r, 1, "XCLIENT", "NAME=foo", 2, 3, "550", MXO_OK);
	expect(&r, 2, "VERYLONGUNKNOWN", NULL, 2, 3, "500", MXO_OK);
	cr_assert_eq(strlen(r.txn[2].command), 15);
	cr_assert_str_eq(r.txn[2].command, "VERYLONGUNKNOWN");
	expect(&r, 3, "VRFY", "??bob", 2, 3, "252", MXO_OK);
	expect(&r, 4, "ETRN", "@example.org", 4, 5, "458", MXO_OK);
	expect(&r, 5, "HELP", "", 4, 5, "214", MXO_OK);
	expect(&r, 6, "(BLANK)", "", 4, 5, "500", MXO_OK);
	expect(&r, 7, "NOOP", "", 4, 5, "250", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

Test(smtp, pipelining_overflow_is_graceful)
{
	static char cmds[200 * 6 + 1], reps[200 * 8 + 1];
	cmds[0] = reps[0] = '\0';
	for (int i = 0; i < 200; i++) {
		strcat(cmds, "NOOP\r\n");
		strcat(reps, "250 ok\r\n");
	}
	const struct mxs_step st[] = {
	    SRV(1, "220 x\r\n"),
	    CLI(2, cmds),
	    SRV(3, reps),
	    END(4, MXE_CAPTURE_END),
	};
	struct mxs_result r;
	cr_assert(mxs_run(&smtp_parser_ops, st, N(st), MXS_WHOLE, 0, true, &r));
	/* 64 queued at most (the greeting was answered first) */
	mxs_expect_n(&r, 1 + 64);
	for (size_t i = 1; i < r.n; i++)
		cr_assert_eq(r.txn[i].outcome, MXO_OK);
	mxs_result_free(&r);
}

/* the input ends while the client waits: the wait is cut (at least that
   long), the session incomplete; a reply the end cut short keeps its code */
Test(smtp, wait_cut_by_the_end_of_the_input)
{
	const struct mxs_step st[] = {
	    SRV(1, "220 x\r\n"),
	    CLI(2, "EHLO c\r\n"),
	    SRV(3, "250 x\r\n"),
	    CLI(4, "MAIL FROM:<a@b.example>\r\n"),
	    END(9, MXE_CAPTURE_END),
	};
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, st, N(st), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 2, "MAIL", "FROM:<a@b.example>", 4, 0, "", MXO_CUT);
	cr_assert_eq(r.txn[2].end_ns, MS(9));
	cr_assert_eq(r.sess.outcome, MXO_INCOMPLETE);
	mxs_result_free(&r);
}

/* ---- long lines -------------------------------------------------------- */

Test(smtp, megabyte_lines_resync)
{
	size_t big = 1 << 20;
	char *c = malloc(big + 32), *s = malloc(big + 32);
	memset(c, 'X', big);
	strcpy(c + big, "\r\nNOOP\r\n");
	strcpy(s, "500-");
	memset(s + 4, 'y', big);
	strcpy(s + 4 + big, "\r\n500 too long\r\n250 ok\r\n");
	const struct mxs_step st[] = {
	    SRV(1, "220 x\r\n"),
	    CLI(2, c),
	    SRV(3, s),
	    END(4, MXE_SERVER_FIN),
	};
	struct mxs_result r, r2;
	char why[200];
	cr_assert(mxs_run(&smtp_parser_ops, st, N(st), MXS_WHOLE, 0, true, &r));
	mxs_expect_n(&r, 3);
	expect(&r, 1, "XXXXXXXXXXXXXXX", "", 2, 3, "500", MXO_OK);
	cr_assert_eq(strlen(r.txn[1].reply_text), 127);
	expect(&r, 2, "NOOP", "", 2, 3, "250", MXO_OK);
	cr_assert(mxs_run(&smtp_parser_ops, st, N(st), MXS_CHUNKS, 1460, false, &r2));
	cr_assert(mxs_result_eq(&r, &r2, why, sizeof(why)), "%s", why);
	mxs_result_free(&r);
	mxs_result_free(&r2);
	free(c);
	free(s);
}

/* ---- gaps -------------------------------------------------------------- */

static const struct mxs_step gaps[] = {
    SRV(1, "220 mx.example.org ESMTP\r\n"),
    CLI(2, "EHLO c.example\r\nMAIL FR"),
    GAP(3, MX_C2S, 30),
    CLI(4, "xample>\r\nRCPT TO:<r@d.example>\r\n"),
    SRV(5, "250-mx.example.org\r\n250-SI"),
    GAP(6, MX_S2C, 40),
    SRV(7, "NG\r\n250 HELP\r\n250 sender ok\r\n250 rcpt ok\r\n"),
    CLI(8, "DATA\r\n"),
    SRV(9, "354 go\r\n"),
    CLI(10, "body line\r\n"),
    GAP(11, MX_C2S, 5000),
    SRV(12, "250 queued\r\n"),
    CLI(13, "QUIT\r\n"),
    SRV(14, "221 bye\r\n"),
    END(15, MXE_SERVER_FIN),
};

Test(smtp, gaps_resync)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, gaps, N(gaps), &r);
	mxs_expect_n(&r, 7);
	expect(&r, 1, "EHLO", "c.example", 2, 5, "250", MXO_INCOMPLETE);
	expect(&r, 2, "MAIL", "", 3, 7, "250", MXO_INCOMPLETE);
	expect(&r, 3, "RCPT", "TO:<r@d.example>", 4, 7, "250", MXO_OK);
	expect(&r, 4, "DATA", "", 8, 9, "354", MXO_OK);
	expect(&r, 5, "DATA-END", "", 10, 12, "250", MXO_INCOMPLETE);
	cr_assert_eq(r.txn[5].size, 11 + 5000);
	expect(&r, 6, "QUIT", "", 13, 14, "221", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

static const struct mxs_step gap_auth[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "AUTH LOGIN\r\n"),
    SRV(3, "334 VXNlcm5hbWU6\r\n"),
    CLI(4, LOGIN_USER "\r\n"),
    GAP(5, MX_S2C, 18),
    CLI(6, LOGIN_PASS "\r\n"),
    SRV(7, "235 ok\r\n"),
    CLI(8, "MAIL FROM:<a@b.example>\r\n"),
    SRV(9, "250 ok\r\n"),
    END(10, MXE_CLIENT_FIN),
};

Test(smtp, gap_during_auth_never_leaks)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, gap_auth, N(gap_auth), &r);
	cr_assert_not(mxs_leaks(&r, LOGIN_USER));
	cr_assert_not(mxs_leaks(&r, LOGIN_PASS));
	cr_assert_not(mxs_leaks(&r, "czNj"));
	expect(&r, 2, "AUTH", "***", 4, 0, "", MXO_INCOMPLETE);
	expect(&r, 3, "AUTH", "***", 6, 7, "235", MXO_OK);
	expect(&r, 4, "MAIL", NULL, 8, 9, "250", MXO_OK);
	mxs_result_free(&r);
}

/* ---- probe and the pure grammar ---------------------------------------- */

Test(smtp, probe)
{
	struct {
		const char *in;
		int want;
	} c[] = {
	    {"220 mx ESMTP\r\n", 1},
	    {"220-mx\r\n", 1},
	    {"554 go away\r\n", 1},
	    {"22", -1},
	    {"", -1},
	    {"2", -1},
	    {"220", -1},
	    {"+OK POP3\r\n", 0},
	    {"221 x", 0},
	    {"SSH-2.0", 0},
	    {"5", -1},
	    {"55", -1},
	    {"554", -1},
	    {"220x", 0},
	};
	for (size_t i = 0; i < N(c); i++) {
		size_t n = strlen(c[i].in);
		uint8_t *g = guardbuf_new(c[i].in, n);
		cr_assert_eq(smtp_parser_ops.probe(g, n), c[i].want, "'%s'", c[i].in);
		guardbuf_free(g, n);
	}
	cr_assert_str_eq(smtp_parser_ops.name, "smtp");
	cr_assert_eq(smtp_parser_ops.proto, MXP_SMTP);
}

Test(smtp, reply_line_grammar)
{
	struct smtp_reply_line r;
	cr_assert_eq(smtp_parse_reply_line("250-SIZE 1", 10, &r), 0);
	cr_assert_eq(r.code, 250);
	cr_assert(r.more);
	cr_assert_eq(r.textlen, 6);
	cr_assert_eq(smtp_parse_reply_line("354", 3, &r), 0);
	cr_assert_not(r.more);
	cr_assert_eq(r.textlen, 0);
	cr_assert_eq(smtp_parse_reply_line("421 bye", 7, &r), 0);
	cr_assert_eq(smtp_parse_reply_line("199 x", 5, &r), -1);
	cr_assert_eq(smtp_parse_reply_line("650 x", 5, &r), -1);
	cr_assert_eq(smtp_parse_reply_line("25", 2, &r), -1);
	cr_assert_eq(smtp_parse_reply_line("250x", 4, &r), -1);
	cr_assert_eq(smtp_parse_reply_line("2a0 x", 5, &r), -1);
}

Test(smtp, path_domain)
{
	struct {
		const char *arg;
		const char *dom; /* NULL = none */
	} c[] = {
	    {"FROM:<a@b.example>", "b.example"},
	    {"FROM: <a@B.example.> SIZE=1", "B.example."},
	    {"FROM:<>", NULL},
	    {"TO:<postmaster>", NULL},
	    {"TO:<@relay.example:u@final.example>", "final.example"},
	    {"TO:<u@[192.0.2.1]>", "[192.0.2.1]"},
	    {"FROM:a@bare.example BODY=8BITMIME", "bare.example"},
	    {"FROM <a@b>", NULL},
	    {"TO:<u@>", NULL},
	};
	for (size_t i = 0; i < N(c); i++) {
		const char *d;
		size_t dl;
		bool ok = smtp_path_domain(c[i].arg, strlen(c[i].arg), &d, &dl);
		if (!c[i].dom) {
			cr_assert_not(ok, "%s", c[i].arg);
			continue;
		}
		cr_assert(ok, "%s", c[i].arg);
		cr_assert_eq(dl, strlen(c[i].dom), "%s", c[i].arg);
		cr_assert(memcmp(d, c[i].dom, dl) == 0, "%s", c[i].arg);
	}
}

/* ---- picked up mid-stream (no SYN, no SYN-ACK seen) --------------------- */

static const struct mxs_step mid_greeting[] = {
    SRV(1, "220 mx.example.org ESMTP\r\n"),
    CLI(2, "EHLO c\r\n"),
    SRV(3, "250 mx.example.org\r\n"),
    END(4, MXE_CLIENT_FIN),
};

Test(smtp, midstream_greeting_has_no_start)
{
	struct mxs_result r;
	mxs_midstream = true;
	mxs_check_splits(&smtp_parser_ops, mid_greeting, N(mid_greeting), &r);
	mxs_midstream = false;
	mxs_expect_n(&r, 2);
	cr_assert_str_eq(r.txn[0].command, "GREETING");
	cr_assert_eq(r.txn[0].request_ns, 0, "when it connected is unknown");
	cr_assert_str_eq(r.txn[0].reply_code, "220");
	expect(&r, 1, "EHLO", "c", 2, 3, "250", MXO_OK);
	cr_assert_str_eq(r.sess.banner_host, "mx.example.org");
	mxs_result_free(&r);
}

/* the capture began inside a session: the first reply ends an exchange it
 * missed, and every later reply answers its own command (no shift) */
static const struct mxs_step mid_exchange[] = {
    SRV(1, "250 2.1.0 ok\r\n"),
    CLI(2, "RCPT TO:<a@example.org>\r\n"),
    SRV(3, "250 2.1.5 ok\r\n"),
    CLI(4, "QUIT\r\n"),
    SRV(5, "221 bye\r\n"),
    END(6, MXE_SERVER_FIN),
};

Test(smtp, midstream_pairs_the_commands_seen)
{
	struct mxs_result r;
	mxs_midstream = true;
	mxs_check_splits(&smtp_parser_ops, mid_exchange, N(mid_exchange), &r);
	mxs_midstream = false;
	mxs_expect_n(&r, 2);
	expect(&r, 0, "RCPT", "TO:<a@example.org>", 2, 3, "250", MXO_OK);
	expect(&r, 1, "QUIT", "", 4, 5, "221", MXO_OK);
	cr_assert_str_eq(r.sess.banner_host, "");
	cr_assert_eq(r.sess.software, MXS_NONE, "no greeting seen");
	cr_assert_eq(r.sess.outcome, MXO_OK);
	mxs_result_free(&r);
}

/* a FIN in the middle of a command line, with an answer still due: the
 * answer is paired, and the session is the client's abort, not a
 * half-close */
static const struct mxs_step fin_mid_line[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "EHLO c\r\nMAIL FR"),
    END(3, MXE_CLIENT_FIN),
    SRV(4, "250 x\r\n"),
    END(5, MXE_SERVER_FIN),
};

Test(smtp, fin_mid_command_is_an_abort)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, fin_mid_line, N(fin_mid_line), &r);
	mxs_expect_n(&r, 2);
	expect(&r, 1, "EHLO", "c", 2, 4, "250", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_CLIENT_ABORT);
	mxs_result_free(&r);
}

/* a script sends its dialogue and half-closes; every answer is read */
static const struct mxs_step script_half_close[] = {
    SRV(1, "220 x ESMTP\r\n"),
    CLI(2, "HELO c\r\nMAIL FROM:<a@b>\r\n"),
    END(3, MXE_CLIENT_FIN),
    SRV(4, "250 x\r\n250 ok\r\n"),
    END(5, MXE_SERVER_FIN),
};

Test(smtp, half_close_answers_are_read)
{
	struct mxs_result r;
	mxs_check_splits(&smtp_parser_ops, script_half_close, N(script_half_close), &r);
	mxs_expect_n(&r, 3);
	expect(&r, 1, "HELO", "c", 2, 4, "250", MXO_OK);
	expect(&r, 2, "MAIL", "FROM:<a@b>", 2, 4, "250", MXO_OK);
	cr_assert_eq(r.sess.outcome, MXO_HALF_CLOSE);
	mxs_result_free(&r);
}

/* ---- issue 17: a big body is reported as it goes (EV_TRANSFER) ---------- */

/* a session up to the 354 of its DATA, at 10 to 51 ms */
#define TO_DATA_AT_51                                                                              \
	SRV(10, "220 mx.example.org ESMTP Exim 4.96\r\n"), CLI(20, "EHLO c.example\r\n"),            \
	    SRV(21, "250 mx.example.org\r\n"), CLI(30, "MAIL FROM:<a@c.example>\r\n"),             \
	    SRV(31, "250 OK\r\n"), CLI(40, "RCPT TO:<b@example.org>\r\n"),                          \
	    SRV(41, "250 Accepted\r\n"), CLI(50, "DATA\r\n"), SRV(51, "354 go ahead\r\n")

Test(smtp, big_body_whose_end_was_lost)
{
	/* 2.5 MiB of body, its last bytes and the final dot lost in a gap: the
	 * server's 250 answers it, so the message counts and its transfer ends
	 * there (found by fuzz_smtp: the correlator kept it loading its host
	 * until the session's end) */
	size_t n = 5 * 512 * 1024;
	char *body = mxs_text_lines(n);
	struct mxs_step steps[] = {
	    TO_DATA_AT_51,
	    CLIN(100, body, n - 1000),
	    GAP(300, MX_C2S, 1003),
	    SRV(900, "250 OK id=1\r\n"),
	    CLI(950, "QUIT\r\n"),
	    SRV(951, "221 bye\r\n"),
	    END(1000, MXE_CAPTURE_END),
	};
	struct mxs_result r;
	cr_assert(mxs_run(&smtp_parser_ops, steps, N(steps), MXS_WHOLE, 0, false, &r));
	cr_expect(r.last_xfer.done, "the transfer ended at the reply");
	cr_expect_eq(r.last_xfer.bytes, n + 3, "what went by, the gap included");
	cr_expect_eq(r.sess.max_message, n + 3);
	cr_expect_eq(r.sess.messages, 1);
	mxs_result_free(&r);
	free(body);
}

Test(smtp, big_body_progress)
{
	/* 2.5 MiB of body lines in 1 MiB-ish pieces, then the final dot */
	size_t n = 5 * 512 * 1024; /* 2.5 MiB of lines */
	char *body = mxs_text_lines(n);
	struct mxs_step steps[] = {
	    TO_DATA_AT_51,
	    CLIN(100, body, n / 2),
	    CLIN(200, body + n / 2, n - n / 2),
	    CLI(300, ".\r\n"),
	    SRV(900, "250 OK id=1\r\n"),
	    END(1000, MXE_CAPTURE_END),
	};
	struct mxs_result r;
	cr_assert(mxs_run(&smtp_parser_ops, steps, N(steps), MXS_WHOLE, 0, false, &r));
	/* steps at 1 and 2 MiB, then the end */
	cr_expect_eq(r.transfers, 3, "%u transfer events", r.transfers);
	cr_expect_eq(r.last_xfer.bytes, n);
	cr_expect(r.last_xfer.done);
	cr_expect_eq(r.last_xfer.start_ns, MS(100), "its first byte");
	cr_expect_eq(r.last_xfer.ts_ns, MS(300), "its last byte");
	cr_expect_eq(r.last_xfer.session_id, 42);
	cr_expect_eq(r.sess.max_message, n);
	cr_expect_eq(r.other_events, 0);
	cr_expect_eq(r.bad_session_ptr, 0);
	mxs_result_free(&r);
	free(body);
}

/*
 * The copy every reply text and argument goes through (analyze/txnq.c):
 * at most dstlen - 1 bytes and a NUL, the rest of dst untouched, bytes
 * outside printable ASCII as '?', for every source length and room.
 */
Test(text, copy_printable_for_every_length_and_room)
{
	char src[80], dst[96];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)(i % 3 == 0 ? 'a' + i % 26 : i % 3 == 1 ? 0x7f + i : 0x1f + i % 2);
	for (size_t n = 0; n <= sizeof(src); n++) {
		for (size_t room = 0; room <= 90; room++) {
			memset(dst, 'X', sizeof(dst));
			mx_copy_printable(dst, room, src, n);
			if (room == 0) {
				cr_assert_eq(dst[0], 'X', "nothing written into no room");
				continue;
			}
			size_t m = n < room - 1 ? n : room - 1;
			for (size_t i = 0; i < m; i++) {
				unsigned char c = (unsigned char)src[i];
				char want = c >= 0x20 && c <= 0x7e ? (char)c : '?';
				cr_assert_eq(dst[i], want, "n %zu room %zu byte %zu", n, room, i);
			}
			cr_assert_eq(dst[m], '\0', "n %zu room %zu", n, room);
			for (size_t i = m + 1; i < sizeof(dst); i++)
				cr_assert_eq(dst[i], 'X', "n %zu room %zu: byte %zu written", n, room, i);
		}
	}
}
