/* test_store.c - the SQLite writer: schema, migrations, rows, runs, WAL, errors. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../schema/compact.h"
#include "../../schema/store.h"
#include "../support/store_fixture.h"

static char dbpath[256];

static void
setup(void)
{
	fx_tmpdb(dbpath, sizeof(dbpath));
}

static void
teardown(void)
{
	fx_rmdb(dbpath);
}

TestSuite(store, .init = setup, .fini = teardown);

/* ---- small SQL helpers ---- */

static sqlite3 *
open_ro(const char *path)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double
q_double(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
	double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* text of the first column, "(null)" for NULL; static buffer */
static const char *
q_text(sqlite3 *db, const char *sql)
{
	static char buf[8192]; /* a row of full texts (writer_queue_keeps_full_session_texts) */
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
	const unsigned char *v = sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(null)");
	sqlite3_finalize(st);
	return buf;
}

static struct store *
open_store(void)
{
	char err[256];
	struct store *s = NULL;
	int rc = store_open(&s, dbpath, err, sizeof(err));
	cr_assert_eq(rc, STORE_OK, "store_open: %s", err);
	cr_assert_not_null(s);
	return s;
}

/* ---- schema and migrations ---- */

Test(store, creates_schema_in_empty_file_with_wal)
{
	struct store *s = open_store();
	sqlite3 *db = store_db(s);
	cr_assert_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_str_eq(q_text(db, "PRAGMA journal_mode"), "wal");
	cr_assert_eq(q_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
	cr_assert_eq(q_int(db, "PRAGMA foreign_keys"), 0);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
	                       " ('session_rows','transactions','dns_rows','addrs','names',"
	                       "'ident_probes','causes','runs')"),
	             8);
	/* dns_queries is a view since version 10, sessions since 12, with the tables' columns */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name IN"
	                       " ('slow_replies','ptr_delays','dns_queries','sessions')"),
	             4);
	/* DESIGN.md's columns are there (the views compile against them, too) */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM pragma_table_info('sessions') WHERE name IN"
	                       " ('id','protocol','client','client_port','server','server_port',"
	                       "'start','end','outcome','tls','outbound')"),
	             11);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM pragma_table_info('dns_queries') WHERE name IN"
	                       " ('id','ts','client','server','transport','txid','qname','qtype',"
	                       "'outcome','rcode','answers','response_ts','latency_ms',"
	                       "'retransmits')"),
	             14);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM slow_replies"), 0);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM ptr_delays"), 0);
	store_close(s);

	/* reopening an up-to-date database changes nothing */
	s = open_store();
	cr_assert_eq(q_int(store_db(s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	store_close(s);
}

/* The writer's command numbers (compact.c) are the table command_words the
 * view compact_replies decodes them with (schema 11): same words, same codes. */
Test(store, command_words_match_the_writer)
{
	struct store *s = open_store();
	sqlite3 *db = store_db(s);
	int n = 0;
	for (; compact_command_word(n); n++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT word FROM command_words WHERE code = %d", n);
		cr_expect_str_eq(q_text(db, sql), compact_command_word(n), "code %d", n);
		cr_expect_eq(compact_command_code(compact_command_word(n)), n);
	}
	cr_expect_eq(n, 30);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM command_words"), n);
	store_close(s);
}

/* Version 13: a MAIL or RCPT argument naming the session's domain is
 * written short, no argument as 0, and the view gives back every argument
 * byte for byte. */
Test(store, mail_and_rcpt_arguments_read_back_exactly)
{
	static const char *const args[][2] = {
	    {"MAIL", "FROM:<user@sender.example>"},
	    {"MAIL", "FROM:<user@sender.example> SIZE=1234"},
	    {"MAIL", "FROM:<@sender.example>"},
	    {"MAIL", "FROM:<>"},
	    {"MAIL", "FROM:<User@Sender.Example>"},
	    {"MAIL", "[\"user\"]"},
	    {"RCPT", "TO:<x@rcpt.example>"},
	    {"RCPT", "TO:<\"a b\"@rcpt.example> NOTIFY=NEVER"},
	    {"RCPT", "TO:<x@other.example>"},
	    {"RCPT", "TO:<x@rcpt.example,other.example>"},
	    {"QUIT", ""},
	    {"EHLO", "helo.example"},
	};
	/* how the record holds each: the local part as a head's tail (version
	   18), short form, text, 0 for none (after the head: 250 is not QUIT's
	   usual code), the helo in a head alone */
	static const char *const form[] = {"tail",  "array", "tail", "text", "text",    "text",
	                                   "tail",  "array", "text", "text", "integer", "alone"};
	const size_t n = sizeof(args) / sizeof(args[0]);
	struct store *s = open_store();
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "args", "args", NULL), STORE_OK, "%s", store_errmsg(s));
	static struct mx_session x;
	for (size_t k = 0; k < n; k++) {
		memset(&x, 0, sizeof(x));
		x.id = k + 1;
		x.proto = MXP_SMTP;
		mx_addr_parse("192.0.2.1", &x.client.addr);
		mx_addr_parse("192.0.2.10", &x.server.addr);
		x.server.port = 25;
		x.syn_ns = 1767225600000000000ull + k * 1000000000ull;
		x.start_ns = x.syn_ns + 1000000;
		mx_strlcpy(x.sender_domain, "sender.example", sizeof(x.sender_domain));
		mx_strlcpy(x.helo, "helo.example", sizeof(x.helo));
		mx_strlcpy(x.rcpt_domains[0], "rcpt.example", sizeof(x.rcpt_domains[0]));
		mx_strlcpy(x.rcpt_domains[1], "other.example", sizeof(x.rcpt_domains[1]));
		x.n_rcpt_domains = 2;
		struct mx_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TXN;
		ev.session = &x;
		ev.u.txn.id = k + 1;
		ev.u.txn.session_id = x.id;
		mx_strlcpy(ev.u.txn.command, args[k][0], sizeof(ev.u.txn.command));
		mx_strlcpy(ev.u.txn.argument, args[k][1], sizeof(ev.u.txn.argument));
		ev.u.txn.request_ns = x.start_ns + 2000000;
		ev.u.txn.reply_ns = ev.u.txn.request_ns + 3000000;
		mx_strlcpy(ev.u.txn.reply_code, "250", sizeof(ev.u.txn.reply_code));
		ev.u.txn.outcome = MXO_OK;
		cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_SESSION;
		ev.u.session = x;
		ev.u.session.end_ns = x.start_ns + 10000000;
		ev.u.session.outcome = MXO_OK;
		cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	}
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = store_db(s);
	for (size_t k = 0; k < n; k++) {
		char sql[256];
		snprintf(sql, sizeof(sql),
		         "SELECT command || ' ' || argument FROM compact_replies WHERE session_id = %zu",
		         k + 1);
		char want[300];
		snprintf(want, sizeof(want), "%s %s", args[k][0], args[k][1]);
		cr_expect_str_eq(q_text(db, sql), args[k][1][0] ? want : "(null)");
		snprintf(sql, sizeof(sql),
		         "SELECT CASE WHEN json_type(replies, '$[1]') = 'array'"
		         " THEN json_type(replies, '$[1][1]')"
		         " WHEN unicode(replies ->> '$[1]') >= 96 THEN 'tail' ELSE 'alone' END"
		         " FROM session_rows WHERE id = %zu",
		         k + 1);
		cr_expect_str_eq(q_text(db, sql), form[k], "%s", args[k][1]);
	}
	store_close(s);
}

/* The table dns_rows and its view of version 13 (no answer column), to
 * put after the other statements that make an older layout. */
#define DNS_ROWS_V13 \
	"DROP VIEW dns_queries; " \
	"DROP TABLE dns_rows; " \
	"DROP TABLE dns_blocks; " \
	"CREATE TABLE dns_rows ( id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs " \
	"(id), ts_ns INTEGER, client INTEGER REFERENCES addrs (id), client_port INTEGER, " \
	"server INTEGER REFERENCES addrs (id), server_port INTEGER, tcp INTEGER NOT NULL " \
	"DEFAULT 0, txid INTEGER, qname INTEGER REFERENCES names (id), qtype TEXT, " \
	"outcome INTEGER, rcode INTEGER, answers TEXT, response_ns INTEGER, resend_ns " \
	"INTEGER, retransmits INTEGER ); " \
	"CREATE INDEX dns_rows_ts ON dns_rows (ts_ns / 1000000000 + (ts_ns % 1000000000) " \
	"/ 1e9, outcome, qtype); " \
	"CREATE VIEW dns_queries AS SELECT q.id, q.run_id, q.ts_ns / 1000000000 + " \
	"(q.ts_ns % 1000000000) / 1e9 AS ts, (SELECT addr FROM addrs WHERE id = q.client) " \
	"AS client, q.client_port, (SELECT addr FROM addrs WHERE id = q.server) AS " \
	"server, q.server_port, CASE q.tcp WHEN 0 THEN 'udp' ELSE 'tcp' END AS transport, " \
	"q.txid, (SELECT name FROM names WHERE id = q.qname) AS qname, q.qtype, CASE " \
	"q.outcome WHEN 0 THEN 'answered' WHEN 1 THEN 'nodata' WHEN 2 THEN 'nxdomain' " \
	"WHEN 3 THEN 'servfail' WHEN 4 THEN 'refused' WHEN 5 THEN 'truncated' WHEN 6 THEN " \
	"'unanswered' WHEN 7 THEN 'other' WHEN 8 THEN 'no-query' END AS outcome, q.rcode, " \
	"q.answers, (coalesce(q.ts_ns, 0) + q.response_ns) / 1000000000 + " \
	"((coalesce(q.ts_ns, 0) + q.response_ns) % 1000000000) / 1e9 AS response_ts, " \
	"(coalesce(q.ts_ns, 0) + q.resend_ns) / 1000000000 + ((coalesce(q.ts_ns, 0) + " \
	"q.resend_ns) % 1000000000) / 1e9 AS last_send_ts, CASE WHEN q.ts_ns IS NULL OR " \
	"q.outcome = 8 THEN NULL ELSE q.response_ns / 1e6 END AS latency_ms, " \
	"q.retransmits FROM dns_rows AS q; "

/* the whole text of a schema object (until the next call), "(null)" when there is none */
#define SCHEMA_TEXT_MAX 32768
static const char *
schema_sql(sqlite3 *db, const char *name)
{
	static char buf[SCHEMA_TEXT_MAX];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = ?1", -1, &st,
	                                NULL),
	             SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	const unsigned char *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	int n = snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(null)");
	cr_assert_lt(n, (int)sizeof(buf), "%s: a longer text than SCHEMA_TEXT_MAX", name);
	sqlite3_finalize(st);
	return buf;
}

/* What schema 18 added or dropped, undone: a layout of version 17 (with
 * the views compact_replies and dns_queries and the triggers of 18, which
 * the migration to 18 replaces). */
#define UNDO_18                                                                                   \
	"DROP TABLE session_blocks; DROP INDEX sessions_out; DROP TABLE qtype_words;"           \
	" CREATE INDEX sessions_t0 ON session_rows (coalesce(start, syn), host, protocol,"        \
	" outbound, client_is_host, outcome);"                                                   \
	" CREATE INDEX names_last ON names (last_minute);"

/* A fresh store's file made older by old_layout (which ends with its
 * PRAGMA user_version, before 18), opened again: migrated to this version. */
