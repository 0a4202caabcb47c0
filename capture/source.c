/*
 * source.c - packet sources over libpcap: offline files merged by
 * timestamp into one timeline, or a live interface.
 */
#include "source.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* how long a live read waits for packets before returning to the caller */
#define LIVE_POLL_MS 200

struct src_file {
	pcap_t *p;
	const char *path;
	int dlt;
	int have;                  /* head packet pending */
	int done;
	struct pcap_pkthdr *hdr;
	const u_char *data;
	uint64_t ts_ns;
	uint64_t size;             /* file size, 0 unknown */
	int nano;
	long rec_off;              /* offset of the record being read, -1 unknown */
	uint64_t npkts;            /* packets read from this file */
};

struct src {
	struct src_file *files;
	int nfiles;
	int last;       /* index of the file whose packet was handed out last, -1 none */
	int live;
	int damaged;
	uint64_t total_bytes;
	char err[PCAP_ERRBUF_SIZE + 128];
};

static int
set_filter(pcap_t *p, const char *filter, const char *what, char *err, size_t errlen)
{
	struct bpf_program prog;
	if (!filter || !*filter)
		return 0;
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "%s: bad filter \"%s\": %s", what, filter, pcap_geterr(p));
		return -1;
	}
	int rc = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot set filter: %s", what, pcap_geterr(p));
		return -1;
	}
	return 0;
}

