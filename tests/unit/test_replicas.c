/*
 * test_replicas.c: sharing devices by replicas (resources/replicas.c,
 * spread.c), reached through the resource core's public functions: the
 * config's sharing section as the parser gives it (struct
 * cfgfile_sharing, written here by hand), a hand-built inventory, and
 * requests as protobuf-c structs, as the gRPC layer hands them over.
 *
 * What is held: replica ids <uuid>::<n> from 0; renames and the devices
 * each entry shares (all, a count, GPU and MIG indices, UUIDs), so per-
 * device counts; the errors only a node can show, naming the config
 * lines; the 4 MiB ListAndWatch bound, computed exactly (checked against
 * protobuf-c's packed size); Allocate of replicas giving their devices
 * once, NVIDIA's one-replica rule in its words; MPS's env and mounts;
 * health of a GPU reaching all its replicas; the allocation policies;
 * the withhold hook for the MPS daemon.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"
#include "resources/resources.h"

#define NGPUS 4
#define MAX_MIGS 4

static struct gpu gpus[NGPUS];
static struct mig_device migs[NGPUS][MAX_MIGS];
static struct inventory inv;

/* |n| GPUs: GPU i is GPU-i000..., minor 10+i, NUMA node i/2. */
static void
machine(size_t n)
{
	memset(&inv, 0, sizeof(inv));
	inv.gpus = gpus;
	inv.n = n;
	for (size_t i = 0; i < n; i++) {
		memset(&gpus[i], 0, sizeof(gpus[i]));
		gpus[i].index = (unsigned)i;
		gpus[i].minor = 10 + (unsigned)i;
		gpus[i].numa_node = (int)i / 2;
		gpus[i].migs = migs[i];
		snprintf(gpus[i].uuid, sizeof(gpus[i].uuid),
		    "GPU-%zu0000000-0000-0000-0000-000000000000", i);
	}
}

/* A 1g.5gb MIG device on GPU |g| in GPU instance |gi|. */
static void
add_mig(size_t g, unsigned gi)
{
	struct gpu *gpu = &gpus[g];
	struct mig_device *m = &migs[g][gpu->n_migs];

	memset(m, 0, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "MIG-%zu%zu000000-0000-0000-0000-"
	    "000000000000", g, gpu->n_migs);
	m->index = (unsigned)gpu->n_migs;
	m->gi = gi;
	m->gi_slices = m->ci_slices = 1;
	m->multiprocessors = 14;
	m->memory_mib = 4864;
	snprintf(m->profile, sizeof(m->profile), "1g.5gb");
	m->gi_cap_minor = (int)(g * 100 + 10 + gi);
	m->ci_cap_minor = (int)(g * 100 + 50 + gi);
	gpu->mig_enabled = true;
	gpu->n_migs++;
}

/* ---- the sharing section, as the parser gives it ---- */

#define MAX_RULES 4
static struct cfgfile_replicated rules[MAX_RULES];
static char *lists[MAX_RULES][4];
static char wheres[MAX_RULES][64], dwheres[MAX_RULES][64];
static struct cfgfile_sharing sharing;

static void
share_init(void)
{
	memset(&sharing, 0, sizeof(sharing));
	memset(rules, 0, sizeof(rules));
	sharing.present = true;
	sharing.fail_requests_greater_than_one = -1;
	sharing.resources = rules;
}

/* An entry sharing |name| |replicas| times over |devs| ("all", "n=3"
 * for a count, or a comma-separated list), renamed |rename| (NULL:
 * none). */
static void
share(const char *name, const char *rename, unsigned long replicas,
    const char *devs)
{
	size_t k = sharing.n_resources++;
	struct cfgfile_replicated *r = &rules[k];
	static char buf[MAX_RULES][128];

	r->name = (char *)name;
	r->rename = (char *)rename;
	r->replicas = replicas;
	snprintf(wheres[k], sizeof(wheres[k]), "c.yaml:%zu:5: "
	    "sharing.timeSlicing.resources[%zu]", 4 + 3 * k, k);
	snprintf(dwheres[k], sizeof(dwheres[k]), "c.yaml:%zu:16: "
	    "sharing.timeSlicing.resources[%zu].devices", 5 + 3 * k, k);
	r->where = wheres[k];
	r->devices_where = dwheres[k];
	if (strcmp(devs, "all") == 0) {
		r->devices = CFGFILE_DEVICES_ALL;
		return;
	}
	if (strncmp(devs, "n=", 2) == 0) {
		r->devices = CFGFILE_DEVICES_COUNT;
		r->count = strtoul(devs + 2, NULL, 10);
		return;
	}
	r->devices = CFGFILE_DEVICES_LIST;
	r->list = lists[k];
	snprintf(buf[k], sizeof(buf[k]), "%s", devs);
	for (char *save = NULL, *t = strtok_r(buf[k], ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save))
		r->list[r->n_list++] = t;
}

