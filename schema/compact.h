/*
 * compact.h - the writer's memory for the compact reply layout (schema 5):
 * each open session's ordinary replies until its row is written
 * (sessions.replies), and the latency histograms (latency_hist) of the
 * minutes still open.
 *
 * A reply is "notable" (a row of its own in transactions) when it was not
 * answered, not ok (cut, aborted), failed (4xx/5xx, -ERR), or at least the
 * run's notable threshold slow (the analysis threshold: every reply with a
 * cause or a diagnosis is that slow).  Every other reply is kept here and
 * becomes one element of its session's sessions.replies array.  Since
 * version 17 the array begins with a number B, the transactions id of the
 * session's first compact reply, and a reply is
 *
 *   "<head>"                                          the head alone,
 *   "<head><tail>"                                    a head with a tail, or
 *   ["<head>", argument (, reply_code (, size (, guess (, reply_text))))], or
 *   [id - B, command, argument, request_us, latency_us (, reply_code (, size
 *    (, guess (, reply_text))))]                     what a head cannot hold.
 *
 * A head is a string of characters, each holding a number v (0 <= v <
 * COMPACT_CHAR_MAX) as the code point v + 32 (SQL: unicode(c) - 32):
 *
 *   command * 2 + h, id - B, request_us / L, request_us % L, latency_us
 *
 * with L = COMPACT_CHAR_LO; latency_us takes two characters (latency_us / L,
 * latency_us % L) when it is COMPACT_CHAR_MAX or more, which the head's
 * length (5 or 6) tells.  command: the word's number in the list of
 * compact_command_code() (the table command_words).  h = 1: the argument is
 * sessions.helo, in a head alone; a head alone has no other argument, the
 * command's usual code and nothing after it.  A reply with a word outside
 * the list, a negative time or id offset, an id offset of COMPACT_CHAR_MAX
 * or more, or a time of COMPACT_TWO_MAX us (111 s) or more takes the last
 * form.
 *
 * A head with a tail (version 18) holds a reply with its command's usual
 * code, no guess and no text, whose first number is COMPACT_TAILED +
 * command (so 64 to 95: the code points 96 to 127) and whose latency always
 * takes two characters (the head is six long); its tail, the rest of the
 * string, is
 *
 *   MAIL, RCPT   the local part of an argument "FROM:<local@D>" or
 *                "TO:<local@D>" (D below; nothing after the '>')
 *   DATA-END     its size in decimal (no argument)
 *   any other    its argument as text (not the helo; no size)
 *
 * A record before version 18 has no head from COMPACT_TAILED on.  The code points stay below the UTF-16 surrogates, and '"' and '\'
 * are escaped: the record is valid JSON and UTF-8, and json_each() gives
 * the head back as written.  A character takes 1 byte for v < 96, 2 for v
 * < 2016, else 3.
 *
 * Before version 17 the array had only elements of the third form, the first
 * one's id whole and the others' an offset from it (the encoding of version
 * 11, arguments of MAIL and RCPT shorter since 13): a record that begins
 * with an array.  The elements' parts, in every form: command and guess: the
 * word's number, the text for a word outside the list.  argument: text,
 * null, or 1 for "the session's helo" (the argument equals sessions.helo), 0
 * for none (null before version 13), or for MAIL and
 * RCPT ["local"] or ["local", "rest"]: the argument "FROM:<local@D>rest"
 * (MAIL, D = sessions.sender_domain) or "TO:<local@D>rest" (RCPT, D = the
 * first of sessions.rcpt_domains), rest left out when empty.  request_us:
 * microseconds from the session's first SYN (its start when no SYN was
 * seen) to the request; latency_us: to the first byte of the reply.
 * reply_code: a three-digit code as a number, other codes ("+OK") as text;
 * since version 16 the command's usual code in the session's protocol
 * (compact_usual_code(): 250 after MAIL, 354 after DATA, +OK in POP3, ...)
 * is left out, or written as 0 when size, guess or text follow (no reply
 * code is 0, and a record before version 16 always has its code, null for
 * none).  The trailing elements are left out when NULL (null when a later
 * one is set); reply_text is kept only for a reply without a code (inside TLS:
 * "ServerHello, TLS 1.3", "1 record, 90 bytes").  The order of the replies
 * carries no meaning.  The view compact_replies (schema.sql) expands them
 * into transactions' columns.
 *
 * Every reply (notable or not) counts in the histogram of its group:
 * (minute of its request, run, host, protocol, outbound, command, guess),
 * added when its session ends (so the group uses the session's final host
 * and direction), or at once for a reply without a session.
 */
