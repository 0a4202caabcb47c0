/*
 * test_report.c - reports: `slow` JSON contract, text, CSV; ptr, summary, dns, ident,
 * sessions, session ID, outbound; filters, time parsing, --fail-if-slow; errors.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../schema/report.h"
#include "../../schema/store.h"
#include "../support/e2e.h"
#include "../support/store_fixture.h"

static char dbpath[256];
static sqlite3 *db;  /* report connection */
static sqlite3 *mem; /* :memory: connection to inspect JSON output */

static void
setup(void)
{
	char err[256];
	fx_tmpdb(dbpath, sizeof(dbpath));
	cr_assert_eq(fx_run(dbpath, "fp"), STORE_OK);
	cr_assert_eq(report_open(&db, dbpath, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sqlite3_open(":memory:", &mem), SQLITE_OK);
}

static void
teardown(void)
{
	sqlite3_close(db);
	sqlite3_close(mem);
	fx_rmdb(dbpath);
}

TestSuite(report, .init = setup, .fini = teardown);

/* Runs a report into a malloc'ed string; rc into *rc. */
static char *
run(const struct report_opts *o, int *rc, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	*rc = report_run(db, o, f, err, errlen);
	fclose(f);
	return buf;
}

static char *
run_ok(const char *name, enum report_format fmt, double slow_ms)
{
	struct report_opts o;
	char err[256];
	int rc;
	report_opts_init(&o);
	o.name = name;
	o.format = fmt;
	o.slow_ms = slow_ms;
	char *out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "report %s: %s", name, err);
	return out;
}

/* SQL over the JSON document bound as ?1; returns the first column as text. */
static const char *
jq(const char *json, const char *sql)
{
	static char buf[1024];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(mem, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(mem));
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	const unsigned char *v = sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(null)");
	sqlite3_finalize(st);
	return buf;
}

/* json_extract(doc, path) as text */
static const char *
jx(const char *json, const char *path)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT json_extract(?1, '%s')", path);
	return jq(json, sql);
}

/* the keys of the object at path, sorted, comma-separated */
static const char *
jkeys(const char *json, const char *path)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "SELECT group_concat(key, ',') FROM (SELECT key FROM json_each(?1, '%s')"
	         " ORDER BY key)",
	         path);
	return jq(json, sql);
}

Test(report, slow_json_follows_the_contract)
{
	char *out = run_ok("slow", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	cr_assert_str_eq(jq(out, "SELECT json_type(?1)"), "array");
	/* GREETING 30 s, DATA-END 12 s, RCPT abandoned after 61 s; EHLO/AUTH/MAIL are fast */
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "3");
	/* newest first */
	cr_assert_str_eq(jx(out, "$[0].command"), "RCPT");
	cr_assert_str_eq(jx(out, "$[1].command"), "DATA-END");
	cr_assert_str_eq(jx(out, "$[2].command"), "GREETING");

	/* the greeting, key by key */
	cr_assert_str_eq(jkeys(out, "$[2]"),
	                 "argument,causes,client,client_port,command,diagnosis,host,latency_ms,outbound,"
	                 "outcome,protocol,remedy,reply_code,server,server_port,session,start,"
	                 "transaction");
	cr_assert_str_eq(jx(out, "$[2].session"), "1");
	cr_assert_str_eq(jx(out, "$[2].protocol"), "smtp");
	cr_assert_str_eq(jx(out, "$[2].client"), "192.0.2.200");
	cr_assert_str_eq(jx(out, "$[2].client_port"), "40112");
	cr_assert_str_eq(jx(out, "$[2].server"), "192.0.2.10");
	cr_assert_str_eq(jx(out, "$[2].server_port"), "25");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$[2].client_port')"), "integer");
	cr_assert_str_eq(jq(out, "SELECT abs(json_extract(?1, '$[2].start') - 1700000000.123)"
	                         " < 1e-6"),
	                 "1");
	cr_assert_str_eq(jx(out, "$[2].latency_ms"), "30012.5");
	cr_assert_str_eq(jx(out, "$[2].reply_code"), "220");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$[2].reply_code')"), "text");
	cr_assert_str_eq(jx(out, "$[2].outcome"), "ok");
	cr_assert(strstr(jx(out, "$[2].diagnosis"), "PTR") != NULL);
	cr_assert(strstr(jx(out, "$[2].remedy"), "reverse zone") != NULL);

	/* its causes: the client PTR (with the upstream hop), then ident */
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1, '$[2].causes')"), "2");
	cr_assert_str_eq(jkeys(out, "$[2].causes[0]"),
	                 "kind,outcome,overlap_ms,qname,qtype,query_ms,relation,resolver,share,"
	                 "upstream");
	cr_assert_str_eq(jx(out, "$[2].causes[0].kind"), "dns");
	cr_assert_str_eq(jx(out, "$[2].causes[0].relation"), "client-ptr");
	cr_assert_str_eq(jx(out, "$[2].causes[0].qtype"), "PTR");
	cr_assert_str_eq(jx(out, "$[2].causes[0].qname"), "200.2.0.192.in-addr.arpa");
	cr_assert_str_eq(jx(out, "$[2].causes[0].resolver"), "127.0.0.1");
	cr_assert_str_eq(jx(out, "$[2].causes[0].outcome"), "unanswered");
	cr_assert_str_eq(jx(out, "$[2].causes[0].query_ms"), "30001.0");
	cr_assert_str_eq(jx(out, "$[2].causes[0].overlap_ms"), "30001.0");
	cr_assert_str_eq(jx(out, "$[2].causes[0].share"), "1.0");
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1, '$[2].causes[0].upstream')"), "1");
	cr_assert_str_eq(jx(out, "$[2].causes[0].upstream[0].kind"), "dns");
	cr_assert_str_eq(jx(out, "$[2].causes[0].upstream[0].relation"), "upstream");
	cr_assert_str_eq(jx(out, "$[2].causes[0].upstream[0].resolver"), "199.180.180.63");
	cr_assert_str_eq(jx(out, "$[2].causes[0].upstream[0].outcome"), "unanswered");
	cr_assert_str_eq(jx(out, "$[2].causes[0].upstream[0].query_ms"), "30000.5");

	cr_assert_str_eq(jkeys(out, "$[2].causes[1]"),
	                 "kind,outcome,overlap_ms,peer,query_ms,share");
	cr_assert_str_eq(jx(out, "$[2].causes[1].kind"), "ident");
	cr_assert_str_eq(jx(out, "$[2].causes[1].peer"), "192.0.2.200");
	cr_assert_str_eq(jx(out, "$[2].causes[1].outcome"), "unanswered");
	cr_assert_str_eq(jx(out, "$[2].causes[1].query_ms"), "30002.0");
	cr_assert_str_eq(jx(out, "$[2].causes[1].overlap_ms"), "26000.0");
	cr_assert_str_eq(jx(out, "$[2].causes[1].share"), "0.8663");

	/* DATA-END: {"kind": "none"} exactly */
	cr_assert_str_eq(jq(out, "SELECT json_extract(?1, '$[1].causes')"),
	                 "[{\"kind\":\"none\"}]");
	cr_assert_str_eq(jx(out, "$[1].latency_ms"), "12000.0");
	cr_assert_str_eq(jx(out, "$[1].diagnosis"), "no network cause seen");

	/* RCPT: the client gave up; no reply code, the time waited */
	cr_assert_str_eq(jx(out, "$[0].outcome"), "client-abort");
	cr_assert_str_eq(jx(out, "$[0].latency_ms"), "61000.0");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$[0].reply_code')"), "null");
	cr_assert_str_eq(jx(out, "$[0].causes"), "[]");
	free(out);
}

