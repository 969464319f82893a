/*
 * log.c: klog-style lines (see log.h). One write(2) per line, so lines
 * from the health thread and the loop never interleave.
 *
 * A message may carry text from elsewhere (the kubelet's error messages,
 * strings NVML hands back): every byte below 0x20 and DEL is written as
 * \xNN (and a backslash as \\), so that no message can forge a log line
 * or send escape sequences to an operator's terminal.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/*
 * Copies |in| into |out| (|len| bytes, no NUL written), control bytes
 * and backslashes escaped; stops before an escape that would not fit.
 * Returns the bytes written.
 */
static int
escape(char *out, size_t len, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= 0x20 && *p != 0x7f && *p != '\\';

		if (n + (plain ? 1 : *p == '\\' ? 2 : 4) > len)
			break;
		if (plain) {
			out[n++] = (char)*p;
		} else if (*p == '\\') {
			out[n++] = '\\';
			out[n++] = '\\';
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xf];
		}
	}
	return (int)n;
}

void
log_write(enum log_level level, const char *file, int line,
    const char *fmt, ...)
{
	char buf[4096], msg[2048];
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
	if (n < 0 || n > (int)sizeof(buf) / 2)
		n = 0; /* cannot happen: file names are short */
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n += escape(buf + n, sizeof(buf) - (size_t)n - 1, msg);
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}
