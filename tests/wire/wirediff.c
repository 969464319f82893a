/*
 * wirediff.c: compares the hand-written codecs with protobuf-c (see
 * wirediff.h). Requests: both decoders must refuse the same inputs, and
 * give the same containers, ids (bytes, length, NULL for empty) and
 * allocation sizes for the rest. Responses: the same bytes.
 */
#include "wirediff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "requests.pb-c.h"
#include "wire/wire.h"

static bool
same_ids(const ProtobufCBinaryData *a, size_t na,
    const ProtobufCBinaryData *b, size_t nb)
{
	if (na != nb || (na == 0) != (a == NULL) || (nb == 0) != (b == NULL))
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a[i].len != b[i].len ||
		    (a[i].data == NULL) != (b[i].data == NULL))
			return false;
		if (a[i].len > 0 && (a[i].data == NULL || b[i].data == NULL ||
		    memcmp(a[i].data, b[i].data, a[i].len) != 0))
			return false;
	}
	return true;
}

static const char *
diff_allocate(const V1beta1__Raw__AllocateRequest *a,
    const V1beta1__Raw__AllocateRequest *b)
{
	if (a->n_container_requests != b->n_container_requests)
		return "allocate: container counts differ";
	if ((a->container_requests == NULL) != (b->container_requests == NULL))
		return "allocate: container array NULL in one only";
	if (a->n_container_requests > 0 && a->container_requests == NULL)
		return "allocate: containers counted, none there";
	for (size_t i = 0; i < a->n_container_requests; i++) {
		const V1beta1__Raw__ContainerAllocateRequest *x =
		    a->container_requests[i], *y = b->container_requests[i];

		if (x->base.descriptor != y->base.descriptor)
			return "allocate: container descriptors differ";
		if (!same_ids(x->devices_ids, x->n_devices_ids,
		    y->devices_ids, y->n_devices_ids))
			return "allocate: devices_ids differ";
	}
	return NULL;
}

static const char *
diff_preferred(const V1beta1__Raw__PreferredAllocationRequest *a,
    const V1beta1__Raw__PreferredAllocationRequest *b)
{
	if (a->n_container_requests != b->n_container_requests)
		return "preferred: container counts differ";
	if ((a->container_requests == NULL) != (b->container_requests == NULL))
		return "preferred: container array NULL in one only";
	if (a->n_container_requests > 0 && a->container_requests == NULL)
		return "preferred: containers counted, none there";
	for (size_t i = 0; i < a->n_container_requests; i++) {
		const V1beta1__Raw__ContainerPreferredAllocationRequest *x =
		    a->container_requests[i], *y = b->container_requests[i];

		if (x->base.descriptor != y->base.descriptor)
			return "preferred: container descriptors differ";
		if (!same_ids(x->available_deviceids, x->n_available_deviceids,
		    y->available_deviceids, y->n_available_deviceids))
			return "preferred: available_deviceIDs differ";
		if (!same_ids(x->must_include_deviceids,
		    x->n_must_include_deviceids, y->must_include_deviceids,
		    y->n_must_include_deviceids))
			return "preferred: must_include_deviceIDs differ";
		if (x->allocation_size != y->allocation_size)
			return "preferred: allocation_size differs";
	}
	return NULL;
}

const char *
wirediff_requests(const uint8_t *data, size_t len)
{
	const char *why = NULL;
	ProtobufCMessage *ours, *theirs;

	ours = wire_unpack_allocate(NULL, len, data);
	theirs = protobuf_c_message_unpack(
	    &v1beta1__raw__allocate_request__descriptor, NULL, len, data);
	if ((ours == NULL) != (theirs == NULL))
		why = ours == NULL ? "allocate: ours refused, protobuf-c took" :
		    "allocate: ours took, protobuf-c refused";
	else if (ours != NULL)
		why = diff_allocate((void *)ours, (void *)theirs);
	wire_free_request(ours, NULL);
	if (theirs != NULL)
		protobuf_c_message_free_unpacked(theirs, NULL);
	if (why != NULL)
		return why;

	ours = wire_unpack_preferred(NULL, len, data);
	theirs = protobuf_c_message_unpack(
	    &v1beta1__raw__preferred_allocation_request__descriptor, NULL,
	    len, data);
	if ((ours == NULL) != (theirs == NULL))
		why = ours == NULL ?
		    "preferred: ours refused, protobuf-c took" :
		    "preferred: ours took, protobuf-c refused";
	else if (ours != NULL)
		why = diff_preferred((void *)ours, (void *)theirs);
	wire_free_request(ours, NULL);
	if (theirs != NULL)
		protobuf_c_message_free_unpacked(theirs, NULL);
	return why;
}

const char *
wirediff_response(const ProtobufCMessage *msg)
{
	const struct grpc_codec *c =
	    msg->descriptor == wire_allocate_codec.response ?
	    &wire_allocate_codec : &wire_preferred_codec;
	size_t theirs_len = protobuf_c_message_get_packed_size(msg);
	size_t ours_len = c->packed_size(msg);
	uint8_t *theirs, *ours;
	const char *why = NULL;

	if (ours_len != theirs_len)
		return "response: sizes differ";
	/* Exactly |len| bytes each, so that ASan sees any overrun. */
	theirs = malloc(theirs_len + 1);
	ours = malloc(ours_len + 1);
	if (theirs == NULL || ours == NULL)
		abort();
	protobuf_c_message_pack(msg, theirs);
	c->pack(msg, ours_len, ours);
	if (memcmp(ours, theirs, ours_len) != 0)
		why = "response: bytes differ";
	free(theirs);
	free(ours);
	return why;
}

/* Any unknown field anywhere below |m| (the encoders write none). */
static bool
has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields > 0)
		return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *base = (const uint8_t *)m;
		size_t n;
		ProtobufCMessage *const *subs;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE ||
		    f->label != PROTOBUF_C_LABEL_REPEATED)
			continue;   /* only repeated messages in these */
		memcpy(&n, base + f->quantifier_offset, sizeof(n));
		memcpy(&subs, base + f->offset, sizeof(subs));
		for (size_t k = 0; k < n; k++)
			if (has_unknown(subs[k]))
				return true;
	}
	return false;
}

const char *
wirediff_decoded_responses(const uint8_t *data, size_t len)
{
	const ProtobufCMessageDescriptor *types[] = {
		&v1beta1__allocate_response__descriptor,
		&v1beta1__preferred_allocation_response__descriptor,
	};
	const char *why = NULL;

	for (size_t i = 0; i < 2 && why == NULL; i++) {
		ProtobufCMessage *m = protobuf_c_message_unpack(types[i], NULL,
		    len, data);

		if (m == NULL)
			continue;
		if (!has_unknown(m))
			why = wirediff_response(m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return why;
}
