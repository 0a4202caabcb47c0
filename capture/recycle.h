/*
 * recycle.h - blocks of the objects made and freed per connection on the
 * packet thread (flows, sessions, parsers, reply queues), kept for reuse
 * by the thread that freed them.
 *
 * Why: once a second thread exists (the SQLite writer), glibc's calloc()
 * takes the arena's lock on every call (it never uses the per-thread
 * cache), and so does free() of a block over 1 KiB.  A locked instruction
 * waits until every store the thread has queued is done, the stores into
 * the writer's queue among them: in a run into SQLite these calls cost
 * the packet thread about a twelfth of its time, against almost nothing
 * in a run without the database.  A block kept here is handed out again
 * without a lock.
 *
 * The cache is per thread and bounded: RC_DEPTH blocks of each of
 * RC_CLASSES sizes (the first sizes met; others go to malloc() and
 * free()).  A block must be given back with the size it was asked for.
 * Under AddressSanitizer nothing is kept, so that a use after
 * mx_recycle() is still caught.
 */
#ifndef MXLAG_RECYCLE_H
#define MXLAG_RECYCLE_H

#include <stddef.h>

#define RC_CLASSES 12 /* sizes kept */
#define RC_DEPTH 32   /* blocks kept of each */

/* n bytes, their contents undefined; NULL without memory */
void *mx_recycled(size_t n);
/* n bytes, zeroed; NULL without memory */
void *mx_recycled_zero(size_t n);
/* p (NULL: nothing), n bytes from mx_recycled() or malloc(), back */
void mx_recycle(void *p, size_t n);
/* every block this thread keeps back to free() */
void mx_recycle_drain(void);
/* blocks of n bytes this thread keeps now (always 0 under ASan) */
unsigned mx_recycle_kept(size_t n);

#endif
