/*
 * fuzz_wire.c: the hand-written codecs of src/wire/ against protobuf-c.
 *
 * Every input is decoded as both requests by both decoders (same verdict,
 * same fields), and as both responses by protobuf-c; a response that
 * decodes is encoded by both encoders (same bytes). Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "wirediff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = wirediff_requests(data, size);

	if (why == NULL)
		why = wirediff_decoded_responses(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz_wire: %s\n", why);
		abort();
	}
	return 0;
}
