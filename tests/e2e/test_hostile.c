/*
 * test_hostile.c - mxlag against hostile and damaged input: captures cut
 * at many offsets, snaplen-64 captures, corrupt record lengths, absurd DNS
 * names, megabyte-long SMTP lines, a SYN flood and a DNS query flood.
 * Every case runs the built binary on a capture generated here (with the
 * mxlag_gen packet writer, or raw pcap bytes); the floods and long lines
 * also check the peak RSS through bench/runstat.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "pktwriter.h"

/* ASan's quarantine keeps freed memory resident: keep it small so peak
 * RSS reflects what the program holds (no effect on a plain build). */
#define ASAN_ENV "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4 "

static char bin[512], runstat[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("runstat", runstat, sizeof(runstat));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(hostile, .init = setup, .fini = teardown);

static void
path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* Runs mxlag with args in dir; stdout+stderr to *out. */
static int
mx(char **out, const char *args)
{
	return e2e_sh(out, "cd '%s' && '%s' %s 2>&1", dir, bin, args);
}

/* Runs mxlag through runstat; returns its peak RSS in KiB, *rc its exit status. */
static long
mx_peak_kb(const char *args, int *rc, double *wall_s)
{
	char *out = NULL;
	*rc = e2e_sh(&out, "cd '%s' && " ASAN_ENV "'%s' '%s' %s 2>&1 >/dev/null", dir, runstat, bin,
	             args);
	long kb = -1;
	const char *m = out ? strstr(out, "maxrss_kb=") : NULL;
	const char *w = out ? strstr(out, "wall_s=") : NULL;
	if (m)
		kb = atol(m + strlen("maxrss_kb="));
	if (w && wall_s)
		*wall_s = atof(w + strlen("wall_s="));
	if (!m)
		cr_log_error("no runstat line: %s", out ? out : "(null)");
	free(out);
	return kb;
}

static int
count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static long
sql_long(const char *db, const char *sql)
{
	char *out = NULL;
	long v = -1;
	if (e2e_sh(&out, "sqlite3 '%s' \"%s\"", db, sql) == 0 && out)
		v = atol(out);
	free(out);
	return v;
}

static int
integrity_ok(const char *db)
{
	char *out = NULL;
	int ok = e2e_sh(&out, "sqlite3 '%s' 'pragma integrity_check'", db) == 0 && out &&
	         strcmp(out, "ok\n") == 0;
	if (!ok)
		cr_log_error("integrity_check of %s: %s", db, out ? out : "(null)");
	free(out);
	return ok;
}

/* ---- capture building blocks ---------------------------------------------- */

#define T0 (1767225600ULL * PW_NS_PER_S)

static struct pw_addr host, resolver;

static struct pw_sink *
open_sink(const char *path)
{
	struct pw_opts o = {PW_LINK_ETHERNET, 0, 0, 0};
	struct pw_sink *s = pw_sink_open(path, &o);
	cr_assert_not_null(s, "cannot write %s", path);
	host = pw_ip("192.0.2.10");
	resolver = pw_ip("198.51.100.53");
	pw_sink_add_local(s, &host);
	return s;
}

/* QUIT, 221 and the close of connection c after ts; *t moves past it. */
static void
smtp_quit_close(struct pw_sink *s, struct pw_tcp *c, uint64_t ts, uint64_t *t)
{
	static const char quit[] = "QUIT\r\n", bye[] = "221 bye\r\n";
	ts = pw_tcp_send(s, c, 0, ts + MS(1), quit, sizeof(quit) - 1, US(10), US(100));
	ts = pw_tcp_send(s, c, 1, ts + MS(1), bye, sizeof(bye) - 1, US(10), US(100));
	pw_tcp_fin(s, c, 1, ts + US(100));
	pw_tcp_fin(s, c, 0, ts + US(300));
	pw_tcp_ack(s, c, 1, ts + US(500));
	*t = ts + MS(10);
	pw_sink_flush(s, *t);
}

/*
 * One SMTP session from client:cport to the host at *t: greeting, the
 * client's line, the server's reply, QUIT, close.  *t moves past it.
 */
static void
smtp_session(struct pw_sink *s, uint64_t *t, const struct pw_addr *cli, uint16_t cport,
             const char *line, size_t linelen, const char *reply, size_t replylen)
{
	static const char greet[] = "220 mx.example.net ESMTP\r\n";
	struct pw_tcp c;
	pw_tcp_init(&c, cli, cport, &host, 25, 1000u + cport, 900000u + cport, 5000, 7000);
	uint64_t ts = pw_tcp_handshake(s, &c, *t, US(200), US(200));
	ts = pw_tcp_send(s, &c, 1, ts + MS(2), greet, sizeof(greet) - 1, US(10), US(100));
	ts = pw_tcp_send(s, &c, 0, ts + MS(1), line, linelen, US(5), US(50));
	ts = pw_tcp_send(s, &c, 1, ts + MS(3), reply, replylen, US(5), US(50));
	smtp_quit_close(s, &c, ts, t);
}

static void
small_sessions(const char *path, int n)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	struct pw_addr cli = pw_ip("192.0.2.200");
	static const char helo[] = "EHLO client.example.org\r\n";
	static const char ok[] = "250-mx.example.net\r\n250 PIPELINING\r\n";
	for (int i = 0; i < n; i++)
		smtp_session(s, &t, &cli, (uint16_t)(40000 + i), helo, sizeof(helo) - 1, ok,
		             sizeof(ok) - 1);
	cr_assert_eq(pw_sink_close(s), 0);
}

