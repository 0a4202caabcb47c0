/*
 * test_compact.c - the writer's memory of the compact layout
 * (schema/compact.c): which replies are notable, the sessions.replies text
 * (packed heads and the older elements, ids, microsecond offsets, escapes,
 * trailing elements, read back through the real view), histogram groups
 * by the session's final host and direction, flushing by minute, and the
 * session table under many sessions ending in any order.
 */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/addr.h"
#include "../../schema/compact.h"
#include "../../schema/hist.h"
#include "../../schema/store.h"

#define T0 1767225600000000000ull /* 2026-01-01 00:00:00 UTC, a minute boundary */
#define MS 1000000ull

static void
sess_init(struct mx_session *s, uint64_t id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->proto = MXP_SMTP;
	mx_addr_parse("192.0.2.1", &s->client.addr);
	mx_addr_parse("192.0.2.10", &s->server.addr);
	s->server_is_host = true;
	s->syn_ns = T0 + 5 * MS;
	s->start_ns = T0 + 6 * MS;
}

static void
txn_init(struct mx_txn *t, uint64_t id, uint64_t sid, const char *cmd, uint64_t req,
         uint64_t lat_ns, const char *code)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->session_id = sid;
	mx_strlcpy(t->command, cmd, sizeof(t->command));
	t->request_ns = req;
	t->reply_ns = req + lat_ns;
	mx_strlcpy(t->reply_code, code, sizeof(t->reply_code));
	t->outcome = MXO_OK;
}

Test(compact, notable_replies)
{
	struct mx_txn t;
	txn_init(&t, 1, 1, "RCPT", T0, 999 * MS, "250");
	cr_expect_not(compact_is_notable(&t, 1000));
	cr_expect(compact_is_notable(&t, 0), "threshold 0: every reply a row");
	cr_expect(compact_is_notable(&t, 999), "as slow as the threshold");
	txn_init(&t, 1, 1, "RCPT", T0, 1 * MS, "550");
	cr_expect(compact_is_notable(&t, 1000), "failed");
	txn_init(&t, 1, 1, "RCPT", T0, 1 * MS, "451");
	cr_expect(compact_is_notable(&t, 1000), "failed");
	txn_init(&t, 1, 1, "PASS", T0, 1 * MS, "-ERR");
	cr_expect(compact_is_notable(&t, 1000), "failed");
	txn_init(&t, 1, 1, "DATA-END", T0, 1 * MS, "250");
	t.outcome = MXO_INCOMPLETE;
	cr_expect(compact_is_notable(&t, 1000), "cut");
	txn_init(&t, 1, 1, "QUIT", T0, 1 * MS, "");
	t.reply_ns = 0;
	t.end_ns = T0 + 3 * MS;
	t.outcome = MXO_CLIENT_ABORT;
	cr_expect(compact_is_notable(&t, 1000), "no reply");
	txn_init(&t, 1, 1, "TLS", T0, 1 * MS, "");
	cr_expect_not(compact_is_notable(&t, 1000), "an encrypted exchange answered");
}

static int
q_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/*
 * A packed head as the record writes it (version 17), spelled out here on
 * its own: each number the code point v + 32 in UTF-8, '"' and '\\'
 * escaped; command * 2 + h, id offset, request_us / 2016, request_us % 2016,
 * latency_us (two characters from 0xd800 - 32 on).  Appended to out.
 */
static void
head_char(char *out, size_t cap, unsigned v)
{
	unsigned cp = v + 32;
	size_t n = strlen(out);
	if (cp == '"' || cp == '\\')
		snprintf(out + n, cap - n, "\\%c", cp);
	else if (cp < 0x80)
		snprintf(out + n, cap - n, "%c", cp);
	else if (cp < 0x800)
		snprintf(out + n, cap - n, "%c%c", 0xc0 | cp >> 6, 0x80 | (cp & 0x3f));
	else
		snprintf(out + n, cap - n, "%c%c%c", 0xe0 | cp >> 12, 0x80 | (cp >> 6 & 0x3f),
		         0x80 | (cp & 0x3f));
}

static void
head(char *out, size_t cap, unsigned cmd, unsigned h, unsigned off, unsigned req, unsigned lat)
{
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "\"");
	head_char(out, cap, cmd * 2 + h);
	head_char(out, cap, off);
	head_char(out, cap, req / 2016);
	head_char(out, cap, req % 2016);
	if (lat < 0xd800 - 32) {
		head_char(out, cap, lat);
	} else {
		head_char(out, cap, lat / 2016);
		head_char(out, cap, lat % 2016);
	}
	n = strlen(out);
	snprintf(out + n, cap - n, "\"");
}

