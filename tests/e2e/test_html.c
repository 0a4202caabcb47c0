/*
 * test_html.c - `mxlag report --format html`: one self-contained page from
 * generated incident captures (structure, the slow reply's client and
 * query, escaping of hostile names, no external resources, determinism,
 * --since), and, when chromium is installed, a headless screenshot of it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "../../schema/html.h"

static char bin[512], gen[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(html, .init = setup, .fini = teardown);

/* generates scenario name into dir/name.pcap and analyzes it into dir/name.db */
static void
scenario_db(const char *name)
{
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "cd '%s' && '%s' scenario %s -q -o %s.pcap --truth %s.json 2>&1 && "
	                "'%s' analyze --quiet --db %s.db %s.pcap 2>&1",
	                dir, gen, name, name, name, bin, name, name);
	cr_assert_eq(rc, 0, "scenario %s: %s", name, out ? out : "");
	free(out);
}

/* runs `mxlag report --format html [extra] -o page NAME` and returns the page */
static char *
page(const char *db, const char *report, const char *extra, const char *file)
{
	char *out = NULL, path[700];
	int rc = e2e_sh(&out, "cd '%s' && '%s' report --db %s --format html %s -o %s %s 2>&1", dir,
	                bin, db, extra, file, report);
	cr_assert_eq(rc, 0, "report: %s", out ? out : "");
	free(out);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	char *p = e2e_slurp(path);
	cr_assert_not_null(p, "no %s", path);
	return p;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void
expect_self_contained(const char *p)
{
	cr_expect(strncmp(p, "<!DOCTYPE html>", 15) == 0, "starts with the doctype");
	cr_expect(strstr(p, "</html>") != NULL, "complete page");
	cr_expect(strstr(p, "<style>") != NULL, "inline style");
	cr_expect(strstr(p, "http://") == NULL, "no http:// reference");
	cr_expect(strstr(p, "https://") == NULL, "no https:// reference");
	cr_expect(strstr(p, "<script") == NULL, "no scripts");
	cr_expect(strstr(p, "<link") == NULL, "no linked resources");
	cr_expect(strstr(p, "src=\"") == NULL && strstr(p, "href=\"http") == NULL,
	          "no src attributes");
	cr_expect(strstr(p, "url(") == NULL, "no CSS url()");
	cr_expect(strstr(p, "@import") == NULL, "no CSS imports");
}

Test(html, slow_page_has_table_and_charts)
{
	scenario_db("concurrent");
	char *p = page("concurrent.db", "slow", "", "page.html");
	expect_self_contained(p);
	cr_expect_geq(count(p, "<svg"), 3, "waterfall, latency and DNS charts");
	cr_expect(strstr(p, "id=\"slow\"") && strstr(p, "id=\"waterfalls\"") &&
	              strstr(p, "id=\"latency\"") && strstr(p, "id=\"dns\""),
	          "all sections");
	/* the one slow reply: 192.0.2.117 waits 8 s on its unanswered PTR */
	cr_expect(strstr(p, "192.0.2.117") != NULL);
	cr_expect_geq(count(p, "117.2.0.192.in-addr.arpa"), 2, "in the table and the waterfall");
	cr_expect(strstr(p, "client-ptr") != NULL);
	cr_expect(strstr(p, "Diagnosis:") != NULL && strstr(p, "Remedy:") != NULL);
	cr_expect(strstr(p, "reverse zone") != NULL, "the remedy of incident 1");
	cr_expect(strstr(p, "class=\"o-unanswered\"") != NULL, "bar coloured by outcome");
	cr_expect_eq(count(p, "<tr class=\"main\""), 1, "exactly one slow reply");
	/* other clients' fast sessions are not in the slow table */
	cr_expect(strstr(p, "192.0.2.118:") == NULL);
	free(p);
}

/* a slow reply of a remote MX in the host's own delivery: not "local processing" */
Test(html, outbound_slow_reply_is_put_on_the_remote_side)
{
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "cd '%s' && '%s' scenario outbound -q -o ob.pcap --truth ob.json 2>&1 && "
	                "'%s' analyze --quiet --slow 100 --db ob.db ob.pcap 2>&1",
	                dir, gen, bin);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
	char *p = page("ob.db", "slow", "--slow 100", "ob.html");
	expect_self_contained(p);
	/* 203.0.113.27 takes 180 ms to accept the 1 MB message */
	cr_expect_eq(count(p, "<tr class=\"main\""), 1, "one slow reply");
	cr_expect(strstr(p, "203.0.113.27") != NULL);
	cr_expect(strstr(p, "outbound") != NULL, "the waterfall names the session outbound");
	cr_expect(strstr(p, "the remote server took its time") != NULL, "%s", p);
	cr_expect_geq(count(p, "no network cause on the mail host"), 2,
	              "in the table and in the waterfall");
	cr_expect(strstr(p, "look at local processing") == NULL,
	          "not the wording of an inbound session");
	free(p);
}

