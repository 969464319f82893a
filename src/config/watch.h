/*
 * watch.h: noticing that the config file changed, so that a new config
 * is taken up without a SIGHUP.
 *
 * The file is usually not written in place. A ConfigMap volume holds it
 * as a symlink through "..data", a symlink to a timestamped directory
 * that the kubelet replaces with a rename; NVIDIA's config-manager
 * points the file (a symlink) at one of several configs; editors and
 * tools write a new file and rename it over the old. None of these
 * touches the file's own inode, and the first two do not touch its name
 * either. So the watch is on directories: the file's, and that of every
 * symlink on the way to the real file (found again after each change,
 * as the chain itself changes). Any event there starts a short quiet
 * timer; when it fires, the file's bytes are read and compared with
 * the last ones taken: only different bytes (or a file that appeared or
 * went) are a change. Another key of the same ConfigMap being updated,
 * or the same config written again, is not.
 */
#ifndef GDP_CONFIG_WATCH_H
#define GDP_CONFIG_WATCH_H

#include <stddef.h>

#include "loop/loop.h"

/* How long the directories must be quiet before the file is read: a
 * ConfigMap update is several renames and unlinks in a row. */
#define CONFIG_WATCH_QUIET_MS 100
/* The most directories watched (the file's and its symlinks'). */
#define CONFIG_WATCH_MAX_DIRS 8

struct config_watch;

/*
 * Watches |path| (copied) and calls |cb| on |loop| once per change of
 * its bytes. The bytes now are the first ones taken. Returns NULL with a
 * message in |err|: out of memory, or no inotify (the file's directory
 * not existing is not an error: it is looked for again at each event of
 * the others, and a reload by SIGHUP works regardless).
 */
struct config_watch *config_watch_new(struct loop *loop, const char *path,
    void (*cb)(void *arg), void *arg, char *err, size_t errlen);
/*
 * Takes the file's bytes now as the last ones seen: after a reload
 * (SIGHUP) read the file, a change it already took is not one more.
 */
void config_watch_rebase(struct config_watch *w);
/* Safe with NULL. */
void config_watch_free(struct config_watch *w);

#endif /* GDP_CONFIG_WATCH_H */
