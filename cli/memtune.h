/*
 * memtune.h - the allocator setting of a long live capture.
 *
 * glibc gives each thread that allocates an arena of its own.  In `mxlag
 * capture` one arena for every thread kept the peak RSS of bench/live.sh
 * at 300 k pkt/s 0.3-0.5 MiB lower (61.9-62.6 against 62.6-62.8 MiB in 5
 * runs each, without drops; bench/README.md, issue 16).  An offline
 * analysis keeps glibc's default: there the two threads contend for the
 * one arena's lock, and the full run was 21 % slower.
 *
 * Header-only so that a unit test can check it without the CLI.  Call it
 * before the first thread starts: an arena a thread already has stays.
 */
#ifndef MXLAG_CLI_MEMTUNE_H
#define MXLAG_CLI_MEMTUNE_H

#include <stdlib.h> /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* One malloc arena for the whole process; 0, or -1 where the C library
 * has no such setting (it then keeps its own policy). */
static inline int
memtune_one_arena(void)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
	return mallopt(M_ARENA_MAX, 1) == 1 ? 0 : -1;
#else
	return -1;
#endif
}

#endif
