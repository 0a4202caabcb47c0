/*
 * source.c - packet sources: offline files merged by timestamp into one
 * timeline, or a live interface.  pcapng files are read by pcapng.c (every
 * interface with its own link type); classic pcap files and live
 * interfaces by libpcap, a plain classic file's records in place by
 * pcapfile.c as long as libpcap would hand them over unchanged.
 */
#include "source.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decomp.h"
#include "pcapfile.h"
#include "pcapng.h"

/* how long a live read waits for packets before returning to the caller */
#define LIVE_POLL_MS 200
/* libpcap's largest snapshot length; also stands for "no limit" (0) */
#define SNAPLEN_MAX 262144

/* --filter compiled for one link type of a pcapng file */
struct ng_filter {
	int dlt;
	int ok; /* compiled; when not, the link type's packets are skipped */
	struct bpf_program prog;
};

struct src_file {
	pcap_t *p;         /* classic pcap file or live interface (libpcap) */
	struct pcapng *ng; /* pcapng file (pcapng.c) */
	FILE *ngf;         /* the pcapng file's stream */
	struct decomp *dz; /* gzip/zstd: the decompressor (owned by the stream), else NULL */
	struct ng_filter *flt;
	int nflt, lastflt;
	const char *path;
	int dlt;                   /* libpcap: the file's or interface's link type */
	int have;                  /* head packet pending */
	int done;
	struct pkt head;           /* the pending packet */
	uint64_t size;             /* file size, 0 unknown */
	int nano;
	long rec_off;              /* offset of the record being read, -1 unknown */
	uint64_t npkts;            /* packets read from this file */
	int stopped;               /* ended in damage (report_stop() said so) */
	char *rbuf;                /* the stream's buffer (READ_BUFFER), freed after it is closed */
	bool fast;                 /* a plain classic file: pf may read its records */
	uint8_t hdr[PCAPFILE_HDR]; /* its file header, when fast */
	struct pcapfile *pf;       /* its records read in place, until libpcap's turn */
	struct bpf_program prog;   /* --filter for pf's records */
	bool have_prog;
};

struct src {
	struct src_file *files;
	int nfiles;
	int last;       /* index of the file whose packet was handed out last, -1 none */
	int live;
	int damaged;
	uint64_t total_bytes;
	char *filter;   /* offline --filter, for the pcapng files */
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

/* Compiles filter for link type dlt; 0, or -1 with libpcap's message in msg. */
static int
compile_filter(int dlt, uint32_t snaplen, const char *filter, struct bpf_program *prog, char *msg,
	       size_t msglen)
{
	pcap_t *p = pcap_open_dead(dlt, snaplen == 0 || snaplen > SNAPLEN_MAX ? SNAPLEN_MAX
									: (int)snaplen);
	if (!p) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	int rc = pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0)
		snprintf(msg, msglen, "%s", pcap_geterr(p));
	pcap_close(p);
	return rc == 0 ? 0 : -1;
}

/*
 * The libpcap DLT_* of a file's LINKTYPE_*: the same number but for a few
 * early types whose DLT_ values differ between platforms.
 */
static int
dlt_of_linktype(unsigned linktype)
{
	static const struct {
		unsigned linktype;
		int dlt;
	} map[] = {
	    {100, DLT_ATM_RFC1483}, {101, DLT_RAW},      {102, DLT_SLIP_BSDOS}, {103, DLT_PPP_BSDOS},
	    {106, DLT_ATM_CLIP},    {246, DLT_PFSYNC},   {258, DLT_PKTAP},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].linktype == linktype)
			return map[i].dlt;
	return (int)linktype;
}

static void
close_stream(FILE *fp)
{
	if (fp && fp != stdin)
		fclose(fp);
}

/* bytes a capture file is read in (a pipe's writer sets its own pace) */
#define READ_BUFFER (256u * 1024u)

/* A stream that cannot seek back: the bytes read to recognize its format,
 * then the rest of it. */