/* Raw pcap file writing (little-endian, microseconds). */
static void
put32(FILE *f, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	fwrite(b, 1, 4, f);
}

static void
put16(FILE *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	fwrite(b, 1, 2, f);
}

static void
pcap_header(FILE *f, uint32_t snaplen)
{
	put32(f, 0xa1b2c3d4);
	put16(f, 2);
	put16(f, 4);
	put32(f, 0);
	put32(f, 0);
	put32(f, snaplen);
	put32(f, 1); /* Ethernet */
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- truncated files ------------------------------------------------------------ */

/* Is off the end of a whole record (pcap) or block (pcapng) of blob? */
static int
at_boundary(const uint8_t *blob, size_t size, size_t off)
{
	int ng = get32(blob) == 0x0a0d0d0a;
	size_t p = ng ? 0 : 24;
	while (p < off && p + 16 <= size) {
		uint32_t len = ng ? get32(blob + p + 4) : 16 + get32(blob + p + 8);
		if (len == 0)
			return 0;
		p += len;
	}
	return p == off;
}

/* A file cut at offset off: exit 0 with a warning naming file and offset
 * when packets came before the damage, else exit 1 with one clear line;
 * cut at 0 or between blocks before the first packet: an empty capture,
 * exit 0 and the one notice "no packets". */
static void
check_cut(const char *whole, size_t size, size_t off, const char *name)
{
	char cut[600], cmd[1400], *out = NULL, *blob = NULL;
	path_in(cut, sizeof(cut), name);
	FILE *in = fopen(whole, "rb");
	cr_assert_not_null(in);
	blob = malloc(size);
	cr_assert_eq(fread(blob, 1, size, in), size);
	fclose(in);
	FILE *o = fopen(cut, "wb");
	cr_assert_not_null(o);
	fwrite(blob, 1, off, o);
	fclose(o);
	int clean = at_boundary((const uint8_t *)blob, size, off);

	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet '%s'", cut);
	int rc = mx(&out, cmd);
	cr_expect(rc == 0 || rc == 1, "cut at %zu: exit %d: %s", off, rc, out);
	cr_expect(strstr(out, "AddressSanitizer") == NULL && strstr(out, "runtime error") == NULL,
	          "cut at %zu: %s", off, out);
	char notice[700];
	snprintf(notice, sizeof(notice), "mxlag: %s: no packets\n", cut);
	if (off == 0) {
		/* 0 bytes: an empty capture (a rotated file not yet written) */
		cr_expect_eq(rc, 0, "cut at 0: exit %d: %s", rc, out);
		cr_expect_str_eq(out, notice, "cut at 0: one notice");
		free(out);
		free(blob);
		return;
	}
	if (clean && rc == 0) {
		/* cut between records: a shorter capture, nothing to warn about;
		 * cut before the first packet: an empty one, one notice */
		if (strcmp(out, notice) != 0)
			cr_expect_str_eq(out, "", "cut at %zu (record boundary)", off);
		free(out);
		free(blob);
		return;
	}
	cr_expect(strstr(out, name) != NULL, "cut at %zu: message names the file: %s", off, out);
	const char *at = strstr(out, "at offset ");
	if (rc == 0)
		cr_expect(at != NULL, "cut at %zu: names the offset: %s", off, out);
	if (at) {
		/* the offset is where the damaged record starts */
		size_t named = (size_t)atol(at + strlen("at offset "));
		cr_expect(named <= off && at_boundary((const uint8_t *)blob, size, named),
		          "cut at %zu: offset %zu is a record start: %s", off, named, out);
	}
	if (rc != 0) {
		cr_expect_eq(count_lines(out), 1, "cut at %zu: one clear line: %s", off, out);
	}
	/* cut past the first few records: packets came before the damage */
	if (off >= 4096)
		cr_expect_eq(rc, 0, "cut at %zu: what came before is analyzed: %s", off, out);
	if (off <= 24 && !clean)
		cr_expect_eq(rc, 1, "cut at %zu: nothing readable: %s", off, out);
	free(out);
	free(blob);
}

static void
cut_many(const char *whole, const char *name)
{
	struct stat sb;
	cr_assert_eq(stat(whole, &sb), 0);
	size_t size = (size_t)sb.st_size;
	size_t offs[64];
	int n = 0;
	static const size_t fixed[] = {0, 1, 4, 8, 23, 24, 25, 30, 39, 40, 41, 60, 100, 200};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		offs[n++] = fixed[i];
	for (int k = 1; k < 24; k++)
		offs[n++] = size * (size_t)k / 24 + (size_t)k * 7 % 13;
	offs[n++] = size - 1;
	for (int i = 0; i < n; i++)
		if (offs[i] < size)
			check_cut(whole, size, offs[i], name);
}

Test(hostile, truncated_pcap_at_many_offsets, .timeout = 300)
{
	char whole[600];
	path_in(whole, sizeof(whole), "whole.pcap");
	small_sessions(whole, 30);
	cut_many(whole, "cut.pcap");
}

Test(hostile, truncated_pcapng_at_many_offsets, .timeout = 300)
{
	char whole[600];
	path_in(whole, sizeof(whole), "whole.pcapng");
	struct pw_opts o = {PW_LINK_ETHERNET, 1, 1, 0};
	struct pw_sink *s = pw_sink_open(whole, &o);
	cr_assert_not_null(s);
	host = pw_ip("192.0.2.10");
	uint64_t t = T0;
	struct pw_addr cli = pw_ip("192.0.2.201");
	static const char helo[] = "HELO client\r\n", ok[] = "250 ok\r\n";
	for (int i = 0; i < 30; i++)
		smtp_session(s, &t, &cli, (uint16_t)(41000 + i), helo, sizeof(helo) - 1, ok,
		             sizeof(ok) - 1);
	cr_assert_eq(pw_sink_close(s), 0);
	cut_many(whole, "cut.pcapng");
}

Test(hostile, truncated_file_with_database_keeps_what_came_before)
{
	char whole[600], cut[600], db[600], cmd[2000], *out = NULL;
	path_in(whole, sizeof(whole), "w.pcap");
	path_in(cut, sizeof(cut), "c.pcap");
	path_in(db, sizeof(db), "c.db");
	small_sessions(whole, 10);
	struct stat sb;
	cr_assert_eq(stat(whole, &sb), 0);
	cr_assert_eq(
	    e2e_sh(NULL, "head -c %lld '%s' > '%s'", (long long)sb.st_size / 2 + 3, whole, cut), 0);
	snprintf(cmd, sizeof(cmd), "analyze --quiet --db '%s' '%s'", db, cut);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	cr_expect_eq(count_lines(out), 1, "one warning: %s", out);
	cr_expect(strstr(out, "c.pcap") != NULL && strstr(out, "offset") != NULL, "%s", out);
	free(out);
	long n = sql_long(db, "select count(*) from sessions");
	cr_expect(n >= 4 && n <= 6, "sessions before the damage are stored: %ld", n);
	cr_expect(integrity_ok(db));
	cr_expect_eq(sql_long(db, "select count(*) from runs where finished is not null"), 1);
}

/* ---- snaplen 64 ----------------------------------------------------------------- */

Test(hostile, snaplen_64_smtp_sessions_still_seen)
{
	char whole[600], snap[600], db[600], cmd[2000], *out = NULL;
	path_in(whole, sizeof(whole), "full.pcap");
	path_in(snap, sizeof(snap), "snap64.pcap");
	path_in(db, sizeof(db), "snap.db");
	small_sessions(whole, 20);

	/* rewrite: file snaplen 64, every record cut to 64 bytes */
	FILE *in = fopen(whole, "rb"), *o = fopen(snap, "wb");
	cr_assert(in && o);
	uint8_t gh[24], rh[16], buf[70000];
	cr_assert_eq(fread(gh, 1, 24, in), 24);
	pcap_header(o, 64);
	int recs = 0;
	while (fread(rh, 1, 16, in) == 16) {
		uint32_t cl = get32(rh + 8), wl = get32(rh + 12);
		cr_assert_leq(cl, sizeof(buf));
		cr_assert_eq(fread(buf, 1, cl, in), cl);
		uint32_t keep = cl < 64 ? cl : 64;
		put32(o, get32(rh));
		put32(o, get32(rh + 4));
		put32(o, keep);
		put32(o, wl);
		fwrite(buf, 1, keep, o);
		recs++;
	}
	fclose(in);
	fclose(o);
	cr_assert_gt(recs, 100);

	snprintf(cmd, sizeof(cmd), "analyze --db '%s' '%s'", db, snap);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	cr_expect(strstr(out, "snapped") != NULL, "snapped bytes are counted: %s", out);
	free(out);
	cr_expect_eq(sql_long(db, "select count(*) from sessions"), 20);
	cr_expect_eq(sql_long(db, "select count(distinct client_port) from sessions"), 20);
	cr_expect(integrity_ok(db));
}

/* ---- corrupt record lengths -------------------------------------------------------- */

/* Writes n good records from the workload of whole, then one record header
 * with caplen/len as given (followed by bytes), then the rest. */
static void
corrupt_at(const char *whole, const char *outp, int at, uint32_t caplen, uint32_t len,
           uint32_t snaplen)
{
	FILE *in = fopen(whole, "rb"), *o = fopen(outp, "wb");
	cr_assert(in && o);
	uint8_t gh[24], rh[16], buf[70000];
	cr_assert_eq(fread(gh, 1, 24, in), 24);
	pcap_header(o, snaplen);
	int i = 0;
	while (fread(rh, 1, 16, in) == 16) {
		uint32_t cl = get32(rh + 8);
		cr_assert_leq(cl, sizeof(buf));
		cr_assert_eq(fread(buf, 1, cl, in), cl);
		if (i++ == at) {
			put32(o, get32(rh));
			put32(o, get32(rh + 4));
			put32(o, caplen);
			put32(o, len);
			fwrite(buf, 1, cl, o);
			continue;
		}
		fwrite(rh, 1, 16, o);
		fwrite(buf, 1, cl, o);
	}
	fclose(in);
	fclose(o);
}

Test(hostile, corrupt_record_lengths, .timeout = 120)
{
	char whole[600], bad[600], cmd[2000], *out = NULL;
	path_in(whole, sizeof(whole), "good.pcap");
	path_in(bad, sizeof(bad), "bad.pcap");
	small_sessions(whole, 10);
	static const struct {
		uint32_t caplen, len, snaplen;
		const char *what;
	} cases[] = {
	    {200, 200, 100, "caplen > file snaplen"},
	    {70000, 70000, 65535, "caplen > snaplen 65535"},
	    {300000, 300000, 262144, "caplen > any snaplen"},
	    {0, 0, 65535, "caplen 0"},
	    {0, 1500, 65535, "caplen 0, len 1500"},
	    {0xffffffffu, 0xffffffffu, 65535, "caplen 4 GiB"},
	    {0x7ffffff0u, 60, 65535, "caplen 2 GiB"},
	    {60, 10, 65535, "caplen > len"},
	    {60, 0xffffffffu, 65535, "len 4 GiB"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (int at = 0; at < 3; at++) {
			int rec = at == 0 ? 0 : at == 1 ? 5 : 60;
			corrupt_at(whole, bad, rec, cases[k].caplen, cases[k].len,
			           cases[k].snaplen);
			snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet '%s'", bad);
			int rc = mx(&out, cmd);
			cr_expect(rc == 0 || rc == 1, "%s at record %d: exit %d: %s", cases[k].what,
			          rec, rc, out);
			cr_expect(strstr(out, "Sanitizer") == NULL &&
			              strstr(out, "runtime error") == NULL,
			          "%s at %d: %s", cases[k].what, rec, out);
			if (rec > 0)
				cr_expect_eq(rc, 0, "%s at record %d: earlier packets analyzed: %s",
				             cases[k].what, rec, out);
			if (rc == 1)
				cr_expect_eq(count_lines(out), 1, "%s at %d: one clear line: %s",
				             cases[k].what, rec, out);
			cr_expect_leq(count_lines(out), 1, "%s at %d: %s", cases[k].what, rec, out);
			free(out);
		}
	}
}

/* ---- absurd DNS names --------------------------------------------------------------- */

struct dnsbuf {
	uint8_t b[2048];
	size_t n;
};

static void
db_bytes(struct dnsbuf *d, const void *p, size_t n)
{
	cr_assert_leq(d->n + n, sizeof(d->b));
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

static void
db_u16(struct dnsbuf *d, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	db_bytes(d, b, 2);
}

static void
db_header(struct dnsbuf *d, uint16_t id, int response, uint16_t qd, uint16_t an)
{
	d->n = 0;
	db_u16(d, id);
	db_u16(d, response ? 0x8180 : 0x0100);
	db_u16(d, qd);
	db_u16(d, an);
	db_u16(d, 0);
	db_u16(d, 0);
}

static void
db_label(struct dnsbuf *d, size_t len, char fill)
{
	uint8_t l = (uint8_t)len;
	db_bytes(d, &l, 1);
	for (size_t i = 0; i < len; i++)
		db_bytes(d, &fill, 1);
}

static void
db_ptr(struct dnsbuf *d, uint16_t off)
{
	db_u16(d, (uint16_t)(0xc000 | off));
}

static void
db_qtail(struct dnsbuf *d, uint16_t qtype)
{
	db_u16(d, qtype);
	db_u16(d, 1);
}

/* An answer RR whose owner is a pointer to off, of type PTR, with rdata. */
static void
db_rr_ptr(struct dnsbuf *d, uint16_t owner, const uint8_t *rdata, uint16_t rdlen, uint16_t claimed)
{
	db_ptr(d, owner);
	db_u16(d, 12);
	db_u16(d, 1);
	db_u16(d, 0);
	db_u16(d, 60);
	db_u16(d, claimed);
	db_bytes(d, rdata, rdlen);
}

static void
udp53(struct pw_sink *s, uint64_t ts, int response, uint16_t port, const struct dnsbuf *d)
{
	if (response)
		pw_udp(s, ts, &resolver, 53, &host, port, d->b, d->n);
	else
		pw_udp(s, ts, &host, port, &resolver, 53, d->b, d->n);
}

/* A query and its (equally absurd) response. */
static void
exchange(struct pw_sink *s, uint64_t *t, uint16_t id, struct dnsbuf *q)
{
	struct dnsbuf r = *q;
	r.b[2] = 0x81;
	r.b[3] = 0x80;
	udp53(s, *t, 0, (uint16_t)(20000 + id), q);
	udp53(s, *t + MS(3), 1, (uint16_t)(20000 + id), &r);
	*t += MS(10);
}

static void
write_absurd_dns(const char *path)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	struct dnsbuf d;
	uint16_t id = 1;

	/* 1: the name is a pointer to itself */
	db_header(&d, id, 0, 1, 0);
	db_ptr(&d, 12);
	db_qtail(&d, 12);
	exchange(s, &t, id++, &d);
	/* 2: two pointers pointing at each other */
	db_header(&d, id, 0, 1, 0);
	db_ptr(&d, 14);
	db_ptr(&d, 12);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 3: a label, then a pointer back to the label: infinite "a.a.a..." */
	db_header(&d, id, 0, 1, 0);
	db_label(&d, 1, 'a');
	db_ptr(&d, 12);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 4: 6 labels of 63 octets: 384 octets, over the 255 limit */
	db_header(&d, id, 0, 1, 0);
	for (int i = 0; i < 6; i++)
		db_label(&d, 63, (char)('a' + i));
	db_label(&d, 0, 0);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 5: 200 one-octet labels (400 octets) */
	db_header(&d, id, 0, 1, 0);
	for (int i = 0; i < 200; i++)
		db_label(&d, 1, 'x');
	db_label(&d, 0, 0);
	db_qtail(&d, 12);
	exchange(s, &t, id++, &d);
	/* 6: a forward chain of pointers, each one hop, 300 hops long */
	db_header(&d, id, 0, 1, 0);
	db_ptr(&d, 14);
	for (int i = 1; i < 300; i++)
		db_ptr(&d, (uint16_t)(12 + 2 * (i + 1)));
	db_label(&d, 0, 0);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 7: a pointer past the end of the message */
	db_header(&d, id, 0, 1, 0);
	db_ptr(&d, 0x3fff);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 8: a label longer than what is left */
	db_header(&d, id, 0, 1, 0);
	db_label(&d, 3, 'm');
	uint8_t l63 = 63;
	db_bytes(&d, &l63, 1);
	db_bytes(&d, "short", 5);
	exchange(s, &t, id++, &d);
	/* 9: reserved label types 0x40 and 0x80 */
	db_header(&d, id, 0, 1, 0);
	uint8_t r40[] = {0x41, 'z', 0x81, 'y', 0};
	db_bytes(&d, r40, sizeof(r40));
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	/* 10: printable trouble: NUL, quotes, backslashes, control bytes, dots */
	db_header(&d, id, 0, 1, 0);
	uint8_t odd[] = {7, 'a', 0, '"', '\\', '\n', '.', 0x7f, 3, 0xff, 0xfe, '\'', 0};
	db_bytes(&d, odd, sizeof(odd));
	db_qtail(&d, 12);
	exchange(s, &t, id++, &d);
	/* 11: response whose answers loop: owner -> itself, rdata -> itself,
	 * RDLENGTH beyond the message, and 65535 claimed answers */
	db_header(&d, id, 0, 1, 0);
	db_label(&d, 3, 'p');
	db_label(&d, 0, 0);
	db_qtail(&d, 12);
	udp53(s, t, 0, (uint16_t)(20000 + id), &d);
	db_header(&d, id, 1, 1, 0xffff);
	db_label(&d, 3, 'p');
	db_label(&d, 0, 0);
	db_qtail(&d, 12);
	size_t here = d.n;
	uint8_t self[2] = {0xc0, (uint8_t)(here + 12)}; /* rdata points at itself */
	db_rr_ptr(&d, (uint16_t)here, self, 2, 2);
	uint8_t loop[2] = {0xc0, 12};
	db_rr_ptr(&d, 12, loop, 2, 60000);
	udp53(s, t + MS(2), 1, (uint16_t)(20000 + id), &d);
	t += MS(10);
	id++;
	/* 12: qdcount 65535 with one question; an empty datagram; 5 bytes */
	db_header(&d, id, 0, 0xffff, 0);
	db_label(&d, 1, 'q');
	db_label(&d, 0, 0);
	db_qtail(&d, 1);
	exchange(s, &t, id++, &d);
	d.n = 0;
	udp53(s, t, 0, 20999, &d);
	db_header(&d, id, 0, 1, 0);
	d.n = 5;
	udp53(s, t + 1, 0, 20998, &d);
	t += MS(10);

	/* and then a sane query that must still be seen */
	db_header(&d, 0x5151, 0, 1, 0);
	static const char sane[] = "\x03"
	                           "200"
	                           "\x01"
	                           "2"
	                           "\x01"
	                           "0"
	                           "\x03"
	                           "192"
	                           "\x07"
	                           "in-addr"
	                           "\x04"
	                           "arpa";
	db_bytes(&d, sane, sizeof(sane)); /* with the root label */
	db_qtail(&d, 12);
	udp53(s, t, 0, 33333, &d);
	cr_assert_eq(pw_sink_close(s), 0);
}

Test(hostile, absurd_dns_names)
{
	char cap[600], db[600], cmd[2000], *out = NULL;
	path_in(cap, sizeof(cap), "dns.pcap");
	path_in(db, sizeof(db), "dns.db");
	write_absurd_dns(cap);

	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet --events '%s'", cap);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	cr_expect(strstr(out, "\"200.2.0.192.in-addr.arpa\"") != NULL,
	          "the sane query after the absurd ones is seen: %s", out);
	/* every event is one JSON line of sane size */
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		cr_expect_eq(l[0], '{', "%s", l);
		cr_expect_lt(strlen(l), 4096, "%.200s", l);
	}
	free(out);

	snprintf(cmd, sizeof(cmd), "analyze --quiet --db '%s' '%s'", db, cap);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	free(out);
	cr_expect(integrity_ok(db));
	cr_expect_eq(sql_long(db, "select count(*) from dns_queries where qname = "
	                          "'200.2.0.192.in-addr.arpa'"),
	             1);
	cr_expect_leq(sql_long(db, "select coalesce(max(length(qname)), 0) from dns_queries"), 1100,
	              "stored names stay bounded");
	cr_expect_eq(e2e_sh(NULL, "cd '%s' && '%s' report --db '%s' --format json dns >/dev/null",
	                    dir, bin, db),
	             0);
}

