/*
 * fuzz_codec.c: the pure parsers of src/grpc/codec.c.
 *
 * The first byte picks how the rest is cut into pieces for the message
 * reader; the same bytes then go through percent-decoding and the
 * grpc-timeout parser. Decoded text must re-encode and decode to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count(const uint8_t *msg, size_t len, void *arg)
{
	(*(size_t *)arg) += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grpc_reader r;
	size_t step, total = 0;
	int64_t ns;
	char *dec, *enc, *back;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	grpc_reader_init(&r, 4096);
	for (size_t off = 1; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (grpc_reader_feed(&r, data + off, n, count, &total) < 0)
			break;
	}
	grpc_reader_reset(&r);
	grpc_timeout_parse((const char *)data, size, &ns);
	dec = grpc_percent_decode((const char *)data, size);
	if (dec == NULL)
		return 0;
	enc = grpc_percent_encode(dec, strlen(dec));
	back = enc ? grpc_percent_decode(enc, strlen(enc)) : NULL;
	if (back != NULL && strcmp(back, dec) != 0)
		abort();
	free(back);
	free(enc);
	free(dec);
	return 0;
}
