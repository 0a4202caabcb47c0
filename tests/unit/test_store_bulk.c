/*
 * test_store_bulk.c - the store's fast paths: offline bulk loads (indexes
 * built at the end into a new database, recreated after a crash), the
 * provisional session row written once per batch, ended sessions written in
 * id order, errors during a bulk load.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../analyze/event.h"
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

TestSuite(store_bulk, .init = setup, .fini = teardown);

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

static const char *
q_text(sqlite3 *db, const char *sql)
{
	static char buf[512];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
	const unsigned char *v = sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(null)");
	sqlite3_finalize(st);
	return buf;
}

static sqlite3 *
open_db(void)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static struct store *
open_store(void)
{
	char err[256];
	struct store *s = NULL;
	cr_assert_eq(store_open(&s, dbpath, err, sizeof(err)), STORE_OK, "store_open: %s", err);
	return s;
}

/* the secondary indexes of schema.sql (all but runs_fingerprint), and of
   them those on session_rows, kept up while loading: its rows come in id
   order, the order of their time */
#define N_SECONDARY 14
#define N_IN_ORDER 4
static const char *const count_ix_sql =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
    " AND tbl_name <> 'runs' AND sql NOT LIKE 'CREATE UNIQUE %'";
static const char *const count_in_order_sql =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
    " AND tbl_name = 'session_rows'";

static int
bulk_run(const char *fingerprint)
{
	struct store *s = open_store();
	int rc = store_bulk_load(s);
	if (rc == STORE_OK)
		rc = store_begin_run(s, fingerprint, fingerprint, NULL);
	if (rc == STORE_OK)
		rc = fx_store_scenario(s);
	if (rc == STORE_OK)
		rc = store_end_run(s, NULL);
	store_close(s);
	return rc;
}

static void
assert_ids_unique(sqlite3 *db)
{
	static const char *const tables[] = {"sessions", "transactions", "dns_queries",
	                                     "ident_probes", "causes"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT count(*) = count(DISTINCT id) FROM %s",
		         tables[i]);
		cr_assert_eq(q_int(db, sql), 1, "%s", tables[i]);
	}
}

Test(store_bulk, new_database_gets_its_indexes_at_the_end)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "bulk.pcap", "bulk", NULL), STORE_OK, "%s",
	             store_errmsg(s));
	cr_assert_eq(q_int(store_db(s), "PRAGMA synchronous"), 0); /* OFF while loading */
	/* a rollback journal while loading: appended pages are written once */
	cr_assert_str_eq(q_text(store_db(s), "PRAGMA journal_mode"), "truncate");
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));

	sqlite3 *db = open_db();
	/* only the indexes on session_rows are maintained row by row */
	cr_assert_eq(q_int(db, count_ix_sql), N_IN_ORDER);
	cr_assert_eq(q_int(db, count_in_order_sql), N_IN_ORDER);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), FX_TXNS);
	cr_assert_eq(
	    q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs_fingerprint'"),
	    1); /* the duplicate guard stays */

	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_eq(q_int(store_db(s), "PRAGMA synchronous"), 1); /* NORMAL again */
	cr_assert_str_eq(q_text(store_db(s), "PRAGMA journal_mode"), "wal"); /* WAL again */
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	/* the indexes are used and hold every row */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions INDEXED BY transactions_session"
	                       " WHERE session_id > 0"),
	             FX_TXNS);
	/* the blocks of session_rows (schema 18) hold every row with a time */
	cr_assert_eq(q_int(db, "SELECT count(*) FROM " STORE_SESSION_WINDOW_SQL("", "NULL", "NULL")
	                       " WHERE " STORE_SESSION_T0_SQL " > 0"),
	             q_int(db, "SELECT count(*) FROM session_rows WHERE coalesce(start, syn) > 0"));
	cr_assert_gt(q_int(db, "SELECT count(*) FROM session_rows"), 0);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE finished IS NOT NULL"), 1);
	sqlite3_close(db);
	store_close(s);
}

