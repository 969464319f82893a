/*
 * mig.c: the resources of a node under --mig-strategy single and mixed
 * (reference §7), from the MIG devices the inventory lists.
 *
 * single: every MIG device is a device of the one GPU resource
 * (nvidia.com/gpu), once NVIDIA's three checks pass; a node without MIG
 * is served whole. mixed: GPUs without MIG stay whole under
 * nvidia.com/gpu, and each MIG profile is its own resource,
 * nvidia.com/mig-<profile> with NVIDIA's '+' turned into '.'
 * ("1g.10gb+me" -> mig-1g.10gb.me), sorted by name after the GPUs; a
 * profile with fewer compute than GPU slices ("1c.2g.20gb") matches no
 * resource and is refused, as NVIDIA's is. A resource that would have no
 * device is not made. Errors carry NVIDIA's wording, each wrapped as its
 * device map wraps it (they differ: "invalid MIG configuration: ..." for
 * two of single's three), so an operator can search for them.
 *
 * A MIG device's view: its MIG UUID, index "i:j", its GPU and compute
 * instance (so a fault scoped to one reaches only it, and a fault of the
 * GPU all of them: resources.c), the parent's NUMA node and /dev node,
 * and the two capability nodes a container needs; a device whose minors
 * /proc/driver/nvidia-caps/mig-minors does not give is an error naming
 * it, since a container given it could not open it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/mig_int.h"
#include "util/alloc.h"

#define CAP_NODE "/dev/nvidia-caps/nvidia-cap"

#define MAP_WRAP "error building device map: error building device map " \
	"from config.resources: "
#define INVALID_WRAP MAP_WRAP "invalid MIG configuration: "
#define EMPTY_WRAP INVALID_WRAP "at least one device with migEnabled=true " \
	"was not configured correctly: "

/* |m| of GPU |g| (position |gpu|) as a view; 0 or -EINVAL naming it. */
static int
mig_view(struct view *v, const struct gpu *g, size_t gpu,
    const struct mig_device *m, char *err, size_t errlen)
{
	const char *which = m->gi_cap_minor < 0 ? "GPU" :
	    m->ci_cap_minor < 0 ? "compute" : NULL;

	if (which != NULL) {
		snprintf(err, errlen, "MIG device %s (%u:%u) of GPU %s: "
		    "missing MIG %s instance capability path (not in "
		    "/proc/driver/nvidia-caps/mig-minors)", m->uuid, g->index,
		    m->index, g->uuid, which);
		return -EINVAL;
	}
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%s", m->uuid);
	if (snprintf(v->index_id, sizeof(v->index_id), "%u:%u", g->index,
	    m->index) >= (int)sizeof(v->index_id)) {
		snprintf(err, errlen, "MIG device %s: index %u:%u too long",
		    m->uuid, g->index, m->index);
		return -EINVAL;
	}
	snprintf(v->dev_path, sizeof(v->dev_path), "/dev/nvidia%u", g->minor);
	snprintf(v->caps[0], sizeof(v->caps[0]), CAP_NODE "%d",
	    m->gi_cap_minor);
	snprintf(v->caps[1], sizeof(v->caps[1]), CAP_NODE "%d",
	    m->ci_cap_minor);
	v->gpu = gpu;
	v->gi = m->gi;
	v->ci = m->ci;
	v->numa_node = g->numa_node;
	v->healthy = true;
	return 0;
}

/* Whether |a| and |b| have the same nvmlDeviceGetAttributes. */
static bool
same_attributes(const struct mig_device *a, const struct mig_device *b)
{
	return a->multiprocessors == b->multiprocessors &&
	    a->copy_engines == b->copy_engines &&
	    a->decoders == b->decoders && a->encoders == b->encoders &&
	    a->jpegs == b->jpegs && a->ofas == b->ofas &&
	    a->gi_slices == b->gi_slices && a->ci_slices == b->ci_slices &&
	    a->memory_mib == b->memory_mib;
}

/* The first GPU with MIG on and no MIG device, or NULL. */
static const struct gpu *
empty_mig_gpu(const struct inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		if (inv->gpus[i].mig_enabled && inv->gpus[i].n_migs == 0)
			return &inv->gpus[i];
	return NULL;
}

