/*
 * resources.c: building the resource table from the inventory, looking
 * views up by id, and the fan-out of physical health to views (see
 * resources.h). The answers to the kubelet's calls are in answers.c.
 */
#include "resources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "resources/mig_int.h"
#include "util/alloc.h"

const char *const resources_control_nodes[RESOURCES_CONTROL_NODES] = {
	"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
	"/dev/nvidia-modeset",
};

/* "nvidia.com/gpu" -> "nvidia-gpu.sock", NVIDIA's naming. */
int
resources_socket_name(const char *resource, char *out, size_t len)
{
	const char *slash = strchr(resource, '/');
	const char *base = slash != NULL ? slash + 1 : resource;
	int n;

	if (base[0] == '\0' || strchr(base, '/') != NULL)
		return -EINVAL;
	n = snprintf(out, len, "nvidia-%s.sock", base);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

/* The PCIe level of GPUs |i| and |j| (from NUMA nodes where NVML gave
 * none), in topo.h's terms. */
static enum gdp_pcie_level
pair_level(const struct inventory *inv, size_t i, size_t j)
{
	int level = inventory_pcie_level(inv, i, j);

	if (level < NVML_TOPOLOGY_INTERNAL || level > NVML_TOPOLOGY_SYSTEM ||
	    level % 10 != 0)
		return GDP_PCIE_UNKNOWN;
	return (enum gdp_pcie_level)(GDP_PCIE_INTERNAL + level / 10);
}

/*
 * Pair scores from the inventory's link graph: NVLinks, direct or through
 * an NVSwitch fabric, then the PCIe level (from NUMA nodes where NVML
 * gave none); none past 16 GPUs.
 */
static void
topo_from_inventory(struct gdp_topo *t, const struct inventory *inv)
{
	memset(t, 0, sizeof(*t));
	if (inv->n > GDP_TOPO_MAX)
		return;
	t->n = (unsigned)inv->n;
	for (size_t i = 0; i < inv->n; i++)
		for (size_t j = 0; j < inv->n; j++) {
			const struct gpu_pair *p = inventory_pair(inv, i, j);
			unsigned links = p != NULL ? p->nvlinks + p->fabric : 0;

			t->score[i][j] = i == j ? 0 :
			    gdp_topo_pair_score(links, pair_level(inv, i, j));
		}
}

void
resources_whole_view(struct view *v, const struct gpu *g, size_t gpu)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%s", g->uuid);
	snprintf(v->index_id, sizeof(v->index_id), "%u", g->index);
	snprintf(v->dev_path, sizeof(v->dev_path), "/dev/nvidia%u", g->minor);
	v->gpu = gpu;
	v->gi = v->ci = RESOURCES_WHOLE;
	v->numa_node = g->numa_node;
	v->healthy = true;
}

static int
by_id_cmp(const void *a, const void *b, void *views)
{
	const struct view *v = views;

	return strcmp(v[*(const size_t *)a].id, v[*(const size_t *)b].id);
}

int
resource_index(struct resource *r)
{
	size_t unit = 0;

	gdp_free(r->by_id);
	r->by_id = gdp_calloc(r->n + 1, sizeof(*r->by_id));
	if (r->by_id == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		struct view *v = &r->views[i];

		r->by_id[i] = i;
		v->id_len = strlen(v->id);
		if (v->replicas == 0)
			memcpy(v->dev_id, v->id, v->id_len + 1);
		v->dev_id_len = strlen(v->dev_id);
		/* A device's views are in a row, replica 0 first. */
		if (v->replicas == 0 || v->replica == 0)
			unit++;
		v->unit = unit - 1;
	}
	r->n_units = unit;
	qsort_r(r->by_id, r->n, sizeof(*r->by_id), by_id_cmp, r->views);
	return 0;
}

