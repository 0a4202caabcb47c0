/*
 * fmterr.h - the one error formatter of schema/ (store, reports, HTML):
 * writes into a caller's buffer; a NULL or empty buffer is ignored.
 */
#ifndef MXLAG_FMTERR_H
#define MXLAG_FMTERR_H

#include <stddef.h>

void fmt_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
