/*
 * kubelet.h: keeping the kubelet told about the plugin.
 *
 * Registers the plugin with the kubelet and registers it again whenever
 * the kubelet restarts. A restarted kubelet deletes every socket in its
 * device-plugins directory and creates kubelet.sock anew; both are seen
 * through inotify on that directory, and either one makes the plugin
 * serve on a fresh socket and register again at once. The directory may
 * go too (removed, or moved away) and come back: the link then watches
 * the new one and serves there again.
 *
 * The kubelet must also be watching: a while after each registration
 * (5 s, growing while it is not enough) and a second after its last
 * ListAndWatch stream ends, no open stream means registering again (see
 * kubelet.c).
 *
 * Register failures are retried, fast at first (kubelet.sock exists a
 * moment before the kubelet accepts on it: a refused connect is retried
 * after 1 ms, 2 ms, 4 ms, ...), capped at 2 s, for as long as it takes:
 * the plugin never exits because the kubelet is away. Each episode of
 * failures is logged once when it starts and once when it ends.
 */
#ifndef GDP_KUBELET_H
#define GDP_KUBELET_H

#include <stdbool.h>

#include "loop/loop.h"
#include "plugin/plugin.h"

struct kubelet_link;

/*
 * Watches the directory of |kubelet_socket| (copied) for |plugin|, which
 * must outlive the link or be replaced with kubelet_link_set_plugin().
 * Returns NULL with a message in |err|: out of memory, a socket path with
 * no directory, or a directory inotify cannot watch (it does not exist).
 */
struct kubelet_link *kubelet_link_new(struct loop *loop,
    const char *kubelet_socket, struct plugin *plugin, char *err,
    size_t errlen);
/*
 * Serves and registers now (start, a new plugin after SIGHUP). Returns 0,
 * or the negative errno of plugin_serve() (-ENAMETOOLONG, -EADDRINUSE,
 * -ENOTEMPTY, a socket error), which the link logs, naming the path, and
 * retries with backoff (10 ms, 20 ms, ... then every 2 s) until it works.
 * -EADDRINUSE is another process serving on our path: it is never taken
 * over; with |at_start| it is not retried either (the caller exits: two
 * instances are a mistake to show, not to hide), later it is waited out
 * (the other went away while ours was gone: we serve once it is gone).
 */
int kubelet_link_restart(struct kubelet_link *link, bool at_start);
/* Swaps the plugin (after rediscovery); call kubelet_link_restart next. */
void kubelet_link_set_plugin(struct kubelet_link *link,
    struct plugin *plugin);
void kubelet_link_free(struct kubelet_link *link);
/* Whether the last Register was answered OK (none sent since). */
bool kubelet_link_registered(const struct kubelet_link *link);

#endif /* GDP_KUBELET_H */
