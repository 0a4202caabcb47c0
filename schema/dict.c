/* dict.c - dictionary ids for the writer (dict.h). */
#include "dict.h"

#include "../capture/addr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * The cache: up to max entries in ents, found through slot (open
 * addressing, linear probing, twice max slots, each with its entry's hash
 * so that a probe reads no entry but the right one).  When it is full, the
 * CLOCK hand picks the entry to replace: one not used since the hand last
 * passed it.  A name used again and again stays, one met once goes first.
 * (Emptying the whole cache when it filled up, as it did before, lost the
 * often used names with the rest: on the 400 000-session workload 227 565
 * lookups of the names table went to SQL, 128 427 with the hand.)
 */
struct dict_ent {
	int64_t id;
	int64_t minute; /* last_minute as the table has it (DICT_NO_MINUTE: NULL) */
	char *text;     /* NULL: not in use */
	uint32_t hash;  /* text_hash()'s low bits */
	uint32_t gen;   /* counts the texts the entry has held (atab's check) */
	bool used;      /* looked up since the hand last passed */
};

struct dict_slot {
	uint32_t hash;
	uint32_t ent; /* index + 1 into ents; 0: a free slot */
};

/* dict_addr_id(): an address's entry, found without its text; the entry
 * is the address's while its gen is the one noted here */
struct dict_addr {
	struct mx_addr a;
	uint32_t ent; /* index + 1 into ents; 0: a free slot */
	uint32_t gen;
};

struct dict {
	sqlite3 *db;
	sqlite3_stmt *get, *add, *touch;
	struct dict_ent *ents;  /* max entries, the first n in use */
	struct dict_slot *slot; /* mask + 1 slots: twice max, a power of two */
	struct dict_addr *atab; /* as many slots, made by the first dict_addr_id() */
	uint32_t mask;
	uint32_t n, max;
	uint32_t hand;          /* the CLOCK hand: an index into ents */
	uint32_t an;            /* atab's entries: at most max */
	uint64_t misses;
	/* Texts known to be in the table, as a Bloom filter; NULL: not kept.
	 * Kept from a table that was empty when the dict was made, until the
	 * first dict_forget(): then a text the filter has never seen is not in
	 * the table (but for a false positive), and its INSERT comes first. */
	uint64_t *bloom;
	uint32_t bloom_mask; /* bits - 1 */
};

/* bits of the filter per slot of the cache (a power of two, as the slots
 * are): 1 Mbit (128 KiB) for 8 192 names, under 1 % false positives up to
 * 75 000 texts; more texts only make it say "maybe" more often */
#define BLOOM_BITS_PER_SLOT 64

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
	d->ents = calloc(cache_max, sizeof(*d->ents));
	d->slot = calloc(slots, sizeof(*d->slot));
	char *get = sqlite3_mprintf("SELECT id, last_minute FROM \"%w\" WHERE \"%w\" = ?1", table,
	                            column);
	char *add = sqlite3_mprintf("INSERT INTO \"%w\" (\"%w\", last_minute) VALUES (?1, ?2)"
	                            " ON CONFLICT DO NOTHING",
	                            table, column);
	char *any = sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 1", table);
	char *touch = sqlite3_mprintf("UPDATE \"%w\" SET last_minute = ?2 WHERE id = ?1"
	                              " AND (last_minute IS NULL OR last_minute < ?2)",
	                              table);
	bool ok = d->ents && d->slot && get && add && touch && any &&
	          sqlite3_prepare_v3(db, get, -1, SQLITE_PREPARE_PERSISTENT, &d->get, NULL) == SQLITE_OK &&
	          sqlite3_prepare_v3(db, add, -1, SQLITE_PREPARE_PERSISTENT, &d->add, NULL) == SQLITE_OK &&
	          sqlite3_prepare_v3(db, touch, -1, SQLITE_PREPARE_PERSISTENT, &d->touch, NULL) ==
	              SQLITE_OK;
	sqlite3_stmt *st = NULL;
	if (ok && sqlite3_prepare_v2(db, any, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE) {
		uint64_t bits = (uint64_t)slots * BLOOM_BITS_PER_SLOT;
		d->bloom = calloc(bits / 64, sizeof(*d->bloom)); /* none: every miss reads first */
		d->bloom_mask = (uint32_t)(bits - 1);
	}
	sqlite3_finalize(st);
	sqlite3_free(get);
	sqlite3_free(add);
	sqlite3_free(touch);
	sqlite3_free(any);
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
	for (uint32_t i = 0; i < d->n; i++) {
		free(d->ents[i].text);
		d->ents[i].text = NULL;
	}
	memset(d->slot, 0, ((size_t)d->mask + 1) * sizeof(*d->slot));
	if (d->atab)
		memset(d->atab, 0, ((size_t)d->mask + 1) * sizeof(*d->atab));
	d->n = 0;
	d->hand = 0;
	d->an = 0;
	/* another connection may have added texts, which the filter never saw */
	free(d->bloom);
	d->bloom = NULL;
}

