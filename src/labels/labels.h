/*
 * labels.h: GPU Feature Discovery's node labels, computed from the
 * plugin's inventory and settings, and written as a Node Feature
 * Discovery local feature file (docs/observability.md, "Node labels").
 *
 * Split as resources/ is: labels_build() is pure (inventory, MIG
 * strategy, sharing sections, DMI product name in; a sorted set of
 * key=value out; no I/O, no clock), so every rule can be tested from a
 * struct; labels_file_update() (file.c) is the only part that touches
 * the file system. The label set is rebuilt at start, after each
 * rediscovery and reload, never on the Allocate path.
 */
#ifndef GDP_LABELS_LABELS_H
#define GDP_LABELS_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/file.h"
#include "config/flags.h"
#include "gpu/inventory.h"

/* Kubernetes: a label value is at most 63 characters. */
#define LABEL_VALUE_MAX 63
#define LABEL_KEY_MAX 128

/* The key GFD writes the time of the labels under (not compared). */
#define LABELS_TIMESTAMP_KEY "nvidia.com/gfd.timestamp"

struct label {
	char key[LABEL_KEY_MAX];
	char value[LABEL_VALUE_MAX + 1];
};

/* A set of labels, one per key, sorted by key once built. */
struct label_set {
	struct label *v;        /* owned */
	size_t n, cap;
};

struct labels_input {
	const struct inventory *inv;    /* every GPU, MIG on or off */
	enum mig_strategy mig_strategy;
	const struct cfgfile *file;     /* sharing sections; NULL: none */
	const char *machine;            /* DMI product name; NULL: unknown */
	const char *mode;               /* labels_gpu_mode(); NULL: unknown */
};

/*
 * The labels GFD publishes for |in| (no timestamp), into |out| (empty
 * on entry; free with label_set_free). Every value is a valid label
 * value of at most 63 characters. Returns 0 or -ENOMEM.
 */
int labels_build(const struct labels_input *in, struct label_set *out);
void label_set_free(struct label_set *s);

/* Sets |key| to |value| (replacing an earlier one). 0 or -ENOMEM. */
int label_set_put(struct label_set *s, const char *key, const char *value);
/* The value of |key|, or NULL. */
const char *label_set_get(const struct label_set *s, const char *key);

/*
 * GFD's product value: each non-empty part sanitised as GFD does
 * (characters outside [A-Za-z0-9._- ] dropped, runs of blanks to one
 * '-', trimmed), "SHARED" appended when |shared|, joined with '-'; then
 * kept within 63 characters by shortening the first part (the model)
 * alone, so that the MIG profile and SHARED survive; finally made to
 * begin and end with an alphanumeric character. Writes into |out|
 * (LABEL_VALUE_MAX + 1 bytes). |parts| ends with NULL.
 */
void label_product(const char *const *parts, bool shared, char *out);
/* One value sanitised as label_product() does one part, then bounded. */
void label_value(const char *raw, char *out);

/*
 * GFD's nvidia.com/gpu.mode from the GPUs' PCI classes (|n| of them, -1
 * where unreadable): "graphics" when all are VGA controllers (0x030000),
 * "compute" when all are 3D controllers (0x030200), else "unknown".
 */
const char *labels_gpu_mode(const long *classes, size_t n);

/* The whole set as "key=value\n" lines, sorted, plus the timestamp
   line when |timestamp| >= 0. A string to gdp_free(), or NULL. */
char *labels_text(const struct label_set *s, int64_t timestamp);

/*
 * Writes |text| to |path| unless the file there already says the same
 * (ignoring its timestamp line): a temporary ".NAME.PID.tmp" in the
 * same directory (NFD skips hidden files), fsync, rename over |path|.
 * |*written| says whether it wrote. Returns 0 or -errno with |err|.
 */
int labels_file_update(const char *path, const char *text, bool *written,
    char *err, size_t errlen);

/* Removes the file at |path| (labels turned off or moved); a missing
   file is no error. Returns 0 or -errno with |err|. */
int labels_file_remove(const char *path, char *err, size_t errlen);

/* The small file at |path| (the DMI product name, a PCI class),
   trimmed, into |out|; "" if unreadable. */
void labels_read_trimmed(const char *path, char *out, size_t len);

/*
 * The plugin's glue (node.c): the label file's text for |inv| under
 * |cfg| and |file| (the machine type read from --machine-type-file or
 * <sysfs-root>/class/dmi/id/product_name; the timestamp now unless
 * --no-timestamp). *|text| is NULL when --output-file is empty (labels
 * off). Returns 0 or -ENOMEM.
 */
int labels_node_text(const struct config *cfg, const struct cfgfile *file,
    const struct inventory *inv, char **text);

#endif /* GDP_LABELS_LABELS_H */
