/*
 * test_proto.c: the generated message code is the device plugin API.
 *
 * Every message of v1beta1 must come out of the messages-only proto (the
 * build's filter once dropped messages silently), and the encoder must
 * produce the bytes grpc-go and Python produce for the same message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deviceplugin.pb-c.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_is_generated),
		cmocka_unit_test(test_field_numbers),
		cmocka_unit_test(test_encoding_matches_other_implementations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
