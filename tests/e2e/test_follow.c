/*
 * test_follow.c - the capture layer's reassembled TCP byte streams equal
 * what tshark's "follow,tcp,raw" prints for the same connections, on
 * public captures of SMTP and POP3 sessions and on the real-server
 * captures.  Skipped when tshark or ../shared is missing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "../support/e2e.h"

#define MAXFLOWS 64

struct stream {
	char cli[64], srv[64]; /* "addr:port" */
	uint8_t *buf[2];
	size_t len[2], cap[2];
};

struct collect {
	struct stream s[MAXFLOWS];
	int n;
};

static void
ep_str(const struct mx_endpoint *e, char *out, size_t n)
{
	char a[MX_ADDRSTRLEN];
	mx_addr_fmt(&e->addr, a, sizeof(a));
	snprintf(out, n, e->addr.family == 6 ? "%s:%u" : "%s:%u", a, (unsigned)e->port);
}

static void
on_open(void *ctx, struct cap_flow *f, uint64_t ts)
{
	struct collect *c = ctx;
	(void)ts;
	if (c->n == MAXFLOWS)
		return;
	struct stream *s = &c->s[c->n++];
	ep_str(&f->cli, s->cli, sizeof(s->cli));
	ep_str(&f->srv, s->srv, sizeof(s->srv));
	f->user = s;
}

static void
on_data(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n, uint64_t ts)
{
	struct stream *s = f->user;
	(void)ctx;
	(void)ts;
	if (!s)
		return;
	if (s->len[d] + n > s->cap[d]) {
		size_t nc = (s->len[d] + n) * 2;
		uint8_t *nb = realloc(s->buf[d], nc);
		cr_assert_not_null(nb);
		s->buf[d] = nb;
		s->cap[d] = nc;
	}
	memcpy(s->buf[d] + s->len[d], p, n);
	s->len[d] += n;
}

static int
hexval(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Compares one tshark stream with ours; returns 1 if compared, 0 if none. */
static int
check_stream(const char *pcap, int idx, struct collect *c)
{
	char *out = NULL;
	e2e_sh(&out, "tshark -n -r '%s' -q -z follow,tcp,raw,%d 2>/dev/null", pcap, idx);
	if (!out)
		return 0;
	char node[2][64] = {"", ""};
	uint8_t *bytes[2] = {malloc(1 << 20), malloc(1 << 20)};
	size_t len[2] = {0, 0};
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "Node 0: ", 8) == 0) {
			snprintf(node[0], sizeof(node[0]), "%s", l + 8);
			continue;
		}
		if (strncmp(l, "Node 1: ", 8) == 0) {
			snprintf(node[1], sizeof(node[1]), "%s", l + 8);
			continue;
		}
		int dir = l[0] == '\t';
		const char *h = l + dir;
		size_t hl = strspn(h, "0123456789abcdef");
		if (hl == 0 || hl % 2 || h[hl] != '\0' || !node[1][0])
			continue;
		size_t start = len[dir];
		for (size_t i = 0; i + 1 < hl && len[dir] < (1 << 20); i += 2)
			bytes[dir][len[dir]++] = (uint8_t)(hexval(h[i]) << 4 | hexval(h[i + 1]));
		/* tshark marks a capture gap with "[N bytes missing in capture file]\0";
		 * we report gaps out of band, so the marker is not stream data */
		unsigned long missing;
		char tail[40];
		size_t ll = len[dir] - start;
		if (ll > 2 && ll < 80 && bytes[dir][start] == '[' && bytes[dir][len[dir] - 1] == 0 &&
		    sscanf((const char *)bytes[dir] + start, "[%lu bytes missing in capture %39[^]]",
			   &missing, tail) == 2) {
			len[dir] = start;
		}
	}
	free(out);
	int compared = 0;
	/* a stream index past the last one gives "Node 0: :0" */
	if (node[0][0] && node[1][0] && node[0][0] != ':') {
		/* tshark prints IPv6 nodes as [addr]:port */
		for (int k = 0; k < 2; k++)
			if (node[k][0] == '[') {
				char tmp[64];
				char *e = strchr(node[k], ']');
				if (e) {
					*e = '\0';
					snprintf(tmp, sizeof(tmp), "%s%s", node[k] + 1, e + 1);
					memcpy(node[k], tmp, sizeof(tmp));
				}
			}
		struct stream *s = NULL;
		int swap = 0;
		for (int i = 0; i < c->n; i++) {
			if (!strcmp(c->s[i].cli, node[0]) && !strcmp(c->s[i].srv, node[1]))
				s = &c->s[i];
			else if (!strcmp(c->s[i].cli, node[1]) && !strcmp(c->s[i].srv, node[0])) {
				s = &c->s[i];
				swap = 1;
			}
		}
		cr_expect_not_null(s, "%s stream %d (%s - %s): no such flow", pcap, idx, node[0],
				   node[1]);
		if (s) {
			for (int d = 0; d < 2; d++) {
				int ours = swap ? 1 - d : d;
				cr_expect_eq(s->len[ours], len[d],
					     "%s stream %d dir %d: %zu bytes, tshark %zu", pcap, idx, d,
					     s->len[ours], len[d]);
				if (s->len[ours] == len[d] && len[d] > 0)
					cr_expect(memcmp(s->buf[ours], bytes[d], len[d]) == 0,
						  "%s stream %d dir %d: bytes differ", pcap, idx, d);
			}
			compared = 1;
		}
	}
	free(bytes[0]);
	free(bytes[1]);
	return compared;
}

static void
follow_file(const char *rel, int nstreams)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	if (access("/usr/bin/tshark", X_OK) != 0)
		cr_skip_test("tshark not installed");
	char path[600], err[256];
	snprintf(path, sizeof(path), "%s/%s", sh, rel);
	struct collect *c = calloc(1, sizeof(*c));
	struct cap_ops ops = {.ctx = c, .open = on_open, .data = on_data};
	struct capture *cap = capture_new(NULL, &ops);
	struct src *s;
	const char *paths[] = {path};
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0, "%s", err);
	struct pkt p;
	while (src_next(s, &p) == 1)
		capture_packet(cap, &p);
	capture_finish(cap);
	int compared = 0;
	for (int i = 0; i < nstreams; i++)
		compared += check_stream(path, i, c);
	cr_expect_gt(compared, 0, "%s: no stream compared", rel);
	src_close(s);
	capture_free(cap);
	for (int i = 0; i < c->n; i++) {
		free(c->s[i].buf[0]);
		free(c->s[i].buf[1]);
	}
	free(c);
}

Test(follow, zeek_smtp) { follow_file("corpus/zeek+zeek/testing/btest/Traces/smtp.pcap", 3); }
Test(follow, zeek_pop3) { follow_file("corpus/zeek+zeek/testing/btest/Traces/pop3/pop3.pcap", 3); }
Test(follow, zeek_bdat_chunked)
{
	follow_file("corpus/zeek+zeek/testing/btest/Traces/smtp/rfc3030-bdat-multipart-chunked.pcap", 2);
}
Test(follow, ndpi_pop3) { follow_file("corpus/ntop+nDPI/tests/cfgs/default/pcap/pop3.pcap", 4); }
Test(follow, ndpi_smtp_starttls_ipv6)
{
	follow_file("corpus/ntop+nDPI/tests/cfgs/default/pcap/smtp-starttls.pcap", 2);
}
Test(follow, real_exim_ptr_timeout) { follow_file("captures/smtp-ptr-timeout.pcap", 2); }
Test(follow, real_tcpserver_pop3) { follow_file("captures/pop3-tcpserver-lookups.pcap", 3); }
