/*
 * store_fixture.h - hand-built analysis events for the store and report
 * tests: one SMTP session with a slow GREETING explained by an unanswered
 * client PTR query (with its upstream hop) and an unanswered ident probe, a
 * slow DATA-END with no network cause, and a RCPT the client gave up on.
 */
#ifndef MXLAG_STORE_FIXTURE_H
#define MXLAG_STORE_FIXTURE_H

#include <stdint.h>

#include "../../schema/store.h"

#define FX_T0_NS 1700000000123000000ULL /* 2023-11-14 22:13:20.123 UTC */
#define FX_SEC 1000000000ULL
#define FX_MS 1000000ULL

/* ids the scenario uses (per run) */
enum {
	FX_SESSIONS = 1,
	FX_TXNS = 6,
	FX_DNS = 2,
	FX_IDENTS = 1,
	FX_CAUSES = 4,
};

/* A temporary database path (mkstemp in /tmp) into buf; removes it + -wal/-shm. */
void fx_tmpdb(char *buf, unsigned long n);
void fx_rmdb(const char *path);

/* Stores the scenario (store_begin_run must have been called); 0 = all ok. */
int fx_store_scenario(struct store *s);

/* Opens path, runs the scenario as one run with the given fingerprint, closes. */
int fx_run(const char *path, const char *fingerprint);

#endif