Test(store_bulk, existing_database_keeps_its_indexes_and_ids_stay_unique)
{
	cr_assert_eq(fx_run(dbpath, "first"), STORE_OK);
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "second", "second", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(q_int(store_db(s), "PRAGMA synchronous"), 1); /* not new: durable */
	cr_assert_str_eq(q_text(store_db(s), "PRAGMA journal_mode"), "wal");
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);

	/* and a third, bulk again, after a bulk one */
	cr_assert_eq(bulk_run("third"), STORE_OK);
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), 3 * FX_TXNS);
	cr_assert_eq(q_int(db, "SELECT count(DISTINCT run_id) FROM causes"), 3);
	assert_ids_unique(db);
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	sqlite3_close(db);
}

Test(store_bulk, second_run_after_a_bulk_load_into_a_new_database)
{
	cr_assert_eq(bulk_run("one"), STORE_OK);
	cr_assert_eq(bulk_run("two"), STORE_OK);
	cr_assert_eq(fx_run(dbpath, "three"), STORE_OK);
	cr_assert_eq(bulk_run("one"), STORE_DUPLICATE);
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions"), 3 * FX_SESSIONS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE finished IS NOT NULL"), 3);
	assert_ids_unique(db);
	sqlite3_close(db);
}

Test(store_bulk, a_load_that_dies_leaves_a_database_store_open_completes)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct store *s = NULL;
		char err[256];
		if (store_open(&s, dbpath, err, sizeof(err)) != STORE_OK ||
		    store_bulk_load(s) != STORE_OK ||
		    store_begin_run(s, "dies", "dies", NULL) != STORE_OK ||
		    fx_store_scenario(s) != STORE_OK || store_flush(s) != STORE_OK)
			_exit(1);
		_exit(0); /* no store_end_run, no store_close: as if killed */
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	sqlite3 *db = open_db();
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	cr_assert_eq(q_int(db, count_ix_sql), N_IN_ORDER);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), FX_TXNS);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE finished IS NULL"), 1);

	struct store *s = open_store();
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_str_eq(q_text(store_db(s), "PRAGMA journal_mode"), "wal");
	/* the next run goes on with unique ids */
	cr_assert_eq(store_begin_run(s, "next", "next", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	assert_ids_unique(db);
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	sqlite3_close(db);
}

Test(store_bulk, close_without_end_run_still_builds_the_indexes)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "x", "x", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), FX_TXNS);
	sqlite3_close(db);
}

Test(store_bulk, bulk_load_after_begin_run_is_misuse)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "x", NULL, NULL), STORE_OK);
	cr_assert_eq(store_bulk_load(s), STORE_USAGE);
	cr_assert_eq(store_event(s, &(struct mx_event){.type = EV_DNS, .u.dns.id = 1}), STORE_OK,
	             "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
}

Test(store_bulk, disk_full_during_a_bulk_load_is_sticky_and_recoverable)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "big", "big", NULL), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *sdb = store_db(s);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	         (long long)q_int(sdb, "PRAGMA page_count") + 20);
	cr_assert_eq(sqlite3_exec(sdb, sql, NULL, NULL, NULL), SQLITE_OK);

	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.ts_ns = FX_T0_NS;
	memset(ev.u.dns.answers, 'x', sizeof(ev.u.dns.answers) - 1);
	int rc = STORE_OK;
	for (uint64_t i = 1; i < 100000 && rc == STORE_OK; i++) {
		ev.u.dns.id = i;
		rc = store_event(s, &ev);
		if (rc == STORE_OK && i % 10 == 0)
			rc = store_flush(s);
	}
	cr_assert_eq(rc, STORE_ERR);
	cr_assert(strstr(store_errmsg(s), "full") != NULL, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_ERR);
	cr_assert_eq(store_end_run(s, NULL), STORE_ERR);
	store_close(s);

	sqlite3 *db = open_db();
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE length(answers) <> 511"), 0);
	s = open_store(); /* completes the indexes */
	store_close(s);
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	sqlite3_close(db);
}

/* ---- provisional sessions ---- */

/* Reply id of session sess to cmd, sent at request_ns, answered ms later. */
static int
txn_at(struct store *s, const struct mx_session *sess, uint64_t id, const char *cmd,
       uint64_t request_ns, uint64_t ms)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = sess;
	ev.u.txn.id = id;
	ev.u.txn.session_id = sess->id;
	mx_strlcpy(ev.u.txn.command, cmd, sizeof(ev.u.txn.command));
	ev.u.txn.request_ns = request_ns;
	ev.u.txn.reply_ns = request_ns + ms * FX_MS;
	mx_strlcpy(ev.u.txn.reply_code, "250", sizeof(ev.u.txn.reply_code));
	return store_event(s, &ev);
}