Test(html, summary_is_the_same_page_and_deterministic)
{
	scenario_db("pop3-self-ptr");
	char *a = page("pop3-self-ptr.db", "slow", "", "a.html");
	char *b = page("pop3-self-ptr.db", "slow", "", "b.html");
	char *s = page("pop3-self-ptr.db", "summary", "", "s.html");
	char *i = page("pop3-self-ptr.db", "incidents", "", "i.html");
	cr_expect_str_eq(a, b, "same database, same bytes");
	cr_expect_str_eq(a, s, "summary gives the whole page too");
	cr_expect_str_eq(a, i, "incidents gives the whole page too");
	/* the page opens with the incidents: before the hosts and slow replies */
	const char *inc = strstr(a, "<section id=\"incidents\">");
	cr_expect(inc != NULL && inc < strstr(a, "<section id=\"slow\">"), "incidents first");
	cr_expect(strstr(a, "self-ptr lookups in 2.0.192.in-addr.arpa") != NULL, "%s",
	          inc ? inc : a);
	free(i);
	expect_self_contained(a);
	cr_expect(strstr(a, "10.2.0.192.in-addr.arpa") != NULL, "self-ptr query");
	cr_expect(strstr(a, "self-ptr") != NULL);
	cr_expect(strstr(a, "ident") != NULL);
	cr_expect(strstr(a, "servfail") != NULL);
	free(a);
	free(b);
	free(s);
}

Test(html, since_until_and_limit)
{
	scenario_db("concurrent");
	char *p = page("concurrent.db", "slow", "--since 2030-01-01", "later.html");
	expect_self_contained(p);
	cr_expect(strstr(p, "117.2.0.192.in-addr.arpa") == NULL, "nothing after --since");
	cr_expect(strstr(p, "No slow replies in this window") != NULL);
	free(p);
	p = page("concurrent.db", "slow", "--slow 100000", "high.html");
	cr_expect_eq(count(p, "<tr class=\"main\""), 0, "nothing reaches 100 s");
	free(p);
	p = page("concurrent.db", "slow", "--limit 1 --until 2030-01-01", "lim.html");
	cr_expect_eq(count(p, "<tr class=\"main\""), 1);
	free(p);
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && '%s' report --db concurrent.db --format html ptr 2>&1",
	                dir, bin);
	cr_expect_eq(rc, 2, "html only for incidents, slow and summary (a usage error): %s", out);
	cr_expect(strstr(out, "html") != NULL, "%s", out);
	free(out);
}

/* Without --limit the slow table lists the newest HTML_MAX_SLOW and says the
 * rest are left out; --limit lists that many and says the same. */
