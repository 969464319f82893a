/*
 * answers.c: the ListAndWatch, Allocate and GetPreferredAllocation
 * answers, as pure functions of a resource's views and the request (see
 * resources.h).
 *
 * Every answer is built in the caller's arena, so that it is one object
 * to free after sending and a failure anywhere leaves nothing behind.
 * Work is O(m log n) for m request ids and n views: ids are looked up in
 * the sorted index, and duplicates are found by sorting, never by
 * comparing every id with every other.
 */
#include "resources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin.pb-c.h"

/* ---- ListAndWatch ---- */

static void
list_device(const struct view *v, V1beta1__Device *d,
    V1beta1__TopologyInfo *topo, V1beta1__NUMANode *node,
    V1beta1__NUMANode **node_ptr)
{
	v1beta1__device__init(d);
	d->id = (char *)v->id; /* only read while packing */
	d->health = v->healthy ? "Healthy" : "Unhealthy";
	if (v->numa_node < 0)
		return;
	v1beta1__numanode__init(node);
	node->id = v->numa_node;
	*node_ptr = node;
	v1beta1__topology_info__init(topo);
	topo->nodes = node_ptr;
	topo->n_nodes = 1;
	d->topology = topo;
}

ProtobufCMessage *
resource_list(const struct resource *r, struct arena *a)
{
	V1beta1__ListAndWatchResponse *resp = arena_alloc(a, sizeof(*resp));
	V1beta1__Device *devs = arena_array(a, r->n, sizeof(*devs));
	V1beta1__Device **ptrs = arena_array(a, r->n, sizeof(*ptrs));
	V1beta1__TopologyInfo *topo = arena_array(a, r->n, sizeof(*topo));
	V1beta1__NUMANode *nodes = arena_array(a, r->n, sizeof(*nodes));
	V1beta1__NUMANode **node_ptrs = arena_array(a, r->n,
	    sizeof(*node_ptrs));

	if (!resp || !devs || !ptrs || !topo || !nodes || !node_ptrs)
		return NULL;
	v1beta1__list_and_watch_response__init(resp);
	for (size_t i = 0; i < r->n; i++) {
		list_device(&r->views[i], &devs[i], &topo[i], &nodes[i],
		    &node_ptrs[i]);
		ptrs[i] = &devs[i];
	}
	resp->devices = ptrs;
	resp->n_devices = r->n;
	return &resp->base;
}

/* ---- Allocate ---- */

/* What one container gets, while its answer is being built. */
struct pick {
	const struct resource *r;
	const size_t *idx;       /* view indexes, unique, request order */
	size_t n;
};

static int
add_spec(struct arena *a, V1beta1__ContainerAllocateResponse *c,
    const char *dev_root, const char *path)
{
	V1beta1__DeviceSpec *s = arena_alloc(a, sizeof(*s));
	size_t len = strlen(dev_root) + strlen(path) + 1;
	char *host = arena_alloc(a, len);

	if (s == NULL || host == NULL)
		return -ENOMEM;
	snprintf(host, len, "%s%s", dev_root, path);
	v1beta1__device_spec__init(s);
	s->container_path = (char *)path; /* static or the view's */
	s->host_path = host;
	s->permissions = "rw";
	c->devices[c->n_devices++] = s;
	return 0;
}