static struct store *
migrated_from(const char *old_layout)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, UNDO_18, NULL, NULL, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_exec(db, old_layout, NULL, NULL, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	sqlite3_close(db);
	struct store *s = open_store();
	cr_expect_eq(q_int(store_db(s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	return s;
}

/* Version 12 -> 13 replaces the view compact_replies with schema.sql's. */
Test(store, version_12_gets_the_new_reply_view)
{
	struct store *s = open_store();
	static char fresh[SCHEMA_TEXT_MAX];
	snprintf(fresh, sizeof(fresh), "%s", schema_sql(store_db(s), "compact_replies"));
	store_close(s);
	s = migrated_from("DROP VIEW compact_replies;"
	                  " CREATE VIEW compact_replies AS SELECT 1 AS id;" DNS_ROWS_V13
	                  " PRAGMA user_version = 12");
	cr_expect_str_eq(schema_sql(store_db(s), "compact_replies"), fresh);
	store_close(s);
}

/* every compact reply of a session, all columns, in id order, as one text */
#define REPLIES_OF(sid)                                                                          \
	"SELECT group_concat(x, ' | ') FROM (SELECT quote(id) || ',' || quote(run_id) || ','"       \
	" || quote(session_id) || ',' || quote(command) || ',' || quote(argument) || ','"            \
	" || quote(request_ts) || ',' || quote(reply_ts) || ',' || quote(end_ts) || ','"            \
	" || quote(latency_ms) || ',' || quote(reply_code) || ',' || quote(reply_text) || ','"      \
	" || quote(outcome) || ',' || quote(size) || ',' || quote(diagnosis) || ','"                \
	" || quote(remedy) || ',' || quote(guess) AS x FROM compact_replies"                        \
	" WHERE session_id = " #sid " ORDER BY id)"

/*
 * Version 16 -> 17 replaces the view compact_replies with schema.sql's
 * (packed heads); a record written before 17 reads back as it did, and one
 * written since reads back beside it.
 */
Test(store, version_16_records_read_back_after_17)
{
	struct store *s = open_store();
	static char fresh[SCHEMA_TEXT_MAX];
	snprintf(fresh, sizeof(fresh), "%s", schema_sql(store_db(s), "compact_replies"));
	store_close(s);
	/* the layout of version 16 and a record of its writer (every form of
	   element: helo, none, MAIL's local part, text, codes left out, 0, a
	   size, a guess and a text, a word outside the list) */
	char old[16384];
	snprintf(old, sizeof(old),
	         "%s INSERT INTO sessions (id, run_id, protocol, syn, start, helo, sender_domain,"
	         " rcpt_domains, replies) VALUES (7, 1, 'smtp', 1767225600.005, 1767225600.006,"
	         " 'mx.example', 'sender.example', 'rcpt.example',"
	         " '[[103,0,0,0,2500],[1,2,1,4001,300],[2,3,[\"u\"],5000,200],[3,4,\"TO:<a@b>\",6000,"
	         "100,252],[5,6,0,25000,2000,0,1234],[6,29,0,35000,1000,null,null,4,\"1 record\"],"
	         "[8,\"XCLIENT\",\"x\",56000,1000,\"099\"],[-1,12,0,58000,1000]]');"
	         UNDO_18 " PRAGMA user_version = 16",
	         store_sql_file("migrate_16.sql"));
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, old, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	char before[2048];
	snprintf(before, sizeof(before), "%s", q_text(db, REPLIES_OF(7)));
	cr_expect_neq(strstr(before, "103,1,7,'GREETING',NULL,1767225600.005,"), NULL, "%s", before);
	cr_expect_neq(strstr(before, "'EHLO','mx.example'"), NULL, "%s", before);
	cr_expect_neq(strstr(before, "'MAIL','FROM:<u@sender.example>'"), NULL, "%s", before);
	sqlite3_close(db);
	s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_str_eq(schema_sql(db, "compact_replies"), fresh);
	cr_expect_str_eq(q_text(db, REPLIES_OF(7)), before);
	/* the same replies written by this version's writer read back the same */
	struct compact *c = compact_new();
	struct mx_session x;
	memset(&x, 0, sizeof(x));
	x.id = 8;
	x.proto = MXP_SMTP;
	x.syn_ns = 1767225600005000000ULL;
	static const struct {
		uint64_t id;
		const char *cmd, *arg, *code, *guess, *text;
		uint64_t req_us, lat_us, size;
	} r[] = {
	    {103, "GREETING", NULL, "220", "", NULL, 0, 2500, 0},
	    {104, "EHLO", "mx.example", "250", "", NULL, 4001, 300, 0},
	    {105, "MAIL", "FROM:<u@sender.example>", "250", "", NULL, 5000, 200, 0},
	    {106, "RCPT", "TO:<a@b>", "252", "", NULL, 6000, 100, 0},
	    {108, "DATA-END", NULL, "250", "", NULL, 25000, 2000, 1234},
	    {109, "TLS", NULL, "", "RCPT", "1 record", 35000, 1000, 0},
	    {111, "XCLIENT", "x", "099", "", NULL, 56000, 1000, 0},
	    {102, "QUIT", NULL, "221", "", NULL, 58000, 1000, 0},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct mx_txn t;
		memset(&t, 0, sizeof(t));
		t.id = r[i].id;
		t.session_id = 8;
		mx_strlcpy(t.command, r[i].cmd, sizeof(t.command));
		t.request_ns = x.syn_ns + r[i].req_us * 1000;
		t.reply_ns = t.request_ns + r[i].lat_us * 1000;
		mx_strlcpy(t.reply_code, r[i].code, sizeof(t.reply_code));
		mx_strlcpy(t.guess, r[i].guess, sizeof(t.guess));
		if (r[i].text)
			mx_strlcpy(t.reply_text, r[i].text, sizeof(t.reply_text));
		t.size = r[i].size;
		t.outcome = MXO_OK;
		cr_assert_eq(compact_reply(c, &x, &t, r[i].arg, false), COMPACT_KEPT);
	}
	bool nomem = false;
	const char *rec = compact_session_json(c, 8, 0, x.syn_ns, MXP_SMTP, "mx.example",
	                                       "sender.example", "rcpt.example", &nomem);
	cr_assert_not_null(rec);
	cr_expect_eq(rec[0], '[');
	cr_expect(rec[1] >= '0' && rec[1] <= '9', "begins with the id base: %s", rec);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "INSERT INTO sessions (id, run_id, protocol, syn, start,"
	                                " helo, sender_domain, rcpt_domains, replies) VALUES (8, 1,"
	                                " 'smtp', 1767225600.005, 1767225600.006, 'mx.example',"
	                                " 'sender.example', 'rcpt.example', ?1)",
	                                -1, &st, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, rec, -1, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	char want[2048];
	snprintf(want, sizeof(want), "%s", before);
	/* session 7's rows with 8 as their session */
	for (char *p = want; (p = strstr(p, ",1,7,")) != NULL; p += 5)
		p[3] = '8';
	cr_expect_str_eq(q_text(db, REPLIES_OF(8)), want, "%s", rec);
	compact_free(c);
	store_close(s);
}

/* A DNS query's answer list is stored once in names (version 14); the
 * view dns_queries gives the text back, also for a row inserted, updated
 * through it by hand. */
static void
put_dns_type(struct store *s, uint64_t id, uint16_t qtype, const char *answers)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = id;
	ev.u.dns.ts_ns = 1767225601000000000ULL + id * 1000000;
	ev.u.dns.response_ns = ev.u.dns.ts_ns + 2000000;
	ev.u.dns.qtype = qtype;
	ev.u.dns.rcode = 0;
	ev.u.dns.outcome = MXD_ANSWERED;
	snprintf(ev.u.dns.qname, sizeof(ev.u.dns.qname), "%llu.113.0.203.in-addr.arpa",
	         (unsigned long long)id);
	snprintf(ev.u.dns.answers, sizeof(ev.u.dns.answers), "%s", answers);
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
}

static void
put_dns(struct store *s, uint64_t id, const char *answers)
{
	put_dns_type(s, id, 12, answers);
}

Test(store, dns_answers_are_stored_once_in_names)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "test", NULL, NULL), STORE_OK);
	static const char *const answers[] = {"host.example.org", "web.example.net,192.0.2.1",
	                                      "host.example.org", "", "10 mx.example.com"};
	for (size_t i = 0; i < 5; i++)
		put_dns(s, i + 1, answers[i]);
	/* a TXT list stays in the row (mostly one of a kind) */
	put_dns_type(s, 6, 16, "\"Listed, see https://dnsbl.example/q/203.0.113.6\"");
	put_dns(s, 7, "host.example.org");
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = store_db(s);
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 6"),
	                 "\"Listed, see https://dnsbl.example/q/203.0.113.6\"");
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_rows WHERE id = 6"),
	                 "\"Listed, see https://dnsbl.example/q/203.0.113.6\"");
	cr_expect_eq(q_int(db, "SELECT answer IS NULL FROM dns_rows WHERE id = 6"), 1);
	/* the statement's next row does not keep the TXT row's text */
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 7"),
	                 "host.example.org");
	cr_expect_eq(q_int(db, "SELECT answers IS NULL FROM dns_rows WHERE id = 7"), 1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM names WHERE name LIKE '%Listed%'"), 0);
	for (size_t i = 0; i < 5; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT answers FROM dns_queries WHERE id = %zu", i + 1);
		cr_expect_str_eq(q_text(db, sql), answers[i][0] ? answers[i] : "(null)");
	}
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows WHERE answers IS NOT NULL"), 1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows WHERE answer IS NOT NULL"), 5);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM names WHERE name = 'host.example.org'"), 1);
	cr_expect_eq(q_int(db, "SELECT count(DISTINCT answer) FROM dns_rows"), 3);
	/* by hand through the view: the list goes to names as the writer's does */
	cr_assert_eq(sqlite3_exec(db,
	                          "INSERT INTO dns_queries (id, ts, qname, qtype, outcome, answers)"
	                          " VALUES (9, 1767225700.5, 'example.org', 'MX', 'answered',"
	                          " '10 mx.example.com');"
	                          "INSERT INTO dns_queries (id, ts, qname, qtype, outcome, answers)"
	                          " VALUES (10, 1767225700.5, 'example.net', 'A', 'answered',"
	                          " '198.51.100.7');"
	                          "INSERT INTO dns_queries (id, ts, qname, qtype, outcome, answers)"
	                          " VALUES (11, 1767225700.5, 'x.dnsbl.example', 'TXT', 'answered',"
	                          " '\"listed\"');"
	                          "UPDATE dns_queries SET answers = 'new.example.org' WHERE id = 2;",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 9"),
	                 "10 mx.example.com");
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 10"),
	                 "198.51.100.7");
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 2"),
	                 "new.example.org");
	cr_expect_str_eq(q_text(db, "SELECT qname FROM dns_queries WHERE id = 2"),
	                 "2.113.0.203.in-addr.arpa");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM names WHERE name = '10 mx.example.com'"), 1);
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_rows WHERE id = 11"), "\"listed\"");
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 11"), "\"listed\"");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows WHERE answers IS NOT NULL"), 2);
	cr_expect_eq(q_int(db, "SELECT (SELECT answer FROM dns_rows WHERE id = 9)"
	                       " = (SELECT answer FROM dns_rows WHERE id = 5)"),
	             1);
	store_close(s);
}

/* Version 13 -> 14: a row written before keeps its answers as text and
 * reads back the same; rows written after go through names.  The view and
 * its triggers are schema.sql's. */
Test(store, version_13_answers_read_back_after_migration)
{
	struct store *s = open_store();
	static char fresh[4][SCHEMA_TEXT_MAX];
	static const char *const objs[] = {"dns_queries", "dns_queries_insert",
	                                   "dns_queries_update", "dns_queries_delete"};
	for (size_t i = 0; i < 4; i++)
		snprintf(fresh[i], sizeof(fresh[i]), "%s", schema_sql(store_db(s), objs[i]));
	store_close(s);
	/* schema 13's table, no answer column, and a row with its text */
	s = migrated_from(DNS_ROWS_V13
	                  " INSERT INTO dns_rows (id, ts_ns, qtype, outcome, rcode, answers,"
	                  " response_ns, resend_ns, retransmits) VALUES (7, 1767225601000000000,"
	                  " 'PTR', 0, 0, 'old.example.org', 1500000, 0, 0);"
	                  " PRAGMA user_version = 13");
	sqlite3 *db = store_db(s);
	for (size_t i = 0; i < 4; i++)
		cr_expect_str_eq(schema_sql(db, objs[i]), fresh[i], "%s", objs[i]);
	cr_expect_str_eq(q_text(db, "SELECT answers FROM dns_queries WHERE id = 7"),
	                 "old.example.org");
	cr_expect_eq(q_double(db, "SELECT latency_ms FROM dns_queries WHERE id = 7"), 1.5);
	cr_assert_eq(store_begin_run(s, "test", NULL, NULL), STORE_OK);
	put_dns(s, 1, "old.example.org");
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE answers = 'old.example.org'"),
	             2);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows WHERE answer IS NOT NULL"), 1);
	/* the type: the old row's word, the new row's number, which the TEXT
	   column of the table made before 18 keeps as its digits: both PTR */
	cr_expect_str_eq(q_text(db, "SELECT group_concat(qtype || ':' || typeof(qtype), ' ')"
	                            " FROM (SELECT qtype FROM dns_rows ORDER BY id)"),
	                 "PTR:text 12:text");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE qtype = 'PTR'"), 2);
	store_close(s);
}

/* The query types' numbers (schema 18): the table qtype_words the view
 * dns_queries reads them with has mx_qtype_str()'s words, and a number not
 * in it reads as TYPEnnn; a row stores the number, one written by hand
 * through the view too, and the view gives the word back. */
