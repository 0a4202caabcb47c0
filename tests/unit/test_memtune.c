/*
 * test_memtune.c - cli/memtune.h: after memtune_one_arena() a new thread
 * allocates from the process's one malloc arena instead of an arena of its
 * own.  Arenas are counted in malloc_info()'s report, before and after the
 * thread's malloc().  Each case runs in a fresh process, because the
 * setting cannot be undone; the control case (no setting: the thread adds
 * an arena) shows that the count can tell the difference,
 * and where it cannot (the allocator is not glibc's: ASan, valgrind) the
 * test is skipped, not passed.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/memtune.h"

#if defined(__GLIBC__)
static void *
allocate(void *arg)
{
	(void)arg;
	void *p = malloc(1000);
	if (p)
		memset(p, 1, 1000);
	return p;
}

/* The malloc arenas (<heap nr=...> elements in malloc_info()); -2 when
 * malloc_info() fails (valgrind's allocator has none), -1 on another
 * failure. */
static int
arenas(void)
{
	char *buf = NULL;
	size_t len = 0;
	int n = -1;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -1;
	if (malloc_info(0, f) != 0)
		n = -2;
	if (fclose(f) == 0 && n == -1) {
		n = 0;
		for (const char *s = buf; (s = strstr(s, "<heap nr=")); s++)
			n++;
	}
	free(buf);
	return n;
}

/* The arenas a new thread's malloc() added, with the setting or without;
 * -1 on failure.  In a fresh process (this test binary again, run by the
 * constructor below): the setting cannot be undone, and a process that has
 * had threads before hands a new thread the arena an old one left. */
static int
new_arenas_in_fresh_process(int one_arena)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd[2];
	if (len <= 0 || pipe(fd) != 0)
		return -1;
	self[len] = 0;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		char out[16], mode[2] = {one_arena ? '1' : '0', 0};
		snprintf(out, sizeof(out), "%d", fd[1]);
		setenv("MEMTUNE_CHILD", mode, 1);
		setenv("MEMTUNE_FD", out, 1);
		execl(self, self, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	int n = -1;
	if (read(fd[0], &n, sizeof(n)) != (ssize_t)sizeof(n))
		n = -1;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	return n;
}

/* The child: before Criterion's main() starts any thread of its own. */
__attribute__((constructor)) static void
memtune_child(void)
{
	const char *mode = getenv("MEMTUNE_CHILD"), *out = getenv("MEMTUNE_FD");
	if (!mode || !out)
		return;
	int n = -1;
	if (*mode == '0' || memtune_one_arena() == 0) {
		free(malloc(100)); /* the main thread's arena exists */
		int before = arenas();
		pthread_t th;
		void *p = NULL;
		if (before == -2) {
			n = -2;
		} else if (before >= 0 && pthread_create(&th, NULL, allocate, NULL) == 0 &&
			   pthread_join(th, &p) == 0 && p) {
			int after = arenas();
			n = after >= 0 ? after - before : after;
		}
		free(p);
	}
	int fd = atoi(out);
	if (write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		_exit(1);
	_exit(0);
}
#endif

Test(memtune, a_new_thread_shares_the_one_arena)
{
#if defined(__GLIBC__)
	int control = new_arenas_in_fresh_process(0);
	if (control == -2 || control == 0)
		cr_skip_test("the allocator is not glibc's malloc (%s)",
			     control ? "no malloc_info()" : "a new thread got no arena of its own");
	cr_assert_gt(control, 0, "the control process failed");
	int one = new_arenas_in_fresh_process(1);
	cr_assert_eq(one, 0, "a new thread added %d arena(s) with the setting, %d without", one,
		     control);
#else
	cr_assert_eq(memtune_one_arena(), -1);
#endif
}
