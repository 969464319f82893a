/*
 * test_metrics.c: the pieces of /metrics that need no socket: the text
 * format's escaping and numbers, the latency histogram's buckets
 * (cumulative, +Inf, sum), bounded label tables, and --metrics-address
 * parsing. The endpoint itself is tested through its socket in
 * tests/plugin/metrics-test.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "metrics/address.h"
#include "metrics/registry.h"
#include "metrics/text.h"

static void
test_escaping(void **state)
{
	struct metrics_text t;
	const char *l[] = { "a", "x\"y\\z\nw", NULL };

	metrics_text_init(&t);
	metrics_text_family(&t, "m_total", "counter", "help \\ with\nnewline");
	metrics_text_count(&t, "m_total", l, NULL, 18446744073709551615ull);
	metrics_text_sample(&t, "g", NULL, "+Inf", 0.25);
	assert_false(metrics_text_failed(&t));
	assert_string_equal(t.buf,
	    "# HELP m_total help \\\\ with\\nnewline\n"
	    "# TYPE m_total counter\n"
	    "m_total{a=\"x\\\"y\\\\z\\nw\"} 18446744073709551615\n"
	    "g{le=\"+Inf\"} 0.25\n");
	metrics_text_free(&t);
}

static void
test_histogram(void **state)
{
	struct metrics_text t;

	metrics_rpc("/svc/M", 0, 10000);        /* on the 10 µs bound */
	metrics_rpc("/svc/M", 0, 10001);        /* in 25 µs */
	metrics_rpc("/svc/M", 3, 2000000000);   /* past 1 s: +Inf only */
	metrics_text_init(&t);
	metrics_registry_write(&t);
	assert_non_null(strstr(t.buf, "gdp_grpc_requests_total{method=\"M\","
	    "code=\"OK\"} 2\n"));
	assert_non_null(strstr(t.buf, "gdp_grpc_requests_total{method=\"M\","
	    "code=\"INVALID_ARGUMENT\"} 1\n"));
	assert_non_null(strstr(t.buf, "_bucket{method=\"M\",le=\"1e-05\"} "
	    "1\n"));
	assert_non_null(strstr(t.buf, "_bucket{method=\"M\",le=\"2.5e-05\"} "
	    "2\n"));
	assert_non_null(strstr(t.buf, "_bucket{method=\"M\",le=\"1\"} 2\n"));
	assert_non_null(strstr(t.buf, "_bucket{method=\"M\",le=\"+Inf\"} "
	    "3\n"));
	assert_non_null(strstr(t.buf, "_count{method=\"M\"} 3\n"));
	assert_non_null(strstr(t.buf, "_sum{method=\"M\"} 2.000020001"));
	metrics_text_free(&t);
}

static void
test_tables_bounded(void **state)
{
	struct metrics_text t;
	char uuid[32];

	for (int i = 0; i < METRICS_MAX_TRANSITIONS + 5; i++) {
		snprintf(uuid, sizeof(uuid), "GPU-%d", i);
		metrics_health_transition(uuid, "xid", 48);
	}
	metrics_health_transition("GPU-0", "xid", 48);
	metrics_text_init(&t);
	metrics_registry_write(&t);
	assert_non_null(strstr(t.buf, "gdp_health_transitions_total{uuid="
	    "\"GPU-0\",cause=\"xid\",xid=\"48\"} 2\n"));
	assert_null(strstr(t.buf, "\"GPU-256\""));
	assert_non_null(strstr(t.buf, "gdp_metrics_series_dropped_total 5\n"));
	metrics_text_free(&t);
}

static void
test_addresses(void **state)
{
	static const char *const good[] = { "127.0.0.1:9400", ":9400",
		"localhost:1", "[::1]:65535", "/run/x.sock", "./rel/x" };
	static const char *const bad[] = { "", "nohost", "127.0.0.1:",
		"127.0.0.1:0", "127.0.0.1:65536", "::1:80", "host.example:80",
		"1.2.3.4:80x", "[::1]" };
	struct metrics_address a;
	char err[200];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(metrics_address_parse(good[i], &a, err,
		    sizeof(err)), 0);
	assert_int_equal(metrics_address_parse("[::1]:80", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port),
	    80);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(metrics_address_parse(bad[i], &a, err,
		    sizeof(err)), -22);
		assert_true(err[0] != '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_tables_bounded),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
