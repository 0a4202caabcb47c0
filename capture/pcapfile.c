/*
 * pcapfile.c - classic pcap records read in place (pcapfile.h).
 *
 * The file is read in chunks of PCAPFILE_BUF bytes into one buffer; a
 * record is handed out where it lies.  A record that runs past the end of
 * the chunk is moved to the front with the rest of the chunk and the
 * buffer refilled behind it, so every record taken is whole in the
 * buffer (the buffer holds the largest record a snapshot length allows).
 */
#include "pcapfile.h"

#include <errno.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bview.h"

/* bytes read at a time: more than a record header plus the largest
 * snapshot length libpcap gives these link types (262144) */
#define PCAPFILE_BUF (256u * 1024u + 4096u)
#define REC_HDR PCAPFILE_REC_HDR

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_BE true
#else
#define HOST_BE false
#endif

static inline bool
get32(struct bview v, size_t off, bool be, uint32_t *out)
{
	return be ? bv_be32(v, off, out) : bv_le32(v, off, out);
}

static inline bool
get16(struct bview v, size_t off, bool be, uint16_t *out)
{
	return be ? bv_be16(v, off, out) : bv_le16(v, off, out);
}

/*
 * The link types read without a fix-up, as file LINKTYPE_ and libpcap
 * DLT_ numbers.  libpcap rewrites the pseudo-header of a few types
 * (pflog, Linux SLL and SLL2, USB, nflog) when the file's byte order is
 * not the machine's (swap_fixup), and fixes USB lengths always: those
 * stay libpcap's.
 */
static const struct {
	uint32_t linktype;
	int dlt;
	bool swap_fixup;
} plain_types[] = {
    {0, DLT_NULL, false},          {1, DLT_EN10MB, false},    {101, DLT_RAW, false},
    {108, DLT_LOOP, false},        {228, DLT_IPV4, false},    {229, DLT_IPV6, false},
    {113, DLT_LINUX_SLL, true},    {276, DLT_LINUX_SLL2, true},
};

/* The DLT_ of a header the fast path takes, else -1. */
static int
plain_dlt(const uint8_t *hdr, size_t n, bool *be, bool *nano)
{
	struct bview v = bv_make(hdr, n);
	uint32_t m;
	if (n < PCAPFILE_HDR || !bv_le32(v, 0, &m))
		return -1;
	*be = m != MAGIC_US && m != MAGIC_NS;
	if (*be && (!bv_be32(v, 0, &m) || (m != MAGIC_US && m != MAGIC_NS)))
		return -1; /* pcapng, the modified formats, not a capture */
	*nano = m == MAGIC_NS;
	uint16_t major, minor;
	uint32_t lt;
	if (!get16(v, 4, *be, &major) || !get16(v, 6, *be, &minor) || !get32(v, 20, *be, &lt) ||
	    major != 2 || minor != 4)
		return -1; /* older minor versions may swap the two lengths */
	/* the top bits of the link type field carry FCS details: not plain */
	for (size_t i = 0; i < sizeof(plain_types) / sizeof(plain_types[0]); i++)
		if (plain_types[i].linktype == lt)
			return plain_types[i].swap_fixup && *be != HOST_BE ? -1 : plain_types[i].dlt;
	return -1;
}

bool
pcapfile_eligible(const uint8_t *hdr, size_t n)
{
	bool be, nano;
	return plain_dlt(hdr, n, &be, &nano) >= 0;
}

struct pcapfile *
pcapfile_new(int fd, const uint8_t *hdr, size_t n, int dlt, uint32_t snapshot)
{
	bool be, nano;
	int want = plain_dlt(hdr, n, &be, &nano);
	/* libpcap's reading of the header must agree with ours */
	if (want < 0 || want != dlt || snapshot == 0 || snapshot > PCAPFILE_BUF - REC_HDR)
		return NULL;
	struct pcapfile *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->buf = malloc(PCAPFILE_BUF);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->swap = be != HOST_BE;
	r->nano = nano;
	r->snapshot = snapshot;
	r->base = PCAPFILE_HDR;
	return r;
}

/* Moves the unread bytes to the front and reads behind them until the
 * buffer is full or the file ends (or fails: libpcap will say how). */
static void
refill(struct pcapfile *r)
{
	if (r->eof)
		return;
	size_t left = r->n - r->pos;
	memmove(r->buf, r->buf + r->pos, left);
	r->base += r->pos;
	r->n = left;
	r->pos = 0;
	while (r->n < PCAPFILE_BUF) {
		ssize_t got = pread(r->fd, r->buf + r->n, PCAPFILE_BUF - r->n, (off_t)(r->base + r->n));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r->eof = true;
			r->failed = got < 0;
			break;
		}
		r->n += (size_t)got;
	}
}

static int
stop(struct pcapfile *r)
{
	r->stopped = true;
	return -1;
}

int
pcapfile_next_slow(struct pcapfile *r, struct pcapfile_rec *out)
{
	if (r->stopped)
		return -1;
	int rc = pcapfile_take(r, out);
	if (rc == 0) {
		/* one refill brings the whole record: the buffer holds the
		   largest one the snapshot length allows */
		refill(r);
		if (r->n == r->pos)
			return r->failed ? stop(r) : 0; /* the end, between two records */
		rc = pcapfile_take(r, out);
	}
	/* 0 now: the file ends inside the record (or its header); -1: what
	   libpcap would not hand over as it is: its turn */
	return rc == 1 ? 1 : stop(r);
}

uint64_t
pcapfile_offset(const struct pcapfile *r)
{
	return r->base + r->pos;
}

void
pcapfile_free(struct pcapfile *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}
