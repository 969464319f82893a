/*
 * test_resources.c: the resource core reached directly: views built from
 * an inventory, look-up by id, every Allocate and GetPreferredAllocation
 * rule, the ListAndWatch list, and the fan-out of GPU health and
 * MIG-instance faults to every view (whole GPUs, replicas, MIG devices).
 *
 * The inventory is plain data, so each test writes the machine it needs;
 * requests are protobuf-c structs, as the gRPC layer hands them over.
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
#include "resources/resources.h"

static const char *const uuids[] = {
	"GPU-aaaa0000-0000-0000-0000-000000000000",
	"GPU-bbbb0000-0000-0000-0000-000000000000",
	"GPU-cccc0000-0000-0000-0000-000000000000",
	"GPU-dddd0000-0000-0000-0000-000000000000",
};
#define NGPUS 4

static struct gpu gpus[NGPUS];
static struct inventory inv = { gpus, NGPUS, "550.90.07", 12040, NULL, 0,
	NULL, 0 };

static int
setup_inventory(void **state)
{
	for (unsigned i = 0; i < NGPUS; i++) {
		memset(&gpus[i], 0, sizeof(gpus[i]));
		gpus[i].index = i;
		snprintf(gpus[i].uuid, sizeof(gpus[i].uuid), "%s", uuids[i]);
		gpus[i].minor = 10 + i;
		gpus[i].numa_node = i < 2 ? 0 : (i == 2 ? 1 : -1);
	}
	return 0;
}

static struct resources *
build(enum id_strategy ids, bool specs, const char *dev_root)
{
	struct resources_options o = { "nvidia.com/gpu", ids, specs,
		dev_root, { true, false, true, false } };
	struct resources *r = NULL;
	char err[256];

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)), 0);
	return r;
}

/* resources_set_health() on a snapshot of |gpus| and |faults|. */
static bool
set_health(struct resources *r, const struct health_gpu_status *status,
    size_t ngpus, const struct health_instance_fault *faults,
    size_t nfaults)
{
	struct health_snapshot snap = { status, ngpus, faults, nfaults };

	return resources_set_health(r, &snap);
}

/* ---- building and look-up ---- */

static void
test_build_one_view_per_gpu(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	const struct resource *res = &r->res[0];

	assert_int_equal(r->n, 1);
	assert_string_equal(res->name, "nvidia.com/gpu");
	assert_string_equal(res->socket_name, "nvidia-gpu.sock");
	assert_int_equal(res->n, NGPUS);
	for (size_t i = 0; i < NGPUS; i++) {
		assert_string_equal(res->views[i].id, uuids[i]);
		assert_int_equal(res->views[i].gpu, i);
		assert_int_equal(res->views[i].gi, RESOURCES_WHOLE);
		assert_true(res->views[i].healthy);
	}
	assert_string_equal(res->views[3].dev_path, "/dev/nvidia13");
	resources_free(r);
}

static void
test_build_without_gpus_has_no_resource(void **state)
{
	struct inventory empty = { NULL, 0, "", 0, NULL, 0, NULL, 0 };
	struct resources_options o = { "nvidia.com/gpu", ID_STRATEGY_UUID,
		false, NULL, { false } };
	struct resources *r = NULL;
	char err[64];

	assert_int_equal(resources_build(&empty, &o, &r, err, sizeof(err)),
	    0);
	assert_int_equal(r->n, 0);
	resources_free(r);
}

static void
test_build_refuses_unusable_names(void **state)
{
	struct resources_options o = { "nvidia.com/", ID_STRATEGY_UUID,
		false, NULL, { false } };
	struct resources *r = NULL;
	char err[256];

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "\"nvidia.com/\""));
	o.resource_name = "nvidia.com/a/b";
	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)),
	    -EINVAL);
}

static void
test_find_is_exact_and_length_delimited(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	const struct resource *res = &r->res[0];
	char longer[128], with_nul[128];

	for (size_t i = 0; i < NGPUS; i++)
		assert_ptr_equal(resource_find(res, uuids[i],
		    strlen(uuids[i])), &res->views[i]);
	assert_null(resource_find(res, uuids[0], strlen(uuids[0]) - 1));
	snprintf(longer, sizeof(longer), "%sX", uuids[1]);
	assert_null(resource_find(res, longer, strlen(longer)));
	/* An id with an embedded NUL is not the GPU its prefix names. */
	memcpy(with_nul, uuids[2], strlen(uuids[2]) + 1);
	memcpy(with_nul + strlen(uuids[2]) + 1, "x", 2);
	assert_null(resource_find(res, with_nul, strlen(uuids[2]) + 2));
	assert_null(resource_find(res, "", 0));
	resources_free(r);
}