Test(html, slow_table_of_a_big_window_is_capped)
{
	scenario_db("concurrent");
	char *out = NULL;
	/* 1 100 more slow replies, one a second after the scenario's */
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && sqlite3 concurrent.db \"WITH RECURSIVE k(i) AS (SELECT 1"
	                    " UNION ALL SELECT i + 1 FROM k WHERE i < 1100)"
	                    " INSERT INTO transactions (id, run_id, session_id, command,"
	                    " request_ts, reply_ts, latency_ms, reply_code, outcome)"
	                    " SELECT 100000 + i, 1, (SELECT min(id) FROM sessions), 'RCPT',"
	                    " (SELECT max(request_ts) FROM transactions) + i, NULL, 2000, '250',"
	                    " 'ok' FROM k\" 2>&1",
	                    dir),
	             0, "%s", out);
	free(out);
	char *p = page("concurrent.db", "summary", "", "big.html");
	expect_self_contained(p);
	cr_expect_eq(count(p, "<tr class=\"main\""), HTML_MAX_SLOW);
	cr_expect(strstr(p, "Only the 1000 newest slow replies of this window are listed") != NULL);
	cr_expect(strstr(p, "id=\"t101100\"") != NULL, "the newest is listed");
	cr_expect(strstr(p, "id=\"t100100\"") == NULL, "the 1001st newest is not");
	free(p);
	p = page("concurrent.db", "summary", "--limit 5", "five.html");
	cr_expect_eq(count(p, "<tr class=\"main\""), 5);
	cr_expect(strstr(p, "Only the 5 newest slow replies") != NULL);
	free(p);
	p = page("concurrent.db", "summary", "--limit 2000", "all.html");
	cr_expect_eq(count(p, "<tr class=\"main\""), 1101);
	cr_expect(strstr(p, "Only the") == NULL, "nothing left out");
	free(p);
}

Test(html, hostile_names_are_escaped)
{
	scenario_db("concurrent");
	char sqlpath[700], *out = NULL;
	snprintf(sqlpath, sizeof(sqlpath), "%s/evil.sql", dir);
	FILE *f = fopen(sqlpath, "w");
	cr_assert_not_null(f);
	/* a query name and an argument as a hostile packet could carry them, linked as a
	 * cause of the slow reply; plus a control byte and invalid UTF-8 */
	fputs("INSERT INTO dns_queries (ts, client, server, transport, txid, qname, qtype,"
	      " outcome, retransmits)"
	      " SELECT request_ts + 0.5, '192.0.2.10', '198.51.100.53', 'udp', 7,"
	      " 'evil<script>alert(\"x\")</script>&''.example', 'A', 'unanswered', 0"
	      " FROM transactions WHERE latency_ms >= 1000;\n"
	      "INSERT INTO causes (transaction_id, kind, relation, dns_query_id, overlap_ms,"
	      " share, query_ms)"
	      " SELECT t.id, 'dns', 'helo', (SELECT max(id) FROM dns_queries), 1000, 0.125, 1000"
	      " FROM transactions AS t WHERE t.latency_ms >= 1000;\n"
	      "UPDATE transactions SET argument = '<img src=x onerror=alert(1)>'"
	      " || CAST(X'01ff' AS TEXT) WHERE latency_ms >= 1000;\n",
	      f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(e2e_sh(&out, "cd '%s' && sqlite3 concurrent.db < evil.sql 2>&1", dir), 0, "%s",
	             out);
	free(out);
	char *p = page("concurrent.db", "slow", "", "evil.html");
	cr_expect(strstr(p, "<script") == NULL, "script tag escaped");
	cr_expect(strstr(p, "<img") == NULL, "img tag escaped");
	cr_expect_geq(count(p, "evil&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
	                       ".example"),
	              2, "escaped in the table and the waterfall");
	cr_expect(strstr(p, "&lt;img src=x onerror=alert(1)&gt;\xef\xbf\xbd\xef\xbf\xbd") != NULL,
	          "control byte and invalid UTF-8 replaced");
	cr_expect(strchr(p, '\x01') == NULL && strchr(p, '\xff') == NULL);
	expect_self_contained(p);
	free(p);
}

/* a mirror port: a table of the hosts, linked from the navigation; one host: none */
Test(html, mirror_port_has_a_table_of_hosts)
{
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "cd '%s' && '%s' traffic -q --hosts 3 --seconds 20 --sessions-per-s 6"
	                " --lookups 2 --mix client-ptr=20 --v6 0 --seed 7 -o m.pcap 2>&1 && "
	                "'%s' analyze --quiet --db m.db m.pcap 2>&1",
	                dir, gen, bin);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
	char *p = page("m.db", "summary", "", "m.html");
	expect_self_contained(p);
	cr_expect(strstr(p, "id=\"hosts\"") != NULL, "a hosts section");
	cr_expect(strstr(p, "<a href=\"#hosts\">") != NULL, "linked from the navigation");
	const char *sec = strstr(p, "id=\"hosts\"");
	const char *end = sec ? strstr(sec, "</section>") : NULL;
	cr_assert(sec && end);
	int rows = 0;
	for (const char *q = sec; (q = strstr(q, "<tr><td class=\"mono\">")) && q < end; q++)
		rows++;
	cr_expect_eq(rows, 3, "one row per host");
	for (int i = 10; i <= 12; i++) {
		char host[32];
		snprintf(host, sizeof(host), ">192.0.2.%d<", i);
		const char *hit = strstr(sec, host);
		cr_expect(hit && hit < end, "host %s in the table", host);
	}
	cr_expect(strstr(sec, "client-ptr") != NULL && strstr(sec, "client-ptr") < end,
	          "a host's main cause");
	free(p);
	scenario_db("concurrent");
	p = page("concurrent.db", "summary", "", "one.html");
	cr_expect(strstr(p, "id=\"hosts\"") == NULL, "one host: no hosts table");
	cr_expect(strstr(p, "href=\"#hosts\"") == NULL);
	free(p);
}

