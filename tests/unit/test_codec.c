/*
 * test_codec.c: gRPC framing, reassembly, percent-encoding and timeouts.
 *
 * These are the byte-level rules every gRPC peer relies on; each case is
 * one of them (a message split anywhere, several in one piece, the 4 MiB
 * cap decided from the prefix alone, grpc-go's timeout encoding…), and
 * the request checks of request.c (what a request's headers must say).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc/codec.h"
#include "grpc/request.h"

struct collected {
	size_t count;
	size_t lens[16];
	uint8_t bytes[4096];
	size_t used;
};

static int
collect(const uint8_t *msg, size_t len, void *arg)
{
	struct collected *c = arg;

	assert_true(c->count < 16 && c->used + len <= sizeof(c->bytes));
	c->lens[c->count++] = len;
	memcpy(c->bytes + c->used, msg, len);
	c->used += len;
	return 0;
}

/* Builds prefix+payload frames for the given payload strings. */
static size_t
frames(uint8_t *out, const char **payloads, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(payloads[i]);

		grpc_prefix_write(out + off, (uint32_t)len);
		memcpy(out + off + GRPC_PREFIX_LEN, payloads[i], len);
		off += GRPC_PREFIX_LEN + len;
	}
	return off;
}

static void
test_prefix_is_big_endian(void **state)
{
	uint8_t p[GRPC_PREFIX_LEN];

	grpc_prefix_write(p, 0x01020304);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[1], 1);
	assert_int_equal(p[2], 2);
	assert_int_equal(p[3], 3);
	assert_int_equal(p[4], 4);
}

static void
test_reader_split_at_every_byte(void **state)
{
	const char *msgs[] = { "hello", "", "gRPC over HTTP/2" };
	uint8_t buf[128];
	size_t len = frames(buf, msgs, 3);

	/* Feed the stream cut at every position, and byte by byte. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct grpc_reader r;
		struct collected c = { 0 };

		grpc_reader_init(&r, 1024);
		assert_int_equal(grpc_reader_feed(&r, buf, cut, collect, &c), 0);
		assert_int_equal(grpc_reader_feed(&r, buf + cut, len - cut,
		    collect, &c), 0);
		assert_int_equal(c.count, 3);
		assert_int_equal(c.lens[0], 5);
		assert_int_equal(c.lens[1], 0);
		assert_int_equal(c.lens[2], 16);
		assert_memory_equal(c.bytes, "hellogRPC over HTTP/2", 21);
		assert_true(grpc_reader_idle(&r));
		grpc_reader_reset(&r);
	}
	{
		struct grpc_reader r;
		struct collected c = { 0 };

		grpc_reader_init(&r, 1024);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(grpc_reader_feed(&r, buf + i, 1,
			    collect, &c), 0);
		assert_int_equal(c.count, 3);
		grpc_reader_reset(&r);
	}
}

static void
test_reader_partial_is_not_idle(void **state)
{
	const char *msgs[] = { "abc" };
	uint8_t buf[16];
	size_t len = frames(buf, msgs, 1);
	struct grpc_reader r;
	struct collected c = { 0 };

	grpc_reader_init(&r, 1024);
	assert_int_equal(grpc_reader_feed(&r, buf, len - 1, collect, &c), 0);
	assert_int_equal(c.count, 0);
	assert_false(grpc_reader_idle(&r));
	grpc_reader_reset(&r);
	assert_true(grpc_reader_idle(&r));
}

static void
test_reader_limit_from_prefix(void **state)
{
	uint8_t p[GRPC_PREFIX_LEN];
	struct grpc_reader r;
	struct collected c = { 0 };

	/* At the limit: accepted. One byte over: refused at the prefix. */
	grpc_reader_init(&r, GRPC_DEFAULT_MAX_MESSAGE);
	grpc_prefix_write(p, GRPC_DEFAULT_MAX_MESSAGE);
	assert_int_equal(grpc_reader_feed(&r, p, sizeof(p), collect, &c), 0);
	grpc_reader_reset(&r);
	grpc_prefix_write(p, GRPC_DEFAULT_MAX_MESSAGE + 1);
	assert_int_equal(grpc_reader_feed(&r, p, sizeof(p), collect, &c),
	    -EMSGSIZE);
	assert_null(r.msg);
	/* Sticky until reset. */
	assert_int_equal(grpc_reader_feed(&r, p, 1, collect, &c), -EPROTO);
	grpc_reader_reset(&r);
}