/* a head with a tail (version 18): 64 + cmd, the latency in two characters, tail as written */
static void
head_tail(char *out, size_t cap, unsigned cmd, unsigned off, unsigned req, unsigned lat,
          const char *tail)
{
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "\"");
	head_char(out, cap, 64 + cmd);
	head_char(out, cap, off);
	head_char(out, cap, req / 2016);
	head_char(out, cap, req % 2016);
	head_char(out, cap, lat / 2016);
	head_char(out, cap, lat % 2016);
	n = strlen(out);
	snprintf(out + n, cap - n, "%s\"", tail);
}

static void
cat(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "%s", s);
}

/* one value of a JSON text, as SQLite reads it (NULL: none) */
static char *
json_at(sqlite3 *db, const char *json, const char *fn, const char *path)
{
	char sql[128];
	sqlite3_stmt *st;
	snprintf(sql, sizeof(sql), "SELECT %s(?1, ?2)", fn);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(db));
	const unsigned char *v = sqlite3_column_text(st, 0);
	char *r = v ? strdup((const char *)v) : NULL;
	sqlite3_finalize(st);
	return r;
}

/*
 * The MAIL and RCPT arguments that name the session's domains (version 13):
 * the local part alone as a head's tail (version 18), ["local", "rest"]
 * with more after the address, the text otherwise.
 */
Test(compact, mail_and_rcpt_arguments_name_the_session_domains)
{
	static const struct {
		const char *cmd, *arg, *want, *tail;
	} cases[] = {
	    {"MAIL", "FROM:<user@sender.example>", NULL, "user"},
	    {"MAIL", "FROM:<user@sender.example> SIZE=1234 BODY=8BITMIME",
	     "[\"user\",\" SIZE=1234 BODY=8BITMIME\"]", NULL},
	    {"MAIL", "FROM:<@sender.example>", NULL, ""},
	    {"MAIL", "FROM:<a@b@sender.example>", NULL, "a@b"},
	    {"MAIL", "FROM:<\"q\\x\"@sender.example>", NULL, "\\\"q\\\\x\\\""},
	    {"RCPT", "TO:<rcpt1@rcpt.example>", NULL, "rcpt1"},
	    {"RCPT", "TO:<rcpt1@rcpt.example>\x01", "[\"rcpt1\",\"\\u0001\"]", NULL},
	    /* a local part that begins with a UTF-8 continuation byte: no tail */
	    {"MAIL", "FROM:<\x85" "x@sender.example>", "[\"\x85" "x\"]", NULL},
	    /* not the session's domain, byte for byte: the text */
	    {"MAIL", "FROM:<>", "\"FROM:<>\"", NULL},
	    {"MAIL", "FROM:<User@Sender.Example>", "\"FROM:<User@Sender.Example>\"", NULL},
	    {"MAIL", "From:<user@sender.example>", "\"From:<user@sender.example>\"", NULL},
	    {"MAIL", "FROM:<user@sender.example", "\"FROM:<user@sender.example\"", NULL},
	    {"MAIL", "FROM:<user@sender.example.org>", "\"FROM:<user@sender.example.org>\"", NULL},
	    {"MAIL", "TO:<user@rcpt.example>", "\"TO:<user@rcpt.example>\"", NULL},
	    {"RCPT", "TO:<user@sender.example>", "\"TO:<user@sender.example>\"", NULL},
	    {"VRFY", "FROM:<user@sender.example>", "\"FROM:<user@sender.example>\"", NULL},
	};
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct compact *c = compact_new();
		struct mx_session s;
		struct mx_txn t;
		sess_init(&s, 1);
		txn_init(&t, 1, 1, cases[k].cmd, T0 + 10 * MS, 1 * MS, "250");
		cr_assert_eq(compact_reply(c, &s, &t, cases[k].arg, false), COMPACT_KEPT);
		bool nomem = false;
		const char *j = compact_session_json(c, 1, 0, s.syn_ns, MXP_SMTP, NULL,
		                                     "sender.example", "rcpt.example", &nomem);
		char want[256] = "[1,";
		int w = compact_command_code(cases[k].cmd);
		if (cases[k].tail) {
			head_tail(want, sizeof(want), (unsigned)w, 0, 5000, 1000, cases[k].tail);
			cat(want, sizeof(want), "]");
		} else {
			cat(want, sizeof(want), "[");
			head(want, sizeof(want), (unsigned)w, 0, 0, 5000, 1000);
			cat(want, sizeof(want), ",");
			cat(want, sizeof(want), cases[k].want);
			/* 250 is the usual code of MAIL and RCPT (left out), not of VRFY */
			cat(want, sizeof(want), compact_usual_code(MXP_SMTP, w) ? "]]" : ",250]]");
		}
		cr_expect_str_eq(j, want, "%s", cases[k].arg);
		/* no domain, or a recipient domain with a comma: the text */
		j = compact_session_json(c, 1, 0, s.syn_ns, MXP_SMTP, NULL, NULL, "rcpt.example,x",
		                         &nomem);
		char *type = json_at(db, j, "json_type", "$[1][1]");
		char *text = json_at(db, j, "json_extract", "$[1][1]");
		cr_expect_str_eq(type, "text", "%s: %s", cases[k].arg, j);
		cr_expect_str_eq(text, cases[k].arg, "%s", j);
		free(type);
		free(text);
		compact_free(c);
	}
	sqlite3_close(db);
}