/* ---- Allocate ---- */

/* An AllocateRequest with one container per NULL-terminated id list. */
struct request {
	V1beta1__AllocateRequest req;
	V1beta1__ContainerAllocateRequest c[4];
	V1beta1__ContainerAllocateRequest *cp[4];
};

static void
request_init(struct request *q, size_t nc, char **ids[])
{
	v1beta1__allocate_request__init(&q->req);
	for (size_t i = 0; i < nc; i++) {
		size_t n = 0;

		v1beta1__container_allocate_request__init(&q->c[i]);
		while (ids[i][n] != NULL)
			n++;
		q->c[i].devices_ids = ids[i];
		q->c[i].n_devices_ids = n;
		q->cp[i] = &q->c[i];
	}
	q->req.container_requests = q->cp;
	q->req.n_container_requests = nc;
}

static const V1beta1__AllocateResponse *
allocate(const struct resources *r, struct request *q, struct arena *a,
    char *msg, size_t len)
{
	return (const V1beta1__AllocateResponse *)resource_allocate(
	    &r->res[0], &q->req.base, a, msg, len);
}

static const char *
visible(const V1beta1__AllocateResponse *resp, size_t c)
{
	const V1beta1__ContainerAllocateResponse *cr =
	    resp->container_responses[c];

	assert_int_equal(cr->n_envs, 1);
	assert_string_equal(cr->envs[0]->key, "NVIDIA_VISIBLE_DEVICES");
	return cr->envs[0]->value;
}

