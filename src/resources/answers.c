/*
 * answers.c: the ListAndWatch, Allocate and GetPreferredAllocation
 * answers, as pure functions of a resource's views and the request (see
 * resources.h).
 *
 * Every answer is built in the caller's arena, so that it is one object
 * to free after sending and a failure anywhere leaves nothing behind.
 * A request is checked against the bounds of resources.h before anything
 * is built, so an answer is at most a constant times the device count.
 * Work is O(m log m) for m request ids: ids are looked up in the sorted
 * index, and duplicates are found by sorting, never by comparing every id
 * with every other. Ids arrive as bytes with their lengths
 * (proto/requests.proto); one with a NUL or invalid UTF-8 is refused.
 */
#include "resources.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"
#include "resources/answer_int.h"

/* ---- ListAndWatch ---- */

static void
list_device(const struct resource *r, const struct view *v,
    V1beta1__Device *d, V1beta1__TopologyInfo *topo, V1beta1__NUMANode *node,
    V1beta1__NUMANode **node_ptr)
{
	v1beta1__device__init(d);
	d->id = (char *)v->id; /* only read while packing */
	d->health = resource_view_healthy(r, v) ? "Healthy" : "Unhealthy";
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
		list_device(r, &r->views[i], &devs[i], &topo[i], &nodes[i],
		    &node_ptrs[i]);
		ptrs[i] = &devs[i];
	}
	resp->devices = ptrs;
	resp->n_devices = r->n;
	return &resp->base;
}

/* ---- request bounds and ids ---- */

unsigned long long resources_id_compares;

size_t
resource_max_ids(const struct resource *r)
{
	size_t twice = r->n > SIZE_MAX / 2 ? SIZE_MAX : 2 * r->n;

	return twice > RESOURCES_MIN_MAX_IDS ? twice : RESOURCES_MIN_MAX_IDS;
}

/*
 * |id| for a message: printable ASCII as it is, every other byte (and
 * '"', '\') as \xNN, at most 96 bytes of it then "...". Always
 * NUL-terminated; |out| has room for RESOURCES_ID_ESCAPED bytes.
 */