Test(compact, session_record_text)
{
	struct compact *c = compact_new();
	struct mx_session s;
	struct mx_txn t;
	sess_init(&s, 7);
	txn_init(&t, 3, 7, "GREETING", T0 + 5 * MS, 2500000, "220");
	cr_assert_eq(compact_reply(c, &s, &t, NULL, false), COMPACT_KEPT);
	txn_init(&t, 4, 7, "MAIL", T0 + 9 * MS + 1499, 300000, "250");
	cr_assert_eq(compact_reply(c, &s, &t, "FROM:<\"a\\b\"@x>\x01", false), COMPACT_KEPT);
	txn_init(&t, 5, 7, "RCPT", T0 + 20 * MS, 1500 * MS, "250");
	cr_assert_eq(compact_reply(c, &s, &t, "TO:<b@y>", true), COMPACT_ROW, "notable: a row");
	txn_init(&t, 6, 7, "DATA-END", T0 + 30 * MS, 2 * MS, "250");
	t.size = 1234;
	cr_assert_eq(compact_reply(c, &s, &t, "", false), COMPACT_KEPT);
	txn_init(&t, 8, 7, "TLS", T0 + 40 * MS, 1 * MS, "");
	mx_strlcpy(t.guess, "RCPT", sizeof(t.guess));
	mx_strlcpy(t.reply_text, "1 record, 90 bytes", sizeof(t.reply_text));
	cr_assert_eq(compact_reply(c, &s, &t, NULL, false), COMPACT_KEPT);
	txn_init(&t, 9, 7, "TLS-HELLO", T0 + 50 * MS, 1 * MS, "");
	mx_strlcpy(t.reply_text, "ServerHello, TLS 1.3", sizeof(t.reply_text));
	cr_assert_eq(compact_reply(c, &s, &t, NULL, false), COMPACT_KEPT);
	/* the helo's own text, a word outside the list, codes that stay text */
	txn_init(&t, 10, 7, "EHLO", T0 + 60 * MS, 1 * MS, "250");
	cr_assert_eq(compact_reply(c, &s, &t, "mx.example", false), COMPACT_KEPT);
	txn_init(&t, 11, 7, "XCLIENT", T0 + 61 * MS, 1 * MS, "099");
	cr_assert_eq(compact_reply(c, &s, &t, "mx.example.", false), COMPACT_KEPT);
	txn_init(&t, 12, 7, "NOOP", T0 + 62 * MS, 1 * MS, "+OK");
	cr_assert_eq(compact_reply(c, &s, &t, "1", false), COMPACT_KEPT);
	txn_init(&t, 2, 7, "QUIT", T0 + 63 * MS, 1 * MS, "2500");
	cr_assert_eq(compact_reply(c, &s, &t, NULL, false), COMPACT_KEPT);

	bool nomem = false;
	const char *j = compact_session_json(c, 7, 100, s.syn_ns, MXP_SMTP, "mx.example", NULL, NULL,
	                                     &nomem);
	cr_assert_not_null(j);
	/* the id base, then packed heads (alone, or first in an array with what
	   follows), the older element for what a head cannot hold; words and
	   three-digit codes as numbers, a command's usual code left out (0 when
	   a later element follows) */
	char want[512] = "[103,";
	head(want, sizeof(want), 0, 0, 0, 0, 2500);
	cat(want, sizeof(want), ",[");
	head(want, sizeof(want), 3, 0, 1, 4001, 300);
	cat(want, sizeof(want), ",\"FROM:<\\\"a\\\\b\\\"@x>\\u0001\"],");
	head_tail(want, sizeof(want), 6, 3, 25000, 2000, "1234"); /* DATA-END's size as its tail */
	cat(want, sizeof(want), ",[");
	head(want, sizeof(want), 29, 0, 5, 35000, 1000);
	cat(want, sizeof(want), ",0,null,null,4,\"1 record, 90 bytes\"],[");
	head(want, sizeof(want), 28, 0, 6, 45000, 1000);
	cat(want, sizeof(want), ",0,null,null,null,\"ServerHello, TLS 1.3\"],");
	head(want, sizeof(want), 2, 1, 7, 55000, 1000); /* EHLO with the helo: alone */
	cat(want, sizeof(want), ",[8,\"XCLIENT\",\"mx.example.\",56000,1000,\"099\"],[");
	head(want, sizeof(want), 11, 0, 9, 57000, 1000);
	cat(want, sizeof(want), ",\"1\",\"+OK\"],[-1,12,0,58000,1000,\"2500\"]]");
	cr_expect_str_eq(j, want);
	cr_expect_eq(compact_command_code("TLS"), 29);
	cr_expect_eq(compact_command_code("XCLIENT"), -1);
	cr_expect_eq(compact_command_code(""), -1);
	cr_expect_str_eq(compact_command_word(4), "RCPT");
	cr_expect_null(compact_command_word(30));
	cr_expect_null(compact_command_word(-1));
	/* SQLite reads it back */
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT json_extract(?1, '$[2][1]'), json_array_length(?1)",
	                                -1, &st, NULL),
	             SQLITE_OK);
	sqlite3_bind_text(st, 1, j, -1, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(db));
	cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "FROM:<\"a\\b\"@x>\x01");
	cr_expect_eq(sqlite3_column_int(st, 1), 10);
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_expect_null(compact_session_json(c, 8, 0, 0, MXP_SMTP, NULL, NULL, NULL, &nomem),
	               "an unknown session");
	compact_free(c);
}

