/*
 * test_metrics.c - the Prometheus registry of capture --metrics
 * (analyze/metrics.h): counts after synthetic events, cumulative histogram
 * buckets with consistent _count and _sum, label escaping, the caps on
 * hosts and resolvers, and the exact text of a small registry.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/dispatch.h"
#include "analyze/metrics.h"

#define MS 1000000ull
#define T0 1700000000000000000ull

static struct mx_addr
addr4(int a, int b, int c, int d)
{
	struct mx_addr x;
	memset(&x, 0, sizeof(x));
	uint8_t o[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	mx_addr_set4(&x, o);
	return x;
}

static struct metrics *
registry(unsigned max_hosts, unsigned max_resolvers)
{
	struct metrics_cfg c = {.slow_ms = 1000, .version = "1.2.3", .start_time_s = 1700000000.5,
	                        .max_hosts = max_hosts, .max_resolvers = max_resolvers};
	struct metrics *m = metrics_new(&c);
	cr_assert(m);
	return m;
}

static void
session(struct metrics *m, enum mx_proto p, enum mx_outcome o)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session.proto = p;
	ev.u.session.outcome = o;
	metrics_event(m, &ev);
}

/* A transaction of session s (server sv the host) answered after ms. */
static void
txn(struct metrics *m, uint64_t id, enum mx_proto p, const char *cmd, double ms,
    const struct mx_addr *host)
{
	static struct mx_session s;
	memset(&s, 0, sizeof(s));
	s.proto = p;
	if (host) {
		s.server.addr = *host;
		s.server_is_host = true;
	}
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = &s;
	ev.u.txn.id = id;
	mx_strlcpy(ev.u.txn.command, cmd, sizeof(ev.u.txn.command));
	ev.u.txn.request_ns = T0;
	ev.u.txn.reply_ns = T0 + (uint64_t)(ms * 1e6);
	metrics_event(m, &ev);
}

static void
cause(struct metrics *m, uint64_t txn_id, enum mx_cause_kind k, enum mx_relation r,
      uint64_t parent)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_CAUSE;
	ev.u.cause.txn_id = txn_id;
	ev.u.cause.kind = k;
	ev.u.cause.relation = r;
	ev.u.cause.parent_id = parent;
	metrics_event(m, &ev);
}

static void
diagnosis(struct metrics *m, uint64_t txn_id)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DIAGNOSIS;
	ev.u.diag.txn_id = txn_id;
	metrics_event(m, &ev);
}

static void
dns(struct metrics *m, const struct mx_addr *resolver, enum mx_dns_outcome o)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.server.addr = *resolver;
	ev.u.dns.outcome = o;
	metrics_event(m, &ev);
}

static void
ident(struct metrics *m, enum mx_ident_outcome o)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_IDENT;
	ev.u.ident.outcome = o;
	metrics_event(m, &ev);
}

static char *
text(struct metrics *m)
{
	size_t len = 0;
	char *t = metrics_format(m, &len);
	cr_assert(t);
	cr_assert_eq(strlen(t), len);
	return t;
}

