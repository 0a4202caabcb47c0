/* test_diagnose.c - the server software told from greetings, and the remedies per software. */
#include <criterion/criterion.h>

#include <string.h>

#include "../../analyze/diagnose.h"
#include "../../analyze/software.h"

static enum mx_software
smtp_greeting(const char *text)
{
	return mx_software_detect(text, strlen(text), true);
}

static enum mx_software
pop3_greeting(const char *text)
{
	return mx_software_detect(text, strlen(text), false);
}

/* ---- detection ---- */

Test(software, default_greetings)
{
	/* the text after "220 " / "+OK " as the programs send it */
	cr_expect_eq(
	    smtp_greeting("mx.example.org ESMTP Exim 4.96 Mon, 23 Nov 2026 06:48:46 +0000"),
	    MXS_EXIM);
	cr_expect_eq(smtp_greeting("mail.example.net ESMTP Postfix"), MXS_POSTFIX);
	cr_expect_eq(smtp_greeting("mail.example.net ESMTP Postfix (Debian/GNU)"), MXS_POSTFIX);
	cr_expect_eq(smtp_greeting("mx ESMTP mxlab (postfix)"), MXS_POSTFIX, "the lab's banner");
	cr_expect_eq(smtp_greeting("mx.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9; Mon, 23 Nov "
	                           "2026 06:48:46 GMT"),
	             MXS_SENDMAIL);
	cr_expect_eq(smtp_greeting("ex01.example.com Microsoft ESMTP MAIL Service ready at Mon, 23 "
	                           "Nov 2026 06:48:46 +0000"),
	             MXS_EXCHANGE);
	cr_expect_eq(pop3_greeting("Dovecot ready."), MXS_DOVECOT);
	cr_expect_eq(pop3_greeting("Dovecot (Debian) ready."), MXS_DOVECOT);
	cr_expect_eq(pop3_greeting("mxlab POP3 (dovecot) ready."), MXS_DOVECOT, "the lab's banner");
	cr_expect_eq(pop3_greeting("The Microsoft Exchange POP3 service is ready."), MXS_EXCHANGE);
}

Test(software, greetings_that_name_nothing_are_unknown)
{
	/* qmail-smtpd, or a postfix with a shortened banner */
	cr_expect_eq(smtp_greeting("mx.example.org ESMTP"), MXS_UNKNOWN);
	/* qmail-pop3d's APOP timestamp, the POP3 responder behind tcpserver */
	cr_expect_eq(pop3_greeting("<2417.1700000000@mx.example.org>"), MXS_UNKNOWN);
	cr_expect_eq(pop3_greeting("lab POP3 ready"), MXS_UNKNOWN);
	cr_expect_eq(pop3_greeting(""), MXS_UNKNOWN);
	cr_expect_eq(mx_software_detect(NULL, 10, true), MXS_UNKNOWN);
}

Test(software, host_names_and_parts_of_words_are_not_products)
{
	cr_expect_eq(smtp_greeting("postfix ESMTP ready"), MXS_UNKNOWN, "the host's name");
	cr_expect_eq(smtp_greeting("  exim ESMTP ready"), MXS_UNKNOWN, "the host's name");
	cr_expect_eq(smtp_greeting("mx ESMTP relay postfix.example.org"), MXS_UNKNOWN);
	cr_expect_eq(smtp_greeting("mx ESMTP exim-relay"), MXS_UNKNOWN);
	cr_expect_eq(smtp_greeting("mx ESMTP Eximious"), MXS_UNKNOWN);
	cr_expect_eq(smtp_greeting("mx ESMTP sendmail_compat"), MXS_UNKNOWN);
	cr_expect_eq(pop3_greeting("dovecots ready"), MXS_UNKNOWN);
}