/* ---- megabyte lines ------------------------------------------------------------------ */

#define LINE_MB 1

static void
long_line_capture(const char *path, size_t cmdlen, size_t replylen)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	struct pw_addr cli = pw_ip("192.0.2.77");
	char *cmd = malloc(cmdlen + 32), *rep = malloc(replylen + 32);
	cr_assert(cmd && rep);
	size_t n = 0;
	n += (size_t)sprintf(cmd, "MAIL FROM:<");
	for (; n < cmdlen; n++)
		cmd[n] = (char)('a' + n % 26);
	n += (size_t)sprintf(cmd + n, ">\r\n");
	size_t m = (size_t)sprintf(rep, "250 ");
	while (m < replylen)
		rep[m++] = 'b';
	m += (size_t)sprintf(rep + m, "\r\n");
	smtp_session(s, &t, &cli, 45000, cmd, n, "250 ok\r\n", 8);
	smtp_session(s, &t, &cli, 45001, "NOOP\r\n", 6, rep, m);
	/* a normal session after them must still be parsed */
	smtp_session(s, &t, &cli, 45002, "HELO after\r\n", 12, "250 hi\r\n", 8);
	free(cmd);
	free(rep);
	cr_assert_eq(pw_sink_close(s), 0);
}

Test(hostile, megabyte_command_and_reply_lines, .timeout = 300)
{
	char base[600], one[600], eight[600], db[600], cmd[2000], *out = NULL;
	path_in(base, sizeof(base), "base.pcap");
	path_in(one, sizeof(one), "line1m.pcap");
	path_in(eight, sizeof(eight), "line8m.pcap");
	path_in(db, sizeof(db), "line.db");
	long_line_capture(base, 100, 100);
	long_line_capture(one, (size_t)LINE_MB << 20, (size_t)LINE_MB << 20);
	long_line_capture(eight, (size_t)8 << 20, (size_t)8 << 20);

	int rc;
	double w;
	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet '%s'", base);
	long kb0 = mx_peak_kb(cmd, &rc, &w);
	cr_assert_eq(rc, 0);
	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet '%s'", one);
	long kb1 = mx_peak_kb(cmd, &rc, &w);
	cr_expect_eq(rc, 0);
	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet '%s'", eight);
	long kb8 = mx_peak_kb(cmd, &rc, &w);
	cr_expect_eq(rc, 0);
	cr_log_info("peak RSS: small lines %ld KiB, 1 MiB lines %ld KiB, 8 MiB lines %ld KiB", kb0,
	            kb1, kb8);
	fprintf(stderr,
	        "hostile: peak RSS small lines %ld KiB, 1 MiB lines %ld KiB, 8 MiB lines %ld KiB\n",
	        kb0, kb1, kb8);
	/* lines are not buffered whole: 8 MiB lines cost (almost) nothing more */
	cr_expect_lt(kb1 - kb0, 4096, "1 MiB lines: %ld -> %ld KiB", kb0, kb1);
	cr_expect_lt(kb8 - kb0, 4096, "8 MiB lines: %ld -> %ld KiB", kb0, kb8);

	snprintf(cmd, sizeof(cmd), "analyze --quiet --db '%s' '%s'", db, one);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	free(out);
	cr_expect(integrity_ok(db));
	cr_expect_eq(sql_long(db, "select count(*) from sessions"), 3);
	cr_expect_eq(sql_long(db, "select count(*) from replies where command = 'MAIL'"), 1);
	cr_expect_eq(sql_long(db, "select count(*) from replies where command = 'HELO' and "
	                          "reply_code = '250'"),
	             1, "the session after the long lines is parsed");
	cr_expect_lt(sql_long(db, "select max(length(argument)) from replies"), 65536,
	             "stored arguments are capped");
	cr_expect_lt(sql_long(db, "select coalesce(max(length(reply_text)), 0) from replies"),
	             65536, "stored reply texts are capped");
}