/* Whether every MIG device of |inv| has the same attributes. */
static bool
uniform_migs(const struct inventory *inv)
{
	const struct mig_device *first = NULL;

	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		for (size_t k = 0; g->mig_enabled && k < g->n_migs; k++) {
			if (first == NULL)
				first = &g->migs[k];
			else if (!same_attributes(first, &g->migs[k]))
				return false;
		}
	}
	return true;
}

/*
 * NVIDIA's checks for single, in its order and wrapped as its device map
 * wraps each: every GPU with MIG on has a MIG device, they are all
 * alike, and no GPU is without MIG beside them. 0 or -EINVAL.
 */
static int
single_valid(const struct inventory *inv, size_t whole, size_t migs,
    char *err, size_t errlen)
{
	const struct gpu *empty = empty_mig_gpu(inv);

	if (empty != NULL) {
		snprintf(err, errlen, EMPTY_WRAP "device %u has no MIG devices "
		    "configured", empty->index);
		return -EINVAL;
	}
	if (!uniform_migs(inv)) {
		snprintf(err, errlen, INVALID_WRAP "more than one MIG device "
		    "type present on node");
		return -EINVAL;
	}
	if (whole > 0 && migs > 0) {
		snprintf(err, errlen, MAP_WRAP "all devices on the node must be "
		    "configured with the same migEnabled value");
		return -EINVAL;
	}
	return 0;
}

/* Room for |n| views in |res|, one more so that 0 is not NULL. */
static int
reserve_views(struct resource *res, size_t n)
{
	res->views = gdp_calloc(n + 1, sizeof(*res->views));
	return res->views != NULL ? 0 : -ENOMEM;
}

/* A new resource at the end of |r| named |name|, room for |n| views. */
static struct resource *
add_resource(struct resources *r, const char *name, size_t n, int *rc,
    char *err, size_t errlen)
{
	struct resource *res = &r->res[r->n];

	res->all = r;
	if ((*rc = resources_name(res, name, err, errlen)) < 0 ||
	    (*rc = reserve_views(res, n)) < 0)
		return NULL;
	r->n++;
	return res;
}

/* Appends the whole view of every GPU without MIG on |res|. */
static void
add_whole_gpus(struct resource *res, const struct inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		if (!inv->gpus[i].mig_enabled)
			resources_whole_view(&res->views[res->n++],
			    &inv->gpus[i], i);
}

/*
 * Appends the view of every MIG device of |inv| whose profile is
 * |profile| (every one when NULL) to |res|, in GPU then MIG index order.
 */
static int
add_migs(struct resource *res, const struct inventory *inv,
    const char *profile, char *err, size_t errlen)
{
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		for (size_t k = 0; g->mig_enabled && k < g->n_migs; k++) {
			const struct mig_device *m = &g->migs[k];
			int rc;

			if (profile != NULL && strcmp(m->profile, profile) != 0)
				continue;
			rc = mig_view(&res->views[res->n], g, i, m, err, errlen);
			if (rc < 0)
				return rc;
			res->n++;
		}
	}
	return 0;
}

static size_t
count_migs(const struct inventory *inv, size_t *whole)
{
	size_t n = 0;

	*whole = 0;
	for (size_t i = 0; i < inv->n; i++) {
		if (inv->gpus[i].mig_enabled)
			n += inv->gpus[i].n_migs;
		else
			(*whole)++;
	}
	return n;
}

static int
build_single(struct resources *r, const struct inventory *inv,
    const struct resources_options *opts, char *err, size_t errlen)
{
	size_t whole, n = count_migs(inv, &whole);
	struct resource *res;
	int rc;

	if ((rc = single_valid(inv, whole, n, err, errlen)) < 0)
		return rc;
	if (n + whole == 0)
		return 0;
	if ((r->res = gdp_calloc(1, sizeof(*r->res))) == NULL)
		return -ENOMEM;
	res = add_resource(r, opts->resource_name, n + whole, &rc, err,
	    errlen);
	if (res == NULL)
		return rc;
	add_whole_gpus(res, inv);
	if ((rc = add_migs(res, inv, NULL, err, errlen)) < 0)
		return rc;
	return resource_index(res);
}

/* ---- mixed ---- */

/* One MIG profile of the node and its resource name. */
struct profile {
	const char *profile;     /* NVIDIA's name, in the inventory */
	char name[128];          /* "nvidia.com/mig-1g.10gb.me" */
	size_t n;                /* its MIG devices */
};

static int
profile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct profile *)a)->name,
	    ((const struct profile *)b)->name);
}

