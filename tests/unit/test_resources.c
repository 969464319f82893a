/*
 * test_resources.c: the resource core reached directly: views built from
 * an inventory, look-up by id, every Allocate and GetPreferredAllocation
 * rule, the ListAndWatch list, and the fan-out of GPU health and
 * MIG-instance faults to every view (whole GPUs, replicas, MIG devices).
 *
 * The inventory is plain data, so each test writes the machine it needs;
 * requests are protobuf-c structs, as the gRPC layer hands them over
 * (the raw requests of proto/requests.proto: ids as bytes). The bounds
 * on a request and the work it costs (id comparisons, counted by the
 * core) are held here too.
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

static const char *const uuids[] = {
	"GPU-aaaa0000-0000-0000-0000-000000000000",
	"GPU-bbbb0000-0000-0000-0000-000000000000",
	"GPU-cccc0000-0000-0000-0000-000000000000",
	"GPU-dddd0000-0000-0000-0000-000000000000",
};
#define NGPUS 4

static struct gpu gpus[NGPUS];
static struct inventory inv = { gpus, NGPUS, "550.90.07", 12040, NULL, 0,
	NULL, 0, NULL, 0 };

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
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ids, .pass_device_specs = specs,
		.dev_root = dev_root,
		.control_present = { true, false, true, false } };
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
	struct inventory empty = { NULL, 0, "", 0, NULL, 0, NULL, 0, NULL, 0 };
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ID_STRATEGY_UUID };
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
	struct resources_options o = { .resource_name = "nvidia.com/",
		.id_strategy = ID_STRATEGY_UUID };
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

/* An id as the wire gives it: |s| without its NUL. */
static ProtobufCBinaryData
bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

/* An AllocateRequest with one container per NULL-terminated id list. */
struct request {
	V1beta1__Raw__AllocateRequest req;
	V1beta1__Raw__ContainerAllocateRequest c[4];
	V1beta1__Raw__ContainerAllocateRequest *cp[4];
	ProtobufCBinaryData ids[4][8];
};

