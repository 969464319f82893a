/*
 * replicas.c: sharing devices by replicas (config sharing.timeSlicing or
 * sharing.mps; reference §2, §3), applied to the resources mig.c and
 * resources.c built.
 *
 * Each entry of the sharing section names a resource (nvidia.com/gpu, or
 * a MIG profile's under mixed), the devices of it to share (all, the
 * first N, or a list of GPU indices, MIG indices i:j and UUIDs) and how
 * many replicas each gets. A shared device is listed as replicas
 * "<uuid>::<n>", n from 0, under the entry's rename (or <name>.shared
 * with renameByDefault, which the parser has already written into
 * rename), else under the resource's own name; a device no entry
 * selects keeps its plain id under the resource's own name, so several
 * entries for one resource give per-device replica counts (2 on GPU 0,
 * 8 on GPUs 1-3). NVIDIA's plugin forces every entry to devices: all;
 * this one honours the field, and refuses what only the node can show
 * to be wrong (an index it does not have, a device two entries share)
 * with the config lines involved.
 *
 * A replica is a copy of its device's view (GPU, instance, NUMA node,
 * /dev nodes: so health, topology and Allocate contents are the
 * device's) with its own id; the views of one device lie in a row, so
 * the answers find a replica's device (|unit|) without a search.
 *
 * Everything is planned before anything is made: which entry takes
 * which device, the resources that come out and the size of each one's
 * ListAndWatch message, counted from id lengths alone, so a request for
 * 2^31 replicas is refused by arithmetic, not by running out of memory.
 * A message the kubelet cannot receive (over grpc-go's 4 MiB) would
 * disconnect the plugin at every update; it is refused here instead,
 * at start and at every reload alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/mig_int.h"
#include "util/alloc.h"
#include "util/digits.h"

#define UNHEALTHY_LEN 9          /* strlen("Unhealthy"), the longer one */

/* A resource that comes out: its name, what it is made from, its size. */
struct target {
	const char *name;
	size_t base;             /* the resource of the table it comes from */
	const struct cfgfile_replicated *by;  /* the entry; NULL: plain */
	size_t n;                /* views */
	uint64_t bytes;          /* its ListAndWatch message, at most */
	bool shared;             /* any replica */
};

struct plan {
	const struct cfgfile_sharing *s;
	int **choice;            /* per resource, per view: entry or -1 */
	struct target *t;
	size_t nt;
	char *err;
	size_t errlen;
};

/* ---- sizes ---- */

static uint64_t
varint_len(uint64_t x)
{
	uint64_t n = 1;

	while (x >= 0x80) {
		x >>= 7;
		n++;
	}
	return n;
}

/* One Device entry of a ListAndWatchResponse: its id of |id_len| bytes,
 * health "Unhealthy", and NUMA node |numa| (none when < 0). */
static uint64_t
device_bytes(uint64_t id_len, int numa)
{
	uint64_t d = 1 + varint_len(id_len) + id_len + 1 + 1 + UNHEALTHY_LEN;

	if (numa >= 0) {
		/* proto3: a NUMANode of id 0 is empty. */
		uint64_t node = numa > 0 ? 1 + varint_len((uint64_t)numa) : 0;
		uint64_t topo = 1 + varint_len(node) + node;

		d += 1 + varint_len(topo) + topo;
	}
	return 1 + varint_len(d) + d;
}

