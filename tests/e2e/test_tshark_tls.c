/*
 * test_tshark_tls.c - the timing of encrypted exchanges (issue 18) checked
 * against tshark's own TLS dissection of the same packets: every TLS-HELLO
 * and TLS exchange mxlag stores with a reply starts at a frame where
 * tshark sees client TLS records and ends at a frame carrying server TLS
 * bytes; outside TLS 1.3 that is the server's first TLS frame after the
 * request (in TLS 1.3 session tickets may come first), so the latency is
 * tshark's to the microsecond.  Public STARTTLS captures from ../shared
 * and the generated TLS scenarios.  Skipped without tshark.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/e2e.h"

#define MAXF 4096

struct frame {
	double t;
	int sport, dport;
	int has_records; /* tshark named at least one record in it */
};

static int
load_frames(const char *pcap, struct frame *f, int max)
{
	char *out = NULL;
	int n = 0;
	cr_assert_eq(e2e_sh(&out,
	                    "tshark -n -r '%s' -Y tls -T fields -E separator=/t "
	                    "-e frame.time_epoch -e tcp.srcport -e tcp.dstport "
	                    "-e tls.record.content_type 2>/dev/null",
	                    pcap),
	             0);
	for (char *l = strtok(out, "\n"); l && n < max; l = strtok(NULL, "\n")) {
		double t;
		int sp, dp;
		char types[256] = "";
		int k = sscanf(l, "%lf\t%d\t%d\t%255s", &t, &sp, &dp, types);
		if (k < 3)
			continue;
		f[n++] = (struct frame){t, sp, dp, k == 4 && types[0]};
	}
	free(out);
	return n;
}

/* Checks one analyzed capture; returns how many exchanges were compared. */
static int
check(const char *pcap, const char *what)
{
	static struct frame fr[MAXF];
	char *dir = e2e_tmpdir(), db[600], bin[512], *out = NULL;
	int nf = load_frames(pcap, fr, MAXF), checked = 0;

	cr_assert_gt(nf, 0, "%s: tshark sees no TLS", what);
	snprintf(db, sizeof(db), "%s/t.db", dir);
	e2e_bin("mxlag", bin, sizeof(bin));
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, pcap), 0,
	             "%s: %s", what, out ? out : "");
	free(out);
	sqlite3 *h;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(
	                 h,
	                 "SELECT t.id, t.command, t.request_ts, t.reply_ts, s.client_port,"
	                 " s.server_port, EXISTS (SELECT 1 FROM replies h"
	                 "  WHERE h.session_id = s.id AND h.command = 'TLS-HELLO'"
	                 "  AND h.reply_text LIKE '%1.3%')"
	                 " FROM replies t JOIN sessions s ON s.id = t.session_id"
	                 " WHERE t.command LIKE 'TLS%' AND t.reply_ts IS NOT NULL",
	                 -1, &st, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(h));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *cmd = (const char *)sqlite3_column_text(st, 1);
		double req = sqlite3_column_double(st, 2), rep = sqlite3_column_double(st, 3);
		int cport = sqlite3_column_int(st, 4), sport = sqlite3_column_int(st, 5);
		bool v13 = sqlite3_column_int(st, 6) != 0;
		int ireq = -1, irep = -1, ifirst = -1;
		for (int i = 0; i < nf; i++) {
			if (fr[i].sport == cport && fr[i].dport == sport && fr[i].has_records &&
			    fabs(fr[i].t - req) < 2e-6)
				ireq = i;
			if (fr[i].sport == sport && fr[i].dport == cport && fabs(fr[i].t - rep) < 2e-6)
				irep = i;
		}
		for (int i = ireq + 1; ireq >= 0 && i < nf; i++)
			if (fr[i].sport == sport && fr[i].dport == cport) {
				ifirst = i;
				break;
			}
		/* the banner inside TLS starts at the handshake's end, which may be a
		   server frame (TLS 1.2): then only the reply is checked */
		bool banner = ireq < 0 && strcmp(cmd, "TLS") == 0;
		cr_expect(ireq >= 0 || banner, "%s: %s id %lld: no client TLS frame at %.6f", what,
		          cmd, sqlite3_column_int64(st, 0), req);
		cr_expect(irep >= 0, "%s: %s id %lld: no server TLS frame at %.6f", what, cmd,
		          sqlite3_column_int64(st, 0), rep);
		if (ireq >= 0 && irep >= 0 && !v13)
			cr_expect_eq(irep, ifirst,
			             "%s: %s id %lld: the reply is not the server's first TLS frame "
			             "after the request (%.6f, want %.6f)",
			             what, cmd, sqlite3_column_int64(st, 0), rep, fr[ifirst].t);
		cr_expect(rep > req, "%s: %s: reply before request", what, cmd);
		checked++;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	e2e_rmdir(dir);
	return checked;
}

static void
skip_without_tshark(void)
{
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
}

Test(tshark_tls, public_starttls_captures)
{
	static const char *const caps[] = {
	    "zeek+zeek/testing/btest/Traces/tls/smtp-starttls.pcap",
	    "ntop+nDPI/tests/cfgs/default/pcap/smtp-starttls.pcap",
	    "OISF+suricata-verify/tests/smtp-startssl/input.pcap",
	    "arkime+arkime/tests/pcap/smtp-starttls.pcap",
	};
	const char *sh = e2e_shared();
	skip_without_tshark();
	if (!sh)
		cr_skip_test("../shared not present");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char p[700];
		snprintf(p, sizeof(p), "%s/corpus/%s", sh, caps[i]);
		if (access(p, R_OK) != 0)
			continue;
		int n = check(p, caps[i]);
		cr_expect_geq(n, 4, "%s: only %d encrypted exchanges timed", caps[i], n);
	}
}

Test(tshark_tls, generated_tls_scenarios)
{
	static const char *const sc[] = {"tls-dnsbl", "tls13-pipelining", "smtps-ptr",
	                                 "pop3s-login", "pipelining-bdat"};
	char gen[512], *out = NULL;
	skip_without_tshark();
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	char *dir = e2e_tmpdir();
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		char p[700];
		snprintf(p, sizeof(p), "%s/%s.pcap", dir, sc[i]);
		cr_assert_eq(e2e_sh(&out, "'%s' scenario %s -q -o '%s' 2>&1", gen, sc[i], p), 0,
		             "%s", out ? out : "");
		free(out);
		out = NULL;
		int n = check(p, sc[i]);
		cr_expect_geq(n, 3, "%s: only %d encrypted exchanges timed", sc[i], n);
	}
	e2e_rmdir(dir);
}
