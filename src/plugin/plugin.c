/*
 * plugin.c: the DevicePlugin service (see plugin.h).
 *
 * Layout: the device table precomputed from the inventory; ListAndWatch
 * (the watcher list and broadcast); Allocate and its answer;
 * GetPreferredAllocation; the small methods; serving and stopping.
 */
#include "plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deviceplugin.pb-c.h"
#include "grpc/server.h"

/* Retry period for a stream whose queue was full at the last change. */
#define RESEND_MS 50

static const char *const control_nodes[] = {
	"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
	"/dev/nvidia-modeset",
};
#define N_CONTROL (sizeof(control_nodes) / sizeof(control_nodes[0]))

struct device {
	const struct gpu *gpu;
	char index_id[12];          /* "0", "1", … for --device-id-strategy */
	char dev_path[32];          /* /dev/nvidia<minor> */
	bool healthy;
	char reason[192];           /* why not, for Allocate's error */
};

struct watcher {
	struct plugin *p;
	struct grpc_call *call;
	bool stale;                 /* a change could not be queued yet */
	struct watcher *prev, *next;
};

struct plugin {
	struct loop *loop;
	const struct inventory *inv;
	char *resource;
	char *dev_root;
	enum id_strategy id_strategy;
	bool pass_device_specs;
	char socket_path[4096];
	const char *endpoint;       /* into socket_path */
	ino_t socket_ino;           /* 0: not listening */
	struct grpc_server *server;
	struct device *devs;
	size_t n;
	bool control_present[N_CONTROL];
	struct watcher *watchers;
	struct loop_timer *resend;
	bool changed;               /* health changed since the last publish */
};

/* ---- ListAndWatch ---- */

/* The full device list; strings point into the plugin's table. */
static int
send_list(struct plugin *p, struct grpc_call *call)
{
	V1beta1__ListAndWatchResponse resp =
	    V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	V1beta1__Device *devs = calloc(p->n + 1, sizeof(*devs));
	V1beta1__Device **ptrs = calloc(p->n + 1, sizeof(*ptrs));
	V1beta1__TopologyInfo *topo = calloc(p->n + 1, sizeof(*topo));
	V1beta1__NUMANode *nodes = calloc(p->n + 1, sizeof(*nodes));
	V1beta1__NUMANode **node_ptrs = calloc(p->n + 1, sizeof(*node_ptrs));
	int rc = -ENOMEM;

	if (!devs || !ptrs || !topo || !nodes || !node_ptrs)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		V1beta1__Device d = V1BETA1__DEVICE__INIT;
		V1beta1__TopologyInfo t = V1BETA1__TOPOLOGY_INFO__INIT;
		V1beta1__NUMANode nn = V1BETA1__NUMANODE__INIT;

		d.id = (char *)p->devs[i].gpu->uuid; /* only read */
		d.health = p->devs[i].healthy ? "Healthy" : "Unhealthy";
		if (p->devs[i].gpu->numa_node >= 0) {
			nodes[i] = nn;
			nodes[i].id = p->devs[i].gpu->numa_node;
			node_ptrs[i] = &nodes[i];
			topo[i] = t;
			topo[i].nodes = &node_ptrs[i];
			topo[i].n_nodes = 1;
			d.topology = &topo[i];
		}
		devs[i] = d;
		ptrs[i] = &devs[i];
	}
	resp.devices = ptrs;
	resp.n_devices = p->n;
	rc = grpc_call_send(call, &resp.base);
out:
	free(devs);
	free(ptrs);
	free(topo);
	free(nodes);
	free(node_ptrs);
	return rc;
}

static int64_t resend_stale(struct loop *loop, void *arg);

/* Sends the list to every stream; a full queue is retried later. */
static void
broadcast(struct plugin *p)
{
	bool any_stale = false;

	for (struct watcher *w = p->watchers; w != NULL; w = w->next) {
		w->stale = grpc_call_queued(w->call) > 0 ||
		    send_list(p, w->call) < 0;
		any_stale |= w->stale;
	}
	if (any_stale && p->resend == NULL)
		p->resend = loop_add_timer(p->loop, RESEND_MS, resend_stale,
		    p);
}