size_t
resource_list_bytes(const struct resource *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += device_bytes(r->views[i].id_len, r->views[i].numa_node);
	return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* The entries of |k| replicas of |v|: ids "<id>::<n>" grouped by the
 * digits of n. */
static uint64_t
replicas_bytes(const struct view *v, uint64_t k)
{
	uint64_t bytes = 0, lo = 0, hi = 10;

	for (uint64_t d = 1; lo < k; d++, lo = hi, hi *= 10) {
		uint64_t count = (k < hi ? k : hi) - lo;

		bytes += count * device_bytes(strlen(v->id) + 2 + d,
		    v->numa_node);
	}
	return bytes;
}

/* ---- which entry shares which device ---- */

/* "GPU 0 (GPU-...)" or "MIG device 0:1 (MIG-...)" for messages. */
static void
describe(const struct view *v, char *out, size_t len)
{
	snprintf(out, len, "%s %s (%s)", v->caps[0][0] != '\0' ?
	    "MIG device" : "GPU", v->index_id, v->id);
}

/* The view of |b| that |ref| (an index, i:j or a UUID) names, or -1. */
static ptrdiff_t
find_ref(const struct resource *b, const char *ref, bool *by_index)
{
	const char *colon = strchr(ref, ':');
	bool gpu = all_digits(ref, strlen(ref));
	bool mig = colon != NULL && all_digits(ref, (size_t)(colon - ref)) &&
	    all_digits(colon + 1, strlen(colon + 1));

	*by_index = gpu || mig;
	for (size_t i = 0; i < b->n; i++) {
		const struct view *v = &b->views[i];
		bool is_mig = v->caps[0][0] != '\0';

		if (*by_index ? (is_mig == mig &&
		    strcmp(v->index_id, ref) == 0) : strcmp(v->id, ref) == 0)
			return (ptrdiff_t)i;
	}
	return -1;
}

/* Where an entry is written. */
static const char *
entry_at(const struct cfgfile_replicated *c)
{
	return c != NULL && c->where != NULL ? c->where : "sharing";
}

/* Where an entry's |devices| is written (the entry, when it is not). */
static const char *
devices_at(const struct cfgfile_replicated *c)
{
	return c->devices_where != NULL ? c->devices_where : entry_at(c);
}

/* Entry |k| takes view |i| of |b|: -EINVAL when another has it. */
static int
take(struct plan *p, const struct resource *b, int *choice, size_t i,
    int k)
{
	const char *here = devices_at(&p->s->resources[k]);
	char dev[160];

	if (choice[i] < 0) {
		choice[i] = k;
		return 0;
	}
	describe(&b->views[i], dev, sizeof(dev));
	if (choice[i] == k)
		snprintf(p->err, p->errlen, "%s: %s is listed twice", here,
		    dev);
	else
		snprintf(p->err, p->errlen, "%s: %s of %s is already shared by "
		    "%s: a device can be shared by one entry only", here, dev,
		    b->name, entry_at(&p->s->resources[choice[i]]));
	return -EINVAL;
}

static int
take_list(struct plan *p, const struct resource *b, int *choice, int k)
{
	const struct cfgfile_replicated *c = &p->s->resources[k];

	for (size_t j = 0; j < c->n_list; j++) {
		bool by_index;
		ptrdiff_t i = find_ref(b, c->list[j], &by_index);
		int rc;

		if (i < 0) {
			snprintf(p->err, p->errlen, "%s: no matching device "
			    "%s: %.100s (among the %zu devices of %s)",
			    c->devices_where, by_index ? "at index" :
			    "with UUID", c->list[j], b->n, b->name);
			return -EINVAL;
		}
		if ((rc = take(p, b, choice, (size_t)i, k)) < 0)
			return rc;
	}
	return 0;
}

/* The devices of |b| that entry |k| shares, into |choice|. */
static int
take_devices(struct plan *p, const struct resource *b, int *choice, int k)
{
	const struct cfgfile_replicated *c = &p->s->resources[k];
	size_t n = b->n;
	int rc;

	if (c->devices == CFGFILE_DEVICES_LIST)
		return take_list(p, b, choice, k);
	if (c->devices == CFGFILE_DEVICES_COUNT) {
		if (c->count > b->n) {
			snprintf(p->err, p->errlen, "%s: requested %lu devices "
			    "to be replicated, but only %zu devices of %s are "
			    "available", devices_at(c), c->count, b->n,
			    b->name);
			return -EINVAL;
		}
		n = c->count;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = take(p, b, choice, i, k)) < 0)
			return rc;
	return 0;
}

