/*
 * anchor.h - packet anchors: the duplicate guard by content (DESIGN.md,
 * "Duplicate guard").
 *
 * A run records a few of the packets it read as anchors: a 64-bit hash of
 * the packet's capture time (ns), its length on the wire and its first
 * ANCHOR_BYTES captured bytes.  A packet is an anchor when its hash is
 * 0 modulo ANCHOR_EVERY (content-defined: the same packets are anchors
 * whichever file, slice or order they are read from), and the first packet
 * of every input file is one too (so a short file is recognized whole).
 * An offline run whose anchor equals an anchor an earlier run stored has
 * read a packet that run read: the same capture, a copy of it (converted
 * to pcapng, compressed, trimmed to a shorter snap length) or a slice
 * that overlaps it.
 *
 * Copies of one packet captured at another point (a mirror port and the
 * host itself, two interfaces) carry other capture times and so other
 * hashes: merely overlapping times are not duplicates.
 *
 * The hash is stored (anchors.hash): its definition is part of the schema
 * and may not change without a migration.
 */
#ifndef MXLAG_ANCHOR_H
#define MXLAG_ANCHOR_H

#include <stdbool.h>
#include <stdint.h>

#define ANCHOR_BYTES 64
#define ANCHOR_EVERY 256 /* one packet in this many, on average */

uint64_t anchor_hash(uint64_t ts_ns, uint32_t wirelen, const uint8_t *data, uint32_t caplen);

static inline bool
anchor_by_content(uint64_t hash)
{
	return hash % ANCHOR_EVERY == 0;
}

#endif