struct replay {
	FILE *under;
	uint8_t head[4];
	size_t n, pos;
	uint64_t off; /* bytes handed out */
};

static ssize_t
replay_read(void *c, char *buf, size_t size)
{
	struct replay *r = c;
	size_t got = 0;
	while (got < size && r->pos < r->n)
		buf[got++] = (char)r->head[r->pos++];
	if (got < size)
		got += fread(buf + got, 1, size - got, r->under);
	if (got == 0 && ferror(r->under))
		return -1;
	r->off += got;
	return (ssize_t)got;
}

/* Only "where are we", so ftell() gives offsets for the warnings. */
static int
replay_seek(void *c, off64_t *pos, int whence)
{
	struct replay *r = c;
	if (!(whence == SEEK_CUR && *pos == 0) &&
	    !(whence == SEEK_SET && *pos >= 0 && (uint64_t)*pos == r->off)) {
		errno = ESPIPE;
		return -1;
	}
	*pos = (off64_t)r->off;
	return 0;
}

static int
replay_close(void *c)
{
	struct replay *r = c;
	FILE *under = r->under;
	free(r);
	return under == stdin ? 0 : fclose(under);
}

/*
 * f as if its first n bytes (m), read to recognize the format, had not
 * been read: f itself sought back when it is a regular file, else a
 * stream replaying them (a pipe, standard input).  NULL when out of
 * memory; closing the result closes f (unless f is stdin).
 */
static FILE *
unread(FILE *f, const uint8_t *m, size_t n)
{
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && fseek(f, -(long)n, SEEK_CUR) == 0)
		return f;
	struct replay *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->under = f;
	memcpy(r->head, m, n);
	r->n = n;
	cookie_io_functions_t io = {replay_read, NULL, replay_seek, replay_close};
	FILE *rf = fopencookie(r, "rb", io);
	if (!rf)
		free(r);
	return rf;
}

/* Opens one capture file into f: gzip or zstd compressed (by its magic)
 * through decomp.c, then pcapng (by its magic) with pcapng.c, anything else
 * with libpcap.  perr holds PCAP_ERRBUF_SIZE bytes. */