/* ---- the resources that come out ---- */

static const char *
target_name(const struct cfgfile_replicated *c)
{
	return c->rename != NULL ? c->rename : c->name;
}

/* The name view |i| of base |b| goes under. */
static const char *
view_target(const struct plan *p, const struct resource *b, size_t base,
    size_t i)
{
	int k = p->choice[base][i];

	return k < 0 ? b->name : target_name(&p->s->resources[k]);
}

/* The target named |name| (made from |base| if new). */
static struct target *
target_of(struct plan *p, const char *name, size_t base)
{
	for (size_t t = 0; t < p->nt; t++)
		if (p->t[t].base == base && strcmp(p->t[t].name, name) == 0)
			return &p->t[t];
	p->t[p->nt].name = name;
	p->t[p->nt].base = base;
	return &p->t[p->nt++];
}

/*
 * Counts the views and bytes of every target of base |base|: the one of
 * its own name first (devices not shared, or shared without a rename),
 * then the renamed ones in the order their devices come.
 */
static void
plan_targets(struct plan *p, const struct resource *b, size_t base)
{
	for (size_t i = 0; i < 2 * b->n; i++) {
		size_t v = i % b->n;
		int k = p->choice[base][v];
		const char *name = view_target(p, b, base, v);
		struct target *t;
		uint64_t reps = k < 0 ? 0 : p->s->resources[k].replicas;

		if ((i < b->n) != (strcmp(name, b->name) == 0))
			continue;
		t = target_of(p, name, base);

		if (k >= 0 && t->by == NULL)
			t->by = &p->s->resources[k];
		t->shared |= k >= 0;
		t->n += reps > 0 ? reps : 1;
		t->bytes += reps > 0 ? replicas_bytes(&b->views[v], reps) :
		    device_bytes(b->views[v].id_len, b->views[v].numa_node);
	}
}

