/* test_dict.c - dictionary ids for the writer (schema/dict.c). */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>

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

Test(dict, a_full_cache_starts_over_and_ids_stay_right)
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