static void
test_reader_compressed_flag_refused(void **state)
{
	uint8_t buf[] = { 1, 0, 0, 0, 1, 'x' };
	struct grpc_reader r;
	struct collected c = { 0 };

	grpc_reader_init(&r, 1024);
	assert_int_equal(grpc_reader_feed(&r, buf, sizeof(buf), collect, &c),
	    -EPROTO);
	assert_int_equal(c.count, 0);
	grpc_reader_reset(&r);
}

static int
stop_at_first(const uint8_t *msg, size_t len, void *arg)
{
	(*(int *)arg)++;
	return -ECANCELED;
}

static void
test_reader_callback_error_stops(void **state)
{
	const char *msgs[] = { "a", "b" };
	uint8_t buf[32];
	size_t len = frames(buf, msgs, 2);
	struct grpc_reader r;
	int calls = 0;

	grpc_reader_init(&r, 1024);
	assert_int_equal(grpc_reader_feed(&r, buf, len, stop_at_first,
	    &calls), -ECANCELED);
	assert_int_equal(calls, 1);
	grpc_reader_reset(&r);
}

static void
test_percent_encode(void **state)
{
	const char in[] = "ok 100% \xc3\xbc\n~";
	char *out = grpc_percent_encode(in, strlen(in));

	assert_string_equal(out, "ok 100%25 %C3%BC%0A~");
	free(out);
}

static void
test_percent_roundtrip_and_bad_input(void **state)
{
	const char in[] = "requested failure: \xc3\xbc" "n\xc3\xaf" "c 100% "
	    "\xe2\x9c\x93";
	char *enc = grpc_percent_encode(in, strlen(in));
	char *dec = grpc_percent_decode(enc, strlen(enc));

	assert_string_equal(dec, in);
	free(enc);
	free(dec);
	/* Malformed escapes are kept as they are, never an error. */
	dec = grpc_percent_decode("50% %zz %4", 10);
	assert_string_equal(dec, "50% %zz %4");
	free(dec);
	dec = grpc_percent_decode("%41%4a%", 7);
	assert_string_equal(dec, "AJ%");
	free(dec);
}

static void
test_timeout_parse(void **state)
{
	int64_t ns;

	assert_int_equal(grpc_timeout_parse("1H", 2, &ns), 0);
	assert_true(ns == 3600LL * 1000000000LL);
	assert_int_equal(grpc_timeout_parse("2M", 2, &ns), 0);
	assert_true(ns == 120LL * 1000000000LL);
	assert_int_equal(grpc_timeout_parse("5S", 2, &ns), 0);
	assert_true(ns == 5000000000LL);
	assert_int_equal(grpc_timeout_parse("30100m", 6, &ns), 0);
	assert_true(ns == 30100000000LL);
	assert_int_equal(grpc_timeout_parse("29999870u", 9, &ns), 0);
	assert_true(ns == 29999870000LL);
	assert_int_equal(grpc_timeout_parse("7n", 2, &ns), 0);
	assert_true(ns == 7);
	assert_int_equal(grpc_timeout_parse("99999999H", 9, &ns), 0);
	assert_true(ns == INT64_MAX); /* saturates, never wraps */
	/* Too short, too long, no unit, bad unit, not digits. */
	assert_int_equal(grpc_timeout_parse("S", 1, &ns), -EINVAL);
	assert_int_equal(grpc_timeout_parse("123456789S", 10, &ns), -EINVAL);
	assert_int_equal(grpc_timeout_parse("100", 3, &ns), -EINVAL);
	assert_int_equal(grpc_timeout_parse("10s", 3, &ns), -EINVAL);
	assert_int_equal(grpc_timeout_parse("1x0S", 4, &ns), -EINVAL);
	assert_int_equal(grpc_timeout_parse("-1S", 3, &ns), -EINVAL);
}

static void
test_timeout_format(void **state)
{
	char buf[10];

	/* The smallest unit whose count fits in 8 digits, rounded up. */
	grpc_timeout_format(1, buf);
	assert_string_equal(buf, "1n");
	grpc_timeout_format(99999999, buf);
	assert_string_equal(buf, "99999999n");
	grpc_timeout_format(100000000, buf);
	assert_string_equal(buf, "100000u");
	grpc_timeout_format(100000001, buf);
	assert_string_equal(buf, "100001u");
	grpc_timeout_format(30LL * 1000000000LL, buf);
	assert_string_equal(buf, "30000000u");
	grpc_timeout_format(200LL * 1000000000LL, buf);
	assert_string_equal(buf, "200000m");
	grpc_timeout_format(INT64_MAX, buf);
	assert_string_equal(buf, "2562048H");
	/* And it parses back to at least the original. */
	for (int64_t ns = 1; ns < INT64_MAX / 16; ns = ns * 7 + 3) {
		int64_t back;

		grpc_timeout_format(ns, buf);
		assert_int_equal(grpc_timeout_parse(buf, strlen(buf), &back),
		    0);
		assert_true(back >= ns);
	}
}