static int
build_with(enum mig_strategy mig, enum id_strategy ids, bool mps,
    enum allocation_policy policy, struct resources **r, char *err,
    size_t errlen)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ids, .mig_strategy = mig,
		.pass_device_specs = true, .dev_root = "/host",
		.sharing = &sharing, .sharing_mps = mps,
		.mps_root = "/run/nvidia/mps/", .policy = policy };

	err[0] = '\0';
	*r = NULL;
	return resources_build(&inv, &o, r, err, errlen);
}

static struct resources *
build(void)
{
	struct resources *r;
	char err[512];

	if (build_with(MIG_STRATEGY_NONE, ID_STRATEGY_UUID, false,
	    ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)) != 0)
		fail_msg("resources_build: %s", err);
	return r;
}

static const char *
build_error(void)
{
	static char err[1024];
	struct resources *r;

	assert_int_equal(build_with(MIG_STRATEGY_NONE, ID_STRATEGY_UUID,
	    false, ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	return err;
}

static const struct resource *
named(const struct resources *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->res[i].name, name) == 0)
			return &r->res[i];
	fail_msg("no resource %s", name);
	return NULL;
}

/* The ids of |res|, comma-joined, GPU UUIDs shortened to "g<i>". */
static const char *
ids_of(const struct resource *res)
{
	static char out[4096];
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < res->n && n < sizeof(out) - 64; i++) {
		const char *id = res->views[i].id, *sfx = strstr(id, "::");

		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%c%c%s",
		    i > 0 ? "," : "", id[0] == 'G' ? 'g' : 'm', id[4],
		    sfx != NULL ? sfx : "");
	}
	return out;
}

/* ---- building ---- */

static void
test_replicas_of_every_gpu(void **state)
{
	struct resources *r;
	const struct resource *res;

	(void)state;
	machine(2);
	share_init();
	share("nvidia.com/gpu", NULL, 3, "all");
	r = build();
	assert_int_equal(r->n, 1);
	res = &r->res[0];
	assert_string_equal(res->name, "nvidia.com/gpu");
	assert_string_equal(res->socket_name, "nvidia-gpu.sock");
	assert_string_equal(ids_of(res), "g0::0,g0::1,g0::2,g1::0,g1::1,"
	    "g1::2");
	assert_string_equal(res->views[4].id,
	    "GPU-10000000-0000-0000-0000-000000000000::1");
	assert_int_equal(res->sharing, SHARE_TIME_SLICING);
	assert_false(res->fail_requests_greater_than_one);
	assert_int_equal(res->n_units, 2);
	/* A replica is its GPU: device id, index, node, NUMA node. */
	assert_string_equal(res->views[4].dev_id, gpus[1].uuid);
	assert_string_equal(res->views[4].index_id, "1");
	assert_string_equal(res->views[4].dev_path, "/dev/nvidia11");
	assert_int_equal(res->views[4].numa_node, 0);
	assert_int_equal(res->views[4].unit, 1);
	assert_int_equal(res->views[4].replica, 1);
	assert_int_equal(res->views[4].replicas, 3);
	assert_ptr_equal(resource_find(res, res->views[4].id,
	    strlen(res->views[4].id)), &res->views[4]);
	resources_free(r);
}

static void
test_rename_by_default_and_rename(void **state)
{
	struct resources *r;

	(void)state;
	machine(2);
	share_init();
	/* renameByDefault: the parser writes <name>.shared as the rename. */
	share("nvidia.com/gpu", "nvidia.com/gpu.shared", 2, "all");
	r = build();
	assert_int_equal(r->n, 1);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu.shared");
	assert_string_equal(r->res[0].socket_name, "nvidia-gpu.shared.sock");
	resources_free(r);
}

