/*
 * counts.h - per-minute counts of sessions and DNS queries (schema 7:
 * session_counts, dns_counts), so that a report's totals cost what its
 * window's minutes cost, not what its rows cost.
 *
 * The writer counts each complete session (by the minute of
 * coalesce(start, syn)) and each DNS query (by the minute of ts) as its row
 * is written, in the open batch, and adds the batch's counts to the tables
 * just before the batch commits (an upsert per group: one row per group and
 * minute, exact at every commit, also after a crash).  Open sessions are
 * not counted until they end: readers count the rows with complete = 0.
 */
#ifndef MXLAG_COUNTS_H
#define MXLAG_COUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum count_kind { COUNT_SESSION, COUNT_DNS };

/*
 * One group of the open batch.  COUNT_SESSION: a = host ("" = none),
 * b = protocol, c = outcome, outbound and client_is_host set.  COUNT_DNS:
 * a = server, b = qtype, c = outcome.
 */
struct count_row {
	enum count_kind kind;
	int64_t minute; /* epoch seconds, a multiple of 60 */
	char a[48], b[16], c[24];
	bool outbound, client_is_host;
	uint64_t n;
};

struct counts;

struct counts *counts_new(void);
void counts_free(struct counts *c);

/* the minute (epoch seconds, a multiple of 60) of a time stored as t seconds */
int64_t counts_minute(double t);

/* Adds one to the group of k (k->n is ignored).  0, or -1 when out of memory. */
int counts_add(struct counts *c, const struct count_row *k);

/*
 * Hands every group to fn and forgets them all.  Stops at the first non-zero
 * return of fn and returns it (the groups are forgotten all the same: the
 * caller's batch is lost then).
 */
int counts_flush(struct counts *c, int (*fn)(void *arg, const struct count_row *r), void *arg);

/* groups held (for tests) */
size_t counts_pending(const struct counts *c);

#endif