/* The value of the sample line that starts with series + " " (-1 = none). */
static double
value(const char *t, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = t; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

Test(metrics, counts_after_events)
{
	struct metrics *m = registry(0, 0);
	struct mx_addr host = addr4(192, 0, 2, 25), res = addr4(192, 0, 2, 53);
	session(m, MXP_SMTP, MXO_OK);
	session(m, MXP_SMTP, MXO_OK);
	session(m, MXP_POP3, MXO_CLIENT_ABORT);
	dns(m, &res, MXD_ANSWERED);
	dns(m, &res, MXD_NXDOMAIN);
	dns(m, &res, MXD_NXDOMAIN);
	ident(m, MXI_UNANSWERED);
	/* a slow greeting with a PTR cause and its upstream hop, then its diagnosis */
	txn(m, 7, MXP_SMTP, "GREETING", 5000, &host);
	cause(m, 7, MXC_DNS, MXR_CLIENT_PTR, 0);
	cause(m, 7, MXC_DNS, MXR_UPSTREAM, 1);
	diagnosis(m, 7);
	/* a fast one: not judged */
	txn(m, 8, MXP_SMTP, "EHLO", 3, &host);
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	st.c[CNT_PACKETS] = 1234;
	st.have_kernel = 1;
	st.kernel_drop = 5;
	st.ifdrop = 2;
	metrics_capture(m, &st, T0 + 500 * MS);
	struct dispatch_stats ds;
	memset(&ds, 0, sizeof(ds));
	ds.sessions_over_cap = 3;
	metrics_dispatch(m, &ds);

	char *t = text(m);
	cr_expect_eq(value(t, "mxlag_packets_total"), 1234);
	cr_expect_eq(value(t, "mxlag_kernel_drops_total"), 5);
	cr_expect_eq(value(t, "mxlag_interface_drops_total"), 2);
	cr_expect_eq(value(t, "mxlag_sessions_over_cap_total"), 3);
	cr_expect_eq(value(t, "mxlag_last_packet_time_seconds"), 1700000000.5);
	cr_expect_eq(value(t, "mxlag_capture_start_time_seconds"), 1700000000.5);
	cr_expect_eq(value(t, "mxlag_sessions_total{proto=\"smtp\",outcome=\"ok\"}"), 2);
	cr_expect_eq(value(t, "mxlag_sessions_total{proto=\"pop3\",outcome=\"client-abort\"}"), 1,
	             "%s", t);
	cr_expect_eq(value(t, "mxlag_dns_queries_total{resolver=\"192.0.2.53\",outcome=\"nxdomain\"}"),
	             2);
	cr_expect_eq(value(t, "mxlag_dns_queries_total{resolver=\"192.0.2.53\",outcome=\"answered\"}"),
	             1);
	cr_expect_eq(value(t, "mxlag_ident_probes_total{outcome=\"unanswered\"}"), 1);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"192.0.2.25\"}"), 1);
	cr_expect_eq(value(t, "mxlag_slow_reply_causes_total{kind=\"dns\",relation=\"client-ptr\","
	                      "host=\"192.0.2.25\"}"),
	             1);
	/* upstream hops are part of their dns cause, not counted again */
	cr_expect(strstr(t, "relation=\"upstream\"") == NULL, "%s", t);
	cr_expect_eq(value(t, "mxlag_reply_latency_seconds_count{proto=\"smtp\",command=\"GREETING\"}"),
	             1);
	cr_expect_eq(value(t, "mxlag_reply_latency_seconds_count{proto=\"smtp\",command=\"EHLO\"}"), 1);
	free(t);
	metrics_free(m);
}

Test(metrics, histogram_buckets_cumulative_count_and_sum_consistent)
{
	struct metrics *m = registry(0, 0);
	static const double ms[] = {1, 5, 7, 10, 200, 999, 1000, 4000, 119000, 500000};
	double sum = 0;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		txn(m, i + 1, MXP_SMTP, "RCPT", ms[i], NULL);
		sum += ms[i] / 1000;
	}
	/* an unknown verb is "other"; a reply never sent is not a latency */
	txn(m, 100, MXP_SMTP, "XFOO", 1, NULL);
	struct mx_session s;
	memset(&s, 0, sizeof(s));
	s.proto = MXP_SMTP;
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = &s;
	mx_strlcpy(ev.u.txn.command, "RCPT", sizeof(ev.u.txn.command));
	ev.u.txn.request_ns = T0;
	ev.u.txn.outcome = MXO_CLIENT_ABORT;
	ev.u.txn.end_ns = T0 + 3000 * MS;
	metrics_event(m, &ev);

	char *t = text(m);
	const char *l = "proto=\"smtp\",command=\"RCPT\"";
	char key[200];
	static const struct {
		const char *le;
		double n;
	} want[] = {{"0.005", 2}, {"0.01", 4}, {"0.025", 4}, {"0.25", 5}, {"1", 7},
	            {"2.5", 7},   {"5", 8},    {"60", 8},    {"120", 9},  {"+Inf", 10}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(key, sizeof(key), "mxlag_reply_latency_seconds_bucket{%s,le=\"%s\"}", l,
		         want[i].le);
		cr_expect_eq(value(t, key), want[i].n, "%s", key);
	}
	/* cumulative: never decreasing, the last one the count */
	double prev = 0;
	int buckets = 0;
	snprintf(key, sizeof(key), "mxlag_reply_latency_seconds_bucket{%s,le=\"", l);
	for (const char *p = strstr(t, key); p; p = strstr(p + 1, key)) {
		double v = strtod(strstr(p, "} ") + 2, NULL);
		cr_expect_geq(v, prev, "%s", p);
		prev = v;
		buckets++;
	}
	cr_expect_eq(buckets, 15, "14 bounds and +Inf");
	snprintf(key, sizeof(key), "mxlag_reply_latency_seconds_count{%s}", l);
	cr_expect_eq(value(t, key), 10);
	cr_expect_eq(prev, 10);
	snprintf(key, sizeof(key), "mxlag_reply_latency_seconds_sum{%s}", l);
	cr_expect_float_eq(value(t, key), sum, 1e-6);
	cr_expect_eq(
	    value(t, "mxlag_reply_latency_seconds_count{proto=\"smtp\",command=\"other\"}"), 1);
	free(t);
	metrics_free(m);
}

