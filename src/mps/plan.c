/*
 * plan.c: sharing.mps and the GPUs into a list of MPS daemons (plan.h).
 *
 * Each entry of sharing.mps.resources selects GPUs; the entries of one
 * resource name make one daemon (entries may give different GPUs
 * different replica counts), and a GPU belongs to at most one entry, so
 * that no GPU has two daemons or two shares. Limits follow NVIDIA's
 * daemon: memory / replicas in MiB, 100 / replicas percent.
 */
#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define NO_ENTRY ((size_t)-1)

struct builder {
	const struct cfgfile_sharing *mps;
	const struct inventory *inv;
	const char *root;
	struct mps_plan *plan;
	size_t *owner;                  /* entry of each GPU, NO_ENTRY */
	char *err;
	size_t errlen;
};

static const char *
where_of(const struct cfgfile_sharing *mps)
{
	return mps->where != NULL ? mps->where : "sharing.mps";
}

static bool
plan_active(const struct cfgfile_sharing *mps)
{
	for (size_t i = 0; mps != NULL && i < mps->n_resources; i++)
		if (mps->resources[i].replicas > 1)
			return true;
	return false;
}

/* The name the entry is advertised under (NVIDIA's rename rules). */
static int
advertised(const struct cfgfile_sharing *mps,
    const struct cfgfile_replicated *e, char *out, size_t len)
{
	int n;

	if (e->rename != NULL && e->rename[0] != '\0')
		n = snprintf(out, len, "%s", e->rename);
	else
		n = snprintf(out, len, "%s%s", e->name,
		    mps->rename_by_default ? ".shared" : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* The GPU an item of a devices list names, or -1 with |b->err| set. */
static long
listed_gpu(struct builder *b, size_t entry, const char *item)
{
	const struct gpu *g;

	if (strchr(item, ':') != NULL || strncmp(item, "MIG-", 4) == 0) {
		snprintf(b->err, b->errlen, "%s.resources[%zu].devices: %s: "
		    "sharing using MPS is not supported for MIG devices",
		    where_of(b->mps), entry, item);
		return -1;
	}
	if (all_digits(item)) {
		unsigned long idx = strtoul(item, NULL, 10);

		for (size_t i = 0; i < b->inv->n; i++)
			if (b->inv->gpus[i].index == idx)
				return (long)i;
		snprintf(b->err, b->errlen, "%s.resources[%zu].devices: %s: "
		    "no GPU with that index on this node (%zu GPU(s))",
		    where_of(b->mps), entry, item, b->inv->n);
		return -1;
	}
	g = inventory_find(b->inv, item);
	if (g != NULL)
		return (long)(g - b->inv->gpus);
	snprintf(b->err, b->errlen, "%s.resources[%zu].devices: %s: no GPU "
	    "with that UUID on this node", where_of(b->mps), entry, item);
	return -1;
}

/* The daemon for |name|, added if new; NULL when out of memory. */
static struct mps_daemon_plan *
daemon_of(struct builder *b, const char *name)
{
	struct mps_plan *p = b->plan;
	struct mps_daemon_plan *d;

	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->daemons[i].resource, name) == 0)
			return &p->daemons[i];
	d = gdp_realloc(p->daemons, (p->n + 1) * sizeof(*d));
	if (d == NULL)
		return NULL;
	p->daemons = d;
	d = &p->daemons[p->n++];
	memset(d, 0, sizeof(*d));
	snprintf(d->resource, sizeof(d->resource), "%s", name);
	snprintf(d->dir, sizeof(d->dir), "%s/%s", b->root, name);
	snprintf(d->pipe_dir, sizeof(d->pipe_dir), "%s/pipe", d->dir);
	snprintf(d->log_dir, sizeof(d->log_dir), "%s/log", d->dir);
	return d;
}

