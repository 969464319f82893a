/*
 * requests.c: the two requests on the hot path, AllocateRequest and
 * PreferredAllocationRequest (proto/requests.proto: ids as bytes),
 * decoded by hand into protobuf-c's own structs (see wire.h for why).
 *
 * Two passes over the message: the first checks it and counts containers,
 * ids and id bytes; then one allocation holds the whole result and the
 * second pass fills it in. (protobuf-c makes an allocation per container
 * and per id, and its free walks them all again; here free is one call.)
 * What is accepted and what refused is protobuf-c's, which the tests
 * compare input by input: unknown fields are skipped (protobuf-c keeps
 * them, and nothing reads them), a known field with the wrong wire type
 * is an error, an empty id has NULL data, the last allocation_size wins.
 */
#include "wire/wire.h"

#include <stdalign.h>

#include "requests.pb-c.h"
#include "util/alloc.h"
#include "wire/pb.h"

/* What one kind of container request holds: 1 or 2 id lists (fields 1
 * and 2), and for the preferred one an int32 in field 3. */
struct shape {
	unsigned lists;
	bool sized;
	size_t top_size;
	size_t container_size;
};

struct tally {
	size_t containers;
	size_t ids[2];
	size_t bytes;
};

/* Where the second pass writes: the next free slot of each region. */
struct cursor {
	uint8_t *containers;          /* the pointer array */
	uint8_t *structs;
	ProtobufCBinaryData *ids[2];
	uint8_t *bytes;
};

/* One container's id list, in protobuf-c's struct. */
struct idlist {
	size_t *n;
	ProtobufCBinaryData **ids;
};

static const struct shape allocate_shape = {
	1, false, sizeof(V1beta1__Raw__AllocateRequest),
	sizeof(V1beta1__Raw__ContainerAllocateRequest),
};
static const struct shape preferred_shape = {
	2, true, sizeof(V1beta1__Raw__PreferredAllocationRequest),
	sizeof(V1beta1__Raw__ContainerPreferredAllocationRequest),
};

static int
scan_container(const struct pb_field *c, const struct shape *s,
    struct tally *t)
{
	struct pb_reader r;
	struct pb_field f = { 0 };
	int rc;

	pb_reader_init(&r, c->data, c->len);
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.number >= 1 && f.number <= s->lists) {
			if (f.type != PB_LEN)
				return -1;
			t->ids[f.number - 1]++;
			t->bytes += f.len;
		} else if (s->sized && f.number == 3 && f.type != PB_VARINT) {
			return -1;
		}
	}
	return rc;
}

/* The first pass: is the message well formed, and how much does it hold. */
static int
scan(const uint8_t *data, size_t len, const struct shape *s, struct tally *t)
{
	struct pb_reader r;
	struct pb_field f = { 0 };
	int rc;

	*t = (struct tally){ 0 };
	pb_reader_init(&r, data, len);
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.number != 1)
			continue;
		if (f.type != PB_LEN || scan_container(&f, s, t) < 0)
			return -1;
		t->containers++;
	}
	return rc;
}

static void
fill_container(const struct pb_field *c, struct idlist *lists,
    const struct shape *s, int32_t *size, struct cursor *cur)
{
	struct pb_reader r;
	struct pb_field f = { 0 };

	pb_reader_init(&r, c->data, c->len);
	while (pb_next(&r, &f) > 0) {
		if (f.number >= 1 && f.number <= s->lists) {
			struct idlist *l = &lists[f.number - 1];
			ProtobufCBinaryData *d = cur->ids[f.number - 1]++;

			if (*l->n == 0)
				*l->ids = d;
			(*l->n)++;
			d->len = f.len;
			d->data = f.len > 0 ?
			    memcpy(cur->bytes, f.data, f.len) : NULL;
			cur->bytes += f.len;
		} else if (s->sized && f.number == 3) {
			*size = (int32_t)(uint32_t)f.value;
		}
	}
}

