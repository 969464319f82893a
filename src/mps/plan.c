/*
 * plan.c: the resource table's MPS-shared resources into a list of MPS
 * daemons (plan.h). A device's replicas are a run of views, n from 0
 * (resources.h): its first replica stands for the device. Limits follow
 * NVIDIA's daemon: memory / replicas in MiB, 100 / replicas percent.
 */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

static int
add_gpu(struct mps_daemon_plan *d, const struct gpu *g, unsigned replicas)
{
	struct mps_gpu *m = gdp_realloc(d->gpus, (d->n_gpus + 1) * sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	d->gpus = m;
	m = &d->gpus[d->n_gpus++];
	memset(m, 0, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "%s", g->uuid);
	m->index = g->index;
	m->replicas = replicas;
	m->limit_mib = g->memory_bytes / replicas / ((uint64_t)1 << 20);
	return 0;
}

static void
set_percentage(struct mps_daemon_plan *d)
{
	unsigned long most = 1;

	for (size_t i = 0; i < d->n_gpus; i++)
		if (d->gpus[i].replicas > most)
			most = d->gpus[i].replicas;
	d->thread_percentage = most >= 100 ? 1 : (unsigned)(100 / most);
}

/* The daemon of resource |r|, its devices from its views. */
static int
daemon_of(const struct resource *r, const struct inventory *inv,
    const char *root, struct mps_daemon_plan *d, char *err, size_t errlen)
{
	int rc = 0;

	if (strlen(root) + strlen(r->name) + 2 > MPS_DIR_MAX) {
		snprintf(err, errlen, "--mps-root %s: too long for the MPS "
		    "directories of %s", root, r->name);
		return -EINVAL;
	}
	snprintf(d->resource, sizeof(d->resource), "%s", r->name);
	snprintf(d->dir, sizeof(d->dir), "%s/%s", root, r->name);
	snprintf(d->pipe_dir, sizeof(d->pipe_dir), "%s/pipe", d->dir);
	snprintf(d->log_dir, sizeof(d->log_dir), "%s/log", d->dir);
	snprintf(d->shm_dir, sizeof(d->shm_dir), "%s/shm", root);
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const struct view *v = &r->views[i];

		if (v->replicas == 0 || v->replica != 0)
			continue;
		if (v->gi != RESOURCES_WHOLE || v->gpu >= inv->n) {
			snprintf(err, errlen, "%s: %s: sharing using MPS is "
			    "not supported for MIG devices", r->name,
			    v->dev_id);
			return -EINVAL;
		}
		rc = add_gpu(d, &inv->gpus[v->gpu], v->replicas);
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	set_percentage(d);
	return rc;
}

int
mps_plan_build(const struct resources *res, const struct inventory *inv,
    const char *root, struct mps_plan **out, char *err, size_t errlen)
{
	struct mps_plan *p = gdp_calloc(1, sizeof(*p));
	int rc = 0;

	*out = NULL;
	if (p == NULL || (p->daemons = gdp_calloc(res->n + 1,
	    sizeof(*p->daemons))) == NULL) {
		gdp_free(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < res->n; i++) {
		if (res->res[i].sharing != SHARE_MPS)
			continue;
		rc = daemon_of(&res->res[i], inv, root, &p->daemons[p->n++],
		    err, errlen);
		if (rc == 0 && p->daemons[p->n - 1].n_gpus == 0)
			p->n--;
	}
	if (rc < 0) {
		mps_plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void
mps_plan_free(struct mps_plan *plan)
{
	if (plan == NULL)
		return;
	for (size_t i = 0; i < plan->n; i++)
		gdp_free(plan->daemons[i].gpus);
	gdp_free(plan->daemons);
	gdp_free(plan);
}

bool
mps_daemon_plan_equal(const struct mps_daemon_plan *a,
    const struct mps_daemon_plan *b)
{
	if (strcmp(a->resource, b->resource) != 0 ||
	    strcmp(a->dir, b->dir) != 0 || a->n_gpus != b->n_gpus ||
	    a->thread_percentage != b->thread_percentage)
		return false;
	for (size_t i = 0; i < a->n_gpus; i++)
		if (strcmp(a->gpus[i].uuid, b->gpus[i].uuid) != 0 ||
		    a->gpus[i].replicas != b->gpus[i].replicas ||
		    a->gpus[i].limit_mib != b->gpus[i].limit_mib)
			return false;
	return true;
}
