/* dict.c - dictionary ids for the writer (dict.h). */
#include "dict.h"

#include "../capture/addr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct dict_ent {
	uint32_t hash; /* text_hash() */
	int64_t id;
	int64_t minute; /* last_minute as the table has it (DICT_NO_MINUTE: NULL) */
	char *text;     /* NULL: a free slot */
};

/* dict_addr_id(): an address's entry in tab, found without its text */
struct dict_addr {
	struct mx_addr a;
	uint32_t ent; /* index + 1 into tab; 0: a free slot */
};

struct dict {
	sqlite3 *db;
	sqlite3_stmt *get, *add, *touch;
	struct dict_ent *tab; /* open addressing, linear probing */
	struct dict_addr *atab; /* as many slots as tab, made by the first dict_addr_id() */
	uint32_t mask;        /* slots - 1: twice cache_max, a power of two */
	uint32_t n, max;
	uint32_t an;          /* atab's entries: at most max */
	uint64_t misses;
};

struct dict *
dict_new(sqlite3 *db, const char *table, const char *column, uint32_t cache_max)
{
	if (cache_max < 16)
		cache_max = 16;
	if (cache_max > (1u << 24))
		cache_max = 1u << 24;
	uint32_t slots = 32;
	while (slots < 2 * cache_max)
		slots *= 2;
	struct dict *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->db = db;
	d->max = cache_max;
	d->mask = slots - 1;
	d->tab = calloc(slots, sizeof(*d->tab));
	char *get = sqlite3_mprintf("SELECT id, last_minute FROM \"%w\" WHERE \"%w\" = ?1", table,
	                            column);
	char *add = sqlite3_mprintf("INSERT INTO \"%w\" (\"%w\", last_minute) VALUES (?1, ?2)", table,
	                            column);
	char *touch = sqlite3_mprintf("UPDATE \"%w\" SET last_minute = ?2 WHERE id = ?1"
	                              " AND (last_minute IS NULL OR last_minute < ?2)",
	                              table);
	bool ok = d->tab && get && add && touch &&
	          sqlite3_prepare_v3(db, get, -1, SQLITE_PREPARE_PERSISTENT, &d->get, NULL) == SQLITE_OK &&
	          sqlite3_prepare_v3(db, add, -1, SQLITE_PREPARE_PERSISTENT, &d->add, NULL) == SQLITE_OK &&
	          sqlite3_prepare_v3(db, touch, -1, SQLITE_PREPARE_PERSISTENT, &d->touch, NULL) ==
	              SQLITE_OK;
	sqlite3_free(get);
	sqlite3_free(add);
	sqlite3_free(touch);
	if (!ok) {
		dict_free(d);
		return NULL;
	}
	return d;
}

void
dict_forget(struct dict *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i <= d->mask; i++) {
		free(d->tab[i].text);
		d->tab[i].text = NULL;
	}
	if (d->atab)
		memset(d->atab, 0, ((size_t)d->mask + 1) * sizeof(*d->atab));
	d->n = 0;
	d->an = 0;
}

void
dict_free(struct dict *d)
{
	if (!d)
		return;
	if (d->tab)
		dict_forget(d);
	free(d->tab);
	free(d->atab);
	sqlite3_finalize(d->get);
	sqlite3_finalize(d->add);
	sqlite3_finalize(d->touch);
	free(d);
}

uint32_t
dict_cached(const struct dict *d)
{
	return d ? d->n : 0;
}

uint64_t
dict_misses(const struct dict *d)
{
	return d ? d->misses : 0;
}

