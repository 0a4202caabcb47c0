/* test_dict.c - dictionary ids for the writer (schema/dict.c). */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "../../capture/addr.h"
#include "../../schema/dict.h"

static sqlite3 *db;

static void
setup(void)
{
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE names (id INTEGER PRIMARY KEY,"
	                          " name TEXT NOT NULL UNIQUE, last_minute INTEGER)",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE addrs (id INTEGER PRIMARY KEY,"
	                          " addr TEXT NOT NULL UNIQUE, last_minute INTEGER)",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
}

static void
teardown(void)
{
	sqlite3_close(db);
}

TestSuite(dict, .init = setup, .fini = teardown);

static long long
q_int(const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	long long v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t
id_of(struct dict *d, const char *text, int64_t minute)
{
	int64_t id = -1;
	cr_assert_eq(dict_id(d, text, minute, &id), SQLITE_OK, "%s", sqlite3_errmsg(db));
	return id;
}

Test(dict, a_text_gets_one_id_and_a_repeat_costs_no_sql)
{
	struct dict *d = dict_new(db, "names", "name", 64);
	cr_assert_not_null(d);
	int64_t a = id_of(d, "200.113.0.203.in-addr.arpa", 60);
	int64_t b = id_of(d, "mail.example.org", 60);
	cr_expect_neq(a, b);
	cr_expect_eq(id_of(d, "200.113.0.203.in-addr.arpa", 120), a);
	cr_expect_eq(dict_misses(d), 2);
	cr_expect_eq(q_int("SELECT count(*) FROM names"), 2);
	cr_expect_eq(q_int("SELECT id FROM names WHERE name = 'mail.example.org'"), b);
	/* a forgotten cache reads the table again: same ids, no new rows */
	dict_forget(d);
	cr_expect_eq(dict_cached(d), 0);
	cr_expect_eq(id_of(d, "mail.example.org", 120), b);
	cr_expect_eq(dict_misses(d), 3);
	cr_expect_eq(q_int("SELECT count(*) FROM names"), 2);
	dict_free(d);
}

Test(dict, entries_added_by_others_are_found)
{
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO names (id, name, last_minute)"
	                              " VALUES (42, 'example.org', NULL)",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	struct dict *d = dict_new(db, "names", "name", 64);
	cr_expect_eq(id_of(d, "example.org", DICT_NO_MINUTE), 42);
	cr_expect_eq(q_int("SELECT last_minute FROM names WHERE id = 42"), -1, "no time: untouched");
	cr_expect_eq(id_of(d, "example.org", 600), 42);
	cr_expect_eq(q_int("SELECT last_minute FROM names WHERE id = 42"), 600);
	dict_free(d);
}

Test(dict, last_minute_follows_the_rows_to_within_an_hour)
{
	struct dict *d = dict_new(db, "names", "name", 64);
	int64_t a = id_of(d, "example.net", 1000 * 60);
	cr_expect_eq(q_int("SELECT last_minute FROM names"), 60000);
	/* within DICT_TOUCH_S: not written (the cache and the table agree) */
	id_of(d, "example.net", 60000 + DICT_TOUCH_S);
	cr_expect_eq(q_int("SELECT last_minute FROM names"), 60000);
	id_of(d, "example.net", 60000 + DICT_TOUCH_S + 60);
	cr_expect_eq(q_int("SELECT last_minute FROM names"), 60000 + DICT_TOUCH_S + 60);
	/* an older row never moves it back */
	dict_forget(d);
	cr_expect_eq(id_of(d, "example.net", 60), a);
	cr_expect_eq(q_int("SELECT last_minute FROM names"), 60000 + DICT_TOUCH_S + 60);
	dict_free(d);
}

Test(dict, a_full_cache_replaces_entries_and_ids_stay_right)
{
	struct dict *d = dict_new(db, "names", "name", 16);
	char name[32];
	int64_t ids[100];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		ids[i] = id_of(d, name, 60);
		cr_assert_leq(dict_cached(d), 16);
	}
	for (int i = 99; i >= 0; i--) {
		snprintf(name, sizeof(name), "n%d.example", i);
		cr_expect_eq(id_of(d, name, 60), ids[i]);
	}
	cr_expect_eq(q_int("SELECT count(*) FROM names"), 100);
	cr_expect_eq(q_int("SELECT count(DISTINCT id) FROM names"), 100);
	dict_free(d);
}

Test(dict, a_failing_table_reports_its_error)
{
	struct dict *d = dict_new(db, "names", "name", 64);
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TRIGGER no_more BEFORE INSERT ON names"
	                          " BEGIN SELECT RAISE(ABORT, 'full'); END",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	int64_t id;
	cr_expect_neq(dict_id(d, "new.example", 60, &id), SQLITE_OK);
	cr_expect_eq(dict_cached(d), 0, "nothing cached on failure");
	dict_free(d);
	cr_expect_null(dict_new(db, "no_such_table", "name", 64));
}

static int64_t
addr_id(struct dict *d, const struct mx_addr *a, int64_t minute)
{
	int64_t id = -1;
	cr_assert_eq(dict_addr_id(d, a, minute, &id), SQLITE_OK, "%s", sqlite3_errmsg(db));
	return id;
}

/*
 * An address looked up by itself gets the id of its text, whichever way
 * either was looked up first, through caches that empty as they fill
 * (16 entries: every few addresses), and its last_minute moves as a
 * text's does.  IPv4 bytes past the fourth are not part of the address.
 */
Test(dict, an_address_gets_its_text_s_id)
{
	struct dict *d = dict_new(db, "addrs", "addr", 16);
	enum { N = 300 };
	static struct mx_addr a[N];
	char text[MX_ADDRSTRLEN];
	for (int i = 0; i < N; i++) {
		char s[64];
		if (i % 3 == 2)
			snprintf(s, sizeof(s), "2001:db8::%x", i);
		else
			snprintf(s, sizeof(s), "198.51.%d.%d", i / 200, i % 200);
		cr_assert(mx_addr_parse(s, &a[i]), "%s", s);
	}
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < N; k++) {
			/* a walk that repeats addresses soon and late */
			int i = (k * 7 + round * 13) % N;
			struct mx_addr x = a[i];
			if (x.family == 4)
				memset(x.a + 4, 0x5a + k, sizeof(x.a) - 4);
			int64_t by_addr, by_text;
			if ((k + round) % 2) {
				by_addr = addr_id(d, &x, 60);
				by_text = id_of(d, mx_addr_fmt(&a[i], text, sizeof(text)), 60);
			} else {
				by_text = id_of(d, mx_addr_fmt(&a[i], text, sizeof(text)), 60);
				by_addr = addr_id(d, &x, 60);
			}
			cr_assert_eq(by_addr, by_text, "%s", text);
			cr_assert_eq(addr_id(d, &a[i], 60), by_text, "%s again", text);
			cr_assert_leq(dict_cached(d), 16);
		}
	}
	cr_expect_eq(q_int("SELECT count(*) FROM addrs"), N);
	/* last_minute: moved when an hour behind, by address as by text */
	int64_t id = addr_id(d, &a[0], 60);
	addr_id(d, &a[0], 60 + 3600 + 60);
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT last_minute FROM addrs WHERE id = %lld", (long long)id);
	cr_expect_eq(q_int(sql), 60 + 3600 + 60);
	dict_free(d);
}