static void
test_allocate_visible_devices_in_request_order(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *one[] = { (char *)uuids[3], (char *)uuids[0], (char *)uuids[3],
		(char *)uuids[1], (char *)uuids[0], NULL };
	char *two[] = { (char *)uuids[2], NULL };
	char **ids[] = { one, two };
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[256], want[256];
	const V1beta1__AllocateResponse *resp;

	request_init(&q, 2, ids);
	resp = allocate(r, &q, &a, msg, sizeof(msg));
	assert_non_null(resp);
	assert_int_equal(resp->n_container_responses, 2);
	snprintf(want, sizeof(want), "%s,%s,%s", uuids[3], uuids[0],
	    uuids[1]);
	assert_string_equal(visible(resp, 0), want);
	assert_string_equal(visible(resp, 1), uuids[2]);
	assert_int_equal(resp->container_responses[0]->n_devices, 0);
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_index_strategy(void **state)
{
	struct resources *r = build(ID_STRATEGY_INDEX, false, NULL);
	char *one[] = { (char *)uuids[2], (char *)uuids[0], NULL };
	char **ids[] = { one };
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[256];

	request_init(&q, 1, ids);
	assert_string_equal(visible(allocate(r, &q, &a, msg, sizeof(msg)), 0),
	    "2,0");
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_device_specs_under_dev_root(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, true, "/host");
	char *one[] = { (char *)uuids[1], (char *)uuids[1], NULL };
	char **ids[] = { one };
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[256];
	const V1beta1__ContainerAllocateResponse *c;

	request_init(&q, 1, ids);
	c = allocate(r, &q, &a, msg, sizeof(msg))->container_responses[0];
	/* The control nodes that exist (the first and third), then GPU 1. */
	assert_int_equal(c->n_devices, 3);
	assert_string_equal(c->devices[0]->container_path, "/dev/nvidiactl");
	assert_string_equal(c->devices[0]->host_path, "/host/dev/nvidiactl");
	assert_string_equal(c->devices[1]->container_path,
	    "/dev/nvidia-uvm-tools");
	assert_string_equal(c->devices[2]->container_path, "/dev/nvidia11");
	assert_string_equal(c->devices[2]->host_path, "/host/dev/nvidia11");
	assert_string_equal(c->devices[2]->permissions, "rw");
	arena_free(&a);
	resources_free(r);
	/* The default root adds no prefix. */
	r = build(ID_STRATEGY_UUID, true, "/");
	request_init(&q, 1, ids);
	c = allocate(r, &q, &a, msg, sizeof(msg))->container_responses[0];
	assert_string_equal(c->devices[2]->host_path, "/dev/nvidia11");
	arena_free(&a);
	resources_free(r);
	/* A trailing slash adds no empty path component. */
	r = build(ID_STRATEGY_UUID, true, "/host//");
	request_init(&q, 1, ids);
	c = allocate(r, &q, &a, msg, sizeof(msg))->container_responses[0];
	assert_string_equal(c->devices[2]->host_path, "/host/dev/nvidia11");
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_unknown_device_names_it(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *one[] = { (char *)uuids[0], "GPU-nope", NULL };
	char **ids[] = { one };
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[256];

	request_init(&q, 1, ids);
	assert_null(allocate(r, &q, &a, msg, sizeof(msg)));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(msg, "invalid allocation request for "
	    "\"nvidia.com/gpu\": invalid request: unknown device: GPU-nope");
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_unhealthy_device_names_its_reason(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	struct health_gpu_status h[NGPUS] = { { true, NULL },
		{ false, "XID 79 (GPU has fallen off the bus), reset" },
		{ true, NULL }, { true, NULL } };
	char *one[] = { (char *)uuids[0], (char *)uuids[1], NULL };
	char *unknown_too[] = { (char *)uuids[1], "GPU-nope", NULL };
	char **ids[] = { one };
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[256], want[256];

	assert_true(set_health(r, h, NGPUS, NULL, 0));
	request_init(&q, 1, ids);
	assert_null(allocate(r, &q, &a, msg, sizeof(msg)));
	assert_int_equal(errno, ENODEV);
	snprintf(want, sizeof(want), "invalid allocation request for "
	    "\"nvidia.com/gpu\": device %s is unhealthy: XID 79 (GPU has "
	    "fallen off the bus), reset", uuids[1]);
	assert_string_equal(msg, want);
	/* An unknown id is the error, wherever it stands. */
	ids[0] = unknown_too;
	request_init(&q, 1, ids);
	assert_null(allocate(r, &q, &a, msg, sizeof(msg)));
	assert_int_equal(errno, ENOENT);
	arena_free(&a);
	resources_free(r);
}

static void
test_allocate_no_containers_is_an_empty_answer(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	struct request q;
	struct arena a = ARENA_INIT;
	char msg[64];
	const V1beta1__AllocateResponse *resp;

	request_init(&q, 0, NULL);
	resp = allocate(r, &q, &a, msg, sizeof(msg));
	assert_non_null(resp);
	assert_int_equal(resp->n_container_responses, 0);
	arena_free(&a);
	resources_free(r);
}

/* ---- GetPreferredAllocation ---- */

static V1beta1__ContainerPreferredAllocationResponse *
prefer(const struct resources *r, char **must, size_t n_must, char **avail,
    size_t n_avail, int size, struct arena *a)
{
	V1beta1__PreferredAllocationRequest req =
	    V1BETA1__PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__ContainerPreferredAllocationRequest c =
	    V1BETA1__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__ContainerPreferredAllocationRequest *cp = &c;
	V1beta1__PreferredAllocationResponse *resp;

	c.must_include_deviceids = must;
	c.n_must_include_deviceids = n_must;
	c.available_deviceids = avail;
	c.n_available_deviceids = n_avail;
	c.allocation_size = size;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	resp = (V1beta1__PreferredAllocationResponse *)resource_preferred(
	    &r->res[0], &req.base, a);
	assert_non_null(resp);
	assert_int_equal(resp->n_container_responses, 1);
	return resp->container_responses[0];
}

static void
assert_ids(const V1beta1__ContainerPreferredAllocationResponse *c,
    const char *const *want, size_t n)
{
	assert_int_equal(c->n_deviceids, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c->deviceids[i], want[i]);
}

static void
test_preferred_must_include_then_gpu_order(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *avail[] = { (char *)uuids[3], (char *)uuids[1],
		(char *)uuids[0], (char *)uuids[2] };
	char *must[] = { (char *)uuids[2] };
	const char *want[] = { uuids[2], uuids[0], uuids[1] };
	struct arena a = ARENA_INIT;

	assert_ids(prefer(r, must, 1, avail, 4, 3, &a), want, 3);
	arena_free(&a);
	resources_free(r);
}

static void
test_preferred_each_id_once_unknown_last(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *avail[] = { "GPU-x", (char *)uuids[1], "GPU-x",
		(char *)uuids[1], (char *)uuids[0], "GPU-y", (char *)uuids[2] };
	char *must[] = { (char *)uuids[2], (char *)uuids[2] };
	const char *want[] = { uuids[2], uuids[0], uuids[1], "GPU-x",
		"GPU-y" };
	struct arena a = ARENA_INIT;

	/* Asked for more than there is: every distinct id, once. */
	assert_ids(prefer(r, must, 2, avail, 7, 100, &a), want, 5);
	arena_free(&a);
	resources_free(r);
}

static void
test_preferred_size_bounds_the_answer(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *avail[] = { (char *)uuids[3], (char *)uuids[2] };
	const char *want[] = { uuids[2] };
	struct arena a = ARENA_INIT;

	assert_ids(prefer(r, NULL, 0, avail, 2, 1, &a), want, 1);
	assert_ids(prefer(r, NULL, 0, avail, 2, 0, &a), NULL, 0);
	assert_ids(prefer(r, NULL, 0, avail, 2, -5, &a), NULL, 0);
	arena_free(&a);
	resources_free(r);
}

static void
test_preferred_many_ids_answers(void **state)
{
	/* 20,000 unknown ids and duplicates: answered, each once. */
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	enum { N = 20000 };
	char **avail = calloc(N, sizeof(*avail));
	char (*names)[24] = calloc(N, sizeof(*names));
	struct arena a = ARENA_INIT;
	const V1beta1__ContainerPreferredAllocationResponse *c;

	assert_non_null(avail);
	assert_non_null(names);
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "u-%zu", i % (N / 2));
		avail[i] = names[i];
	}
	avail[N - 1] = (char *)uuids[3];
	c = prefer(r, NULL, 0, avail, N, N, &a);
	assert_int_equal(c->n_deviceids, N / 2 + 1);
	assert_string_equal(c->deviceids[0], uuids[3]);
	assert_string_equal(c->deviceids[1], "u-0");
	arena_free(&a);
	free(avail);
	free(names);
	resources_free(r);
}

/* ---- ListAndWatch ---- */

static void
test_list_health_and_numa(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	struct health_gpu_status h[NGPUS] = { { true, NULL },
		{ true, NULL }, { false, "probe failed" }, { true, NULL } };
	struct arena a = ARENA_INIT;
	const V1beta1__ListAndWatchResponse *l;

	set_health(r, h, NGPUS, NULL, 0);
	l = (const V1beta1__ListAndWatchResponse *)resource_list(&r->res[0],
	    &a);
	assert_non_null(l);
	assert_int_equal(l->n_devices, NGPUS);
	assert_string_equal(l->devices[0]->id, uuids[0]);
	assert_string_equal(l->devices[0]->health, "Healthy");
	assert_string_equal(l->devices[2]->health, "Unhealthy");
	assert_int_equal(l->devices[2]->topology->n_nodes, 1);
	assert_int_equal(l->devices[2]->topology->nodes[0]->id, 1);
	assert_null(l->devices[3]->topology); /* NUMA unknown */
	arena_free(&a);
	resources_free(r);
}

/* ---- health fan-out ---- */

/*
 * GPU 0: four replicas. GPU 1: two MIG devices in GPU instance 1 and one
 * in GPU instance 2. GPU 2: a whole GPU. Built by hand, as the sharing
 * and MIG builders will build them.
 */
static struct resources *
shared_and_mig(void)
{
	static const struct { size_t gpu; unsigned gi, ci; } shape[] = {
		{ 0, RESOURCES_WHOLE, RESOURCES_WHOLE },
		{ 0, RESOURCES_WHOLE, RESOURCES_WHOLE },
		{ 0, RESOURCES_WHOLE, RESOURCES_WHOLE },
		{ 0, RESOURCES_WHOLE, RESOURCES_WHOLE },
		{ 1, 1, 0 }, { 1, 1, 1 }, { 1, 2, 0 },
		{ 2, RESOURCES_WHOLE, RESOURCES_WHOLE },
	};
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	struct resource *res = &r->res[0];

	free(res->views);
	res->n = sizeof(shape) / sizeof(shape[0]);
	res->views = calloc(res->n, sizeof(*res->views));
	assert_non_null(res->views);
	for (size_t i = 0; i < res->n; i++) {
		snprintf(res->views[i].id, sizeof(res->views[i].id), "v%zu", i);
		res->views[i].gpu = shape[i].gpu;
		res->views[i].gi = shape[i].gi;
		res->views[i].ci = shape[i].ci;
		res->views[i].healthy = true;
	}
	assert_int_equal(resource_index(res), 0);
	return r;
}

static void
healthy_except(struct health_gpu_status *h, size_t bad, const char *why)
{
	for (size_t i = 0; i < 3; i++) {
		h[i].healthy = i != bad;
		h[i].reason = i != bad ? NULL : why;
	}
}

static void
expect_health(const struct resources *r, const char *pattern)
{
	for (size_t i = 0; pattern[i] != '\0'; i++)
		assert_int_equal(r->res[0].views[i].healthy, pattern[i] == '+');
}

static void
test_failing_gpu_marks_every_replica(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];

	healthy_except(h, 0, "XID 48 (double bit ECC error), reset");
	assert_true(set_health(r, h, 3, NULL, 0));
	expect_health(r, "----++++");
	assert_string_equal(r->res[0].views[3].reason,
	    "XID 48 (double bit ECC error), reset");
	assert_string_equal(r->res[0].views[4].reason, "");
	assert_true(r->res[0].changed);
	r->res[0].changed = false;
	/* The same health again changes nothing. */
	assert_false(set_health(r, h, 3, NULL, 0));
	assert_false(r->res[0].changed);
	resources_free(r);
}

