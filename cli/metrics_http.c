/*
 * metrics_http.c - the /metrics endpoint of capture --metrics.
 *
 * The socket is bound here (so a failure is one line with its reason) and
 * handed to libmicrohttpd, which serves it from one internal thread: a few
 * connections at a time, each closed after a short idle time.  The thread
 * only reads the registry (metrics_format copies it under its lock).
 *
 * libmicrohttpd is loaded when --metrics is given (dlopen, MXLAG_MHD_SONAME
 * from CMakeLists.txt), not linked: it brings GnuTLS along, whose resident
 * memory every analyze would pay otherwise.  It stays loaded to the end.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/metrics.h"
#include "cli/metrics_http.h"

#define MAX_CONNECTIONS 8
#define CONNECTION_TIMEOUT_S 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *d;
	struct metrics *m;
};

/* the functions of libmicrohttpd used here, typed by its header */
static struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd;

/* 0, or -1 with one line in err */
static int
load_mhd(char *err, size_t errlen)
{
	static void *lib;
	if (lib)
		return 0;
	void *l = dlopen(MXLAG_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (l) {
		static const char *const names[] = {
		    "MHD_start_daemon",      "MHD_stop_daemon",    "MHD_create_response_from_buffer",
		    "MHD_add_response_header", "MHD_queue_response", "MHD_destroy_response"};
		void *f[6];
		for (size_t i = 0; i < 6 && !missing; i++)
			if (!(f[i] = dlsym(l, names[i])))
				missing = names[i];
		if (!missing) {
			/* POSIX: a function pointer may be copied from dlsym's void * */
			memcpy(&mhd.start_daemon, &f[0], sizeof(f[0]));
			memcpy(&mhd.stop_daemon, &f[1], sizeof(f[1]));
			memcpy(&mhd.create_response_from_buffer, &f[2], sizeof(f[2]));
			memcpy(&mhd.add_response_header, &f[3], sizeof(f[3]));
			memcpy(&mhd.queue_response, &f[4], sizeof(f[4]));
			memcpy(&mhd.destroy_response, &f[5], sizeof(f[5]));
			lib = l;
			return 0;
		}
	}
	snprintf(err, errlen,
	         "--metrics: cannot load %s (Debian package libmicrohttpd12): %s", MXLAG_MHD_SONAME,
	         missing ? missing : dlerror());
	if (l)
		dlclose(l);
	return -1;
}

int
metrics_http_parse(const char *s, struct metrics_addr *out)
{
	char host[64];
	const char *port;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	char *end;
	errno = 0;
	long p = strtol(port, &end, 10);
	if (!port[0] || *end || errno || p < 1 || p > 65535 || port[0] == '+' || port[0] == '-')
		return -1;
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -1;
		out->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		out->len = sizeof(*a);
	}
	return 0;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, char *body, size_t len, int must_free)
{
	struct MHD_Response *r = mhd.create_response_from_buffer(
	    len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = mhd.queue_response(c, status, r);
	mhd.destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct metrics_http *h = cls;
	static char not_found[] = "not found: mxlag serves /metrics\n";
	static char not_allowed[] = "method not allowed: GET /metrics\n";
	static char no_memory[] = "out of memory\n";
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1, 0);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, 0);
	size_t len = 0;
	char *text = metrics_format(h->m, &len);
	if (!text)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, no_memory, sizeof(no_memory) - 1, 0);
	return reply(c, MHD_HTTP_OK, text, len, 1);
}

struct metrics_http *
metrics_http_start(const struct metrics_addr *a, struct metrics *m, char *err, size_t errlen)
{
	char name[INET6_ADDRSTRLEN + 8] = "?";
	const void *ip = a->ss.ss_family == AF_INET6
	                     ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
	                     : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	inet_ntop(a->ss.ss_family, ip, name, sizeof(name));
	if (load_mhd(err, errlen) != 0)
		return NULL;
	unsigned port = ntohs(a->ss.ss_family == AF_INET6
	                          ? ((const struct sockaddr_in6 *)&a->ss)->sin6_port
	                          : ((const struct sockaddr_in *)&a->ss)->sin_port);
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "--metrics: cannot listen on %s%s%s:%u: %s",
		         a->ss.ss_family == AF_INET6 ? "[" : "", name,
		         a->ss.ss_family == AF_INET6 ? "]" : "", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, errlen, "--metrics: out of memory");
		return NULL;
	}
	h->m = m;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	if (a->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = mhd.start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
	                        MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		free(h);
		snprintf(err, errlen, "--metrics: cannot start the HTTP server on %s:%u", name, port);
		return NULL;
	}
	return h;
}

void
metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	/* closes the listening socket too */
	mhd.stop_daemon(h->d);
	free(h);
}
