/* guardbuf.c - PROT_NONE-tailed buffers (see guardbuf.h). */
#include "guardbuf.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t
page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	return ps > 0 ? (size_t)ps : 4096;
}

static size_t
round_up(size_t n, size_t ps)
{
	return (n + ps - 1) / ps * ps;
}

uint8_t *
guardbuf_new(const void *src, size_t n)
{
	size_t ps = page_size();
	size_t rn = round_up(n, ps);
	uint8_t *base =
	    mmap(NULL, rn + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base + rn, ps, PROT_NONE) != 0) {
		munmap(base, rn + ps);
		return NULL;
	}
	uint8_t *p = base + rn - n;
	if (n)
		memcpy(p, src, n);
	return p;
}

void
guardbuf_free(uint8_t *p, size_t n)
{
	if (!p)
		return;
	size_t ps = page_size();
	size_t rn = round_up(n, ps);
	munmap(p + n - rn, rn + ps);
}
