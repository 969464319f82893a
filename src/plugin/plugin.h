/*
 * plugin.h: the DevicePlugin gRPC service for one resource
 * (nvidia.com/gpu), served on its own socket in the kubelet's
 * device-plugins directory.
 *
 * Built from an inventory and answering from precomputed data only:
 * Allocate, GetPreferredAllocation and ListAndWatch never call NVML or
 * touch the file system. Health lives here, per physical device; any
 * change is sent at once to every ListAndWatch stream as the full list,
 * and the streams never end while the plugin runs (the kubelet treats
 * any end as the plugin dying).
 */
#ifndef GDP_PLUGIN_H
#define GDP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/flags.h"
#include "gpu/inventory.h"
#include "loop/loop.h"

struct plugin;

struct plugin_options {
	const char *resource;          /* "nvidia.com/gpu" */
	const char *socket_dir;        /* the kubelet socket's directory */
	enum id_strategy id_strategy;
	bool pass_device_specs;
	const char *dev_root;          /* host prefix of /dev paths */
};

/*
 * A plugin for every GPU of |inv| (which must outlive it). Strings in
 * |opts| are copied. Returns NULL with errno set.
 */
struct plugin *plugin_new(struct loop *loop, const struct inventory *inv,
    const struct plugin_options *opts);
/*
 * Starts serving, or serves again on a fresh socket (after the kubelet
 * deleted ours): open streams are ended, a stale socket file is replaced.
 * Returns 0 or a negative errno.
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
size_t plugin_device_count(const struct plugin *p);

/*
 * Sets the health of device |i| (inventory order) and why it is unhealthy
 * (copied; named by Allocate's error). Nothing is sent until
 * plugin_publish(), so that a batch of changes is one ListAndWatch
 * message.
 */
void plugin_set_health(struct plugin *p, size_t i, bool healthy,
    const char *reason);
/* Sends the full list to every stream if any health changed. */
void plugin_publish(struct plugin *p);

#endif /* GDP_PLUGIN_H */