Test(report, slow_threshold_time_window_and_limit)
{
	char err[256];
	int rc;
	struct report_opts o;
	report_opts_init(&o);
	o.name = "slow";
	o.format = REPORT_JSON;

	o.slow_ms = 20000;
	char *out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "2");
	free(out);

	o.slow_ms = 1;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "6");
	free(out);

	o.slow_ms = 1000;
	o.since = 1700000000.123 + 35; /* DATA-END (t0+40) and RCPT (t0+50) */
	o.until = 1700000000.123 + 45;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	cr_assert_str_eq(jx(out, "$[0].command"), "DATA-END");
	free(out);

	o.since = o.until = NAN;
	o.limit = 1;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	cr_assert_str_eq(jx(out, "$[0].command"), "RCPT");
	free(out);

	/* nothing slow: an empty array */
	o.limit = 0;
	o.slow_ms = 1e9;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_str_eq(out, "[]\n");
	free(out);
}

Test(report, slow_text_fits_80_columns)
{
	char *out = run_ok("slow", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "WHEN") != NULL, "%s", out);
	cr_assert(strstr(out, "2023-11-14 22:13:20") != NULL, "%s", out);
	cr_assert(strstr(out, "GREETING") != NULL, "%s", out);
	cr_assert(strstr(out, "30012.5") != NULL, "%s", out);
	cr_assert(strstr(out, "client-ptr PTR 200.2.0.192.in-addr.arpa to 127.0.0.1") != NULL, "%s",
	          out);
	cr_assert(strstr(out, "upstream PTR 200.2.0.192.in-addr.arpa to 199.180.180.63") != NULL,
	          "%s", out);
	cr_assert(strstr(out, "ident to 192.0.2.200: unanswered") != NULL, "%s", out);
	cr_assert(strstr(out, "no network cause seen: look at local processing") != NULL, "%s",
	          out);
	cr_assert(strstr(out, "remedy: serve an (even empty) reverse zone") != NULL, "%s", out);
	/* rows newest first */
	cr_assert(strstr(out, "RCPT") < strstr(out, "DATA-END"));
	cr_assert(strstr(out, "DATA-END") < strstr(out, "GREETING"));
	for (char *line = out, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl);
		cr_assert_leq(nl - line, 80, "line too long: %.*s", (int)(nl - line), line);
	}
	free(out);
}

/* A minimal RFC 4180 reader: splits into records of fields, in place. */
#define MAXF 64
#define MAXR 16
struct csv {
	int nrec;
	int nf[MAXR];
	char *f[MAXR][MAXF];
};

static void
csv_parse(char *s, struct csv *c)
{
	char *w = s;
	memset(c, 0, sizeof(*c));
	while (*s && c->nrec < MAXR) {
		int r = c->nrec;
		for (;;) {
			char *start = w;
			if (*s == '"') {
				s++;
				for (;;) {
					cr_assert(*s != '\0', "unterminated quoted field");
					if (*s == '"' && s[1] == '"') {
						*w++ = '"';
						s += 2;
					} else if (*s == '"') {
						s++;
						break;
					} else {
						*w++ = *s++;
					}
				}
			} else {
				while (*s && *s != ',' && *s != '\r' && *s != '\n') {
					cr_assert(*s != '"', "bare quote in unquoted field");
					*w++ = *s++;
				}
			}
			cr_assert_lt(c->nf[r], MAXF);
			c->f[r][c->nf[r]++] = start;
			if (*s == ',') {
				*w++ = '\0';
				s++;
				continue;
			}
			cr_assert(s[0] == '\r' && s[1] == '\n', "records end in CRLF");
			*w++ = '\0';
			s += 2;
			break;
		}
		c->nrec++;
	}
}

