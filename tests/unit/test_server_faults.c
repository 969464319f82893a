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
 * client is a bare nghttp2 session, as in test_server_wire.c.
 *
 * Whatever fails, once the server is idle each stream must have ended
 * (trailers or RST_STREAM), or the connection must be closed: never a call
 * left open with nobody to answer it. Crashes and leaks are the
 * sanitizers' to find (this test runs under ASan in the sanitizer build).
 * The handlers answer the way the plugin does, ignoring what ending a call
 * returns: ending must work by itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "deviceplugin.pb-c.h"
#include "grpc/server.h"
#include "util/alloc.h"

#define MAX_N 5000
#define NSTREAMS 3
/* The held call's grpc-timeout, and how long a quiet server is watched. */
#define HOLD_TIMEOUT "20m"
#define IDLE_MS 200

struct stream {
	int32_t id;
	bool closed;
	uint32_t close_code;
	int grpc_status;
	unsigned messages;      /* DATA bytes seen, as a crude count */
	int want_status;        /* when nothing failed */
};

struct peer {
	struct loop *loop;
	struct grpc_server *server;
	int fd;
	nghttp2_session *s;
	struct stream streams[NSTREAMS];
	bool conn_closed;
	const uint8_t *body;
	size_t body_len, body_off;
};

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
	  &v1beta1__allocate_request__descriptor, unary },
	{ "/t.Faults/Stream", GRPC_METHOD_SERVER_STREAMING,
	  &v1beta1__empty__descriptor, streaming },
	{ "/t.Faults/Hold", GRPC_METHOD_UNARY,
	  &v1beta1__empty__descriptor, hold },
};

/* ---- the client ---- */

static struct stream *
find_stream(struct peer *p, int32_t id)
{
	for (int i = 0; i < NSTREAMS; i++)
		if (p->streams[i].id == id)
			return &p->streams[i];
	return NULL;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *arg)
{
	struct stream *st = find_stream(arg, f->hd.stream_id);
	char v[16];

	if (st != NULL && nl == 11 && memcmp(name, "grpc-status", 11) == 0 &&
	    vl < sizeof(v)) {
		memcpy(v, value, vl);
		v[vl] = '\0';
		st->grpc_status = atoi(v);
	}
	return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
    size_t len, void *arg)
{
	struct stream *st = find_stream(arg, id);

	if (st != NULL)
		st->messages += (unsigned)len;
	return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct stream *st = find_stream(arg, id);

	if (st != NULL) {
		st->closed = true;
		st->close_code = code;
	}
	return 0;
}

/* The unary body goes out two bytes per DATA frame: reassembly allocates. */
static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct peer *p = arg;
	size_t n = p->body_len - p->body_off;

	if (n > 2)
		n = 2;
	if (n > len)
		n = len;
	memcpy(buf, p->body + p->body_off, n);
	p->body_off += n;
	if (p->body_off == p->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static ssize_t
read_empty(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	memset(buf, 0, 5);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return 5;
}

static void
client_new(struct peer *p)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	assert_int_equal(nghttp2_option_new(&opt), 0);
	nghttp2_option_set_no_http_messaging(opt, 1);
	assert_int_equal(nghttp2_session_client_new2(&p->s, cb, p, opt), 0);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE,
	    NULL, 0), 0);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
	sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

/* AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]} */
static const uint8_t ALLOCATE[] = { 0, 0, 0, 0, 9, 0x0a, 0x07, 0x0a, 0x05,
	'G', 'P', 'U', '-', '0' };

