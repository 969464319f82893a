/*
 * share_bench.c: the ListAndWatch message of a shared resource (issue 13):
 * 8 GPUs x 64 replicas (time-slicing), and 8 GPUs x 7 MIG devices
 * (mixed, one 1g profile), from hand-built inventories.
 *
 * For each: the message's size in bytes, the bound the build checks
 * against the kubelet's 4 MiB (resource_list_bytes: every device
 * Unhealthy), the time to build the resource table once (what a discovery
 * or reload costs) and the time per message (resource_list and
 * protobuf-c packing: what each health change costs). The reference,
 * measured in the same run, shares none of src/resources: the same ids
 * written with snprintf into malloc'd Device structs, packed with
 * protobuf-c, and freed, as a plugin with no precomputed views would do
 * it per message. Thread CPU time, many messages averaged.
 *
 * Usage: share_bench [MESSAGES]   (default 20000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deviceplugin.pb-c.h"
#include "resources/resources.h"

#define NGPUS 8
#define REPLICAS 64
#define MIGS 7

static struct gpu gpus[NGPUS];
static struct mig_device migs[NGPUS][MIGS];
static struct inventory inv = { gpus, NGPUS, "550.90.07", 12040, NULL, 0,
	NULL, 0, NULL, 0 };

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* 8 GPUs on 2 NUMA nodes; with |mig|, 7 1g.10gb MIG devices each. */
static void
machine(bool mig)
{
	for (unsigned i = 0; i < NGPUS; i++) {
		struct gpu *g = &gpus[i];

		memset(g, 0, sizeof(*g));
		g->index = i;
		g->minor = i;
		g->numa_node = (int)i / 4;
		snprintf(g->uuid, sizeof(g->uuid), "GPU-%08x-1111-2222-3333-"
		    "444455556666", 0xabc00000u + i);
		g->migs = migs[i];
		for (unsigned k = 0; mig && k < MIGS; k++) {
			struct mig_device *m = &migs[i][k];

			memset(m, 0, sizeof(*m));
			snprintf(m->uuid, sizeof(m->uuid), "MIG-%08x-1111-2222-"
			    "3333-444455556666", 0xdef00000u + i * 16 + k);
			m->index = k;
			m->gi = 7 + k;
			m->gi_slices = m->ci_slices = 1;
			m->multiprocessors = 16;
			m->memory_mib = 9856;
			snprintf(m->profile, sizeof(m->profile), "1g.10gb");
			m->gi_cap_minor = (int)(10 + i * 20 + k);
			m->ci_cap_minor = (int)(200 + i * 20 + k);
		}
		g->mig_enabled = mig;
		g->n_migs = mig ? MIGS : 0;
	}
}

static struct cfgfile_replicated rule = { .name = "nvidia.com/gpu",
	.devices = CFGFILE_DEVICES_ALL, .replicas = REPLICAS,
	.where = "bench" };
static struct cfgfile_sharing sharing = { .present = true,
	.fail_requests_greater_than_one = -1, .resources = &rule,
	.n_resources = 1, .where = "bench" };

static struct resources *
build(bool mig)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.mig_strategy = mig ? MIG_STRATEGY_MIXED : MIG_STRATEGY_NONE,
		.sharing = mig ? NULL : &sharing };
	struct resources *r = NULL;
	char err[512];

	if (resources_build(&inv, &o, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "share_bench: %s\n", err);
		exit(1);
	}
	return r;
}

/* Ours: the message from the views, packed. */
static double
ours(const struct resource *res, uint8_t *buf, int reps, size_t *bytes)
{
	double t0 = now_ns();

	for (int i = 0; i < reps; i++) {
		struct arena a = ARENA_IN(NULL, 0);
		ProtobufCMessage *m = resource_list(res, &a);

		if (m == NULL)
			exit(1);
		*bytes = protobuf_c_message_pack(m, buf);
		arena_free(&a);
	}
	return (now_ns() - t0) / reps;
}

/* The reference: ids by snprintf into malloc'd Devices, packed, freed.
 * |replicas| 0: the plain ids |ids| (MIG devices). */