static int
csv_col(const struct csv *c, const char *name)
{
	for (int i = 0; i < c->nf[0]; i++)
		if (strcmp(c->f[0][i], name) == 0)
			return i;
	cr_assert_fail("no CSV column %s", name);
	return -1;
}

Test(report, slow_csv_is_rfc4180)
{
	char *out = run_ok("slow", REPORT_CSV, 1); /* includes MAIL with , " and CRLF */
	struct csv *c = calloc(1, sizeof(*c));
	cr_assert(strstr(out, "\"FROM:<\"\"a,b\"\"@example.org>\r\nX\"") != NULL, "%s", out);
	csv_parse(out, c);
	cr_assert_eq(c->nrec, 1 + 6);
	for (int r = 1; r < c->nrec; r++)
		cr_assert_eq(c->nf[r], c->nf[0], "record %d has %d fields", r, c->nf[r]);
	int cmd = csv_col(c, "command"), arg = csv_col(c, "argument");
	int kind = csv_col(c, "cause_kind"), rel = csv_col(c, "cause_relation");
	int srv = csv_col(c, "cause_server"), lat = csv_col(c, "latency_ms");
	int found = 0;
	for (int r = 1; r < c->nrec; r++) {
		if (strcmp(c->f[r][cmd], "MAIL") == 0) {
			cr_assert_str_eq(c->f[r][arg], "FROM:<\"a,b\"@example.org>\r\nX");
			found++;
		}
		if (strcmp(c->f[r][cmd], "GREETING") == 0) {
			cr_assert_str_eq(c->f[r][kind], "dns");
			cr_assert_str_eq(c->f[r][rel], "client-ptr");
			cr_assert_str_eq(c->f[r][srv], "127.0.0.1");
			cr_assert_str_eq(c->f[r][lat], "30012.5");
			found++;
		}
		/* every cause: n_causes values in each causes_* column */
		int n = atoi(c->f[r][csv_col(c, "n_causes")]);
		static const char *const lists[] = {"causes_kind",    "causes_relation",
		                                    "causes_qtype",   "causes_qname",
		                                    "causes_server",  "causes_outcome",
		                                    "causes_query_ms", "causes_overlap_ms",
		                                    "causes_share"};
		for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
			const char *v = c->f[r][csv_col(c, lists[k])];
			int bars = 0;
			for (const char *p = v; *p; p++)
				bars += *p == '|';
			cr_assert_eq(n ? bars + 1 : (int)strlen(v), n ? n : 0, "%s: %s for %d causes",
			             lists[k], v, n);
		}
		/* the first of the list is the main cause */
		if (n > 0)
			cr_assert_eq(strncmp(c->f[r][csv_col(c, "causes_kind")], c->f[r][kind],
			                     strlen(c->f[r][kind])),
			             0);
	}
	cr_assert_eq(found, 2);
	/* the JSON columns stay out of CSV */
	for (int i = 0; i < c->nf[0]; i++)
		cr_assert(strstr(c->f[0][i], "json") == NULL, "%s", c->f[0][i]);
	free(c);
	free(out);
}

Test(report, ptr_report)
{
	char *out = run_ok("ptr", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	cr_assert_str_eq(jx(out, "$[0].qname"), "200.2.0.192.in-addr.arpa");
	cr_assert_str_eq(jx(out, "$[0].relation"), "client-ptr");
	cr_assert_str_eq(jx(out, "$[0].resolver"), "127.0.0.1");
	cr_assert_str_eq(jx(out, "$[0].client"), "192.0.2.200");
	cr_assert_str_eq(jx(out, "$[0].session"), "1");
	cr_assert_str_eq(jx(out, "$[0].command"), "GREETING");
	cr_assert_str_eq(jx(out, "$[0].upstream[0].resolver"), "199.180.180.63");
	free(out);
	out = run_ok("ptr", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "200.2.0.192.in-addr.arpa") != NULL, "%s", out);
	cr_assert(strstr(out, "199.180.180.63") != NULL, "%s", out);
	free(out);
	out = run_ok("ptr", REPORT_CSV, 1000);
	cr_assert(strncmp(out, "query_utc,qname,", 16) == 0, "%s", out);
	free(out);
}

Test(report, summary_report)
{
	char *out = run_ok("summary", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	cr_assert_str_eq(jq(out, "SELECT json_type(?1)"), "object");
	cr_assert_str_eq(jx(out, "$.runs"), "1");
	cr_assert_str_eq(jx(out, "$.sessions"), "1");
	cr_assert_str_eq(jx(out, "$.replies"), "6");
	cr_assert_str_eq(jx(out, "$.slow"), "3");
	cr_assert_str_eq(jx(out, "$.slow_by_cause.dns"), "1");
	cr_assert_str_eq(jx(out, "$.slow_by_cause.none"), "1");
	cr_assert_str_eq(jx(out, "$.slow_by_cause.unexplained"), "1");
	cr_assert_str_eq(jx(out, "$.dns_unanswered"), "2");
	cr_assert_str_eq(jx(out, "$.ident_unanswered"), "1");
	cr_assert_str_eq(jx(out, "$.max_ms"), "61000.0");
	free(out);
	out = run_ok("summary", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "sessions") != NULL, "%s", out);
	cr_assert(strstr(out, "dns_unanswered") != NULL, "%s", out);
	free(out);
	out = run_ok("summary", REPORT_CSV, 1000);
	cr_assert(strncmp(out, "runs,", 5) == 0, "%s", out);
	free(out);
}