#define RESOURCES_ID_ESCAPED (96 * 4 + 4)
static void
escape_id(char *out, const ProtobufCBinaryData *id)
{
	size_t n = 0;

	for (size_t i = 0; i < id->len && i < 96; i++) {
		uint8_t c = id->data[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
	}
	if (id->len > 96)
		n += (size_t)snprintf(out + n, 4, "...");
	out[n] = '\0';
}

/* Length of the UTF-8 sequence at |s| (|len| bytes left), 0 if invalid. */
static size_t
utf8_seq(const uint8_t *s, size_t len)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 :
	    s[0] >= 0xe0 && s[0] < 0xf0 ? 3 : s[0] >= 0xf0 && s[0] < 0xf5 ?
	    4 : 0;

	if (n == 0 || n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, UTF-16 surrogates, past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Why |id| cannot be a device id (a NUL, not UTF-8), or NULL. */
static const char *
id_flaw(const ProtobufCBinaryData *id)
{
	if (id->len > 0 && memchr(id->data, '\0', id->len) != NULL)
		return "holds a NUL byte";
	for (size_t i = 0; i < id->len;) {
		size_t n = utf8_seq(id->data + i, id->len - i);

		if (n == 0)
			return "is not valid UTF-8";
		i += n;
	}
	return NULL;
}

/* What a bad request is called in an error, after NVIDIA's wording. */
struct req_kind {
	const char *what;        /* "allocation", "preferred allocation" */
	const struct resource *r;
	char *msg;
	size_t msglen;
	unsigned odd;            /* RESOURCES_ODD_* seen (preferred only) */
};

/* -EINVAL naming |id| and its flaw, or 0 when it can be a device id. */
static int
check_id(const struct req_kind *k, const ProtobufCBinaryData *id)
{
	const char *flaw = id_flaw(id);
	char shown[RESOURCES_ID_ESCAPED];

	if (flaw == NULL)
		return 0;
	escape_id(shown, id);
	snprintf(k->msg, k->msglen, "invalid %s request for \"%s\": device "
	    "id \"%s\" %s", k->what, k->r->name, shown, flaw);
	return -EINVAL;
}

/*
 * The bounds of resources.h on a request of |nc| container requests
 * whose |ids[i]| ids are counted by |count|: 0, or -EINVAL with |msg|.
 * Looks at no more than resource_max_ids() containers.
 */
static int
check_bounds(const struct req_kind *k, size_t nc,
    size_t (*count)(const void *req, size_t i), const void *req)
{
	size_t most = resource_max_ids(k->r), total = 0;

	if (nc > most) {
		snprintf(k->msg, k->msglen, "invalid %s request for \"%s\": "
		    "%zu container requests; at most %zu container requests "
		    "are accepted in one request (as many as device ids: "
		    "max(%d, twice the %zu devices advertised))", k->what,
		    k->r->name, nc, most, RESOURCES_MIN_MAX_IDS, k->r->n);
		return -EINVAL;
	}
	for (size_t i = 0; i < nc; i++) {
		size_t n = count(req, i);

		if (n == 0) {
			snprintf(k->msg, k->msglen, "invalid %s request for "
			    "\"%s\": container request %zu of %zu carries no "
			    "device id (each must carry at least one)",
			    k->what, k->r->name, i + 1, nc);
			return -EINVAL;
		}
		total = n > SIZE_MAX - total ? SIZE_MAX : total + n;
	}
	if (total > most) {
		snprintf(k->msg, k->msglen, "invalid %s request for \"%s\": "
		    "%zu device ids; at most %zu device ids are accepted in "
		    "one request (max(%d, twice the %zu devices advertised))",
		    k->what, k->r->name, total, most, RESOURCES_MIN_MAX_IDS,
		    k->r->n);
		return -EINVAL;
	}
	return 0;
}

/* resource_find() of a request's id. */
static const struct view *
find_id(const struct resource *r, const ProtobufCBinaryData *id)
{
	if (id->len == 0)
		return NULL; /* no view's id is empty; |data| may be NULL */
	return resource_find(r, (const char *)id->data, id->len);
}

/* ---- Allocate ---- */

/*
 * The checks after every id of |cr| is known: NVIDIA's one replica per
 * request (failRequestsGreaterThanOne: -E2BIG, its words, counting
 * duplicates as it does), then health (-ENODEV, with the reason).
 */
static int
check_resolved(const struct req_kind *k,
    const V1beta1__Raw__ContainerAllocateRequest *cr, bool replica,
    const struct view *sick)
{
	const struct resource *r = k->r;

	if (replica && r->fail_requests_greater_than_one &&
	    cr->n_devices_ids > 1) {
		snprintf(k->msg, k->msglen, "invalid allocation request for "
		    "\"%s\": invalid request: maximum request size for shared "
		    "resources is 1; found %zu", r->name, cr->n_devices_ids);
		return -E2BIG;
	}
	if (sick != NULL && r->withheld) {
		snprintf(k->msg, k->msglen, "invalid allocation request for "
		    "\"%s\": its devices are withheld: %s", r->name,
		    r->withheld_reason);
		return -ENODEV;
	}
	if (sick != NULL) {
		snprintf(k->msg, k->msglen, "invalid allocation request for "
		    "\"%s\": device %s is unhealthy: %s", r->name, sick->id,
		    sick->reason);
		return -ENODEV;
	}
	return 0;
}

/*
 * Resolves one container's ids into |idx|: the devices they name, each
 * once (replicas of one device are that device), in request order,
 * using |seen| (one flag per view, all clear on entry and on return).
 * Returns the count, or -EINVAL (not an id) / -ENOENT (unknown id) /
 * -E2BIG (more than one id with a replica, where that is refused) /
 * -ENODEV (unhealthy) with |k->msg|.
 */
static ssize_t
resolve(const struct req_kind *k,
    const V1beta1__Raw__ContainerAllocateRequest *cr, size_t *idx,
    bool *seen)
{
	const struct resource *r = k->r;
	const struct view *sick = NULL;
	bool replica = false;
	size_t n = 0;
	ssize_t rc = 0;

	for (size_t i = 0; i < cr->n_devices_ids && rc == 0; i++) {
		const ProtobufCBinaryData *id = &cr->devices_ids[i];
		const struct view *v;
		char shown[RESOURCES_ID_ESCAPED];
		size_t at;

		/* An id that names a view is sound (views' ids are): only
		 * one that names none is looked at closely. */
		if ((v = find_id(r, id)) == NULL &&
		    (rc = check_id(k, id)) < 0)
			break;
		if (v == NULL) {
			escape_id(shown, id);
			snprintf(k->msg, k->msglen, "invalid allocation "
			    "request for \"%s\": invalid request: unknown "
			    "device: %s", r->name, shown);
			rc = -ENOENT;
			break;
		}
		/* A replica's device: the first view of its row. */
		at = (size_t)(v - r->views) - v->replica;
		replica |= v->replicas > 0;
		if (!resource_view_healthy(r, v) && sick == NULL)
			sick = v;
		if (seen[at])
			continue;
		seen[at] = true;
		idx[n++] = at;
	}
	for (size_t i = 0; i < n; i++)
		seen[idx[i]] = false;
	if (rc == 0)
		rc = check_resolved(k, cr, replica, sick);
	return rc < 0 ? rc : (ssize_t)n;
}

static size_t
allocate_ids(const void *req, size_t i)
{
	return ((const V1beta1__Raw__AllocateRequest *)req)->
	    container_requests[i]->n_devices_ids;
}

ProtobufCMessage *
resource_allocate(const struct resource *r, const ProtobufCMessage *request,
    struct arena *a, char *msg, size_t msglen)
{
	const V1beta1__Raw__AllocateRequest *req =
	    (const V1beta1__Raw__AllocateRequest *)request;
	const struct req_kind k = { "allocation", r, msg, msglen, 0 };
	size_t nc = req->n_container_requests;
	V1beta1__AllocateResponse *resp;
	V1beta1__ContainerAllocateResponse **out;
	bool *seen;
	size_t *idx;
	int rc = check_bounds(&k, nc, allocate_ids, req);

	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	resp = arena_alloc(a, sizeof(*resp));
	out = arena_array(a, nc, sizeof(*out));
	seen = arena_array(a, r->n, sizeof(*seen));
	idx = arena_array(a, r->n, sizeof(*idx));
	if (!resp || !out || !seen || !idx)
		goto out_nomem;
	v1beta1__allocate_response__init(resp);
	for (size_t i = 0; i < nc; i++) {
		ssize_t n = resolve(&k, req->container_requests[i], idx, seen);
		struct pick p = { r, idx, 0 };

		if (n < 0) {
			errno = (int)-n;
			return NULL;
		}
		p.n = (size_t)n;
		out[i] = strategy_answer(a, &p);
		if (out[i] == NULL && errno == EIO) {
			snprintf(msg, msglen, "no random bytes for the "
			    "cdi-annotations key of \"%s\"", r->name);
			return NULL;
		}
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
	const ProtobufCBinaryData *must;
	size_t n_must;
	const ProtobufCBinaryData *avail;
	size_t n_avail;
};

static const ProtobufCBinaryData *
id_at(const struct id_list *l, size_t i)
{
	return i < l->n_must ? &l->must[i] : &l->avail[i - l->n_must];
}

/* A total order on ids: bytes, then length (any order finds twins). */
static int
bytes_cmp(const ProtobufCBinaryData *x, const ProtobufCBinaryData *y)
{
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->data, y->data, n) : 0;

	resources_id_compares++;
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int
id_order(const void *a, const void *b, void *list)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = bytes_cmp(id_at(list, i), id_at(list, j));

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
		first[order[i]] = i == 0 || bytes_cmp(id_at(l, order[i]),
		    id_at(l, order[i - 1])) != 0;
	return 0;
}

/* An answer's copy of a request's id (checked: no NUL); NULL: ENOMEM. */
static char *
id_copy(struct arena *a, const ProtobufCBinaryData *id)
{
	char *s = arena_alloc(a, id->len + 1);

	if (s != NULL && id->len > 0)
		memcpy(s, id->data, id->len);
	return s;
}

/*
 * The offered whole GPUs that best complete the must-include ones by pair
 * score (resources/topo.c), moved to |out| first and cleared from
 * |offered|. Left to the index order when any offered or must-include view
 * is not a whole GPU of the score matrix (MIG; replicas are spread by
 * the allocation policy instead: spread.c).
 */
static void
topo_first(const struct resource *r, const struct id_list *l, bool *offered,
    char **out, size_t *n, size_t want)
{
	const struct gdp_topo *t = &r->all->topo;
	uint32_t avail = 0, must = 0;

	for (size_t d = 0; d < r->n; d++) {
		if (!offered[d])
			continue;
		if (r->views[d].gi != RESOURCES_WHOLE || r->views[d].gpu >= t->n)
			return;
		avail |= 1u << r->views[d].gpu;
	}
	for (size_t i = 0; i < l->n_must; i++) {
		const struct view *v = find_id(r, &l->must[i]);

		if (v != NULL && (v->gi != RESOURCES_WHOLE || v->gpu >= t->n))
			return;
		if (v != NULL)
			must |= 1u << v->gpu;
	}
	if (want <= *n || avail == 0)
		return;
	uint32_t pick = gdp_topo_choose(t, avail | must, must,
	    (unsigned)(want - *n) + (unsigned)__builtin_popcount(must));
	for (size_t d = 0; d < r->n && *n < want; d++)
		if (offered[d] && (pick >> r->views[d].gpu & 1u) &&
		    !(must >> r->views[d].gpu & 1u)) {
			out[(*n)++] = r->views[d].id;
			offered[d] = false;
		}
}

/*
 * A shared resource's picks (spread.c), once the devices of its
 * must-include ids are known.
 */
static int
shared_first(const struct resource *r, const struct id_list *l,
    bool *offered, char **out, size_t *n, size_t want, struct arena *a)
{
	bool *must = arena_array(a, r->n_units, sizeof(*must));

	if (must == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_must; i++) {
		const struct view *v = find_id(r, &l->must[i]);

		if (v != NULL)
			must[v->unit] = true;
	}
	return spread_pick(r, offered, must, out, n, want, a);
}

/* Fills |out| (|want| slots at most); returns how many, or -ENOMEM.
 * |*unknown| is set to an id of |l| that is not ours, if there is one. */
static ssize_t
prefer(const struct resource *r, const struct id_list *l, const bool *first,
    bool *offered, char **out, size_t want, struct arena *a,
    const ProtobufCBinaryData **unknown)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_must && n < want; i++)
		if (first[i] && (out[n++] = id_copy(a, &l->must[i])) == NULL)
			return -ENOMEM;
	for (size_t i = 0; i < l->n_must; i++)
		if (find_id(r, &l->must[i]) == NULL)
			*unknown = &l->must[i];
	for (size_t i = 0; i < l->n_avail; i++) {
		const struct view *v = first[l->n_must + i] ?
		    find_id(r, &l->avail[i]) : NULL;

		if (v != NULL && resource_view_healthy(r, v))
			offered[v - r->views] = true;
		if (v == NULL && first[l->n_must + i])
			*unknown = &l->avail[i];
	}
	if (r->sharing == SHARE_NONE)
		topo_first(r, l, offered, out, &n, want);
	else if (shared_first(r, l, offered, out, &n, want, a) < 0)
		return -ENOMEM;
	for (size_t d = 0; d < r->n && n < want; d++)
		if (offered[d])
			out[n++] = r->views[d].id;
	for (size_t i = 0; i < l->n_avail && n < want; i++)
		if (first[l->n_must + i] && find_id(r, &l->avail[i]) == NULL &&
		    (out[n++] = id_copy(a, &l->avail[i])) == NULL)
			return -ENOMEM;
	return (ssize_t)n;
}

