/*
 * fuzz_codec.c: the pure parsers of src/grpc/codec.c and request.c.
 *
 * The first byte picks how the rest is cut into pieces for the message
 * reader; the same bytes then go through percent-decoding and the
 * grpc-timeout parser. Decoded text must re-encode and decode to itself.
 * Last, the bytes are read as request headers (a name index, a value
 * length, the value; repeated) and judged as the server judges them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/codec.h"
#include "grpc/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count(const uint8_t *msg, size_t len, void *arg)
{
	(*(size_t *)arg) += len;
	return 0;
}

static void
handler(struct grpc_call *call, const ProtobufCMessage *req, void *app)
{
}

static const struct grpc_method methods[] = {
	{ "/v1beta1.DevicePlugin/Allocate", GRPC_METHOD_UNARY, NULL,
	  handler, NULL },
	{ "/v1beta1.DevicePlugin/ListAndWatch", GRPC_METHOD_SERVER_STREAMING,
	  NULL, handler, NULL },
};

static const char *const names[] = {
	":method", ":path", "content-type", "grpc-timeout", "grpc-encoding",
	"te", ":authority", "user-agent",
};

/* Headers as the server's on_header callback sees them. */
static void
judge_headers(const uint8_t *data, size_t size)
{
	struct grpc_request_head h;
	struct grpc_reader r;
	char msg[256];
	const size_t nnames = sizeof(names) / sizeof(names[0]);
	struct grpc_methods t;

	if (grpc_methods_init(&t, methods, 2) < 0)
		abort();
	grpc_request_head_init(&h);
	while (size >= 2) {
		const char *name = names[data[0] % nnames];
		size_t len = data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (grpc_request_head_add(&h, &t, (const uint8_t *)name,
		    strlen(name), data, len) < 0)
			break;
		data += len;
		size -= len;
	}
	if (grpc_request_check(&h, &t, msg, sizeof(msg)) !=
	    GRPC_REQUEST_OK && h.method != NULL && !h.bad_encoding &&
	    h.content_type_ok && h.is_post)
		abort();
	grpc_request_head_reset(&h);
	grpc_reader_init(&r, 4096);
	grpc_request_body_error(-EMSGSIZE, &r, msg, sizeof(msg));
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
	judge_headers(data, size);
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