static int
add_gpu(struct builder *b, size_t entry, struct mps_daemon_plan *d,
    size_t gi)
{
	const struct gpu *g = &b->inv->gpus[gi];
	unsigned long replicas = b->mps->resources[entry].replicas;
	struct mps_gpu *m;

	if (g->mig_enabled) {
		snprintf(b->err, b->errlen, "%s.resources[%zu]: GPU %u (%s) "
		    "has MIG on: sharing using MPS is not supported for MIG "
		    "devices", where_of(b->mps), entry, g->index, g->uuid);
		return -EINVAL;
	}
	if (b->owner[gi] != NO_ENTRY) {
		snprintf(b->err, b->errlen, "%s.resources[%zu]: GPU %u (%s) "
		    "is already shared by sharing.mps.resources[%zu]",
		    where_of(b->mps), entry, g->index, g->uuid, b->owner[gi]);
		return -EINVAL;
	}
	b->owner[gi] = entry;
	m = gdp_realloc(d->gpus, (d->n_gpus + 1) * sizeof(*m));
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

/* The GPUs of entry |entry| into |d|. */
static int
add_entry_gpus(struct builder *b, size_t entry, struct mps_daemon_plan *d)
{
	const struct cfgfile_replicated *e = &b->mps->resources[entry];
	int rc = 0;

	if (e->devices == CFGFILE_DEVICES_LIST) {
		for (size_t i = 0; rc == 0 && i < e->n_list; i++) {
			long gi = listed_gpu(b, entry, e->list[i]);

			rc = gi < 0 ? -EINVAL : add_gpu(b, entry, d,
			    (size_t)gi);
		}
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < b->inv->n; i++)
		if (e->devices == CFGFILE_DEVICES_ALL || i < e->count)
			rc = add_gpu(b, entry, d, i);
	return rc;
}

static void
finish_daemon(struct mps_daemon_plan *d)
{
	unsigned long most = 1;

	for (size_t i = 0; i < d->n_gpus; i++)
		if (d->gpus[i].replicas > most)
			most = d->gpus[i].replicas;
	d->thread_percentage = most >= 100 ? 1 : (unsigned)(100 / most);
}

static int
add_entry(struct builder *b, size_t entry, const char *resource_name,
    void (*note)(const char *, void *), void *arg)
{
	const struct cfgfile_replicated *e = &b->mps->resources[entry];
	struct mps_daemon_plan *d;
	char name[128], msg[512];

	if (strcmp(e->name, resource_name) != 0) {
		snprintf(msg, sizeof(msg), "%s.resources[%zu]: %s matches no "
		    "resource of this node (GPUs are %s): skipped",
		    where_of(b->mps), entry, e->name, resource_name);
		if (note != NULL)
			note(msg, arg);
		return 0;
	}
	if (advertised(b->mps, e, name, sizeof(name)) < 0 ||
	    strlen(b->root) + strlen(name) + 2 > MPS_DIR_MAX) {
		snprintf(b->err, b->errlen, "%s.resources[%zu]: the name or "
		    "the MPS root is too long", where_of(b->mps), entry);
		return -EINVAL;
	}
	d = daemon_of(b, name);
	if (d == NULL)
		return -ENOMEM;
	return add_entry_gpus(b, entry, d);
}

/* Drops daemons left with no GPU (a count of GPUs the node lacks). */
static void
drop_empty(struct mps_plan *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (p->daemons[i].n_gpus == 0)
			continue;
		finish_daemon(&p->daemons[i]);
		p->daemons[k++] = p->daemons[i];
	}
	p->n = k;
}

int
mps_plan_build(const struct cfgfile_sharing *mps, const char *root,
    const char *resource_name, const struct inventory *inv,
    struct mps_plan **out, char *err, size_t errlen,
    void (*note)(const char *msg, void *arg), void *arg)
{
	struct builder b = { mps, inv, root, NULL, NULL, err, errlen };
	int rc = 0;

	*out = NULL;
	b.plan = gdp_calloc(1, sizeof(*b.plan));
	b.owner = gdp_calloc(inv->n + 1, sizeof(*b.owner));
	if (b.plan == NULL || b.owner == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < inv->n; i++)
		b.owner[i] = NO_ENTRY;
	for (size_t i = 0; rc == 0 && plan_active(mps) &&
	    i < mps->n_resources; i++)
		rc = add_entry(&b, i, resource_name, note, arg);
	if (rc == 0) {
		drop_empty(b.plan);
		*out = b.plan;
		b.plan = NULL;
	}
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	mps_plan_free(b.plan);
	gdp_free(b.owner);
	return rc;
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
