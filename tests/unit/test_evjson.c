/* test_evjson.c - --events JSON lines are valid JSON with the vocabulary words. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "analyze/evjson.h"

static int
json_ok(const char *s)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int ok = 0;
	sqlite3_open(":memory:", &db);
	sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &st, NULL);
	sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static char *
render(const struct mx_event *ev, char *buf, size_t n)
{
	FILE *f = fmemopen(buf, n, "w");
	mx_event_json(ev, f);
	fclose(f);
	return buf;
}

Test(evjson, every_event_type_is_valid_json)
{
	char buf[8192];
	struct mx_event ev;
	struct mx_session s;
	memset(&s, 0, sizeof(s));
	s.proto = MXP_SMTP;
	mx_addr_parse("192.0.2.200", &s.client.addr);
	mx_addr_parse("2001:db8::10", &s.server.addr);
	strcpy(s.helo, "evil\"name\\with\nctl\x01");
	for (int t = EV_SESSION; t <= EV_DIAGNOSIS; t++) {
		memset(&ev, 0, sizeof(ev));
		ev.type = (enum mx_event_type)t;
		ev.session = &s;
		if (t == EV_SESSION)
			ev.u.session = s;
		if (t == EV_TXN) {
			strcpy(ev.u.txn.command, "GREETING");
			strcpy(ev.u.txn.reply_text, "mail.example \"quoted\" \t tab \xff");
			ev.u.txn.request_ns = 1700000000000000000ULL;
			ev.u.txn.reply_ns = 1700000030012500000ULL;
		}
		if (t == EV_DNS) {
			strcpy(ev.u.dns.qname, "200.2.0.192.in-addr.arpa");
			ev.u.dns.qtype = 12;
			ev.u.dns.outcome = MXD_UNANSWERED;
			ev.u.dns.rcode = -1;
		}
		render(&ev, buf, sizeof(buf));
		cr_expect(json_ok(buf), "type %d: %s", t, buf);
		cr_expect_eq(buf[strlen(buf) - 1], '\n');
		cr_expect_eq(strchr(buf, '\n'), buf + strlen(buf) - 1, "one line");
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	strcpy(ev.u.txn.command, "GREETING");
	ev.u.txn.request_ns = 1700000000000000000ULL;
	ev.u.txn.reply_ns = 1700000030012500000ULL;
	render(&ev, buf, sizeof(buf));
	cr_expect(strstr(buf, "\"latency_ms\":30012.500") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\"request_ts\":1700000000.000000000") != NULL, "%s", buf);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.qtype = 12;
	ev.u.dns.outcome = MXD_NXDOMAIN;
	render(&ev, buf, sizeof(buf));
	cr_expect(strstr(buf, "\"qtype\":\"PTR\"") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\"outcome\":\"nxdomain\"") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\"response_ts\":null") != NULL, "%s", buf);
	/* a response alone: ts is the response's time, no latency */
	ev.u.dns.outcome = MXD_NO_QUERY;
	ev.u.dns.ts_ns = ev.u.dns.response_ns = 1700000000500000000ULL;
	render(&ev, buf, sizeof(buf));
	cr_expect(strstr(buf, "\"outcome\":\"no-query\"") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\"ts\":1700000000.500000000") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\"latency_ms\":null") != NULL, "%s", buf);
}

Test(evjson, vocabulary_words)
{
	char b[16];
	cr_expect_str_eq(mx_relation_str(MXR_CLIENT_PTR), "client-ptr");
	cr_expect_str_eq(mx_relation_str(MXR_UNRELATED), "unrelated");
	cr_expect_str_eq(mx_outcome_str(MXO_CLIENT_ABORT), "client-abort");
	cr_expect_str_eq(mx_dns_outcome_str(MXD_UNANSWERED), "unanswered");
	cr_expect_str_eq(mx_ident_outcome_str(MXI_REFUSED), "refused");
	cr_expect_str_eq(mx_cause_kind_str(MXC_NONE), "none");
	cr_expect_str_eq(mx_qtype_str(28, b, sizeof(b)), "AAAA");
	cr_expect_str_eq(mx_qtype_str(65000, b, sizeof(b)), "TYPE65000");
	cr_expect_str_eq(mx_relation_str((enum mx_relation)99), "?");
	char small[4];
	cr_expect_not(mx_strlcpy(small, "abcdef", sizeof(small)));
	cr_expect_str_eq(small, "abc");
	cr_expect(mx_strlcpy(small, "ab", sizeof(small)));
}