/* ---- floods --------------------------------------------------------------------------- */

/* The i-th connection of a flood: a client of its own to the host's port 25. */
static void
flood_conn(struct pw_tcp *c, long i)
{
	char a[32];
	snprintf(a, sizeof(a), "10.%ld.%ld.%ld", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
	struct pw_addr cli = pw_ip(a);
	pw_tcp_init(c, &cli, (uint16_t)(1024 + (i % 60000)), &host, 25, (uint32_t)i * 7919u, 1, 1,
	            1);
}

/* Peak RSS of `mxlag analyze --no-db --quiet OPTS PATH`, which must succeed. */
static long
analyze_peak_kb(const char *opts, const char *path, double *wall_s)
{
	char cmd[2000];
	int rc;
	snprintf(cmd, sizeof(cmd), "analyze --no-db --quiet %s '%s'", opts, path);
	long kb = mx_peak_kb(cmd, &rc, wall_s);
	cr_expect_eq(rc, 0, "%s", cmd);
	return kb;
}

/* n SYNs from distinct clients to port 25, 5 us apart, never answered. */
static void
syn_flood(const char *path, long n)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	for (long i = 0; i < n; i++) {
		struct pw_tcp c;
		flood_conn(&c, i);
		pw_tcp_syn(s, &c, 0, t);
		t += US(5);
		if ((i & 0xfff) == 0)
			pw_sink_flush(s, t);
	}
	cr_assert_eq(pw_sink_close(s), 0);
}