/* The next container struct, set up as protobuf-c's INIT would. */
static void
next_container(struct cursor *cur, const struct shape *s,
    struct idlist *lists, int32_t **size)
{
	if (s->sized) {
		V1beta1__Raw__ContainerPreferredAllocationRequest *c =
		    (void *)cur->structs;

		*c = (V1beta1__Raw__ContainerPreferredAllocationRequest)
		    V1BETA1__RAW__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
		lists[0] = (struct idlist){ &c->n_available_deviceids,
			&c->available_deviceids };
		lists[1] = (struct idlist){ &c->n_must_include_deviceids,
			&c->must_include_deviceids };
		*size = &c->allocation_size;
		memcpy(cur->containers, &c, sizeof(c));
	} else {
		V1beta1__Raw__ContainerAllocateRequest *c =
		    (void *)cur->structs;

		*c = (V1beta1__Raw__ContainerAllocateRequest)
		    V1BETA1__RAW__CONTAINER_ALLOCATE_REQUEST__INIT;
		lists[0] = (struct idlist){ &c->n_devices_ids,
			&c->devices_ids };
		*size = NULL;
		memcpy(cur->containers, &c, sizeof(c));
	}
	cur->containers += sizeof(void *);
	cur->structs += s->container_size;
}

/* The second pass, over a message scan() passed: the containers. */
static size_t
fill(const uint8_t *data, size_t len, const struct shape *s,
    struct cursor *cur)
{
	struct pb_reader r;
	struct pb_field f = { 0 };
	struct idlist lists[2];
	int32_t *size;
	size_t n = 0;

	pb_reader_init(&r, data, len);
	while (pb_next(&r, &f) > 0) {
		if (f.number != 1)
			continue;
		next_container(cur, s, lists, &size);
		fill_container(&f, lists, s, size, cur);
		n++;
	}
	return n;
}

static void *
block_alloc(ProtobufCAllocator *a, size_t size)
{
	return a != NULL ? a->alloc(a->allocator_data, size) :
	    gdp_malloc(size);
}

/*
 * The whole request in one block: the top struct, the container
 * pointers, the container structs, the ids of each list, their bytes.
 * (Every count is at most |len|/2, so no size here can overflow.)
 */
static void *
decode(const struct shape *s, ProtobufCAllocator *a, size_t len,
    const uint8_t *data, struct cursor *cur)
{
	struct tally t;
	size_t off_ids, size;
	uint8_t *block;

	_Static_assert(alignof(ProtobufCBinaryData) <= alignof(void *),
	    "one alignment for the whole block");
	if (scan(data, len, s, &t) < 0)
		return NULL;
	off_ids = s->top_size + t.containers * (sizeof(void *) +
	    s->container_size);
	size = off_ids + (t.ids[0] + t.ids[1]) * sizeof(ProtobufCBinaryData) +
	    t.bytes;
	block = block_alloc(a, size);
	if (block == NULL)
		return NULL;
	cur->containers = block + s->top_size;
	cur->structs = block + s->top_size + t.containers * sizeof(void *);
	cur->ids[0] = (ProtobufCBinaryData *)(block + off_ids);
	cur->ids[1] = cur->ids[0] + t.ids[0];
	cur->bytes = (uint8_t *)(cur->ids[1] + t.ids[1]);
	return block;
}

/* The container pointers follow the top struct (see decode()). */
ProtobufCMessage *
wire_unpack_allocate(ProtobufCAllocator *a, size_t len, const uint8_t *data)
{
	V1beta1__Raw__AllocateRequest *req;
	struct cursor cur;

	req = decode(&allocate_shape, a, len, data, &cur);
	if (req == NULL)
		return NULL;
	*req = (V1beta1__Raw__AllocateRequest)
	    V1BETA1__RAW__ALLOCATE_REQUEST__INIT;
	req->n_container_requests = fill(data, len, &allocate_shape, &cur);
	if (req->n_container_requests > 0)
		req->container_requests = (void *)(req + 1);
	return &req->base;
}

ProtobufCMessage *
wire_unpack_preferred(ProtobufCAllocator *a, size_t len,
    const uint8_t *data)
{
	V1beta1__Raw__PreferredAllocationRequest *req;
	struct cursor cur;

	req = decode(&preferred_shape, a, len, data, &cur);
	if (req == NULL)
		return NULL;
	*req = (V1beta1__Raw__PreferredAllocationRequest)
	    V1BETA1__RAW__PREFERRED_ALLOCATION_REQUEST__INIT;
	req->n_container_requests = fill(data, len, &preferred_shape, &cur);
	if (req->n_container_requests > 0)
		req->container_requests = (void *)(req + 1);
	return &req->base;
}

/* Everything is in the one block that starts with the message. */
void
wire_free_request(ProtobufCMessage *msg, ProtobufCAllocator *a)
{
	if (msg == NULL)
		return;
	if (a != NULL)
		a->free(a->allocator_data, msg);
	else
		gdp_free(msg);
}
