/*
 * wire.h: hand-written protobuf codecs for the messages on the plugin's
 * hot path: the Allocate and GetPreferredAllocation requests and answers.
 *
 * Why by hand: protobuf-c is generic. It walks descriptors field by
 * field, makes an allocation per nested message and per id when decoding
 * (and walks them all again to free), and when encoding sizes every nested
 * message again at each level it is packed in. For a one-GPU Allocate that
 * was 2,000 instructions of the 16,500 the server spends per call, the
 * largest share that was neither nghttp2's nor the kernel's
 * (docs/benchmarks.md). These codecs do the same for these four messages
 * in a few hundred: a request is checked and counted, then decoded into
 * one allocation; an answer is sized once and written back to front.
 *
 * They use protobuf-c's structs (the handlers do not change), and their
 * results are protobuf-c's: the same bytes for every answer, the same
 * verdict and fields for every request, good or bad. tests/unit/test_wire.c
 * compares the two on generated and mutated messages, and
 * tests/fuzz/fuzz_wire.c on whatever the fuzzer finds. Every other message
 * stays with protobuf-c.
 */
#ifndef GDP_WIRE_WIRE_H
#define GDP_WIRE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "grpc/server.h"

/*
 * Requests: a v1beta1.raw AllocateRequest or PreferredAllocationRequest
 * (proto/requests.proto), in one block from |a| (NULL: the heap), which
 * wire_free_request() gives back. NULL when the message is malformed or
 * the allocation fails, as protobuf_c_message_unpack().
 */
ProtobufCMessage *wire_unpack_allocate(ProtobufCAllocator *a, size_t len,
    const uint8_t *data);
ProtobufCMessage *wire_unpack_preferred(ProtobufCAllocator *a, size_t len,
    const uint8_t *data);
void wire_free_request(ProtobufCMessage *msg, ProtobufCAllocator *a);

/*
 * Answers: a V1beta1__AllocateResponse or PreferredAllocationResponse.
 * The size, then exactly that many bytes written at |out|.
 */
size_t wire_allocate_response_size(const ProtobufCMessage *msg);
void wire_pack_allocate_response(const ProtobufCMessage *msg, size_t size,
    uint8_t *out);
size_t wire_preferred_response_size(const ProtobufCMessage *msg);
void wire_pack_preferred_response(const ProtobufCMessage *msg, size_t size,
    uint8_t *out);

/* The two methods' codecs, for their struct grpc_method entries. */
extern const struct grpc_codec wire_allocate_codec;
extern const struct grpc_codec wire_preferred_codec;

#endif /* GDP_WIRE_WIRE_H */