static int
txn_event(struct store *s, const struct mx_session *sess, uint64_t id, const char *cmd)
{
	return txn_at(s, sess, id, cmd, FX_T0_NS + id * FX_MS, 10);
}

static void
session(struct mx_session *x, uint64_t id)
{
	memset(x, 0, sizeof(*x));
	x->id = id;
	x->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.1", &x->client.addr);
	x->client.port = (uint16_t)(40000 + id);
	mx_addr_parse("192.0.2.10", &x->server.addr);
	x->server.port = 25;
	x->start_ns = FX_T0_NS;
}

Test(store_bulk, provisional_row_is_written_once_per_batch_with_the_latest_state)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:lo", NULL, NULL), STORE_OK);
	sqlite3 *sdb = store_db(s);

	/* 40 interleaved open sessions, 5 transactions each, one batch */
	static struct mx_session sess[40];
	for (int i = 0; i < 40; i++)
		session(&sess[i], (uint64_t)i + 1);
	int before = sqlite3_total_changes(sdb);
	uint64_t tid = 1;
	for (int k = 0; k < 5; k++) {
		for (int i = 0; i < 40; i++) {
			if (k == 1)
				snprintf(sess[i].helo, sizeof(sess[i].helo), "client%d.example", i);
			cr_assert_eq(txn_event(s, &sess[i], tid++, k == 1 ? "EHLO" : "RCPT"),
			             STORE_OK, "%s", store_errmsg(s));
		}
	}
	mx_strlcpy(sess[7].rcpt_domains[0], "a.example", MX_NAME_MAX);
	mx_strlcpy(sess[7].rcpt_domains[1], "b.example", MX_NAME_MAX);
	sess[7].n_rcpt_domains = 2;
	cr_assert_eq(txn_event(s, &sess[7], tid++, "RCPT"), STORE_OK);
	/* session 40 ends in the same batch: only its complete row is written */
	struct mx_event end;
	memset(&end, 0, sizeof(end));
	end.type = EV_SESSION;
	end.u.session = sess[39];
	end.u.session.end_ns = FX_T0_NS + FX_SEC;
	end.u.session.outcome = MXO_OK;
	cr_assert_eq(store_event(s, &end), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	/* 201 transactions, 39 provisional rows, 1 complete row, the run's largest
	   transaction id (runs.txn_ids), the complete one's count (session_counts),
	   the rows' block (session_blocks), and each address and name once into
	   its dictionary (schema 12: the two addresses, 40 helos, one domain list) */
	cr_assert_eq(q_int(sdb, "SELECT count(*) FROM addrs"), 2);
	cr_assert_eq(q_int(sdb, "SELECT count(*) FROM names"), 41);
	cr_assert_eq(sqlite3_total_changes(sdb) - before, 201 + 39 + 1 + 1 + 1 + 1 + 2 + 41);

	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 0"), 39);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 1"
	                       " AND outcome = 'ok' AND id = 40"),
	             1);
	cr_assert_str_eq(q_text(db, "SELECT helo FROM sessions WHERE id = 5"), "client4.example");
	cr_assert_str_eq(q_text(db, "SELECT rcpt_domains FROM sessions WHERE id = 8"),
	                 "a.example,b.example");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM slow_replies WHERE protocol = 'smtp'"), 201);
	/* only the complete session is counted (schema 7); the open ones are rows */
	cr_assert_eq(q_int(db, "SELECT sum(n) FROM session_counts WHERE outcome = 'ok'"), 1);

	/* next batch: a late transaction updates the open row, not the ended one */
	mx_strlcpy(sess[0].sender_domain, "sender.example", MX_NAME_MAX);
	cr_assert_eq(txn_event(s, &sess[0], tid++, "MAIL"), STORE_OK);
	cr_assert_eq(txn_event(s, &sess[39], tid++, "QUIT"), STORE_OK);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_str_eq(q_text(db, "SELECT sender_domain FROM sessions WHERE id = 1"),
	                 "sender.example");
	cr_assert_str_eq(q_text(db, "SELECT complete || outcome FROM sessions WHERE id = 40"),
	                 "1ok");
	/* the end of the run ends the open ones: each counted once */
	cr_assert_eq(q_int(db, "SELECT sum(n) FROM session_counts"),
	             q_int(db, "SELECT count(*) FROM sessions WHERE complete = 1"));
	sqlite3_close(db);
	store_close(s);
}