static void
test_code_names(void **state)
{
	assert_string_equal(grpc_code_name(0), "OK");
	assert_string_equal(grpc_code_name(4), "DEADLINE_EXCEEDED");
	assert_string_equal(grpc_code_name(12), "UNIMPLEMENTED");
	assert_string_equal(grpc_code_name(16), "UNAUTHENTICATED");
	assert_string_equal(grpc_code_name(17), "UNKNOWN_CODE");
	assert_string_equal(grpc_code_name(-1), "UNKNOWN_CODE");
}

/* ---- request headers (request.c) ---- */

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
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

struct hdr {
	const char *name, *value;
};

/* Feeds |hdrs| (NULL-terminated) and returns the verdict and message. */
static enum grpc_request_verdict
judge(const struct hdr *hdrs, struct grpc_request_head *h, char *msg,
    size_t len)
{
	struct grpc_methods t;

	assert_int_equal(grpc_methods_init(&t, methods, NMETHODS), 0);
	grpc_request_head_init(h);
	for (; hdrs->name != NULL; hdrs++)
		assert_int_equal(grpc_request_head_add(h, &t,
		    (const uint8_t *)hdrs->name, strlen(hdrs->name),
		    (const uint8_t *)hdrs->value, strlen(hdrs->value)), 0);
	msg[0] = '\0';
	return grpc_request_check(h, &t, msg, len);
}

#define GOOD_PATH { ":path", "/v1beta1.DevicePlugin/Allocate" }
#define POST { ":method", "POST" }
#define GRPC_CT { "content-type", "application/grpc" }

static void
test_request_good(void **state)
{
	const struct hdr hdrs[] = { POST, GOOD_PATH, GRPC_CT,
		{ ":authority", "/var/lib/kubelet/device-plugins/k.sock" },
		{ "te", "trailers" }, { "grpc-encoding", "identity" },
		{ "grpc-timeout", "0n" }, { NULL, NULL } };
	struct grpc_request_head h;
	char msg[256];

	assert_int_equal(judge(hdrs, &h, msg, sizeof(msg)), GRPC_REQUEST_OK);
	assert_ptr_equal(h.method, &methods[0]);
	assert_null(h.path);          /* a good request copies nothing */
	assert_null(h.content_type);
	assert_int_equal(h.timeout_ns, 1); /* 0 still means a deadline */
	grpc_request_head_reset(&h);
}