/* Counter value from the "counters:" block of mxlag's summary, or -1. */
static long
counter(const char *out, const char *name)
{
	const char *p = out;
	size_t n = strlen(name);
	while ((p = strstr(p, name)) != NULL) {
		if ((p == out || p[-1] == ' ') && p[n] == ' ')
			return atol(p + n);
		p += n;
	}
	return -1;
}

#define FLOOD_FLOWS 1000000L

Test(hostile, syn_flood_is_bounded_by_the_flow_cap, .timeout = 600)
{
	char small[600], big[600], cmd[2000], *out = NULL;
	path_in(small, sizeof(small), "syn-small.pcap");
	path_in(big, sizeof(big), "syn-big.pcap");
	syn_flood(small, 300000);
	syn_flood(big, FLOOD_FLOWS);
	double w_small = 0, w_big = 0;
	long kb_small = analyze_peak_kb("", small, &w_small);
	long kb_big = analyze_peak_kb("", big, &w_big);
	fprintf(stderr,
	        "hostile: SYN flood 300k flows: %.1f s, %ld KiB; %ld flows: %.1f s, %ld KiB\n",
	        w_small, kb_small, FLOOD_FLOWS, w_big, kb_big);
	/* both exceed the 131072-flow cap: the bigger flood costs no more memory */
	cr_expect_lt(kb_big, kb_small + kb_small / 4, "300k flows %ld KiB, %ld flows %ld KiB",
	             kb_small, FLOOD_FLOWS, kb_big);
	cr_expect_lt(w_big, 120.0, "%ld flows took %.1f s", FLOOD_FLOWS, w_big);
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and redzones inflate the RSS */
	cr_expect_lt(kb_big, 64 * 1024, "a full flow table stays under 64 MiB: %ld KiB", kb_big);
#endif

	snprintf(cmd, sizeof(cmd), "analyze --no-db '%s'", big);
	cr_assert_eq(mx(&out, cmd), 0);
	long ev = counter(out, "tcp.flows_evicted"), fl = counter(out, "tcp.flows");
	cr_expect_gt(ev, 0, "evictions are counted: %.2000s", out);
	cr_expect_eq(fl, FLOOD_FLOWS, "%.2000s", out);
	free(out);
}