Test(report, incidents_report)
{
	/* the fixture: one slow reply per cause kind (dns with an upstream hop, ident/none,
	   and one without causes) */
	char *out = run_ok("incidents", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	cr_assert_str_eq(jq(out, "SELECT group_concat(value ->> 'kind') FROM json_each(?1)"),
	                 jq(out, "SELECT group_concat(k) FROM (SELECT value ->> 'kind' AS k, "
	                         "value ->> 'total_wait_ms' AS w FROM json_each(?1) "
	                         "ORDER BY w DESC)"),
	                 "worst first: %s", out);
	cr_assert_str_eq(jq(out, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'relation' = "
	                         "'client-ptr' AND value ->> 'zone' = '2.0.192.in-addr.arpa' AND "
	                         "value ->> 'resolver' = '127.0.0.1'"),
	                 "1", "%s", out);
	/* the upstream hop is a detail of its dns cause, not an incident of its own */
	cr_assert_str_eq(jq(out, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'relation' = "
	                         "'upstream'"),
	                 "0", "%s", out);
	cr_assert_str_eq(jq(out, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'kind' = "
	                         "'unanalyzed'"),
	                 "1", "%s", out);
	free(out);
	out = run_ok("incidents", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "client-ptr lookups in 2.0.192.in-addr.arpa to 127.0.0.1") != NULL,
	          "%s", out);
	cr_assert(strstr(out, "example sessions: ") != NULL, "%s", out);
	cr_assert(strstr(out, "remedy: ") != NULL, "%s", out);
	free(out);
	out = run_ok("incidents", REPORT_CSV, 1000);
	cr_assert(strncmp(out, "incident,title,kind,relation,resolver,outcome,zone,slow_replies,", 64) == 0,
	          "%s", out);
	free(out);
}

Test(report, unknown_report_lists_known_ones)
{
	struct report_opts o;
	char err[256];
	int rc;
	report_opts_init(&o);
	o.name = "bogus";
	char *out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, REPORT_EUSAGE);
	cr_assert(strstr(err, "unknown report 'bogus'") != NULL, "%s", err);
	cr_assert(strstr(err, "slow") != NULL && strstr(err, "ptr") != NULL &&
	              strstr(err, "summary") != NULL,
	          "%s", err);
	free(out);

	o.name = "ptr"; /* html is the whole page, given for slow and summary only */
	o.format = REPORT_HTML;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, REPORT_EUSAGE);
	cr_assert(strstr(err, "html") != NULL, "%s", err);
	free(out);
}

Test(report, report_on_the_store_connection)
{
	/* reports also run on the writer's own connection */
	char err[256];
	struct store *s;
	cr_assert_eq(store_open(&s, dbpath, err, sizeof(err)), STORE_OK, "%s", err);
	struct report_opts o;
	report_opts_init(&o);
	o.name = "slow";
	o.format = REPORT_JSON;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_eq(report_run(store_db(s), &o, f, err, sizeof(err)), 0, "%s", err);
	fclose(f);
	cr_assert_str_eq(jq(buf, "SELECT json_array_length(?1)"), "3");
	free(buf);
	store_close(s);
}