Test(store_bulk, many_open_sessions_commit_early_and_lose_nothing)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "many", "many", NULL), STORE_OK);
	static struct mx_session x;
	for (uint64_t i = 1; i <= 5000; i++) {
		session(&x, i);
		cr_assert_eq(txn_event(s, &x, i, "GREETING"), STORE_OK, "%s", store_errmsg(s));
	}
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 0"), 5000);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions t JOIN sessions s"
	                       " ON s.id = t.session_id"),
	             5000);
	sqlite3_close(db);
}

/* ---- the writer thread ---- */

Test(store_bulk, writer_thread_stores_everything_at_close)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_begin_run(s, "threaded", "threaded", NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_start_writer(s), STORE_OK); /* once is enough */
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	/* far more events than the queue holds */
	static struct mx_session x;
	for (uint64_t i = 100; i < 3100; i++) {
		session(&x, i);
		cr_assert_eq(txn_event(s, &x, i, "NOOP"), STORE_OK, "%s", store_errmsg(s));
	}
	store_close(s); /* no store_end_run: close alone must store the queue */
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), FX_TXNS + 3000);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions"), FX_SESSIONS + 3000);
	cr_assert_eq(q_int(db, count_ix_sql), N_SECONDARY);
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	sqlite3_close(db);
}

/* the writer thread's copy of a session keeps the version 8 columns
 * (sessions.max_message, null_sender, bounce_*): the copy once dropped them */
Test(store_bulk, writer_thread_keeps_the_big_message_and_bounce_columns)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "threaded-v8", "threaded-v8", NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	static struct mx_session in, out;
	session(&in, 1);
	in.end_ns = FX_T0_NS + FX_SEC;
	in.outcome = MXO_OK;
	mx_strlcpy(in.sender_domain, "forged1.example", sizeof(in.sender_domain));
	in.max_message = 200000000;
	session(&out, 2);
	out.outbound = true;
	out.null_sender = true;
	mx_strlcpy(out.bounce_domain, "forged1.example", sizeof(out.bounce_domain));
	mx_addr_parse("192.0.2.203", &out.bounce_origin);
	out.bounce_session_id = 1;
	/* provisional rows (through a transaction), then the final rows */
	cr_assert_eq(txn_event(s, &in, 1, "MAIL"), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(txn_event(s, &out, 2, "MAIL"), STORE_OK, "%s", store_errmsg(s));
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session = in;
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	out.end_ns = FX_T0_NS + 3 * FX_SEC;
	out.outcome = MXO_UNANSWERED;
	ev.u.session = out;
	cr_assert_eq(store_event(s, &ev), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	sqlite3 *db = open_db();
	cr_assert_str_eq(q_text(db, "SELECT max_message || ' ' || null_sender || ' ' ||"
	                            " quote(bounce_domain) FROM sessions WHERE id = 1"),
	                 "200000000 0 NULL");
	cr_assert_str_eq(q_text(db, "SELECT quote(max_message) || ' ' || null_sender || ' ' ||"
	                            " bounce_domain || ' ' || bounce_origin || ' ' ||"
	                            " bounce_session_id FROM sessions WHERE id = 2"),
	                 "NULL 1 forged1.example 192.0.2.203 1");
	sqlite3_close(db);
}

Test(store_bulk, writer_thread_flush_commits_for_live_capture)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:lo", NULL, NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = open_db();
	for (int round = 1; round <= 3; round++) {
		static struct mx_session x;
		for (uint64_t i = 1; i <= 100; i++) {
			uint64_t id = (uint64_t)(round - 1) * 100 + i;
			session(&x, id);
			cr_assert_eq(txn_event(s, &x, id, "EHLO"), STORE_OK, "%s", store_errmsg(s));
		}
		cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
		/* visible to another connection right after the flush */
		cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), round * 100);
		cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 0"),
		             round * 100);
	}
	cr_assert_eq(q_int(store_db(s), "PRAGMA synchronous"), 1);
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(q_int(db, "SELECT count(*) FROM runs WHERE finished IS NOT NULL"), 1);
	/* a second run through the same store and thread */
	cr_assert_eq(store_begin_run(s, "live:lo", NULL, NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(fx_store_scenario(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	assert_ids_unique(db);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), 300 + FX_TXNS);
	sqlite3_close(db);
}

/* store_commit_soon(): the thread commits by itself, the caller never waits */
Test(store_bulk, writer_thread_commits_soon_without_a_drain, .timeout = 60)
{
	struct store *s = open_store();
	cr_assert_eq(store_begin_run(s, "live:lo", NULL, NULL), STORE_OK);
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	sqlite3 *db = open_db();
	static struct mx_session x;
	for (int round = 1; round <= 3; round++) {
		/* fewer events than wake a sleeping writer: only the request does */
		for (uint64_t i = 1; i <= 5; i++) {
			uint64_t id = (uint64_t)(round - 1) * 5 + i;
			session(&x, id);
			cr_assert_eq(txn_event(s, &x, id, "EHLO"), STORE_OK, "%s", store_errmsg(s));
		}
		cr_assert_eq(store_commit_soon(s), STORE_OK, "%s", store_errmsg(s));
		int64_t n = 0;
		for (int tries = 0; tries < 500 && n < round * 5; tries++) {
			usleep(10000);
			n = q_int(db, "SELECT count(*) FROM transactions");
		}
		cr_assert_eq(n, round * 5, "round %d: committed by the thread", round);
	}
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), 15);
	sqlite3_close(db);
	/* without a thread it is a plain flush */
	s = open_store();
	cr_assert_eq(store_begin_run(s, "live:lo", NULL, NULL), STORE_OK);
	session(&x, 100);
	cr_assert_eq(txn_event(s, &x, 100, "EHLO"), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_commit_soon(s), STORE_OK);
	db = open_db();
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions WHERE id > 15"), 1);
	sqlite3_close(db);
	store_close(s);
}

