/*
 * kubelet.h: keeping the kubelet told about the plugin.
 *
 * Registers the plugin with the kubelet and registers it again whenever
 * the kubelet restarts. A restarted kubelet deletes every socket in its
 * device-plugins directory and creates kubelet.sock anew; both are seen
 * through inotify on that directory, and either one makes the plugin
 * serve on a fresh socket and register again at once.
 *
 * The kubelet must also be watching: a second after each registration
 * and after its last ListAndWatch stream ends, no open stream means
 * registering again (see kubelet.c).
 *
 * Register failures are retried, fast at first (kubelet.sock exists a
 * moment before the kubelet accepts on it: a refused connect is retried
 * after 1 ms, 2 ms, 4 ms, ...), capped at 2 s, for as long as it takes:
 * the plugin never exits because the kubelet is away. Each episode of
 * failures is logged once when it starts and once when it ends.
 */
#ifndef GDP_KUBELET_H
#define GDP_KUBELET_H

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
 * or the negative errno of plugin_serve() (-ENAMETOOLONG, -ENOTSOCK, a
 * socket error), which the link logs once and retries every 2 s.
 */
int kubelet_link_restart(struct kubelet_link *link);
/* Swaps the plugin (after rediscovery); call kubelet_link_restart next. */
void kubelet_link_set_plugin(struct kubelet_link *link,
    struct plugin *plugin);
void kubelet_link_free(struct kubelet_link *link);

#endif /* GDP_KUBELET_H */