void
dict_free(struct dict *d)
{
	if (!d)
		return;
	if (d->ents && d->slot)
		dict_forget(d);
	free(d->ents);
	free(d->slot);
	free(d->atab);
	free(d->bloom);
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

/* The table's row of text: *found, and then its id and last_minute. */
static int
get_row(struct dict *d, const char *text, int64_t *id, int64_t *last, bool *found)
{
	sqlite3_stmt *st = d->get;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found) {
		*id = sqlite3_column_int64(st, 0);
		*last = sqlite3_column_type(st, 1) == SQLITE_NULL ? DICT_NO_MINUTE
		                                                  : sqlite3_column_int64(st, 1);
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* A row for text, unless the table has one: *added, and then its id. */
static int
add_row(struct dict *d, const char *text, int64_t minute, int64_t *id, int64_t *last, bool *added)
{
	sqlite3_stmt *st = d->add;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (minute != DICT_NO_MINUTE)
		sqlite3_bind_int64(st, 2, minute);
	else
		sqlite3_bind_null(st, 2);
	int rc = sqlite3_step(st);
	*added = rc == SQLITE_DONE && sqlite3_changes(d->db) > 0;
	if (*added) {
		*id = sqlite3_last_insert_rowid(d->db);
		*last = minute;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* The table's entry for text, read or added: id and last_minute.  fresh:
 * the text is most likely not in the table, so the INSERT comes first (one
 * statement instead of two); it does nothing if the text is there. */
static int
lookup(struct dict *d, const char *text, int64_t minute, bool fresh, int64_t *id, int64_t *last)
{
	bool done;
	int rc = fresh ? add_row(d, text, minute, id, last, &done)
	               : get_row(d, text, id, last, &done);
	if (rc == SQLITE_OK && !done)
		rc = fresh ? get_row(d, text, id, last, &done) : add_row(d, text, minute, id, last, &done);
	if (rc == SQLITE_OK && !done)
		rc = SQLITE_CONSTRAINT; /* neither there nor added: not this table */
	return rc;
}

/* The filter's three bits of a text (from its 64-bit hash) */
static void
bloom_bits(const struct dict *d, uint64_t h64, uint32_t pos[3])
{
	uint64_t x = mx_mix64(h64 ^ 0x626c6f6f6d626974ULL);
	pos[0] = (uint32_t)x & d->bloom_mask;
	pos[1] = (uint32_t)(x >> 21) & d->bloom_mask;
	pos[2] = (uint32_t)(x >> 42) & d->bloom_mask;
}

static bool
bloom_has(const struct dict *d, uint64_t h64)
{
	uint32_t p[3];
	bloom_bits(d, h64, p);
	for (int i = 0; i < 3; i++)
		if (!(d->bloom[p[i] / 64] >> (p[i] % 64) & 1))
			return false;
	return true;
}

static void
bloom_add(struct dict *d, uint64_t h64)
{
	uint32_t p[3];
	bloom_bits(d, h64, p);
	for (int i = 0; i < 3; i++)
		d->bloom[p[i] / 64] |= 1ull << (p[i] % 64);
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
static uint64_t
text_hash(const char *text)
{
	return mx_mix64(mx_mix_bytes(0x6469637474657874ULL, text, strlen(text)));
}

/* Takes entry k's slot out of the probe chains (backward shift: the
 * entries behind it that may move up do, so no probe meets a hole). */
static void
unlink_slot(struct dict *d, uint32_t k)
{
	uint32_t i = d->ents[k].hash & d->mask;
	while (d->slot[i].ent != k + 1)
		i = (i + 1) & d->mask;
	for (uint32_t j = i;;) {
		j = (j + 1) & d->mask;
		if (!d->slot[j].ent)
			break;
		uint32_t home = d->slot[j].hash & d->mask;
		/* the entry at j stays when its home lies in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		d->slot[i] = d->slot[j];
		i = j;
	}
	d->slot[i] = (struct dict_slot){0, 0};
}

/* The entry a new text goes into: a free one, else the first the hand
 * finds unused since it last passed (the others lose their mark). */
static uint32_t
take_entry(struct dict *d)
{
	if (d->n < d->max)
		return d->n++;
	while (d->ents[d->hand].used) {
		d->ents[d->hand].used = false;
		d->hand = d->hand + 1 < d->max ? d->hand + 1 : 0;
	}
	uint32_t k = d->hand;
	d->hand = k + 1 < d->max ? k + 1 : 0;
	unlink_slot(d, k);
	free(d->ents[k].text);
	d->ents[k].text = NULL;
	return k;
}

/* dict_id(); *ent gets the entry's index + 1 in ents, 0 when it is not cached */
static int
text_id(struct dict *d, const char *text, int64_t minute, int64_t *id, uint32_t *ent)
{
	*ent = 0;
	uint64_t h64 = text_hash(text);
	uint32_t h = (uint32_t)h64;
	uint32_t i = h & d->mask;
	for (; d->slot[i].ent; i = (i + 1) & d->mask) {
		if (d->slot[i].hash != h)
			continue;
		struct dict_ent *e = &d->ents[d->slot[i].ent - 1];
		if (strcmp(e->text, text) == 0) {
			e->used = true;
			*id = e->id;
			*ent = d->slot[i].ent;
			return touch(d, e->id, &e->minute, minute);
		}
	}
	d->misses++;
	int64_t last = DICT_NO_MINUTE;
	int rc = lookup(d, text, minute, d->bloom && !bloom_has(d, h64), id, &last);
	if (rc == SQLITE_OK)
		rc = touch(d, *id, &last, minute);
	if (rc != SQLITE_OK)
		return rc;
	if (d->bloom)
		bloom_add(d, h64);
	char *copy = strdup(text);
	if (!copy)
		return SQLITE_OK; /* the id is right; it is just not cached */
	uint32_t k = take_entry(d);
	struct dict_ent *e = &d->ents[k];
	*e = (struct dict_ent){.id = *id, .minute = last, .text = copy, .hash = h, .gen = e->gen + 1};
	/* (the slots may have moved up: probed again) */
	for (i = h & d->mask; d->slot[i].ent; i = (i + 1) & d->mask)
		;
	d->slot[i] = (struct dict_slot){h, k + 1};
	*ent = k + 1;
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
	bool stale = false; /* atab[i] is a's, its entry since given to another text */
	if (d->atab) {
		for (; d->atab[i].ent; i = (i + 1) & d->mask) {
			const struct dict_addr *x = &d->atab[i];
			if (!mx_addr_eq(&x->a, a))
				continue;
			struct dict_ent *e = &d->ents[x->ent - 1];
			if (e->gen == x->gen && e->text) {
				e->used = true;
				*id = e->id;
				return touch(d, e->id, &e->minute, minute);
			}
			stale = true;
			break;
		}
	}
	char buf[MX_ADDRSTRLEN];
	uint32_t ent;
	int rc = text_id(d, mx_addr_fmt(a, buf, sizeof(buf)), minute, id, &ent);
	if (rc != SQLITE_OK || !ent || !d->atab)
		return rc; /* not cached (or no room for the address table) */
	if (!stale && d->an >= d->max) {
		/* a bound, so the probes above always meet a free slot: each
		   address has one slot here (a stale one is taken again), but
		   they outlive their entries, and a caller that passes other
		   addresses (all formatted "") could fill it */
		memset(d->atab, 0, ((size_t)d->mask + 1) * sizeof(*d->atab));
		d->an = 0;
		i = addr_hash(a) & d->mask;
	}
	if (!stale) {
		while (d->atab[i].ent)
			i = (i + 1) & d->mask;
		d->an++;
	}
	d->atab[i] = (struct dict_addr){.a = *a, .ent = ent, .gen = d->ents[ent - 1].gen};
	return SQLITE_OK;
}
