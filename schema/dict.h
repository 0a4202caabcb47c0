/*
 * dict.h - the writer's side of a dictionary table of the schema (addrs,
 * names): the id of a text, the row added when the text is new, with a
 * bounded cache in front of the table so that a repeated text costs no
 * SQL.  Each entry's last_minute follows the rows that use it (to within
 * DICT_TOUCH_S), so that prune can tell the entries no row needs.
 *
 * The cache trusts the table: dict_forget() must be called when another
 * connection may have removed entries (the store does so when PRAGMA
 * data_version moves) and after a rollback.
 */
#ifndef MXLAG_DICT_H
#define MXLAG_DICT_H

#include <sqlite3.h>
#include <stdint.h>

#define DICT_NO_MINUTE INT64_MIN /* the using row's time is unknown */
#define DICT_TOUCH_S 3600        /* last_minute is written when this far behind */
/* prune keeps the entries used less than this before its cutoff: last_minute
 * may lag the latest use by DICT_TOUCH_S plus the minute itself */
#define DICT_PRUNE_GRACE_S (DICT_TOUCH_S + 60)

struct dict;

/* table and column: identifiers of the schema (constants, not input).
 * cache_max: texts kept in memory (when it is full, a new text takes the
 * place of one not looked up lately: CLOCK).
 * NULL when out of memory or the statements do not compile (the message
 * is sqlite3_errmsg(db) then). */
struct dict *dict_new(sqlite3 *db, const char *table, const char *column, uint32_t cache_max);

/* The id of text (a non-empty string) into *id, the entry added if there
 * is none; minute: the using row's minute (epoch seconds, a multiple of
 * 60) or DICT_NO_MINUTE.  Inside the caller's transaction.  SQLITE_OK,
 * SQLITE_NOMEM or the error of the failing statement. */
int dict_id(struct dict *d, const char *text, int64_t minute, int64_t *id);

/* dict_id() of a's text (mx_addr_fmt(); a: family 4 or 6), found by the
 * address itself when it is cached: no formatting, hashing or compare of
 * the text. */
struct mx_addr;
int dict_addr_id(struct dict *d, const struct mx_addr *a, int64_t minute, int64_t *id);

/* Empties the cache (and drops the filter of texts met: another
 * connection may have added some). */
void dict_forget(struct dict *d);

/* Texts in the cache, and the lookups that needed SQL (for the tests). */
uint32_t dict_cached(const struct dict *d);
uint64_t dict_misses(const struct dict *d);

void dict_free(struct dict *d);

#endif