Test(software, odd_and_hostile_text)
{
	cr_expect_eq(smtp_greeting("mx ESMTP EXIM"), MXS_EXIM, "case ignored");
	cr_expect_eq(smtp_greeting("mx ESMTP Exim (not Postfix)"), MXS_UNKNOWN, "two named");
	cr_expect_eq(smtp_greeting("mx ESMTP Exim exim 4.96"), MXS_EXIM, "one named twice");
	cr_expect_eq(smtp_greeting("mx ESMTP\t\x01"
	                           "Exim\xff"),
	             MXS_EXIM, "control bytes split words");
	/* bounded by len: the word cut off is not the word */
	const char cut[] = "mx ESMTP Exim";
	cr_expect_eq(mx_software_detect(cut, strlen(cut) - 1, true), MXS_UNKNOWN);
	cr_expect_eq(mx_software_detect(cut, strlen(cut), true), MXS_EXIM);
	/* a NUL inside is a byte like any other, not the end */
	const char nul[] = "mx ESMTP\0Exim";
	cr_expect_eq(mx_software_detect(nul, sizeof(nul) - 1, true), MXS_EXIM);
	/* no space: all of it is the host name */
	cr_expect_eq(smtp_greeting("Exim"), MXS_UNKNOWN);
	/* only the first MX_SOFTWARE_SCAN bytes are looked at */
	char big[MX_SOFTWARE_SCAN + 64];
	memset(big, 'x', sizeof(big));
	memcpy(big, "mx ", 3);
	big[MX_SOFTWARE_SCAN - 10] = ' ';
	memcpy(big + MX_SOFTWARE_SCAN - 9, "Exim", 4); /* ends 5 bytes before the bound */
	big[MX_SOFTWARE_SCAN - 5] = ' ';
	cr_expect_eq(mx_software_detect(big, sizeof(big), true), MXS_EXIM);
	memset(big + MX_SOFTWARE_SCAN - 10, 'x', 6);
	big[MX_SOFTWARE_SCAN - 1] = ' ';
	memcpy(big + MX_SOFTWARE_SCAN, "Exim ", 5);
	cr_expect_eq(mx_software_detect(big, sizeof(big), true), MXS_UNKNOWN, "past the bound");
}

Test(software, names)
{
	cr_expect_null(mx_software_str(MXS_NONE));
	cr_expect_str_eq(mx_software_str(MXS_UNKNOWN), "unknown");
	cr_expect_str_eq(mx_software_str(MXS_EXIM), "exim");
	cr_expect_str_eq(mx_software_str(MXS_POSTFIX), "postfix");
	cr_expect_str_eq(mx_software_str(MXS_SENDMAIL), "sendmail");
	cr_expect_str_eq(mx_software_str(MXS_DOVECOT), "dovecot");
	cr_expect_str_eq(mx_software_str(MXS_EXCHANGE), "exchange");
	cr_expect_null(mx_software_str((enum mx_software)99));
}

/* ---- remedies ---- */

static const char *
rem(enum mx_software sw, enum mx_relation r)
{
	return diag_remedy(r == MXR_IDENT ? MXC_IDENT : MXC_DNS, r, sw);
}

#define HAS(text, what) cr_expect(strstr((text), (what)) != NULL, "%s: no \"%s\"", (text), (what))
#define HASNT(text, what) cr_expect(strstr((text), (what)) == NULL, "%s: \"%s\"", (text), (what))

static const enum mx_relation every_rel[] = {
    MXR_CLIENT_PTR,    MXR_CLIENT_FORWARD,   MXR_SELF_PTR, MXR_SELF_NAME, MXR_HELO,
    MXR_SENDER_DOMAIN, MXR_RECIPIENT_DOMAIN, MXR_SPF,      MXR_DNSBL,     MXR_IP_LITERAL,
    MXR_IDENT,
};
#define NREL (sizeof(every_rel) / sizeof(every_rel[0]))