/* a database of the real schema with two statements on it */
static sqlite3 *
schema_db(const char *ins_sql, sqlite3_stmt **ins, const char *sel_sql, sqlite3_stmt **sel)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, store_schema_sql(), NULL, NULL, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_prepare_v2(db, ins_sql, -1, ins, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_prepare_v2(db, sel_sql, -1, sel, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	return db;
}

/* the protocols' words in the view sessions, by enum mx_proto */
static const char *const protos[] = {"unknown", "smtp", "pop3"};
_Static_assert(MXP_UNKNOWN == 0 && MXP_SMTP == 1 && MXP_POP3 == 2, "protos[] order");

/* stores session sid of protocol p with record j through ins (?1 id, ?2 protocol, ?3 replies) */
static void
insert_session(sqlite3 *db, sqlite3_stmt *ins, int sid, int p, const char *j)
{
	sqlite3_bind_int(ins, 1, sid);
	sqlite3_bind_text(ins, 2, protos[p], -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, j, -1, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(ins), SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_reset(ins);
}

/*
 * The usual reply codes (version 16): for every command word in each
 * protocol, a reply with each of several codes (with and without a size
 * after it) is encoded by the writer and read back through the view
 * compact_replies of the real schema: the same code every time, the usual
 * one left out (or 0 before the size), the others written.
 */
Test(compact, usual_codes_read_back_through_the_view)
{
	static const char *const codes[] = {"220", "221", "235", "250", "354", "+OK", "", "252"};
	sqlite3_stmt *ins, *sel;
	sqlite3 *db = schema_db("INSERT INTO sessions (id, run_id, protocol, syn, start, replies)"
	                        " VALUES (?1, 1, ?2, 1767225600.005, 1767225600.006, ?3)",
	                        &ins,
	                        "SELECT group_concat(coalesce(reply_code, '-'), ',') FROM"
	                        " (SELECT reply_code FROM compact_replies"
	                        " WHERE session_id = ?1 ORDER BY id)",
	                        &sel);
	int left_out = 0, zeros = 0, sid = 0;
	for (int p = 0; p < 3; p++) {
		for (int w = 0; compact_command_word(w); w++) {
			struct compact *c = compact_new();
			struct mx_session s;
			struct mx_txn t;
			sess_init(&s, (uint64_t)++sid);
			s.proto = (enum mx_proto)p;
			const char *usual = compact_usual_code((enum mx_proto)p, w);
			char want[256] = "";
			for (int k = 0; k < 16; k++) {
				const char *code = codes[k % 8];
				txn_init(&t, (uint64_t)k + 1, s.id, compact_command_word(w),
				         T0 + (10 + (uint64_t)k) * MS, 1 * MS, code);
				if (k >= 8)
					t.size = 100; /* an element after the code */
				cr_assert_eq(compact_reply(c, &s, &t, NULL, false), COMPACT_KEPT);
				snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
				         k ? "," : "", code[0] ? code : "-");
				if (usual && strcmp(usual, code) == 0) {
					left_out += k < 8;
					zeros += k >= 8;
				}
			}
			bool nomem = false;
			const char *j = compact_session_json(c, s.id, 0, s.syn_ns, (enum mx_proto)p,
			                                     NULL, NULL, NULL, &nomem);
			cr_assert_not_null(j);
			insert_session(db, ins, sid, p, j);
			sqlite3_bind_int(sel, 1, sid);
			cr_assert_eq(sqlite3_step(sel), SQLITE_ROW);
			cr_expect_str_eq((const char *)sqlite3_column_text(sel, 0), want, "%s %s: %s",
			                 protos[p], compact_command_word(w), j);
			sqlite3_reset(sel);
			compact_free(c);
		}
	}
	/* the usual codes were left out (thirteen SMTP words, every POP3 one):
	   heads alone, a DATA-END's with its size as a tail (version 18) */
	cr_expect_eq(left_out, 13 + 30);
	cr_expect_eq(left_out, q_count(db, "SELECT count(*) FROM session_rows, json_each(replies)"
	                                   " AS r WHERE r.type = 'text' AND unicode(r.atom) < 96"));
	cr_expect_eq(2, q_count(db, "SELECT count(*) FROM session_rows, json_each(replies) AS r"
	                            " WHERE r.type = 'text' AND unicode(r.atom) = 102"
	                            " AND substr(r.atom, 7) = '100'"));
	cr_expect_eq(zeros, left_out);
	cr_expect_eq(zeros - 2, q_count(db, "SELECT count(*) FROM session_rows, json_each(replies)"
	                                    " AS r WHERE r.type = 'array'"
	                                    " AND json_type(r.value, '$[2]') = 'integer'"
	                                    " AND r.value ->> '$[2]' = 0"));
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(db);
}

/*
 * Every form of a record (version 17) read back through the real view:
 * replies with times, id offsets, words, arguments, codes, sizes, guesses
 * and texts at and around every limit of a packed head (one or two bytes of
 * UTF-8 per character, the surrogates, a latency in two characters, what no
 * head holds) give back what was stored, to the microsecond.
 */
Test(compact, random_records_read_back_through_the_view)
{
	static const int64_t edges[] = {
	    0,       1,        63,        64,        95,        96,         2015,
	    2016,    2017,     55263,     55264,     4064255,   4064256,    60000000,
	    111412223, 111412224, 111412225, 3000000000};
	static const char *const words[] = {"GREETING", "EHLO", "MAIL", "RCPT", "DATA",
	                                    "DATA-END", "QUIT", "USER", "PASS", "RETR",
	                                    "TLS",      "TLS-HELLO", "XCLIENT", "NOOP"};
	static const char *const codes[] = {"250", "220", "354", "+OK", "", "252", "221"};
	static const char *const args[] = {NULL,
	                                   "mx.example",
	                                   "FROM:<u\"1@sender.example>",
	                                   "TO:<v@rcpt.example> NOTIFY=NEVER",
	                                   "text \"q\" \\ \x01 \xc3\xa9",
	                                   "1",
	                                   "TO:<w\\x@rcpt.example>",
	                                   "\x85 a continuation byte first"};
	sqlite3_stmt *ins, *sel;
	sqlite3 *db = schema_db("INSERT INTO sessions (id, run_id, protocol, syn, start, helo,"
	                        " sender_domain, rcpt_domains, replies) VALUES (?1, 1, ?2,"
	                        " 1767225600.005, 1767225600.006, 'mx.example',"
	                        " 'sender.example', 'rcpt.example,other.example', ?3)",
	                        &ins,
	                        "SELECT id, command, argument,"
	                        " CAST(round(request_ts * 1e6) AS INTEGER),"
	                        " CAST(round(latency_ms * 1e3) AS INTEGER), reply_code, size,"
	                        " guess, reply_text, json_valid(?2)"
	                        " FROM compact_replies WHERE session_id = ?1 ORDER BY id",
	                        &sel);
	/* the elements' forms of a record */
	sqlite3_stmt *f;
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT sum(r.type = 'text'), sum(CASE r.type WHEN"
	                                " 'array' THEN json_type(r.value, '$[0]') = 'text' END),"
	                                " sum(CASE r.type WHEN 'array' THEN json_type(r.value,"
	                                " '$[0]') = 'integer' END),"
	                                " sum(r.type = 'text' AND unicode(r.atom) >= 96),"
	                                " sum(r.type = 'text' AND unicode(r.atom) IN (99, 100)),"
	                                " sum(r.type = 'text' AND unicode(r.atom) = 102), count(*)"
	                                " FROM json_each(?1) AS r WHERE r.key > 0",
	                                -1, &f, NULL),
	             SQLITE_OK);
	const int64_t syn_us = 1767225600005000;
	uint32_t rnd = 12345;
#define RND() (rnd = rnd * 1103515245u + 12345u, (rnd >> 8) & 0xffffff)
	/* heads alone, heads in arrays, older elements; of the heads alone those
	   with a tail (version 18), with a local part, with a size */
	int forms[6] = {0, 0, 0, 0, 0, 0};
	for (int sid = 1; sid <= 400; sid++) {
		struct compact *c = compact_new();
		struct mx_session s;
		sess_init(&s, (uint64_t)sid);
		int p = (int)(RND() % 3);
		s.proto = (enum mx_proto)p;
		int n = 1 + (int)(RND() % 12);
		struct want {
			int64_t id, req, lat;
			const char *cmd, *arg, *code, *guess, *text;
			uint64_t size;
		} w[12];
		int64_t id = 1000 + (int64_t)RND() % 100000;
		for (int i = 0; i < n; i++) {
			struct want *x = &w[i];
			/* ids mostly up, by 1 or a lot, now and then down */
			int64_t step = RND() % 4 ? 1 + (int64_t)(RND() % 100)
			             : RND() % 2 ? edges[RND() % 12] + 1 : -(int64_t)(RND() % 50) - 1;
			x->id = id = i ? id + step : id;
			x->req = RND() % 3 ? (int64_t)(RND() % 200000) : edges[RND() % 18];
			if (RND() % 16 == 0)
				x->req = -(int64_t)(RND() % 4000) - 1; /* before the SYN */
			x->lat = RND() % 3 ? (int64_t)(RND() % 70000) : edges[RND() % 18];
			x->cmd = words[RND() % 14];
			/* half of them as most replies are: no argument or the helo, the
			   usual code; a quarter what a tail holds: an argument (or a
			   DATA-END's size) and the usual code; a quarter anything */
			const char *usual = compact_usual_code(s.proto, compact_command_code(x->cmd));
			int kind = (int)(RND() % 4);
			bool plain = kind < 2;
			if (kind == 2) {
				bool data_end = strcmp(x->cmd, "DATA-END") == 0;
				bool mail = strcmp(x->cmd, "MAIL") == 0, rcpt = strcmp(x->cmd, "RCPT") == 0;
				x->arg = data_end               ? NULL
				         : mail && RND() % 2    ? args[2] /* the sender domain's */
				         : rcpt && RND() % 2    ? args[6] /* the recipient domain's */
				                                : args[2 + RND() % 6];
				x->code = usual ? usual : codes[RND() % 7];
				x->size = data_end ? 1 + RND() : 0;
				x->guess = "";
				x->text = NULL;
			} else {
				x->arg = args[RND() % (plain ? 2 : 8)];
				x->code = plain && usual ? usual : codes[RND() % 7];
				x->size = plain || RND() % 2 ? 0 : RND();
				x->guess = plain || RND() % 3 ? "" : "RCPT";
				x->text = !x->code[0] && RND() % 2 ? "1 record, 90 bytes" : NULL;
			}
			struct mx_txn t;
			txn_init(&t, (uint64_t)x->id, s.id, x->cmd,
			         (uint64_t)((syn_us + x->req) * 1000), (uint64_t)x->lat * 1000,
			         x->code);
			t.size = x->size;
			mx_strlcpy(t.guess, x->guess, sizeof(t.guess));
			if (x->text)
				mx_strlcpy(t.reply_text, x->text, sizeof(t.reply_text));
			cr_assert_eq(compact_reply(c, &s, &t, x->arg, false), COMPACT_KEPT);
		}
		bool nomem = false;
		const char *j = compact_session_json(c, s.id, 0, s.syn_ns, (enum mx_proto)p,
		                                     "mx.example", "sender.example", "rcpt.example",
		                                     &nomem);
		cr_assert_not_null(j);
		insert_session(db, ins, sid, p, j);
		/* the elements' forms, as SQLite's JSON reader sees them */
		sqlite3_bind_text(f, 1, j, -1, SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(f), SQLITE_ROW, "%s: %s", sqlite3_errmsg(db), j);
		for (int k = 0; k < 6; k++)
			forms[k] += sqlite3_column_int(f, k);
		cr_expect_eq(sqlite3_column_int(f, 6), n, "%s", j);
		sqlite3_reset(f);
		/* read back in id order (the ids of a session are distinct here) */
		int order[12];
		for (int i = 0; i < n; i++)
			order[i] = i;
		for (int a = 1; a < n; a++)
			for (int b = a; b > 0 && w[order[b - 1]].id > w[order[b]].id; b--) {
				int tmp = order[b];
				order[b] = order[b - 1];
				order[b - 1] = tmp;
			}
		bool distinct = true;
		for (int a = 1; a < n; a++)
			distinct &= w[order[a - 1]].id != w[order[a]].id;
		sqlite3_bind_int(sel, 1, sid);
		sqlite3_bind_text(sel, 2, j, -1, SQLITE_STATIC);
		for (int i = 0; i < n; i++) {
			const struct want *x = &w[order[i]];
			cr_assert_eq(sqlite3_step(sel), SQLITE_ROW, "session %d: %s", sid, j);
			cr_expect_eq(sqlite3_column_int(sel, 9), 1, "valid JSON: %s", j);
			if (distinct)
				cr_expect_eq(sqlite3_column_int64(sel, 0), x->id, "%s", j);
			if (!distinct)
				continue;
			cr_expect_str_eq((const char *)sqlite3_column_text(sel, 1), x->cmd, "%s", j);
			const char *arg = (const char *)sqlite3_column_text(sel, 2);
			if (x->arg)
				cr_expect_str_eq(arg ? arg : "(null)", x->arg, "%s", j);
			else
				cr_expect_null(arg, "%s", j);
			cr_expect_eq(sqlite3_column_int64(sel, 3), syn_us + x->req, "%s: %s", x->cmd, j);
			cr_expect_eq(sqlite3_column_int64(sel, 4), x->lat, "%s: %s", x->cmd, j);
			const char *code = (const char *)sqlite3_column_text(sel, 5);
			if (x->code[0])
				cr_expect_str_eq(code ? code : "(null)", x->code, "%s: %s", x->cmd, j);
			else
				cr_expect_null(code, "%s", j);
			if (x->size)
				cr_expect_eq((uint64_t)sqlite3_column_int64(sel, 6), x->size, "%s", j);
			else
				cr_expect_eq(sqlite3_column_type(sel, 6), SQLITE_NULL, "%s", j);
			const char *guess = (const char *)sqlite3_column_text(sel, 7);
			if (x->guess[0])
				cr_expect_str_eq(guess ? guess : "(null)", x->guess, "%s", j);
			else
				cr_expect_null(guess, "%s", j);
			const char *text = (const char *)sqlite3_column_text(sel, 8);
			if (x->text)
				cr_expect_str_eq(text ? text : "(null)", x->text, "%s", j);
			else
				cr_expect_null(text, "%s", j);
		}
		if (distinct)
			cr_expect_eq(sqlite3_step(sel), SQLITE_DONE);
		sqlite3_reset(sel);
		compact_free(c);
	}
#undef RND
	/* every form was written, and the heads were most of it */
	cr_expect_gt(forms[0], 200, "heads alone %d", forms[0]);
	cr_expect_gt(forms[1], 200, "heads in arrays %d", forms[1]);
	cr_expect_gt(forms[2], 100, "older elements %d", forms[2]);
	cr_expect_gt(forms[3], 100, "heads with a tail %d", forms[3]);
	cr_expect_gt(forms[4], 10, "local parts as tails %d", forms[4]);
	cr_expect_gt(forms[5], 10, "sizes as tails %d", forms[5]);
	sqlite3_finalize(f);
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(db);
}