static int
open_offline(struct src_file *f, const char *path, char *perr)
{
	static const uint8_t ng_magic[4] = {0x0a, 0x0d, 0x0d, 0x0a};
	f->dz = NULL;
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!fp) {
		snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
		return -1;
	}
	/* a plain classic pcap file (by its header, read without stdio) is
	 * read by pcapfile.c with a buffer of its own: libpcap's stream then
	 * reads only the header, and a damaged or unusual tail */
	struct stat st;
	f->fast = fp != stdin && fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
		  pread(fileno(fp), f->hdr, sizeof(f->hdr), 0) == (ssize_t)sizeof(f->hdr) &&
		  pcapfile_eligible(f->hdr, sizeof(f->hdr));
	/* stdio's default buffer is the file system's block (4 KiB): one
	 * read() per 4 KiB was a third of the packet thread's kernel time.
	 * Set before the first read, as setvbuf() must be; glibc takes the
	 * size only with a buffer given.  Not for stdin, which outlives us. */
	if (fp != stdin && !f->fast && (f->rbuf = malloc(READ_BUFFER)) != NULL)
		setvbuf(fp, f->rbuf, _IOFBF, READ_BUFFER);
	uint8_t m[4];
	size_t n = fread(m, 1, sizeof(m), fp);
	if (n == 0 && feof(fp)) {
		/* not one byte: a rotated capture not yet written to (tcpdump
		 * writes the file header with the first packet's buffer) is an
		 * empty capture, not a damaged one */
		close_stream(fp);
		f->done = 1;
		return 0;
	}
	enum decomp_kind kind = decomp_detect(m, n);
	if (kind != DECOMP_NONE) {
		struct decomp *d = decomp_new(kind, fp, m, n);
		FILE *dp = d ? decomp_fopen(d) : NULL;
		if (!dp) {
			if (d)
				decomp_free(d); /* closes fp */
			else
				close_stream(fp);
			snprintf(perr, PCAP_ERRBUF_SIZE, "out of memory");
			return -1;
		}
		f->dz = d;
		fp = dp;
		n = fread(m, 1, sizeof(m), fp);
		if (n < sizeof(m) && decomp_error(d)[0]) {
			snprintf(perr, PCAP_ERRBUF_SIZE, "%s", decomp_error(d));
			fclose(fp);
			f->dz = NULL;
			return -1;
		}
		if (n == 0) {
			/* a compressed empty file: an empty capture too */
			fclose(fp);
			f->dz = NULL;
			f->done = 1;
			return 0;
		}
	}
	if (n == sizeof(m) && memcmp(m, ng_magic, sizeof(m)) == 0) {
		f->ng = pcapng_new(fp, m, n);
		if (f->ng) {
			f->ngf = fp;
			return 0;
		}
		close_stream(fp);
		f->dz = NULL;
		snprintf(perr, PCAP_ERRBUF_SIZE, "out of memory");
		return -1;
	}
	FILE *lp = unread(fp, m, n);
	if (lp != fp || f->dz)
		f->fast = false; /* pcapfile.c reads the file itself, by its descriptor */
	if (!lp) {
		close_stream(fp);
		f->dz = NULL;
		snprintf(perr, PCAP_ERRBUF_SIZE, "out of memory");
		return -1;
	}
	f->p = pcap_fopen_offline_with_tstamp_precision(lp, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!f->p) {
		if (f->dz) {
			if (decomp_error(f->dz)[0])
				snprintf(perr, PCAP_ERRBUF_SIZE, "%s", decomp_error(f->dz));
			else if (strlen(perr) + 40 < PCAP_ERRBUF_SIZE) /* say where */
				snprintf(perr + strlen(perr), PCAP_ERRBUF_SIZE - strlen(perr),
				         " (inside the %s compression)", decomp_name(kind));
		}
		close_stream(lp);
		f->dz = NULL;
		return -1;
	}
	return 0;
}

/* A pcapng file's filter is compiled per link type as its packets come:
 * check it once against Ethernet now, so a typo fails before reading. */
