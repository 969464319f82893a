/*
 * test_wire.c: the hand-written codecs (src/wire/) give protobuf-c's
 * results: the same bytes for generated answers of every shape, the same
 * verdict and fields for generated requests and for mutations of them
 * (truncated, bytes flipped, fields of the wrong type, unknown fields,
 * overlong varints), and the cases protobuf-c treats in its own way.
 * The generator is seeded: a failure reproduces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"
#include "wire/wire.h"
#include "wirediff.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

/* ---- generated values, freed all at once ---- */

static void *pool[1 << 16];
static size_t npool;

static void *
keep(void *p)
{
	assert_non_null(p);
	assert_true(npool < sizeof(pool) / sizeof(pool[0]));
	return pool[npool++] = p;
}

static void
drop_all(void)
{
	while (npool > 0)
		free(pool[--npool]);
}

/* NULL, empty, short or long (a length past one varint byte), any byte
 * but NUL. */
static char *
gen_str(void)
{
	uint32_t kind = rnd(8), len;
	char *s;

	if (kind == 0)
		return NULL;
	len = kind == 1 ? 0 : kind < 6 ? rnd(20) : 100 + rnd(300);
	s = keep(malloc(len + 1));
	for (uint32_t i = 0; i < len; i++)
		s[i] = (char)(1 + rnd(255));
	s[len] = '\0';
	return s;
}

static void **
gen_array(size_t n, size_t size, void (*init)(void *))
{
	void **ptrs = n ? keep(calloc(n, sizeof(void *))) : NULL;

	for (size_t i = 0; i < n; i++) {
		ptrs[i] = keep(calloc(1, size));
		init(ptrs[i]);
	}
	return ptrs;
}

static void
init_env(void *p)
{
	V1beta1__ContainerAllocateResponse__EnvsEntry *e = p;

	v1beta1__container_allocate_response__envs_entry__init(e);
	e->key = gen_str();
	e->value = gen_str();
}

static void
init_annotation(void *p)
{
	V1beta1__ContainerAllocateResponse__AnnotationsEntry *e = p;

	v1beta1__container_allocate_response__annotations_entry__init(e);
	e->key = gen_str();
	e->value = gen_str();
}

static void
init_mount(void *p)
{
	V1beta1__Mount *m = p;

	v1beta1__mount__init(m);
	m->container_path = gen_str();
	m->host_path = gen_str();
	m->read_only = rnd(2);
}

static void
init_device(void *p)
{
	V1beta1__DeviceSpec *d = p;

	v1beta1__device_spec__init(d);
	d->container_path = gen_str();
	d->host_path = gen_str();
	d->permissions = gen_str();
}

static void
init_cdi(void *p)
{
	V1beta1__CDIDevice *d = p;

	v1beta1__cdidevice__init(d);
	d->name = gen_str();
}

static void
init_container(void *p)
{
	V1beta1__ContainerAllocateResponse *c = p;

	v1beta1__container_allocate_response__init(c);
	c->n_envs = rnd(4);
	c->envs = (void *)gen_array(c->n_envs, sizeof(**c->envs), init_env);
	c->n_mounts = rnd(3);
	c->mounts = (void *)gen_array(c->n_mounts, sizeof(**c->mounts),
	    init_mount);
	c->n_devices = rnd(3);
	c->devices = (void *)gen_array(c->n_devices, sizeof(**c->devices),
	    init_device);
	c->n_annotations = rnd(3);
	c->annotations = (void *)gen_array(c->n_annotations,
	    sizeof(**c->annotations), init_annotation);
	c->n_cdi_devices = rnd(3);
	c->cdi_devices = (void *)gen_array(c->n_cdi_devices,
	    sizeof(**c->cdi_devices), init_cdi);
}

/* A repeated string's elements are never NULL in protobuf-c's model. */
static char *
gen_id(void)
{
	char *s = gen_str();

	return s != NULL ? s : keep(calloc(1, 1));
}

