/*
 * test_mig.c: the resources built under each --mig-strategy (none,
 * single, mixed) from hand-built inventories: names, sockets, views of
 * MIG devices (ids, "i:j" indexes, GPU/compute instances, NUMA node and
 * /dev nodes of the parent, capability nodes), NVIDIA's validation
 * errors in its words, the Allocate answer for MIG devices, and health
 * reaching exactly the MIG devices a fault touches.
 *
 * Each test writes the machine it needs: GPUs from a small table, each
 * with the MIG devices its layout string names.
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

#define MAX_GPUS 4
#define MAX_MIGS 8

static struct gpu gpus[MAX_GPUS];
static struct mig_device migs[MAX_GPUS][MAX_MIGS];
static struct inventory inv;

/* A MIG device of profile |profile| ("1g.5gb", "1c.2g.10gb", ...). */
static void
add_mig(size_t g, const char *profile, unsigned gi, unsigned ci)
{
	struct gpu *gpu = &gpus[g];
	struct mig_device *m = &migs[g][gpu->n_migs];
	unsigned c = 0, s = 0, mem = 0;

	if (sscanf(profile, "%uc.%ug.%ugb", &c, &s, &mem) != 3) {
		assert_int_equal(sscanf(profile, "%ug.%ugb", &s, &mem), 2);
		c = s;
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "MIG-%zu%zu000000-0000-0000-0000-"
	    "000000000000", g, gpu->n_migs);
	m->index = (unsigned)gpu->n_migs;
	m->gi = gi;
	m->ci = ci;
	m->gi_slices = s;
	m->ci_slices = c;
	m->multiprocessors = 14 * c;
	m->memory_mib = mem * 1024ull - 128;
	m->decoders = s;
	if (strstr(profile, "+me") != NULL)
		m->jpegs = m->ofas = 1;
	snprintf(m->profile, sizeof(m->profile), "%s", profile);
	m->gi_cap_minor = (int)(g * 100 + 10 + gi);
	m->ci_cap_minor = (int)(g * 100 + 50 + (size_t)gi * 8 + ci);
	gpu->mig_enabled = true;
	gpu->n_migs++;
}

/* |n| GPUs, none with MIG on; GPU i is minor 10+i, NUMA node i/2. */
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
		gpus[i].mig_capable = true;
		gpus[i].migs = migs[i];
		snprintf(gpus[i].uuid, sizeof(gpus[i].uuid),
		    "GPU-%zu0000000-0000-0000-0000-000000000000", i);
	}
}

static int
build_opts(enum mig_strategy s, enum id_strategy ids, bool specs,
    struct resources **r, char *err, size_t errlen)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ids, .pass_device_specs = specs,
		.dev_root = "/host", .mig_strategy = s,
		.control_present = { true, false, false, false } };

	err[0] = '\0';
	return resources_build(&inv, &o, r, err, errlen);
}

static struct resources *
build(enum mig_strategy s)
{
	struct resources *r = NULL;
	char err[512];
	int rc = build_opts(s, ID_STRATEGY_UUID, false, &r, err, sizeof(err));

	if (rc != 0)
		fail_msg("resources_build: %d %s", rc, err);
	return r;
}