static void
test_per_gpu_counts(void **state)
{
	struct resources *r;

	(void)state;
	machine(4);
	share_init();
	share("nvidia.com/gpu", NULL, 2, "0");
	share("nvidia.com/gpu", NULL, 4, "1,2,GPU-30000000-0000-0000-0000-"
	    "000000000000");
	r = build();
	assert_int_equal(r->n, 1);
	assert_string_equal(ids_of(&r->res[0]), "g0::0,g0::1,g1::0,g1::1,"
	    "g1::2,g1::3,g2::0,g2::1,g2::2,g2::3,g3::0,g3::1,g3::2,g3::3");
	assert_int_equal(r->res[0].n_units, 4);
	resources_free(r);
}

static void
test_unselected_devices_keep_plain_ids(void **state)
{
	struct resources *r;

	(void)state;
	machine(4);
	share_init();
	/* The first two GPUs, renamed; the others stay nvidia.com/gpu. */
	share("nvidia.com/gpu", "nvidia.com/gpu.shared", 2, "n=2");
	r = build();
	assert_int_equal(r->n, 2);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu");
	assert_string_equal(ids_of(&r->res[0]), "g2,g3");
	assert_int_equal(r->res[0].sharing, SHARE_NONE);
	assert_string_equal(r->res[1].name, "nvidia.com/gpu.shared");
	assert_string_equal(ids_of(&r->res[1]), "g0::0,g0::1,g1::0,g1::1");
	resources_free(r);
	/* Without a rename, both kinds under the one name. */
	share_init();
	share("nvidia.com/gpu", NULL, 2, "1");
	r = build();
	assert_int_equal(r->n, 1);
	assert_string_equal(ids_of(&r->res[0]), "g0,g1::0,g1::1,g2,g3");
	assert_int_equal(r->res[0].n_units, 4);
	assert_int_equal(r->res[0].views[3].unit, 2);
	resources_free(r);
}

static void
test_entry_for_an_absent_resource_is_skipped(void **state)
{
	struct resources *r;

	(void)state;
	machine(2);
	share_init();
	share("nvidia.com/mig-1g.5gb", NULL, 4, "all");
	r = build();
	assert_int_equal(r->n, 1);
	assert_string_equal(ids_of(&r->res[0]), "g0,g1");
	assert_int_equal(r->res[0].sharing, SHARE_NONE);
	resources_free(r);
}

static void
test_mig_replicas_under_mixed(void **state)
{
	struct resources *r;
	const struct resource *res;
	char err[512];

	(void)state;
	machine(3);
	add_mig(0, 1);
	add_mig(0, 2);
	add_mig(1, 1);
	share_init();
	share("nvidia.com/mig-1g.5gb", "nvidia.com/mig-1g.5gb.shared", 2,
	    "0:1,1:0");
	share("nvidia.com/gpu", NULL, 2, "all");
	assert_int_equal(build_with(MIG_STRATEGY_MIXED, ID_STRATEGY_UUID,
	    false, ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)), 0);
	assert_int_equal(r->n, 3);
	assert_string_equal(ids_of(named(r, "nvidia.com/gpu")), "g2::0,g2::1");
	assert_string_equal(ids_of(named(r, "nvidia.com/mig-1g.5gb")), "m0");
	res = named(r, "nvidia.com/mig-1g.5gb.shared");
	assert_string_equal(ids_of(res), "m0::0,m0::1,m1::0,m1::1");
	assert_string_equal(res->views[0].dev_id, migs[0][1].uuid);
	assert_string_equal(res->views[2].dev_id, migs[1][0].uuid);
	assert_string_equal(res->views[1].index_id, "0:1");
	assert_int_equal(res->views[1].gi, 2);
	assert_string_equal(res->views[1].caps[0], "/dev/nvidia-caps/"
	    "nvidia-cap12");
	resources_free(r);
}