struct seen {
	int n;
	struct compact_group g[64];
	char bins[64][256];
};

static int
collect(void *arg, const struct compact_group *g)
{
	struct seen *s = arg;
	cr_assert_lt(s->n, 64);
	s->g[s->n] = *g;
	snprintf(s->bins[s->n], sizeof(s->bins[0]), "%s", g->bins);
	s->n++;
	return 0;
}

static const struct compact_group *
find(const struct seen *s, int64_t minute, const char *cmd, const char *host)
{
	for (int i = 0; i < s->n; i++)
		if (s->g[i].minute == minute && strcmp(s->g[i].command, cmd) == 0 &&
		    strcmp(s->g[i].host, host) == 0)
			return &s->g[i];
	return NULL;
}

Test(compact, histograms_by_minute_with_the_final_host)
{
	struct compact *c = compact_new();
	struct mx_session s;
	struct mx_txn t;
	sess_init(&s, 1);
	s.server_is_host = false; /* not known yet while the session runs */
	for (int i = 0; i < 10; i++) {
		txn_init(&t, (uint64_t)i + 1, 1, "RCPT", T0 + (uint64_t)i * 10000 * MS, 2 * MS, "250");
		cr_assert_geq(compact_reply(c, &s, &t, NULL, i == 9), 0);
	}
	struct seen out = {0};
	cr_assert_eq(compact_flush_groups(c, INT64_MAX, collect, &out), 0);
	cr_expect_eq(out.n, 0, "nothing counted before the session ends");
	s.server_is_host = true;
	cr_assert_eq(compact_session_end(c, &s), 0);
	/* a reply without a session: counted at once, host and protocol empty */
	txn_init(&t, 99, 5, "QUIT", T0 + 61 * 1000 * MS, 1 * MS, "221");
	cr_assert_eq(compact_reply(c, NULL, &t, NULL, false), COMPACT_ROW);
	cr_assert_eq(compact_flush_groups(c, 1767225660, collect, &out), 0);
	cr_assert_eq(out.n, 1, "only the first minute");
	const struct compact_group *g = find(&out, 1767225600, "RCPT", "192.0.2.10");
	cr_assert_not_null(g);
	cr_expect_eq(g->replies, 6);
	cr_expect_eq(g->n, 6);
	cr_expect_str_eq(g->protocol, "smtp");
	cr_expect_eq(g->min_ms, 2.0);
	cr_expect_eq(g->max_ms, 2.0);
	char want[32];
	snprintf(want, sizeof(want), "[%d,6]", hist_bin(2.0));
	cr_expect_str_eq(out.bins[0], want);
	cr_assert_eq(compact_flush_groups(c, INT64_MAX, collect, &out), 0);
	cr_assert_eq(out.n, 3);
	cr_expect_not_null(find(&out, 1767225660, "RCPT", "192.0.2.10"));
	const struct compact_group *q = find(&out, 1767225660, "QUIT", "");
	cr_assert_not_null(q);
	cr_expect_str_eq(q->protocol, "");
	/* flushed groups are gone */
	int before = out.n;
	cr_assert_eq(compact_flush_groups(c, INT64_MAX, collect, &out), 0);
	cr_expect_eq(out.n, before);
	compact_free(c);
}