Test(store_bulk, writer_thread_errors_are_reported_and_sticky)
{
	struct store *s = open_store();
	cr_assert_eq(store_start_writer(s), STORE_OK);
	/* misuse is still reported at once */
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = 1;
	cr_assert_eq(store_event(s, &ev), STORE_USAGE);
	cr_assert(strstr(store_errmsg(s), "store_begin_run") != NULL, "%s", store_errmsg(s));
	cr_assert_eq(store_begin_run(s, "full", "full", NULL), STORE_OK, "%s", store_errmsg(s));
	ev.u.dns.id = 0;
	cr_assert_eq(store_event(s, &ev), STORE_USAGE);
	cr_assert(strstr(store_errmsg(s), "without an id") != NULL, "%s", store_errmsg(s));

	cr_assert_eq(store_flush(s), STORE_OK);
	sqlite3 *sdb = store_db(s);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	         (long long)q_int(sdb, "PRAGMA page_count") + 20);
	cr_assert_eq(sqlite3_exec(sdb, sql, NULL, NULL, NULL), SQLITE_OK);
	ev.u.dns.ts_ns = FX_T0_NS;
	memset(ev.u.dns.answers, 'x', sizeof(ev.u.dns.answers) - 1);
	int rc = STORE_OK;
	uint64_t i;
	for (i = 1; i < 100000 && rc == STORE_OK; i++) {
		ev.u.dns.id = i;
		rc = store_event(s, &ev);
	}
	/* reported by a later store_event (the queue was in between) */
	cr_assert_eq(rc, STORE_ERR);
	cr_assert(strstr(store_errmsg(s), "full") != NULL, "%s", store_errmsg(s));
	cr_assert_eq(store_event(s, &ev), STORE_ERR);
	cr_assert_eq(store_flush(s), STORE_ERR);
	cr_assert_eq(store_end_run(s, NULL), STORE_ERR);
	cr_assert(strstr(store_errmsg(s), "full") != NULL, "%s", store_errmsg(s));
	store_close(s);

	sqlite3 *db = open_db();
	cr_assert_str_eq(q_text(db, "PRAGMA integrity_check"), "ok");
	cr_assert_eq(q_int(db, "SELECT count(*) FROM dns_queries WHERE length(answers) <> 511"), 0);
	sqlite3_close(db);
}