static void
test_errors_name_the_config_lines(void **state)
{
	(void)state;
	machine(4);
	share_init();
	share("nvidia.com/gpu", NULL, 2, "0,1");
	share("nvidia.com/gpu", NULL, 8, "3,GPU-10000000-0000-0000-0000-"
	    "000000000000");
	assert_string_equal(build_error(), "c.yaml:8:16: "
	    "sharing.timeSlicing.resources[1].devices: GPU 1 "
	    "(GPU-10000000-0000-0000-0000-000000000000) of nvidia.com/gpu is "
	    "already shared by c.yaml:4:5: sharing.timeSlicing.resources[0]: a "
	    "device can be shared by one entry only");
	share_init();
	share("nvidia.com/gpu", NULL, 2, "0,0");
	assert_string_equal(build_error(), "c.yaml:5:16: "
	    "sharing.timeSlicing.resources[0].devices: GPU 0 "
	    "(GPU-00000000-0000-0000-0000-000000000000) is listed twice");
	share_init();
	share("nvidia.com/gpu", NULL, 2, "all");
	share("nvidia.com/gpu", NULL, 4, "2");
	assert_non_null(strstr(build_error(), "already shared by c.yaml:4:5"));
	share_init();
	share("nvidia.com/gpu", NULL, 2, "4");
	share("nvidia.com/gpu", NULL, 2, "5");
	assert_string_equal(build_error(), "c.yaml:5:16: "
	    "sharing.timeSlicing.resources[0].devices: no matching device at "
	    "index: 4 (among the 4 devices of nvidia.com/gpu)");
	share_init();
	share("nvidia.com/gpu", NULL, 2, "GPU-90000000-0000-0000-0000-"
	    "000000000000");
	assert_non_null(strstr(build_error(), "no matching device with UUID: "
	    "GPU-90000000"));
	share_init();
	share("nvidia.com/gpu", NULL, 2, "0:1");
	assert_non_null(strstr(build_error(), "no matching device at index: "
	    "0:1"));
	share_init();
	share("nvidia.com/gpu", NULL, 2, "n=5");
	assert_string_equal(build_error(), "c.yaml:5:16: "
	    "sharing.timeSlicing.resources[0].devices: requested 5 devices to "
	    "be replicated, but only 4 devices of nvidia.com/gpu are "
	    "available");
}

