/*
 * test_proto.c: the generated message code is the device plugin API.
 *
 * Every message of v1beta1 must come out of the messages-only proto (the
 * build's filter once dropped messages silently), and the encoder must
 * produce the bytes grpc-go and Python produce for the same message. The
 * raw requests the plugin decodes (proto/requests.proto) must be their
 * API twins field for field, ids as bytes, so that the same bytes decode
 * to the same request, and an id keeps its length, NULs included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"

static void
test_every_message_is_generated(void **state)
{
	const ProtobufCMessageDescriptor *all[] = {
		&v1beta1__device_plugin_options__descriptor,
		&v1beta1__register_request__descriptor,
		&v1beta1__empty__descriptor,
		&v1beta1__list_and_watch_response__descriptor,
		&v1beta1__topology_info__descriptor,
		&v1beta1__numanode__descriptor,
		&v1beta1__device__descriptor,
		&v1beta1__pre_start_container_request__descriptor,
		&v1beta1__pre_start_container_response__descriptor,
		&v1beta1__preferred_allocation_request__descriptor,
		&v1beta1__container_preferred_allocation_request__descriptor,
		&v1beta1__preferred_allocation_response__descriptor,
		&v1beta1__container_preferred_allocation_response__descriptor,
		&v1beta1__allocate_request__descriptor,
		&v1beta1__container_allocate_request__descriptor,
		&v1beta1__cdidevice__descriptor,
		&v1beta1__allocate_response__descriptor,
		&v1beta1__container_allocate_response__descriptor,
		&v1beta1__mount__descriptor,
		&v1beta1__device_spec__descriptor,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(all[i]->magic,
		    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
		assert_string_equal(all[i]->package_name, "v1beta1");
	}
	assert_string_equal(v1beta1__allocate_request__descriptor.name,
	    "v1beta1.AllocateRequest");
}

static void
test_field_numbers(void **state)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field_by_name(
	    &v1beta1__register_request__descriptor, "resource_name");
	assert_int_equal(f->id, 3);
	f = protobuf_c_message_descriptor_get_field_by_name(
	    &v1beta1__container_allocate_response__descriptor, "cdi_devices");
	assert_int_equal(f->id, 5);
	f = protobuf_c_message_descriptor_get_field_by_name(
	    &v1beta1__container_preferred_allocation_request__descriptor,
	    "allocation_size");
	assert_int_equal(f->id, 3);
	f = protobuf_c_message_descriptor_get_field_by_name(
	    &v1beta1__device__descriptor, "topology");
	assert_int_equal(f->id, 3);
}

static void
test_encoding_matches_other_implementations(void **state)
{
	char *ids[] = { "GPU-0" };
	V1beta1__ContainerAllocateRequest cr =
	    V1BETA1__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__ContainerAllocateRequest *crs[] = { &cr };
	V1beta1__AllocateRequest req = V1BETA1__ALLOCATE_REQUEST__INIT;
	const uint8_t want[] = { 0x0a, 0x07, 0x0a, 0x05, 'G', 'P', 'U', '-',
		'0' };
	uint8_t buf[32];

	cr.devices_ids = ids;
	cr.n_devices_ids = 1;
	req.container_requests = crs;
	req.n_container_requests = 1;
	assert_int_equal(protobuf_c_message_get_packed_size(&req.base),
	    sizeof(want));
	protobuf_c_message_pack(&req.base, buf);
	assert_memory_equal(buf, want, sizeof(want));
	/* Empty is zero bytes. */
	{
		V1beta1__Empty e = V1BETA1__EMPTY__INIT;

		assert_int_equal(protobuf_c_message_get_packed_size(&e.base),
		    0);
	}
}

/* |raw| is |api| with every string field a bytes field; recursively. */
static void
assert_twins(const ProtobufCMessageDescriptor *raw,
    const ProtobufCMessageDescriptor *api)
{
	assert_string_equal(raw->short_name, api->short_name);
	assert_string_equal(raw->package_name, "v1beta1.raw");
	assert_int_equal(raw->n_fields, api->n_fields);
	for (unsigned i = 0; i < raw->n_fields; i++) {
		const ProtobufCFieldDescriptor *r = &raw->fields[i];
		const ProtobufCFieldDescriptor *a =
		    protobuf_c_message_descriptor_get_field(api, r->id);

		assert_non_null(a);
		assert_string_equal(r->name, a->name);
		assert_int_equal(r->label, a->label);
		if (a->type == PROTOBUF_C_TYPE_STRING)
			assert_int_equal(r->type, PROTOBUF_C_TYPE_BYTES);
		else
			assert_int_equal(r->type, a->type);
		if (a->type == PROTOBUF_C_TYPE_MESSAGE)
			assert_twins(r->descriptor, a->descriptor);
	}
}

static void
test_raw_requests_are_the_api_with_bytes_ids(void **state)
{
	assert_twins(&v1beta1__raw__allocate_request__descriptor,
	    &v1beta1__allocate_request__descriptor);
	assert_twins(&v1beta1__raw__preferred_allocation_request__descriptor,
	    &v1beta1__preferred_allocation_request__descriptor);
}

static void
test_raw_ids_keep_their_length(void **state)
{
	/* AllocateRequest{[{devices_ids:["GPU-0\0x", "GPU-1"]}]} */
	const uint8_t wire[] = { 0x0a, 0x10, 0x0a, 0x07, 'G', 'P', 'U',
		'-', '0', 0, 'x', 0x0a, 0x05, 'G', 'P', 'U', '-', '1' };
	V1beta1__Raw__AllocateRequest *raw =
	    v1beta1__raw__allocate_request__unpack(NULL, sizeof(wire), wire);
	V1beta1__AllocateRequest *api =
	    v1beta1__allocate_request__unpack(NULL, sizeof(wire), wire);
	const V1beta1__Raw__ContainerAllocateRequest *c;

	assert_non_null(raw);
	assert_int_equal(raw->n_container_requests, 1);
	c = raw->container_requests[0];
	assert_int_equal(c->n_devices_ids, 2);
	assert_int_equal(c->devices_ids[0].len, 7);
	assert_memory_equal(c->devices_ids[0].data, "GPU-0\0x", 7);
	assert_int_equal(c->devices_ids[1].len, 5);
	assert_memory_equal(c->devices_ids[1].data, "GPU-1", 5);
	/* Why: as a string the first id reads as "GPU-0". */
	assert_non_null(api);
	assert_string_equal(api->container_requests[0]->devices_ids[0],
	    "GPU-0");
	v1beta1__allocate_request__free_unpacked(api, NULL);
	v1beta1__raw__allocate_request__free_unpacked(raw, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_is_generated),
		cmocka_unit_test(test_field_numbers),
		cmocka_unit_test(test_encoding_matches_other_implementations),
		cmocka_unit_test(test_raw_requests_are_the_api_with_bytes_ids),
		cmocka_unit_test(test_raw_ids_keep_their_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