Test(metrics, label_values_escaped)
{
	char out[64];
	cr_expect_eq(metrics_escape_label("a\"b\\c\nd", out, sizeof(out)), 10);
	cr_expect_str_eq(out, "a\\\"b\\\\c\\nd");
	cr_expect_eq(metrics_escape_label("plain", out, sizeof(out)), 5);
	cr_expect_str_eq(out, "plain");
	cr_expect_eq(metrics_escape_label("\"\"\"", out, 6), -1, "6 bytes hold no 3 escapes");
	cr_expect_eq(metrics_escape_label("\"\"", out, 5), 4);

	struct metrics_cfg c = {.slow_ms = 1000, .version = "9 \"odd\"\\build\n"};
	struct metrics *m = metrics_new(&c);
	cr_assert(m);
	char *t = text(m);
	cr_expect(strstr(t, "mxlag_build_info{version=\"9 \\\"odd\\\"\\\\build\\n\"} 1\n") != NULL,
	          "%s", t);
	free(t);
	metrics_free(m);
}

Test(metrics, hosts_and_resolvers_capped)
{
	struct metrics *m = registry(2, 3);
	struct mx_addr a[5];
	for (int i = 0; i < 5; i++)
		a[i] = addr4(198, 51, 100, 10 + i);
	/* a slow reply on each of 5 hosts, a query to each of 5 resolvers */
	for (int i = 0; i < 5; i++) {
		txn(m, 10 + (uint64_t)i, MXP_SMTP, "RCPT", 2000, &a[i]);
		cause(m, 10 + (uint64_t)i, MXC_NONE, MXR_NONE, 0);
		diagnosis(m, 10 + (uint64_t)i);
		dns(m, &a[i], MXD_SERVFAIL);
	}
	/* and one whose session has no host end */
	txn(m, 20, MXP_SMTP, "RCPT", 2000, NULL);
	diagnosis(m, 20);
	char *t = text(m);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"198.51.100.10\"}"), 1);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"198.51.100.11\"}"), 1);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"198.51.100.12\"}"), -1);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"other\"}"), 3);
	cr_expect_eq(value(t, "mxlag_slow_replies_total{host=\"unknown\"}"), 1);
	cr_expect_eq(value(t, "mxlag_slow_reply_causes_total{kind=\"none\",relation=\"none\","
	                      "host=\"other\"}"),
	             3);
	cr_expect_eq(value(t, "mxlag_dns_queries_total{resolver=\"198.51.100.12\",outcome=\"servfail\"}"),
	             1);
	cr_expect_eq(value(t, "mxlag_dns_queries_total{resolver=\"198.51.100.13\",outcome=\"servfail\"}"),
	             -1);
	cr_expect_eq(value(t, "mxlag_dns_queries_total{resolver=\"other\",outcome=\"servfail\"}"), 2);
	cr_expect(strstr(t, "after 2 hosts: \\\"other\\\"") == NULL, "HELP is not escaped so");
	cr_expect(strstr(t, "(after 2 hosts: \"other\"") != NULL, "the cap in HELP: %s", t);
	cr_expect(strstr(t, "(after 3 resolvers: \"other\")") != NULL, "%s", t);
	free(t);
	metrics_free(m);
}

