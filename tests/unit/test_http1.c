/*
 * test_http1.c: the config-manager's HTTP/1.1 response decoder
 * (src/configmgr/http1.c) on the numbers it reads: the status code, a
 * Content-Length and chunk sizes are digits only, as RFC 9112 has them
 * (strtoll's leading space, sign and "0x" are refused), within range, and
 * a chunk extension after the size is allowed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "configmgr/http1.h"
#include "configmgr/https.h"

/* Feeds |in| whole; the body into |body|. Returns 0 or -EPROTO. */
static int
decode(const char *in, struct http1 *p, char *body, size_t cap, char *err)
{
	size_t n = strlen(in), off = 0, out = 0;

	http1_init(p);
	while (off < n && p->state != HTTP1_DONE) {
		size_t used = 0, got = 0;
		int rc = http1_feed(p, in + off, n - off, &used,
		    body + out, cap - out, &got, err);

		if (rc < 0)
			return rc;
		off += used;
		out += got;
		if (used == 0 && got == 0)
			break;
	}
	body[out] = '\0';
	return p->state == HTTP1_DONE ? 0 : http1_finish(p, err);
}

static void
test_chunk_sizes_are_hex_digits(void **state)
{
	struct http1 p;
	char body[64], err[HTTPS_ERR_LEN];
	const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char in[256];

	(void)state;
	snprintf(in, sizeof(in), "%s5;ext=1\r\nhello\r\nA\r\n0123456789"
	    "\r\n0\r\n\r\n", head);
	assert_int_equal(decode(in, &p, body, sizeof(body) - 1, err), 0);
	assert_string_equal(body, "hello0123456789");
	static const char *const bad[] = { "0x5", "+5", " 5", "-5", "5x",
		"fffffffffffffffff" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(in, sizeof(in), "%s%s\r\nhello\r\n0\r\n\r\n", head,
		    bad[i]);
		assert_int_equal(decode(in, &p, body, sizeof(body) - 1, err),
		    -EPROTO);
		assert_non_null(strstr(err, "bad chunk size"));
	}
}

static void
test_status_code_is_three_digits(void **state)
{
	struct http1 p;
	char body[64], err[HTTPS_ERR_LEN];

	(void)state;
	assert_int_equal(decode("HTTP/1.1 404 Not Found\r\nContent-Length: 2"
	    "\r\n\r\nno", &p, body, sizeof(body) - 1, err), 0);
	assert_int_equal(p.status, 404);
	assert_string_equal(body, "no");
	static const char *const bad[] = { "HTTP/1.1 99999999999 X\r\n\r\n",
		"HTTP/1.1 +200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n", "HTTP/2 200\r\n\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode(bad[i], &p, body, sizeof(body) - 1,
		    err), -EPROTO);
		assert_non_null(strstr(err, "not an HTTP response"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_sizes_are_hex_digits),
		cmocka_unit_test(test_status_code_is_three_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