static void
init_preferred_container(void *p)
{
	V1beta1__ContainerPreferredAllocationResponse *c = p;

	v1beta1__container_preferred_allocation_response__init(c);
	c->n_deviceids = rnd(5);
	c->deviceids = c->n_deviceids ?
	    keep(calloc(c->n_deviceids, sizeof(char *))) : NULL;
	for (size_t i = 0; i < c->n_deviceids; i++)
		c->deviceids[i] = gen_id();
}

/* ---- answers ---- */

static void
answers_match_protobuf_c(void **state)
{
	for (int round = 0; round < 3000; round++) {
		V1beta1__AllocateResponse r = V1BETA1__ALLOCATE_RESPONSE__INIT;
		const char *why;

		r.n_container_responses = rnd(4);
		r.container_responses = (void *)gen_array(
		    r.n_container_responses, sizeof(**r.container_responses),
		    init_container);
		why = wirediff_response(&r.base);
		if (why != NULL)
			fail_msg("round %d: %s", round, why);
		drop_all();
	}
}

static void
preferred_answers_match_protobuf_c(void **state)
{
	for (int round = 0; round < 3000; round++) {
		V1beta1__PreferredAllocationResponse r =
		    V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
		const char *why;

		r.n_container_responses = rnd(4);
		r.container_responses = (void *)gen_array(
		    r.n_container_responses, sizeof(**r.container_responses),
		    init_preferred_container);
		why = wirediff_response(&r.base);
		if (why != NULL)
			fail_msg("round %d: %s", round, why);
		drop_all();
	}
}

/* The answer the plugin gives most: one container, one env. */
static void
one_gpu_answer_bytes(void **state)
{
	V1beta1__ContainerAllocateResponse__EnvsEntry env =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT;
	V1beta1__ContainerAllocateResponse c =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry *envs[] = { &env };
	V1beta1__ContainerAllocateResponse *cs[] = { &c };
	V1beta1__AllocateResponse r = V1BETA1__ALLOCATE_RESPONSE__INIT;
	static const uint8_t want[] = {
		0x0a, 0x12, 0x0a, 0x10, 0x0a, 0x09, 'V', 'I', 'S', 'I', 'B',
		'L', 'E', '_', 'D', 0x12, 0x03, 'G', 'P', 'U',
	};
	uint8_t out[sizeof(want)];

	env.key = "VISIBLE_D";
	env.value = "GPU";
	c.n_envs = 1;
	c.envs = envs;
	r.n_container_responses = 1;
	r.container_responses = cs;
	assert_int_equal(wire_allocate_response_size(&r.base), sizeof(want));
	wire_pack_allocate_response(&r.base, sizeof(out), out);
	assert_memory_equal(out, want, sizeof(want));
}

/* ---- requests ---- */

static ProtobufCBinaryData
gen_bin(void)
{
	char *s = gen_str();
	ProtobufCBinaryData b = { s ? strlen(s) : 0, (uint8_t *)s };

	if (b.len > 0 && rnd(4) == 0)
		s[rnd((uint32_t)b.len)] = '\0';   /* bytes may hold NUL */
	return b;
}

static ProtobufCBinaryData *
gen_bins(size_t n)
{
	ProtobufCBinaryData *ids = n ? keep(calloc(n, sizeof(*ids))) : NULL;

	for (size_t i = 0; i < n; i++)
		ids[i] = gen_bin();
	return ids;
}

static void
init_allocate_request(void *p)
{
	V1beta1__Raw__ContainerAllocateRequest *c = p;

	v1beta1__raw__container_allocate_request__init(c);
	c->n_devices_ids = rnd(5);
	c->devices_ids = gen_bins(c->n_devices_ids);
}

static void
init_preferred_request(void *p)
{
	V1beta1__Raw__ContainerPreferredAllocationRequest *c = p;

	v1beta1__raw__container_preferred_allocation_request__init(c);
	c->n_available_deviceids = rnd(5);
	c->available_deviceids = gen_bins(c->n_available_deviceids);
	c->n_must_include_deviceids = rnd(3);
	c->must_include_deviceids = gen_bins(c->n_must_include_deviceids);
	c->allocation_size = (int32_t)(rnd(4) == 0 ? -(int32_t)rnd(9) :
	    (int32_t)rnd(1000));
}