/* n established connections to port 25 that say EHLO and then nothing, never closed. */
static void
conn_flood(const char *path, long n)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	static const char ehlo[] = "EHLO x\r\n";
	for (long i = 0; i < n; i++) {
		struct pw_tcp c;
		flood_conn(&c, i);
		t = pw_tcp_handshake(s, &c, t, US(20), US(20));
		pw_tcp_send(s, &c, 0, t + US(10), ehlo, sizeof(ehlo) - 1, 0, 0);
		t += US(50);
		if ((i & 0xfff) == 0)
			pw_sink_flush(s, t);
	}
	cr_assert_eq(pw_sink_close(s), 0);
}

Test(hostile, connection_flood_is_bounded_by_the_session_cap, .timeout = 600)
{
	char path[600], cmd[2000], *out = NULL;
	path_in(path, sizeof(path), "conn.pcap");
	conn_flood(path, 60000);
	double w_cap = 0, w_all = 0;
	long kb_cap = analyze_peak_kb("--max-sessions 2000", path, &w_cap);
	long kb_all = analyze_peak_kb("--max-sessions 1000000", path, &w_all);
	fprintf(stderr,
	        "hostile: 60000 open SMTP connections: %ld KiB with 2000 analyzed at once, "
	        "%ld KiB with all of them\n",
	        kb_cap, kb_all);
	/* a session costs a few KiB: 58000 of them left out is well over 100 MiB */
	cr_expect_gt(kb_all, kb_cap + 100 * 1024, "cap %ld KiB, all %ld KiB", kb_cap, kb_all);
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and redzones inflate the RSS */
	cr_expect_lt(kb_cap, 64 * 1024, "with the cap: %ld KiB", kb_cap);
#endif
	snprintf(cmd, sizeof(cmd), "analyze --no-db --max-sessions 2000 '%s'", path);
	cr_assert_eq(mx(&out, cmd), 0);
	cr_expect(strstr(out, "58000 mail connections not analyzed: 2000 sessions were open") !=
	              NULL,
	          "%.3000s", out);
	cr_expect(strstr(out, "mxlag: 2000 sessions,") != NULL, "%.3000s", out);
	free(out);
}