Test(store, qtype_words_match_the_writer)
{
	struct store *s = open_store();
	sqlite3 *db = store_db(s);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT coalesce((SELECT word FROM qtype_words"
	                                " WHERE code = ?1), 'TYPE' || ?1)",
	                                -1, &st, NULL),
	             SQLITE_OK);
	int named = 0;
	for (int code = 0; code <= 65535; code++) {
		char buf[16];
		const char *w = mx_qtype_str((uint16_t)code, buf, sizeof(buf));
		named += w != buf;
		sqlite3_bind_int(st, 1, code);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), w, "type %d", code);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM qtype_words"), named);
	cr_assert_eq(store_begin_run(s, "test", NULL, NULL), STORE_OK);
	put_dns_type(s, 1, 12, "a.example");
	put_dns_type(s, 2, 28, "");
	put_dns_type(s, 3, 4242, "");
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(sqlite3_exec(db,
	                          "INSERT INTO dns_queries (id, ts, qname, qtype, outcome)"
	                          " VALUES (9, 1767225700, 'x.example', 'MX', 'answered'),"
	                          " (10, 1767225700, 'y.example', 'TYPE77', 'answered');",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_str_eq(q_text(db, "SELECT group_concat(qtype || ':' || typeof(qtype), ' ')"
	                            " FROM (SELECT qtype FROM dns_rows ORDER BY id)"),
	                 "12:integer 28:integer 4242:integer 15:integer TYPE77:text");
	cr_expect_str_eq(q_text(db, "SELECT group_concat(qtype, ' ') FROM"
	                            " (SELECT qtype FROM dns_queries ORDER BY id)"),
	                 "PTR AAAA TYPE4242 MX TYPE77");
	store_close(s);
}

/* rows of dns_rows with a time that their block (schema 15) does not span */
#define BLOCKS_MISSED                                                                              \
	"SELECT count(*) FROM dns_rows AS d WHERE ts_ns IS NOT NULL AND NOT EXISTS (SELECT 1 FROM" \
	" dns_blocks WHERE blk = d.id >> 10 AND d.ts_ns BETWEEN ts_min_ns AND ts_max_ns)"
/* blocks whose span is not exactly that of their rows */
#define BLOCKS_LOOSE                                                                               \
	"SELECT count(*) FROM dns_blocks AS b WHERE ts_min_ns IS NOT (SELECT min(ts_ns) FROM"      \
	" dns_rows WHERE id >> 10 = b.blk) OR ts_max_ns IS NOT (SELECT max(ts_ns) FROM dns_rows"   \
	" WHERE id >> 10 = b.blk)"

/* "count:sum of ids" of sql's rows, with ?1 = a and ?2 = b */
static char *
ids_in(sqlite3 *db, const char *sql, double a, double b)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	sqlite3_bind_double(st, 1, a);
	sqlite3_bind_double(st, 2, b);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	char *v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* the same rows in [a, b) by both queries (read through the blocks, and by
 * their time alone) */
static void
expect_same_window(sqlite3 *db, const char *blocks_sql, const char *plain_sql, double a,
                   double b)
{
	char *got = ids_in(db, blocks_sql, a, b);
	char *want = ids_in(db, plain_sql, a, b);
	cr_expect_str_eq(got, want, "window [%.6f, %.6f)", a, b);
	free(got);
	free(want);
}

/* the DNS rows in [a, b) read through the blocks, and read by their time alone */
static void
expect_dns_window(sqlite3 *db, double a, double b)
{
	expect_same_window(db,
	                   "SELECT count(*) || ':' || coalesce(sum(d.id), 0) FROM "
	                   STORE_DNS_WINDOW_SQL("", "?1", "?2") " WHERE " STORE_DNS_TS_SQL
	                   " >= ?1 AND " STORE_DNS_TS_SQL " < ?2",
	                   "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM dns_queries"
	                   " WHERE ts >= ?1 AND ts < ?2",
	                   a, b);
}

/* a DNS query at a time of its own */
static void
put_dns_at(struct store *s, uint64_t id, uint64_t ts_ns)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = id;
	ev.u.dns.ts_ns = ts_ns;
	ev.u.dns.qtype = 12;
	ev.u.dns.outcome = MXD_UNANSWERED;
	snprintf(ev.u.dns.qname, sizeof(ev.u.dns.qname), "%llu.113.0.203.in-addr.arpa",
	         (unsigned long long)id % 200);
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
}

/*
 * Schema 15: the writer keeps every block's span exactly that of its rows,
 * over batches and runs, with rows out of time order (an unanswered query's
 * id is given 30 s after its time); a window read through the blocks gives
 * exactly the rows of that window; rows added and moved by hand through
 * the view stay inside their block's span.
 */
Test(store, dns_blocks_span_every_row)
{
	const uint64_t t0 = 1767225600000000000ULL; /* 2026-01-01 */
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "one", NULL, NULL), STORE_OK);
	for (uint64_t id = 1; id <= 3000; id++) {
		/* 10 ms apart; every 97th began 30 s before it ended */
		uint64_t ts = t0 + 40000000000ULL + id * 10000000ULL;
		put_dns_at(s, id, id % 97 ? ts : ts - 30000000000ULL);
		if (id == 1500)
			cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	}
	put_dns_at(s, 3001, 0); /* time unknown: in no window, no block */
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	/* a second run's ids follow the first's */
	cr_assert_eq(store_begin_run(s, "two", NULL, NULL), STORE_OK);
	for (uint64_t id = 1; id <= 100; id++)
		put_dns_at(s, id, t0 + 100000000000ULL + id * 1000000ULL);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = store_db(s);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows"), 3101);
	cr_expect_eq(q_int(db, BLOCKS_MISSED), 0);
	cr_expect_eq(q_int(db, BLOCKS_LOOSE), 0);
	cr_expect_str_eq(q_text(db, "SELECT group_concat(blk) FROM dns_blocks"), "0,1,2,3");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows WHERE ts_ns IS NULL"), 1);
	double base = (double)(t0 / 1000000000ULL);
	static const double w[][2] = {{0, 1e10}, {40, 41}, {10, 25}, {50, 52.5}, {60, 70.005},
	                              {70, 71}, {99, 100.05}, {100.0005, 100.0105}, {200, 300}};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		expect_dns_window(db, base + w[i][0], base + w[i][1]);
	cr_expect_neq(q_int(db, "SELECT count(*) FROM dns_queries WHERE ts >= 1767225650"
	                        " AND ts < 1767225652.5"),
	              0);
	/* by hand through the view: a new id, an id in a block of its own, a
	   row moved an hour back */
	cr_assert_eq(sqlite3_exec(db,
	                          "INSERT INTO dns_queries (ts, qname, qtype, outcome)"
	                          " VALUES (1767229200.25, 'x.example', 'A', 'answered');"
	                          "INSERT INTO dns_queries (id, ts, qname, qtype, outcome)"
	                          " VALUES (9000, 1767225000.5, 'y.example', 'A', 'nxdomain');"
	                          "UPDATE dns_queries SET ts = ts - 3600 WHERE id = 10;",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows"), 3103);
	cr_expect_eq(q_int(db, BLOCKS_MISSED), 0);
	cr_expect_eq(q_int(db, BLOCKS_LOOSE), 0);
	expect_dns_window(db, base - 3600, base - 3590);
	expect_dns_window(db, 1767229200, 1767229201);
	expect_dns_window(db, 1767225000, 1767225001);
	store_close(s);
}

/* Version 14 -> 15: the index on the time goes, the blocks of the rows there are made. */
Test(store, version_14_gets_dns_blocks)
{
	const uint64_t t0 = 1767225600000000000ULL;
	struct store *s = open_store();
	static char fresh[SCHEMA_TEXT_MAX];
	snprintf(fresh, sizeof(fresh), "%s", schema_sql(store_db(s), "dns_queries_insert"));
	cr_assert_eq(store_begin_run(s, "one", NULL, NULL), STORE_OK);
	for (uint64_t id = 1; id <= 2100; id++)
		put_dns_at(s, id, t0 + id * 5000000ULL - (id % 50 ? 0 : 30000000000ULL));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	s = migrated_from("DROP TABLE dns_blocks;"
	                  " CREATE INDEX dns_rows_ts ON dns_rows (ts_ns / 1000000000"
	                  " + (ts_ns % 1000000000) / 1e9, outcome, qtype);"
	                  " PRAGMA user_version = 14");
	sqlite3 *db = store_db(s);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'dns_rows_ts'"), 0);
	cr_expect_str_eq(schema_sql(db, "dns_queries_insert"), fresh);
	cr_expect_str_eq(q_text(db, "SELECT group_concat(blk) FROM dns_blocks"), "0,1,2");
	cr_expect_eq(q_int(db, BLOCKS_MISSED), 0);
	cr_expect_eq(q_int(db, BLOCKS_LOOSE), 0);
	double base = (double)(t0 / 1000000000ULL);
	expect_dns_window(db, base - 30, base + 3);
	expect_dns_window(db, base + 5, base + 6.5);
	store_close(s);
}

/* session rows whose time lies outside their block (schema 18) */
#define SBLOCKS_MISSED                                                                             \
	"SELECT count(*) FROM session_rows AS r WHERE coalesce(start, syn) IS NOT NULL AND NOT"     \
	" EXISTS (SELECT 1 FROM session_blocks WHERE blk = r.id >> 10"                            \
	" AND coalesce(r.start, r.syn) BETWEEN t_min AND t_max)"
/* blocks whose span is not exactly that of their rows */
#define SBLOCKS_LOOSE                                                                              \
	"SELECT count(*) FROM session_blocks AS b WHERE t_min IS NOT (SELECT"                     \
	" min(coalesce(start, syn)) FROM session_rows WHERE id >> 10 = b.blk) OR t_max IS NOT"     \
	" (SELECT max(coalesce(start, syn)) FROM session_rows WHERE id >> 10 = b.blk)"

/* the sessions in [a, b) read through the blocks, and read by their time alone */
static void
expect_session_window(sqlite3 *db, double a, double b)
{
	expect_same_window(db,
	                   "SELECT count(*) || ':' || coalesce(sum(r.id), 0) FROM "
	                   STORE_SESSION_WINDOW_SQL("", "?1", "?2") " WHERE " STORE_SESSION_T0_SQL
	                   " >= ?1 AND " STORE_SESSION_T0_SQL " < ?2",
	                   "SELECT count(*) || ':' || coalesce(sum(id), 0) FROM sessions"
	                   " WHERE coalesce(start, syn) >= ?1 AND coalesce(start, syn) < ?2",
	                   a, b);
}

/*
 * An ended session with its SYN and handshake end at their times (0: none);
 * every 7th with a transaction row first (a greeting 2 s slow), which makes
 * the writer store its row ahead of the rows it holds for id order.
 */
static void
put_session_at(struct store *s, uint64_t id, uint64_t syn_ns, uint64_t start_ns)
{
	static struct mx_session x;
	memset(&x, 0, sizeof(x));
	x.id = id;
	x.proto = MXP_SMTP;
	mx_addr_parse("192.0.2.1", &x.client.addr);
	mx_addr_parse("192.0.2.10", &x.server.addr);
	x.server.port = 25;
	x.syn_ns = syn_ns;
	x.start_ns = start_ns;
	uint64_t t = start_ns ? start_ns : syn_ns;
	struct mx_event ev;
	if (id % 7 == 0) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_TXN;
		ev.session = &x;
		ev.u.txn.id = id;
		ev.u.txn.session_id = id;
		mx_strlcpy(ev.u.txn.command, "GREETING", sizeof(ev.u.txn.command));
		ev.u.txn.request_ns = t;
		ev.u.txn.reply_ns = t + 2000000000ULL;
		mx_strlcpy(ev.u.txn.reply_code, "220", sizeof(ev.u.txn.reply_code));
		ev.u.txn.outcome = MXO_OK;
		cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session = x;
	ev.u.session.end_ns = t ? t + 10000000ULL : 0;
	ev.u.session.outcome = MXO_OK;
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
}

/* sessions 1..n 10 ms apart from t0 + 40 s (every 13th without a handshake
 * end), every 50th ending 200 sessions late */
static void
put_sessions(struct store *s, uint64_t t0, uint64_t n)
{
	for (uint64_t i = 1; i <= n + 200; i++) {
		uint64_t ids[2] = {i, i - 200}, k;
		for (k = 0; k < 2; k++) {
			uint64_t id = ids[k];
			if (id < 1 || id > n || i > n + 200 || (id % 50 == 0) != (k == 1))
				continue;
			uint64_t syn = t0 + 40000000000ULL + id * 10000000ULL;
			put_session_at(s, id, syn, id % 13 ? syn + 1000000ULL : 0);
		}
		if (i == n / 2)
			cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	}
}

/*
 * Schema 18: the writer keeps every session block's span exactly that of
 * its rows, over batches and runs, with rows written out of id order (held
 * for order, ahead for a transaction row, late ones); a window read
 * through the blocks gives exactly the sessions of that window; sessions
 * added and moved by hand through the view stay inside their block's span.
 */
Test(store, session_blocks_span_every_row)
{
	const uint64_t t0 = 1767225600000000000ULL; /* 2026-01-01 */
	struct store *s = open_store();
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "one", NULL, NULL), STORE_OK);
	put_sessions(s, t0, 3000);
	put_session_at(s, 3001, 0, 0); /* time unknown: in no window, no block */
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	/* a second run's ids follow the first's, its times are earlier */
	cr_assert_eq(store_begin_run(s, "two", NULL, NULL), STORE_OK);
	for (uint64_t id = 1; id <= 100; id++)
		put_session_at(s, id, t0 + id * 1000000ULL, t0 + id * 1000000ULL + 500000ULL);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = store_db(s);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM session_rows"), 3101);
	cr_expect_gt(q_int(db, "SELECT count(*) FROM transactions"), 400);
	cr_expect_eq(q_int(db, SBLOCKS_MISSED), 0);
	cr_expect_eq(q_int(db, SBLOCKS_LOOSE), 0);
	cr_expect_str_eq(q_text(db, "SELECT group_concat(blk) FROM session_blocks"), "0,1,2,3");
	double base = (double)(t0 / 1000000000ULL);
	static const double w[][2] = {{0, 1e10},  {40, 41}, {0, 0.05},     {50, 52.5},
	                              {60, 70.005}, {70, 71}, {0.0505, 0.0605}, {200, 300}};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		expect_session_window(db, base + w[i][0], base + w[i][1]);
	cr_expect_neq(q_int(db, "SELECT count(*) FROM sessions WHERE coalesce(start, syn)"
	                        " BETWEEN 1767225650 AND 1767225652.5"),
	              0);
	/* by hand through the view: a new id, an id in a block of its own, a
	   session moved an hour back */
	cr_assert_eq(sqlite3_exec(db,
	                          "INSERT INTO sessions (protocol, syn, start)"
	                          " VALUES ('smtp', 1767229200.25, 1767229200.5);"
	                          "INSERT INTO sessions (id, protocol, syn)"
	                          " VALUES (9000, 'smtp', 1767225000.5);"
	                          "UPDATE sessions SET start = start - 3600 WHERE id = 10;",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM session_rows"), 3103);
	cr_expect_eq(q_int(db, SBLOCKS_MISSED), 0);
	expect_session_window(db, base - 3600, base - 3590);
	expect_session_window(db, 1767229200, 1767229201);
	expect_session_window(db, 1767225000, 1767225001);
	store_close(s);
}

/* Version 17 -> 18: the time index goes, the blocks of the sessions there are made. */
Test(store, version_17_gets_session_blocks)
{
	const uint64_t t0 = 1767225600000000000ULL;
	struct store *s = open_store();
	static char fresh[SCHEMA_TEXT_MAX];
	snprintf(fresh, sizeof(fresh), "%s", schema_sql(store_db(s), "sessions_insert"));
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "one", NULL, NULL), STORE_OK);
	put_sessions(s, t0, 2100);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	s = migrated_from("DROP TRIGGER sessions_insert;"
	                  " CREATE TRIGGER sessions_insert INSTEAD OF INSERT ON sessions"
	                  " BEGIN SELECT 1; END;"
	                  " PRAGMA user_version = 17");
	sqlite3 *db = store_db(s);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sqlite_schema"
	                       " WHERE name IN ('sessions_t0', 'names_last')"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'sessions_out'"), 1);
	cr_expect_str_eq(schema_sql(db, "sessions_insert"), fresh);
	cr_expect_str_eq(q_text(db, "SELECT group_concat(blk) FROM session_blocks"), "0,1,2");
	cr_expect_eq(q_int(db, SBLOCKS_MISSED), 0);
	cr_expect_eq(q_int(db, SBLOCKS_LOOSE), 0);
	double base = (double)(t0 / 1000000000ULL);
	expect_session_window(db, base + 30, base + 43);
	expect_session_window(db, base + 45, base + 46.5);
	store_close(s);
}