static void
test_failing_gpu_marks_every_mig_device(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];

	healthy_except(h, 1, "NVML probe: NVML_ERROR_GPU_IS_LOST");
	set_health(r, h, 3, NULL, 0);
	expect_health(r, "++++---+");
	resources_free(r);
}

static void
test_mig_fault_marks_only_that_device(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];
	struct health_instance_fault f = { 1, 1, 1, "XID 94, transient" };

	healthy_except(h, 99, NULL);
	set_health(r, h, 3, &f, 1);
	expect_health(r, "+++++-++");
	assert_string_equal(r->res[0].views[5].reason, "XID 94, transient");
	resources_free(r);
}

static void
test_gpu_instance_fault_marks_its_compute_instances(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];
	struct health_instance_fault f = { 1, 1, RESOURCES_WHOLE,
		"XID 48, reset" };

	healthy_except(h, 99, NULL);
	set_health(r, h, 3, &f, 1);
	expect_health(r, "++++--++");
	resources_free(r);
}

static void
test_mig_fault_marks_whole_gpu_views_of_that_gpu(void **state)
{
	/* A whole-GPU view shares the silicon of every instance. */
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];
	struct health_instance_fault f = { 2, 3, 0, "XID 94" };

	healthy_except(h, 99, NULL);
	set_health(r, h, 3, &f, 1);
	expect_health(r, "+++++++-");
	assert_string_equal(r->res[0].views[7].reason, "XID 94");
	/* The fault clears: healthy again, reason gone. */
	assert_true(set_health(r, h, 3, NULL, 0));
	expect_health(r, "++++++++");
	assert_string_equal(r->res[0].views[7].reason, "");
	resources_free(r);
}

