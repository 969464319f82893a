/*
 * mcount.c: an LD_PRELOAD library that counts heap allocations (malloc,
 * calloc, realloc), for bench/count-calls.sh: allocations per call are a
 * count that does not move with the machine, unlike timings. SIGUSR2
 * appends the count so far to the file $MCOUNT_OUT. Measurement only;
 * never linked into the plugin.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static volatile unsigned long n;
static const char *out;   /* $MCOUNT_OUT, read once at load */

void *
malloc(size_t s)
{
	n++;
	return __libc_malloc(s);
}

void *
calloc(size_t a, size_t b)
{
	n++;
	return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t s)
{
	n++;
	return __libc_realloc(p, s);
}

/* Async-signal-safe: formats the count by hand, then open/write/close. */
static void
dump(int sig)
{
	char buf[24];
	size_t i = sizeof(buf);
	unsigned long v = n;
	int fd;

	(void)sig;
	if (out == NULL)
		return;
	buf[--i] = '\n';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && i > 0);
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, buf + i, sizeof(buf) - i);
	close(fd);
}

__attribute__((constructor)) static void
init(void)
{
	out = getenv("MCOUNT_OUT");
	signal(SIGUSR2, dump);
}