/* Whether |profile| names compute slices ("1c.2g.20gb": C < G). */
static bool
has_compute_slices(const char *profile)
{
	size_t digits = strspn(profile, "0123456789");

	return digits > 0 && profile[digits] == 'c';
}

/*
 * The resource name of |profile| under the domain of |gpu_name|
 * ("nvidia.com/gpu" -> "nvidia.com/mig-1g.10gb.me"); 0 or -EINVAL.
 */
static int
profile_name(const char *gpu_name, const char *profile, char *out,
    size_t len)
{
	const char *slash = strchr(gpu_name, '/');
	int domain = slash != NULL ? (int)(slash - gpu_name) : 0;
	int n = snprintf(out, len, "%.*s%smig-%s", domain, gpu_name,
	    slash != NULL ? "/" : "", profile);

	if (n < 0 || (size_t)n >= len)
		return -EINVAL;
	for (char *p = out; *p != '\0'; p++)
		if (*p == '+')
			*p = '.';
	return 0;
}

/* Adds |m|'s profile to |p| (|*np| so far) unless there already. */
static int
note_profile(struct profile *p, size_t *np, const struct mig_device *m,
    const char *gpu_name, char *err, size_t errlen)
{
	size_t k;

	if (has_compute_slices(m->profile)) {
		snprintf(err, errlen, MAP_WRAP "error building MIG device map: "
		    "MIG profile '%s' does not match any resource patterns",
		    m->profile);
		return -EINVAL;
	}
	for (k = 0; k < *np; k++)
		if (strcmp(p[k].profile, m->profile) == 0)
			break;
	if (k == *np) {
		p[k].profile = m->profile;
		p[k].n = 0;
		if (profile_name(gpu_name, m->profile, p[k].name,
		    sizeof(p[k].name)) < 0) {
			snprintf(err, errlen, "MIG profile '%s' cannot name a "
			    "resource", m->profile);
			return -EINVAL;
		}
		(*np)++;
	}
	p[k].n++;
	return 0;
}

/* The distinct profiles of |inv|, sorted by resource name. */
static int
collect_profiles(const struct inventory *inv, const char *gpu_name,
    struct profile *p, size_t *np, char *err, size_t errlen)
{
	*np = 0;
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		for (size_t k = 0; g->mig_enabled && k < g->n_migs; k++) {
			int rc = note_profile(p, np, &g->migs[k], gpu_name,
			    err, errlen);

			if (rc < 0)
				return rc;
		}
	}
	qsort(p, *np, sizeof(*p), profile_cmp);
	return 0;
}

static int
add_profiles(struct resources *r, const struct inventory *inv,
    const struct profile *p, size_t np, char *err, size_t errlen)
{
	for (size_t k = 0; k < np; k++) {
		int rc;
		struct resource *res = add_resource(r, p[k].name, p[k].n, &rc,
		    err, errlen);

		if (res == NULL)
			return rc;
		if ((rc = add_migs(res, inv, p[k].profile, err, errlen)) < 0 ||
		    (rc = resource_index(res)) < 0)
			return rc;
	}
	return 0;
}

static int
build_mixed(struct resources *r, const struct inventory *inv,
    const struct resources_options *opts, char *err, size_t errlen)
{
	size_t whole, n = count_migs(inv, &whole), np;
	struct profile *p = gdp_calloc(n + 1, sizeof(*p));
	struct resource *res;
	int rc;

	if (p == NULL)
		return -ENOMEM;
	rc = collect_profiles(inv, opts->resource_name, p, &np, err, errlen);
	if (rc == 0 && (r->res = gdp_calloc(np + 2, sizeof(*r->res))) == NULL)
		rc = -ENOMEM;
	if (rc == 0 && whole > 0) {
		res = add_resource(r, opts->resource_name, whole, &rc, err,
		    errlen);
		if (res != NULL) {
			add_whole_gpus(res, inv);
			rc = resource_index(res);
		}
	}
	if (rc == 0)
		rc = add_profiles(r, inv, p, np, err, errlen);
	gdp_free(p);
	return rc;
}

int
mig_build(struct resources *r, const struct inventory *inv,
    const struct resources_options *opts, char *err, size_t errlen)
{
	if (opts->mig_strategy == MIG_STRATEGY_SINGLE)
		return build_single(r, inv, opts, err, errlen);
	return build_mixed(r, inv, opts, err, errlen);
}
