/*
 * linebuf.h - bounded line accumulator and dot-terminator scanner for the
 * text mail protocols (SMTP RFC 5321 section 2.3.8 / 4.5.2, POP3 RFC 1939
 * section 3).
 *
 * struct linebuf collects one line at a time from any split of the byte
 * stream.  It keeps at most LB_LINE_MAX bytes of a line; the rest of a
 * longer line is counted and dropped (lb->truncated), never buffered, so a
 * 1 MB line costs no memory.  Each line carries two timestamps: the segment
 * holding its first byte (first_ns) and the segment holding its LF
 * (end_ns).  A line ends at LF; a CR right before the LF is stripped; a bare
 * LF is accepted as a line end (as most servers do).
 *
 * struct dotend finds the end of a dot-terminated block (SMTP DATA body,
 * POP3 multi-line response) without buffering: "CRLF.CRLF" where the first
 * CRLF may be the one that ended the preceding command/status line, so an
 * empty body is just ".CRLF".  It counts the block's bytes with the
 * dot-stuffing removed.
 *
 * Both are plain structs owned by the caller (no allocation); zero-filling
 * or lb_init()/dotend_init() prepares them.  Neither reads outside
 * [p, p+n).
 */
#ifndef MXLAG_LINEBUF_H
#define MXLAG_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Two per SMTP/POP3 session, for every session at once: this size is most
 * of a session's memory.  RFC 5321 allows 512-octet command and reply
 * lines, RFC 1939 512-octet POP3 lines; what the analyzers keep of a line
 * (command, argument, reply code and text) is shorter still.  Longer lines
 * (AUTH payloads, abuse) are counted and cut.
 */
#define LB_LINE_MAX 1024

struct linebuf {
	size_t len;                /* bytes of the line held in buf (<= LB_LINE_MAX) */
	uint64_t total;            /* bytes of the line seen so far, LF excluded */
	uint64_t first_ns;         /* segment holding the line's first byte */
	uint64_t end_ns;           /* segment holding the LF (valid when complete) */
	bool truncated;            /* total > len: the tail of the line was dropped */
	bool complete;             /* a whole line is in buf */
	bool last_cr;              /* the last byte seen was CR */
	char buf[LB_LINE_MAX + 1]; /* NUL-terminated when complete */
};

void lb_init(struct linebuf *lb);

/*
 * Consumes bytes from p up to and including the first LF.  Returns how many
 * bytes it consumed (0 only when n == 0).  When it consumed an LF,
 * lb->complete is true and lb->buf[0..len) holds the line without its line
 * end, NUL-terminated; the line stays valid until the next lb_feed() or
 * lb_reset(), and the next lb_feed() starts a new line by itself.
 */
size_t lb_feed(struct linebuf *lb, const uint8_t *p, size_t n, uint64_t ts_ns);

/* true if bytes of an unfinished line are held (a line was split). */
bool lb_partial(const struct linebuf *lb);

/* Drops whatever is held. */
void lb_reset(struct linebuf *lb);

enum dotend_state {
	DOT_LINE = 0, /* inside a line */
	DOT_CR,       /* CR seen inside a line */
	DOT_BOL,      /* at the beginning of a line */
	DOT_DOT,      /* a '.' at the beginning of a line */
	DOT_DOTCR,    /* ".CR" at the beginning of a line */
	DOT_DONE,     /* terminator seen */
};

struct dotend {
	enum dotend_state st;
	uint64_t wire;  /* bytes consumed, terminator included */
	uint64_t bytes; /* block bytes without dot-stuffing and terminator */
};

/* Starts a block right after the line end of the line that opened it. */
void dotend_init(struct dotend *d);

/*
 * Scans p[0..n) for the terminator.  Returns the bytes consumed: up to and
 * including the terminator's LF when it was found (then d->st == DOT_DONE
 * and d->bytes is final), else n.
 */
size_t dotend_scan(struct dotend *d, const uint8_t *p, size_t n);

/*
 * After lost bytes inside a block: the terminator can no longer start at
 * the current position; the lost bytes are added to the count.
 */
void dotend_gap(struct dotend *d, uint64_t lost);

#endif
