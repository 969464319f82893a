/*
 * fleet.h: every resource the node serves, each on its own socket with
 * its own registration, and taking a new resource table (a reload) with
 * the least the kubelet can notice.
 *
 * A resource is matched across tables by its name (and so its socket).
 * One in both keeps its server, socket, registration and ListAndWatch
 * streams: it answers from the new table at once (new Allocate options
 * need no re-registration: the kubelet asks the plugin for every
 * allocation), and its streams get the new list only if the list
 * differs (plugin_set_resource()). The kubelet takes every message as
 * the whole list, so devices that come or go need no Register either.
 * Only a resource that is new is served and registered, and only one
 * that is gone (no devices, or renamed by the config) is stopped: its
 * connections get GOAWAY and its socket is removed.
 *
 * Applying is all or nothing for what can fail: every new plugin and
 * link is made first; if one cannot be, nothing changes. What cannot
 * fail then is done. Serving and registering failures after that are
 * the link's to retry (kubelet.h), as at any time.
 */
#ifndef GDP_PLUGIN_FLEET_H
#define GDP_PLUGIN_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/server.h"
#include "loop/loop.h"
#include "resources/resources.h"

struct fleet;

struct fleet_options {
	const char *socket_dir;        /* where the plugins' sockets go */
	const char *kubelet_socket;    /* "": serve without registering */
	struct grpc_server_options server;
	/* Each plugin's plugin_before_allocate() hook; NULL: none. */
	void (*before_allocate)(void *arg);
	void *before_allocate_arg;
};

/* What fleet_apply() did, resource by resource. */
struct fleet_change {
	size_t kept;                   /* served on, nothing to tell */
	size_t relisted;               /* served on, new list sent */
	size_t answers;                /* served on, answering otherwise */
	size_t started;                /* new: served and registered */
	size_t stopped;                /* gone: stopped, socket removed */
};

/* A fleet serving nothing yet. |opts| is copied (its strings too).
 * Returns NULL (ENOMEM). */
struct fleet *fleet_new(struct loop *loop, const struct fleet_options *opts);
/*
 * Serves the resources of |res| from now on (|res| must outlive that:
 * until the next fleet_apply() or fleet_free()). |at_start|: another
 * process serving on a socket is an error (-EADDRINUSE) rather than
 * waited out. Fills |chg| and logs what each resource got. Returns 0,
 * -EADDRINUSE (at start; the caller exits), or -errno with a message in
 * |err| and nothing changed (out of memory, a socket path too long, a
 * directory that cannot be watched).
 */
int fleet_apply(struct fleet *f, struct resources *res, bool at_start,
    struct fleet_change *chg, char *err, size_t errlen);
/* Sends the list to every stream of each resource that changed. */
void fleet_publish(struct fleet *f);
/*
 * Withholds every device of the served resource |name| (listed
 * Unhealthy, refused by Allocate with |reason|: resources_withhold())
 * or, !|withhold|, gives them back their own health, and sends the list
 * if that changed it. For the MPS control daemon: a resource shared
 * with MPS is usable only while its daemon is ready. A resource kept by
 * fleet_apply() (same name) stays withheld with its reason; a new one
 * starts served as built. Returns 0, or -ENOENT when no resource of that
 * name is served.
 */
int fleet_withhold(struct fleet *f, const char *name, bool withhold,
    const char *reason);
/* Whether every served resource is registered (or none registers);
 * |why| names one that is not. */
bool fleet_ready(const struct fleet *f, char *why, size_t len);
/* The gRPC connections open on every resource's socket. */
uint64_t fleet_connections(const struct fleet *f);
/* How many resources are served. */
size_t fleet_size(const struct fleet *f);
/* Stops every server and removes the sockets; safe with NULL. */
void fleet_free(struct fleet *f);

#endif /* GDP_PLUGIN_FLEET_H */