/* Every id of |l| can be one: 0, or -EINVAL naming the first bad one. */
static int
check_ids(const struct req_kind *k, const struct id_list *l)
{
	for (size_t i = 0; i < l->n_must + l->n_avail; i++)
		if (check_id(k, id_at(l, i)) < 0)
			return -EINVAL;
	return 0;
}

/*
 * Notes in |k| what of |cr| the kubelet should not send (the first of each
 * kind in the request): sizes that cannot be met as asked, more
 * must-include ids than the size, ids not ours. Answered all the same.
 */
static void
note_odd(struct req_kind *k,
    const V1beta1__Raw__ContainerPreferredAllocationRequest *cr, size_t m,
    const ProtobufCBinaryData *unknown)
{
	char shown[RESOURCES_ID_ESCAPED];
	unsigned odd = 0;
	size_t used;

	if (cr->allocation_size <= 0 || (size_t)cr->allocation_size > m)
		odd |= RESOURCES_ODD_SIZE;
	if (cr->allocation_size > 0 &&
	    cr->n_must_include_deviceids > (size_t)cr->allocation_size)
		odd |= RESOURCES_ODD_MUST;
	if (unknown != NULL)
		odd |= RESOURCES_ODD_UNKNOWN;
	odd &= ~k->odd;
	if (odd == 0)
		return;
	k->odd |= odd;
	used = strlen(k->msg);
	if (used == 0)
		used = (size_t)snprintf(k->msg, k->msglen, "GetPreferredAllocation "
		    "for \"%s\", answered as well as it can be:", k->r->name);
	if (odd & RESOURCES_ODD_SIZE && used < k->msglen)
		used += (size_t)snprintf(k->msg + used, k->msglen - used,
		    " size %d asked of %zu ids;", cr->allocation_size, m);
	if (odd & RESOURCES_ODD_MUST && used < k->msglen)
		used += (size_t)snprintf(k->msg + used, k->msglen - used,
		    " %zu must-include ids for size %d;",
		    cr->n_must_include_deviceids, cr->allocation_size);
	if (odd & RESOURCES_ODD_UNKNOWN && used < k->msglen) {
		escape_id(shown, unknown);
		(void)snprintf(k->msg + used, k->msglen - used, " device id "
		    "\"%s\" is not one of this resource's;", shown);
	}
}