/* Inside TLS (issue 18): encrypted exchanges are on the page like others,
   with their guessed command marked as a guess */
Test(html, tls_exchanges_show_their_guess)
{
	scenario_db("tls-dnsbl");
	char *p = page("tls-dnsbl.db", "slow", "", "tls.html");
	expect_self_contained(p);
	cr_expect(strstr(p, "TLS RCPT?") != NULL, "the slow encrypted RCPT, marked as a guess");
	cr_expect(strstr(p, "dnsbl") != NULL, "with its cause");
	cr_expect(strstr(p, "TLS-HELLO") != NULL, "the handshake in the latency chart");
	free(p);
}

#define CHROMIUM "/usr/bin/chromium"

Test(html, chromium_renders_a_screenshot, .timeout = 300)
{
	if (access(CHROMIUM, X_OK) != 0)
		cr_skip_test("no " CHROMIUM " (scripts/setup.sh --test installs it)");
	scenario_db("pop3-self-ptr");
	free(page("pop3-self-ptr.db", "slow", "", "page.html"));
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "cd '%s' && mkdir -p profile && timeout 240 " CHROMIUM
	                " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
	                " --disable-background-networking --disable-component-update"
	                " --disable-sync --user-data-dir='%s/profile' --screenshot='%s/shot.png'"
	                " --window-size=1280,1600 'file://%s/page.html' 2>&1",
	                dir, dir, dir, dir);
	cr_expect_eq(rc, 0, "chromium exit status: %s", out ? out : "");
	free(out);
	char png[700];
	struct stat sb;
	snprintf(png, sizeof(png), "%s/shot.png", dir);
	cr_assert_eq(stat(png, &sb), 0, "no screenshot");
	cr_expect_gt(sb.st_size, 30000, "a rendered page, not a blank image (%lld bytes)",
	             (long long)sb.st_size);
	FILE *f = fopen(png, "rb");
	unsigned char sig[8] = {0};
	cr_assert_not_null(f);
	cr_expect_eq(fread(sig, 1, 8, f), 8u);
	fclose(f);
	cr_expect(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "a PNG");
}