Test(store, schema_text_is_exposed)
{
	const char *sql = store_schema_sql();
	cr_assert(strstr(sql, "CREATE VIEW sessions") != NULL);
	cr_assert(strstr(sql, "PRAGMA user_version = 8") != NULL);
	cr_assert_not_null(store_sql_file("reports/slow.sql"));
	cr_assert_null(store_sql_file("nope.sql"));
}

Test(store, refuses_newer_database)
{
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	char err[256] = "";
	struct store *s = (struct store *)1;
	cr_assert_eq(store_open(&s, dbpath, err, sizeof(err)), STORE_NEWER);
	cr_assert_null(s);
	cr_assert(strstr(err, "newer") != NULL, "%s", err);
	cr_assert(strstr(err, "99") != NULL, "%s", err);
}

Test(store, refuses_foreign_database)
{
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(sqlite3_exec(db, "CREATE TABLE cats (name TEXT)", NULL, NULL, NULL),
	             SQLITE_OK);
	sqlite3_close(db);

	char err[256] = "";
	struct store *s;
	cr_assert_eq(store_open(&s, dbpath, err, sizeof(err)), STORE_NOTOURS);
	cr_assert(strstr(err, "not an mxlag database") != NULL, "%s", err);
}

Test(store, migration_steps_apply_in_order)
{
	static const char base_v1[] = "CREATE TABLE a (x);";
	static const char base_v3[] = "CREATE TABLE a (x, y); CREATE TABLE b (z);";
	static const char *const steps[] = {
	    "ALTER TABLE a ADD COLUMN y;",                   /* 1 -> 2 */
	    "CREATE TABLE b (z); INSERT INTO b VALUES (2);", /* 2 -> 3 */
	};
	char err[256];
	sqlite3 *db = open_ro(dbpath);

	/* an empty database gets the latest schema directly */
	cr_assert_eq(store_migrate(db, base_v1, NULL, 0, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(q_int(db, "PRAGMA user_version"), 1);
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO a VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
	/* version 1 -> 3 through both steps, data kept */
	cr_assert_eq(store_migrate(db, base_v3, steps, 2, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(q_int(db, "PRAGMA user_version"), 3);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM a WHERE x = 1 AND y IS NULL"), 1);
	cr_assert_eq(q_int(db, "SELECT z FROM b"), 2);
	/* and it refuses to go back */
	cr_assert_eq(store_migrate(db, base_v1, NULL, 0, err, sizeof(err)), STORE_NEWER);
	sqlite3_close(db);
}

/* The sessions table of versions 1 to 11 in place of version 12's view, and
 * its indexes (tests that build an older database from the current one). */
#define SESSIONS_TABLE_V11                                                                         \
	"DROP VIEW sessions;"                                                                      \
	"DROP TABLE session_rows;"                                                                 \
	"CREATE TABLE sessions (id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs (id),"      \
	" protocol TEXT, client TEXT, client_port INTEGER, server TEXT, server_port INTEGER,"      \
	" syn REAL, start REAL, \"end\" REAL, outcome TEXT, tls INTEGER NOT NULL DEFAULT 0,"       \
	" outbound INTEGER NOT NULL DEFAULT 0, app TEXT, banner_host TEXT, helo TEXT,"             \
	" sender_domain TEXT, rcpt_domains TEXT, bytes INTEGER, messages INTEGER,"                 \
	" complete INTEGER NOT NULL DEFAULT 0, host TEXT,"                                         \
	" client_is_host INTEGER NOT NULL DEFAULT 0, replies TEXT, software TEXT,"                 \
	" max_message INTEGER, null_sender INTEGER NOT NULL DEFAULT 0, bounce_domain TEXT,"        \
	" bounce_origin TEXT, bounce_session_id INTEGER);"                                         \
	"CREATE INDEX sessions_t0 ON sessions (coalesce(start, syn), host, protocol, outbound,"     \
	" client_is_host, outcome);"                                                               \
	"CREATE INDEX sessions_open ON sessions (coalesce(start, syn)) WHERE complete = 0;"        \
	"CREATE INDEX sessions_big ON sessions (coalesce(start, syn))"                             \
	" WHERE max_message >= 1000000;"                                                           \
	"CREATE INDEX sessions_bounce ON sessions (coalesce(start, syn))"                          \
	" WHERE null_sender = 1 OR bounce_domain IS NOT NULL;"

/* The replies view of versions 5 to 10, and no command words (and the
 * sessions table of versions before 12). */
#define REPLIES_V10                                                                                \
	SESSIONS_TABLE_V11                                                                         \
	"DROP VIEW compact_replies;"                                                               \
	"CREATE VIEW compact_replies AS"                                                           \
	" SELECT id, run_id, session_id, command, argument,"                                       \
	" req_us / 1000000 + (req_us % 1000000) / 1e6 AS request_ts,"                              \
	" (req_us + lat_us) / 1000000 + ((req_us + lat_us) % 1000000) / 1e6 AS reply_ts,"          \
	" NULL AS end_ts, lat_us / 1000.0 AS latency_ms,"                                          \
	" reply_code, reply_text, 'ok' AS outcome, size, NULL AS diagnosis, NULL AS remedy,"       \
	" guess FROM (SELECT json_extract(r.value, '$[0]') AS id, s.run_id,"                       \
	" s.id AS session_id, json_extract(r.value, '$[1]') AS command,"                           \
	" json_extract(r.value, '$[2]') AS argument,"                                              \
	" CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER)"                                  \
	" + json_extract(r.value, '$[3]') AS req_us,"                                              \
	" json_extract(r.value, '$[4]') AS lat_us,"                                                \
	" json_extract(r.value, '$[5]') AS reply_code,"                                            \
	" json_extract(r.value, '$[8]') AS reply_text,"                                            \
	" json_extract(r.value, '$[6]') AS size, json_extract(r.value, '$[7]') AS guess"           \
	" FROM sessions AS s, json_each(s.replies) AS r WHERE s.replies IS NOT NULL);"             \
	"DROP TABLE command_words;"

/* The DNS table of versions 1 to 9 in place of version 10's view, its rows
 * and dictionaries, and no command words (version 11) (tests that build an
 * older database from the current one). */
#define DNS_TABLE_V9                                                                               \
	REPLIES_V10                                                                                \
	"DROP VIEW dns_queries;"                                                                   \
	"DROP TABLE dns_rows;"                                                                     \
	"DROP TABLE dns_blocks;"                                                                   \
	"DROP TABLE addrs;"                                                                        \
	"DROP TABLE names;"                                                                        \
	"CREATE TABLE dns_queries (id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs (id),"   \
	" ts REAL, client TEXT, client_port INTEGER, server TEXT, server_port INTEGER,"            \
	" transport TEXT, txid INTEGER, qname TEXT, qtype TEXT, outcome TEXT, rcode INTEGER,"      \
	" answers TEXT, response_ts REAL, last_send_ts REAL, latency_ms REAL,"                     \
	" retransmits INTEGER);"                                                                   \
	"CREATE INDEX dns_queries_ts ON dns_queries (ts, outcome, qtype);"

/* A version-1 database (four more indexes, no host columns) is brought to the current version on open. */
Test(store, version_1_database_is_migrated)
{
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate_db(db, err, sizeof(err)), STORE_OK, "%s", err);
	/* what version 1 had instead of versions 2 to 5 */
	cr_assert_eq(
	    sqlite3_exec(db,
	                 UNDO_18 DNS_TABLE_V9
	                 "DROP VIEW slow_replies;"
	                 "DROP VIEW replies;"
	                 "DROP VIEW compact_replies;"
	                 "DROP TABLE latency_hist;"
	                 "DROP TABLE session_counts;"
	                 "DROP TABLE dns_counts;"
	                 "DROP TABLE anchors;"
	                 "DROP INDEX sessions_open;"
	                 "DROP INDEX sessions_t0;"
	                 "DROP INDEX transactions_ts;"
	                 /* SQLite's DROP COLUMN trips over the comment of the
	                    column before a last one: the version 1 tables anew */
	                 "DROP TABLE runs;"
	                 "CREATE TABLE runs (id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
	                 " fingerprint TEXT, started REAL NOT NULL, finished REAL,"
	                 " first_ts REAL, last_ts REAL, packets INTEGER, bytes INTEGER,"
	                 " kernel_drops INTEGER, counters TEXT);"
	                 "CREATE UNIQUE INDEX runs_fingerprint ON runs (fingerprint)"
	                 " WHERE fingerprint IS NOT NULL;"
	                 "DROP TABLE sessions;"
	                 "CREATE TABLE sessions (id INTEGER PRIMARY KEY,"
	                 " run_id INTEGER REFERENCES runs (id), protocol TEXT, client TEXT,"
	                 " client_port INTEGER, server TEXT, server_port INTEGER, syn REAL,"
	                 " start REAL, \"end\" REAL, outcome TEXT,"
	                 " tls INTEGER NOT NULL DEFAULT 0,"
	                 " outbound INTEGER NOT NULL DEFAULT 0, app TEXT, banner_host TEXT,"
	                 " helo TEXT, sender_domain TEXT, rcpt_domains TEXT, bytes INTEGER,"
	                 " messages INTEGER, complete INTEGER NOT NULL DEFAULT 0);"
	                 "CREATE INDEX sessions_start ON sessions (start);"
	                 "CREATE INDEX transactions_request ON transactions (request_ts);"
	                 "CREATE INDEX dns_queries_qname ON dns_queries (qname);"
	                 "CREATE INDEX dns_queries_server ON dns_queries (server);"
	                 "DROP VIEW ptr_delays;"
	                 "DROP TABLE causes;"
	                 "CREATE TABLE causes (id INTEGER PRIMARY KEY,"
	                 " run_id INTEGER REFERENCES runs (id),"
	                 " transaction_id INTEGER REFERENCES transactions (id),"
	                 " kind TEXT NOT NULL, relation TEXT,"
	                 " dns_query_id INTEGER REFERENCES dns_queries (id),"
	                 " ident_probe_id INTEGER REFERENCES ident_probes (id),"
	                 " parent_id INTEGER REFERENCES causes (id), overlap_ms REAL,"
	                 " share REAL, query_ms REAL);"
	                 "CREATE INDEX causes_transaction ON causes (transaction_id);"
	                 "CREATE INDEX causes_parent ON causes (parent_id);"
	                 "CREATE INDEX causes_dns ON causes (dns_query_id);"
	                 "ALTER TABLE transactions DROP COLUMN guess;"
	                 "CREATE VIEW slow_replies AS SELECT t.id AS transaction_id"
	                 " FROM transactions AS t;"
	                 "INSERT INTO sessions (id, protocol, client, server, outbound)"
	                 " VALUES (7, 'smtp', '192.0.2.200', '192.0.2.10', 0),"
	                 " (8, 'smtp', '192.0.2.10', '203.0.113.25', 1);"
	                 "PRAGMA user_version = 1;",
	                 NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('sessions_start',"
	                       " 'transactions_request', 'dns_queries_qname', 'dns_queries_server')"),
	             0);
	cr_expect_gt(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	                       "'transactions_latency'"),
	             0, "the indexes the reports use stay");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 7 AND host = '192.0.2.10'"),
	             1, "data kept, the host filled in");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 8 AND host = '192.0.2.10'"
	                       " AND client_is_host = 1"),
	             1, "an outbound delivery belongs to its client, a host");
	store_close(s);
}