/*
 * The peak RSS of mxlag analyze OPTS on a flood (small) and on one twice as
 * big: past the caps it may grow by less than a fifth.  Returns the big one's.
 */
static long
expect_flat_peak(const char *opts, const char *small, const char *big, const char *what_small,
                 const char *what_big)
{
	double w_small = 0, w_big = 0;
	long kb_small = analyze_peak_kb(opts, small, &w_small);
	long kb_big = analyze_peak_kb(opts, big, &w_big);
	fprintf(stderr, "hostile: %s: %.1f s, %ld KiB; %s: %.1f s, %ld KiB\n", what_small, w_small,
	        kb_small, what_big, w_big, kb_big);
	cr_expect_lt(kb_big, kb_small + kb_small / 5, "%s %ld KiB, %s %ld KiB", what_small, kb_small,
	             what_big, kb_big);
	return kb_big;
}

/* n queries from the host to the resolver, all distinct, none answered. */
static void
dns_flood(const char *path, long n)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	struct dnsbuf d;
	for (long i = 0; i < n; i++) {
		char name[64];
		db_header(&d, (uint16_t)i, 0, 1, 0);
		int len = snprintf(name, sizeof(name), "h%ld", i);
		db_label(&d, 0, 0);
		d.n--; /* replace the empty label */
		uint8_t l = (uint8_t)len;
		db_bytes(&d, &l, 1);
		db_bytes(&d, name, (size_t)len);
		db_label(&d, 7, 'e');
		db_label(&d, 3, 'c');
		db_label(&d, 0, 0);
		db_qtail(&d, 1);
		udp53(s, t, 0, (uint16_t)(1024 + (i % 64000)), &d);
		t += US(20);
		if ((i & 0xfff) == 0)
			pw_sink_flush(s, t);
	}
	cr_assert_eq(pw_sink_close(s), 0);
}