Test(remedy, exim)
{
	HAS(rem(MXS_EXIM, MXR_IDENT), "rfc1413_query_timeout = 0s");
	HAS(rem(MXS_EXIM, MXR_IDENT), "rfc1413_hosts");
	HAS(rem(MXS_EXIM, MXR_CLIENT_PTR), "host_lookup");
	HAS(rem(MXS_EXIM, MXR_CLIENT_PTR), "reverse zone");
	HAS(rem(MXS_EXIM, MXR_CLIENT_FORWARD), "host_lookup");
	HAS(rem(MXS_EXIM, MXR_SELF_NAME), "primary_hostname");
	HAS(rem(MXS_EXIM, MXR_DNSBL), "dnslists");
	HAS(rem(MXS_EXIM, MXR_SENDER_DOMAIN), "dns_retrans");
	HAS(rem(MXS_EXIM, MXR_HELO), "dns_retry");
	HAS(rem(MXS_EXIM, MXR_SELF_PTR), "PTR record");
}

Test(remedy, postfix)
{
	HAS(rem(MXS_POSTFIX, MXR_CLIENT_PTR), "smtpd_peername_lookup = no");
	HAS(rem(MXS_POSTFIX, MXR_CLIENT_FORWARD), "smtpd_peername_lookup = no");
	HAS(rem(MXS_POSTFIX, MXR_SELF_NAME), "myhostname");
	HAS(rem(MXS_POSTFIX, MXR_DNSBL), "postscreen_dnsbl_sites");
	HAS(rem(MXS_POSTFIX, MXR_DNSBL), "reject_rbl_client");
	HAS(rem(MXS_POSTFIX, MXR_IP_LITERAL), "relayhost = [10.11.12.13]");
	HAS(rem(MXS_POSTFIX, MXR_RECIPIENT_DOMAIN), "reject_unknown_recipient_domain");
	HAS(rem(MXS_POSTFIX, MXR_SPF), "/etc/resolv.conf");
	HAS(rem(MXS_POSTFIX, MXR_IDENT), "no ident");
}

Test(remedy, sendmail)
{
	HAS(rem(MXS_SENDMAIL, MXR_IDENT), "Timeout.ident=0");
	HAS(rem(MXS_SENDMAIL, MXR_IDENT), "confTO_IDENT");
	HAS(rem(MXS_SENDMAIL, MXR_CLIENT_PTR), "Timeout.resolver.retrans");
	HAS(rem(MXS_SENDMAIL, MXR_SENDER_DOMAIN), "Timeout.resolver.retry");
	HAS(rem(MXS_SENDMAIL, MXR_DNSBL), "FEATURE(`dnsbl')");
	HAS(rem(MXS_SENDMAIL, MXR_IP_LITERAL), "SMART_HOST");
	HAS(rem(MXS_SENDMAIL, MXR_SELF_NAME), "confDOMAIN_NAME");
}

Test(remedy, dovecot)
{
	HAS(rem(MXS_DOVECOT, MXR_SELF_NAME), "/etc/hosts");
	HAS(rem(MXS_DOVECOT, MXR_SELF_NAME), "Dovecot's login processes");
	HAS(rem(MXS_DOVECOT, MXR_CLIENT_PTR), "login_access_sockets = tcpwrap");
	HAS(rem(MXS_DOVECOT, MXR_IDENT), "login_access_sockets = tcpwrap");
}

