/*
 * test_tshark_mail.c - the SMTP and POP3 parsers see the same commands and
 * reply codes as tshark on public captures.  Commands are compared for the
 * verbs tshark names (case-insensitively; tshark 4.0 shortens STARTTLS to
 * "STAR"); reply codes must match one for one, except that a server may
 * send a reply nobody asked for before closing (a "451 timeout" or "421"),
 * which tshark lists and mxlag, with no command to pair it with, does not.
 * Skipped when tshark or ../shared is missing.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../support/e2e.h"

#define MAXK 64

struct counts {
	char key[MAXK][16];
	int n[MAXK];
	int len;
};

static void
add(struct counts *c, const char *k)
{
	char up[16];
	size_t i;
	for (i = 0; k[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)k[i]);
	up[i] = '\0';
	if (!up[0])
		return;
	for (int j = 0; j < c->len; j++)
		if (strcmp(c->key[j], up) == 0) {
			c->n[j]++;
			return;
		}
	if (c->len < MAXK) {
		strcpy(c->key[c->len], up);
		c->n[c->len++] = 1;
	}
}

static int
get(const struct counts *c, const char *k)
{
	for (int j = 0; j < c->len; j++)
		if (strcmp(c->key[j], k) == 0)
			return c->n[j];
	return 0;
}

/* our command for tshark's verb (tshark 4.0 may cut STARTTLS to "STAR") */
static int
get_prefix(const struct counts *c, const char *k)
{
	int exact = get(c, k), sum = 0;
	if (exact || strlen(k) != 4)
		return exact;
	for (int j = 0; j < c->len; j++)
		if (strncmp(c->key[j], k, 4) == 0)
			sum += c->n[j];
	return sum;
}

/* Adds each comma-separated item of field (modifies it). */
static void
add_list(struct counts *c, char *field)
{
	for (char *t = strtok(field, ","); t; t = strtok(NULL, ","))
		add(c, t);
}

static char *
json_str(const char *line, const char *key, char *out, size_t n)
{
	char pat[32];
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

static void
compare(const char *rel, int pop3)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
	char path[600], bin[512], *out = NULL;
	snprintf(path, sizeof(path), "%s/corpus/%s", sh, rel);
	e2e_bin("mxlag", bin, sizeof(bin));
	struct counts tc = {0}, tr = {0}, oc = {0}, orr = {0};

	cr_assert_eq(e2e_sh(&out,
			    "tshark -n -r '%s' -Y %s -T fields -E separator=/t -e %s -e %s 2>/dev/null",
			    path, pop3 ? "pop" : "smtp",
			    pop3 ? "pop.request.command" : "smtp.req.command",
			    pop3 ? "pop.response.indicator" : "smtp.response.code"),
		     0);
	for (char *l = strtok(out, "\n"), *save = NULL; l; l = strtok(save, "\n")) {
		save = l + strlen(l) + 1;
		char *tab = strchr(l, '\t');
		if (tab)
			*tab = '\0';
		char cmd[256], rsp[256];
		snprintf(cmd, sizeof(cmd), "%s", l);
		snprintf(rsp, sizeof(rsp), "%s", tab ? tab + 1 : "");
		add_list(&tc, cmd);
		add_list(&tr, rsp);
		if (!*save)
			break;
	}
	free(out);
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --no-db --quiet --events '%s'", bin, path), 0);
	int sessions = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char v[64];
		if (strstr(l, "\"event\":\"session\""))
			sessions++;
		if (!strstr(l, "\"event\":\"transaction\""))
			continue;
		add(&oc, json_str(l, "command", v, sizeof(v)));
		add(&orr, json_str(l, "reply_code", v, sizeof(v)));
	}
	free(out);
	cr_expect_gt(oc.len, 0, "%s: no transactions", rel);
	for (int j = 0; j < tc.len; j++) {
		/* AUTH continuation lines are counted differently, and tshark's POP3
		 * dissector takes SASL payload lines for commands */
		if (!strcmp(tc.key[j], "AUTH") || (pop3 && strlen(tc.key[j]) > 4))
			continue;
		cr_expect_eq(get_prefix(&oc, tc.key[j]), tc.n[j], "%s: %s x%d in tshark, x%d here",
			     rel, tc.key[j], tc.n[j], get_prefix(&oc, tc.key[j]));
	}
	int unsolicited = 0;
	for (int j = 0; j < tr.len; j++) {
		int ours = get(&orr, tr.key[j]);
		cr_expect_leq(ours, tr.n[j], "%s: reply %s x%d in tshark, x%d here", rel, tr.key[j],
			      tr.n[j], ours);
		unsolicited += tr.n[j] - ours;
	}
	for (int j = 0; j < orr.len; j++)
		/* POP3 "+ " SASL challenges are not a response indicator to tshark */
		cr_expect(get(&tr, orr.key[j]) > 0 || (pop3 && !strcmp(orr.key[j], "+")), "%s: reply %s not seen by tshark", rel, orr.key[j]);
	cr_expect_leq(unsolicited, sessions, "%s: %d replies tshark saw are missing", rel,
		      unsolicited);
}