static void
test_view_of_unknown_gpu_is_unhealthy(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[1] = { { true, NULL } };

	set_health(r, h, 1, NULL, 0);
	expect_health(r, "++++----");
	assert_string_not_equal(r->res[0].views[7].reason, "");
	resources_free(r);
}

static void
test_unhealthy_always_has_a_reason(void **state)
{
	struct resources *r = shared_and_mig();
	struct health_gpu_status h[3];
	struct health_instance_fault f = { 1, 2, 0, "" };

	healthy_except(h, 0, "");
	set_health(r, h, 3, &f, 1);
	for (size_t i = 0; i < r->res[0].n; i++)
		if (!r->res[0].views[i].healthy)
			assert_string_not_equal(r->res[0].views[i].reason, "");
	resources_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_one_view_per_gpu),
		cmocka_unit_test(test_build_without_gpus_has_no_resource),
		cmocka_unit_test(test_build_refuses_unusable_names),
		cmocka_unit_test(test_find_is_exact_and_length_delimited),
		cmocka_unit_test(
		    test_allocate_visible_devices_in_request_order),
		cmocka_unit_test(test_allocate_index_strategy),
		cmocka_unit_test(test_allocate_device_specs_under_dev_root),
		cmocka_unit_test(test_allocate_unknown_device_names_it),
		cmocka_unit_test(
		    test_allocate_unhealthy_device_names_its_reason),
		cmocka_unit_test(
		    test_allocate_no_containers_is_an_empty_answer),
		cmocka_unit_test(test_preferred_must_include_then_gpu_order),
		cmocka_unit_test(test_preferred_each_id_once_unknown_last),
		cmocka_unit_test(test_preferred_size_bounds_the_answer),
		cmocka_unit_test(test_preferred_many_ids_answers),
		cmocka_unit_test(test_list_health_and_numa),
		cmocka_unit_test(test_failing_gpu_marks_every_replica),
		cmocka_unit_test(test_failing_gpu_marks_every_mig_device),
		cmocka_unit_test(test_mig_fault_marks_only_that_device),
		cmocka_unit_test(
		    test_gpu_instance_fault_marks_its_compute_instances),
		cmocka_unit_test(
		    test_mig_fault_marks_whole_gpu_views_of_that_gpu),
		cmocka_unit_test(test_view_of_unknown_gpu_is_unhealthy),
		cmocka_unit_test(test_unhealthy_always_has_a_reason),
	};

	return cmocka_run_group_tests(tests, setup_inventory, NULL);
}