/* ---- ended sessions held for id order (held.h) ---- */

/* A reply of ms milliseconds in session sess (transaction id id). */
static int
reply_event(struct store *s, const struct mx_session *sess, uint64_t id, uint64_t ms)
{
	return txn_at(s, sess, id, "MAIL", FX_T0_NS + sess->id * FX_MS, ms);
}

static int
end_event(struct store *s, struct mx_session *x)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session = *x;
	ev.u.session.end_ns = FX_T0_NS + x->id * FX_MS + FX_SEC;
	ev.u.session.outcome = MXO_OK;
	return store_event(s, &ev);
}

/* 3000 sessions ending in blocks of 1000, each block last id first: their
 * rows still go into the table in id order, so its pages are full */
Test(store_bulk, sessions_ending_out_of_order_are_written_in_id_order)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "order", "order", NULL), STORE_OK);
	static struct mx_session x;
	for (uint64_t b = 0; b < 3; b++)
		for (uint64_t k = 1000; k >= 1; k--) {
			uint64_t id = b * 1000 + k;
			session(&x, id);
			mx_strlcpy(x.helo, "client.example", sizeof(x.helo));
			cr_assert_eq(reply_event(s, &x, 2 * id, 10), STORE_OK, "%s", store_errmsg(s));
			cr_assert_eq(reply_event(s, &x, 2 * id + 1, 12), STORE_OK);
			cr_assert_eq(end_event(s, &x), STORE_OK, "%s", store_errmsg(s));
		}
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	sqlite3 *db = open_db();
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 1"), 3000);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM compact_replies"), 6000);
	cr_assert_eq(q_int(db, "SELECT sum(n) FROM session_counts"), 3000);
	/* written as they ended, about half of each page stayed free */
	int64_t unused = q_int(db, "SELECT sum(unused) FROM dbstat WHERE name = 'session_rows'");
	int64_t size = q_int(db, "SELECT sum(pgsize) FROM dbstat WHERE name = 'session_rows'");
	cr_assert_lt(unused * 10, size, "%lld of %lld bytes free", (long long)unused,
	             (long long)size);
	sqlite3_close(db);
}

/* Ended sessions are held across commits, but never one that a committed
 * transaction row names, and the per-minute counts equal the complete rows
 * at every commit. */
Test(store_bulk, held_rows_keep_every_commit_consistent)
{
	struct store *s = open_store();
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "live:held", NULL, NULL), STORE_OK);
	static struct mx_session x;
	uint64_t tid = 1;
	/* 3 kept replies a session: past STORE_BATCH_ROWS the batch commits */
	for (uint64_t id = 1; id <= 2000; id++) {
		session(&x, id);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(reply_event(s, &x, tid++, 10), STORE_OK, "%s",
			             store_errmsg(s));
		if (id % 10 == 0) /* a slow reply: a row of transactions */
			cr_assert_eq(reply_event(s, &x, tid++, 2000), STORE_OK);
		cr_assert_eq(end_event(s, &x), STORE_OK, "%s", store_errmsg(s));
	}
	sqlite3 *db = open_db();
	int64_t rows = q_int(db, "SELECT count(*) FROM session_rows");
	cr_assert_gt(rows, 0, "no commit yet");
	cr_assert_gt(q_int(db, "SELECT count(*) FROM transactions"), 0);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions t WHERE NOT EXISTS"
	                       " (SELECT 1 FROM session_rows s WHERE s.id = t.session_id)"),
	             0);
	cr_assert_eq(q_int(db, "SELECT coalesce(sum(n), 0) FROM session_counts"),
	             q_int(db, "SELECT count(*) FROM session_rows WHERE complete = 1"));
	cr_assert_eq(store_flush(s), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(q_int(db, "SELECT count(*) FROM sessions WHERE complete = 1"), 2000);
	cr_assert_eq(q_int(db, "SELECT sum(n) FROM session_counts"), 2000);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM transactions"), 200);
	cr_assert_eq(q_int(db, "SELECT count(*) FROM compact_replies"), 6000);
	sqlite3_close(db);
	store_close(s);
}