int
resources_name(struct resource *r, const char *name, char *err,
    size_t errlen)
{
	if (snprintf(r->name, sizeof(r->name), "%s", name) >=
	    (int)sizeof(r->name) || resources_socket_name(name,
	    r->socket_name, sizeof(r->socket_name)) < 0) {
		snprintf(err, errlen, "resource name \"%s\" cannot name a "
		    "socket", name);
		return -EINVAL;
	}
	return 0;
}

/* nvidia.com/gpu: one view per whole GPU, in inventory order. */
static int
build_gpu_resource(struct resource *r, const struct inventory *inv,
    const char *name, char *err, size_t errlen)
{
	if (resources_name(r, name, err, errlen) < 0)
		return -EINVAL;
	r->views = gdp_calloc(inv->n + 1, sizeof(*r->views));
	if (r->views == NULL)
		return -ENOMEM;
	r->n = inv->n;
	for (size_t i = 0; i < inv->n; i++)
		resources_whole_view(&r->views[i], &inv->gpus[i], i);
	return resource_index(r);
}

/* getrandom(2), whole or not at all. */
static int
system_random(void *buf, size_t len)
{
	ssize_t n = getrandom(buf, len, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* What the strategies need, from |opts| (checked by the caller). */
static void
copy_strategy_options(struct resources *r,
    const struct resources_options *opts)
{
	const char *prefix = opts->cdi_annotation_prefix != NULL ?
	    opts->cdi_annotation_prefix : RESOURCES_CDI_PREFIX;

	r->strategies = opts->strategies != 0 ? opts->strategies :
	    STRATEGY_ENVVAR;
	r->pass_device_specs = opts->pass_device_specs;
	r->gdrcopy = opts->gdrcopy;
	r->gds = opts->gds;
	r->mofed = opts->mofed;
	r->n_imex = opts->n_imex < RESOURCES_MAX_IMEX ? opts->n_imex :
	    RESOURCES_MAX_IMEX;
	memcpy(r->imex, opts->imex, r->n_imex * sizeof(r->imex[0]));
	snprintf(r->cdi_annotation_prefix, sizeof(r->cdi_annotation_prefix),
	    "%s", prefix);
	r->random = opts->random != NULL ? opts->random : system_random;
	memcpy(r->control_present, opts->control_present,
	    sizeof(r->control_present));
	r->policy = opts->policy;
}

bool
resources_set_control_nodes(struct resources *r,
    const bool present[RESOURCES_CONTROL_NODES])
{
	bool changed = memcmp(r->control_present, present,
	    sizeof(r->control_present)) != 0;

	memcpy(r->control_present, present, sizeof(r->control_present));
	return changed;
}

const char *
resources_view_id(const struct resources *r, const struct view *v)
{
	return r->id_strategy == ID_STRATEGY_INDEX ? v->index_id : v->dev_id;
}

size_t
resources_view_id_len(const struct resources *r, const struct view *v)
{
	return r->id_strategy == ID_STRATEGY_INDEX ? strlen(v->index_id) :
	    v->dev_id_len;
}

static const char *const strategy_names[] = {
	"envvar", "volume-mounts", "cdi-annotations", "cdi-cri",
};

int
strategies_parse(const char *list, unsigned *out, char *err, size_t errlen)
{
	unsigned set = 0;
	const char *at = list;

	for (;;) {
		size_t len = strcspn(at, ",");
		size_t i;

		for (i = 0; i < 4; i++)
			if (strlen(strategy_names[i]) == len &&
			    strncmp(at, strategy_names[i], len) == 0)
				break;
		if (i == 4) {
			snprintf(err, errlen, "invalid --device-list-strategy "
			    "option: invalid strategy: %.*s", (int)len, at);
			return -EINVAL;
		}
		set |= 1u << i;
		if (at[len] == '\0')
			break;
		at += len + 1;
	}
	*out = set;
	return 0;
}

/* The whole GPUs, or the MIG strategy's resources, of |inv| into |r|. */
static int
build_base(struct resources *r, const struct inventory *inv,
    const struct resources_options *opts, char *err, size_t errlen)
{
	if (opts->mig_strategy != MIG_STRATEGY_NONE)
		return mig_build(r, inv, opts, err, errlen);
	if (inv->n == 0)
		return 0;
	r->res = gdp_calloc(1, sizeof(*r->res));
	if (r->res == NULL)
		return -ENOMEM;
	r->n = 1;
	r->res[0].all = r;
	return build_gpu_resource(&r->res[0], inv, opts->resource_name, err,
	    errlen);
}

/* The roots given, checked: 0, or -EINVAL naming the one too long. */
static int
check_roots(const struct resources_options *opts, const char *dev_root,
    char *err, size_t errlen)
{
	const char *mps = opts->sharing_mps && opts->mps_root != NULL ?
	    opts->mps_root : "";

	if (strlen(dev_root) >= sizeof(((struct resources *)0)->dev_root)) {
		snprintf(err, errlen, "--dev-root is longer than %zu bytes",
		    sizeof(((struct resources *)0)->dev_root) - 1);
		return -EINVAL;
	}
	if (strlen(mps) >= RESOURCES_MPS_ROOT_MAX) {
		snprintf(err, errlen, "--mps-root is longer than %d bytes",
		    RESOURCES_MPS_ROOT_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

int
resources_build(const struct inventory *inv,
    const struct resources_options *opts, struct resources **out,
    char *err, size_t errlen)
{
	const char *dev_root = opts->dev_root != NULL ? opts->dev_root : "/";
	struct resources *r;
	int rc;

	if ((rc = check_roots(opts, dev_root, err, errlen)) < 0)
		return rc;
	r = gdp_calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	/* "/" and "/host/" prefix "/dev/..." as "" and "/host". */
	snprintf(r->dev_root, sizeof(r->dev_root), "%s", dev_root);
	for (size_t n = strlen(r->dev_root); n > 0 &&
	    r->dev_root[n - 1] == '/'; n--)
		r->dev_root[n - 1] = '\0';
	if (opts->sharing_mps && opts->mps_root != NULL)
		snprintf(r->mps_root, sizeof(r->mps_root), "%s",
		    opts->mps_root);
	for (size_t n = strlen(r->mps_root); n > 0 &&
	    r->mps_root[n - 1] == '/'; n--)
		r->mps_root[n - 1] = '\0';
	r->id_strategy = opts->id_strategy;
	copy_strategy_options(r, opts);
	r->ngpus = inv->n;
	topo_from_inventory(&r->topo, inv);
	rc = build_base(r, inv, opts, err, errlen);
	if (rc == 0)
		rc = replicas_apply(r, opts, err, errlen);
	if (rc < 0) {
		resources_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void
resources_free(struct resources *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->res != NULL && i < r->n; i++) {
		gdp_free(r->res[i].views);
		gdp_free(r->res[i].by_id);
	}
	gdp_free(r->res);
	gdp_free(r);
}

bool
resource_same_list(const struct resource *a, const struct resource *b)
{
	if (a->n != b->n || strcmp(a->name, b->name) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct view *x = &a->views[i], *y = &b->views[i];

		if (strcmp(x->id, y->id) != 0 ||
		    resource_view_healthy(a, x) != resource_view_healthy(b, y) ||
		    x->numa_node != y->numa_node)
			return false;
	}
	return true;
}

bool
resource_same_answers(const struct resource *a, const struct resource *b)
{
	const struct resources *x = a->all, *y = b->all;

	if (x->id_strategy != y->id_strategy ||
	    x->strategies != y->strategies ||
	    x->gdrcopy != y->gdrcopy || x->gds != y->gds ||
	    x->mofed != y->mofed || x->n_imex != y->n_imex ||
	    memcmp(x->imex, y->imex, x->n_imex * sizeof(x->imex[0])) != 0 ||
	    strcmp(x->cdi_annotation_prefix, y->cdi_annotation_prefix) != 0 ||
	    x->pass_device_specs != y->pass_device_specs ||
	    strcmp(x->dev_root, y->dev_root) != 0 ||
	    memcmp(x->control_present, y->control_present,
	    sizeof(x->control_present)) != 0 || x->policy != y->policy ||
	    strcmp(x->mps_root, y->mps_root) != 0 ||
	    a->sharing != b->sharing || a->fail_requests_greater_than_one !=
	    b->fail_requests_greater_than_one || a->withheld != b->withheld)
		return false;
	for (size_t i = 0; i < b->n; i++) {
		const struct view *v = &b->views[i];
		const struct view *w = resource_find(a, v->id, v->id_len);

		if (w != NULL && (strcmp(w->index_id, v->index_id) != 0 ||
		    strcmp(w->dev_id, v->dev_id) != 0 || w->unit != v->unit ||
		    w->replicas != v->replicas ||
		    strcmp(w->dev_path, v->dev_path) != 0 ||
		    memcmp(w->caps, v->caps, sizeof(w->caps)) != 0))
			return false;
	}
	return true;
}

/* strcmp of |id| (|len| bytes, maybe not NUL-terminated) with |v|'s. */
static int
id_cmp(const char *id, size_t len, const struct view *v)
{
	size_t slen = v->id_len;
	int c = memcmp(id, v->id, len < slen ? len : slen);

	resources_id_compares++;
	if (c != 0)
		return c;
	return len < slen ? -1 : len > slen;
}

const struct view *
resource_find(const struct resource *r, const char *id, size_t len)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct view *v = &r->views[r->by_id[mid]];
		int c = id_cmp(id, len, v);

		if (c == 0)
			return v;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- health ---- */

static bool
fault_hits(const struct view *v, const struct health_instance_fault *f)
{
	if (f->gpu != v->gpu)
		return false;
	if (v->gi == RESOURCES_WHOLE)
		return true; /* a whole-GPU view shares every instance */
	return f->gi == v->gi && (f->ci == HEALTH_WHOLE || f->ci == v->ci);
}

/* |reason|, or |fallback| when a caller left it empty. */
static const char *
or_else(const char *reason, const char *fallback)
{
	return reason != NULL && reason[0] != '\0' ? reason : fallback;
}

/* The reason |v| is unhealthy, or NULL when it is healthy. */
static const char *
view_fault(const struct view *v, const struct health_snapshot *snap)
{
	if (v->gpu >= snap->ngpus)
		return "the GPU is no longer known";
	if (!snap->gpus[v->gpu].healthy)
		return or_else(snap->gpus[v->gpu].reason, "unhealthy");
	for (size_t k = 0; k < snap->nfaults; k++)
		if (fault_hits(v, &snap->faults[k]))
			return or_else(snap->faults[k].reason,
			    "a fault of one of its MIG instances");
	return NULL;
}

bool
resources_set_health(struct resources *r, const struct health_snapshot *snap)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		struct resource *res = &r->res[i];

		for (size_t k = 0; k < res->n; k++) {
			struct view *v = &res->views[k];
			const char *why = view_fault(v, snap);

			snprintf(v->reason, sizeof(v->reason), "%s",
			    why != NULL ? why : "");
			if (v->healthy == (why == NULL))
				continue;
			v->healthy = why == NULL;
			res->changed = true;
			any = true;
		}
	}
	return any;
}

bool
resource_view_healthy(const struct resource *r, const struct view *v)
{
	return v->healthy && !r->withheld;
}

bool
resources_withhold(struct resource *r, bool withhold, const char *reason)
{
	bool was = r->withheld;

	snprintf(r->withheld_reason, sizeof(r->withheld_reason), "%s",
	    withhold ? or_else(reason, "withheld") : "");
	r->withheld = withhold;
	if (was == withhold)
		return false;
	r->changed = true;
	return true;
}
