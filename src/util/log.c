/*
 * log.c: klog-style lines (see log.h). One write(2) per line, so lines
 * from the health thread and the loop never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void
log_write(enum log_level level, const char *file, int line,
    const char *fmt, ...)
{
	char buf[2048];
	struct timeval tv;
	struct tm tm;
	const char *base = strrchr(file, '/');
	va_list ap;
	int n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06ld %7ld "
	    "%s:%d] ", (char)level, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)tv.tv_usec, (long)syscall(SYS_gettid),
	    base ? base + 1 : file, line);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}