/*
 * A version-5 database as the release before version 6 writes it (its
 * sessions and causes tables, with rows) gains sessions.software and
 * causes.remedy, NULL for the rows it had, and takes the new rows whole.
 */
Test(store, version_5_database_is_migrated)
{
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate_db(db, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(
	    sqlite3_exec(db,
	                 UNDO_18 DNS_TABLE_V9
	                 "DROP TABLE session_counts;"
	                 "DROP TABLE dns_counts;"
	                 "DROP TABLE anchors;"
	                 "ALTER TABLE runs DROP COLUMN big_bytes;"
	                 "DROP TABLE sessions;"
	                 "CREATE TABLE sessions (id INTEGER PRIMARY KEY,"
	                 " run_id INTEGER REFERENCES runs (id), protocol TEXT, client TEXT,"
	                 " client_port INTEGER, server TEXT, server_port INTEGER, syn REAL,"
	                 " start REAL, \"end\" REAL, outcome TEXT,"
	                 " tls INTEGER NOT NULL DEFAULT 0,"
	                 " outbound INTEGER NOT NULL DEFAULT 0, app TEXT, banner_host TEXT,"
	                 " helo TEXT, sender_domain TEXT, rcpt_domains TEXT, bytes INTEGER,"
	                 " messages INTEGER, complete INTEGER NOT NULL DEFAULT 0, host TEXT,"
	                 " client_is_host INTEGER NOT NULL DEFAULT 0, replies TEXT);"
	                 "CREATE INDEX sessions_t0 ON sessions (coalesce(start, syn), host,"
	                 " protocol, outbound, client_is_host, outcome);"
	                 "DROP TABLE causes;"
	                 "CREATE TABLE causes (id INTEGER PRIMARY KEY,"
	                 " run_id INTEGER REFERENCES runs (id),"
	                 " transaction_id INTEGER REFERENCES transactions (id),"
	                 " kind TEXT NOT NULL, relation TEXT,"
	                 " dns_query_id INTEGER REFERENCES dns_queries (id),"
	                 " ident_probe_id INTEGER REFERENCES ident_probes (id),"
	                 " parent_id INTEGER REFERENCES causes (id), overlap_ms REAL,"
	                 " share REAL, query_ms REAL);"
	                 "CREATE INDEX causes_transaction ON causes (transaction_id);"
	                 "CREATE INDEX causes_parent ON causes (parent_id);"
	                 "CREATE INDEX causes_dns ON causes (dns_query_id);"
	                 "INSERT INTO runs (id, source, started) VALUES (1, 'old', 1);"
	                 "INSERT INTO sessions (id, run_id, protocol, client, server, host,"
	                 " banner_host) VALUES (7, 1, 'smtp', '192.0.2.200', '192.0.2.10',"
	                 " '192.0.2.10', 'mx.example.org');"
	                 "INSERT INTO transactions (id, run_id, session_id, command,"
	                 " latency_ms, remedy) VALUES (70, 1, 7, 'GREETING', 4000,"
	                 " 'old remedy');"
	                 "INSERT INTO causes (id, run_id, transaction_id, kind, relation,"
	                 " overlap_ms) VALUES (700, 1, 70, 'dns', 'client-ptr', 3999);"
	                 "PRAGMA user_version = 5;",
	                 NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 7 AND software IS NULL"
	                       " AND banner_host = 'mx.example.org'"),
	             1, "the old session kept, its software not known");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM causes WHERE id = 700 AND remedy IS NULL"
	                       " AND relation = 'client-ptr'"),
	             1, "the old cause kept, no remedy of its own");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE remedy = 'old remedy'"), 1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM ptr_delays WHERE cause_id = 700"), 0,
	             "no dns query: not a PTR delay");
	/* the new rows whole */
	cr_assert_eq(store_begin_run(s, "new", "new", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE software = 'exim'"), 1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM causes WHERE remedy ="
	                       " 'rfc1413_query_timeout = 0s'"),
	             1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM pragma_integrity_check"
	                       " WHERE integrity_check = 'ok'"),
	             1);
	store_close(s);
}

/*
 * A version-9 database (dns_queries a table of text and REAL columns, with
 * rows) becomes version 10: the view shows the same rows (ts and latency_ms
 * exactly, response_ts and last_send_ts to the microsecond), the names and
 * addresses are in the dictionaries with the minute of their latest use,
 * and causes still find their queries.
 */
