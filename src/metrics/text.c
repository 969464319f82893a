/*
 * text.c: the Prometheus text format writer (see text.h).
 *
 * Appends into one buffer that doubles when full; a scrape is a few KiB,
 * written once per scrape, off the kubelet's path. The first failure to
 * grow marks the text failed and every later append does nothing.
 */
#include "metrics/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

void
metrics_text_init(struct metrics_text *t)
{
	memset(t, 0, sizeof(*t));
}

void
metrics_text_free(struct metrics_text *t)
{
	gdp_free(t->buf);
	memset(t, 0, sizeof(*t));
}

bool
metrics_text_failed(const struct metrics_text *t)
{
	return t->failed;
}

/* Room for |n| more bytes and a NUL. */
static bool
reserve(struct metrics_text *t, size_t n)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *p;

	if (t->failed)
		return false;
	while (cap - t->len < n + 1)
		cap *= 2;
	if (cap == t->cap)
		return true;
	p = gdp_realloc(t->buf, cap);
	if (p == NULL) {
		t->failed = true;
		return false;
	}
	t->buf = p;
	t->cap = cap;
	return true;
}

static void
put(struct metrics_text *t, const char *s, size_t n)
{
	if (!reserve(t, n))
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void
metrics_text_append(struct metrics_text *t, const char *s, size_t n)
{
	put(t, s, n);
}

static void
puts_(struct metrics_text *t, const char *s)
{
	put(t, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
putf(struct metrics_text *t, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(t, tmp, (size_t)n < sizeof(tmp) ? (size_t)n :
		    sizeof(tmp) - 1);
}

/* A label value: \ " and newline escaped. */
static void
put_value(struct metrics_text *t, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			puts_(t, "\\\\");
		else if (*v == '"')
			puts_(t, "\\\"");
		else if (*v == '\n')
			puts_(t, "\\n");
		else
			put(t, v, 1);
	}
}

/* The help text: \ and newline escaped. */
static void
put_help(struct metrics_text *t, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			puts_(t, "\\\\");
		else if (*v == '\n')
			puts_(t, "\\n");
		else
			put(t, v, 1);
	}
}

void
metrics_text_family(struct metrics_text *t, const char *name,
    const char *type, const char *help)
{
	puts_(t, "# HELP ");
	puts_(t, name);
	puts_(t, " ");
	put_help(t, help);
	puts_(t, "\n# TYPE ");
	puts_(t, name);
	puts_(t, " ");
	puts_(t, type);
	puts_(t, "\n");
}

static void
put_labels(struct metrics_text *t, const char *const *labels,
    const char *le)
{
	bool any = false;

	for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		puts_(t, any ? "," : "{");
		puts_(t, labels[i]);
		puts_(t, "=\"");
		put_value(t, labels[i + 1]);
		puts_(t, "\"");
		any = true;
	}
	if (le != NULL) {
		puts_(t, any ? ",le=\"" : "{le=\"");
		puts_(t, le);
		puts_(t, "\"");
		any = true;
	}
	if (any)
		puts_(t, "}");
}

void
metrics_text_sample(struct metrics_text *t, const char *name,
    const char *const *labels, const char *le, double v)
{
	puts_(t, name);
	put_labels(t, labels, le);
	if (isinf(v))
		puts_(t, v > 0 ? " +Inf\n" : " -Inf\n");
	else if (isnan(v))
		puts_(t, " NaN\n");
	else
		putf(t, " %.17g\n", v);
}

void
metrics_text_count(struct metrics_text *t, const char *name,
    const char *const *labels, const char *le, uint64_t v)
{
	puts_(t, name);
	put_labels(t, labels, le);
	putf(t, " %llu\n", (unsigned long long)v);
}
