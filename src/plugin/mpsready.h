/*
 * mpsready.h: whether the MPS control daemon of each MPS-shared resource
 * is ready, as the plugin must know before it offers the resource's
 * replicas (a container given one while no MPS daemon runs finds no
 * pipe, NVIDIA's readiness race, PR #1946).
 *
 * Ready means <root>/<resource>/.ready exists and is held by its writer
 * (mps/ready.h). Each resource's directory is watched with inotify on
 * the plugin's loop: the file made, renamed in, removed, or closed by a
 * writer that died is a change, reported to a callback. The directory
 * is made if missing (the control daemon makes the same); one removed
 * under us is made and watched again a second later.
 */
#ifndef GDP_PLUGIN_MPSREADY_H
#define GDP_PLUGIN_MPSREADY_H

#include <stdbool.h>
#include <stddef.h>

#include "loop/loop.h"

#define MPS_WATCH_WHY 512

struct mps_watch;

/* A resource's readiness changed; |why| says why not ready (""). */
typedef void (*mps_watch_cb)(const char *resource, bool ready,
    const char *why, void *arg);

/*
 * A watch under |root| (copied) on |loop|, calling |cb| on changes.
 * NULL with errno set (ENOMEM, inotify's EMFILE, ...).
 */
struct mps_watch *mps_watch_new(struct loop *loop, const char *root,
    mps_watch_cb cb, void *arg);
/*
 * Watches |resource| (copied) from now on; its state is then known to
 * mps_watch_ready() (no callback for it). Returns 0 (also when its
 * directory cannot be watched yet: it is then not ready, |why| says so,
 * and it is tried again each second), -EEXIST, or -ENOMEM.
 */
int mps_watch_add(struct mps_watch *w, const char *resource);
/* Whether |resource| is ready; |why| (may be NULL) gets why not. */
bool mps_watch_ready(const struct mps_watch *w, const char *resource,
    char *why, size_t whylen);
/* Stops watching everything and frees |w| (NULL: nothing). */
void mps_watch_free(struct mps_watch *w);

#endif /* GDP_PLUGIN_MPSREADY_H */