static void
test_request_reset_cases(void **state)
{
	const struct hdr get[] = { { ":method", "GET" }, GOOD_PATH, GRPC_CT,
		{ NULL, NULL } };
	const struct hdr nopath[] = { POST, GRPC_CT, { NULL, NULL } };
	const struct hdr empty[] = { POST, { ":path", "" }, GRPC_CT,
		{ NULL, NULL } };
	struct grpc_request_head h;
	char msg[64];

	assert_int_equal(judge(get, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_RESET);
	grpc_request_head_reset(&h);
	assert_int_equal(judge(nopath, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_RESET);
	grpc_request_head_reset(&h);
	assert_int_equal(judge(empty, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_RESET);
	grpc_request_head_reset(&h);
}

static void
test_request_content_type(void **state)
{
	const struct hdr web[] = { POST, GOOD_PATH,
		{ "content-type", "application/grpc-web" },
		{ "content-type", "application/grpc" }, { NULL, NULL } };
	const struct hdr none[] = { POST, GOOD_PATH, { NULL, NULL } };
	const char *good[] = { "application/grpc+proto",
		"application/grpc;charset=utf-8" };
	struct grpc_request_head h;
	char msg[256];

	/* The first content-type counts, and is named. */
	assert_int_equal(judge(web, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_BAD_CONTENT_TYPE);
	assert_string_equal(msg,
	    "invalid gRPC request content-type \"application/grpc-web\"");
	grpc_request_head_reset(&h);
	assert_int_equal(judge(none, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_BAD_CONTENT_TYPE);
	assert_string_equal(msg, "invalid gRPC request content-type \"\"");
	grpc_request_head_reset(&h);
	for (size_t i = 0; i < 2; i++) {
		const struct hdr ok[] = { POST, GOOD_PATH,
			{ "content-type", good[i] }, { NULL, NULL } };

		assert_int_equal(judge(ok, &h, msg, sizeof(msg)),
		    GRPC_REQUEST_OK);
		grpc_request_head_reset(&h);
	}
}

static void
check_path(const char *path, const char *want)
{
	const struct hdr hdrs[] = { POST, { ":path", path }, GRPC_CT,
		{ ":path", "/v1beta1.DevicePlugin/Allocate" }, { NULL, NULL } };
	struct grpc_request_head h;
	char msg[256];

	assert_int_equal(judge(hdrs, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_UNKNOWN_PATH);
	assert_string_equal(msg, want);
	grpc_request_head_reset(&h);
}

static void
test_request_unknown_paths(void **state)
{
	check_path("/v1beta1.DevicePlugin/Nope",
	    "unknown method Nope for service v1beta1.DevicePlugin");
	check_path("/v1beta1.Registration/Register",
	    "unknown service v1beta1.Registration");
	check_path("nope", "malformed method name: \"nope\"");
	check_path("//x", "malformed method name: \"//x\"");
	check_path("/svc/", "malformed method name: \"/svc/\"");
	/* A prefix of a service is not that service. */
	check_path("/v1beta1.Device/Allocate",
	    "unknown service v1beta1.Device");
}

static void
test_request_encoding_and_timeout(void **state)
{
	const struct hdr gzip[] = { POST, GOOD_PATH, GRPC_CT,
		{ "grpc-encoding", "gzip" }, { "grpc-timeout", "bogus" },
		{ NULL, NULL } };
	const struct hdr later[] = { POST, GOOD_PATH, GRPC_CT,
		{ "grpc-timeout", "3S" }, { "grpc-timeout", "50m" },
		{ NULL, NULL } };
	struct grpc_request_head h;
	char msg[256];

	assert_int_equal(judge(gzip, &h, msg, sizeof(msg)),
	    GRPC_REQUEST_COMPRESSED);
	assert_non_null(strstr(msg, "compressed"));
	assert_int_equal(h.timeout_ns, 0);   /* a bad value is no deadline */
	grpc_request_head_reset(&h);
	assert_int_equal(judge(later, &h, msg, sizeof(msg)), GRPC_REQUEST_OK);
	assert_int_equal(h.timeout_ns, 50 * 1000000LL);
	grpc_request_head_reset(&h);
}

static void
test_request_body_errors(void **state)
{
	struct grpc_reader r;
	static const uint8_t big[] = { 0, 0, 0x50, 0, 0 };
	char msg[256];

	grpc_reader_init(&r, GRPC_DEFAULT_MAX_MESSAGE);
	assert_int_equal(grpc_reader_feed(&r, big, sizeof(big), collect,
	    NULL), -EMSGSIZE);
	assert_int_equal(grpc_request_body_error(-EMSGSIZE, &r, msg,
	    sizeof(msg)), GRPC_RESOURCE_EXHAUSTED);
	assert_string_equal(msg, "grpc: received message larger than max "
	    "(5242880 vs. 4194304)");
	assert_int_equal(grpc_request_body_error(-EPROTO, &r, msg,
	    sizeof(msg)), GRPC_INTERNAL);
	assert_non_null(strstr(msg, "compressed flag"));
	assert_int_equal(grpc_request_body_error(-ENOMEM, &r, msg,
	    sizeof(msg)), GRPC_RESOURCE_EXHAUSTED);
	grpc_reader_reset(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_is_big_endian),
		cmocka_unit_test(test_reader_split_at_every_byte),
		cmocka_unit_test(test_reader_partial_is_not_idle),
		cmocka_unit_test(test_reader_limit_from_prefix),
		cmocka_unit_test(test_reader_compressed_flag_refused),
		cmocka_unit_test(test_reader_callback_error_stops),
		cmocka_unit_test(test_percent_encode),
		cmocka_unit_test(test_percent_roundtrip_and_bad_input),
		cmocka_unit_test(test_timeout_parse),
		cmocka_unit_test(test_timeout_format),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_request_good),
		cmocka_unit_test(test_request_reset_cases),
		cmocka_unit_test(test_request_content_type),
		cmocka_unit_test(test_request_unknown_paths),
		cmocka_unit_test(test_request_encoding_and_timeout),
		cmocka_unit_test(test_request_body_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