#ifndef MXLAG_COMPACT_H
#define MXLAG_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../analyze/event.h"

/*
 * The numbers of a packed head (version 17): one character holds 0 to
 * COMPACT_CHAR_MAX - 1 (code points 32 to 0xd7ff); a time is two of them,
 * t / COMPACT_CHAR_LO and t % COMPACT_CHAR_LO (the second below 0x800: at
 * most two bytes of UTF-8), so below COMPACT_TWO_MAX.
 */
#define COMPACT_CHAR_MAX (0xd800 - 32)
#define COMPACT_CHAR_LO (0x800 - 32)
#define COMPACT_TWO_MAX ((int64_t)COMPACT_CHAR_MAX * COMPACT_CHAR_LO)
/* a head's first number from COMPACT_TAILED on: COMPACT_TAILED + command,
   a tail follows (version 18); below it: command * 2 + h */
#define COMPACT_TAILED 64

/* ordinary replies kept for one session; more are stored as rows */
#define COMPACT_MAX_PER_SESSION 4096

struct compact;

struct compact *compact_new(void);
void compact_free(struct compact *c);

/* Is t a notable reply (a row of transactions) at threshold notable_ms (0 = every reply)? */
bool compact_is_notable(const struct mx_txn *t, double notable_ms);

enum compact_rc {
	COMPACT_KEPT = 0, /* kept in the session's compact list */
	COMPACT_ROW = 1,  /* store it as a row (notable, no session, or the session's list is full) */
	COMPACT_NOMEM = -1,
};

/*
 * Notes a reply.  sess: its session as known now (may be NULL); argument:
 * what the store writes for it (secrets already replaced), NULL or "" for
 * none.  Counts it
 * for the histograms and keeps it in the compact list when it is ordinary
 * (notable == false) and the session has room.
 */
int compact_reply(struct compact *c, const struct mx_session *sess, const struct mx_txn *t,
                  const char *argument, bool notable);

/*
 * The sessions.replies text of session id (an analyzer id), with every id
 * offset by txn_base, times relative to base_ns, an argument equal to helo
 * written as 1, and the argument of a MAIL "FROM:<local@SENDER>rest" or a
 * RCPT "TO:<local@RCPT>rest" as ["local"] or ["local", "rest"] (version
 * 13), where helo, SENDER and RCPT are the session's helo, sender_domain
 * and first recipient domain as its row stores them (NULL = none); NULL
 * when it has no compact reply.  Valid until the next call.  *nomem is set
 * on allocation failure.
 */
const char *compact_session_json(struct compact *c, uint64_t id, int64_t txn_base,
                                 uint64_t base_ns, enum mx_proto proto, const char *helo,
                                 const char *sender, const char *rcpt, bool *nomem);

/* The number of a command word in the record (-1: none), and the word of a number (NULL: none). */
int compact_command_code(const char *word);
const char *compact_command_word(int code);
/*
 * The usual reply code of command number cmd in protocol proto, which the
 * record leaves out (version 16; the view compact_replies holds the same
 * table): NULL for none.
 */
const char *compact_usual_code(enum mx_proto proto, int cmd);

/*
 * The session has ended (sess: its final state): its replies go into the
 * histogram groups with its final host and direction, and its list is
 * dropped.  Returns 0 or COMPACT_NOMEM.
 */
int compact_session_end(struct compact *c, const struct mx_session *sess);

/* Every session still listed ends now with the state last seen (end of a run). */
int compact_end_all(struct compact *c);

/* one histogram group, as written to latency_hist */
struct compact_group {
	int64_t minute; /* epoch seconds, a multiple of 60 */
	char host[48];  /* "" = none */
	char protocol[8];
	bool outbound;
	char command[16];
	char guess[16]; /* "" = none */
	uint64_t replies, n;
	double min_ms, max_ms, sum_ms;
	const char *bins; /* the stored form (hist.h) */
};

/*
 * Hands every group whose minute starts before before_s (epoch seconds;
 * INT64_MAX: all) to fn, then forgets them.  A later reply of the same
 * group starts a new one (readers add the rows of a group up).  Stops at the
 * first non-zero return of fn and returns it; COMPACT_NOMEM on allocation
 * failure.
 */
int compact_flush_groups(struct compact *c, int64_t before_s,
                         int (*fn)(void *arg, const struct compact_group *g), void *arg);

/* the latest request time (ns) counted in a group, 0 = none */
uint64_t compact_latest_ns(const struct compact *c);

#endif
