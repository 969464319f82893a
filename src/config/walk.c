/*
 * walk.c: the generic half of the config file's walk (see file_int.h):
 * messages with their place, the typing of libyaml's scalars, and the
 * walk of a mapping with its checks. Nothing here knows NVIDIA's keys
 * (file.c and sharing.c do).
 *
 * libyaml tags every plain scalar as a string, so numbers, booleans and
 * nulls are told apart here, as YAML 1.1 does (NVIDIA's parser is YAML
 * 1.1 too: yes/no/on/off are booleans). A quoted scalar is a string.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "file_int.h"
#include "util/alloc.h"

#define MAX_ERRORS 50
#define MAX_KEYS 256
/* Messages. */

static char *vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
static int vadd(char ***list, size_t *n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int vwalk(struct walk *w, bool error, const yaml_node_t *node,
    const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
	va_list copy;
	char *s;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		n = 0;
	s = gdp_malloc((size_t)n + 1);
	if (s != NULL)
		(void)vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static int
push(char ***list, size_t *n, char *line)
{
	char **grown;

	if (line == NULL)
		return -ENOMEM;
	grown = gdp_realloc(*list, (*n + 1) * sizeof(**list));
	if (grown == NULL) {
		gdp_free(line);
		return -ENOMEM;
	}
	grown[(*n)++] = line;
	*list = grown;
	return 0;
}

static int
vadd(char ***list, size_t *n, const char *fmt, va_list ap)
{
	if (*n > MAX_ERRORS)
		return 0;
	if (*n == MAX_ERRORS)
		return push(list, n, gdp_strdup("(more not shown)"));
	return push(list, n, vformat(fmt, ap));
}

int
cfgfile_error(struct cfgfile *cf, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vadd(&cf->errors, &cf->n_errors, fmt, ap);
	va_end(ap);
	return rc;
}

int
cfgfile_warning(struct cfgfile *cf, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vadd(&cf->warnings, &cf->n_warnings, fmt, ap);
	va_end(ap);
	return rc;
}

void
walk_where(const struct walk *w, const yaml_node_t *node, const char *path,
    char *out, size_t len)
{
	snprintf(out, len, "%s:%zu:%zu%s%s", w->cf->path,
	    node->start_mark.line + 1, node->start_mark.column + 1,
	    path[0] != '\0' ? ": " : "", path);
}

static int
vwalk(struct walk *w, bool error, const yaml_node_t *node, const char *path,
    const char *fmt, va_list ap)
{
	char where[KEY_PATH_MAX + PATH_MAX + 64];
	char *what = vformat(fmt, ap);
	int rc;

	if (what == NULL)
		return -ENOMEM;
	walk_where(w, node, path, where, sizeof(where));
	if (error)
		rc = cfgfile_error(w->cf, "%s: %s", where, what);
	else
		rc = cfgfile_warning(w->cf, "%s: %s", where, what);
	gdp_free(what);
	return rc;
}

int
walk_error(struct walk *w, const yaml_node_t *node, const char *path,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vwalk(w, true, node, path, fmt, ap);
	va_end(ap);
	return rc;
}

int
walk_warning(struct walk *w, const yaml_node_t *node, const char *path,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vwalk(w, false, node, path, fmt, ap);
	va_end(ap);
	return rc;
}

int
walk_unknown(struct walk *w, struct entry *e)
{
	return walk_warning(w, e->value, e->path, "unknown key, ignored");
}

/* Scalars. */

const char *
node_text(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

static bool
plain(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE &&
	    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool
node_is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null",
		"NULL" };
	const char *t = node_text(node);

	if (!plain(node))
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(t, nulls[i]) == 0)
			return true;
	return false;
}

int
node_bool(const yaml_node_t *node)
{
	static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES",
		"true", "True", "TRUE", "on", "On", "ON" };
	static const char *const no[] = { "n", "N", "no", "No", "NO",
		"false", "False", "FALSE", "off", "Off", "OFF" };
	const char *t = node_text(node);

	if (!plain(node))
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(t, yes[i]) == 0)
			return 1;
		if (strcmp(t, no[i]) == 0)
			return 0;
	}
	return -1;
}