/* After dict_forget() (another connection pruned the table) an address is
 * looked up in the table again, as a text is: no id of a deleted row. */
Test(dict, a_forgotten_address_is_looked_up_again)
{
	struct dict *d = dict_new(db, "addrs", "addr", 64);
	struct mx_addr a;
	cr_assert(mx_addr_parse("203.0.113.7", &a));
	int64_t first = addr_id(d, &a, 60);
	cr_assert_eq(sqlite3_exec(db, "DELETE FROM addrs; INSERT INTO addrs (addr) VALUES ('x')",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	dict_forget(d);
	int64_t id = addr_id(d, &a, 60);
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM addrs WHERE id = %lld AND addr = '203.0.113.7'",
	         (long long)id);
	cr_expect_eq(q_int(sql), 1, "id %lld (before: %lld)", (long long)id, (long long)first);
	dict_free(d);
}

/* A full cache gives way with the names met once, not with the one used
 * all the time: after its first lookup it never costs SQL again. */
Test(dict, a_text_used_often_stays_while_one_off_texts_pass)
{
	struct dict *d = dict_new(db, "names", "name", 16);
	int64_t hot = id_of(d, "mail.example.test", 60);
	char name[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "once%d.example", i);
		id_of(d, name, 60);
		if (i % 8 == 0) {
			uint64_t m = dict_misses(d);
			cr_assert_eq(id_of(d, "mail.example.test", 60), hot);
			cr_assert_eq(dict_misses(d), m, "the often used name was replaced (%d)", i);
		}
		cr_assert_leq(dict_cached(d), 16);
	}
	cr_expect_eq(dict_misses(d), 1001);
	dict_free(d);
}

static unsigned rnd_state = 12345;

static unsigned
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* Texts and addresses looked up in a random mix through a cache far smaller
 * than the set (entries replaced all the time, slots shifted on every
 * replacement): every id is the table's. */
