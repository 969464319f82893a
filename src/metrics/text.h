/*
 * text.h: the Prometheus text exposition format (version 0.0.4), written
 * into a growing buffer.
 *
 * A family is opened with its HELP and TYPE lines, then gets samples;
 * label values are escaped (backslash, double quote, newline) and numbers
 * are written so that a parser reads them back exactly (integers as
 * integers, +Inf spelled so). Labels come as a NULL-terminated list of
 * name, value pairs. A buffer that cannot grow marks the text failed
 * (metrics_text_failed()): the scrape then answers 500, never a cut text.
 */
#ifndef GDP_METRICS_TEXT_H
#define GDP_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_text {
	char *buf;
	size_t len, cap;
	bool failed;
};

void metrics_text_init(struct metrics_text *t);
void metrics_text_free(struct metrics_text *t);
bool metrics_text_failed(const struct metrics_text *t);

/* |n| bytes of |s| as they are (an HTTP answer's plain body). */
void metrics_text_append(struct metrics_text *t, const char *s, size_t n);

/* "# HELP name help" and "# TYPE name type". */
void metrics_text_family(struct metrics_text *t, const char *name,
    const char *type, const char *help);
/*
 * One sample: |name|{labels} |v|. |labels| is NULL or name, value, ...,
 * NULL. |le| (may be NULL) is added last as the le label (histograms).
 */
void metrics_text_sample(struct metrics_text *t, const char *name,
    const char *const *labels, const char *le, double v);
/* The same with an integer value. */
void metrics_text_count(struct metrics_text *t, const char *name,
    const char *const *labels, const char *le, uint64_t v);

#endif /* GDP_METRICS_TEXT_H */
