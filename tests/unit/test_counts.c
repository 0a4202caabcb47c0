/* test_counts.c - the writer's per-minute session and DNS counts (schema/counts.h). */
#include "../../schema/counts.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct seen {
	struct count_row r[4096];
	size_t n;
	int fail_at; /* return 1 at this call (1-based), 0 = never */
};

static int
collect(void *arg, const struct count_row *r)
{
	struct seen *s = arg;
	if (s->fail_at && (int)s->n + 1 == s->fail_at)
		return 1;
	cr_assert_lt(s->n, sizeof(s->r) / sizeof(s->r[0]));
	s->r[s->n++] = *r;
	return 0;
}

static struct count_row
session(int64_t minute, const char *host, const char *outcome)
{
	struct count_row k = {.kind = COUNT_SESSION, .minute = minute};
	snprintf(k.a, sizeof(k.a), "%s", host);
	snprintf(k.b, sizeof(k.b), "smtp");
	snprintf(k.c, sizeof(k.c), "%s", outcome);
	return k;
}

static uint64_t
n_of(const struct seen *s, const struct count_row *k)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct count_row *r = &s->r[i];
		if (r->kind == k->kind && r->minute == k->minute && !strcmp(r->a, k->a) &&
		    !strcmp(r->b, k->b) && !strcmp(r->c, k->c) && r->outbound == k->outbound &&
		    r->client_is_host == k->client_is_host)
			return r->n;
	}
	return 0;
}

Test(counts, minute_is_the_reports_floor)
{
	cr_assert_eq(counts_minute(1767225600.0), 1767225600);
	cr_assert_eq(counts_minute(1767225659.999999), 1767225600);
	cr_assert_eq(counts_minute(1767225660.0), 1767225660);
	cr_assert_eq(counts_minute(1e-9), 0);
	/* the doubles just below a minute stay in the minute before */
	double t = nextafter(1767225660.0, 0);
	cr_assert_eq(counts_minute(t), 1767225600);
}

Test(counts, groups_are_counted_and_forgotten_at_the_flush)
{
	struct counts *c = counts_new();
	struct seen s = {0};
	struct count_row a = session(60, "192.0.2.10", "ok");
	struct count_row b = session(60, "192.0.2.10", "client-abort");
	struct count_row d = session(120, "192.0.2.10", "ok");
	struct count_row e = session(60, "", "ok"); /* no monitored host */
	struct count_row o = a;
	o.outbound = true;
	struct count_row q = {.kind = COUNT_DNS, .minute = 60};
	snprintf(q.a, sizeof(q.a), "198.51.100.53");
	snprintf(q.b, sizeof(q.b), "PTR");
	snprintf(q.c, sizeof(q.c), "ok"); /* same strings as a: another kind */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(counts_add(c, &a), 0);
	cr_assert_eq(counts_add(c, &b), 0);
	cr_assert_eq(counts_add(c, &d), 0);
	cr_assert_eq(counts_add(c, &e), 0);
	cr_assert_eq(counts_add(c, &o), 0);
	cr_assert_eq(counts_add(c, &q), 0);
	cr_assert_eq(counts_add(c, &q), 0);
	cr_assert_eq(counts_pending(c), 6);
	cr_assert_eq(counts_flush(c, collect, &s), 0);
	cr_assert_eq(s.n, 6);
	cr_assert_eq(n_of(&s, &a), 3);
	cr_assert_eq(n_of(&s, &b), 1);
	cr_assert_eq(n_of(&s, &d), 1);
	cr_assert_eq(n_of(&s, &e), 1);
	cr_assert_eq(n_of(&s, &o), 1);
	cr_assert_eq(n_of(&s, &q), 2);
	cr_assert_eq(counts_pending(c), 0);
	/* the next batch starts from nothing */
	s.n = 0;
	cr_assert_eq(counts_add(c, &a), 0);
	cr_assert_eq(counts_flush(c, collect, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(n_of(&s, &a), 1);
	counts_free(c);
}

Test(counts, many_groups_in_one_batch)
{
	struct counts *c = counts_new();
	struct seen s = {0};
	/* 3000 hosts, each twice: the table grows, then gives its memory back */
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 3000; i++) {
			char h[48];
			snprintf(h, sizeof(h), "2001:db8::%x", i);
			struct count_row r = session(600, h, "ok");
			cr_assert_eq(counts_add(c, &r), 0);
		}
	cr_assert_eq(counts_pending(c), 3000);
	cr_assert_eq(counts_flush(c, collect, &s), 0);
	cr_assert_eq(s.n, 3000);
	for (size_t i = 0; i < s.n; i++)
		cr_assert_eq(s.r[i].n, 2);
	struct count_row r = session(660, "192.0.2.10", "ok");
	cr_assert_eq(counts_add(c, &r), 0);
	cr_assert_eq(counts_pending(c), 1);
	counts_free(c);
}

Test(counts, a_failing_write_stops_the_flush)
{
	struct counts *c = counts_new();
	struct seen s = {.fail_at = 2};
	for (int i = 0; i < 5; i++) {
		struct count_row r = session(60 * i, "192.0.2.10", "ok");
		cr_assert_eq(counts_add(c, &r), 0);
	}
	cr_assert_eq(counts_flush(c, collect, &s), 1);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(counts_pending(c), 0);
	counts_free(c);
	counts_free(NULL);
}