/* The error resources_build gives under |s|. */
static const char *
build_error(enum mig_strategy s)
{
	static char err[512];
	struct resources *r = NULL;

	assert_int_equal(build_opts(s, ID_STRATEGY_UUID, false, &r, err,
	    sizeof(err)), -EINVAL);
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

/* NVIDIA's wrapping, which differs per message. */
#define MAP_WRAP "error building device map: error building device " \
	"map from config.resources: "
#define INVALID_WRAP MAP_WRAP "invalid MIG configuration: "
#define EMPTY_WRAP INVALID_WRAP "at least one device with " \
	"migEnabled=true was not configured correctly: "

/* ---- none ---- */

static void
test_none_serves_mig_gpus_whole(void **state)
{
	struct resources *r;

	machine(2);
	add_mig(0, "1g.5gb", 7, 0);
	add_mig(0, "3g.20gb", 1, 0);
	r = build(MIG_STRATEGY_NONE);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu");
	assert_int_equal(r->res[0].n, 2);
	assert_string_equal(r->res[0].views[0].id, gpus[0].uuid);
	assert_int_equal(r->res[0].views[0].gi, RESOURCES_WHOLE);
	assert_string_equal(r->res[0].views[0].caps[0], "");
	resources_free(r);
}

static void
test_none_ignores_missing_cap_minors(void **state)
{
	struct resources *r;

	machine(1);
	add_mig(0, "1g.5gb", 7, 0);
	migs[0][0].gi_cap_minor = -1;
	r = build(MIG_STRATEGY_NONE);
	assert_int_equal(r->res[0].n, 1);
	resources_free(r);
}

/* ---- single ---- */

static void
test_single_serves_every_mig_device_as_gpu(void **state)
{
	struct resources *r;
	const struct view *v;

	machine(2);
	for (size_t g = 0; g < 2; g++)
		for (unsigned k = 0; k < 3; k++)
			add_mig(g, "1g.10gb", 9 + k, 0);
	r = build(MIG_STRATEGY_SINGLE);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu");
	assert_string_equal(r->res[0].socket_name, "nvidia-gpu.sock");
	assert_int_equal(r->res[0].n, 6);
	v = &r->res[0].views[4];
	assert_string_equal(v->id, migs[1][1].uuid);
	assert_string_equal(v->index_id, "1:1");
	assert_int_equal(v->gpu, 1);
	assert_int_equal(v->gi, 10);
	assert_int_equal(v->ci, 0);
	assert_int_equal(v->numa_node, 0);
	assert_string_equal(v->dev_path, "/dev/nvidia11");
	assert_string_equal(v->caps[0], "/dev/nvidia-caps/nvidia-cap120");
	assert_string_equal(v->caps[1], "/dev/nvidia-caps/nvidia-cap230");
	assert_true(v->healthy);
	assert_non_null(resource_find(&r->res[0], migs[0][2].uuid,
	    strlen(migs[0][2].uuid)));
	resources_free(r);
}

static void
test_single_without_mig_serves_whole_gpus(void **state)
{
	struct resources *r;

	machine(3);
	r = build(MIG_STRATEGY_SINGLE);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->res[0].n, 3);
	assert_string_equal(r->res[0].views[2].id, gpus[2].uuid);
	resources_free(r);
}

static void
test_single_gpu_without_mig_devices(void **state)
{
	machine(2);
	add_mig(0, "1g.10gb", 9, 0);
	gpus[1].mig_enabled = true;
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    EMPTY_WRAP "device 1 has no MIG devices configured");
}

static void
test_single_two_types(void **state)
{
	machine(2);
	add_mig(0, "1g.10gb", 9, 0);
	add_mig(1, "1g.10gb", 9, 0);
	add_mig(1, "2g.20gb", 3, 0);
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    INVALID_WRAP "more than one MIG device type present on node");
	/* Same name, other attributes (the whole struct is compared). */
	machine(1);
	add_mig(0, "1g.10gb", 9, 0);
	add_mig(0, "1g.10gb", 10, 0);
	migs[0][1].encoders = 1;
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    INVALID_WRAP "more than one MIG device type present on node");
}

/* NVIDIA's order: an empty GPU before two types, both before MIG on
 * and off. */
static void
test_single_checks_in_nvidia_order(void **state)
{
	machine(3);
	add_mig(0, "1g.10gb", 9, 0);
	add_mig(0, "2g.20gb", 3, 0);
	gpus[1].mig_enabled = true;
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    EMPTY_WRAP "device 1 has no MIG devices configured");
	gpus[1].mig_enabled = false;
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    INVALID_WRAP "more than one MIG device type present on node");
}

static void
test_single_mixed_mig_enabled(void **state)
{
	machine(3);
	add_mig(0, "1g.10gb", 9, 0);
	add_mig(2, "1g.10gb", 9, 0);
	assert_string_equal(build_error(MIG_STRATEGY_SINGLE),
	    MAP_WRAP "all devices on the node must be configured with the "
	    "same migEnabled value");
}

/* ---- mixed ---- */