Test(store, version_9_database_is_migrated)
{
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate_db(db, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(
	    sqlite3_exec(db,
	                 UNDO_18 DNS_TABLE_V9
	                 "INSERT INTO runs (id, source, started) VALUES (1, 'old', 1);"
	                 "INSERT INTO dns_queries (id, run_id, ts, client, client_port, server,"
	                 " server_port, transport, txid, qname, qtype, outcome, rcode, answers,"
	                 " response_ts, last_send_ts, latency_ms, retransmits) VALUES"
	                 " (5, 1, 1767225601.123456789, '192.0.2.10', 40001, '198.51.100.53', 53,"
	                 "  'udp', 4660, '200.113.0.203.in-addr.arpa', 'PTR', 'answered', 0,"
	                 "  'client.example', 1767225606.125, 1767225606.1, 5001.543211, 1),"
	                 " (6, 1, 1767225662.5, '192.0.2.10', 40002, '198.51.100.53', 53, 'tcp',"
	                 "  4661, '200.113.0.203.in-addr.arpa', 'PTR', 'unanswered', NULL, NULL,"
	                 "  NULL, 1767225667.5, NULL, 2),"
	                 " (7, 1, 1767225700.25, '198.51.100.53', 53, '192.0.2.10', 40003, 'udp',"
	                 "  9, 'example.org', 'TYPE999', 'no-query', 0, NULL, 1767225700.25,"
	                 "  NULL, NULL, 0),"
	                 " (8, 1, 1767225701.75, '192.0.2.10', 40004, '198.51.100.53', 53, 'udp',"
	                 "  10, NULL, 'A', 'servfail', 2, NULL, 1767225701.875, 1767225701.75,"
	                 "  125.0, 0);"
	                 "CREATE TABLE old_dns AS SELECT * FROM dns_queries;"
	                 "INSERT INTO transactions (id, run_id, session_id, command, latency_ms)"
	                 " VALUES (70, 1, 7, 'GREETING', 5002);"
	                 "INSERT INTO causes (id, run_id, transaction_id, kind, relation,"
	                 " dns_query_id, overlap_ms) VALUES (700, 1, 70, 'dns', 'client-ptr', 5,"
	                 " 5001);"
	                 "PRAGMA user_version = 9;",
	                 NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_str_eq(q_text(db, "SELECT type FROM sqlite_schema WHERE name = 'dns_queries'"),
	                 "view");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries"), 4);
	/* every column but the two derived times as it was, NULLs included */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM (SELECT id, run_id, ts, client, client_port,"
	                       " server, server_port, transport, txid, qname, qtype, outcome, rcode,"
	                       " answers, latency_ms, retransmits FROM dns_queries EXCEPT"
	                       " SELECT id, run_id, ts, client, client_port, server, server_port,"
	                       " transport, txid, qname, qtype, outcome, rcode, answers, latency_ms,"
	                       " retransmits FROM old_dns)"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries AS n JOIN old_dns AS o USING (id)"
	                       " WHERE (n.response_ts IS NULL) <> (o.response_ts IS NULL)"
	                       " OR abs(n.response_ts - o.response_ts) > 1e-6"
	                       " OR (n.last_send_ts IS NULL) <> (o.last_send_ts IS NULL)"
	                       " OR abs(n.last_send_ts - o.last_send_ts) > 1e-6"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM names"), 2);
	cr_expect_eq(q_int(db, "SELECT last_minute FROM names WHERE name ="
	                       " '200.113.0.203.in-addr.arpa'"),
	             1767225660);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM addrs"), 2);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM ptr_delays WHERE cause_id = 700 AND"
	                       " resolver = '198.51.100.53' AND query_latency_ms = 5001.543211"
	                       " AND dns_outcome = 'answered'"
	                       " AND qname = '200.113.0.203.in-addr.arpa'"),
	             1);
	/* SQL written by hand still writes through the view */
	cr_expect_eq(sqlite3_exec(db,
	                          "UPDATE dns_queries SET ts = ts - 17, client = '192.0.2.11'"
	                          " WHERE id = 6; DELETE FROM dns_queries WHERE id = 8;",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE id = 6 AND"
	                       " ts = 1767225645.5 AND client = '192.0.2.11' AND transport = 'tcp'"
	                       " AND outcome = 'unanswered' AND latency_ms IS NULL"
	                       " AND response_ts IS NULL AND retransmits = 2"),
	             1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_rows"), 3);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM pragma_integrity_check"
	                       " WHERE integrity_check = 'ok'"),
	             1);
	store_close(s);
}

/*
 * A version-10 database (sessions.replies in the encoding of versions 5 to
 * 10: absolute ids, words and codes as text) becomes version 11: the
 * records are rewritten in the shorter encoding and the view gives back
 * every reply as it was, its helo, its words outside the list and its codes
 * that are not three digits included.
 */
Test(store, version_10_replies_are_migrated)
{
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate_db(db, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(
	    sqlite3_exec(
	        db,
	        UNDO_18 REPLIES_V10
	        "INSERT INTO runs (id, source, started) VALUES (1, 'old', 1);"
	        "INSERT INTO sessions (id, run_id, protocol, syn, start, helo, replies) VALUES"
	        " (7, 1, 'smtp', 1767225600.005, 1767225600.006, 'mx.example',"
	        "  '[[103,\"GREETING\",null,0,2500,\"220\"],"
	        "[104,\"EHLO\",\"mx.example\",4001,300,\"250\"],"
	        "[106,\"DATA-END\",null,25000,2000,\"250\",1234],"
	        "[101,\"TLS\",null,35000,1000,null,null,\"RCPT\",\"1 record, 90 bytes\"],"
	        "[109,\"XCLIENT\",\"mx.example.\",56000,1000,\"099\"],"
	        "[110,\"NOOP\",\"1\",57000,1000,\"+OK\"]]'),"
	        " (8, 1, 'pop3', NULL, 1767225700.5, NULL,"
	        "  '[[200,\"USER\",\"bob\",0,120,\"+OK\"]]'),"
	        " (9, 1, 'smtp', 1767225800, 1767225800, NULL, NULL);"
	        "CREATE TABLE old_replies AS SELECT * FROM compact_replies;" DNS_ROWS_V13
	        "PRAGMA user_version = 10;",
	        NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_assert_eq(q_int(db, "SELECT count(*) FROM old_replies"), 7);
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_str_eq(q_text(db, "SELECT replies FROM sessions WHERE id = 7"),
	                 "[[103,0,null,0,2500,220],[1,2,1,4001,300,250],"
	                 "[3,6,null,25000,2000,250,1234],"
	                 "[-2,29,null,35000,1000,null,null,4,\"1 record, 90 bytes\"],"
	                 "[6,\"XCLIENT\",\"mx.example.\",56000,1000,\"099\"],"
	                 "[7,11,\"1\",57000,1000,\"+OK\"]]");
	cr_expect_str_eq(q_text(db, "SELECT replies FROM sessions WHERE id = 8"),
	                 "[[200,17,\"bob\",0,120,\"+OK\"]]");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 9 AND replies IS NULL"),
	             1);
	/* every column of every reply as it was (the view was the old one's) */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM (SELECT * FROM compact_replies"
	                       " EXCEPT SELECT * FROM old_replies)"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM (SELECT * FROM old_replies"
	                       " EXCEPT SELECT * FROM compact_replies)"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM compact_replies WHERE argument = 'mx.example'"
	                       " AND command = 'EHLO' AND reply_code = '250' AND id = 104"),
	             1);
	store_close(s);
}

/*
 * A version-11 database (sessions a table of text columns, with rows)
 * becomes version 12: the view sessions shows every row as it was, NULLs,
 * an open session and every outcome word included; the addresses and names
 * are in the dictionaries with the minute of their latest use; and the
 * view takes hand-written inserts, updates and deletes.
 */
Test(store, version_11_sessions_are_migrated)
{
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate_db(db, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(
	    sqlite3_exec(
	        db,
	        UNDO_18 SESSIONS_TABLE_V11
	        "INSERT INTO runs (id, source, started) VALUES (1, 'old', 1);"
	        "INSERT INTO sessions (id, run_id, protocol, client, client_port, server,"
	        " server_port, syn, start, \"end\", outcome, tls, outbound, app, banner_host, helo,"
	        " sender_domain, rcpt_domains, bytes, messages, complete, host, client_is_host,"
	        " replies, software, max_message, null_sender, bounce_domain, bounce_origin,"
	        " bounce_session_id) VALUES"
	        " (1, 1, 'smtp', '203.0.113.5', 40001, '192.0.2.10', 25, 1767225601.25,"
	        "  1767225601.5, 1767225602, 'ok', 0, 0, 'port', 'mx.example.test', 'Client.Example',"
	        "  'sender.example', 'a.example,b.example', 1200, 1, 1, '192.0.2.10', 0,"
	        "  '[[7,0,null,0,2500,220],[1,2,1,4001,300,250]]', 'exim', 1200, 0, NULL, NULL,"
	        "  NULL),"
	        " (2, 1, 'smtp', '192.0.2.10', 40002, '198.51.100.25', 25, NULL, 1767225662.5,"
	        "  NULL, NULL, 1, 1, 'ndpi:SMTP', NULL, NULL, NULL, NULL, 0, 0, 0, '192.0.2.10', 1,"
	        "  NULL, NULL, NULL, 1, 'sender.example', '203.0.113.5', 1),"
	        " (3, 1, 'pop3', '2001:db8::5', 40003, '2001:db8::10', 110, 1767225700, NULL,"
	        "  1767225705, 'unanswered', 0, 0, 'port', NULL, NULL, NULL, NULL, NULL, NULL, 1,"
	        "  NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL);"
	        "INSERT INTO sessions (id, run_id, protocol, outcome, software, complete) VALUES"
	        " (4, 1, 'pop3', 'client-abort', 'dovecot', 1), (5, 1, 'smtp', 'server-close',"
	        "  'postfix', 1), (6, 1, 'smtp', 'incomplete', 'sendmail', 1),"
	        " (7, 1, 'smtp', 'refused', 'exchange', 1), (8, 1, 'smtp', 'tls-unanswered',"
	        "  'unknown', 1), (9, 1, 'smtp', 'tls-alert', NULL, 1),"
	        " (10, 1, 'smtp', 'tls-failed', NULL, 1), (11, 1, 'smtp', 'client-half-close',"
	        "  NULL, 1), (12, 1, 'unknown', 'cut', NULL, 1);"
	        "CREATE TABLE old_sessions AS SELECT * FROM sessions;" DNS_ROWS_V13
	        "PRAGMA user_version = 11;",
	        NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_str_eq(q_text(db, "SELECT type FROM sqlite_schema WHERE name = 'sessions'"),
	                 "view");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions"), 12);
	/* every column of every row as it was, NULLs included */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM (SELECT * FROM sessions"
	                       " EXCEPT SELECT * FROM old_sessions)"),
	             0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM (SELECT * FROM old_sessions"
	                       " EXCEPT SELECT * FROM sessions)"),
	             0);
	/* the helo of a compact reply (version 11) comes through the dictionary */
	cr_expect_str_eq(q_text(db, "SELECT argument FROM compact_replies WHERE id = 8"),
	                 "Client.Example");
	/* each text once, with the minute of its latest use */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM addrs"), 5);
	cr_expect_eq(q_int(db, "SELECT last_minute FROM addrs WHERE addr = '192.0.2.10'"),
	             1767225660);
	cr_expect_eq(q_int(db, "SELECT last_minute FROM names WHERE name = 'sender.example'"),
	             1767225660);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM names WHERE name IN ('port', 'ndpi:SMTP',"
	                       " 'mx.example.test', 'Client.Example', 'a.example,b.example')"),
	             5);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM session_rows WHERE client ="
	                       " (SELECT id FROM addrs WHERE addr = '203.0.113.5')"),
	             1);
	/* written by hand through the view */
	cr_assert_eq(sqlite3_exec(db,
	                          "INSERT INTO sessions (id, run_id, protocol, client, server, start,"
	                          " outcome, helo, complete) VALUES (20, 1, 'smtp', '198.51.100.7',"
	                          " '192.0.2.10', 1767225900, 'ok', 'new.example', 1);"
	                          "UPDATE sessions SET outcome = 'client-abort', helo = 'other.example'"
	                          " WHERE id = 20;"
	                          "DELETE FROM sessions WHERE id = 3;",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 20 AND protocol = 'smtp'"
	                       " AND client = '198.51.100.7' AND outcome = 'client-abort'"
	                       " AND helo = 'other.example' AND start = 1767225900 AND complete = 1"),
	             1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM session_rows WHERE id = 3"), 0);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM pragma_integrity_check"
	                       " WHERE integrity_check = 'ok'"),
	             1);
	store_close(s);
}

/*
 * A database written by the release before version 3 (tests/fixtures/
 * v2-release.db: examples/ptr-timeout.pcap and the generated outbound
 * scenario, analyzed by that release) opens, migrates and reports.
 */
Test(store, previous_release_database_is_migrated)
{
	const char *src = getenv("MXLAG_SRC");
	char fixture[1024], cmd[3000];
	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/v2-release.db", src ? src : ".");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture, dbpath);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(q_int(db, "PRAGMA user_version"), 2);
	sqlite3_close(db);
	struct store *s = open_store();
	db = store_db(s);
	cr_expect_eq(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE outbound = 0 AND host = server"),
	             1);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE outbound = 1 AND host = client"
	                       " AND client_is_host = 1"),
	             3);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE host = '192.0.2.10'"),
	             q_int(db, "SELECT count(*) FROM slow_replies"));
	cr_expect_eq(q_int(db, "SELECT count(*) FROM pragma_integrity_check"
	                       " WHERE integrity_check = 'ok'"),
	             1);
	/* version 4: the guess of encrypted exchanges, NULL for clear text */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE guess IS NULL"),
	             q_int(db, "SELECT count(*) FROM slow_replies"));
	store_close(s);
}

Test(store, failed_migration_step_rolls_back)
{
	static const char *const steps[] = {"CREATE TABLE c (q); SELECT nonsense FROM nowhere;"};
	char err[256];
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(store_migrate(db, "CREATE TABLE a (x);", NULL, 0, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_migrate(db, "", steps, 1, err, sizeof(err)), STORE_ERR);
	cr_assert(strstr(err, "from version 1 to 2") != NULL, "%s", err);
	cr_assert_eq(q_int(db, "PRAGMA user_version"), 1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"), 0);
	sqlite3_close(db);
}

/* ---- rows ---- */

Test(store, stores_the_scenario_rows)
{
	cr_assert_eq(fx_run(dbpath, "fp-1"), STORE_OK);
	sqlite3 *db = open_ro(dbpath);

	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions"), 1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 1 AND protocol = 'smtp'"
	                       " AND client = '192.0.2.200' AND client_port = 40112"
	                       " AND server = '192.0.2.10' AND server_port = 25 AND complete = 1"
	                       " AND outcome = 'client-abort' AND tls = 0 AND outbound = 0"
	                       " AND helo = 'pc17.example' AND sender_domain = 'example.org'"
	                       " AND messages = 1 AND bytes = 1234 AND run_id = 1"),
	             1);
	cr_assert_float_eq(q_double(db, "SELECT start FROM sessions"), 1700000000.123, 1e-6);
	cr_assert_float_eq(q_double(db, "SELECT \"end\" - start FROM sessions"), 111.0, 1e-6);

	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), FX_TXNS);
	cr_assert_eq(q_double(db, "SELECT latency_ms FROM transactions WHERE id = 1"), 30012.5);
	cr_assert_str_eq(q_text(db, "SELECT command || ' ' || reply_code || ' ' || outcome"
	                            " FROM transactions WHERE id = 1"),
	                 "GREETING 220 ok");
	cr_assert_str_eq(q_text(db, "SELECT diagnosis FROM transactions WHERE id = 1"),
	                 "the server's PTR query for the client went unanswered");
	cr_assert(strstr(q_text(db, "SELECT remedy FROM transactions WHERE id = 1"),
	                 "reverse zone") != NULL);
	/* secrets never stored */
	cr_assert_str_eq(q_text(db, "SELECT argument FROM transactions WHERE command = 'AUTH'"),
	                 "***");
	/* the client gave up: time waited, end_ts, no reply */
	cr_assert_eq(q_double(db, "SELECT latency_ms FROM transactions WHERE id = 6"), 61000.0);
	cr_assert_str_eq(q_text(db, "SELECT quote(reply_ts) || ' ' || quote(reply_code) || ' ' ||"
	                            " outcome FROM transactions WHERE id = 6"),
	                 "NULL NULL client-abort");
	cr_assert_float_eq(
	    q_double(db, "SELECT end_ts - request_ts FROM transactions WHERE id = 6"), 61.0, 1e-6);

	cr_assert_eq(q_int(db,
	                   "SELECT count(*) FROM dns_queries WHERE id = 1 AND qtype = 'PTR'"
	                   " AND qname = '200.2.0.192.in-addr.arpa' AND server = '127.0.0.1'"
	                   " AND server_port = 53 AND client = '192.0.2.10' AND transport = 'udp'"
	                   " AND txid = 4660 AND outcome = 'unanswered' AND rcode IS NULL"
	                   " AND latency_ms IS NULL AND response_ts IS NULL AND retransmits = 2"
	                   " AND last_send_ts IS NOT NULL"),
	             1);
	cr_assert_eq(q_int(db,
	                   "SELECT count(*) FROM ident_probes WHERE id = 1"
	                   " AND peer = '192.0.2.200' AND peer_port = 113 AND host = '192.0.2.10'"
	                   " AND outcome = 'unanswered' AND latency_ms IS NULL"
	                   " AND syn_retransmits = 3 AND end_ts IS NOT NULL"),
	             1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes"), FX_CAUSES);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes WHERE id = 2 AND kind = 'dns'"
	                       " AND relation = 'upstream' AND parent_id = 1 AND dns_query_id = 2"
	                       " AND transaction_id = 1"),
	             1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes WHERE kind = 'ident'"
	                       " AND relation = 'ident' AND ident_probe_id = 1"),
	             1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes WHERE kind = 'none'"
	                       " AND relation IS NULL AND transaction_id = 5"),
	             1);
	/* version 6: each cause's own remedy (none for an upstream hop), the server software */
	cr_assert_str_eq(q_text(db, "SELECT remedy FROM causes WHERE id = 1"),
	                 "serve a reverse zone, or narrow Exim's host_lookup");
	cr_assert_str_eq(q_text(db, "SELECT remedy FROM causes WHERE id = 3"),
	                 "rfc1413_query_timeout = 0s");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes WHERE id = 2 AND remedy IS NULL"), 1);
	cr_assert_str_eq(q_text(db, "SELECT software FROM sessions WHERE id = 1"), "exim");
	/* the views */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE latency_ms >= 1000"), 3);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM ptr_delays"), 2);
	cr_assert_str_eq(q_text(db, "SELECT client || ' ' || resolver || ' ' || relation"
	                            " FROM ptr_delays WHERE parent_id IS NULL"),
	                 "192.0.2.200 127.0.0.1 client-ptr");
	/* the run is finished */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE id = 1 AND fingerprint = 'fp-1'"
	                       " AND source = 'fixture.pcap' AND finished IS NOT NULL"),
	             1);
	sqlite3_close(db);
}

