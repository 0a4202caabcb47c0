/*
 * fuzz_compact.c - libFuzzer target for a reply's argument in the compact
 * record (schema/compact.c, sessions.replies): client bytes that the writer
 * parses (MAIL FROM:<local@domain>, RCPT TO:<...>) and SQL reads back.
 *
 * Input: the first byte picks the command (MAIL, RCPT, EHLO, QUIT: bits 0-1),
 * the session's protocol (bits 2-3) and the reply code (bits 4-6: usual
 * codes of some protocol or not, none); with bit 7 set, the next 8 bytes
 * are the request's and the latency's microseconds (two little-endian
 * 32-bit numbers: every limit of a packed head of version 17, and what no
 * head holds); the rest is the session's sender domain, first recipient
 * domain and the argument, separated by newlines (each cut at its buffer's
 * size).  The record of the one reply is stored through the view sessions
 * of the real schema, and the view compact_replies must give back the
 * argument byte for byte (NULL for none), the reply code (version 16 leaves
 * a usual one out) and both times to the microsecond.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/event.h"
#include "capture/bview.h"
#include "schema/compact.h"
#include "schema/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;
static sqlite3_stmt *ins, *sel, *del, *del_names;

static void
setup(void)
{
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, store_schema_sql(), NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO sessions (id, run_id, protocol, syn, start, helo,"
	                       " sender_domain, rcpt_domains, replies)"
	                       " VALUES (1, 1, ?4, 1767225600.5, 1767225600.5,"
	                       " 'helo.example', ?1, ?2, ?3)",
	                       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT argument, reply_code,"
	                       " CAST(round(request_ts * 1e6) AS INTEGER),"
	                       " CAST(round(latency_ms * 1e3) AS INTEGER)"
	                       " FROM compact_replies WHERE session_id = 1",
	                       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM sessions", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM names", -1, &del_names, NULL) != SQLITE_OK)
		abort();
}

/* The next newline-separated part of data into buf (cut to cap - 1 bytes, NULs end it). */
static void
part(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	size_t k = n < cap - 1 ? n : cap - 1;
	memcpy(buf, *p, k);
	buf[k] = '\0';
	*p = nl ? nl + 1 : end;
}

static void
bind_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v[0])
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cmds[] = {"MAIL", "RCPT", "EHLO", "QUIT"};
	static const char *const protos[] = {"unknown", "smtp", "pop3", "smtp"};
	static const char *const codes[] = {"250", "221", "+OK", "", "252", "220", "354", "2500"};
	static struct mx_session s;
	static struct mx_txn t;
	static char arg[MX_ARG_MAX];
	if (!db)
		setup();
	if (size == 0)
		return 0;
	const uint8_t *p = data + 1, *end = data + size;
	uint32_t req_us = 1, lat_us = 2;
	struct bview v = bv_make(data, size);
	if (data[0] & 0x80 && bv_has(v, 1, 8)) {
		bv_le32(v, 1, &req_us);
		bv_le32(v, 5, &lat_us);
		p += 8;
	}
	memset(&s, 0, sizeof(s));
	s.id = 1;
	s.proto = (enum mx_proto)((data[0] >> 2 & 3) == 3 ? MXP_SMTP : data[0] >> 2 & 3);
	s.syn_ns = s.start_ns = 1767225600500000000ull;
	mx_strlcpy(s.helo, "helo.example", sizeof(s.helo));
	part(&p, end, s.sender_domain, sizeof(s.sender_domain));
	part(&p, end, s.rcpt_domains[0], sizeof(s.rcpt_domains[0]));
	s.n_rcpt_domains = s.rcpt_domains[0][0] ? 1 : 0;
	part(&p, end, arg, sizeof(arg));

	memset(&t, 0, sizeof(t));
	t.id = 1;
	t.session_id = 1;
	mx_strlcpy(t.command, cmds[data[0] & 3], sizeof(t.command));
	t.request_ns = s.start_ns + (uint64_t)req_us * 1000;
	t.reply_ns = t.request_ns + (uint64_t)lat_us * 1000;
	mx_strlcpy(t.reply_code, codes[data[0] >> 4 & 7], sizeof(t.reply_code));
	t.outcome = MXO_OK;

	struct compact *c = compact_new();
	bool nomem = false;
	if (!c || compact_reply(c, &s, &t, arg, false) != COMPACT_KEPT)
		abort();
	const char *rec = compact_session_json(c, 1, 0, s.syn_ns, s.proto, s.helo, s.sender_domain,
	                                       s.n_rcpt_domains ? s.rcpt_domains[0] : NULL, &nomem);
	if (!rec || nomem)
		abort();

	bind_or_null(ins, 1, s.sender_domain);
	bind_or_null(ins, 2, s.rcpt_domains[0]);
	sqlite3_bind_text(ins, 3, rec, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 4, protos[data[0] >> 2 & 3], -1, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE)
		abort();
	sqlite3_reset(ins);
	if (sqlite3_step(sel) != SQLITE_ROW)
		abort();
	const char *got = (const char *)sqlite3_column_text(sel, 0);
	if (arg[0] ? !got || strcmp(got, arg) != 0 : got != NULL)
		abort();
	const char *code = (const char *)sqlite3_column_text(sel, 1);
	if (t.reply_code[0] ? !code || strcmp(code, t.reply_code) != 0 : code != NULL)
		abort();
	if (sqlite3_column_int64(sel, 2) != (int64_t)(s.syn_ns / 1000) + req_us ||
	    sqlite3_column_int64(sel, 3) != (int64_t)lat_us)
		abort();
	sqlite3_reset(sel);
	compact_free(c);
	if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(del_names) != SQLITE_DONE)
		abort();
	sqlite3_reset(del);
	sqlite3_reset(del_names);
	return 0;
}