/* /dev nodes for --pass-device-specs: control nodes, then each GPU. */
static int
add_specs(struct arena *a, V1beta1__ContainerAllocateResponse *c,
    const struct pick *p)
{
	const struct resources *all = p->r->all;

	c->devices = arena_array(a, RESOURCES_CONTROL_NODES + p->n,
	    sizeof(*c->devices));
	if (c->devices == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < RESOURCES_CONTROL_NODES; i++)
		if (all->control_present[i] && add_spec(a, c, all->dev_root,
		    resources_control_nodes[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (add_spec(a, c, all->dev_root,
		    p->r->views[p->idx[i]].dev_path) < 0)
			return -ENOMEM;
	return 0;
}

/* NVIDIA_VISIBLE_DEVICES: the ids, comma-separated, in request order. */
static char *
visible_devices(struct arena *a, const struct pick *p)
{
	bool by_index = p->r->all->id_strategy == ID_STRATEGY_INDEX;
	size_t len = 1;
	char *out, *at;

	for (size_t i = 0; i < p->n; i++) {
		const struct view *v = &p->r->views[p->idx[i]];

		len += strlen(by_index ? v->index_id : v->id) + 1;
	}
	out = at = arena_alloc(a, len);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++) {
		const struct view *v = &p->r->views[p->idx[i]];
		const char *id = by_index ? v->index_id : v->id;
		size_t l = strlen(id);

		if (i > 0)
			*at++ = ',';
		memcpy(at, id, l + 1);
		at += l;
	}
	return out;
}

static V1beta1__ContainerAllocateResponse *
container_answer(struct arena *a, const struct pick *p)
{
	V1beta1__ContainerAllocateResponse *c = arena_alloc(a, sizeof(*c));
	V1beta1__ContainerAllocateResponse__EnvsEntry *env =
	    arena_alloc(a, sizeof(*env));
	V1beta1__ContainerAllocateResponse__EnvsEntry **envs =
	    arena_alloc(a, sizeof(*envs));

	if (c == NULL || env == NULL || envs == NULL)
		return NULL;
	v1beta1__container_allocate_response__init(c);
	v1beta1__container_allocate_response__envs_entry__init(env);
	env->key = "NVIDIA_VISIBLE_DEVICES";
	env->value = visible_devices(a, p);
	if (env->value == NULL)
		return NULL;
	envs[0] = env;
	c->envs = envs;
	c->n_envs = 1;
	if (p->r->all->pass_device_specs && add_specs(a, c, p) < 0)
		return NULL;
	return c;
}

/*
 * Resolves one container's ids into |idx| (unique, request order), using
 * |seen| (one flag per view, all clear on entry and on return). Returns
 * the count, or -ENOENT (unknown id) / -ENODEV (unhealthy) with |msg|.
 */
static ssize_t
resolve(const struct resource *r,
    const V1beta1__ContainerAllocateRequest *cr, size_t *idx, bool *seen,
    char *msg, size_t msglen)
{
	const struct view *sick = NULL;
	size_t n = 0;
	ssize_t rc = 0;

	for (size_t i = 0; i < cr->n_devices_ids; i++) {
		const char *id = cr->devices_ids[i];
		const struct view *v = resource_find(r, id, strlen(id));
		size_t k;

		if (v == NULL) {
			snprintf(msg, msglen, "invalid allocation request for "
			    "\"%s\": invalid request: unknown device: %s",
			    r->name, id);
			rc = -ENOENT;
			break;
		}
		k = (size_t)(v - r->views);
		if (seen[k])
			continue;
		seen[k] = true;
		idx[n++] = k;
		if (!v->healthy && sick == NULL)
			sick = v;
	}
	for (size_t i = 0; i < n; i++)
		seen[idx[i]] = false;
	if (rc == 0 && sick != NULL) {
		snprintf(msg, msglen, "invalid allocation request for \"%s\": "
		    "device %s is unhealthy: %s", r->name, sick->id,
		    sick->reason);
		rc = -ENODEV;
	}
	return rc < 0 ? rc : (ssize_t)n;
}

ProtobufCMessage *
resource_allocate(const struct resource *r, const ProtobufCMessage *request,
    struct arena *a, char *msg, size_t msglen)
{
	const V1beta1__AllocateRequest *req =
	    (const V1beta1__AllocateRequest *)request;
	size_t nc = req->n_container_requests;
	V1beta1__AllocateResponse *resp = arena_alloc(a, sizeof(*resp));
	V1beta1__ContainerAllocateResponse **out = arena_array(a, nc,
	    sizeof(*out));
	bool *seen = arena_array(a, r->n, sizeof(*seen));
	size_t *idx = arena_array(a, r->n, sizeof(*idx));

	if (!resp || !out || !seen || !idx)
		goto out_nomem;
	v1beta1__allocate_response__init(resp);
	for (size_t i = 0; i < nc; i++) {
		ssize_t n = resolve(r, req->container_requests[i], idx, seen,
		    msg, msglen);
		struct pick p = { r, idx, 0 };

		if (n < 0) {
			errno = (int)-n;
			return NULL;
		}
		p.n = (size_t)n;
		out[i] = container_answer(a, &p);
		if (out[i] == NULL)
			goto out_nomem;
	}
	resp->container_responses = out;
	resp->n_container_responses = nc;
	return &resp->base;
out_nomem:
	snprintf(msg, msglen, "out of memory for the Allocate answer");
	errno = ENOMEM;
	return NULL;
}

/* ---- GetPreferredAllocation ---- */

/* The ids of one container's request: must-include ones, then available. */
struct id_list {
	char **must;
	size_t n_must;
	char **avail;
	size_t n_avail;
};

static const char *
id_at(const struct id_list *l, size_t i)
{
	return i < l->n_must ? l->must[i] : l->avail[i - l->n_must];
}

static int
id_order(const void *a, const void *b, void *list)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(id_at(list, i), id_at(list, j));

	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

/*
 * |first[i]| is set for the first occurrence of each id of |l| (must then
 * available), so that an id asked for twice is answered once. Sorting
 * makes this O(m log m). Returns -ENOMEM.
 */
static int
mark_first(const struct id_list *l, struct arena *a, bool *first)
{
	size_t m = l->n_must + l->n_avail;
	size_t *order = arena_array(a, m, sizeof(*order));

	if (order == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m; i++)
		order[i] = i;
	qsort_r(order, m, sizeof(*order), id_order, (void *)l);
	for (size_t i = 0; i < m; i++)
		first[order[i]] = i == 0 ||
		    strcmp(id_at(l, order[i]), id_at(l, order[i - 1])) != 0;
	return 0;
}

/* Fills |out| (|want| slots at most); returns how many it chose. */
static size_t
prefer(const struct resource *r, const struct id_list *l, const bool *first,
    bool *offered, char **out, size_t want)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_must && n < want; i++)
		if (first[i])
			out[n++] = l->must[i];
	for (size_t i = 0; i < l->n_avail; i++) {
		const char *id = l->avail[i];
		const struct view *v = first[l->n_must + i] ?
		    resource_find(r, id, strlen(id)) : NULL;

		if (v != NULL)
			offered[v - r->views] = true;
	}
	for (size_t d = 0; d < r->n && n < want; d++)
		if (offered[d])
			out[n++] = r->views[d].id;
	for (size_t i = 0; i < l->n_avail && n < want; i++) {
		const char *id = l->avail[i];

		if (first[l->n_must + i] && resource_find(r, id,
		    strlen(id)) == NULL)
			out[n++] = l->avail[i];
	}
	return n;
}