Test(store, provisional_session_is_visible_before_it_ends)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:eth0", NULL, NULL), STORE_OK);
	struct mx_session sess;
	memset(&sess, 0, sizeof(sess));
	sess.id = 7;
	sess.proto = MXP_POP3;
	mx_addr_parse("2001:db8::1", &sess.client.addr);
	sess.client.port = 50000;
	mx_addr_parse("2001:db8::10", &sess.server.addr);
	sess.server.port = 110;
	sess.start_ns = FX_T0_NS;
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = &sess;
	ev.u.txn.id = 1;
	ev.u.txn.session_id = 7;
	strcpy(ev.u.txn.command, "PASS");
	strcpy(ev.u.txn.argument, "hunter2");
	ev.u.txn.request_ns = FX_T0_NS;
	ev.u.txn.reply_ns = FX_T0_NS + 1500 * FX_MS;
	strcpy(ev.u.txn.reply_code, "+OK");
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK);

	sqlite3 *db = open_ro(dbpath);
	cr_assert_str_eq(q_text(db,
	                        "SELECT protocol || ' ' || client || ' ' || server || ' ' ||"
	                        " complete || ' ' || quote(outcome) FROM sessions WHERE id = 7"),
	                 "pop3 2001:db8::1 2001:db8::10 0 NULL");
	cr_assert_str_eq(q_text(db, "SELECT argument FROM transactions"), "***");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE protocol = 'pop3'"), 1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE fingerprint IS NULL"
	                       " AND finished IS NULL"),
	             1);

	/* the final EV_SESSION completes it; a late provisional write does not undo that */
	sess.end_ns = FX_T0_NS + 3 * FX_SEC;
	sess.outcome = MXO_OK;
	struct mx_event se;
	memset(&se, 0, sizeof(se));
	se.type = EV_SESSION;
	se.u.session = sess;
	cr_assert_eq(store_event(s, &se), STORE_OK, "%s", store_errmsg(s));
	sess.outcome = MXO_INCOMPLETE;
	ev.u.txn.id = 2;
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	cr_assert_str_eq(q_text(db, "SELECT complete || ' ' || outcome FROM sessions"), "1 ok");
	sqlite3_close(db);
	store_close(s);
}

/* the schema 8 columns pass the writer thread's copy of a session (issue 17) */
Test(store, session_row_keeps_the_issue_17_columns)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "fixture.pcap", "fp-17", NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	struct mx_event *ev = calloc(1, sizeof(*ev));
	cr_assert_not_null(ev);
	struct mx_session *x = &ev->u.session;
	x->id = 9;
	x->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.10", &x->client.addr);
	x->client.port = 40000;
	mx_addr_parse("203.0.113.9", &x->server.addr);
	x->server.port = 25;
	x->start_ns = FX_T0_NS;
	x->end_ns = FX_T0_NS + FX_SEC;
	x->outbound = x->client_is_host = true;
	x->max_message = 12345;
	x->null_sender = true;
	mx_strlcpy(x->bounce_domain, "forged.example", sizeof(x->bounce_domain));
	mx_addr_parse("198.51.100.66", &x->bounce_origin);
	x->bounce_session_id = 4;
	ev->type = EV_SESSION;
	cr_assert_eq(store_event(s, ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	sqlite3 *db = open_ro(dbpath);
	cr_assert_str_eq(q_text(db, "SELECT max_message || ' ' || null_sender || ' ' ||"
	                            " bounce_domain || ' ' || bounce_origin || ' ' ||"
	                            " bounce_session_id FROM sessions WHERE id = 9"),
	                 "12345 1 forged.example 198.51.100.66 4");
	sqlite3_close(db);
	store_close(s);
	free(ev);
}

/* A text of n bytes, all c but a tag at its start, into a buffer of n + 1. */
static void
fill_text(char *d, size_t n, char c, const char *tag)
{
	memset(d, c, n);
	memcpy(d, tag, strlen(tag));
	d[n] = '\0';
}

/*
 * The writer thread's queue packs a session's texts one after another
 * (store.c, struct wsess): with every buffer full, the reply's copy and the
 * final row's both keep every text whole, and a reply without a session
 * still has none.
 */
Test(store, writer_queue_keeps_full_session_texts)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:eth0", NULL, NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	struct mx_event *ev = calloc(2, sizeof(*ev));
	cr_assert_not_null(ev);
	struct mx_session *x = &ev[1].u.session;
	x->id = 11;
	x->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.20", &x->client.addr);
	mx_addr_parse("203.0.113.25", &x->server.addr);
	x->server.port = 25;
	x->start_ns = FX_T0_NS;
	const size_t full = MX_NAME_MAX - 1;
	fill_text(x->app, sizeof(x->app) - 1, 'p', "app");
	fill_text(x->banner_host, full, 'b', "banner");
	fill_text(x->helo, full, 'h', "helo");
	fill_text(x->sender_domain, full, 's', "sender");
	fill_text(x->bounce_domain, full, 'o', "bounce");
	x->n_rcpt_domains = MX_RCPT_DOMAINS;
	char rcpt[MX_RCPT_DOMAINS * MX_NAME_MAX] = "";
	for (int i = 0; i < MX_RCPT_DOMAINS; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "rcpt%d", i);
		fill_text(x->rcpt_domains[i], full, (char)('a' + i), tag);
		snprintf(rcpt + strlen(rcpt), sizeof(rcpt) - strlen(rcpt), "%s%s", i ? "," : "",
		         x->rcpt_domains[i]);
	}
	/* a slow reply: its session's provisional row comes from the reply's copy */
	struct mx_event *t = &ev[0];
	t->type = EV_TXN;
	t->session = x;
	t->u.txn.id = 1;
	t->u.txn.session_id = 11;
	strcpy(t->u.txn.command, "MAIL");
	t->u.txn.request_ns = FX_T0_NS;
	t->u.txn.reply_ns = FX_T0_NS + 3 * FX_SEC;
	strcpy(t->u.txn.reply_code, "250");
	cr_assert_eq(store_event(s, t), STORE_OK, "%s", store_errmsg(s));
	/* and a reply of another session without its session */
	t->session = NULL;
	t->u.txn.id = 2;
	t->u.txn.session_id = 12;
	cr_assert_eq(store_event(s, t), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));

	sqlite3 *db = open_ro(dbpath);
	const char *cols = "SELECT app || '|' || banner_host || '|' || helo || '|' ||"
	                   " sender_domain || '|' || rcpt_domains || '|' || bounce_domain"
	                   " FROM sessions WHERE id = 11";
	char want[16 * MX_NAME_MAX];
	snprintf(want, sizeof(want), "%s|%s|%s|%s|%s|%s", x->app, x->banner_host, x->helo,
	         x->sender_domain, rcpt, x->bounce_domain);
	cr_assert_str_eq(q_text(db, cols), want, "the reply's copy");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE id = 12"), 0);

	/* the final row, from the session event's own copy */
	x->end_ns = FX_T0_NS + 5 * FX_SEC;
	x->outcome = MXO_OK;
	ev[1].type = EV_SESSION;
	cr_assert_eq(store_event(s, &ev[1]), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_str_eq(q_text(db, cols), want, "the session's copy");
	cr_assert_eq(q_int(db, "SELECT complete FROM sessions WHERE id = 11"), 1);
	sqlite3_close(db);
	store_close(s);
	free(ev);
}

/*
 * The writer's queue is a ring of bytes (schema/store.c): items of every
 * size (DNS queries with names of 1 to 200 bytes, replies with their whole
 * session, anchors, commits) go round it a dozen times, often filling it,
 * so that items meet its end at every offset and the packet side waits
 * for room.  Each arrives whole, once: the names tell each query's id.
 */
static void
round_the_ring(bool bulk)
{
	struct store *s = open_store();
	if (bulk)
		cr_assert_eq(store_bulk_load(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_begin_run(s, bulk ? "ring.pcap" : "live:eth0", NULL, NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	struct mx_event *ev = calloc(3, sizeof(*ev));
	cr_assert_not_null(ev);
	struct mx_session *x = &ev[2].u.session;
	x->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.30", &x->client.addr);
	mx_addr_parse("203.0.113.25", &x->server.addr);
	x->server.port = 25;
	x->start_ns = FX_T0_NS;
	fill_text(x->helo, MX_NAME_MAX - 1, 'h', "helo");
	fill_text(x->sender_domain, MX_NAME_MAX - 1, 's', "sender");
	const int n = 4000, nsess = n / 5;
	int anchors = 0;
	for (int i = 0; i < n; i++) {
		struct mx_dns *q = &ev[0].u.dns;
		ev[0].type = EV_DNS;
		q->id = (uint64_t)i + 1;
		q->ts_ns = FX_T0_NS + (uint64_t)i * 1000000;
		q->qtype = 12;
		q->rcode = -1;
		q->outcome = MXD_UNANSWERED;
		int len = snprintf(q->qname, sizeof(q->qname), "%05d.", i);
		memset(q->qname + len, 'a', (size_t)(i % 200 + 1));
		strcpy(q->qname + len + i % 200 + 1, ".example");
		cr_assert_eq(store_event(s, &ev[0]), STORE_OK, "%s", store_errmsg(s));
		if (i % 3 == 0) {
			store_anchor(s, 0x1000u + (uint64_t)i, q->ts_ns);
			anchors++;
		}
		if (i % 7 == 0)
			cr_assert_eq(store_commit_soon(s), STORE_OK, "%s", store_errmsg(s));
		if (i % 5 == 0) {
			/* a slow reply (a row) with its whole session beside it */
			x->id = (uint64_t)(i / 5) + 1;
			struct mx_txn *t = &ev[1].u.txn;
			ev[1].type = EV_TXN;
			ev[1].session = x;
			t->id = x->id;
			t->session_id = x->id;
			strcpy(t->command, "MAIL");
			t->request_ns = q->ts_ns;
			t->reply_ns = q->ts_ns + 3 * FX_SEC;
			strcpy(t->reply_code, "250");
			x->replies = 1;
			cr_assert_eq(store_event(s, &ev[1]), STORE_OK, "%s", store_errmsg(s));
		}
	}
	for (int k = 0; k < nsess; k++) {
		x->id = (uint64_t)k + 1;
		x->end_ns = FX_T0_NS + (uint64_t)k * 5000000 + 4 * FX_SEC;
		x->outcome = MXO_OK;
		ev[2].type = EV_SESSION;
		cr_assert_eq(store_event(s, &ev[2]), STORE_OK, "%s", store_errmsg(s));
	}
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	free(ev);

	sqlite3 *db = open_ro(dbpath);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries"), n);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE qname ="
	                       " printf('%05d.', id - 1) ||"
	                       " replace(hex(zeroblob((id - 1) % 200 + 1)), '00', 'a') || '.example'"),
	             n, "every query's own name");
	cr_expect_eq(q_int(db, "SELECT count(*) FROM anchors"), anchors);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM transactions WHERE command = 'MAIL'"), nsess);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM sessions WHERE helo LIKE 'helo%'"
	                       " AND complete = 1"),
	             nsess);
	sqlite3_close(db);
}