/* Only the newest list matters: a stream that is behind gets it when its
 * queue has drained, never a backlog of old ones. */
static int64_t
resend_stale(struct loop *loop, void *arg)
{
	struct plugin *p = arg;
	bool any_stale = false;

	for (struct watcher *w = p->watchers; w != NULL; w = w->next) {
		if (w->stale && grpc_call_queued(w->call) == 0)
			w->stale = send_list(p, w->call) < 0;
		any_stale |= w->stale;
	}
	if (any_stale)
		return RESEND_MS;
	p->resend = NULL;
	return LOOP_NOMORE;
}

static void
watcher_closed(struct grpc_call *call, enum grpc_close_reason reason,
    void *arg)
{
	struct watcher *w = arg;
	struct plugin *p = w->p;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		p->watchers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	free(w);
}

static void
list_and_watch(struct grpc_call *call, const ProtobufCMessage *req,
    void *app)
{
	struct plugin *p = app;
	struct watcher *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
		    "out of memory for a ListAndWatch stream");
		return;
	}
	w->p = p;
	w->call = call;
	w->next = p->watchers;
	if (p->watchers != NULL)
		p->watchers->prev = w;
	p->watchers = w;
	grpc_call_on_close(call, watcher_closed, w);
	w->stale = send_list(p, call) < 0;
}

void
plugin_set_health(struct plugin *p, size_t i, bool healthy,
    const char *reason)
{
	if (i >= p->n)
		return;
	snprintf(p->devs[i].reason, sizeof(p->devs[i].reason), "%s",
	    healthy || reason == NULL ? "" : reason);
	if (p->devs[i].healthy == healthy)
		return;
	p->devs[i].healthy = healthy;
	p->changed = true;
}

void
plugin_publish(struct plugin *p)
{
	if (!p->changed)
		return;
	p->changed = false;
	broadcast(p);
}

/* ---- Allocate ---- */