int
node_unsigned(const yaml_node_t *node, unsigned long max, unsigned long *out)
{
	const char *t = node_text(node);
	unsigned long v = 0;

	if (!plain(node) || t[0] == '\0')
		return -1;
	for (const char *p = t; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (max - (unsigned)(*p - '0')) /
		    10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*out = v;
	return 0;
}

static bool
looks_numeric(const char *t)
{
	if (*t == '-' || *t == '+')
		t++;
	if (*t == '\0')
		return false;
	for (; *t != '\0'; t++)
		if ((*t < '0' || *t > '9') && *t != '.')
			return false;
	return true;
}

/* What |node| is, for "got ..." (text cut short, control bytes as ?). */
static void
describe(const yaml_node_t *node, char *out, size_t len)
{
	char text[72];
	const char *t = node_text(node);
	size_t n = 0;

	if (node->type == YAML_MAPPING_NODE) {
		snprintf(out, len, "a mapping");
		return;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		snprintf(out, len, "a list");
		return;
	}
	if (node_is_null(node)) {
		snprintf(out, len, "nothing (null)");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)t;
	    *p != '\0' && n < 64; p++)
		text[n++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
	text[n] = '\0';
	if (node_bool(node) >= 0)
		snprintf(out, len, "the boolean %s", text);
	else if (plain(node) && looks_numeric(t))
		snprintf(out, len, "the number %s", text);
	else
		snprintf(out, len, "the string \"%s%s\"", text,
		    t[n] != '\0' ? "..." : "");
}

int
walk_expected(struct walk *w, const yaml_node_t *node, const char *path,
    const char *what)
{
	char got[128];

	describe(node, got, sizeof(got));
	return walk_error(w, node, path, "expected %s, got %s", what, got);
}

int
read_bool(struct walk *w, struct entry *e, bool *out)
{
	int b;

	if (node_is_null(e->value))
		return 0;
	b = node_bool(e->value);
	if (b >= 0) {
		*out = b == 1;
		return 1;
	}
	return walk_expected(w, e->value, e->path, "a boolean (true or "
	    "false)") < 0 ? -ENOMEM : -EINVAL;
}

int
read_string(struct walk *w, struct entry *e, char **out)
{
	if (node_is_null(e->value))
		return 0;
	if (e->value->type != YAML_SCALAR_NODE)
		return walk_expected(w, e->value, e->path, "a string") < 0 ?
		    -ENOMEM : -EINVAL;
	gdp_free(*out);
	*out = gdp_strdup(node_text(e->value));
	return *out == NULL ? -ENOMEM : 1;
}

/* The walk. */

bool
walk_spend(struct walk *w, yaml_node_t *node)
{
	if (w->budget == 0)
		return false;
	if (--w->budget == 0) {
		(void)walk_error(w, node, "", "the file has more than %d "
		    "values (counting what aliases repeat)", WALK_BUDGET);
		return false;
	}
	return true;
}

yaml_node_t *
walk_item(struct walk *w, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(w->doc,
	    seq->data.sequence.items.start[i]);
}

static void
cut(char *out, int n)
{
	if (n >= KEY_PATH_MAX)
		memcpy(out + KEY_PATH_MAX - 4, "...", 4);
}

static void
child_path(char *out, const char *path, const char *key)
{
	if (path[0] == '\0')
		cut(out, snprintf(out, KEY_PATH_MAX, "%.64s", key));
	else
		cut(out, snprintf(out, KEY_PATH_MAX, "%s.%.64s", path, key));
}

void
index_path(char *out, const char *path, size_t i)
{
	cut(out, snprintf(out, KEY_PATH_MAX, "%s[%zu]", path, i));
}

/* The line of an earlier key |key| of |node| before pair |upto|, or 0. */
static size_t
repeated(struct walk *w, yaml_node_t *node, yaml_node_pair_t *upto,
    const char *key)
{
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < upto;
	    p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		const char *t = node_text(k);

		if (t != NULL && strcmp(t, key) == 0)
			return k->start_mark.line + 1;
	}
	return 0;
}

int
walk_mapping(struct walk *w, yaml_node_t *node, const char *path,
    int (*fn)(struct walk *w, struct entry *e, void *arg), void *arg)
{
	yaml_node_pair_t *p;
	int rc;

	if (node_is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE)
		return walk_expected(w, node, path, "a mapping");
	if (node->data.mapping.pairs.top - node->data.mapping.pairs.start >
	    MAX_KEYS)
		return walk_error(w, node, path, "more than %d keys",
		    MAX_KEYS);
	for (p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		struct entry e;
		size_t first;

		e.value = yaml_document_get_node(w->doc, p->value);
		if (k == NULL || e.value == NULL || !walk_spend(w, e.value))
			return 0;
		if (k->type != YAML_SCALAR_NODE) {
			if ((rc = walk_expected(w, k, path, "a key name")) < 0)
				return rc;
			continue;
		}
		e.key = node_text(k);
		e.key_node = k;
		child_path(e.path, path, e.key);
		if ((first = repeated(w, node, p, e.key)) != 0) {
			rc = walk_error(w, k, e.path, "repeated key (first "
			    "at line %zu)", first);
		} else {
			rc = fn(w, &e, arg);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}
