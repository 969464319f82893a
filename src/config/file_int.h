/*
 * file_int.h: what file.c and sharing.c share while walking one config
 * file's node tree: the walk's state, the typed readers of scalars and
 * the error and warning helpers. Not for use outside src/config/.
 */
#ifndef GDP_CONFIG_FILE_INT_H
#define GDP_CONFIG_FILE_INT_H

#include <stdbool.h>

#include <yaml.h>

#include "file.h"

/* Key paths are cut here; longer ones end in "...". */
#define KEY_PATH_MAX 256
/* Nodes one walk may visit (aliases can repeat a subtree). */
#define WALK_BUDGET 100000

struct walk {
	struct cfgfile *cf;
	yaml_document_t *doc;
	unsigned long budget;
};

/* One key of a mapping being walked, with its value. */
struct entry {
	const char *key;
	yaml_node_t *key_node;    /* NULL for a list's item */
	yaml_node_t *value;
	char path[KEY_PATH_MAX];  /* the value's key path */
};

/*
 * Calls |fn| for every key of the mapping |node| (at |path|), after
 * checking it is a mapping with scalar, unrepeated keys (errors for the
 * rest). Returns 0, or -ENOMEM.
 */
int walk_mapping(struct walk *w, yaml_node_t *node, const char *path,
    int (*fn)(struct walk *w, struct entry *e, void *arg), void *arg);
/* The |i|-th item of a sequence node. */
yaml_node_t *walk_item(struct walk *w, yaml_node_t *seq, size_t i);
/* |out| (KEY_PATH_MAX bytes): "<path>[i]". */
void index_path(char *out, const char *path, size_t i);
/* False (after an error, once the budget is gone) when it is used up. */
bool walk_spend(struct walk *w, yaml_node_t *node);

/* "FILE:LINE:COLUMN: PATH: " prefixes of |node|'s messages. */
void walk_where(const struct walk *w, const yaml_node_t *node,
    const char *path, char *out, size_t len);
int walk_error(struct walk *w, const yaml_node_t *node, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int walk_warning(struct walk *w, const yaml_node_t *node, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An unknown key: a warning, the key's place. */
int walk_unknown(struct walk *w, struct entry *e);
/* "expected X, got Y" for |node|. */
int walk_expected(struct walk *w, const yaml_node_t *node,
    const char *path, const char *what);

/* A plain null (~, null, empty): the key is as good as absent. */
bool node_is_null(const yaml_node_t *node);
/* The scalar's text, or NULL for any other node. */
const char *node_text(const yaml_node_t *node);
/* A plain scalar that YAML 1.1 reads as a boolean: 1 true, 0 false, -1. */
int node_bool(const yaml_node_t *node);
/* A plain scalar that is a whole number from 0 to |max|: 0, else -1. */
int node_unsigned(const yaml_node_t *node, unsigned long max,
    unsigned long *out);

/*
 * The readers of a typed value: on a bad one, an error naming what was
 * expected. Return 1 (read), 0 (null: absent), -EINVAL (error given) or
 * -ENOMEM.
 */
int read_bool(struct walk *w, struct entry *e, bool *out);
int read_string(struct walk *w, struct entry *e, char **out);

/* Sections in sharing.c. */
int walk_resources(struct walk *w, struct entry *e);
int walk_sharing(struct walk *w, struct entry *e);

#endif /* GDP_CONFIG_FILE_INT_H */
