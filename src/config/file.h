/*
 * file.h: NVIDIA's config file, version v1, in YAML or JSON (reference:
 * nvidia-device-plugin.md §2), read with libyaml into plain structs.
 *
 * What comes out is in two parts:
 *  - the values of the "flags" section (and of "imex", which NVIDIA's
 *    flags set too), each as the flag it stands for, its text as that
 *    flag would carry it, and where it was written. They are handed to
 *    the flags' precedence chain (flags.h: a flag or its environment
 *    variable wins, then these, then the default) and checked there by
 *    the flags' own rules;
 *  - the structured sections, "resources" and "sharing", parsed and
 *    fully checked here.
 *
 * Every problem is one line in |errors| or |warnings|, already worded:
 * "FILE:LINE:COLUMN: KEY.PATH: what was expected". An unknown key is a
 * warning (NVIDIA's files carry keys for GPU feature discovery, which
 * are known here and pass in silence); everything else is an error.
 */
#ifndef GDP_CONFIG_FILE_H
#define GDP_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* The largest file read: a ConfigMap holds at most 1 MiB. */
#define CFGFILE_MAX_BYTES ((size_t)1 << 20)

/* A value of the flags section, for the flag |flag|. */
struct cfgfile_setting {
	const char *flag;       /* NVIDIA's flag name (static) */
	char *value;            /* the flag's text: "true", "envvar,cdi-cri" */
	char *where;            /* "FILE:LINE:COLUMN: KEY.PATH", for errors */
};

struct cfgfile_pattern {
	char *pattern;          /* a glob: '*' matches anything */
	char *name;             /* "nvidia.com/<name>" */
};

enum cfgfile_devices { CFGFILE_DEVICES_ALL, CFGFILE_DEVICES_COUNT,
	CFGFILE_DEVICES_LIST };

/* One entry of sharing.<kind>.resources. */
struct cfgfile_replicated {
	char *name;             /* "nvidia.com/gpu" */
	char *rename;           /* NULL: none (or <name>.shared by default) */
	enum cfgfile_devices devices;
	unsigned long count;    /* CFGFILE_DEVICES_COUNT */
	char **list;            /* CFGFILE_DEVICES_LIST: indices, i:j, UUIDs */
	size_t n_list;
	unsigned long replicas; /* 2 or more */
	/* "FILE:LINE:COLUMN: sharing.<kind>.resources[i]", and the same
	   for its devices (NULL: not given): for errors only a node shows. */
	char *where;
	char *devices_where;
};

/* sharing.timeSlicing or sharing.mps. */
struct cfgfile_sharing {
	bool present;
	bool rename_by_default;
	int fail_requests_greater_than_one;     /* -1: not given */
	struct cfgfile_replicated *resources;
	size_t n_resources;
	char *where;            /* "FILE:LINE:COLUMN: sharing.mps" */
};

struct cfgfile {
	char *path;
	bool empty;             /* nothing in it: the defaults */
	struct cfgfile_setting *settings;
	size_t n_settings;
	bool resources_given;
	struct cfgfile_pattern *gpus, *mig;
	size_t n_gpus, n_mig;
	struct cfgfile_sharing time_slicing, mps;
	char **errors, **warnings;
	size_t n_errors, n_warnings;
};

/*
 * Reads and parses the file at |path|. Returns 0 with |*out| set (it may
 * carry warnings), -EINVAL with |*out| set and at least one line in its
 * |errors|, or -ENOMEM (|*out| NULL). The caller frees |*out| with
 * cfgfile_free(). A missing or unreadable file is an error; an empty one
 * (or /dev/null, the config manager's fallback) is the defaults.
 */
int cfgfile_load(const char *path, struct cfgfile **out);
/* The same for |len| bytes at |buf|, named |path| in messages. */
int cfgfile_parse(const char *path, const char *buf, size_t len,
    struct cfgfile **out);
void cfgfile_free(struct cfgfile *cf);

/*
 * The file's value for the flag named |flag|, or NULL. |*where| gets its
 * place, for messages. |cf| is a struct cfgfile (void * for the flags'
 * layer interface, flags.h).
 */
const char *cfgfile_lookup(void *cf, const char *flag, const char **where);

/* Adds a line to the file's errors or warnings; -ENOMEM if it cannot. */
int cfgfile_error(struct cfgfile *cf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cfgfile_warning(struct cfgfile *cf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* GDP_CONFIG_FILE_H */