static void
test_mixed_one_resource_per_profile(void **state)
{
	struct resources *r;
	const struct resource *res;

	machine(3);
	add_mig(0, "1g.5gb", 7, 0);
	add_mig(0, "1g.5gb", 8, 0);
	add_mig(0, "2g.10gb", 3, 0);
	add_mig(2, "1g.5gb+me", 9, 0);
	add_mig(2, "1g.10gb-me", 10, 0);
	add_mig(2, "1g.5gb", 11, 0);
	r = build(MIG_STRATEGY_MIXED);
	/* The full GPUs first, then the profiles by name. */
	assert_int_equal(r->n, 5);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu");
	assert_int_equal(r->res[0].n, 1);
	assert_string_equal(r->res[0].views[0].id, gpus[1].uuid);
	assert_string_equal(r->res[1].name, "nvidia.com/mig-1g.10gb-me");
	assert_string_equal(r->res[2].name, "nvidia.com/mig-1g.5gb");
	assert_string_equal(r->res[3].name, "nvidia.com/mig-1g.5gb.me");
	assert_string_equal(r->res[4].name, "nvidia.com/mig-2g.10gb");
	res = named(r, "nvidia.com/mig-1g.5gb");
	assert_string_equal(res->socket_name, "nvidia-mig-1g.5gb.sock");
	assert_int_equal(res->n, 3);
	assert_string_equal(res->views[0].id, migs[0][0].uuid);
	assert_string_equal(res->views[1].id, migs[0][1].uuid);
	assert_string_equal(res->views[2].id, migs[2][2].uuid);
	assert_string_equal(res->views[2].index_id, "2:2");
	assert_int_equal(res->views[2].numa_node, 1);
	assert_string_equal(named(r, "nvidia.com/mig-1g.5gb.me")->socket_name,
	    "nvidia-mig-1g.5gb.me.sock");
	for (size_t i = 0; i < r->n; i++)
		assert_ptr_equal(r->res[i].all, r);
	resources_free(r);
}

static void
test_mixed_all_mig_has_no_gpu_resource(void **state)
{
	struct resources *r;

	machine(2);
	add_mig(0, "7g.40gb", 0, 0);
	add_mig(1, "7g.40gb", 0, 0);
	r = build(MIG_STRATEGY_MIXED);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->res[0].name, "nvidia.com/mig-7g.40gb");
	assert_int_equal(r->res[0].n, 2);
	resources_free(r);
}

static void
test_mixed_empty_mig_gpu_is_not_an_error(void **state)
{
	struct resources *r;

	machine(2);
	gpus[0].mig_enabled = true;
	r = build(MIG_STRATEGY_MIXED);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->res[0].name, "nvidia.com/gpu");
	assert_int_equal(r->res[0].n, 1);
	assert_string_equal(r->res[0].views[0].id, gpus[1].uuid);
	resources_free(r);
}

static void
test_mixed_compute_slice_profile_matches_nothing(void **state)
{
	machine(1);
	add_mig(0, "3g.20gb", 1, 0);
	add_mig(0, "1c.2g.10gb", 5, 0);
	assert_string_equal(build_error(MIG_STRATEGY_MIXED),
	    MAP_WRAP "error building MIG device map: MIG profile "
	    "'1c.2g.10gb' does not match any resource patterns");
}

static void
test_missing_cap_minors_name_the_device(void **state)
{
	const char *err;

	machine(1);
	add_mig(0, "1g.5gb", 7, 0);
	add_mig(0, "1g.5gb", 8, 0);
	migs[0][1].gi_cap_minor = -1;
	err = build_error(MIG_STRATEGY_MIXED);
	assert_non_null(strstr(err, "missing MIG GPU instance capability "
	    "path"));
	assert_non_null(strstr(err, migs[0][1].uuid));
	assert_non_null(strstr(err, "0:1"));
	migs[0][1].gi_cap_minor = 18;
	migs[0][1].ci_cap_minor = -1;
	err = build_error(MIG_STRATEGY_SINGLE);
	assert_non_null(strstr(err, "missing MIG compute instance capability "
	    "path"));
	assert_non_null(strstr(err, migs[0][1].uuid));
}

/* ---- Allocate ---- */

struct request {
	V1beta1__Raw__AllocateRequest req;
	V1beta1__Raw__ContainerAllocateRequest c;
	V1beta1__Raw__ContainerAllocateRequest *cp;
	ProtobufCBinaryData ids[8];
};

static void
request_init(struct request *q, const char *const *ids, size_t n)
{
	v1beta1__raw__allocate_request__init(&q->req);
	v1beta1__raw__container_allocate_request__init(&q->c);
	for (size_t i = 0; i < n; i++)
		q->ids[i] = (ProtobufCBinaryData){ strlen(ids[i]),
			(uint8_t *)ids[i] };
	q->c.devices_ids = q->ids;
	q->c.n_devices_ids = n;
	q->cp = &q->c;
	q->req.container_requests = &q->cp;
	q->req.n_container_requests = 1;
}