static void
request_init(struct request *q, size_t nc, char **ids[])
{
	v1beta1__raw__allocate_request__init(&q->req);
	for (size_t i = 0; i < nc; i++) {
		size_t n = 0;

		v1beta1__raw__container_allocate_request__init(&q->c[i]);
		for (; ids[i][n] != NULL; n++)
			q->ids[i][n] = bin(ids[i][n]);
		q->c[i].devices_ids = q->ids[i];
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

/* |n| ids as the wire gives them, in |a|. */
static ProtobufCBinaryData *
bins(char **ids, size_t n, struct arena *a)
{
	ProtobufCBinaryData *b = arena_array(a, n, sizeof(*b));

	assert_true(b != NULL || n == 0);
	for (size_t i = 0; i < n; i++)
		b[i] = bin(ids[i]);
	return b;
}

/* RESOURCES_ODD_* of the last prefer_on(). */
static unsigned last_odd;

/* GetPreferredAllocation of one container on |res|: NULL if refused. */
static V1beta1__PreferredAllocationResponse *
prefer_on(const struct resource *res, char **must, size_t n_must,
    char **avail, size_t n_avail, int size, struct arena *a, char *msg,
    size_t msglen)
{
	V1beta1__Raw__PreferredAllocationRequest req =
	    V1BETA1__RAW__PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest c =
	    V1BETA1__RAW__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest *cp = &c;

	c.must_include_deviceids = bins(must, n_must, a);
	c.n_must_include_deviceids = n_must;
	c.available_deviceids = bins(avail, n_avail, a);
	c.n_available_deviceids = n_avail;
	c.allocation_size = size;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	return (V1beta1__PreferredAllocationResponse *)resource_preferred(
	    res, &req.base, a, msg, msglen, &last_odd);
}

static V1beta1__ContainerPreferredAllocationResponse *
prefer(const struct resources *r, char **must, size_t n_must, char **avail,
    size_t n_avail, int size, struct arena *a)
{
	char msg[512];
	V1beta1__PreferredAllocationResponse *resp = prefer_on(&r->res[0],
	    must, n_must, avail, n_avail, size, a, msg, sizeof(msg));

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

/* Pair scores pick two GPUs of one NUMA node over the lowest indexes. */
static void
test_preferred_same_numa_pair(void **state)
{
	int saved = gpus[0].numa_node;

	gpus[0].numa_node = 1;  /* 0 and 2 on node 1, 1 on node 0 */
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	gpus[0].numa_node = saved;
	char *avail[] = { (char *)uuids[0], (char *)uuids[1],
		(char *)uuids[2], (char *)uuids[3] };
	const char *want[] = { uuids[0], uuids[2] };
	struct arena a = ARENA_INIT;

	assert_ids(prefer(r, NULL, 0, avail, 4, 2, &a), want, 2);
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
	assert_int_equal(last_odd, RESOURCES_ODD_SIZE | RESOURCES_ODD_UNKNOWN);
	arena_free(&a);
	resources_free(r);
}

/* Answered all the same, and what was odd is said: the plugin logs it. */
static void
test_preferred_notes_what_the_kubelet_should_not_send(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	char *avail[] = { (char *)uuids[3], (char *)uuids[2], "GPU-\nforged" };
	char *must[] = { (char *)uuids[1], (char *)uuids[0] };
	char msg[512];
	struct arena a = ARENA_INIT;

	assert_non_null(prefer_on(&r->res[0], NULL, 0, avail, 2, 1, &a, msg,
	    sizeof(msg)));
	assert_int_equal(last_odd, 0);
	assert_string_equal(msg, "");
	assert_non_null(prefer_on(&r->res[0], must, 2, avail, 2, 1, &a, msg,
	    sizeof(msg)));
	assert_int_equal(last_odd, RESOURCES_ODD_MUST);
	assert_non_null(strstr(msg, "2 must-include ids for size 1"));
	assert_non_null(prefer_on(&r->res[0], NULL, 0, avail, 3, 0, &a, msg,
	    sizeof(msg)));
	assert_int_equal(last_odd, RESOURCES_ODD_SIZE | RESOURCES_ODD_UNKNOWN);
	assert_non_null(strstr(msg, "size 0 asked of 3 ids"));
	/* the id is shown escaped: no forged log line */
	assert_non_null(strstr(msg, "device id \"GPU-\\x0aforged\" is not"));
	assert_null(strchr(msg, '\n'));
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

/* ---- bounds and work ---- */

/* |n| distinct names "<prefix>-<i>" (|i| modulo |distinct|), in |a|. */
static char **
names(size_t n, size_t distinct, const char *prefix, struct arena *a)
{
	char **v = arena_array(a, n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = arena_alloc(a, 48);
		assert_non_null(v[i]);
		snprintf(v[i], 48, "%s-%zu", prefix, i % distinct);
	}
	return v;
}

static void
test_bound_is_twice_the_devices_at_least_the_floor(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	struct resource big = { .n = 1000 };

	assert_int_equal(resource_max_ids(&r->res[0]), RESOURCES_MIN_MAX_IDS);
	assert_int_equal(resource_max_ids(&big), 2000);
	big.n = SIZE_MAX / 2 + 1;
	assert_int_equal(resource_max_ids(&big), SIZE_MAX);
	resources_free(r);
}

static void
test_allocate_past_the_bounds_is_refused_naming_them(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	size_t most = resource_max_ids(&r->res[0]);
	struct arena a = ARENA_INIT;
	V1beta1__Raw__AllocateRequest req =
	    V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerAllocateRequest *cs[3], c[3];
	ProtobufCBinaryData one = bin(uuids[0]);
	ProtobufCBinaryData *many = arena_array(&a, most + 1, sizeof(*many));
	char msg[512], want[256];

	for (size_t i = 0; i < 3; i++) {
		v1beta1__raw__container_allocate_request__init(&c[i]);
		c[i].devices_ids = &one;
		c[i].n_devices_ids = 1;
		cs[i] = &c[i];
	}
	req.container_requests = cs;
	req.n_container_requests = 3;
	/* One container request without an id. */
	c[1].n_devices_ids = 0;
	assert_null(resource_allocate(&r->res[0], &req.base, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(msg, "\"nvidia.com/gpu\": container request "
	    "2 of 3 carries no device id"));
	/* More container requests than ids may be in one request: refused
	 * before any is looked at. */
	req.n_container_requests = most + 1;
	assert_null(resource_allocate(&r->res[0], &req.base, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	snprintf(want, sizeof(want), "%zu container requests; at most %zu "
	    "container requests", most + 1, most);
	assert_non_null(strstr(msg, want));
	/* Ids: at the bound answered, one more refused naming it. */
	assert_non_null(many);
	for (size_t i = 0; i <= most; i++)
		many[i] = bin(uuids[i % NGPUS]);
	c[0].devices_ids = many;
	c[0].n_devices_ids = most;
	req.n_container_requests = 1;
	assert_non_null(resource_allocate(&r->res[0], &req.base, &a, msg,
	    sizeof(msg)));
	c[0].n_devices_ids = most - 1;
	c[1].n_devices_ids = 2;
	req.n_container_requests = 2;
	assert_null(resource_allocate(&r->res[0], &req.base, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	snprintf(want, sizeof(want), "%zu device ids; at most %zu device ids",
	    most + 1, most);
	assert_non_null(strstr(msg, want));
	arena_free(&a);
	resources_free(r);
}

static void
test_preferred_past_the_bounds_is_refused_naming_them(void **state)
{
	/* 20,000 ids on a node of 4 GPUs: no kubelet sends that. */
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	size_t most = resource_max_ids(&r->res[0]);
	struct arena a = ARENA_INIT;
	char **many = names(20000, 10000, "u", &a);
	char msg[512], want[256];

	assert_null(prefer_on(&r->res[0], NULL, 0, many, 20000, 2, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	snprintf(want, sizeof(want), "invalid preferred allocation request "
	    "for \"nvidia.com/gpu\": 20000 device ids; at most %zu device "
	    "ids", most);
	assert_non_null(strstr(msg, want));
	/* Must-include ids count too. */
	assert_null(prefer_on(&r->res[0], many, 1, many + 1, most, 2, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	/* An empty container request is refused, naming it. */
	assert_null(prefer_on(&r->res[0], NULL, 0, NULL, 0, 1, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(msg, "container request 1 of 1 carries no "
	    "device id"));
	arena_free(&a);
	resources_free(r);
}

static void
check_refused_id(const struct resources *r, const char *id, size_t len,
    const char *shown, const char *flaw)
{
	ProtobufCBinaryData b = { len, (uint8_t *)id };
	V1beta1__Raw__ContainerAllocateRequest c =
	    V1BETA1__RAW__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerAllocateRequest *cp = &c;
	V1beta1__Raw__AllocateRequest req =
	    V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest pc =
	    V1BETA1__RAW__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__Raw__ContainerPreferredAllocationRequest *pcp = &pc;
	V1beta1__Raw__PreferredAllocationRequest preq =
	    V1BETA1__RAW__PREFERRED_ALLOCATION_REQUEST__INIT;
	struct arena a = ARENA_INIT;
	char msg[512], want[512];

	c.devices_ids = &b;
	c.n_devices_ids = 1;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	snprintf(want, sizeof(want), "device id \"%s\" %s", shown, flaw);
	assert_null(resource_allocate(&r->res[0], &req.base, &a, msg,
	    sizeof(msg)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(msg, want));
	pc.must_include_deviceids = &b;
	pc.n_must_include_deviceids = 1;
	pc.allocation_size = 1;
	preq.container_requests = &pcp;
	preq.n_container_requests = 1;
	assert_null(resource_preferred(&r->res[0], &preq.base, &a, msg,
	    sizeof(msg), &last_odd));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(msg, want));
	arena_free(&a);
}

static void
test_ids_with_nul_or_bad_utf8_are_refused_by_name(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, false, NULL);
	const char *nul = "GPU-aaaa0000-0000-0000-0000-000000000000\0junk";
	char shown[128], msg[512];
	struct request q;
	char *ok[] = { "GPU-\xc3\xa9", NULL };   /* UTF-8, just unknown */
	char **ids[] = { ok };
	struct arena a = ARENA_INIT;

	/* The GPU's UUID, a NUL, more: not that GPU. */
	snprintf(shown, sizeof(shown), "%s\\x00junk", uuids[0]);
	check_refused_id(r, nul, strlen(uuids[0]) + 5, shown,
	    "holds a NUL byte");
	check_refused_id(r, "GPU-\xff", 5, "GPU-\\xff", "is not valid UTF-8");
	/* Overlong, a surrogate, cut short, past U+10FFFF. */
	check_refused_id(r, "\xc0\x80", 2, "\\xc0\\x80", "is not valid UTF-8");
	check_refused_id(r, "\xed\xa0\x80", 3, "\\xed\\xa0\\x80",
	    "is not valid UTF-8");
	check_refused_id(r, "GPU-\xe2\x82", 6, "GPU-\\xe2\\x82",
	    "is not valid UTF-8");
	check_refused_id(r, "\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80",
	    "is not valid UTF-8");
	/* Quotes and backslashes cannot end the quoted id early. */
	check_refused_id(r, "a\"b\\\n\0", 6, "a\\x22b\\x5c\\x0a\\x00",
	    "holds a NUL byte");
	/* Valid UTF-8 is only unknown, and named escaped. */
	request_init(&q, 1, ids);
	assert_null(allocate(r, &q, &a, msg, sizeof(msg)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(msg, "unknown device: GPU-\\xc3\\xa9"));
	arena_free(&a);
	resources_free(r);
}

/* A resource of |n| views named "GPU-<i>", index built. */
static struct resource *
many_views(size_t n, struct resources *all)
{
	struct resource *res = calloc(1, sizeof(*res));

	assert_non_null(res);
	res->views = calloc(n, sizeof(*res->views));
	assert_non_null(res->views);
	res->n = n;
	res->all = all;
	snprintf(res->name, sizeof(res->name), "nvidia.com/gpu");
	for (size_t i = 0; i < n; i++) {
		snprintf(res->views[i].id, sizeof(res->views[i].id), "GPU-%zu",
		    i);
		res->views[i].healthy = true;
	}
	assert_int_equal(resource_index(res), 0);
	return res;
}

static void
free_views(struct resource *res)
{
	free(res->views);
	free(res->by_id);
	free(res);
}

static double
log2_of(size_t n)
{
	double l = 0;

	for (; n > 1; n >>= 1)
		l++;
	return l + 1;
}

/* Comparisons for a preference among |m| ids, half of them twins. */
static unsigned long long
preferred_work(const struct resource *res, size_t m)
{
	struct arena a = ARENA_INIT;
	char **ids = names(m, m / 2, "unknown", &a);
	unsigned long long before = resources_id_compares;
	char msg[512];
	V1beta1__PreferredAllocationResponse *resp;

	ids[m - 1] = (char *)res->views[7].id;
	resp = prefer_on(res, NULL, 0, ids, m, (int)m, &a, msg, sizeof(msg));
	assert_non_null(resp);
	/* Every distinct id once, the known one first. */
	assert_int_equal(resp->container_responses[0]->n_deviceids, m / 2 + 1);
	assert_string_equal(resp->container_responses[0]->deviceids[0],
	    res->views[7].id);
	arena_free(&a);
	return resources_id_compares - before;
}

static void
test_preferred_work_is_m_log_m(void **state)
{
	/* A node big enough that 64k ids are within its bound: the work
	 * grows as m log m (a quadratic core did 2e9 comparisons here). */
	struct resources all = { 0 };
	struct resource *res = many_views(40000, &all);
	unsigned long long last = 0;

	for (size_t m = 4096; m <= 65536; m *= 4) {
		unsigned long long w = preferred_work(res, m);
		double bound = 4.0 * (double)m * (log2_of(m) + log2_of(res->n));

		assert_true((double)w <= bound);
		if (last > 0)
			assert_true(w <= 6 * last); /* 4x the ids */
		last = w;
	}
	free_views(res);
}

static void
test_allocate_work_is_m_log_n(void **state)
{
	struct resources all = { 0 };
	struct resource *res = many_views(40000, &all);
	enum { M = 60000 };
	struct arena a = ARENA_INIT;
	V1beta1__Raw__ContainerAllocateRequest c =
	    V1BETA1__RAW__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__ContainerAllocateRequest *cp = &c;
	V1beta1__Raw__AllocateRequest req =
	    V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	unsigned long long before = resources_id_compares;
	char msg[512];
	const V1beta1__AllocateResponse *resp;

	c.devices_ids = arena_array(&a, M, sizeof(*c.devices_ids));
	assert_non_null(c.devices_ids);
	for (size_t i = 0; i < M; i++)
		c.devices_ids[i] = bin(res->views[i % res->n].id);
	c.n_devices_ids = M;
	req.container_requests = &cp;
	req.n_container_requests = 1;
	resp = (const V1beta1__AllocateResponse *)resource_allocate(res,
	    &req.base, &a, msg, sizeof(msg));
	assert_non_null(resp);
	assert_true((double)(resources_id_compares - before) <=
	    2.0 * M * log2_of(res->n));
	arena_free(&a);
	free_views(res);
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
		cmocka_unit_test(test_preferred_same_numa_pair),
		cmocka_unit_test(test_preferred_each_id_once_unknown_last),
		cmocka_unit_test(
		    test_preferred_notes_what_the_kubelet_should_not_send),
		cmocka_unit_test(test_preferred_size_bounds_the_answer),
		cmocka_unit_test(
		    test_bound_is_twice_the_devices_at_least_the_floor),
		cmocka_unit_test(
		    test_allocate_past_the_bounds_is_refused_naming_them),
		cmocka_unit_test(
		    test_preferred_past_the_bounds_is_refused_naming_them),
		cmocka_unit_test(
		    test_ids_with_nul_or_bad_utf8_are_refused_by_name),
		cmocka_unit_test(test_preferred_work_is_m_log_m),
		cmocka_unit_test(test_allocate_work_is_m_log_n),
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