Test(remedy, unknown_says_so_and_names_no_product)
{
	static const struct {
		enum mx_software sw;
		const char *pre;
	} unk[] = {
	    {MXS_NONE,
	     "server software not known (its greeting was not seen), so the generic fix: "},
	    {MXS_UNKNOWN, "server software not recognized from its greeting, so the generic fix: "},
	    {(enum mx_software)77,
	     "server software not recognized from its greeting, so the generic fix: "},
	    {MXS_EXCHANGE, "Microsoft Exchange (no Exchange setting is named here), the generic "
	                   "fix: "},
	};
	static const char *const products[] = {"tcpserver", "Exim",     "exim",      "Postfix",
	                                       "postfix",   "sendmail", "Dovecot",   "Timeout.",
	                                       "rfc1413_",  "smtpd_",   "SMART_HOST"};
	for (size_t u = 0; u < sizeof(unk) / sizeof(unk[0]); u++)
		for (size_t i = 0; i < NREL; i++) {
			const char *t = rem(unk[u].sw, every_rel[i]);
			cr_expect(strncmp(t, unk[u].pre, strlen(unk[u].pre)) == 0, "%s", t);
			for (size_t p = 0; p < sizeof(products) / sizeof(products[0]); p++)
				HASNT(t, products[p]);
		}
	HAS(rem(MXS_UNKNOWN, MXR_CLIENT_PTR), "turn off the server's client reverse lookups");
	HAS(rem(MXS_UNKNOWN, MXR_IDENT), "reject port 113");
	HAS(rem(MXS_EXCHANGE, MXR_CLIENT_PTR), "Microsoft Exchange");
	HASNT(rem(MXS_EXCHANGE, MXR_CLIENT_PTR), "tcpserver");
}

Test(remedy, each_software_names_only_its_own_settings)
{
	static const struct {
		enum mx_software sw;
		const char *other[4];
	} own[] = {
	    {MXS_EXIM, {"Postfix", "sendmail", "Dovecot", "tcpserver"}},
	    {MXS_POSTFIX, {"Exim", "sendmail", "Dovecot", "tcpserver"}},
	    {MXS_SENDMAIL, {"Exim", "Postfix", "Dovecot", "tcpserver"}},
	    {MXS_DOVECOT, {"Exim", "Postfix", "sendmail", "tcpserver"}},
	};
	for (size_t s = 0; s < sizeof(own) / sizeof(own[0]); s++)
		for (size_t i = 0; i < NREL; i++) {
			const char *t = rem(own[s].sw, every_rel[i]);
			cr_expect_gt(strlen(t), 20);
			HASNT(t, "not recognized");
			for (int o = 0; o < 4; o++)
				HASNT(t, own[s].other[o]);
		}
	/* not a cause of its own: look locally, whatever the software */
	HAS(diag_remedy(MXC_DNS, MXR_UNRELATED, MXS_EXIM), "local processing");
}

/* ---- the combined remedy of a reply ---- */

static struct diag_wait
wait_with(const struct diag_cause *c, int n, enum mx_software sw)
{
	struct diag_wait w = {.command = "GREETING",
	                      .wait_ms = 120000,
	                      .replied = true,
	                      .causes = c,
	                      .ncauses = n,
	                      .software = sw};
	return w;
}

static const struct diag_cause three[] = {
    {.kind = MXC_DNS,
     .rel = MXR_SELF_PTR,
     .overlap_ms = 75000,
     .qtype = 12,
     .qname = "10.2.0.192.in-addr.arpa",
     .dns_outcome = MXD_UNANSWERED},
    {.kind = MXC_IDENT, .rel = MXR_IDENT, .overlap_ms = 30000, .ident_outcome = MXI_UNANSWERED},
    {.kind = MXC_DNS,
     .rel = MXR_CLIENT_PTR,
     .overlap_ms = 15000,
     .qtype = 12,
     .qname = "200.2.0.192.in-addr.arpa",
     .dns_outcome = MXD_SERVFAIL},
};