Test(dict, a_random_mix_always_gets_the_table_s_ids)
{
	struct dict *d = dict_new(db, "addrs", "addr", 16);
	sqlite3_stmt *q;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id FROM addrs WHERE addr = ?1", -1, &q, NULL),
	             SQLITE_OK);
	char text[MX_ADDRSTRLEN];
	uint64_t hot_misses = 0;
	for (int k = 0; k < 20000; k++) {
		/* few hot addresses, many warm, some cold */
		unsigned r = rnd() % 100, i = r < 50 ? rnd() % 4 : r < 90 ? rnd() % 40 : rnd() % 400;
		char s[64];
		if (i % 5 == 4)
			snprintf(s, sizeof(s), "2001:db8::%x", i);
		else
			snprintf(s, sizeof(s), "203.0.%u.%u", i / 250, i % 250);
		struct mx_addr a;
		cr_assert(mx_addr_parse(s, &a), "%s", s);
		mx_addr_fmt(&a, text, sizeof(text));
		uint64_t m = dict_misses(d);
		int64_t got = rnd() % 2 ? addr_id(d, &a, 60) : id_of(d, text, 60);
		if (i < 4)
			hot_misses += dict_misses(d) - m;
		sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", text);
		cr_assert_eq(got, sqlite3_column_int64(q, 0), "%s at %d", text, k);
		sqlite3_reset(q);
		cr_assert_leq(dict_cached(d), 16);
	}
	sqlite3_finalize(q);
	/* the 4 hot ones (half the lookups) seldom went to the table: 121
	   times in this stream, against 2 608 with a cache emptied when full
	   (and 7 300 misses in all, against 10 682) */
	cr_expect_leq(hot_misses, 200, "%llu of %llu", (unsigned long long)hot_misses,
	              (unsigned long long)dict_misses(d));
	cr_expect_lt(dict_misses(d), 8000);
	dict_free(d);
}

/* statements run on db, by their first word */
static int n_select, n_insert;

static int
count_stmt(unsigned type, void *ctx, void *p, void *x)
{
	(void)ctx;
	(void)x;
	if (type == SQLITE_TRACE_STMT) {
		const char *sql = sqlite3_sql(p);
		n_select += strncmp(sql, "SELECT", 6) == 0;
		n_insert += strncmp(sql, "INSERT", 6) == 0;
	}
	return 0;
}

/* Into a table that was empty, a new text costs one statement (its INSERT)
 * instead of a SELECT that finds nothing and then the INSERT; a text that
 * got into the table by another way is still found, with its own id. */
Test(dict, a_new_table_s_new_texts_cost_one_statement)
{
	struct dict *d = dict_new(db, "names", "name", 16);
	sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_stmt, NULL);
	char name[32];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "new%d.example", i);
		id_of(d, name, 60);
	}
	cr_expect_eq(n_insert, 200);
	cr_expect_eq(n_select, 0);
	/* known ones the cache let go: read (the filter knows them) */
	n_select = n_insert = 0;
	cr_expect_eq(id_of(d, "new0.example", 60), 1);
	cr_expect_eq(n_select, 1);
	cr_expect_eq(n_insert, 0);
	/* added behind the dict's back: the INSERT does nothing, the SELECT finds it */
	sqlite3_trace_v2(db, 0, NULL, NULL);
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO names (id, name) VALUES (777, 'aside.example')",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	cr_expect_eq(id_of(d, "aside.example", 60), 777);
	cr_expect_eq(q_int("SELECT count(*) FROM names"), 201);
	/* after dict_forget() (another connection wrote) every miss reads first */
	dict_forget(d);
	sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_stmt, NULL);
	n_select = n_insert = 0;
	int64_t id = id_of(d, "later.example", 60);
	cr_expect_eq(n_select, 1);
	cr_expect_eq(n_insert, 1);
	cr_expect_eq(id, 778);
	sqlite3_trace_v2(db, 0, NULL, NULL);
	dict_free(d);
}

/* A table with rows when the dict was made: every miss reads first. */
Test(dict, a_table_with_rows_is_read_first)
{
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO names (name) VALUES ('old.example')", NULL, NULL,
	                          NULL),
	             SQLITE_OK);
	struct dict *d = dict_new(db, "names", "name", 16);
	sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_stmt, NULL);
	n_select = n_insert = 0;
	cr_expect_eq(id_of(d, "old.example", 60), 1);
	id_of(d, "new.example", 60);
	cr_expect_eq(n_select, 2);
	cr_expect_eq(n_insert, 1);
	sqlite3_trace_v2(db, 0, NULL, NULL);
	dict_free(d);
}