/* the whole text of a small registry: the format Prometheus parses */
Test(metrics, exact_text_of_a_small_registry)
{
	struct metrics *m = registry(0, 0);
	struct mx_addr res = addr4(127, 0, 0, 53);
	session(m, MXP_SMTP, MXO_OK);
	txn(m, 1, MXP_SMTP, "QUIT", 30, NULL);
	dns(m, &res, MXD_ANSWERED);
	ident(m, MXI_REFUSED);
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	st.c[CNT_PACKETS] = 42;
	metrics_capture(m, &st, T0);
	char *t = text(m);
	static const char want[] =
	    "# HELP mxlag_build_info mxlag's version; always 1\n"
	    "# TYPE mxlag_build_info gauge\n"
	    "mxlag_build_info{version=\"1.2.3\"} 1\n"
	    "# HELP mxlag_capture_start_time_seconds When the capture started, seconds since the "
	    "epoch\n"
	    "# TYPE mxlag_capture_start_time_seconds gauge\n"
	    "mxlag_capture_start_time_seconds 1700000000.500\n"
	    "# HELP mxlag_last_packet_time_seconds Capture time of the latest packet, seconds since "
	    "the epoch (0 = none yet)\n"
	    "# TYPE mxlag_last_packet_time_seconds gauge\n"
	    "mxlag_last_packet_time_seconds 1700000000.000\n"
	    "# HELP mxlag_packets_total Packets the capture has read\n"
	    "# TYPE mxlag_packets_total counter\n"
	    "mxlag_packets_total 42\n"
	    "# HELP mxlag_sessions_over_cap_total Mail connections not analyzed: --max-sessions "
	    "sessions were open\n"
	    "# TYPE mxlag_sessions_over_cap_total counter\n"
	    "mxlag_sessions_over_cap_total 0\n"
	    "# HELP mxlag_sessions_total SMTP and POP3 sessions finished, by protocol and outcome\n"
	    "# TYPE mxlag_sessions_total counter\n"
	    "mxlag_sessions_total{proto=\"smtp\",outcome=\"ok\"} 1\n"
	    "# HELP mxlag_reply_latency_seconds From a command to the first byte of its reply, by "
	    "protocol and command (unknown commands are \"other\")\n"
	    "# TYPE mxlag_reply_latency_seconds histogram\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.005\"} 0\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.01\"} 0\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.025\"} 0\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.05\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.1\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.25\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"0.5\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"1\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"2.5\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"5\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"10\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"30\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"60\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"120\"} 1\n"
	    "mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"QUIT\",le=\"+Inf\"} 1\n"
	    "mxlag_reply_latency_seconds_sum{proto=\"smtp\",command=\"QUIT\"} 0.03\n"
	    "mxlag_reply_latency_seconds_count{proto=\"smtp\",command=\"QUIT\"} 1\n"
	    "# HELP mxlag_slow_replies_total Slow replies (--slow) judged, by mail host (after 64 "
	    "hosts: \"other\"; \"unknown\": no end known to be a host)\n"
	    "# TYPE mxlag_slow_replies_total counter\n"
	    "# HELP mxlag_slow_reply_causes_total Causes of slow replies, by cause kind, relation "
	    "and mail host (a reply with two causes counts twice; kind \"none\": nothing found)\n"
	    "# TYPE mxlag_slow_reply_causes_total counter\n"
	    "# HELP mxlag_dns_queries_total DNS queries finished, by resolver and outcome (after 64 "
	    "resolvers: \"other\")\n"
	    "# TYPE mxlag_dns_queries_total counter\n"
	    "mxlag_dns_queries_total{resolver=\"127.0.0.53\",outcome=\"answered\"} 1\n"
	    "# HELP mxlag_ident_probes_total Ident (RFC 1413) probes finished, by outcome\n"
	    "# TYPE mxlag_ident_probes_total counter\n"
	    "mxlag_ident_probes_total{outcome=\"refused\"} 1\n";
	cr_expect_str_eq(t, want);
	free(t);
	metrics_free(m);
}
