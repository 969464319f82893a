/*
 * codecs.c: the hand-written codecs (wire.h) as the gRPC server takes
 * them, one per method.
 */
#include "wire/wire.h"

#include "deviceplugin.pb-c.h"

const struct grpc_codec wire_allocate_codec = {
	wire_unpack_allocate, wire_free_request,
	&v1beta1__allocate_response__descriptor,
	wire_allocate_response_size, wire_pack_allocate_response,
};

const struct grpc_codec wire_preferred_codec = {
	wire_unpack_preferred, wire_free_request,
	&v1beta1__preferred_allocation_response__descriptor,
	wire_preferred_response_size, wire_pack_preferred_response,
};
