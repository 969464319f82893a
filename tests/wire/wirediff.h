/*
 * wirediff.h: the hand-written codecs (src/wire/) against protobuf-c, for
 * the unit test and the fuzzer alike. Each function returns NULL when the
 * two agree, else a static message saying how they differ.
 */
#ifndef GDP_TESTS_WIREDIFF_H
#define GDP_TESTS_WIREDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "deviceplugin.pb-c.h"

/* |data| decoded as each of the two requests, by both decoders. */
const char *wirediff_requests(const uint8_t *data, size_t len);
/* |msg| (an AllocateResponse or PreferredAllocationResponse) encoded by
 * both encoders. */
const char *wirediff_response(const ProtobufCMessage *msg);
/* |data| decoded as each response by protobuf-c, when it decodes without
 * unknown fields, then encoded by both. */
const char *wirediff_decoded_responses(const uint8_t *data, size_t len);

#endif