static int
check_filter(struct src *s, const char *filter, const char *what, char *err, size_t errlen)
{
	if (!filter || !*filter || s->filter)
		return 0;
	struct bpf_program prog;
	char msg[PCAP_ERRBUF_SIZE];
	if (compile_filter(DLT_EN10MB, SNAPLEN_MAX, filter, &prog, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "%s: bad filter \"%s\": %s", what, filter, msg);
		return -1;
	}
	pcap_freecode(&prog);
	s->filter = strdup(filter);
	if (!s->filter) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The fast path for f's records (pcapfile.h), if it takes the file; else
 * libpcap reads them all, as ever. */
static void
start_fast(struct src_file *f, int fd, const char *filter)
{
	f->pf = pcapfile_new(fd, f->hdr, sizeof(f->hdr), f->dlt, (uint32_t)pcap_snapshot(f->p));
	if (!f->pf || !filter || !*filter)
		return;
	/* the program libpcap applies to its own reads (set_filter()) */
	if (pcap_compile(f->p, &f->prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
		f->have_prog = true;
	} else {
		pcapfile_free(f->pf);
		f->pf = NULL;
	}
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
	for (int i = 0; i < n; i++) {
		struct src_file *f = &s->files[s->nfiles];
		char perr[PCAP_ERRBUF_SIZE];
		perr[0] = '\0';
		f->path = paths[i];
		if (open_offline(f, paths[i], perr) != 0) {
			/* with one file the caller prints err: one line, not two */
			if (n > 1)
				fprintf(stderr, "mxlag: %s: %s\n", paths[i], perr);
			snprintf(err, errlen, "%s: %s", paths[i], perr);
			free(f->rbuf); /* its stream is closed; the slot is reused */
			f->rbuf = NULL;
			s->damaged++;
			continue;
		}
		s->nfiles++; /* src_close() closes it from here on */
		if (f->p) {
			if (set_filter(f->p, filter, paths[i], err, errlen) != 0) {
				src_close(s);
				return -1;
			}
			f->dlt = pcap_datalink(f->p);
			/* a seek makes stdio track the offset itself, so the ftell()
			 * before every record (next_pcap()) costs no lseek() syscall;
			 * and only the packet loop's thread touches the stream (reads,
			 * offsets, progress), so stdio need not lock it: with the
			 * writer's thread running, the lock was most of ftell()'s and
			 * fread()'s time (about 5 % of the packet thread's) */
			FILE *fp = pcap_file(f->p);
			if (fp) {
				fseek(fp, 0, SEEK_CUR);
				__fsetlocking(fp, FSETLOCKING_BYCALLER);
			}
			f->nano = pcap_get_tstamp_precision(f->p) == PCAP_TSTAMP_PRECISION_NANO;
			if (f->fast && fp && f->nano)
				start_fast(f, fileno(fp), filter);
		} else if (check_filter(s, filter, paths[i], err, errlen) != 0) {
			src_close(s);
			return -1;
		}
		struct stat st;
		if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0) {
			f->size = (uint64_t)st.st_size;
			s->total_bytes += f->size;
		}
	}
	if (s->nfiles == 0) {
		if (n > 1)
			snprintf(err, errlen, "none of the %d capture files could be read", n);
		src_close(s);
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

/* Time 0 means "unknown" everywhere downstream (a reply never seen, a
 * lookup not answered).  A capture whose clock was zeroed (some test
 * generators write every packet at 0.000000) would lose all its latencies,
 * so its packets are moved to 1 ns: the relative times stay exact. */
static uint64_t
known_ts(uint64_t ts_ns)
{
	return ts_ns ? ts_ns : 1;
}

static uint64_t
ts_of(const struct src_file *f, const struct pcap_pkthdr *h)
{
	uint64_t frac = (uint64_t)h->ts.tv_usec;
	if (!f->nano)
		frac *= 1000;
	return known_ts((uint64_t)h->ts.tv_sec * 1000000000ULL + frac);
}

static long
file_offset(pcap_t *p)
{
	FILE *fp = pcap_file(p);
	return fp ? ftell(fp) : -1;
}

/* One line for a file that ends before its end: damaged, or (damaged 0)
 * well-formed but not readable on; off -1 when unknown.  A compressed
 * file's decompression error is the reason (it names the compressed
 * offset) whatever the reader made of the missing bytes. */
static void
report_stop(struct src *s, struct src_file *f, long off, int damaged, const char *msg)
{
	f->stopped = 1;
	if (f->dz && decomp_error(f->dz)[0]) {
		msg = decomp_error(f->dz);
		off = -1;
		damaged = 1;
	}
	char where[48] = "";
	if (off >= 0)
		snprintf(where, sizeof(where), " at offset %ld", off);
	const char *what = damaged ? "input damaged" : "stopped";
	if (f->npkts == 0)
		fprintf(stderr, "mxlag: %s: no packet could be read: %s%s: %s\n", f->path, what,
			where, msg);
	else
		fprintf(stderr,
			"mxlag: %s: warning: %s%s (after %" PRIu64
			" packets, which are analyzed): %s\n",
			f->path, what, where, f->npkts, msg);
	s->damaged++;
}

/* The next record pcapfile.c takes into *dst: 1; -1 at the end; 0 when
 * the rest is libpcap's (its stream is then at that record). */
static int
next_fast(struct src *s, struct src_file *f, struct pkt *dst)
{
	struct pcapfile_rec r;
	int rc;
	while ((rc = pcapfile_next(f->pf, &r)) == 1) {
		if (f->have_prog) {
			struct pcap_pkthdr h;
			memset(&h, 0, sizeof(h));
			h.caplen = r.caplen;
			h.len = r.wirelen;
			if (pcap_offline_filter(&f->prog, &h, r.data) == 0)
				continue;
		}
		dst->ts_ns = known_ts(r.ts_ns);
		dst->caplen = r.caplen;
		dst->wirelen = r.wirelen;
		dst->dlt = f->dlt;
		dst->data = r.data;
		return 1;
	}
	if (rc == 0)
		return -1;
	long off = (long)pcapfile_offset(f->pf);
	pcapfile_free(f->pf);
	f->pf = NULL;
	if (fseek(pcap_file(f->p), off, SEEK_SET) != 0) {
		report_stop(s, f, off, 0, strerror(errno));
		return -1;
	}
	return 0;
}

/* libpcap's next packet into *dst: 1, 0 none yet (live), -1 end or error. */
static int
next_pcap(struct src *s, struct src_file *f, struct pkt *dst)
{
	if (f->pf) {
		int rc = next_fast(s, f, dst);
		if (rc != 0)
			return rc;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	/* where the record starts, for the warning if it turns out damaged
	 * (after a failed read the stream is somewhere inside the record) */
	f->rec_off = s->live ? -1 : file_offset(f->p);
	int rc = pcap_next_ex(f->p, &h, &data);
	if (rc == 1) {
		dst->ts_ns = ts_of(f, h);
		dst->caplen = h->caplen;
		dst->wirelen = h->len;
		dst->dlt = f->dlt;
		dst->data = data;
		return 1;
	}
	if (rc == 0)
		return 0; /* live timeout */
	if (rc == PCAP_ERROR && s->live) {
		fprintf(stderr, "mxlag: %s: read error: %s\n", f->path, pcap_geterr(f->p));
		s->damaged++;
	} else if (rc == PCAP_ERROR) {
		report_stop(s, f, f->rec_off >= 0 ? f->rec_off : file_offset(f->p), 1,
			    pcap_geterr(f->p));
	}
	return -1;
}

/* The compiled filter for the link type of pcapng packet k (compiled on
 * first use; the snap length only sets BPF's accept value, so one
 * program serves every interface of a link type).  NULL: no memory. */
static const struct ng_filter *
ng_filter(struct src *s, struct src_file *f, const struct pcapng_packet *k, int dlt)
{
	if (f->nflt && f->flt[f->lastflt].dlt == dlt)
		return &f->flt[f->lastflt];
	for (int i = 0; i < f->nflt; i++) {
		if (f->flt[i].dlt == dlt) {
			f->lastflt = i;
			return &f->flt[i];
		}
	}
	struct ng_filter *nf = realloc(f->flt, (size_t)(f->nflt + 1) * sizeof(*nf));
	if (!nf)
		return NULL;
	f->flt = nf;
	struct ng_filter *g = &f->flt[f->nflt];
	char msg[PCAP_ERRBUF_SIZE];
	g->dlt = dlt;
	g->ok = compile_filter(dlt, k->iface->snaplen, s->filter, &g->prog, msg, sizeof(msg)) == 0;
	if (!g->ok) {
		const char *name = pcap_datalink_val_to_name(dlt);
		fprintf(stderr,
			"mxlag: %s: warning: interface %" PRIu32 " has link type %d (%s), for which "
			"the filter cannot be compiled (%s): its packets are skipped\n",
			f->path, k->iface->id, dlt, name ? name : "unknown", msg);
	}
	f->lastflt = f->nflt++;
	return g;
}

/* The pcapng file's next packet that passes the filter into *dst:
 * 1, or -1 at its end or where it stops. */
static int
next_pcapng(struct src *s, struct src_file *f, struct pkt *dst)
{
	struct pcapng_packet k;
	int rc;
	while ((rc = pcapng_next(f->ng, &k)) == 1) {
		int dlt = dlt_of_linktype(k.iface->linktype);
		if (s->filter) {
			const struct ng_filter *g = ng_filter(s, f, &k, dlt);
			struct pcap_pkthdr h;
			memset(&h, 0, sizeof(h));
			h.caplen = k.caplen;
			h.len = k.wirelen;
			if (!g || !g->ok || pcap_offline_filter(&g->prog, &h, k.data) == 0)
				continue;
		}
		dst->ts_ns = known_ts(k.ts_ns);
		dst->caplen = k.caplen;
		dst->wirelen = k.wirelen;
		dst->dlt = dlt;
		dst->data = k.data;
		return 1;
	}
	if (rc < 0)
		report_stop(s, f, (long)pcapng_error_offset(f->ng),
			    pcapng_stop(f->ng) == PCAPNG_DAMAGED, pcapng_error(f->ng));
	return -1;
}

/*
 * Reads the next packet of file f into *dst (its head slot, or the
 * caller's packet where no other file competes); 1 ok, 0 none now, -1 done.
 */
static int
advance(struct src *s, struct src_file *f, struct pkt *dst)
{
	if (!f->p && !f->ng)
		return -1; /* an empty (0-byte) file */
	int rc = f->ng ? next_pcapng(s, f, dst) : next_pcap(s, f, dst);
	if (rc == 1) {
		f->npkts++;
		f->have = 1;
	} else if (rc < 0) {
		f->have = 0;
		f->done = 1;
	}
	return rc;
}

int
src_next(struct src *s, struct pkt *out)
{
	if (s->live) {
		struct src_file *f = &s->files[0];
		if (f->done)
			return 0;
		int rc = advance(s, f, out);
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
		out->origin = 0;
		return 1;
	}
	if (s->nfiles == 1) {
		/* one file: straight into the caller's packet (a copy through the
		   head slot, written field by field and read back whole, stalled
		   the load on every packet) */
		struct src_file *f = &s->files[0];
		if (f->done || advance(s, f, out) != 1)
			return 0;
		f->have = 0;
		s->last = 0;
		out->origin = 0;
		return 1;
	}
	/* refill the slot handed out last time; others keep theirs */
	if (s->last >= 0) {
		advance(s, &s->files[s->last], &s->files[s->last].head);
	} else {
		for (int i = 0; i < s->nfiles; i++)
			advance(s, &s->files[i], &s->files[i].head);
	}
	int best = -1;
	for (int i = 0; i < s->nfiles; i++) {
		if (!s->files[i].have)
			continue;
		if (best < 0 || s->files[i].head.ts_ns < s->files[best].head.ts_ns)
			best = i;
	}
	if (best < 0)
		return 0;
	s->last = best;
	struct src_file *f = &s->files[best];
	f->have = 0;
	*out = f->head;
	out->origin = best;
	return 1;
}

int
src_nfiles(const struct src *s)
{
	return s->nfiles;
}

const char *
src_file_path(const struct src *s, int i)
{
	return !s->live && i >= 0 && i < s->nfiles ? s->files[i].path : NULL;
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

const char *
src_empty_file(const struct src *s, int *iter)
{
	while (!s->live && *iter >= 0 && *iter < s->nfiles) {
		const struct src_file *f = &s->files[(*iter)++];
		if (f->npkts == 0 && !f->stopped)
			return f->path;
	}
	return NULL;
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
		const struct src_file *f = &s->files[i];
		if (f->done) {
			sum += f->size;
		} else if (f->dz) {
			sum += decomp_in_bytes(f->dz); /* f->size is the compressed size */
		} else if (f->ng) {
			sum += pcapng_offset(f->ng);
		} else if (f->pf) {
			sum += pcapfile_offset(f->pf);
		} else if (f->p) {
			long off = file_offset(f->p);
			if (off > 0)
				sum += (uint64_t)off;
		}
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
	for (int i = 0; i < s->nfiles; i++) {
		struct src_file *f = &s->files[i];
		pcapfile_free(f->pf);
		if (f->have_prog)
			pcap_freecode(&f->prog);
		if (f->p)
			pcap_close(f->p);
		pcapng_free(f->ng);
		close_stream(f->ngf);
		free(f->rbuf);
		for (int k = 0; k < f->nflt; k++)
			if (f->flt[k].ok)
				pcap_freecode(&f->flt[k].prog);
		free(f->flt);
	}
	free(s->files);
	free(s->filter);
	free(s);
}