/* A valid request of either kind, packed by protobuf-c. */
static uint8_t *
gen_request(size_t *len)
{
	V1beta1__Raw__AllocateRequest a = V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	V1beta1__Raw__PreferredAllocationRequest p =
	    V1BETA1__RAW__PREFERRED_ALLOCATION_REQUEST__INIT;
	ProtobufCMessage *m;
	uint8_t *out;

	if (rnd(2)) {
		a.n_container_requests = rnd(4);
		a.container_requests = (void *)gen_array(
		    a.n_container_requests, sizeof(**a.container_requests),
		    init_allocate_request);
		m = &a.base;
	} else {
		p.n_container_requests = rnd(4);
		p.container_requests = (void *)gen_array(
		    p.n_container_requests, sizeof(**p.container_requests),
		    init_preferred_request);
		m = &p.base;
	}
	*len = protobuf_c_message_get_packed_size(m);
	out = malloc(*len + 64);
	assert_non_null(out);
	protobuf_c_message_pack(m, out);
	return out;
}

/* Damage of the kinds a parser gets wrong. */
static size_t
mutate(uint8_t *b, size_t len)
{
	size_t at = len ? rnd((uint32_t)len) : 0;

	switch (rnd(6)) {
	case 0:                          /* cut short */
		return at;
	case 1:                          /* a byte changed */
		if (len > 0)
			b[at] = (uint8_t)rnd(256);
		return len;
	case 2:                          /* a wire type changed */
		if (len > 0)
			b[at] = (uint8_t)((b[at] & ~7u) | rnd(8));
		return len;
	case 3:                          /* a length changed */
		if (len > 0)
			b[at] = (uint8_t)(b[at] + rnd(5) - 2);
		return len;
	case 4: {                        /* an unknown field appended */
		static const uint8_t tails[][6] = {
			{ 0x20, 0x05 }, { 0x2a, 0x01, 'x' },
			{ 0x2d, 1, 2, 3, 4 }, { 0x33 }, { 0xf8, 0x01, 0x7f },
		};
		size_t k = rnd(5);

		memcpy(b + len, tails[k], sizeof(tails[k]));
		return len + (k == 3 ? 1 : k == 1 ? 3 : k == 2 ? 5 :
		    k == 4 ? 3 : 2);
	}
	default: {                       /* a varint made overlong */
		size_t n = 1 + rnd(9);

		if (len < 2)
			return len;
		memmove(b + at + n, b + at, len - at);
		memset(b + at, 0x80, n);
		return len + n;
	}
	}
}

static void
requests_match_protobuf_c(void **state)
{
	for (int round = 0; round < 20000; round++) {
		size_t len;
		uint8_t *b = gen_request(&len);
		const char *why;

		for (uint32_t k = rnd(3); k > 0; k--)
			len = mutate(b, len);
		why = wirediff_requests(b, len);
		if (why != NULL)
			fail_msg("round %d (%zu bytes): %s", round, len, why);
		free(b);
		drop_all();
	}
}