/*
 * Exact POP3 records on one capture: mxlag's transactions (command,
 * argument, reply code) in order are want[0..n).  With tshark installed,
 * its commands and response indicators in capture order must also be ours
 * rebuilt the same way: each command (not GREETING), then its reply code
 * unless none or a "+" SASL challenge (no indicator to tshark); tshark
 * takes a SASL line for a command: one longer than 4 letters is our AUTH.
 * Only for captures without pipelining (a reply follows its command).
 */
struct rec {
	const char *command, *argument, *reply_code;
};

static void
exact_pop3(const char *rel, const struct rec *want, size_t n)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char path[600], bin[512], *out = NULL;
	char ours[2048] = "", theirs[2048] = "";
	size_t got = 0;
	snprintf(path, sizeof(path), "%s/corpus/%s", sh, rel);
	if (access(path, R_OK) != 0)
		cr_skip_test("%s not present", rel);
	e2e_bin("mxlag", bin, sizeof(bin));

	cr_assert_eq(e2e_sh(&out, "'%s' analyze --no-db --quiet --events '%s'", bin, path), 0);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char c[64], a[256], r[16];
		if (!strstr(l, "\"event\":\"transaction\""))
			continue;
		json_str(l, "command", c, sizeof(c));
		json_str(l, "argument", a, sizeof(a));
		json_str(l, "reply_code", r, sizeof(r));
		cr_expect(got < n, "%s: record %zu %s '%s' %s not expected", rel, got, c, a, r);
		if (got < n)
			cr_expect(!strcmp(c, want[got].command) && !strcmp(a, want[got].argument) &&
			              !strcmp(r, want[got].reply_code),
			          "%s: record %zu is %s '%s' %s, want %s '%s' %s", rel, got, c, a,
			          r, want[got].command, want[got].argument, want[got].reply_code);
		got++;
		size_t k = strlen(ours);
		if (strcmp(c, "GREETING") != 0)
			k += (size_t)snprintf(ours + k, sizeof(ours) - k, " C:%s", c);
		if (r[0] && strcmp(r, "+") != 0 && k < sizeof(ours))
			snprintf(ours + k, sizeof(ours) - k, " S:%s", r);
	}
	free(out);
	cr_expect_eq(got, n, "%s: %zu records, want %zu", rel, got, n);

	if (access("/usr/bin/tshark", X_OK) != 0)
		return;
	cr_assert_eq(e2e_sh(&out,
	                    "tshark -n -r '%s' -Y pop -T fields -E separator=/t -e "
	                    "pop.request.command -e pop.response.indicator 2>/dev/null",
	                    path),
	             0);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char *tab = strchr(l, '\t');
		if (tab)
			*tab++ = '\0';
		size_t k = strlen(theirs);
		if (l[0]) {
			char up[16];
			size_t i;
			for (i = 0; l[i] && i < sizeof(up) - 1; i++)
				up[i] = (char)toupper((unsigned char)l[i]);
			up[i] = '\0';
			k += (size_t)snprintf(theirs + k, sizeof(theirs) - k, " C:%s",
			                      strlen(l) > 4 ? "AUTH" : up);
		}
		if (tab && tab[0] && k < sizeof(theirs))
			snprintf(theirs + k, sizeof(theirs) - k, " S:%s", tab);
	}
	free(out);
	cr_expect_str_eq(ours, theirs, "%s: mxlag%s\n  tshark%s", rel, ours, theirs);
}