/* A reply of session x, answered after ms milliseconds, through the store. */
static void
queue_reply(struct store *s, struct mx_event *ev, struct mx_session *x, uint64_t id, uint64_t ms)
{
	mx_event_init(ev, EV_TXN);
	ev->session = x;
	struct mx_txn *t = &ev->u.txn;
	t->id = id;
	t->session_id = x->id;
	mx_strlcpy(t->command, "NOOP", sizeof(t->command));
	t->request_ns = FX_T0_NS + id * 1000000u;
	t->reply_ns = t->request_ns + ms * 1000000u;
	mx_strlcpy(t->reply_code, "250", sizeof(t->reply_code));
	t->outcome = MXO_OK;
	x->replies++; /* as txnq_emit() counts them */
	cr_assert_eq(store_event(s, ev), STORE_OK, "reply %" PRIu64 ": %s", id, store_errmsg(s));
}

static void
smtp_session(struct mx_session *x, uint64_t id, const char *server)
{
	x->id = id;
	x->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.30", &x->client.addr);
	x->client.port = (uint16_t)(40000 + id);
	mx_addr_parse(server, &x->server.addr);
	x->server.port = 25;
	x->server_is_host = true;
	x->start_ns = FX_T0_NS;
	mx_strlcpy(x->helo, "client.example", sizeof(x->helo));
}

/*
 * A bulk load through the writer thread queues an ordinary reply's session
 * as its key only (store.c, struct wkey).  Session 21: its first
 * COMPACT_MAX_PER_SESSION ordinary replies go into its record; the two
 * past that cap and a notable one become rows, whose provisional session
 * row needs the whole session (at the cap to the reply: off by one, a row
 * would come without its session and the load would stop).  Session 22
 * never ends: its replies are counted at the end of the run under the host
 * its key named.
 */
Test(store_bulk, writer_queues_an_ordinary_replys_session_as_its_key)
{
	struct store *s = open_store();
	cr_assert_eq(store_bulk_load(s), STORE_OK);
	cr_assert_eq(store_set_notable_ms(s, 1000), STORE_OK);
	cr_assert_eq(store_begin_run(s, "key.pcap", "key", NULL), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_start_writer(s), STORE_OK, "%s", store_errmsg(s));
	struct mx_event *ev = calloc(3, sizeof(*ev));
	cr_assert_not_null(ev);
	struct mx_session *x = &ev[1].u.session, *y = &ev[2].u.session;
	smtp_session(x, 21, "203.0.113.5");
	smtp_session(y, 22, "203.0.113.6");
	const int n = COMPACT_MAX_PER_SESSION + 3;
	for (int i = 0; i < n; i++)
		queue_reply(s, &ev[0], x, 100 + (uint64_t)i, i == n - 1 ? 2000 : 1);
	for (int i = 0; i < 3; i++)
		queue_reply(s, &ev[0], y, 10000 + (uint64_t)i, 1);
	x->end_ns = FX_T0_NS + 10 * FX_SEC;
	x->outcome = MXO_OK;
	ev[1].type = EV_SESSION;
	cr_assert_eq(store_event(s, &ev[1]), STORE_OK, "%s", store_errmsg(s));
	cr_assert_eq(store_end_run(s, NULL), STORE_OK, "%s", store_errmsg(s));
	store_close(s);
	free(ev);

	sqlite3 *db = open_db();
	cr_expect_eq(q_int(db, "SELECT count(*) FROM transactions WHERE session_id = 21"), 3);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM replies WHERE session_id = 21"), n);
	cr_expect_str_eq(q_text(db, "SELECT helo FROM sessions WHERE id = 21"), "client.example");
	cr_expect_eq(q_int(db, "SELECT sum(replies) FROM latency_hist"
	                       " WHERE host = '203.0.113.5' AND protocol = 'smtp'"),
	             n);
	cr_expect_eq(q_int(db, "SELECT sum(replies) FROM latency_hist"
	                       " WHERE host = '203.0.113.6' AND protocol = 'smtp'"),
	             3);
	sqlite3_close(db);
}