Test(report, open_refuses_missing_empty_and_newer)
{
	char err[256];
	sqlite3 *x = NULL;
	cr_assert_eq(report_open(&x, "/tmp/mxlag-no-such.db", err, sizeof(err)), -1);
	cr_assert_null(x);

	char path[256];
	fx_tmpdb(path, sizeof(path));
	cr_assert_eq(report_open(&x, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not an mxlag database") != NULL, "%s", err);

	/* the report connection is read-only (issue 13): another one writes */
	sqlite3 *w;
	cr_assert_eq(sqlite3_open_v2(dbpath, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(w, "PRAGMA user_version = 42", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(w);
	cr_assert_eq(report_open(&x, dbpath, err, sizeof(err)), -1);
	cr_assert(strstr(err, "newer") != NULL, "%s", err);
	fx_rmdb(path);
}

Test(report, parse_time_and_format)
{
	double t;
	enum report_format f;
	cr_assert_eq(report_parse_time("1700000000.5", &t), 0);
	cr_assert_float_eq(t, 1700000000.5, 1e-9);
	cr_assert_eq(report_parse_time("2023-11-14 22:13:20", &t), 0);
	cr_assert_float_eq(t, 1700000000.0, 1e-9);
	cr_assert_eq(report_parse_time("2023-11-14T22:13:20.25Z", &t), 0);
	cr_assert_float_eq(t, 1700000000.25, 1e-9);
	cr_assert_eq(report_parse_time("2023-11-14", &t), 0);
	cr_assert_float_eq(t, 1699920000.0, 1e-9);
	cr_assert_eq(report_parse_time("yesterday", &t), -1);
	cr_assert_eq(report_parse_time("2023-13-01", &t), -1);
	cr_assert_eq(report_parse_time("", &t), -1);
	cr_assert_eq(report_format_parse("csv", &f), 0);
	cr_assert_eq(f, REPORT_CSV);
	cr_assert_eq(report_format_parse("xml", &f), -1);
}

/* ---- dns, ident, sessions, session ID, outbound; options ------------------------ */

static char *
run_opts_ok(struct report_opts *o)
{
	char err[256];
	int rc;
	char *out = run(o, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "report %s: %s", o->name, err);
	return out;
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
assert_fits_80(const char *name, const char *out)
{
	for (const char *line = out, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "%s: last line without newline", name);
		cr_assert_leq(nl - line, 80, "%s: line too long: %.*s", name, (int)(nl - line),
		              line);
	}
}

Test(report, dns_report)
{
	char *out = run_ok("dns", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	/* the local resolver and its upstream server, one query each, both unanswered */
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "2");
	cr_assert_str_eq(jkeys(out, "$[0]"),
	                 "answered,max_ms,nxdomain,other,p50_ms,p95_ms,queries,resolver,"
	                 "retransmits,servfail,slowest,unanswered");
	cr_assert_str_eq(jq(out, "SELECT group_concat(value ->> 'resolver') FROM ("
	                         "SELECT value FROM json_each(?1) ORDER BY value ->> 'resolver')"),
	                 "127.0.0.1,199.180.180.63");
	cr_assert_str_eq(jx(out, "$[0].queries"), "1");
	cr_assert_str_eq(jx(out, "$[0].unanswered"), "1");
	cr_assert_str_eq(jx(out, "$[0].servfail"), "0");
	cr_assert_str_eq(jx(out, "$[0].p50_ms"), "(null)"); /* nothing answered */
	cr_assert_str_eq(jx(out, "$[0].slowest[0].qname"), "200.2.0.192.in-addr.arpa");
	cr_assert_str_eq(jx(out, "$[0].slowest[0].outcome"), "unanswered");
	free(out);
	out = run_ok("dns", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "RESOLVER") != NULL, "%s", out);
	cr_assert(strstr(out, "199.180.180.63") != NULL, "%s", out);
	cr_assert(strstr(out, "slowest: PTR 200.2.0.192.in-addr.arpa unanswered") != NULL, "%s",
	          out);
	assert_fits_80("dns", out);
	free(out);
	out = run_ok("dns", REPORT_CSV, 1000);
	cr_assert(starts(out, "resolver,queries,answered,unanswered,servfail,nxdomain,"), "%s",
	          out);
	cr_assert(strstr(out, "_text") == NULL && strstr(out, "slowest: ") == NULL, "%s", out);
	free(out);
}

Test(report, ident_report)
{
	char *out = run_ok("ident", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1", "%s", out);
	cr_assert_str_eq(jx(out, "$[0].peer"), "192.0.2.200");
	cr_assert_str_eq(jx(out, "$[0].outcome"), "unanswered");
	cr_assert_str_eq(jx(out, "$[0].probes"), "1");
	cr_assert_str_eq(jx(out, "$[0].syn_retransmits"), "3");
	/* unanswered: as long as the wait it delayed saw it outstanding, the
	   query_ms of its cause in the slow report (not first to last SYN, 19989.5) */
	cr_assert_str_eq(jx(out, "$[0].max_ms"), "30002.0");
	free(out);
	out = run_ok("slow", REPORT_JSON, 1000);
	cr_assert_str_eq(jx(out, "$[2].causes[1].kind"), "ident");
	cr_assert_str_eq(jx(out, "$[2].causes[1].query_ms"), "30002.0");
	free(out);
	out = run_ok("ident", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "192.0.2.200 unanswered") != NULL, "%s", out);
	assert_fits_80("ident", out);
	free(out);
	out = run_ok("ident", REPORT_CSV, 1000);
	cr_assert(starts(out, "host,peer,outcome,probes,"), "%s", out);
	free(out);
}

Test(report, sessions_report_and_filters)
{
	struct report_opts o;
	report_opts_init(&o);
	o.name = "sessions";
	o.format = REPORT_JSON;
	char *out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1", "%s", out);
	cr_assert_str_eq(jkeys(out, "$[0]"),
	                 "bytes,client,client_is_host,client_port,duration_ms,end,host,outbound,"
	                 "outcome,protocol,replies,server,server_port,session,slowest,start,tls");
	cr_assert_str_eq(jx(out, "$[0].session"), "1");
	cr_assert_str_eq(jx(out, "$[0].protocol"), "smtp");
	cr_assert_str_eq(jx(out, "$[0].outcome"), "client-abort");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$[0].tls')"), "false");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$[0].outbound')"), "false");
	cr_assert_str_eq(jx(out, "$[0].replies"), "6");
	cr_assert_str_eq(jx(out, "$[0].slowest.command"), "RCPT");
	cr_assert_str_eq(jx(out, "$[0].slowest.latency_ms"), "61000.0");
	/* from the SYN (t0 - 1 ms) to the end (t0 + 111 s) */
	cr_assert_str_eq(jx(out, "$[0].duration_ms"), "111001.0");
	free(out);

	o.client = "192.0.2.200";
	out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	free(out);
	o.client = "192.0.2.10"; /* either end */
	out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	free(out);
	o.client = "192.0.2.99";
	out = run_opts_ok(&o);
	cr_assert_str_eq(out, "[]\n");
	free(out);
	o.client = NULL;
	o.protocol = "pop3";
	out = run_opts_ok(&o);
	cr_assert_str_eq(out, "[]\n");
	free(out);
	o.protocol = "smtp";
	o.since = 1700000000.123 + 1; /* the session started before */
	out = run_opts_ok(&o);
	cr_assert_str_eq(out, "[]\n");
	free(out);

	o.since = NAN;
	o.format = REPORT_TEXT;
	out = run_opts_ok(&o);
	cr_assert(strstr(out, "ID PROTO CLIENT") != NULL, "%s", out);
	cr_assert(strstr(out, "192.0.2.200") != NULL, "%s", out);
	cr_assert(strstr(out, "RCPT 61000.0") != NULL, "%s", out);
	assert_fits_80("sessions", out);
	free(out);
	o.format = REPORT_CSV;
	out = run_opts_ok(&o);
	cr_assert(starts(out, "session,protocol,client,client_port,server,server_port,start,"),
	          "%s", out);
	free(out);
}

Test(report, slow_and_ptr_filters)
{
	struct report_opts o;
	report_opts_init(&o);
	o.name = "slow";
	o.format = REPORT_JSON;
	o.client = "192.0.2.99";
	char *out = run_opts_ok(&o);
	cr_assert_str_eq(out, "[]\n");
	free(out);
	o.client = "192.0.2.200";
	o.protocol = "smtp";
	out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "3");
	free(out);
	o.name = "ptr";
	out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "1");
	free(out);
	o.protocol = "pop3";
	out = run_opts_ok(&o);
	cr_assert_str_eq(out, "[]\n");
	free(out);
}

Test(report, session_timeline)
{
	struct report_opts o;
	report_opts_init(&o);
	o.name = "session";
	o.arg = "1";
	o.format = REPORT_JSON;
	char *out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_valid(?1)"), "1", "%s", out);
	cr_assert_str_eq(jkeys(out, "$"), "events,session");
	cr_assert_str_eq(jx(out, "$.session.session"), "1");
	cr_assert_str_eq(jx(out, "$.session.client"), "192.0.2.200");
	cr_assert_str_eq(jx(out, "$.session.outcome"), "client-abort");
	/* connect, 6 commands, 2 DNS queries, 1 ident probe, close; in time order */
	cr_assert_str_eq(jq(out, "SELECT group_concat(value ->> 'kind', ',') FROM"
	                         " json_each(?1, '$.events')"),
	                 "connect,command,ident,dns,dns,command,command,command,command,command,"
	                 "close");
	cr_assert_str_eq(jq(out,
	                    "SELECT count(*) FROM json_each(?1, '$.events') AS a,"
	                    " json_each(?1, '$.events') AS b"
	                    " WHERE b.key = a.key + 1 AND b.value ->> 'ts' < a.value ->> 'ts'"),
	                 "0");
	/* the slow greeting with its causes; a fast command without */
	cr_assert_str_eq(jx(out, "$.events[1].command"), "GREETING");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$.events[1].slow')"), "true");
	cr_assert_str_eq(jx(out, "$.events[1].causes[0].relation"), "client-ptr");
	cr_assert_str_eq(jx(out, "$.events[1].causes[0].upstream[0].resolver"), "199.180.180.63");
	cr_assert_str_eq(jx(out, "$.events[5].command"), "EHLO");
	cr_assert_str_eq(jq(out, "SELECT json_type(?1, '$.events[5].slow')"), "false");
	cr_assert_str_eq(jx(out, "$.events[3].relation"), "client-ptr");
	cr_assert_str_eq(jx(out, "$.events[4].relation"), "upstream");
	cr_assert_str_eq(jx(out, "$.events[2].peer"), "192.0.2.200");
	/* secrets stay out */
	cr_assert(strstr(out, "c2VjcmV0") == NULL, "%s", out);
	free(out);

	o.format = REPORT_TEXT;
	out = run_opts_ok(&o);
	cr_assert(strstr(out, "session 1: smtp 192.0.2.200 port 40112 to 192.0.2.10 port 25") !=
	              NULL,
	          "%s", out);
	cr_assert(strstr(out, "GREETING -> 220 after 30012.5 ms SLOW") != NULL, "%s", out);
	cr_assert(strstr(out, "dns client-ptr PTR 200.2.0.192.in-addr.arpa to 127.0.0.1") != NULL,
	          "%s", out);
	cr_assert(strstr(out, "RCPT TO:<joe@example.net> -> no reply,") != NULL, "%s", out);
	cr_assert(strstr(out, "MAIL FROM:<\"a,b\"@example.org>..X") != NULL,
	          "control characters: %s", out);
	cr_assert(strstr(out, "\033[") == NULL, "no colour unless asked");
	assert_fits_80("session", out);
	free(out);

	o.format = REPORT_CSV;
	out = run_opts_ok(&o);
	cr_assert(starts(out, "ts,time_utc,offset_ms,kind,item,"), "%s", out);
	cr_assert(strstr(out, "session_json") == NULL, "%s", out);
	free(out);

	char err[256];
	int rc;
	o.arg = "99";
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "no session 99") != NULL, "%s", err);
	free(out);
	o.arg = "x1";
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, -1);
	free(out);
	o.arg = NULL;
	out = run(&o, &rc, err, sizeof(err));
	cr_assert_eq(rc, REPORT_EUSAGE);
	cr_assert(strstr(err, "needs an argument") != NULL, "%s", err);
	free(out);
}