/* The table's entry for text, read or added: id and last_minute. */
static int
lookup(struct dict *d, const char *text, int64_t minute, int64_t *id, int64_t *last)
{
	sqlite3_stmt *st = d->get;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*last = sqlite3_column_type(st, 1) == SQLITE_NULL ? DICT_NO_MINUTE
		                                                  : sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		st = d->add;
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		if (minute != DICT_NO_MINUTE)
			sqlite3_bind_int64(st, 2, minute);
		else
			sqlite3_bind_null(st, 2);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			*id = sqlite3_last_insert_rowid(d->db);
			*last = minute;
			rc = SQLITE_OK;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Moves the entry's last_minute up to minute when it is DICT_TOUCH_S behind. */
static int
touch(struct dict *d, int64_t id, int64_t *last, int64_t minute)
{
	if (minute == DICT_NO_MINUTE || (*last != DICT_NO_MINUTE && minute - *last <= DICT_TOUCH_S))
		return SQLITE_OK;
	sqlite3_bind_int64(d->touch, 1, id);
	sqlite3_bind_int64(d->touch, 2, minute);
	int rc = sqlite3_step(d->touch);
	sqlite3_reset(d->touch);
	if (rc != SQLITE_DONE)
		return rc;
	*last = minute;
	return SQLITE_OK;
}

/* The text's hash, 8 bytes at a time (in memory only: neither stored nor
 * shown, so the order of a word's bytes does not matter). */
static uint32_t
text_hash(const char *text)
{
	return (uint32_t)mx_mix64(mx_mix_bytes(0x6469637474657874ULL, text, strlen(text)));
}

/* dict_id(); *ent gets the entry's index + 1 in tab, 0 when it is not cached */
static int
text_id(struct dict *d, const char *text, int64_t minute, int64_t *id, uint32_t *ent)
{
	*ent = 0;
	uint32_t h = text_hash(text);
	uint32_t i = h & d->mask;
	for (; d->tab[i].text; i = (i + 1) & d->mask) {
		struct dict_ent *e = &d->tab[i];
		if (e->hash == h && strcmp(e->text, text) == 0) {
			*id = e->id;
			*ent = i + 1;
			return touch(d, e->id, &e->minute, minute);
		}
	}
	d->misses++;
	int64_t last = DICT_NO_MINUTE;
	int rc = lookup(d, text, minute, id, &last);
	if (rc == SQLITE_OK)
		rc = touch(d, *id, &last, minute);
	if (rc != SQLITE_OK)
		return rc;
	char *copy = strdup(text);
	if (!copy)
		return SQLITE_OK; /* the id is right; it is just not cached */
	if (d->n >= d->max) {
		dict_forget(d);
		i = h & d->mask;
	}
	while (d->tab[i].text)
		i = (i + 1) & d->mask;
	d->tab[i] = (struct dict_ent){.hash = h, .id = *id, .minute = last, .text = copy};
	d->n++;
	*ent = i + 1;
	return SQLITE_OK;
}

int
dict_id(struct dict *d, const char *text, int64_t minute, int64_t *id)
{
	uint32_t ent;
	return text_id(d, text, minute, id, &ent);
}

static uint32_t
addr_hash(const struct mx_addr *a)
{
	uint64_t w[2];
	mx_addr_words(a, w);
	return (uint32_t)mx_mix64(mx_mix64(w[0] ^ a->family) ^ w[1]);
}

int
dict_addr_id(struct dict *d, const struct mx_addr *a, int64_t minute, int64_t *id)
{
	if (!d->atab)
		d->atab = calloc((size_t)d->mask + 1, sizeof(*d->atab));
	uint32_t i = addr_hash(a) & d->mask;
	if (d->atab) {
		for (; d->atab[i].ent; i = (i + 1) & d->mask) {
			const struct dict_addr *x = &d->atab[i];
			if (mx_addr_eq(&x->a, a)) {
				struct dict_ent *e = &d->tab[x->ent - 1];
				*id = e->id;
				return touch(d, e->id, &e->minute, minute);
			}
		}
	}
	char buf[MX_ADDRSTRLEN];
	uint32_t n = d->n, ent;
	int rc = text_id(d, mx_addr_fmt(a, buf, sizeof(buf)), minute, id, &ent);
	if (rc != SQLITE_OK || !ent || !d->atab)
		return rc; /* not cached (or no room for the address table) */
	if (d->n < n) { /* the text's entry emptied the cache, and so this table */
		i = addr_hash(a) & d->mask;
	} else if (d->an >= d->max) {
		/* a bound, so the probes above always meet a free slot: with
		   family 4 or 6 two addresses have two texts and this table
		   never holds more entries than tab, but a caller that passes
		   other addresses (all formatted "") could fill it */
		memset(d->atab, 0, ((size_t)d->mask + 1) * sizeof(*d->atab));
		d->an = 0;
		i = addr_hash(a) & d->mask;
	}
	/* the text may be cached already (an address met again after its
	   slot here was emptied is not: this table is emptied with tab) */
	while (d->atab[i].ent)
		i = (i + 1) & d->mask;
	d->atab[i] = (struct dict_addr){.a = *a, .ent = ent};
	d->an++;
	return SQLITE_OK;
}