int
src_open_files(struct src **out, const char *const *paths, int n, const char *filter, char *err,
	       size_t errlen)
{
	struct src *s = calloc(1, sizeof(*s));
	if (!s || n <= 0) {
		free(s);
		snprintf(err, errlen, n <= 0 ? "no input files" : "out of memory");
		return -1;
	}
	s->files = calloc((size_t)n, sizeof(*s->files));
	if (!s->files) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->last = -1;
	int opened = 0;
	for (int i = 0; i < n; i++) {
		struct src_file *f = &s->files[s->nfiles];
		char perr[PCAP_ERRBUF_SIZE];
		perr[0] = '\0';
		f->path = paths[i];
		f->p = pcap_open_offline_with_tstamp_precision(paths[i],
							       PCAP_TSTAMP_PRECISION_NANO, perr);
		if (!f->p) {
			/* with one file the caller prints err: one line, not two */
			if (n > 1)
				fprintf(stderr, "mxlag: %s: %s\n", paths[i], perr);
			snprintf(err, errlen, "%s: %s", paths[i], perr);
			s->damaged++;
			continue;
		}
		if (set_filter(f->p, filter, paths[i], err, errlen) != 0) {
			pcap_close(f->p);
			for (int j = 0; j < s->nfiles; j++)
				pcap_close(s->files[j].p);
			free(s->files);
			free(s);
			return -1;
		}
		f->dlt = pcap_datalink(f->p);
		/* a seek makes stdio track the offset itself, so the ftell()
		 * before every record (advance()) costs no lseek() syscall */
		if (pcap_file(f->p))
			fseek(pcap_file(f->p), 0, SEEK_CUR);
		f->nano = pcap_get_tstamp_precision(f->p) == PCAP_TSTAMP_PRECISION_NANO;
		struct stat st;
		if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0) {
			f->size = (uint64_t)st.st_size;
			s->total_bytes += f->size;
		}
		s->nfiles++;
		opened++;
	}
	if (opened == 0) {
		if (n > 1)
			snprintf(err, errlen, "none of the %d capture files could be read", n);
		free(s->files);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
src_open_live(struct src **out, const struct live_opts *o, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	perr[0] = '\0';
	pcap_t *p = pcap_create(o->iface, perr);
	if (!p) {
		snprintf(err, errlen, "%s: %s", o->iface, perr);
		return -1;
	}
	pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 65535);
	pcap_set_promisc(p, o->promisc);
	pcap_set_timeout(p, 200);
	pcap_set_buffer_size(p, (o->buffer_mb > 0 ? o->buffer_mb : 32) * 1024 * 1024);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); /* best effort */
	int rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s%s%s", o->iface, pcap_statustostr(rc),
			 *pcap_geterr(p) ? ": " : "", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	if (rc > 0)
		fprintf(stderr, "mxlag: %s: warning: %s\n", o->iface, pcap_statustostr(rc));
	/* non-blocking + poll(): on Linux a blocking read with no traffic may
	 * never time out, and --duration and signals must still be noticed */
	if (pcap_setnonblock(p, 1, perr) != 0) {
		snprintf(err, errlen, "%s: %s", o->iface, perr);
		pcap_close(p);
		return -1;
	}
	if (set_filter(p, o->filter, o->iface, err, errlen) != 0) {
		pcap_close(p);
		return -1;
	}
	struct src *s = calloc(1, sizeof(*s));
	if (s)
		s->files = calloc(1, sizeof(*s->files));
	if (!s || !s->files) {
		free(s);
		pcap_close(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->nfiles = 1;
	s->live = 1;
	s->last = -1;
	s->files[0].p = p;
	s->files[0].path = o->iface;
	s->files[0].dlt = pcap_datalink(p);
	s->files[0].nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	*out = s;
	return 0;
}

static uint64_t
ts_of(const struct src_file *f, const struct pcap_pkthdr *h)
{
	uint64_t frac = (uint64_t)h->ts.tv_usec;
	if (!f->nano)
		frac *= 1000;
	return (uint64_t)h->ts.tv_sec * 1000000000ULL + frac;
}

static long
file_offset(pcap_t *p)
{
	FILE *fp = pcap_file(p);
	return fp ? ftell(fp) : -1;
}

/* Reads the next packet of file f into its head slot; 1 ok, 0 none now, -1 done. */
static int
advance(struct src *s, struct src_file *f)
{
	/* where the record starts, for the warning if it turns out damaged
	 * (after a failed read the stream is somewhere inside the record) */
	f->rec_off = s->live ? -1 : file_offset(f->p);
	int rc = pcap_next_ex(f->p, &f->hdr, &f->data);
	if (rc == 1) {
		f->npkts++;
		f->have = 1;
		f->ts_ns = ts_of(f, f->hdr);
		return 1;
	}
	if (rc == 0)
		return 0; /* live timeout */
	f->have = 0;
	f->done = 1;
	if (rc == PCAP_ERROR) {
		long off = f->rec_off >= 0 ? f->rec_off : file_offset(f->p);
		char where[48] = ""; /* no offset on a pipe */
		if (off >= 0)
			snprintf(where, sizeof(where), " at offset %ld", off);
		if (s->live)
			fprintf(stderr, "mxlag: %s: read error: %s\n", f->path, pcap_geterr(f->p));
		else if (f->npkts == 0)
			fprintf(stderr, "mxlag: %s: no packet could be read: input damaged%s: %s\n",
				f->path, where, pcap_geterr(f->p));
		else
			fprintf(stderr,
				"mxlag: %s: warning: input damaged%s (after %" PRIu64
				" packets, which are analyzed): %s\n",
				f->path, where, f->npkts, pcap_geterr(f->p));
		s->damaged++;
	}
	return -1;
}

int
src_next(struct src *s, struct pkt *out)
{
	if (s->live) {
		struct src_file *f = &s->files[0];
		if (f->done)
			return 0;
		int rc = advance(s, f);
		if (rc == 0) {
			int fd = pcap_get_selectable_fd(f->p);
			if (fd >= 0) {
				struct pollfd pfd = {fd, POLLIN, 0};
				poll(&pfd, 1, LIVE_POLL_MS);
			}
			return 2;
		}
		if (rc < 0) {
			if (s->damaged) {
				snprintf(s->err, sizeof(s->err), "%s: %s", f->path, pcap_geterr(f->p));
				return -1;
			}
			return 0;
		}
		s->last = 0;
	} else {
		/* refill the slot handed out last time; others keep theirs */
		if (s->last >= 0) {
			advance(s, &s->files[s->last]);
		} else {
			for (int i = 0; i < s->nfiles; i++)
				advance(s, &s->files[i]);
		}
		int best = -1;
		for (int i = 0; i < s->nfiles; i++) {
			if (!s->files[i].have)
				continue;
			if (best < 0 || s->files[i].ts_ns < s->files[best].ts_ns)
				best = i;
		}
		if (best < 0)
			return 0;
		s->last = best;
	}
	struct src_file *f = &s->files[s->last];
	f->have = 0;
	out->ts_ns = f->ts_ns;
	out->caplen = f->hdr->caplen;
	out->wirelen = f->hdr->len;
	out->dlt = f->dlt;
	out->origin = s->last;
	out->data = f->data;
	return 1;
}

void
src_break(struct src *s)
{
	/* pcap_breakloop() is documented as safe from a signal handler; the
	 * blocked pcap_next_ex() then returns PCAP_ERROR_BREAK and the source
	 * reports end of input. */
	if (s && s->live)
		pcap_breakloop(s->files[0].p);
}

void
src_kernel_stats(struct src *s, struct cap_stats *st)
{
	struct pcap_stat ps;
	if (!s->live || pcap_stats(s->files[0].p, &ps) != 0)
		return;
	st->have_kernel = 1;
	st->kernel_recv = ps.ps_recv;
	st->kernel_drop = ps.ps_drop;
	st->ifdrop = ps.ps_ifdrop;
}

int
src_damaged(const struct src *s)
{
	return s->damaged;
}

uint64_t
src_total_bytes(const struct src *s)
{
	return s->total_bytes;
}

uint64_t
src_read_bytes(const struct src *s)
{
	uint64_t sum = 0;
	for (int i = 0; i < s->nfiles; i++) {
		if (!s->files[i].p)
			continue;
		if (s->files[i].done) {
			sum += s->files[i].size;
			continue;
		}
		long off = file_offset(s->files[i].p);
		if (off > 0)
			sum += (uint64_t)off;
	}
	return sum;
}

const char *
src_error(const struct src *s)
{
	return s->err;
}

void
src_close(struct src *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nfiles; i++)
		if (s->files[i].p)
			pcap_close(s->files[i].p);
	free(s->files);
	free(s);
}