/*
 * A reply's group is its texts, not the bytes after their NULs: a queue
 * slot reused by the writer holds a shorter command over the rest of a
 * longer one (the key is hashed and compared a word at a time).
 */
Test(compact, a_group_is_its_texts_not_the_bytes_after_them)
{
	struct compact *c = compact_new();
	struct mx_session s;
	struct mx_txn t;
	sess_init(&s, 1);
	const char *cmds[] = {"MAIL", "MAIL", "MAILX", "MAIL", "RCPT"};
	for (int i = 0; i < 5; i++) {
		txn_init(&t, (uint64_t)i + 1, 1, "", T0 + (uint64_t)i * MS, 2 * MS, "250");
		/* stale bytes after each text, different each time */
		memset(t.command, 'A' + i, sizeof(t.command));
		memset(t.guess, 'a' + i, sizeof(t.guess));
		mx_strlcpy(t.command, cmds[i], sizeof(t.command));
		t.guess[0] = '\0';
		cr_assert_geq(compact_reply(c, &s, &t, NULL, false), 0);
	}
	cr_assert_eq(compact_session_end(c, &s), 0);
	struct seen out = {0};
	cr_assert_eq(compact_flush_groups(c, INT64_MAX, collect, &out), 0);
	cr_assert_eq(out.n, 3, "MAIL, MAILX and RCPT: %d groups", out.n);
	const struct compact_group *g = find(&out, 1767225600, "MAIL", "192.0.2.10");
	cr_assert_not_null(g);
	cr_expect_eq(g->replies, 3);
	cr_expect_str_eq(g->guess, "");
	g = find(&out, 1767225600, "MAILX", "192.0.2.10");
	cr_assert_not_null(g);
	cr_expect_eq(g->replies, 1);
	compact_free(c);
}

