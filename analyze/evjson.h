/*
 * evjson.h - one analyzer event as one JSON line (mxlag analyze --events).
 */
#ifndef MXLAG_EVJSON_H
#define MXLAG_EVJSON_H

#include <stdio.h>

#include "event.h"

/* Writes ev as a single-line JSON object followed by '\n'. */
void mx_event_json(const struct mx_event *ev, FILE *out);
/* Writes s as a JSON string literal (quotes included), escaping as RFC 8259 asks. */
void mx_json_str(FILE *out, const char *s);

#endif
