/*
 * test_server_faults.c: every allocation the server makes, failed in turn.
 *
 * SQLite's anomaly loop (and nghttp2's failmalloc): a scenario runs with
 * the n-th allocation failing, for n = 1, 2, ... until it runs without
 * meeting a failure; then again with every allocation from the n-th on
 * failing. The scenario is one connection (adopted from a socketpair, as
 * an accepted one) carrying a unary call with a deadline and a message
 * split across DATA frames, a server-streaming call that sends two
 * messages and ends, and a call that only its deadline can end. The
 * client is h2peer.c, as in test_server_wire.c.
 *
 * Whatever fails, once the server is idle each stream must have ended
 * (trailers or RST_STREAM), or the connection must be closed: never a call
 * left open with nobody to answer it. Crashes and leaks are the
 * sanitizers' to find (this test runs under ASan in the sanitizer build).
 * The handlers answer the way the plugin does, ignoring what ending a call
 * returns: ending must work by itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "deviceplugin.pb-c.h"
#include "grpc/server.h"
#include "h2peer.h"
#include "util/alloc.h"

#define MAX_N 5000
#define NSTREAMS 3
/* The held call's grpc-timeout, and how long a quiet server is watched. */
#define HOLD_TIMEOUT "20m"
#define IDLE_MS 200

/* ---- the service: answers like the plugin, ignoring what ending returns */

static void
unary(struct grpc_call *call, const ProtobufCMessage *request, void *app)
{
	const V1beta1__AllocateRequest *req =
	    (const V1beta1__AllocateRequest *)request;
	V1beta1__ContainerAllocateResponse__EnvsEntry env =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry *envs[] = { &env };
	V1beta1__ContainerAllocateResponse cont =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse *conts[] = { &cont };
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;

	if (req->n_container_requests != 1) {
		grpc_call_fail(call, GRPC_INVALID_ARGUMENT, "want %d, got %zu",
		    1, req->n_container_requests);
		return;
	}
	env.key = "DEVICES";
	env.value = req->container_requests[0]->n_devices_ids > 0 ?
	    req->container_requests[0]->devices_ids[0] : "";
	cont.envs = envs;
	cont.n_envs = 1;
	resp.container_responses = conts;
	resp.n_container_responses = 1;
	grpc_call_reply(call, &resp.base);
}

static void
streaming(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__Device dev = V1BETA1__DEVICE__INIT;
	V1beta1__Device *devs[] = { &dev };
	V1beta1__ListAndWatchResponse resp =
	    V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;

	dev.id = "dev-0";
	dev.health = "Healthy";
	resp.devices = devs;
	resp.n_devices = 1;
	for (int i = 0; i < 2; i++) {
		int rc = grpc_call_send(call, &resp.base);

		if (rc < 0) {
			grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
			    "cannot send: %s", strerror(-rc));
			return;
		}
	}
	grpc_call_finish(call, GRPC_OK, "done, thank you");
}

/* Never answers: only the call's deadline can end it. */
static void
hold(struct grpc_call *call, const ProtobufCMessage *request, void *app)
{
}

static const struct grpc_method methods[] = {
	{ "/t.Faults/Unary", GRPC_METHOD_UNARY,
	  &v1beta1__allocate_request__descriptor, unary, NULL },
	{ "/t.Faults/Stream", GRPC_METHOD_SERVER_STREAMING,
	  &v1beta1__empty__descriptor, streaming, NULL },
	{ "/t.Faults/Hold", GRPC_METHOD_UNARY,
	  &v1beta1__empty__descriptor, hold, NULL },
};

/* ---- the client ---- */

/* AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]} */
static const uint8_t ALLOCATE[] = { 0, 0, 0, 0, 9, 0x0a, 0x07, 0x0a, 0x05,
	'G', 'P', 'U', '-', '0' };
static const uint8_t EMPTY_MSG[] = { 0, 0, 0, 0, 0 };