/* Cases protobuf-c treats in its own way, each checked against it. */
static void
protobuf_c_corners(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} cases[] = {
		{ "an id as a varint", { 0x0a, 0x02, 0x08, 0x05 }, 4 },
		{ "allocation_size as bytes", { 0x0a, 0x03, 0x1a, 0x01, 'x' },
		  5 },
		{ "a container as a varint", { 0x08, 0x05 }, 2 },
		{ "a group", { 0x0a, 0x02, 0x0b, 0x0c }, 4 },
		{ "allocation_size -1 in 10 bytes", { 0x0a, 0x0b, 0x18, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 13 },
		{ "an 11-byte varint", { 0x0a, 0x0c, 0x18, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 14 },
		{ "an empty id", { 0x0a, 0x02, 0x0a, 0x00 }, 4 },
		{ "field 0", { 0x0a, 0x02, 0x00, 0x01 }, 4 },
		{ "field 2^29-1", { 0x0a, 0x06, 0xf8, 0xff, 0xff, 0xff, 0x0f,
		  0x01 }, 8 },
		{ "field 2^29", { 0x0a, 0x06, 0x80, 0x80, 0x80, 0x80, 0x10,
		  0x01 }, 8 },
		{ "field 2^32-1", { 0x0a, 0x06, 0xf8, 0xff, 0xff, 0xff, 0x7f,
		  0x01 }, 8 },
		{ "field 0 in two bytes", { 0x0a, 0x03, 0x80, 0x00, 0x01 },
		  5 },
		{ "a 6-byte key", { 0x0a, 0x07, 0x88, 0x80, 0x80, 0x80, 0x80,
		  0x00, 0x01 }, 9 },
		{ "wire type 6", { 0x0a, 0x02, 0x1e, 0x01 }, 4 },
		{ "allocation_size twice", { 0x0a, 0x04, 0x18, 0x01, 0x18,
		  0x07 }, 6 },
		{ "a short fixed32", { 0x0a, 0x03, 0x1d, 0x01, 0x02 }, 5 },
		{ "an id past its container", { 0x0a, 0x03, 0x0a, 0x05, 'x' },
		  5 },
		{ "a packed allocation_size", { 0x0a, 0x04, 0x1a, 0x02, 0x08,
		  0x01 }, 6 },
		{ "a length in 10 bytes", { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x80,
		  0x80, 0x80, 0x80, 0x80, 0x00 }, 11 },
		{ "a length in 5 bytes", { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x00 },
		  6 },
		{ "a length in 6 bytes", { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x80,
		  0x00 }, 7 },
		{ "a length past 2^32 in 5 bytes", { 0x0a, 0x80, 0x80, 0x80,
		  0x80, 0x10 }, 6 },
		{ "nothing", { 0 }, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = wirediff_requests(cases[i].bytes,
		    cases[i].len);

		if (why != NULL)
			fail_msg("%s: %s", cases[i].what, why);
	}
}

/* ---- allocation: one block, from the caller's allocator ---- */

struct counting {
	int allocs, frees, fail_at;
};

static void *
counting_alloc(void *data, size_t size)
{
	struct counting *c = data;

	return ++c->allocs == c->fail_at ? NULL : malloc(size);
}

static void
counting_free(void *data, void *p)
{
	((struct counting *)data)->frees++;
	free(p);
}

static void
one_block_from_the_allocator(void **state)
{
	static const uint8_t two[] = {
		0x0a, 0x06, 0x0a, 0x01, 'a', 0x0a, 0x01, 'b',
		0x0a, 0x03, 0x0a, 0x01, 'c',
	};
	struct counting c = { 0, 0, 0 };
	ProtobufCAllocator a = { counting_alloc, counting_free, &c };
	ProtobufCMessage *m = wire_unpack_allocate(&a, sizeof(two), two);
	V1beta1__Raw__AllocateRequest *req = (void *)m;

	assert_non_null(m);
	assert_int_equal(c.allocs, 1);
	assert_int_equal(req->n_container_requests, 2);
	assert_int_equal(req->container_requests[0]->n_devices_ids, 2);
	assert_memory_equal(req->container_requests[1]->devices_ids[0].data,
	    "c", 1);
	wire_free_request(m, &a);
	assert_int_equal(c.frees, 1);

	c = (struct counting){ 0, 0, 1 };   /* the allocation fails */
	assert_null(wire_unpack_allocate(&a, sizeof(two), two));
	c = (struct counting){ 0, 0, 1 };
	assert_null(wire_unpack_preferred(&a, sizeof(two), two));
	assert_int_equal(c.frees, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(answers_match_protobuf_c),
		cmocka_unit_test(preferred_answers_match_protobuf_c),
		cmocka_unit_test(one_gpu_answer_bytes),
		cmocka_unit_test(requests_match_protobuf_c),
		cmocka_unit_test(protobuf_c_corners),
		cmocka_unit_test(one_block_from_the_allocator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