Test(report, outbound_report_without_deliveries)
{
	char *out = run_ok("outbound", REPORT_JSON, 1000);
	cr_assert_str_eq(out, "[]\n");
	free(out);
	out = run_ok("outbound", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "REMOTE") != NULL && strstr(out, "(none)") != NULL, "%s", out);
	free(out);
	out = run_ok("outbound", REPORT_CSV, 1000);
	cr_assert(starts(out, "host,remote,attempts,ok,unanswered,refused,"), "%s", out);
	free(out);
}

Test(report, outbound_report_with_deliveries)
{
	/* turn the fixture's session into one of the host's deliveries */
	sqlite3 *w;
	cr_assert_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(w,
	                          "UPDATE sessions SET outbound = 1;"
	                          "INSERT INTO sessions (id, protocol, client, client_port, server,"
	                          " server_port, syn, start, \"end\", outcome, outbound)"
	                          " VALUES (7, 'smtp', '192.0.2.10', 40000, '192.0.2.200', 25,"
	                          " 1700000100, 1700000100, 1700000121, 'unanswered', 1);"
	                          "UPDATE transactions SET size = 1234 WHERE command = 'DATA-END'",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(w));
	sqlite3_close(w);
	char *out = run_ok("outbound", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "2", "%s", out);
	cr_assert_str_eq(jx(out, "$[1].remote"), "192.0.2.10"); /* the fixture's server end */
	free(out);
	out = run_ok("outbound", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "192.0.2.10") != NULL, "%s", out);
	assert_fits_80("outbound", out);
	free(out);

	/* the second delivery attempt goes to 192.0.2.200 and is never answered */
	struct report_opts o;
	report_opts_init(&o);
	o.name = "outbound";
	o.format = REPORT_JSON;
	o.client = "192.0.2.200";
	out = run_opts_ok(&o);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1)"), "2", "%s", out);
	cr_assert_str_eq(jx(out, "$[0].remote"), "192.0.2.200"); /* failures first */
	cr_assert_str_eq(jx(out, "$[0].unanswered"), "1");
	cr_assert_str_eq(jx(out, "$[0].failed_wait_ms"), "21000.0");
	cr_assert_str_eq(jx(out, "$[0].sessions[0].session"), "7");
	cr_assert_str_eq(jx(out, "$[1].slow[0].command"), "RCPT");
	cr_assert_str_eq(jx(out, "$[1].messages"), "1");
	cr_assert_str_eq(jx(out, "$[1].max_message_bytes"), "1234");
	free(out);
}