Test(store, the_writer_queue_goes_round_its_ring_live)
{
	round_the_ring(false);
}

Test(store, the_writer_queue_goes_round_its_ring_in_a_bulk_load)
{
	round_the_ring(true);
}

Test(store, event_before_run_is_refused)
{
	struct store *s = open_store();
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = 1;
	cr_assert_eq(store_event(s, &ev), STORE_USAGE);
	cr_assert(strstr(store_errmsg(s), "store_begin_run") != NULL);
	/* not sticky: a run can still begin */
	cr_assert_eq(store_begin_run(s, "x", NULL, NULL), STORE_OK);
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
}

/*
 * The writer's dictionary cache (schema/dict.h) does not outlive another
 * connection's commit: a prune there may drop a name the cache still
 * holds, and a row stored after it must name an entry that exists.
 */
Test(store, a_name_pruned_by_another_connection_is_added_again)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:eth0", NULL, NULL), STORE_OK);
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = 1;
	ev.u.dns.ts_ns = 1767225601000000000ULL;
	ev.u.dns.qtype = 12;
	ev.u.dns.rcode = -1;
	ev.u.dns.outcome = MXD_UNANSWERED;
	snprintf(ev.u.dns.qname, sizeof(ev.u.dns.qname), "%s", "200.113.0.203.in-addr.arpa");
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	/* another connection prunes the row and its name */
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_exec(db, "DELETE FROM dns_rows; DELETE FROM names;", NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	ev.u.dns.id = 2;
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	cr_expect_str_eq(q_text(store_db(s), "SELECT qname FROM dns_queries"),
	                 "200.113.0.203.in-addr.arpa");
	cr_expect_eq(q_int(store_db(s), "SELECT count(*) FROM dns_rows WHERE qname NOT IN"
	                                " (SELECT id FROM names)"),
	             0);
	store_close(s);
}

/* ---- runs ---- */

Test(store, second_analysis_of_same_capture_is_refused)
{
	cr_assert_eq(fx_run(dbpath, "sha256:abc"), STORE_OK);

	struct store *s = open_store();
	int64_t id = -1;
	cr_assert_eq(store_begin_run(s, "again.pcap", "sha256:abc", &id), STORE_DUPLICATE);
	cr_assert_eq(id, -1);
	cr_assert(strstr(store_errmsg(s), "already in the database") != NULL, "%s",
	          store_errmsg(s));
	cr_assert(strstr(store_errmsg(s), "run 1") != NULL, "%s", store_errmsg(s));
	/* nothing written, and the store is still usable for another capture */
	cr_assert_eq(q_int(store_db(s), "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(store_begin_run(s, "other.pcap", "sha256:def", &id), STORE_OK);
	cr_assert_eq(id, 2);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	store_close(s);

	/* and once more through fx_run */
	cr_assert_eq(fx_run(dbpath, "sha256:def"), STORE_DUPLICATE);
}

Test(store, anchors_name_the_earlier_run_that_stored_the_packet)
{
	/* run 1 stores two anchors, through the writer thread */
	struct store *s = open_store();
	int64_t id = 0;
	cr_assert_eq(store_begin_run(s, "a.pcap", "fp:a", &id), STORE_OK);
	cr_assert_eq(store_load_anchors(s), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK);
	cr_expect_eq(store_anchor(s, 0x8000000000000001ULL, 1700000000123456789ULL), 0);
	cr_expect_eq(store_anchor(s, 42, 1700000061000000000ULL), 0);
	/* its own anchors are not "earlier": the same packet twice in one run */
	cr_expect_eq(store_anchor(s, 42, 1700000061000000000ULL), 0);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	store_close(s);
	sqlite3 *db = open_ro(dbpath);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM anchors WHERE run_id = 1"), 3);
	/* the hash keeps its 64 bits (stored signed), the minute is the packet's */
	cr_expect_eq(q_int(db, "SELECT count(*) FROM anchors WHERE hash = -9223372036854775807"
	                       " AND minute = 1699999980"),
	             1);
	sqlite3_close(db);

	/* run 2 (offline, without the writer thread) meets one of them */
	s = open_store();
	cr_assert_eq(store_begin_run(s, "b.pcap", "fp:b", &id), STORE_OK);
	cr_assert_eq(id, 2);
	cr_assert_eq(store_load_anchors(s), STORE_OK);
	cr_expect_eq(store_anchor(s, 7, 1700000000000000000ULL), 0);
	cr_expect_eq(store_anchor(s, 0x8000000000000001ULL, 1700000000123456789ULL), 1);
	cr_expect_eq(store_anchor(s, 42, 1700000061000000000ULL), 1);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	store_close(s);

	/* the anchors of a run no longer stored guard nothing */
	db = open_ro(dbpath);
	cr_assert_eq(sqlite3_exec(db, "DELETE FROM runs WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store();
	cr_assert_eq(store_begin_run(s, "c.pcap", "fp:c", &id), STORE_OK);
	cr_assert_eq(store_load_anchors(s), STORE_OK);
	cr_expect_eq(store_anchor(s, 42, 1700000061000000000ULL), 2, "run 2 stored it too");
	cr_expect_eq(store_anchor(s, 99, 1700000061000000000ULL), 0);
	/* loading is refused once the writer runs (the set is the packet thread's) */
	cr_assert_eq(store_start_writer(s), STORE_OK);
	cr_expect_eq(store_load_anchors(s), STORE_USAGE);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK);
	store_close(s);
}

Test(store, live_runs_have_no_fingerprint_and_never_collide)
{
	cr_assert_eq(fx_run(dbpath, NULL), STORE_OK);
	cr_assert_eq(fx_run(dbpath, NULL), STORE_OK);
	sqlite3 *db = open_ro(dbpath);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs"), 2);
	sqlite3_close(db);
}

Test(store, ids_are_offset_across_runs)
{
	cr_assert_eq(fx_run(dbpath, "run-a"), STORE_OK);
	cr_assert_eq(fx_run(dbpath, "run-b"), STORE_OK);
	sqlite3 *db = open_ro(dbpath);

	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions"), 2 * FX_SESSIONS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), 2 * FX_TXNS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM dns_queries"), 2 * FX_DNS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM ident_probes"), 2 * FX_IDENTS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes"), 2 * FX_CAUSES);
	cr_assert_eq(q_int(db, "SELECT max(id) FROM transactions WHERE run_id = 2"), 2 * FX_TXNS);
	cr_assert_eq(q_int(db, "SELECT min(id) FROM transactions WHERE run_id = 2"), FX_TXNS + 1);
	/* every foreign key of run 2 points at a row of run 2 */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions t JOIN sessions s"
	                       " ON s.id = t.session_id AND s.run_id = t.run_id"),
	             2 * FX_TXNS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes c JOIN transactions t"
	                       " ON t.id = c.transaction_id AND t.run_id = c.run_id"),
	             2 * FX_CAUSES);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes c JOIN dns_queries q"
	                       " ON q.id = c.dns_query_id AND q.run_id = c.run_id"),
	             2 * 2);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes c JOIN ident_probes i"
	                       " ON i.id = c.ident_probe_id AND i.run_id = c.run_id"),
	             2);
	cr_assert_eq(q_int(db, "SELECT parent_id FROM causes WHERE run_id = 2"
	                       " AND relation = 'upstream'"),
	             FX_CAUSES + 1);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM causes c JOIN causes p ON p.id = c.parent_id"
	                       " AND p.run_id = c.run_id AND p.relation = 'client-ptr'"),
	             2);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions WHERE diagnosis IS NOT NULL"
	                       " AND command IN ('GREETING', 'DATA-END')"),
	             4);
	sqlite3_close(db);
}

Test(store, run_totals_and_counters)
{
	static const char *const names[] = {"packets", "weird.\"odd\"", "tcp.gaps"};
	static const uint64_t values[] = {1000, 2, 7};
	struct store *s = open_store();
	int64_t id;
	cr_assert_eq(store_begin_run(s, "a.pcap b.pcap", "fp", &id), STORE_OK);
	struct run_stats st = {
	    .first_ns = FX_T0_NS,
	    .last_ns = FX_T0_NS + 60 * FX_SEC,
	    .packets = 1000,
	    .bytes = 123456,
	    .kernel_drops = -1,
	    .counter_names = names,
	    .counter_values = values,
	    .n_counters = 3,
	};
	cr_assert_eq(store_update_run(s, &st), STORE_OK, "%s", store_errmsg(s));
	st.kernel_drops = 5;
	cr_assert_eq(store_end_run(s, &st), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = store_db(s);
	cr_assert_eq(q_int(db, "SELECT json_valid(counters) FROM runs"), 1);
	cr_assert_eq(q_int(db, "SELECT json_extract(counters, '$.\"tcp.gaps\"') FROM runs"), 7);
	cr_assert_eq(q_int(db, "SELECT value FROM runs, json_each(runs.counters)"
	                       " WHERE key = 'weird.\"odd\"'"),
	             2);
	cr_assert_eq(q_int(db, "SELECT packets + bytes + kernel_drops FROM runs"), 124461);
	cr_assert_float_eq(q_double(db, "SELECT last_ts - first_ts FROM runs"), 60.0, 1e-6);
	cr_assert_str_eq(q_text(db, "SELECT source FROM runs"), "a.pcap b.pcap");
	/* no run active any more */
	struct mx_event ev = {.type = EV_DNS, .u.dns.id = 1};
	cr_assert_eq(store_event(s, &ev), STORE_USAGE);
	store_close(s);
}

/* ---- concurrency and errors ---- */

Test(store, reader_does_not_block_writer)
{
	cr_assert_eq(fx_run(dbpath, "first"), STORE_OK);

	sqlite3 *reader = open_ro(dbpath);
	cr_assert_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(q_int(reader, "SELECT count(*) FROM transactions"), FX_TXNS);

	/* the writer commits while the read transaction is open */
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "second", "second", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));

	/* the reader keeps its snapshot, then sees the new rows */
	cr_assert_eq(q_int(reader, "SELECT count(*) FROM transactions"), FX_TXNS);
	cr_assert_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(q_int(reader, "SELECT count(*) FROM transactions"), 2 * FX_TXNS);
	sqlite3_close(reader);
	store_close(s);
}

Test(store, disk_full_is_an_error_not_a_corrupt_database)
{
	cr_assert_eq(fx_run(dbpath, "before"), STORE_OK);
	struct store *s = open_store();
	sqlite3 *db = store_db(s);
	int64_t pages = q_int(db, "PRAGMA page_count");
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages + 3);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(store_begin_run(s, "big", "big", NULL), STORE_OK, "%s", store_errmsg(s));

	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	mx_addr_parse("127.0.0.1", &ev.u.dns.server.addr);
	ev.u.dns.ts_ns = FX_T0_NS;
	memset(ev.u.dns.answers, 'x', sizeof(ev.u.dns.answers) - 1);
	int rc = STORE_OK;
	for (uint64_t i = 1; i < 100000 && rc == STORE_OK; i++) {
		ev.u.dns.id = i;
		snprintf(ev.u.dns.qname, sizeof(ev.u.dns.qname), "q%llu.example",
		         (unsigned long long)i);
		rc = store_event(s, &ev);
		if (rc == STORE_OK && i % 100 == 0)
			rc = store_flush(s);
	}
	cr_assert_eq(rc, STORE_ERR);
	cr_assert(strstr(store_errmsg(s), "full") != NULL, "%s", store_errmsg(s));
	/* sticky */
	cr_assert_eq(store_flush(s), STORE_ERR);
	cr_assert_eq(store_event(s, &ev), STORE_ERR);
	store_close(s);

	sqlite3 *chk = open_ro(dbpath);
	cr_assert_str_eq(q_text(chk, "PRAGMA integrity_check"), "ok");
	cr_assert_eq(q_int(chk, "SELECT count(*) FROM transactions WHERE run_id = 1"), FX_TXNS);
	/* what was committed is whole: every stored dns row of run 2 is complete */
	cr_assert_eq(q_int(chk, "SELECT count(*) FROM dns_queries WHERE run_id = 2"
	                        " AND length(answers) <> 511"),
	             0);
	sqlite3_close(chk);
}

Test(store, open_reports_unwritable_path)
{
	char err[256] = "";
	struct store *s;
	cr_assert_eq(store_open(&s, "/nonexistent-dir/x.db", err, sizeof(err)), STORE_ERR);
	cr_assert_null(s);
	cr_assert(strstr(err, "/nonexistent-dir/x.db") != NULL, "%s", err);
}