static double
reference(char (*ids)[48], size_t nids, unsigned replicas,
    const int *numa, uint8_t *buf, int reps, size_t *bytes)
{
	size_t n = replicas > 0 ? nids * replicas : nids;
	double t0 = now_ns();

	for (int i = 0; i < reps; i++) {
		V1beta1__ListAndWatchResponse resp =
		    V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
		V1beta1__Device **devs = malloc(n * sizeof(*devs));

		for (size_t d = 0; d < n; d++) {
			size_t g = replicas > 0 ? d / replicas : d;
			V1beta1__Device *dev = malloc(sizeof(*dev));
			V1beta1__TopologyInfo *t = malloc(sizeof(*t));
			V1beta1__NUMANode *node = malloc(sizeof(*node));
			V1beta1__NUMANode **np = malloc(sizeof(*np));
			char *id = malloc(64);

			v1beta1__device__init(dev);
			v1beta1__topology_info__init(t);
			v1beta1__numanode__init(node);
			if (replicas > 0)
				snprintf(id, 64, "%.47s::%zu", ids[g],
				    d % replicas);
			else
				snprintf(id, 64, "%.47s", ids[g]);
			node->id = numa[g];
			*np = node;
			t->nodes = np;
			t->n_nodes = 1;
			dev->id = id;
			dev->health = "Healthy";
			dev->topology = t;
			devs[d] = dev;
		}
		resp.devices = devs;
		resp.n_devices = n;
		*bytes = protobuf_c_message_pack(&resp.base, buf);
		for (size_t d = 0; d < n; d++) {
			free(devs[d]->id);
			free(devs[d]->topology->nodes[0]);
			free(devs[d]->topology->nodes);
			free(devs[d]->topology);
			free(devs[d]);
		}
		free(devs);
	}
	return (now_ns() - t0) / reps;
}

static void
run(const char *what, bool mig, int reps, uint8_t *buf)
{
	char ids[NGPUS * MIGS][48];
	int numa[NGPUS * MIGS];
	size_t nids = 0, ob = 0, rb = 0;
	double b0, b1, o, ref;
	struct resources *r;
	const struct resource *res;
	int breps = reps / 20 > 0 ? reps / 20 : 1;

	machine(mig);
	b0 = now_ns();
	for (int i = 1; i < breps; i++)
		resources_free(build(mig));
	r = build(mig);
	b1 = now_ns();
	res = &r->res[r->n - 1];
	for (size_t i = 0; i < NGPUS; i++) {
		for (size_t k = 0; mig && k < MIGS; k++) {
			snprintf(ids[nids], sizeof(ids[0]), "%s",
			    migs[i][k].uuid);
			numa[nids++] = gpus[i].numa_node;
		}
		if (!mig) {
			snprintf(ids[nids], sizeof(ids[0]), "%s", gpus[i].uuid);
			numa[nids++] = gpus[i].numa_node;
		}
	}
	o = ours(res, buf, reps, &ob);
	ref = reference(ids, nids, mig ? 0 : REPLICAS, numa, buf, reps, &rb);
	printf("%-26s %-24s %6zu %8zu %6zu %10.0f %9.0f %9.0f %6.2f\n", what,
	    res->name, res->n, ob, resource_list_bytes(res),
	    (b1 - b0) / breps, o, ref, o / ref);
	if (ob != rb)
		printf("  sizes differ: ours %zu, reference %zu\n", ob, rb);
	resources_free(r);
}

int
main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 20000;
	uint8_t *buf;

	if (reps <= 0 || (buf = malloc((size_t)1 << 20)) == NULL)
		return 2;
	printf("%-26s %-24s %6s %8s %6s %10s %9s %9s %6s\n", "machine",
	    "resource", "ids", "bytes", "bound", "build ns", "list ns",
	    "ref ns", "ratio");
	run("8 GPUs x 64 replicas", false, reps, buf);
	run("8 GPUs x 7 MIG (mixed)", true, reps, buf);
	free(buf);
	return 0;
}
