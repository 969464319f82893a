/*
 * plugin.h: the DevicePlugin gRPC service for one resource, served on its
 * own socket in the kubelet's device-plugins directory.
 *
 * A thin adapter between the gRPC layer and the resource core
 * (src/resources): each call is decoded by the gRPC layer, answered by a
 * pure function of the resource's views, and sent. ListAndWatch streams
 * get the full list at once and again after every health change, and
 * never end while the plugin runs (the kubelet treats any end as the
 * plugin dying).
 */
#ifndef GDP_PLUGIN_H
#define GDP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/server.h"
#include "loop/loop.h"
#include "resources/resources.h"

struct plugin;

/*
 * A plugin serving |res| (which must outlive it; its health is read at
 * each publish) on <socket_dir>/<res->socket_name>. Returns NULL with
 * errno set (ENOMEM; ENAMETOOLONG when the path is longer than a unix
 * socket's 107 bytes).
 */
struct plugin *plugin_new(struct loop *loop, struct resource *res,
    const char *socket_dir);
/*
 * The gRPC server's limits for the next plugin_serve() (copied; zeros are
 * the server's defaults, which is what a plugin starts with). An accept
 * failure is logged once per episode, unless |opts| has its own on_event.
 */
void plugin_set_server_options(struct plugin *p,
    const struct grpc_server_options *opts);
/*
 * Starts serving, or serves again on a fresh socket (after the kubelet
 * deleted ours): open streams are ended, a stale socket file is replaced.
 * Returns 0 or a negative errno from grpc_server_new/listen.
 */
int plugin_serve(struct plugin *p);
/* True while our socket file is the one we listen on. */
bool plugin_socket_intact(const struct plugin *p);
/* Stops serving (GOAWAY to every connection) and removes the socket. */
void plugin_stop(struct plugin *p);
void plugin_free(struct plugin *p);

const char *plugin_socket_path(const struct plugin *p);
/* The socket's file name, what Register carries as its endpoint. */
const char *plugin_endpoint(const struct plugin *p);
const char *plugin_resource(const struct plugin *p);

/*
 * Serves |res| from now on (same socket name: a reload); the old resource
 * is no longer read. Allocate answers come from |res| at once; the
 * streams get its list at the next plugin_publish() only if it differs
 * from the one they have (views, health, NUMA), so a reload that changes
 * nothing sends nothing. Returns whether the list differs.
 */
bool plugin_set_resource(struct plugin *p, struct resource *res);
/* The resource served now. */
const struct resource *plugin_current(const struct plugin *p);
/* Sends the full list to every stream if the resource's health changed. */
void plugin_publish(struct plugin *p);

/*
 * |cb| runs (on the loop, from a close callback: it must not free the
 * plugin) when the last ListAndWatch stream ends while the plugin still
 * serves: the kubelet then counts the devices as gone until the plugin
 * registers again. Streams ended by plugin_stop() do not count.
 */
void plugin_on_unwatched(struct plugin *p, void (*cb)(void *arg),
    void *arg);
/*
 * |cb| runs before each Allocate is answered, on the loop: it may update
 * what the resource core is given about the host (which control nodes
 * exist now), never free the plugin or the resource.
 */
void plugin_before_allocate(struct plugin *p, void (*cb)(void *arg),
    void *arg);
/* True while a ListAndWatch stream is open. */
bool plugin_watched(const struct plugin *p);
/* The gRPC connections open on its socket (0 when not serving). */
uint64_t plugin_connections(const struct plugin *p);

#endif /* GDP_PLUGIN_H */
