/*
 * source.h - packet sources: pcap/pcapng files (merged into one timeline)
 * and live interfaces; pcapng through pcapng.c, the rest through libpcap.
 *
 * A source hands out struct pkt records in timestamp order (within one
 * file, in file order).  pkt.data is owned by the source and valid only
 * until the next src_next() call.
 */
#ifndef MXLAG_SOURCE_H
#define MXLAG_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct pkt {
	uint64_t ts_ns;  /* capture time, ns since the Unix epoch */
	uint32_t caplen; /* bytes present at data */
	uint32_t wirelen;
	int dlt;         /* libpcap DLT_* of the file or pcapng interface it came from */
	int origin;      /* index of the file (offline) it came from */
	const uint8_t *data;
};

struct src;

struct live_opts {
	const char *iface;
	int snaplen;       /* 0 = default (65535) */
	int buffer_mb;     /* kernel buffer, 0 = default (32 MiB) */
	int promisc;       /* 1: promiscuous mode (mxlag capture: unless --no-promisc) */
	const char *filter; /* BPF, NULL = none */
};

/*
 * Opens n capture files ("-" = standard input; the paths are kept and
 * must stay valid until src_close()).  pcapng files are read by
 * pcapng.c, every interface with its own link type; other files by
 * libpcap.  Files that cannot be opened are reported on stderr and
 * skipped; returns -1 (with err) only when none could be opened or the
 * filter does not compile.  filter may be NULL; for pcapng it is compiled
 * per link type.
 */
int src_open_files(struct src **out, const char *const *paths, int n, const char *filter,
		   char *err, size_t errlen);
/* Opens a live interface with nanosecond timestamps when available. */
int src_open_live(struct src **out, const struct live_opts *o, char *err, size_t errlen);

/*
 * Next packet in timestamp order.  Returns 1 with *out filled, 0 at the
 * end of all input, 2 when a live read timed out with nothing to deliver
 * (call again), -1 on a fatal error (message in src_error()).  A truncated
 * or corrupt file produces one warning on stderr naming the file and
 * offset; its packets before the damage are still delivered.
 */
int src_next(struct src *s, struct pkt *out);
/* Make a blocked live src_next() return; async-signal-safe. */
void src_break(struct src *s);
/* Kernel receive/drop figures for live sources (no-op offline). */
void src_kernel_stats(struct src *s, struct cap_stats *st);
/*
 * The next file (from *iter, which starts at 0) that delivered no packet
 * (none in it, none passed the filter, or 0 bytes long) and did not end in
 * damage; NULL when there are no more.  Offline sources only.
 */
const char *src_empty_file(const struct src *s, int *iter);
/* The number of input files (pkt.origin is below it; 1 for a live source)
 * and the path of file i as given (NULL out of range or live). */
int src_nfiles(const struct src *s);
const char *src_file_path(const struct src *s, int i);
/* Number of files that ended in damage or could not be opened. */
int src_damaged(const struct src *s);
/* Total bytes of the input files (0 if unknown, e.g. stdin), and read so far. */
uint64_t src_total_bytes(const struct src *s);
uint64_t src_read_bytes(const struct src *s);
const char *src_error(const struct src *s);
void src_close(struct src *s);

#endif