static const V1beta1__ContainerAllocateResponse *
allocate(const struct resource *res, const char *const *ids, size_t n,
    struct arena *a)
{
	struct request q;
	char msg[256];
	const V1beta1__AllocateResponse *resp;

	request_init(&q, ids, n);
	resp = (const V1beta1__AllocateResponse *)resource_allocate(res,
	    &q.req.base, a, msg, sizeof(msg));
	if (resp == NULL) {
		fail_msg("allocate: %s", msg);
		return NULL;
	}
	return resp->container_responses[0];
}

/* GPU 0: two 1g.10gb in GI 9 (CIs 0, 1) and one in GI 10; GPU 1 too. */
static void
single_layout(void)
{
	machine(2);
	for (size_t g = 0; g < 2; g++) {
		add_mig(g, "1g.10gb", 9, 0);
		add_mig(g, "1g.10gb", 9, 1);
		add_mig(g, "1g.10gb", 10, 0);
	}
}

static void
test_allocate_mig_uuids_and_indexes(void **state)
{
	struct resources *r = NULL;
	struct arena a = ARENA_INIT;
	const char *ids[] = { migs[1][2].uuid, migs[0][0].uuid };
	const V1beta1__ContainerAllocateResponse *c;
	char err[256], want[256];

	single_layout();
	r = build(MIG_STRATEGY_SINGLE);
	c = allocate(&r->res[0], ids, 2, &a);
	snprintf(want, sizeof(want), "%s,%s", ids[0], ids[1]);
	assert_int_equal(c->n_envs, 1);
	assert_string_equal(c->envs[0]->value, want);
	arena_free(&a);
	resources_free(r);
	assert_int_equal(build_opts(MIG_STRATEGY_SINGLE, ID_STRATEGY_INDEX,
	    false, &r, err, sizeof(err)), 0);
	c = allocate(&r->res[0], ids, 2, &a);
	assert_string_equal(c->envs[0]->value, "1:2,0:0");
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_mig_device_specs(void **state)
{
	struct resources *r = NULL;
	struct arena a = ARENA_INIT;
	/* Two MIG devices of one GI share its node; each node once. */
	const char *ids[] = { migs[0][0].uuid, migs[0][1].uuid,
		migs[0][0].uuid, migs[1][2].uuid };
	static const char *const want[] = {
		"/dev/nvidiactl",
		"/dev/nvidia10",
		"/dev/nvidia-caps/nvidia-cap19",
		"/dev/nvidia-caps/nvidia-cap122",
		"/dev/nvidia-caps/nvidia-cap123",
		"/dev/nvidia11",
		"/dev/nvidia-caps/nvidia-cap120",
		"/dev/nvidia-caps/nvidia-cap230",
	};
	const V1beta1__ContainerAllocateResponse *c;
	char err[256], host[128];

	single_layout();
	assert_int_equal(build_opts(MIG_STRATEGY_SINGLE, ID_STRATEGY_UUID,
	    true, &r, err, sizeof(err)), 0);
	c = allocate(&r->res[0], ids, 4, &a);
	for (size_t i = 0; i < c->n_devices; i++)
		print_message("  %s\n", c->devices[i]->container_path);
	assert_int_equal(c->n_devices, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < c->n_devices; i++) {
		assert_string_equal(c->devices[i]->container_path, want[i]);
		snprintf(host, sizeof(host), "/host%s", want[i]);
		assert_string_equal(c->devices[i]->host_path, host);
		assert_string_equal(c->devices[i]->permissions, "rw");
	}
	arena_free(&a);
	resources_free(r);
}

static void
test_same_answers_sees_cap_nodes(void **state)
{
	struct resources *a, *b;

	single_layout();
	a = build(MIG_STRATEGY_SINGLE);
	migs[0][1].ci_cap_minor = 99;
	b = build(MIG_STRATEGY_SINGLE);
	assert_true(resource_same_list(&a->res[0], &b->res[0]));
	assert_false(resource_same_answers(&a->res[0], &b->res[0]));
	resources_free(b);
	resources_free(a);
}

/* ---- health ---- */

static bool
set_health(struct resources *r, const struct health_gpu_status *h,
    size_t ngpus, const struct health_instance_fault *f, size_t nf)
{
	struct health_snapshot snap = { h, ngpus, f, nf };

	return resources_set_health(r, &snap);
}

/* '+' healthy, '-' not, per view of |res|. */
static void
expect(const struct resource *res, const char *pattern)
{
	assert_int_equal(strlen(pattern), res->n);
	for (size_t i = 0; i < res->n; i++)
		assert_int_equal(res->views[i].healthy, pattern[i] == '+');
}

static void
test_mig_scoped_fault_marks_only_that_device(void **state)
{
	struct resources *r;
	struct health_gpu_status h[2] = { { true, NULL }, { true, NULL } };
	struct health_instance_fault ci = { 0, 9, 1, "XID 94 in GI 9 CI 1" };
	struct health_instance_fault gi = { 1, 9, RESOURCES_WHOLE, "XID 95" };

	single_layout();
	r = build(MIG_STRATEGY_SINGLE);
	assert_true(set_health(r, h, 2, &ci, 1));
	expect(&r->res[0], "+-++++");
	assert_string_equal(r->res[0].views[1].reason, "XID 94 in GI 9 CI 1");
	/* A GPU-instance fault: its two compute instances. */
	assert_true(set_health(r, h, 2, &gi, 1));
	expect(&r->res[0], "+++--+");
	/* Recovery restores exactly those. */
	assert_true(set_health(r, h, 2, NULL, 0));
	expect(&r->res[0], "++++++");
	resources_free(r);
}

static void
test_gpu_fault_marks_all_its_mig_devices(void **state)
{
	struct resources *r;
	struct health_gpu_status h[3] = { { true, NULL },
		{ false, "XID 79, fallen off the bus" }, { true, NULL } };

	machine(3);
	add_mig(0, "1g.5gb", 7, 0);
	add_mig(1, "1g.5gb", 7, 0);
	add_mig(1, "1g.5gb", 8, 0);
	add_mig(1, "2g.10gb", 3, 0);
	r = build(MIG_STRATEGY_MIXED);
	assert_true(set_health(r, h, 3, NULL, 0));
	expect(named(r, "nvidia.com/gpu"), "+");
	expect(named(r, "nvidia.com/mig-1g.5gb"), "+--");
	expect(named(r, "nvidia.com/mig-2g.10gb"), "-");
	assert_true(named(r, "nvidia.com/mig-2g.10gb")->changed);
	assert_false(named(r, "nvidia.com/gpu")->changed);
	assert_string_equal(named(r, "nvidia.com/mig-1g.5gb")->views[2].reason,
	    "XID 79, fallen off the bus");
	h[1].healthy = true;
	h[1].reason = NULL;
	assert_true(set_health(r, h, 3, NULL, 0));
	expect(named(r, "nvidia.com/mig-1g.5gb"), "+++");
	expect(named(r, "nvidia.com/mig-2g.10gb"), "+");
	resources_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_serves_mig_gpus_whole),
		cmocka_unit_test(test_none_ignores_missing_cap_minors),
		cmocka_unit_test(test_single_serves_every_mig_device_as_gpu),
		cmocka_unit_test(test_single_without_mig_serves_whole_gpus),
		cmocka_unit_test(test_single_gpu_without_mig_devices),
		cmocka_unit_test(test_single_two_types),
		cmocka_unit_test(test_single_mixed_mig_enabled),
		cmocka_unit_test(test_single_checks_in_nvidia_order),
		cmocka_unit_test(test_mixed_one_resource_per_profile),
		cmocka_unit_test(test_mixed_all_mig_has_no_gpu_resource),
		cmocka_unit_test(test_mixed_empty_mig_gpu_is_not_an_error),
		cmocka_unit_test(
		    test_mixed_compute_slice_profile_matches_nothing),
		cmocka_unit_test(test_missing_cap_minors_name_the_device),
		cmocka_unit_test(test_allocate_mig_uuids_and_indexes),
		cmocka_unit_test(test_allocate_mig_device_specs),
		cmocka_unit_test(test_same_answers_sees_cap_nodes),
		cmocka_unit_test(test_mig_scoped_fault_marks_only_that_device),
		cmocka_unit_test(test_gpu_fault_marks_all_its_mig_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