/* suricata-verify pop3-auth-01: the handshake, then the client speaks first
 * (no greeting in the capture); an XOAUTH2 exchange, then STAT, LIST, UIDL
 * and an unanswered QUIT */
Test(tshark_mail, suricata_pop3_no_greeting)
{
	static const struct rec want[] = {
	    {"CAPA", "", "+OK"}, {"AUTH", "XOAUTH2", "+"}, {"AUTH", "***", "+OK"},
	    {"STAT", "", "+OK"}, {"LIST", "", "+OK"},      {"UIDL", "", "+OK"},
	    {"QUIT", "", ""},
	};
	exact_pop3("OISF+suricata-verify/tests/pop3-auth-01/input.pcap", want,
	           sizeof(want) / sizeof(want[0]));
}

/* Practical Packet Analysis email-troubles.pcap: picked up mid-stream (no
 * SYN), the first packet is RETR 20; its +OK is no greeting (the 60 s
 * between two RETRs were taken for the server's waits) */
Test(tshark_mail, ppa_pop3_midstream)
{
	static const struct rec want[] = {
	    {"RETR", "20", "+OK"},
	    {"RETR", "22", "+OK"},
	    {"RETR", "24", "+OK"},
	};
	exact_pop3("markofu+pcaps/PracticalPacketAnalysis/ppa-capture-files/email-troubles.pcap",
	           want, sizeof(want) / sizeof(want[0]));
}

Test(tshark_mail, suricata_pop3_auth)
{
	compare("OISF+suricata-verify/tests/pop3-auth-01/input.pcap", 1);
}

/* zeek bad-list-retr-crafted.pcap: LIST's body never ends with "."; RETR 1
 * and QUIT, sent after it, are answered +OK */
Test(tshark_mail, zeek_pop3_list_without_dot)
{
	static const struct rec want[] = {
	    {"GREETING", "", "+OK"},
	    {"LIST", "", "+OK"},
	    {"RETR", "1", "+OK"},
	    {"QUIT", "", "+OK"},
	};
	exact_pop3("zeek+zeek/testing/btest/Traces/pop3/bad-list-retr-crafted.pcap", want,
	           sizeof(want) / sizeof(want[0]));
}

Test(tshark_mail, zeek_pop3_bad_list)
{
	compare("zeek+zeek/testing/btest/Traces/pop3/bad-list-retr-crafted.pcap", 1);
}

Test(tshark_mail, zeek_smtp) { compare("zeek+zeek/testing/btest/Traces/smtp.pcap", 0); }
Test(tshark_mail, zeek_multi_addr)
{
	compare("zeek+zeek/testing/btest/Traces/smtp-multi-addr.pcap", 0);
}
Test(tshark_mail, zeek_attachment)
{
	compare("zeek+zeek/testing/btest/Traces/smtp-attachment-msg.pcap", 0);
}
Test(tshark_mail, zeek_bdat) { compare("zeek+zeek/testing/btest/Traces/smtp/rfc3030-bdat-example1.pcap", 0); }
Test(tshark_mail, zeek_invalid_transactions)
{
	compare("zeek+zeek/testing/btest/Traces/smtp-mail-transactions-invalid.pcap", 0);
}
Test(tshark_mail, ndpi_starttls) { compare("ntop+nDPI/tests/cfgs/default/pcap/smtp-starttls.pcap", 0); }
Test(tshark_mail, zeek_pop3) { compare("zeek+zeek/testing/btest/Traces/pop3/pop3.pcap", 1); }
Test(tshark_mail, ndpi_pop3) { compare("ntop+nDPI/tests/cfgs/default/pcap/pop3.pcap", 1); }
Test(tshark_mail, zeek_pop3_unknown_commands)
{
	compare("zeek+zeek/testing/btest/Traces/pop3-unknown-commands.pcap", 1);
}