static ssize_t
find_device(const struct plugin *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->devs[i].gpu->uuid, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* One container's answer, built in |arena| (freed by the caller). */
struct container_answer {
	V1beta1__ContainerAllocateResponse resp;
	V1beta1__ContainerAllocateResponse__EnvsEntry env;
	V1beta1__ContainerAllocateResponse__EnvsEntry *env_ptr;
	V1beta1__DeviceSpec *specs;
	V1beta1__DeviceSpec **spec_ptrs;
	char *visible;
	char **host_paths;
	size_t n_host_paths;
};

static void
answer_clear(struct container_answer *a)
{
	for (size_t i = 0; i < a->n_host_paths; i++)
		free(a->host_paths[i]);
	free(a->host_paths);
	free(a->specs);
	free(a->spec_ptrs);
	free(a->visible);
}

static int
add_spec(struct plugin *p, struct container_answer *a, const char *path)
{
	V1beta1__DeviceSpec init = V1BETA1__DEVICE_SPEC__INIT;
	size_t k = a->resp.n_devices;
	size_t len = strlen(p->dev_root) + strlen(path) + 1;
	char *host = malloc(len);

	if (host == NULL)
		return -ENOMEM;
	snprintf(host, len, "%s%s", strcmp(p->dev_root, "/") ? p->dev_root :
	    "", path);
	a->host_paths[a->n_host_paths++] = host;
	a->specs[k] = init;
	a->specs[k].container_path = (char *)path;
	a->specs[k].host_path = host;
	a->specs[k].permissions = "rw";
	a->spec_ptrs[k] = &a->specs[k];
	a->resp.n_devices++;
	return 0;
}

/* /dev nodes for --pass-device-specs: control nodes, then each GPU. */
static int
add_specs(struct plugin *p, struct container_answer *a, const size_t *idx,
    size_t n)
{
	size_t cap = N_CONTROL + n;

	a->specs = calloc(cap, sizeof(*a->specs));
	a->spec_ptrs = calloc(cap, sizeof(*a->spec_ptrs));
	a->host_paths = calloc(cap, sizeof(*a->host_paths));
	if (!a->specs || !a->spec_ptrs || !a->host_paths)
		return -ENOMEM;
	a->resp.devices = a->spec_ptrs;
	for (size_t i = 0; i < N_CONTROL; i++)
		if (p->control_present[i] &&
		    add_spec(p, a, control_nodes[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (add_spec(p, a, p->devs[idx[i]].dev_path) < 0)
			return -ENOMEM;
	return 0;
}

/* NVIDIA_VISIBLE_DEVICES: the ids, de-duplicated, in request order. */
static int
build_visible(struct plugin *p, struct container_answer *a,
    const size_t *idx, size_t n)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(p->devs[idx[i]].gpu->uuid) + 1;
	out = a->visible = malloc(len);
	if (out == NULL)
		return -ENOMEM;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct device *d = &p->devs[idx[i]];
		const char *id = p->id_strategy == ID_STRATEGY_INDEX ?
		    d->index_id : d->gpu->uuid;
		size_t l = strlen(id);

		if (i > 0)
			*out++ = ',';
		memcpy(out, id, l + 1);
		out += l;
	}
	return 0;
}

/*
 * Resolves a container's ids into |idx| (unique, request order). Returns
 * the count, or -1 with the unknown id in |*unknown|.
 */
static ssize_t
resolve_ids(const struct plugin *p, char **ids, size_t n, size_t *idx,
    bool *seen, const char **unknown)
{
	size_t count = 0;

	memset(seen, 0, p->n * sizeof(*seen));
	for (size_t i = 0; i < n; i++) {
		ssize_t d = find_device(p, ids[i]);

		if (d < 0) {
			*unknown = ids[i];
			return -1;
		}
		if (!seen[d]) {
			seen[d] = true;
			idx[count++] = (size_t)d;
		}
	}
	return (ssize_t)count;
}

/* Position in |idx| of the first unhealthy device, or |n|. */
static size_t
unhealthy_index(const struct plugin *p, const size_t *idx, size_t n)
{
	size_t i = 0;

	while (i < n && p->devs[idx[i]].healthy)
		i++;
	return i;
}

static int
build_container(struct plugin *p, struct container_answer *a,
    const size_t *idx, size_t n)
{
	V1beta1__ContainerAllocateResponse init =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry env =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT;

	a->resp = init;
	a->env = env;
	if (build_visible(p, a, idx, n) < 0)
		return -ENOMEM;
	a->env.key = "NVIDIA_VISIBLE_DEVICES";
	a->env.value = a->visible;
	a->env_ptr = &a->env;
	a->resp.envs = &a->env_ptr;
	a->resp.n_envs = 1;
	return p->pass_device_specs ? add_specs(p, a, idx, n) : 0;
}

static void
allocate(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	const V1beta1__AllocateRequest *req =
	    (const V1beta1__AllocateRequest *)request;
	struct plugin *p = app;
	size_t nc = req->n_container_requests;
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
	struct container_answer *ans = calloc(nc + 1, sizeof(*ans));
	V1beta1__ContainerAllocateResponse **ptrs = calloc(nc + 1,
	    sizeof(*ptrs));
	size_t *idx = calloc(p->n + 1, sizeof(*idx));
	bool *seen = calloc(p->n + 1, sizeof(*seen));
	const char *unknown = NULL;
	size_t done = 0, bad;

	if (!ans || !ptrs || !idx || !seen) {
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (; done < nc; done++) {
		V1beta1__ContainerAllocateRequest *cr =
		    req->container_requests[done];
		ssize_t n = resolve_ids(p, cr->devices_ids, cr->n_devices_ids,
		    idx, seen, &unknown);

		if (n < 0) {
			grpc_call_fail(call, GRPC_UNKNOWN, "invalid allocation "
			    "request for \"%s\": invalid request: unknown "
			    "device: %s", p->resource, unknown);
			goto out;
		}
		bad = unhealthy_index(p, idx, (size_t)n);
		if (bad < (size_t)n) {
			const struct device *d = &p->devs[idx[bad]];

			grpc_call_fail(call, GRPC_UNKNOWN, "invalid allocation "
			    "request for \"%s\": device %s is unhealthy: %s",
			    p->resource, d->gpu->uuid, d->reason);
			goto out;
		}
		if (build_container(p, &ans[done], idx, (size_t)n) < 0) {
			done++;
			grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
			    "out of memory");
			goto out;
		}
		ptrs[done] = &ans[done].resp;
	}
	resp.container_responses = ptrs;
	resp.n_container_responses = nc;
	grpc_call_reply(call, &resp.base);
out:
	for (size_t i = 0; ans != NULL && i < done; i++)
		answer_clear(&ans[i]);
	free(ans);
	free(ptrs);
	free(idx);
	free(seen);
}

/* ---- GetPreferredAllocation ---- */

static bool
in_list(char **ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/*
 * Must-include ids first, then the available ones by GPU index (the
 * device table's order), then available ids we do not know, up to the
 * size asked. Topology-aware choice comes later (it needs the link graph,
 * already in the inventory).
 */
static size_t
prefer(const struct plugin *p,
    const V1beta1__ContainerPreferredAllocationRequest *cr, char **out)
{
	size_t want = cr->allocation_size > 0 ?
	    (size_t)cr->allocation_size : 0, n = 0;

	for (size_t i = 0; i < cr->n_must_include_deviceids && n < want; i++)
		if (!in_list(out, n, cr->must_include_deviceids[i]))
			out[n++] = cr->must_include_deviceids[i];
	for (size_t d = 0; d < p->n && n < want; d++) {
		const char *id = p->devs[d].gpu->uuid;

		if (in_list(cr->available_deviceids,
		    cr->n_available_deviceids, id) && !in_list(out, n, id))
			out[n++] = (char *)id;
	}
	for (size_t i = 0; i < cr->n_available_deviceids && n < want; i++) {
		char *id = cr->available_deviceids[i];

		if (find_device(p, id) < 0 && !in_list(out, n, id))
			out[n++] = id;
	}
	return n;
}

static void
preferred(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	const V1beta1__PreferredAllocationRequest *req =
	    (const V1beta1__PreferredAllocationRequest *)request;
	size_t nc = req->n_container_requests;
	V1beta1__PreferredAllocationResponse resp =
	    V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	V1beta1__ContainerPreferredAllocationResponse *c = calloc(nc + 1,
	    sizeof(*c));
	V1beta1__ContainerPreferredAllocationResponse **ptrs = calloc(nc + 1,
	    sizeof(*ptrs));
	bool ok = c != NULL && ptrs != NULL;

	for (size_t i = 0; ok && i < nc; i++) {
		const V1beta1__ContainerPreferredAllocationRequest *cr =
		    req->container_requests[i];
		V1beta1__ContainerPreferredAllocationResponse init =
		    V1BETA1__CONTAINER_PREFERRED_ALLOCATION_RESPONSE__INIT;
		size_t cap = cr->n_must_include_deviceids +
		    cr->n_available_deviceids + 1;

		c[i] = init;
		c[i].deviceids = calloc(cap, sizeof(char *));
		ok = c[i].deviceids != NULL;
		if (ok)
			c[i].n_deviceids = prefer(app, cr, c[i].deviceids);
		ptrs[i] = &c[i];
	}
	resp.container_responses = ptrs;
	resp.n_container_responses = nc;
	if (ok)
		grpc_call_reply(call, &resp.base);
	else
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; c != NULL && i < nc; i++)
		free(c[i].deviceids);
	free(c);
	free(ptrs);
}

/* ---- the small methods ---- */

static void
get_options(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__DevicePluginOptions opts =
	    V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	opts.get_preferred_allocation_available = 1;
	grpc_call_reply(call, &opts.base);
}

static void
pre_start(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__PreStartContainerResponse resp =
	    V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;

	grpc_call_reply(call, &resp.base);
}

static const struct grpc_method methods[] = {
	{ "/v1beta1.DevicePlugin/GetDevicePluginOptions", GRPC_METHOD_UNARY,
	  &v1beta1__empty__descriptor, get_options },
	{ "/v1beta1.DevicePlugin/ListAndWatch",
	  GRPC_METHOD_SERVER_STREAMING, &v1beta1__empty__descriptor,
	  list_and_watch },
	{ "/v1beta1.DevicePlugin/GetPreferredAllocation", GRPC_METHOD_UNARY,
	  &v1beta1__preferred_allocation_request__descriptor, preferred },
	{ "/v1beta1.DevicePlugin/Allocate", GRPC_METHOD_UNARY,
	  &v1beta1__allocate_request__descriptor, allocate },
	{ "/v1beta1.DevicePlugin/PreStartContainer", GRPC_METHOD_UNARY,
	  &v1beta1__pre_start_container_request__descriptor, pre_start },
};

/* ---- lifetime ---- */

/* "nvidia.com/gpu" -> "nvidia-gpu.sock", NVIDIA's naming. */
static void
socket_name(const char *resource, char *out, size_t len)
{
	const char *slash = strchr(resource, '/');

	snprintf(out, len, "nvidia-%s.sock", slash ? slash + 1 : resource);
}

static void
build_devices(struct plugin *p)
{
	struct stat st;

	for (size_t i = 0; i < p->n; i++) {
		struct device *d = &p->devs[i];

		d->gpu = &p->inv->gpus[i];
		d->healthy = true;
		snprintf(d->index_id, sizeof(d->index_id), "%u",
		    d->gpu->index);
		snprintf(d->dev_path, sizeof(d->dev_path), "/dev/nvidia%u",
		    d->gpu->minor);
	}
	/* Decided once here, so that Allocate never touches /dev. */
	for (size_t i = 0; i < N_CONTROL; i++)
		p->control_present[i] = stat(control_nodes[i], &st) == 0;
}

struct plugin *
plugin_new(struct loop *loop, const struct inventory *inv,
    const struct plugin_options *opts)
{
	struct plugin *p = calloc(1, sizeof(*p));
	char name[256];
	int len;

	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->inv = inv;
	p->n = inv->n;
	p->id_strategy = opts->id_strategy;
	p->pass_device_specs = opts->pass_device_specs;
	p->resource = strdup(opts->resource);
	p->dev_root = strdup(opts->dev_root ? opts->dev_root : "/");
	p->devs = calloc(p->n + 1, sizeof(*p->devs));
	socket_name(opts->resource, name, sizeof(name));
	len = snprintf(p->socket_path, sizeof(p->socket_path), "%s/%s",
	    opts->socket_dir, name);
	if (!p->resource || !p->dev_root || !p->devs || len < 0 ||
	    (size_t)len >= sizeof(p->socket_path)) {
		plugin_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->endpoint = strrchr(p->socket_path, '/') + 1;
	build_devices(p);
	return p;
}

int
plugin_serve(struct plugin *p)
{
	struct stat st;
	int rc;

	plugin_stop(p);
	p->server = grpc_server_new(p->loop, methods,
	    sizeof(methods) / sizeof(methods[0]), p, NULL);
	if (p->server == NULL)
		return -errno;
	rc = grpc_server_listen(p->server, p->socket_path);
	if (rc < 0) {
		grpc_server_free(p->server);
		p->server = NULL;
		return rc;
	}
	p->socket_ino = stat(p->socket_path, &st) == 0 ? st.st_ino : 0;
	return 0;
}

bool
plugin_socket_intact(const struct plugin *p)
{
	struct stat st;

	return p->server != NULL && stat(p->socket_path, &st) == 0 &&
	    st.st_ino == p->socket_ino;
}

void
plugin_stop(struct plugin *p)
{
	if (p->server == NULL)
		return;
	/* Only remove the file if it is still ours: after a kubelet
	 * restart the path may be free or, in principle, someone else's. */
	if (!plugin_socket_intact(p))
		grpc_server_forget_path(p->server);
	grpc_server_shutdown(p->server);
	grpc_server_free(p->server);
	p->server = NULL;
	p->socket_ino = 0;
	if (p->resend != NULL)
		loop_cancel_timer(p->loop, p->resend);
	p->resend = NULL;
}

void
plugin_free(struct plugin *p)
{
	if (p == NULL)
		return;
	plugin_stop(p);
	free(p->resource);
	free(p->dev_root);
	free(p->devs);
	free(p);
}

const char *
plugin_socket_path(const struct plugin *p)
{
	return p->socket_path;
}

const char *
plugin_endpoint(const struct plugin *p)
{
	return p->endpoint;
}

const char *
plugin_resource(const struct plugin *p)
{
	return p->resource;
}

size_t
plugin_device_count(const struct plugin *p)
{
	return p->n;
}