Test(compact, many_sessions_ending_in_any_order)
{
	struct compact *c = compact_new();
	enum { N = 5000 };
	static struct mx_session s[N];
	struct mx_txn t;
	uint64_t id = 1;
	for (int i = 0; i < N; i++) {
		sess_init(&s[i], (uint64_t)i * 7919 + 3); /* scattered ids */
		for (int k = 0; k < 3; k++) {
			txn_init(&t, id++, s[i].id, "RCPT", T0 + (uint64_t)k * MS, 1 * MS, "250");
			cr_assert_eq(compact_reply(c, &s[i], &t, "TO:<x@y>", false), COMPACT_KEPT);
		}
	}
	/* end every other one, then check the others still have their three */
	for (int i = 0; i < N; i += 2)
		cr_assert_eq(compact_session_end(c, &s[i]), 0);
	bool nomem = false;
	for (int i = 0; i < N; i++) {
		const char *j =
		    compact_session_json(c, s[i].id, 0, s[i].syn_ns, MXP_SMTP, NULL, NULL, NULL, &nomem);
		if (i % 2 == 0) {
			cr_assert_null(j, "session %d ended", i);
		} else {
			cr_assert_not_null(j, "session %d lost its replies", i);
			int elems = 0;
			for (const char *p = j; *p; p++)
				elems += *p == '[';
			cr_assert_eq(elems, 4, "%s", j);
		}
	}
	cr_assert_eq(compact_end_all(c), 0);
	for (int i = 0; i < N; i++)
		cr_assert_null(compact_session_json(c, s[i].id, 0, 0, MXP_SMTP, NULL, NULL, NULL, &nomem));
	struct seen out = {0};
	cr_assert_eq(compact_flush_groups(c, INT64_MAX, collect, &out), 0);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.g[0].replies, 3 * N);
	compact_free(c);
}

Test(compact, a_session_list_is_bounded)
{
	struct compact *c = compact_new();
	struct mx_session s;
	struct mx_txn t;
	sess_init(&s, 1);
	int rows = 0;
	for (int i = 0; i < COMPACT_MAX_PER_SESSION + 10; i++) {
		txn_init(&t, (uint64_t)i + 1, 1, "NOOP", T0 + (uint64_t)i * MS, 1000, "250");
		int r = compact_reply(c, &s, &t, NULL, false);
		cr_assert_geq(r, 0);
		rows += r == COMPACT_ROW;
	}
	cr_expect_eq(rows, 10, "past the bound the replies are rows");
	compact_free(c);
}
