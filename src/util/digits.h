/*
 * digits.h: whether a span of text is a decimal number, as the config's
 * device references need it (GPU index "0", MIG index "0:1"): the config
 * parser checks the form (config/sharing.c), the resource table resolves
 * the reference (resources/replicas.c), and both must agree on it.
 * A header only: one small pure function.
 */
#ifndef GDP_UTIL_DIGITS_H
#define GDP_UTIL_DIGITS_H

#include <stdbool.h>
#include <stddef.h>

/* True when |s|'s first |n| bytes are all ASCII digits and |n| > 0. */
static inline bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

#endif /* GDP_UTIL_DIGITS_H */