static V1beta1__ContainerPreferredAllocationResponse *
container_preference(struct req_kind *k,
    const V1beta1__Raw__ContainerPreferredAllocationRequest *cr,
    struct arena *a)
{
	const struct resource *r = k->r;
	struct id_list l = { cr->must_include_deviceids,
		cr->n_must_include_deviceids, cr->available_deviceids,
		cr->n_available_deviceids };
	size_t m = l.n_must + l.n_avail;
	size_t want = cr->allocation_size > 0 ?
	    (size_t)cr->allocation_size : 0;
	V1beta1__ContainerPreferredAllocationResponse *c;
	const ProtobufCBinaryData *unknown = NULL;
	bool *first, *offered;
	ssize_t n;

	if (check_ids(k, &l) < 0) {
		errno = EINVAL;
		return NULL;
	}
	errno = ENOMEM;
	c = arena_alloc(a, sizeof(*c));
	first = arena_array(a, m, sizeof(*first));
	offered = arena_array(a, r->n, sizeof(*offered));
	if (want > m)
		want = m;
	if (c == NULL || first == NULL || offered == NULL ||
	    mark_first(&l, a, first) < 0)
		return NULL;
	v1beta1__container_preferred_allocation_response__init(c);
	c->deviceids = arena_array(a, want, sizeof(*c->deviceids));
	if (c->deviceids == NULL)
		return NULL;
	/* Known ids point into the views, only read while packing. */
	n = prefer(r, &l, first, offered, c->deviceids, want, a, &unknown);
	if (n < 0)
		return NULL;
	c->n_deviceids = (size_t)n;
	note_odd(k, cr, m, unknown);
	return c;
}