static void
test_rename_onto_another_resource_is_refused(void **state)
{
	struct resources *r;
	char err[512];

	(void)state;
	machine(2);
	add_mig(0, 1);
	share_init();
	share("nvidia.com/mig-1g.5gb", "nvidia.com/gpu", 2, "all");
	assert_int_equal(build_with(MIG_STRATEGY_MIXED, ID_STRATEGY_UUID,
	    false, ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "c.yaml:4:5: "
	    "sharing.timeSlicing.resources[0]: rename: nvidia.com/gpu is "
	    "already the name of another resource of this node");
}

/* ---- the 4 MiB bound ---- */

static size_t
packed_list(const struct resource *res)
{
	struct arena a = ARENA_IN(NULL, 0);
	ProtobufCMessage *m = resource_list(res, &a);
	size_t n;

	assert_non_null(m);
	n = protobuf_c_message_get_packed_size(m);
	arena_free(&a);
	return n;
}

static void
test_list_bytes_are_the_packed_size(void **state)
{
	struct resources *r;
	struct resource *res;

	(void)state;
	machine(4);
	gpus[3].numa_node = -1;
	gpus[2].numa_node = 300;      /* a two-byte varint */
	share_init();
	share("nvidia.com/gpu", NULL, 120, "all");
	r = build();
	res = &r->res[0];
	for (size_t i = 0; i < res->n; i++)
		res->views[i].healthy = false;
	assert_int_equal(resource_list_bytes(res), packed_list(res));
	/* Healthy is shorter: the bound is the largest it can be. */
	for (size_t i = 0; i < res->n; i++)
		res->views[i].healthy = true;
	assert_true(resource_list_bytes(res) > packed_list(res));
	resources_free(r);
}

/* Whether |k| replicas of every GPU build. */
static bool
builds_with(unsigned long k, size_t *bytes)
{
	struct resources *r;
	char err[512];
	int rc;

	share_init();
	share("nvidia.com/gpu", NULL, k, "all");
	rc = build_with(MIG_STRATEGY_NONE, ID_STRATEGY_UUID, false,
	    ALLOCATION_DISTRIBUTED, &r, err, sizeof(err));
	if (rc == 0)
		*bytes = resource_list_bytes(&r->res[0]);
	else
		assert_int_equal(rc, -EINVAL);
	resources_free(r);
	return rc == 0;
}

static void
test_list_over_4_mib_is_refused(void **state)
{
	unsigned long lo = 2, hi = 1ul << 20;
	size_t bytes = 0;
	const char *err, *at;

	(void)state;
	machine(4);
	/* The most replicas that build: the bound is exactly the limit. */
	while (hi - lo > 1) {
		unsigned long mid = lo + (hi - lo) / 2;

		if (builds_with(mid, &bytes))
			lo = mid;
		else
			hi = mid;
	}
	assert_true(builds_with(lo, &bytes));
	assert_true(bytes <= RESOURCES_MAX_LIST_BYTES);
	share_init();
	share("nvidia.com/gpu", NULL, lo + 1, "all");
	err = build_error();
	assert_non_null(strstr(err, "c.yaml:4:5: sharing.timeSlicing."
	    "resources[0]: resource nvidia.com/gpu: its ListAndWatch message "
	    "would be "));
	assert_non_null(strstr(err, "over the kubelet's limit of 4194304 "
	    "bytes (4 MiB)"));
	at = strstr(err, "would be ") + strlen("would be ");
	/* Four more entries of at most 70 bytes each. */
	assert_true(strtoull(at, NULL, 10) > RESOURCES_MAX_LIST_BYTES);
	assert_true(strtoull(at, NULL, 10) <= bytes + (size_t)4 * 70);
	/* A count far past memory is refused by arithmetic alone. */
	share_init();
	share("nvidia.com/gpu", NULL, 2147483647ul, "all");
	assert_non_null(strstr(build_error(),
	    "ListAndWatch message would be "));
}

/* ---- Allocate ---- */

static ProtobufCBinaryData
bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

/* Allocate of one container asking for |n| ids of |res|. */
static const V1beta1__ContainerAllocateResponse *
allocate(const struct resource *res, const char *const *ids, size_t n,
    struct arena *a, char *msg, size_t len)
{
	V1beta1__Raw__AllocateRequest req =
	    V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerAllocateRequest c =
	    V1BETA1__RAW__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerAllocateRequest *cp = &c;
	ProtobufCBinaryData b[8];
	const V1beta1__AllocateResponse *resp;

	for (size_t i = 0; i < n; i++)
		b[i] = bin(ids[i]);
	c.devices_ids = b;
	c.n_devices_ids = n;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	msg[0] = '\0';
	resp = (const V1beta1__AllocateResponse *)resource_allocate(res,
	    &req.base, a, msg, len);
	return resp != NULL ? resp->container_responses[0] : NULL;
}

static const char *
env(const V1beta1__ContainerAllocateResponse *c, const char *key)
{
	for (size_t i = 0; i < c->n_envs; i++)
		if (strcmp(c->envs[i]->key, key) == 0)
			return c->envs[i]->value;
	return NULL;
}

static void
test_allocate_gives_each_device_once(void **state)
{
	struct resources *r;
	const struct resource *res;
	const V1beta1__ContainerAllocateResponse *c;
	struct arena a = ARENA_IN(NULL, 0);
	char msg[512];
	char id[3][128];

	(void)state;
	machine(2);
	share_init();
	share("nvidia.com/gpu", NULL, 4, "all");
	r = build();
	res = &r->res[0];
	snprintf(id[0], sizeof(id[0]), "%s::3", gpus[1].uuid);
	snprintf(id[1], sizeof(id[1]), "%s::0", gpus[0].uuid);
	snprintf(id[2], sizeof(id[2]), "%s::1", gpus[1].uuid);
	c = allocate(res, (const char *[]){ id[0], id[1], id[2] }, 3, &a, msg,
	    sizeof(msg));
	assert_non_null(c);
	assert_int_equal(c->n_envs, 1);
	assert_int_equal(strncmp(env(c, "NVIDIA_VISIBLE_DEVICES"),
	    gpus[1].uuid, 40), 0);
	assert_string_equal(env(c, "NVIDIA_VISIBLE_DEVICES") + 40, ",GPU-"
	    "00000000-0000-0000-0000-000000000000");
	/* --pass-device-specs: each GPU's node once, under --dev-root. */
	assert_int_equal(c->n_devices, 2);
	assert_string_equal(c->devices[0]->container_path, "/dev/nvidia11");
	assert_string_equal(c->devices[0]->host_path, "/host/dev/nvidia11");
	assert_string_equal(c->devices[1]->container_path, "/dev/nvidia10");
	assert_int_equal(c->n_mounts, 0);
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_by_index(void **state)
{
	struct resources *r;
	const V1beta1__ContainerAllocateResponse *c;
	struct arena a = ARENA_IN(NULL, 0);
	char msg[512], err[512], id[2][128];

	(void)state;
	machine(2);
	share_init();
	share("nvidia.com/gpu", NULL, 2, "all");
	assert_int_equal(build_with(MIG_STRATEGY_NONE, ID_STRATEGY_INDEX,
	    false, ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)), 0);
	snprintf(id[0], sizeof(id[0]), "%s::1", gpus[1].uuid);
	snprintf(id[1], sizeof(id[1]), "%s::0", gpus[1].uuid);
	c = allocate(&r->res[0], (const char *[]){ id[0], id[1] }, 2, &a, msg,
	    sizeof(msg));
	assert_non_null(c);
	assert_string_equal(env(c, "NVIDIA_VISIBLE_DEVICES"), "1");
	arena_free(&a);
	resources_free(r);
}

static void
test_fail_requests_greater_than_one(void **state)
{
	struct resources *r;
	const struct resource *res;
	struct arena a = ARENA_IN(NULL, 0);
	char msg[512], id[2][128];

	(void)state;
	machine(2);
	share_init();
	sharing.fail_requests_greater_than_one = 1;
	share("nvidia.com/gpu", "nvidia.com/gpu.shared", 2, "n=1");
	r = build();
	res = named(r, "nvidia.com/gpu.shared");
	assert_true(res->fail_requests_greater_than_one);
	snprintf(id[0], sizeof(id[0]), "%s::1", gpus[0].uuid);
	snprintf(id[1], sizeof(id[1]), "%s::0", gpus[0].uuid);
	errno = 0;
	assert_null(allocate(res, (const char *[]){ id[0], id[1], id[0] }, 3,
	    &a, msg, sizeof(msg)));
	assert_int_equal(errno, E2BIG);
	assert_string_equal(msg, "invalid allocation request for "
	    "\"nvidia.com/gpu.shared\": invalid request: maximum request size "
	    "for shared resources is 1; found 3");
	/* Duplicates count, as NVIDIA counts them. */
	assert_null(allocate(res, (const char *[]){ id[0], id[0] }, 2, &a,
	    msg, sizeof(msg)));
	assert_non_null(strstr(msg, "found 2"));
	/* An unknown id is named first. */
	assert_null(allocate(res, (const char *[]){ id[0], "GPU-nope" }, 2,
	    &a, msg, sizeof(msg)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(msg, "unknown device: GPU-nope"));
	assert_non_null(allocate(res, (const char *[]){ id[1] }, 1, &a, msg,
	    sizeof(msg)));
	/* Plain devices beside are not shared: two of them go. */
	assert_non_null(allocate(named(r, "nvidia.com/gpu"),
	    (const char *[]){ gpus[1].uuid, gpus[1].uuid }, 2, &a, msg,
	    sizeof(msg)));
	arena_free(&a);
	resources_free(r);
}

static void
test_mps_allocate_adds_pipe_and_shm(void **state)
{
	struct resources *r;
	const V1beta1__ContainerAllocateResponse *c;
	struct arena a = ARENA_IN(NULL, 0);
	char msg[512], err[512], id[128];

	(void)state;
	machine(2);
	share_init();
	sharing.fail_requests_greater_than_one = 1;  /* MPS's default */
	share("nvidia.com/gpu", NULL, 2, "0");
	assert_int_equal(build_with(MIG_STRATEGY_NONE, ID_STRATEGY_UUID, true,
	    ALLOCATION_DISTRIBUTED, &r, err, sizeof(err)), 0);
	assert_int_equal(r->res[0].sharing, SHARE_MPS);
	snprintf(id, sizeof(id), "%s::1", gpus[0].uuid);
	c = allocate(&r->res[0], (const char *[]){ id }, 1, &a, msg,
	    sizeof(msg));
	assert_non_null(c);
	assert_string_equal(env(c, "CUDA_MPS_PIPE_DIRECTORY"),
	    "/mps/nvidia.com/gpu/pipe");
	assert_string_equal(env(c, "NVIDIA_VISIBLE_DEVICES"), gpus[0].uuid);
	assert_int_equal(c->n_mounts, 2);
	assert_string_equal(c->mounts[0]->container_path,
	    "/mps/nvidia.com/gpu/pipe");
	assert_string_equal(c->mounts[0]->host_path,
	    "/run/nvidia/mps/nvidia.com/gpu/pipe");
	assert_string_equal(c->mounts[1]->container_path, "/dev/shm");
	assert_string_equal(c->mounts[1]->host_path, "/run/nvidia/mps/shm");
	/* GPU 1 is not shared: no MPS for it. */
	c = allocate(&r->res[0], (const char *[]){ gpus[1].uuid }, 1, &a, msg,
	    sizeof(msg));
	assert_non_null(c);
	assert_null(env(c, "CUDA_MPS_PIPE_DIRECTORY"));
	assert_int_equal(c->n_mounts, 0);
	arena_free(&a);
	resources_free(r);
}

/* ---- health and withholding ---- */

static void
test_gpu_health_reaches_every_replica(void **state)
{
	struct resources *r;
	const struct resource *res;
	struct health_gpu_status h[3] = { { true, NULL },
		{ false, "XID 48 (double bit ECC error)" }, { true, NULL } };
	struct health_snapshot snap = { h, 3, NULL, 0 };

	(void)state;
	machine(3);
	share_init();
	share("nvidia.com/gpu", NULL, 3, "all");
	r = build();
	res = &r->res[0];
	assert_true(resources_set_health(r, &snap));
	for (size_t i = 0; i < res->n; i++)
		assert_int_equal(res->views[i].healthy, i / 3 != 1);
	assert_string_equal(res->views[5].reason,
	    "XID 48 (double bit ECC error)");
	h[1].healthy = true;
	h[1].reason = NULL;
	assert_true(resources_set_health(r, &snap));
	for (size_t i = 0; i < res->n; i++)
		assert_true(res->views[i].healthy);
	resources_free(r);
}

static void
test_withhold_lists_unhealthy_and_refuses(void **state)
{
	struct resources *r;
	struct resource *res;
	struct arena a = ARENA_IN(NULL, 0);
	char msg[512], id[128];
	ProtobufCMessage *m;
	V1beta1__ListAndWatchResponse *l;

	(void)state;
	machine(2);
	share_init();
	share("nvidia.com/gpu", NULL, 2, "all");
	r = build();
	res = &r->res[0];
	res->changed = false;
	assert_true(resources_withhold(res, true, "MPS control daemon for "
	    "nvidia.com/gpu not ready"));
	assert_true(res->changed);
	assert_false(resources_withhold(res, true, "still not"));
	m = resource_list(res, &a);
	assert_non_null(m);
	l = (V1beta1__ListAndWatchResponse *)m;
	for (size_t i = 0; i < l->n_devices; i++)
		assert_string_equal(l->devices[i]->health, "Unhealthy");
	snprintf(id, sizeof(id), "%s::0", gpus[0].uuid);
	assert_null(allocate(res, (const char *[]){ id }, 1, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, ENODEV);
	assert_string_equal(msg, "invalid allocation request for "
	    "\"nvidia.com/gpu\": its devices are withheld: still not");
	/* Given back: each device's own health again. */
	res->views[1].healthy = false;
	res->changed = false;
	assert_true(resources_withhold(res, false, NULL));
	assert_true(res->changed);
	assert_true(resource_view_healthy(res, &res->views[0]));
	assert_false(resource_view_healthy(res, &res->views[1]));
	assert_non_null(allocate(res, (const char *[]){ id }, 1, &a, msg,
	    sizeof(msg)));
	arena_free(&a);
	resources_free(r);
}

/* ---- GetPreferredAllocation ---- */

/* The preferred |size| of |res| with |avail| and |must| (view indexes,
 * -1 ended), as "g<gpu>::<n>" ids. */
static const char *
prefer(const struct resource *res, const int *must, const int *avail,
    int size)
{
	static char out[1024];
	V1beta1__Raw__PreferredAllocationRequest req =
	    V1BETA1__RAW__PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest c =
	    V1BETA1__RAW__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest *cp = &c;
	ProtobufCBinaryData m[64], v[64];
	struct arena a = ARENA_IN(NULL, 0);
	V1beta1__PreferredAllocationResponse *resp;
	char msg[512];
	unsigned odd;
	size_t n = 0;

	for (; must[c.n_must_include_deviceids] >= 0;
	    c.n_must_include_deviceids++)
		m[c.n_must_include_deviceids] = bin(res->views[
		    must[c.n_must_include_deviceids]].id);
	for (; avail[c.n_available_deviceids] >= 0; c.n_available_deviceids++)
		v[c.n_available_deviceids] = bin(res->views[
		    avail[c.n_available_deviceids]].id);
	c.must_include_deviceids = m;
	c.available_deviceids = v;
	c.allocation_size = size;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	resp = (V1beta1__PreferredAllocationResponse *)resource_preferred(res,
	    &req.base, &a, msg, sizeof(msg), &odd);
	assert_non_null(resp);
	out[0] = '\0';
	for (size_t i = 0; i < resp->container_responses[0]->n_deviceids;
	    i++) {
		const char *id = resp->container_responses[0]->deviceids[i];

		n += (size_t)snprintf(out + n, sizeof(out) - n, "%sg%c%s",
		    i > 0 ? "," : "", id[4], strstr(id, "::"));
	}
	arena_free(&a);
	return out;
}

/* 3 GPUs x 4 replicas under |policy|. */
static struct resources *
policy_machine(enum allocation_policy policy)
{
	struct resources *r;
	char err[512];

	machine(3);
	share_init();
	share("nvidia.com/gpu", NULL, 4, "all");
	assert_int_equal(build_with(MIG_STRATEGY_NONE, ID_STRATEGY_UUID,
	    false, policy, &r, err, sizeof(err)), 0);
	return r;
}

/* GPU 0: 1 replica in use (view 0); GPU 1: 3 (4-6); GPU 2: none. */
static const int partly_used[] = { 1, 2, 3, 7, 8, 9, 10, 11, -1 };
static const int none[] = { -1 };

static void
test_distributed_fewest_in_use_first(void **state)
{
	struct resources *r = policy_machine(ALLOCATION_DISTRIBUTED);
	const int all[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1 };

	(void)state;
	/* Ties by GPU index, then the least picked in this request. */
	assert_string_equal(prefer(&r->res[0], none, all, 4),
	    "g0::0,g1::0,g2::0,g0::1");
	/* GPU 2 (0 in use), GPU 0 (1 in use, as GPU 2 now, but picked
	   less), then GPU 2 again (1 in use against GPU 0's 2): two of one
	   GPU in one request. */
	assert_string_equal(prefer(&r->res[0], none, partly_used, 3),
	    "g2::0,g0::1,g2::1");
	resources_free(r);
}

static void
test_packed_most_in_use_first(void **state)
{
	struct resources *r = policy_machine(ALLOCATION_PACKED);
	const int all[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1 };

	(void)state;
	assert_string_equal(prefer(&r->res[0], none, all, 3),
	    "g0::0,g0::1,g0::2");
	assert_string_equal(prefer(&r->res[0], none, partly_used, 2),
	    "g1::3,g0::1");
	resources_free(r);
}

static void
test_strict_never_two_of_one_gpu_while_others_free(void **state)
{
	struct resources *r = policy_machine(ALLOCATION_DISTRIBUTED_STRICT);
	const int must[] = { 8, -1 };
	const int rest[] = { 1, 2, 3, 7, 9, 10, 11, -1 };

	(void)state;
	/* Distributed would give two of GPU 2 here (test above). */
	assert_string_equal(prefer(&r->res[0], none, partly_used, 3),
	    "g2::0,g0::1,g1::3");
	/* A must-include replica's GPU is taken. */
	assert_string_equal(prefer(&r->res[0], must, rest, 2),
	    "g2::0,g0::1");
	/* More than there are GPUs: one each first, then distributed. */
	assert_string_equal(prefer(&r->res[0], none, partly_used, 5),
	    "g2::0,g0::1,g1::3,g2::1,g0::2");
	resources_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicas_of_every_gpu),
		cmocka_unit_test(test_rename_by_default_and_rename),
		cmocka_unit_test(test_per_gpu_counts),
		cmocka_unit_test(test_unselected_devices_keep_plain_ids),
		cmocka_unit_test(test_entry_for_an_absent_resource_is_skipped),
		cmocka_unit_test(test_mig_replicas_under_mixed),
		cmocka_unit_test(test_errors_name_the_config_lines),
		cmocka_unit_test(test_rename_onto_another_resource_is_refused),
		cmocka_unit_test(test_list_bytes_are_the_packed_size),
		cmocka_unit_test(test_list_over_4_mib_is_refused),
		cmocka_unit_test(test_allocate_gives_each_device_once),
		cmocka_unit_test(test_allocate_by_index),
		cmocka_unit_test(test_fail_requests_greater_than_one),
		cmocka_unit_test(test_mps_allocate_adds_pipe_and_shm),
		cmocka_unit_test(test_gpu_health_reaches_every_replica),
		cmocka_unit_test(test_withhold_lists_unhealthy_and_refuses),
		cmocka_unit_test(test_distributed_fewest_in_use_first),
		cmocka_unit_test(test_packed_most_in_use_first),
		cmocka_unit_test(
		    test_strict_never_two_of_one_gpu_while_others_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
