/*
 * metrics_http.h - capture --metrics ADDR:PORT: serves the registry of
 * analyze/metrics.h at GET /metrics (libmicrohttpd, one thread of its own).
 */
#ifndef MXLAG_CLI_METRICS_HTTP_H
#define MXLAG_CLI_METRICS_HTTP_H

#include <sys/socket.h>

struct metrics;
struct metrics_http;

struct metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "127.0.0.1:9100" or "[::1]:9100" (a literal address, port 1 to 65535):
 * 0, or -1 (no message) */
int metrics_http_parse(const char *s, struct metrics_addr *out);
/*
 * Listens on a and serves m from a thread of its own; NULL with one line
 * in err when the address cannot be bound (or out of memory).
 */
struct metrics_http *metrics_http_start(const struct metrics_addr *a, struct metrics *m,
                                        char *err, size_t errlen);
/* Stops the thread, closes the socket and frees; NULL is a no-op. */
void metrics_http_stop(struct metrics_http *h);

#endif