/* The three calls, in p->streams[0..2]; what each ends with, unfailed. */
static const int want_status[NSTREAMS] = { GRPC_OK, GRPC_OK,
	GRPC_DEADLINE_EXCEEDED };

static void
submit_calls(struct h2peer *p)
{
	const nghttp2_nv unary_nv[] = {
		H2NV("te", "trailers"), H2NV("grpc-timeout", "20S"),
	};
	const nghttp2_nv stream_nv[] = { H2NV("te", "trailers") };
	const nghttp2_nv hold_nv[] = {
		H2NV("te", "trailers"), H2NV("grpc-timeout", HOLD_TIMEOUT),
	};

	/* The unary body goes out two bytes per DATA frame: reassembly
	 * allocates. */
	h2peer_request(p, "/t.Faults/Unary", unary_nv, 2, ALLOCATE,
	    sizeof(ALLOCATE), 2, false);
	h2peer_request(p, "/t.Faults/Stream", stream_nv, 1, EMPTY_MSG,
	    sizeof(EMPTY_MSG), 0, false);
	h2peer_request(p, "/t.Faults/Hold", hold_nv, 2, EMPTY_MSG,
	    sizeof(EMPTY_MSG), 0, false);
}

static bool
all_closed(const struct h2peer *p)
{
	for (size_t i = 0; i < p->nstreams; i++)
		if (!p->streams[i].closed)
			return false;
	return true;
}

/*
 * Until the streams are done, the connection is gone, or nothing has moved
 * for IDLE_MS (longer than the held call's deadline).
 */
static void
pump_until_idle(struct h2peer *p)
{
	int64_t quiet_since = loop_now_ms();

	while (!all_closed(p) && !p->eof &&
	    loop_now_ms() - quiet_since < IDLE_MS)
		if (h2peer_pump(p, 0))
			quiet_since = loop_now_ms();
}

/* Runs the scenario with the plan set; returns allocations that failed. */
static unsigned long
run_scenario(unsigned long n, bool persistent)
{
	struct h2peer p;
	struct loop *loop = loop_new();
	struct grpc_server *server;
	unsigned long failed;
	int fd;

	assert_non_null(loop);
	server = grpc_server_new(loop, methods,
	    sizeof(methods) / sizeof(methods[0]), NULL, NULL);
	assert_non_null(server);
	fd = h2peer_socketpair(&p, loop, SOCK_STREAM, true);
	submit_calls(&p);
	assert_int_equal(p.nstreams, NSTREAMS);

	gdp_alloc_fail_at(n, persistent);
	if (grpc_server_adopt(server, fd) < 0) {
		h2peer_recv(&p);      /* it closed fd */
		assert_true(p.eof);
	}
	pump_until_idle(&p);
	failed = gdp_alloc_failed();
	gdp_alloc_fail_at(0, false);

	for (size_t i = 0; i < NSTREAMS; i++) {
		const struct h2stream *st = &p.streams[i];

		if (!st->closed && !p.eof)
			fail_msg("n=%lu%s: stream %d left open (status %d, "
			    "%zu data bytes) with the server idle", n,
			    persistent ? "+" : "", st->id, st->grpc_status,
			    st->data_len);
		if (failed == 0 && st->grpc_status != want_status[i])
			fail_msg("no failure, yet stream %d ended with %d, "
			    "not %d", st->id, st->grpc_status,
			    want_status[i]);
	}
	h2peer_close(&p);
	grpc_server_free(server);
	loop_free(loop);
	return failed;
}

static void
walk(bool persistent)
{
	unsigned long n;

	for (n = 1; n < MAX_N; n++)
		if (run_scenario(n, persistent) == 0)
			break;
	assert_true(n < MAX_N);
	print_message("# %s: %lu allocation points\n",
	    persistent ? "persistent" : "single", n - 1);
}

static void
test_each_allocation_failing_once(void **state)
{
	walk(false);
}

static void
test_every_allocation_from_n_failing(void **state)
{
	walk(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_allocation_failing_once),
		cmocka_unit_test(test_every_allocation_from_n_failing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
