/*
 * link.h: from a label value to the config file link, and the SIGHUP.
 *
 * The available configs are the files of one directory (a ConfigMap's
 * keys when mounted); the plugin reads one path, a symlink to one of
 * them. Which one: the node label's value; when that is empty, the
 * default config; else the first fallback strategy that applies (named:
 * a config called "default"; single: the only config; empty: /dev/null).
 * The link is replaced atomically (a new symlink renamed over it), and
 * only a changed target is worth a signal.
 *
 * Returns 0 or a negative errno with a sentence in |err| (LINK_ERR_LEN).
 */
#ifndef GDP_CONFIGMGR_LINK_H
#define GDP_CONFIGMGR_LINK_H

#include <limits.h>
#include <stdbool.h>

#define LINK_ERR_LEN 1024

struct link_opts {
	const char *srcdir;		/* CONFIG_FILE_SRCDIR */
	const char *dst;		/* CONFIG_FILE_DST */
	const char *default_config;	/* DEFAULT_CONFIG; "" for none */
	const char *fallbacks;		/* FALLBACK_STRATEGIES, a comma list */
};

/*
 * Puts the path the link should point to into |target| (PATH_MAX).
 * |label| NULL or "" means unlabelled. -ENOENT: "specified config X does
 * not exist" (for the label or the default config), or no strategy
 * applies; -EINVAL: an unknown strategy.
 */
int link_resolve(const struct link_opts *o, const char *label, char *target,
    char *err);

/*
 * Points o->dst at |target|. *|changed| says whether it pointed
 * elsewhere (or nowhere) before.
 */
int link_update(const struct link_opts *o, const char *target, bool *changed,
    char *err);

/*
 * Sends |sig| to every process whose argv[0]'s base name is |name| (and,
 * for NVIDIA's "nvidia-device-plugin", our "gpu-device-plugin"), scanning
 * /proc. *|count| gets how many were signalled; none is -ESRCH.
 */
int link_signal(const char *name, int sig, int *count, char *err);

#endif /* GDP_CONFIGMGR_LINK_H */