Test(hostile, dns_flood_is_bounded_by_the_pending_cap, .timeout = 600)
{
	char small[600], big[600], db[600], cmd[2000], *out = NULL;
	path_in(small, sizeof(small), "dns-small.pcap");
	path_in(big, sizeof(big), "dns-big.pcap");
	path_in(db, sizeof(db), "flood.db");
	/* both floods exceed the tracker's 65536 pending queries and the
	   correlator's window of 262144 finished ones (kept while a wait may
	   still overlap them: an unanswered query for 30 s after its last
	   send): past the caps, a bigger flood costs no more memory */
	dns_flood(small, 300000);
	/* under memcheck (scripts/valgrind.sh) the peak RSS is valgrind's: only
	   the stored flood, 300k queries (past both caps), is checked there */
	const bool vg = getenv("MXLAG_UNDER_VALGRIND") != NULL;
	if (!vg) {
		dns_flood(big, 600000);
		/* (the names of the window grow in powers of two: up to twice what they hold) */
		long kb_big = expect_flat_peak("", small, big, "DNS flood 300k", "600k");
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and redzones inflate the RSS */
		cr_expect_lt(kb_big, 96 * 1024,
		             "a DNS flood at every cap stays under 96 MiB: %ld KiB", kb_big);
#else
		(void)kb_big;
#endif
	}

	snprintf(cmd, sizeof(cmd), "analyze --db '%s' '%s'", db, vg ? small : big);
	cr_assert_eq(mx(&out, cmd), 0, "%.2000s", out);
	free(out);
	cr_expect(integrity_ok(db));
	cr_expect_eq(sql_long(db, "select count(*) from dns_queries where outcome = 'unanswered'"),
	             vg ? 300000 : 600000);
}

/* ---- bounce tables (issue 17) ---------------------------------------------------------- */

/* One delivery of the host to remote with the null sender to a recipient at domain. */
static void
null_sender_delivery(struct pw_sink *s, uint64_t *t, const struct pw_addr *remote, uint16_t port,
                     const char *domain)
{
	static const char greet[] = "220 mx.remote ESMTP\r\n", ok[] = "250 OK\r\n";
	static const char mail[] = "MAIL FROM:<>\r\n";
	char rcpt[96];
	int rl = snprintf(rcpt, sizeof(rcpt), "RCPT TO:<u@%s>\r\n", domain);
	struct pw_tcp c;
	pw_tcp_init(&c, &host, port, remote, 25, 3000u + port, 800000u + port, 5000, 7000);
	uint64_t ts = pw_tcp_handshake(s, &c, *t, US(200), US(200));
	ts = pw_tcp_send(s, &c, 1, ts + MS(2), greet, sizeof(greet) - 1, US(10), US(100));
	ts = pw_tcp_send(s, &c, 0, ts + MS(1), mail, sizeof(mail) - 1, US(5), US(50));
	ts = pw_tcp_send(s, &c, 1, ts + MS(1), ok, sizeof(ok) - 1, US(5), US(50));
	ts = pw_tcp_send(s, &c, 0, ts + MS(1), rcpt, (size_t)rl, US(5), US(50));
	ts = pw_tcp_send(s, &c, 1, ts + MS(1), ok, sizeof(ok) - 1, US(5), US(50));
	smtp_quit_close(s, &c, ts, t);
}

/*
 * n inbound messages from distinct clients with distinct sender domains,
 * each followed by a null-sender delivery of the host to that domain (a
 * remote of its own): a bounce each.
 */
static void
bounce_flood(const char *path, long n)
{
	struct pw_sink *s = open_sink(path);
	uint64_t t = T0;
	for (long i = 0; i < n; i++) {
		char line[96], dom[48], a[32];
		snprintf(dom, sizeof(dom), "d%ld.flood.example", i);
		int ll = snprintf(line, sizeof(line), "MAIL FROM:<x@%s>\r\n", dom);
		struct pw_tcp c;
		flood_conn(&c, i);
		smtp_session(s, &t, &c.addr[0], c.port[0], line, (size_t)ll, "250 OK\r\n", 8);
		snprintf(a, sizeof(a), "100.%ld.%ld.%ld", 64 + ((i >> 16) & 0x3f), (i >> 8) & 0xff,
		         i & 0xff);
		struct pw_addr remote = pw_ip(a);
		null_sender_delivery(s, &t, &remote, (uint16_t)(32768 + (i % 28000)), dom);
	}
	cr_assert_eq(pw_sink_close(s), 0);
}

Test(hostile, bounce_flood_is_bounded_by_the_bounce_caps, .timeout = 600)
{
	char small[600], big[600], cmd[2000], *out = NULL;
	path_in(small, sizeof(small), "bounce-small.pcap");
	path_in(big, sizeof(big), "bounce-big.pcap");
	/* both past the 65536 sender domains kept */
	bounce_flood(small, 80000);
	/* under memcheck only the smaller flood's tables (the peak RSS is valgrind's) */
	const bool vg = getenv("MXLAG_UNDER_VALGRIND") != NULL;
	if (!vg) {
		bounce_flood(big, 160000);
		expect_flat_peak("--host 192.0.2.10", small, big, "bounce flood 80k", "160k");
	}

	snprintf(cmd, sizeof(cmd), "analyze --no-db --host 192.0.2.10 '%s'", vg ? small : big);
	cr_assert_eq(mx(&out, cmd), 0);
	/* every delivery a bounce (its domain was the latest inbound one); the
	   table at its cap, the rest forced out and counted */
	cr_expect(strstr(out, vg ? "mxlag: 80000 deliveries bounce inbound mail; bounce tables: "
	                           "65536 sender domains, 0 MX names, 0 addresses kept (14464, 0, "
	                           "0 forced out by the caps)"
	                         : "mxlag: 160000 deliveries bounce inbound mail; bounce tables: "
	                           "65536 sender domains, 0 MX names, 0 addresses kept (94464, 0, "
	                           "0 forced out by the caps)") != NULL,
	          "%.3000s", out);
	free(out);
}