static V1beta1__ContainerPreferredAllocationResponse *
container_preference(const struct resource *r,
    const V1beta1__ContainerPreferredAllocationRequest *cr, struct arena *a)
{
	struct id_list l = { cr->must_include_deviceids,
		cr->n_must_include_deviceids, cr->available_deviceids,
		cr->n_available_deviceids };
	size_t m = l.n_must + l.n_avail;
	size_t want = cr->allocation_size > 0 ?
	    (size_t)cr->allocation_size : 0;
	V1beta1__ContainerPreferredAllocationResponse *c =
	    arena_alloc(a, sizeof(*c));
	bool *first = arena_array(a, m, sizeof(*first));
	bool *offered = arena_array(a, r->n, sizeof(*offered));

	if (want > m)
		want = m;
	if (c == NULL || first == NULL || offered == NULL ||
	    mark_first(&l, a, first) < 0)
		return NULL;
	v1beta1__container_preferred_allocation_response__init(c);
	c->deviceids = arena_array(a, want, sizeof(*c->deviceids));
	if (c->deviceids == NULL)
		return NULL;
	/* Strings point into the request or the views: only read. */
	c->n_deviceids = prefer(r, &l, first, offered, c->deviceids, want);
	return c;
}

ProtobufCMessage *
resource_preferred(const struct resource *r, const ProtobufCMessage *request,
    struct arena *a)
{
	const V1beta1__PreferredAllocationRequest *req =
	    (const V1beta1__PreferredAllocationRequest *)request;
	size_t nc = req->n_container_requests;
	V1beta1__PreferredAllocationResponse *resp =
	    arena_alloc(a, sizeof(*resp));
	V1beta1__ContainerPreferredAllocationResponse **out =
	    arena_array(a, nc, sizeof(*out));

	if (resp == NULL || out == NULL)
		return NULL;
	v1beta1__preferred_allocation_response__init(resp);
	for (size_t i = 0; i < nc; i++) {
		out[i] = container_preference(r, req->container_requests[i],
		    a);
		if (out[i] == NULL)
			return NULL;
	}
	resp->container_responses = out;
	resp->n_container_responses = nc;
	return &resp->base;
}
