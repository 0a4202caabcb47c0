/*
 * dblock.c - the writer lock of a database (dblock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/dblock.h"

struct dblock {
	int fd;
	char cmd[512];
};

int
dblock_path(const char *db, char *buf, size_t n)
{
	int w = snprintf(buf, n, "%s-lock", db);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* Reads the holder's pid, run and command from the file's text. */
static void
parse_holder(int fd, struct dblock_holder *h)
{
	char text[700];
	ssize_t r = pread(fd, text, sizeof(text) - 1, 0);
	h->run_id = 0;
	h->cmd[0] = '\0';
	if (r <= 0)
		return;
	text[r] = '\0';
	char *run = strstr(text, "\nrun ");
	if (run)
		h->run_id = strtoll(run + 5, NULL, 10);
	char *cmd = strstr(text, "\ncmd ");
	if (cmd) {
		cmd += 5;
		size_t len = strcspn(cmd, "\n");
		if (len >= sizeof(h->cmd))
			len = sizeof(h->cmd) - 1;
		memcpy(h->cmd, cmd, len);
		h->cmd[len] = '\0';
	}
}

/* F_GETLK on fd: 1 held by another process (pid filled), 0 free, -1 error */
static int
test_lock(int fd, struct dblock_holder *h)
{
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) != 0)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	h->pid = (long)fl.l_pid;
	parse_holder(fd, h);
	return 1;
}

/* This process's command line, arguments separated by spaces. */
static void
own_cmdline(char *buf, size_t n)
{
	buf[0] = '\0';
	FILE *f = fopen("/proc/self/cmdline", "rb");
	if (!f)
		return;
	size_t r = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[r] = '\0';
	while (r > 0 && buf[r - 1] == '\0')
		r--;
	for (size_t i = 0; i < r; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
	buf[r] = '\0';
}

static void
write_text(struct dblock *l, int64_t run_id)
{
	char text[700];
	int w = snprintf(text, sizeof(text), "pid %ld\nrun %" PRId64 "\ncmd %s\n", (long)getpid(),
	                 run_id, l->cmd);
	if (w < 0)
		return;
	size_t len = (size_t)w < sizeof(text) ? (size_t)w : sizeof(text) - 1;
	/* best effort: the lock itself is what counts, the text only names it */
	if (ftruncate(l->fd, 0) == 0 && pwrite(l->fd, text, len, 0) < 0)
		return;
}

int
dblock_take(const char *db, struct dblock **out, struct dblock_holder *holder, char *err,
            size_t errlen)
{
	char path[4096];
	*out = NULL;
	memset(holder, 0, sizeof(*holder));
	if (dblock_path(db, path, sizeof(path)) != 0) {
		snprintf(err, errlen, "%s: name too long", db);
		return -1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create its writer lock %s: %s", db, path,
		         strerror(errno));
		return -1;
	}
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		int e = errno;
		if (e == EACCES || e == EAGAIN) {
			int t = test_lock(fd, holder);
			close(fd);
			if (t == 1)
				return 1;
			/* released in between: a writer was just ending */
			snprintf(err, errlen, "%s: another writer was ending; try again", path);
			return -1;
		}
		close(fd);
		snprintf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
		return -1;
	}
	struct dblock *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->fd = fd;
	own_cmdline(l->cmd, sizeof(l->cmd));
	write_text(l, 0);
	*out = l;
	return 0;
}

void
dblock_set_run(struct dblock *l, int64_t run_id)
{
	if (l)
		write_text(l, run_id);
}

void
dblock_release(struct dblock *l)
{
	if (!l)
		return;
	if (ftruncate(l->fd, 0) != 0) {
		/* the lock goes all the same; a stale text names no holder */
	}
	close(l->fd); /* closing drops the process's record locks */
	free(l);
}

int
dblock_holder(const char *db, struct dblock_holder *holder, char *err, size_t errlen)
{
	char path[4096];
	memset(holder, 0, sizeof(*holder));
	if (dblock_path(db, path, sizeof(path)) != 0) {
		snprintf(err, errlen, "%s: name too long", db);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int t = test_lock(fd, holder);
	if (t < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return t;
}