static size_t
preferred_ids(const void *req, size_t i)
{
	const V1beta1__Raw__ContainerPreferredAllocationRequest *cr =
	    ((const V1beta1__Raw__PreferredAllocationRequest *)req)->
	    container_requests[i];

	return cr->n_must_include_deviceids > SIZE_MAX -
	    cr->n_available_deviceids ? SIZE_MAX :
	    cr->n_must_include_deviceids + cr->n_available_deviceids;
}

ProtobufCMessage *
resource_preferred(const struct resource *r, const ProtobufCMessage *request,
    struct arena *a, char *msg, size_t msglen, unsigned *odd)
{
	const V1beta1__Raw__PreferredAllocationRequest *req =
	    (const V1beta1__Raw__PreferredAllocationRequest *)request;
	struct req_kind k = { "preferred allocation", r, msg, msglen, 0 };
	size_t nc = req->n_container_requests;
	V1beta1__PreferredAllocationResponse *resp;
	V1beta1__ContainerPreferredAllocationResponse **out;
	int rc;

	*odd = 0;
	msg[0] = '\0';
	rc = check_bounds(&k, nc, preferred_ids, req);

	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	resp = arena_alloc(a, sizeof(*resp));
	out = arena_array(a, nc, sizeof(*out));
	if (resp == NULL || out == NULL)
		goto out_nomem;
	v1beta1__preferred_allocation_response__init(resp);
	for (size_t i = 0; i < nc; i++) {
		out[i] = container_preference(&k, req->container_requests[i],
		    a);
		if (out[i] == NULL && errno != EINVAL)
			goto out_nomem;
		if (out[i] == NULL)
			return NULL;
	}
	resp->container_responses = out;
	resp->n_container_responses = nc;
	*odd = k.odd;
	if (k.odd != 0 && msg[strlen(msg) - 1] == ';')
		msg[strlen(msg) - 1] = '\0';
	return &resp->base;
out_nomem:
	snprintf(msg, msglen, "out of memory for the preferred allocation");
	errno = ENOMEM;
	return NULL;
}