Test(remedy, several_causes_numbered_largest_first)
{
	struct mx_diagnosis g;
	struct diag_wait w = wait_with(three, 3, MXS_UNKNOWN);
	cr_assert_null(diag_compose(&w, &g));
	/* the preamble once, then each cause's own remedy */
	static const char start[] = "server software not recognized from its greeting, so the "
	                            "generic fix: (1) publish a PTR record";
	cr_expect(strncmp(g.remedy, start, sizeof(start) - 1) == 0, "%s", g.remedy);
	cr_expect_eq(strstr(g.remedy + sizeof(start), "not recognized"), NULL, "%s", g.remedy);
	const char *p2 = strstr(g.remedy, "; (2) disable the server's ident");
	const char *p3 = strstr(g.remedy, "; (3) serve an (even empty) reverse zone");
	cr_expect(p2 && p3 && p2 < p3, "%s", g.remedy);
	cr_expect_eq(strstr(g.remedy, "(4)"), NULL);

	/* inside TLS no greeting is seen: said so, once */
	w = wait_with(three, 3, MXS_NONE);
	cr_assert_null(diag_compose(&w, &g));
	static const char unseen[] = "server software not known (its greeting was not seen), so "
	                             "the generic fix: (1) ";
	cr_expect(strncmp(g.remedy, unseen, sizeof(unseen) - 1) == 0, "%s", g.remedy);
	cr_expect_eq(strstr(g.remedy + sizeof(unseen), "not known"), NULL, "%s", g.remedy);
	w = wait_with(three, 3, MXS_EXCHANGE);
	cr_assert_null(diag_compose(&w, &g));
	cr_expect(strncmp(g.remedy,
	                  "Microsoft Exchange (no Exchange setting is named here), the "
	                  "generic fix: (1) ",
	                  77) == 0,
	          "%s", g.remedy);
	cr_expect_eq(strstr(g.remedy + 10, "Microsoft"), NULL, "%s", g.remedy);

	w = wait_with(three, 3, MXS_EXIM);
	cr_assert_null(diag_compose(&w, &g));
	cr_expect(strncmp(g.remedy, "(1) publish a PTR record", 24) == 0, "%s", g.remedy);
	HAS(g.remedy, "; (2) turn off Exim's ident (RFC 1413) calls");
	HAS(g.remedy, "; (3) serve an (even empty) reverse zone");
	HAS(g.remedy, "host_lookup");
}

Test(remedy, one_remedy_is_not_numbered_and_said_once)
{
	static const struct diag_cause two[] = {
	    {.kind = MXC_DNS,
	     .rel = MXR_SENDER_DOMAIN,
	     .overlap_ms = 10000,
	     .qtype = 1,
	     .qname = "slow.example",
	     .dns_outcome = MXD_UNANSWERED},
	    {.kind = MXC_DNS,
	     .rel = MXR_SENDER_DOMAIN,
	     .overlap_ms = 9000,
	     .qtype = 15,
	     .qname = "slow.example",
	     .dns_outcome = MXD_UNANSWERED},
	};
	struct mx_diagnosis g;
	struct diag_wait w = wait_with(two, 2, MXS_POSTFIX);
	cr_assert_null(diag_compose(&w, &g));
	cr_expect_str_eq(g.remedy, diag_remedy(MXC_DNS, MXR_SENDER_DOMAIN, MXS_POSTFIX));
	/* a mixed set: the not-recognized preamble stays with its own remedy */
	w = wait_with(three, 1, MXS_UNKNOWN);
	cr_assert_null(diag_compose(&w, &g));
	cr_expect_str_eq(g.remedy, diag_remedy(MXC_DNS, MXR_SELF_PTR, MXS_UNKNOWN));
}

Test(remedy, no_cause_returns_its_static_remedy)
{
	struct mx_diagnosis g;
	struct diag_wait w = wait_with(NULL, 0, MXS_EXIM);
	const char *r = diag_compose(&w, &g);
	cr_assert_not_null(r);
	cr_expect_str_eq(g.remedy, r);
	HAS(r, "local processing");
	/* the host is the client: the remote side's delay, whatever the software */
	w.outbound = true;
	r = diag_compose(&w, &g);
	cr_assert_not_null(r);
	HAS(r, "the delay is on the remote side");
	cr_expect_str_eq(g.remedy, r);
}