/* A second monitored host: the text reports say which server, the summary splits by host. */
Test(report, several_hosts_are_told_apart)
{
	char *out = run_ok("slow", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "SERVER") == NULL, "one host: no SERVER column\n%s", out);
	free(out);
	sqlite3 *w;
	cr_assert_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(w,
	                          "INSERT INTO sessions (id, protocol, client, client_port, server,"
	                          " server_port, syn, start, \"end\", outcome, outbound, host,"
	                          " complete)"
	                          " VALUES (9, 'smtp', '192.0.2.200', 40009, '192.0.2.11', 25,"
	                          " 1700000001, 1700000001, 1700000030, 'ok', 0, '192.0.2.11', 1);"
	                          /* the writer counts each session it stores (schema 7) */
	                          "INSERT INTO session_counts (minute, host, protocol, outcome, n)"
	                          " VALUES (1699999980, '192.0.2.11', 'smtp', 'ok', 1);"
	                          "INSERT INTO transactions (id, session_id, command, request_ts,"
	                          " reply_ts, latency_ms, reply_code, outcome, diagnosis)"
	                          " VALUES (90, 9, 'DATA-END', 1700000010, 1700000014, 4000.0, '250',"
	                          " 'ok', 'no DNS or ident traffic of the host');"
	                          "INSERT INTO causes (id, transaction_id, kind) VALUES (90, 90, 'none')",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(w));
	sqlite3_close(w);
	cr_assert(report_multi_host(db));
	out = run_ok("slow", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "SERVER") != NULL, "%s", out);
	cr_assert(strstr(out, "192.0.2.11      192.0.2.200") != NULL, "%s", out);
	assert_fits_80("slow", out);
	free(out);
	out = run_ok("sessions", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "SERVER") != NULL && strstr(out, "192.0.2.11") != NULL, "%s", out);
	assert_fits_80("sessions", out);
	free(out);
	out = run_ok("summary", REPORT_TEXT, 1000);
	cr_assert(strstr(out, "per host") != NULL, "%s", out);
	cr_assert(strstr(out, "192.0.2.11") != NULL && strstr(out, "192.0.2.10") != NULL, "%s",
	          out);
	assert_fits_80("summary", out);
	free(out);
	out = run_ok("summary", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT json_array_length(?1, '$.hosts')"), "2", "%s", out);
	cr_assert_str_eq(jx(out, "$.hosts[0].host"), "192.0.2.10", "the slowest first");
	cr_assert_str_eq(jx(out, "$.hosts[1].top_cause"), "none");
	free(out);
	out = run_ok("slow", REPORT_JSON, 1000);
	cr_assert_str_eq(jq(out, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'host' ="
	                         " '192.0.2.11' AND value ->> 'command' = 'DATA-END'"),
	                 "1", "%s", out);
	free(out);
}

Test(report, every_text_report_fits_80_columns)
{
	static const char *const names[] = {"summary",  "slow",    "ptr",      "dns",      "ident",
	                                    "sessions", "session", "outbound", "incidents"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct report_opts o;
		report_opts_init(&o);
		o.name = names[i];
		o.arg = "1";
		o.slow_ms = 1; /* as many rows as there are */
		char *out = run_opts_ok(&o);
		assert_fits_80(names[i], out);
		cr_assert(strstr(out, "\033[") == NULL, "%s: colour without a terminal", names[i]);
		free(out);
	}
}