/* Every target's size within the kubelet's limit, every name once. */
static int
check_targets(const struct plan *p)
{
	for (size_t t = 0; t < p->nt; t++) {
		const struct target *x = &p->t[t];

		if (x->bytes > RESOURCES_MAX_LIST_BYTES) {
			snprintf(p->err, p->errlen, "%s: resource %s: its "
			    "ListAndWatch message would be %" PRIu64 " bytes "
			    "(%zu devices), over the kubelet's limit of %zu "
			    "bytes (4 MiB) per message; share fewer devices "
			    "or give fewer replicas", entry_at(x->by), x->name,
			    x->bytes, x->n, RESOURCES_MAX_LIST_BYTES);
			return -EINVAL;
		}
		for (size_t u = 0; u < t; u++) {
			const struct target *y = &p->t[u];

			if (strcmp(x->name, y->name) != 0)
				continue;
			snprintf(p->err, p->errlen, "%s: rename: %s is already "
			    "the name of another resource of this node",
			    entry_at(x->by != NULL ? x->by : y->by), x->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- making them ---- */

/* |k| replicas of |v| appended to |out|; -EINVAL if an id is too long. */
static int
add_replicas(struct resource *out, const struct view *v, unsigned k,
    char *err, size_t errlen)
{
	for (unsigned n = 0; n < k; n++) {
		struct view *w = &out->views[out->n++];

		*w = *v;
		if (snprintf(w->id, sizeof(w->id), "%s::%u", v->id, n) >=
		    (int)sizeof(w->id)) {
			snprintf(err, errlen, "device %s: a replica's id would "
			    "be too long", v->id);
			return -EINVAL;
		}
		snprintf(w->dev_id, sizeof(w->dev_id), "%s", v->id);
		w->replica = n;
		w->replicas = k;
	}
	return 0;
}

static int
make_target(const struct plan *p, const struct target *t,
    const struct resource *b, struct resource *out, enum share_kind kind)
{
	int rc;

	if ((rc = resources_name(out, t->name, p->err, p->errlen)) < 0)
		return rc;
	out->all = b->all;
	if ((out->views = gdp_calloc(t->n + 1, sizeof(*out->views))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		int k = p->choice[t->base][i];

		if (strcmp(view_target(p, b, t->base, i), t->name) != 0)
			continue;
		if (k < 0) {
			out->views[out->n++] = b->views[i];
			continue;
		}
		rc = add_replicas(out, &b->views[i],
		    (unsigned)p->s->resources[k].replicas, p->err, p->errlen);
		if (rc < 0)
			return rc;
	}
	if (t->shared) {
		out->sharing = kind;
		out->fail_requests_greater_than_one =
		    p->s->fail_requests_greater_than_one > 0;
	}
	return resource_index(out);
}

static void
free_table(struct resource *res, size_t n)
{
	for (size_t i = 0; res != NULL && i < n; i++) {
		gdp_free(res[i].views);
		gdp_free(res[i].by_id);
	}
	gdp_free(res);
}

/* The new table of |p|'s targets, in place of |r|'s. */
static int
make_table(struct resources *r, const struct plan *p, enum share_kind kind)
{
	struct resource *res = gdp_calloc(p->nt + 1, sizeof(*res));
	int rc = 0;

	if (res == NULL)
		return -ENOMEM;
	for (size_t t = 0; t < p->nt && rc == 0; t++)
		rc = make_target(p, &p->t[t], &r->res[p->t[t].base], &res[t],
		    kind);
	if (rc < 0) {
		free_table(res, p->nt);
		return rc;
	}
	free_table(r->res, r->n);
	r->res = res;
	r->n = p->nt;
	return 0;
}

/* Every entry's devices among |r|'s resources, then the targets. */
static int
plan(struct plan *p, const struct resources *r)
{
	const struct cfgfile_sharing *s = p->s;
	int rc;

	for (size_t b = 0; b < r->n; b++) {
		const struct resource *res = &r->res[b];

		for (size_t i = 0; i < res->n; i++)
			p->choice[b][i] = -1;
		for (size_t k = 0; s != NULL && k < s->n_resources; k++) {
			/* An entry for a resource the node does not have is
			 * skipped, as NVIDIA's is. */
			if (s->resources[k].name == NULL ||
			    strcmp(s->resources[k].name, res->name) != 0)
				continue;
			if ((rc = take_devices(p, res, p->choice[b],
			    (int)k)) < 0)
				return rc;
		}
		plan_targets(p, res, b);
	}
	return check_targets(p);
}

static void
free_plan(struct plan *p, size_t n)
{
	for (size_t b = 0; p->choice != NULL && b < n; b++)
		gdp_free(p->choice[b]);
	gdp_free(p->choice);
	gdp_free(p->t);
}

int
replicas_apply(struct resources *r, const struct resources_options *opts,
    char *err, size_t errlen)
{
	const struct cfgfile_sharing *s = opts->sharing;
	struct plan p = { s, NULL, NULL, 0, err, errlen };
	size_t nbase = r->n, targets = nbase + (s != NULL ?
	    s->n_resources : 0);
	bool nomem = false;
	int rc;

	p.choice = gdp_calloc(nbase + 1, sizeof(*p.choice));
	p.t = gdp_calloc(targets + 1, sizeof(*p.t));
	nomem = p.choice == NULL || p.t == NULL;
	for (size_t b = 0; !nomem && b < nbase; b++)
		nomem = (p.choice[b] = gdp_calloc(r->res[b].n + 1,
		    sizeof(*p.choice[b]))) == NULL;
	rc = nomem ? -ENOMEM : plan(&p, r);
	if (rc == 0 && s != NULL)
		rc = make_table(r, &p, opts->sharing_mps ? SHARE_MPS :
		    SHARE_TIME_SLICING);
	free_plan(&p, nbase);
	return rc;
}