static void
submit_calls(struct peer *p)
{
	nghttp2_nv unary_nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/t.Faults/Unary"), NV(":authority", "localhost"),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
		NV("grpc-timeout", "20S"),
	};
	nghttp2_nv stream_nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/t.Faults/Stream"), NV(":authority", "localhost"),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
	};
	nghttp2_nv hold_nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/t.Faults/Hold"), NV(":authority", "localhost"),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
		NV("grpc-timeout", HOLD_TIMEOUT),
	};
	nghttp2_data_provider body = { .read_callback = read_body };
	nghttp2_data_provider empty = { .read_callback = read_empty };

	p->body = ALLOCATE;
	p->body_len = sizeof(ALLOCATE);
	p->streams[0].id = nghttp2_submit_request(p->s, NULL, unary_nva,
	    sizeof(unary_nva) / sizeof(unary_nva[0]), &body, NULL);
	p->streams[1].id = nghttp2_submit_request(p->s, NULL, stream_nva,
	    sizeof(stream_nva) / sizeof(stream_nva[0]), &empty, NULL);
	p->streams[2].id = nghttp2_submit_request(p->s, NULL, hold_nva,
	    sizeof(hold_nva) / sizeof(hold_nva[0]), &empty, NULL);
	p->streams[2].want_status = GRPC_DEADLINE_EXCEEDED;
	for (int i = 0; i < NSTREAMS; i++)
		assert_true(p->streams[i].id > 0);
}

/* One round both ways; returns whether anything moved. */
static bool
pump_once(struct peer *p)
{
	uint8_t buf[65536];
	const uint8_t *out;
	bool moved = false;
	ssize_t n;

	while (!p->conn_closed && (n = nghttp2_session_mem_send(p->s,
	    &out)) > 0) {
		if (write(p->fd, out, (size_t)n) != n)
			p->conn_closed = true;
		moved = true;
	}
	if (loop_run_once(p->loop, 1) > 0)
		moved = true;
	while (!p->conn_closed) {
		n = read(p->fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			p->conn_closed = true;
			break;
		}
		if (n < 0)
			break;
		moved = true;
		if (nghttp2_session_mem_recv(p->s, buf, (size_t)n) < 0)
			p->conn_closed = true;
	}
	return moved;
}

static bool
all_closed(const struct peer *p)
{
	for (int i = 0; i < NSTREAMS; i++)
		if (!p->streams[i].closed)
			return false;
	return true;
}

/*
 * Until the streams are done, the connection is gone, or nothing has moved
 * for IDLE_MS (longer than the held call's deadline).
 */
static void
pump_until_idle(struct peer *p)
{
	int64_t quiet_since = loop_now_ms();

	while (!all_closed(p) && !p->conn_closed &&
	    loop_now_ms() - quiet_since < IDLE_MS)
		if (pump_once(p))
			quiet_since = loop_now_ms();
}

/* Runs the scenario with the plan set; returns allocations that failed. */
static unsigned long
run_scenario(unsigned long n, bool persistent)
{
	struct peer p = { 0 };
	int sv[2];
	unsigned long failed;

	for (int i = 0; i < NSTREAMS; i++)
		p.streams[i].grpc_status = -1;
	p.loop = loop_new();
	assert_non_null(p.loop);
	p.server = grpc_server_new(p.loop, methods,
	    sizeof(methods) / sizeof(methods[0]), NULL, NULL);
	assert_non_null(p.server);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	p.fd = sv[1];
	client_new(&p);
	submit_calls(&p);

	gdp_alloc_fail_at(n, persistent);
	if (grpc_server_adopt(p.server, sv[0]) < 0)
		p.conn_closed = true;      /* it closed sv[0] */
	pump_until_idle(&p);
	failed = gdp_alloc_failed();
	gdp_alloc_fail_at(0, false);

	for (int i = 0; i < NSTREAMS; i++) {
		const struct stream *st = &p.streams[i];

		if (!st->closed && !p.conn_closed)
			fail_msg("n=%lu%s: stream %d left open (status %d, "
			    "%u data bytes) with the server idle", n,
			    persistent ? "+" : "", st->id, st->grpc_status,
			    st->messages);
		if (failed == 0 && st->grpc_status != st->want_status)
			fail_msg("no failure, yet stream %d ended with %d, "
			    "not %d", st->id, st->grpc_status,
			    st->want_status);
	}
	nghttp2_session_del(p.s);
	close(p.fd);
	grpc_server_free(p.server);
	loop_free(p.loop);
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