Test(report, colour_only_when_asked)
{
	struct report_opts o;
	report_opts_init(&o);
	o.name = "sessions";
	o.color = 1;
	char *out = run_opts_ok(&o);
	cr_assert(strncmp(strchr(out, '\n') + 1, "\033[1m", 4) == 0, "%s", out);
	free(out);
	o.format = REPORT_CSV;
	o.color = 0;
	out = run_opts_ok(&o);
	cr_assert(strchr(out, '\033') == NULL, "%s", out);
	free(out);
}

Test(report, parse_time_iso_and_relative)
{
	double t;
	const double now = 1795428000.0; /* 2026-11-23 10:00:00 UTC */
	cr_assert_eq(report_parse_time_at("2026-11-23T10:00:00Z", now, &t), 0);
	cr_assert_float_eq(t, 1795428000.0, 1e-9);
	cr_assert_eq(report_parse_time_at("2026-11-23 10:00", now, &t), 0);
	cr_assert_float_eq(t, 1795428000.0, 1e-9);
	cr_assert_eq(report_parse_time_at("2026-11-23T11:30:00+01:30", now, &t), 0);
	cr_assert_float_eq(t, 1795428000.0, 1e-9);
	cr_assert_eq(report_parse_time_at("2026-11-23T08:00-0200", now, &t), 0);
	cr_assert_float_eq(t, 1795428000.0, 1e-9);
	cr_assert_eq(report_parse_time_at("1795428000", now, &t), 0);
	cr_assert_float_eq(t, 1795428000.0, 1e-9);
	cr_assert_eq(report_parse_time_at("24h", now, &t), 0);
	cr_assert_float_eq(t, now - 86400, 1e-9);
	cr_assert_eq(report_parse_time_at("30m", now, &t), 0);
	cr_assert_float_eq(t, now - 1800, 1e-9);
	cr_assert_eq(report_parse_time_at("7d", now, &t), 0);
	cr_assert_float_eq(t, now - 7 * 86400, 1e-9);
	cr_assert_eq(report_parse_time_at("90s", now, &t), 0);
	cr_assert_float_eq(t, now - 90, 1e-9);
	cr_assert_eq(report_parse_time_at("2w", now, &t), 0);
	cr_assert_float_eq(t, now - 14 * 86400, 1e-9);
	cr_assert_eq(report_parse_time_at("1.5h", now, &t), 0);
	cr_assert_float_eq(t, now - 5400, 1e-9);
	static const char *const bad[] = {"24x",           "h",  "-5h",  "24hours",
	                                  "2026-11-23 10", " 1", "24 h", "2026-11-23T10:00+25",
	                                  "2026-1-2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(report_parse_time_at(bad[i], now, &t), -1, "accepted %s", bad[i]);
	/* relative to the wall clock */
	cr_assert_eq(report_parse_time("1h", &t), 0);
	cr_assert_float_eq(t, (double)time(NULL) - 3600, 5);
}

Test(report, count_slow)
{
	struct report_opts o;
	char err[256];
	long n;
	report_opts_init(&o);
	cr_assert_eq(report_count_slow(db, &o, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	o.slow_ms = 20000;
	cr_assert_eq(report_count_slow(db, &o, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	o.client = "192.0.2.99";
	cr_assert_eq(report_count_slow(db, &o, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0);
	o.client = NULL;
	o.since = 1700000000.123 + 35;
	cr_assert_eq(report_count_slow(db, &o, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
}

/* the binary: --fail-if-slow exit status, bad options, no colour into a pipe */
Test(report, cli_fail_if_slow_and_options)
{
	char bin[512];
	char *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --fail-if-slow 2 slow 2>&1", bin, dbpath),
	             4, "%s", out ? out : "");
	cr_assert(strstr(out, "GREETING") != NULL, "the report is still printed: %s", out);
	cr_assert(strstr(out, "3 slow replies") != NULL, "%s", out);
	cr_assert(strchr(out, '\033') == NULL, "no colour into a pipe");
	free(out);
	cr_assert_eq(e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow 3 slow", bin, dbpath), 0);
	/* counted in the window, not limited by --limit, for any report */
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow 0 --limit 1 --format json summary",
	           bin, dbpath),
	    4);
	cr_assert_eq(e2e_sh(NULL,
	                    "'%s' report --db '%s' --fail-if-slow 0 --since 2023-11-14T22:14:00Z"
	                    " --until '2023-11-14 22:15' slow",
	                    bin, dbpath),
	             4);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow 0 --since 1h slow", bin, dbpath), 0,
	    "nothing in the last hour");
	cr_assert_eq(e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow 0 --client 192.0.2.99 slow",
	                    bin, dbpath),
	             0);
	cr_assert_eq(e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow 0 --protocol pop3 slow",
	                    bin, dbpath),
	             0);
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --protocol imap slow 2>&1", bin, dbpath),
	             2);
	cr_assert(strstr(out, "bad --protocol") != NULL, "%s", out);
	free(out);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' report --db '%s' --client nothost slow 2>/dev/null", bin, dbpath),
	    2);
	cr_assert_eq(e2e_sh(NULL, "'%s' report --db '%s' --since 3x slow 2>/dev/null", bin, dbpath),
	             2);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' report --db '%s' --fail-if-slow -1 slow 2>/dev/null", bin, dbpath),
	    2);
	cr_assert_eq(
	    e2e_sh(&out, "'%s' report --db '%s' session 1 --client 192.0.2.200", bin, dbpath), 0);
	cr_assert(strstr(out, "session 1: smtp") != NULL, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out, "'%s' report --help", bin), 0);
	cr_assert(strstr(out, "--fail-if-slow N") != NULL && strstr(out, "--protocol") != NULL,
	          "%s", out);
	free(out);
}
