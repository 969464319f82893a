/*
 * test_server_limits.c: the server's bounds on what one peer, and all of
 * them together, can make it hold (issue 8: R3, R4, R5, R7, R8).
 *
 * Each case plays an abusive client with h2peer.c over real sockets
 * (socketpairs the server adopts, or its listening socket) and checks what
 * the wire shows: GOAWAY(ENHANCE_YOUR_CALM) past the partial-message
 * limits, refused sends past the output limits (the first message too),
 * timeouts for the preface, an unfinished request and an idle connection,
 * the connection cap sending away the peer that made no progress while
 * the kubelet-like one keeps working, accept(2) resting on EMFILE instead
 * of spinning, the SETTINGS we advertise, and a loop turn visiting only
 * the connections that have something to send. Limits are made small
 * where the default would make the case slow; the defaults are checked
 * as advertised.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "h2peer.h"
#include "testservice.h"

#define ALLOCATE "/v1beta1.DevicePlugin/Allocate"
#define LIST_AND_WATCH "/v1beta1.DevicePlugin/ListAndWatch"
#define PRE_START "/v1beta1.DevicePlugin/PreStartContainer"
#define MIB ((size_t)1 << 20)
#define KIB ((size_t)1 << 10)

struct fixture {
	struct loop *loop;
	struct testservice *ts;
	struct grpc_server *server;
	char dir[64];
	char path[128];
};

static const uint8_t EMPTY_MSG[] = { 0, 0, 0, 0, 0 };

static struct fixture *
start(const struct grpc_server_options *opts)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = loop_new();
	assert_non_null(f->loop);
	f->ts = testservice_new(f->loop, opts);
	assert_non_null(f->ts);
	f->server = testservice_server(f->ts);
	return f;
}

static void
listen_on_temp(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/gdp-limits-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/plugin.sock", f->dir);
	assert_int_equal(grpc_server_listen(f->server, f->path), 0);
}

static void
stop(struct fixture *f)
{
	testservice_free(f->ts);
	loop_free(f->loop);
	if (f->dir[0] != '\0')
		rmdir(f->dir);
	free(f);
}

static const struct grpc_server_stats *
stats(struct fixture *f)
{
	return grpc_server_stats(f->server);
}

/* AllocateRequest{container_requests:[{devices_ids:[cmd]}]}, framed. */
static size_t
allocate_body(uint8_t *buf, size_t cap, const char *cmd)
{
	size_t n = strlen(cmd);

	assert_true(n < 120 && cap >= n + 9);
	buf[0] = 0;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = (uint8_t)(n + 4);
	buf[5] = 0x0a;
	buf[6] = (uint8_t)(n + 2);
	buf[7] = 0x0a;
	buf[8] = (uint8_t)n;
	memcpy(buf + 9, cmd, n);
	return n + 9;
}

/* A message prefix announcing |len| bytes, and |have| bytes of it. */
static uint8_t *
partial_body(uint32_t len, size_t have)
{
	uint8_t *b = calloc(1, 5 + have);

	assert_non_null(b);
	b[1] = (uint8_t)(len >> 24);
	b[2] = (uint8_t)(len >> 16);
	b[3] = (uint8_t)(len >> 8);
	b[4] = (uint8_t)len;
	return b;
}

/* One successful call on |p|, a connection that makes progress. */
static void
good_call(struct h2peer *p)
{
	uint8_t body[128];
	size_t n = allocate_body(body, sizeof(body), "GPU-0");
	struct h2stream *st = h2peer_request(p, ALLOCATE, NULL, 0, body, n, 0,
	    false);

	h2peer_wait_stream(p, st, 5000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, 0);
}

/* ---- R3: partial messages ---- */

/*
 * Streams that announce 4 MiB and never finish: at the default
 * per-connection limit (16 MiB) the fifth one gets the connection a
 * GOAWAY(ENHANCE_YOUR_CALM), and what it held is freed.
 */
static void
test_partial_per_connection(void **state)
{
	struct fixture *f = start(NULL);
	struct h2peer p;
	uint8_t *body = partial_body(4 << 20, 60000);

	h2peer_adopt(&p, f->loop, f->server, true);
	for (int i = 0; i < 8; i++)
		(void)h2peer_request(&p, ALLOCATE, NULL, 0, body, 5 + 60000, 0,
		    true);
	h2peer_wait_eof(&p, 5000);
	assert_true(p.goaway);
	assert_int_equal(p.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_true(p.eof);
	assert_int_equal(stats(f)->partial_calmed, 1);
	assert_int_equal(stats(f)->partial_bytes, 0);
	h2peer_close(&p);
	free(body);
	stop(f);
}

static bool
both_done(void *arg)
{
	struct h2peer **peers = arg;
	struct h2stream *st = &peers[1]->streams[0];

	return peers[0]->eof && st->closed;
}

/*
 * Past the total, the connection holding the most is sent away, not the
 * one whose few bytes crossed the line: the kubelet-like client that
 * splits a small message still gets its answer.
 */
static void
test_partial_total_evicts_biggest(void **state)
{
	struct grpc_server_options o = { .max_partial_total = 8 * MIB };
	struct fixture *f = start(&o);
	struct h2peer a, k;
	struct h2peer *peers[] = { &a, &k };
	uint8_t *body = partial_body(4 << 20, 1000);
	uint8_t small[128];
	size_t n = allocate_body(small, sizeof(small), "GPU-0");
	struct h2stream *st;

	h2peer_adopt(&a, f->loop, f->server, true);
	h2peer_adopt(&k, f->loop, f->server, true);
	(void)h2peer_request(&a, ALLOCATE, NULL, 0, body, 1005, 0, true);
	(void)h2peer_request(&a, ALLOCATE, NULL, 0, body, 1005, 0, true);
	h2peer_pump_all(peers, 2, 200, NULL, NULL);
	assert_false(a.eof);
	st = h2peer_request(&k, ALLOCATE, NULL, 0, small, n, 1, false);
	h2peer_pump_all(peers, 2, 5000, both_done, peers);
	assert_true(a.goaway);
	assert_int_equal(a.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, 0);
	assert_false(k.eof);
	assert_int_equal(stats(f)->partial_bytes, 0);
	h2peer_close(&a);
	h2peer_close(&k);
	free(body);
	stop(f);
}

/* A request left unfinished is answered at the request timeout and
 * what it held is freed; the connection goes on. */
static void
test_request_timeout(void **state)
{
	struct grpc_server_options o = { .request_timeout_ms = 200 };
	struct fixture *f = start(&o);
	struct h2peer p;
	uint8_t *body = partial_body(100000, 1000);
	struct h2stream *st;

	h2peer_adopt(&p, f->loop, f->server, true);
	st = h2peer_request(&p, ALLOCATE, NULL, 0, body, 1005, 0, true);
	h2peer_wait_stream(&p, st, 5000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st->grpc_message, "request timeout"));
	assert_int_equal(stats(f)->request_timeouts, 1);
	assert_int_equal(stats(f)->partial_bytes, 0);
	good_call(&p);
	h2peer_close(&p);
	free(body);
	stop(f);
}

/* A framed message of |n| bytes whose body |fill| writes. */
static uint8_t *
framed(size_t n, void (*fill)(uint8_t *, size_t))
{
	uint8_t *b = malloc(5 + n);

	assert_non_null(b);
	b[0] = 0;
	b[1] = (uint8_t)(n >> 24);
	b[2] = (uint8_t)(n >> 16);
	b[3] = (uint8_t)(n >> 8);
	b[4] = (uint8_t)n;
	fill(b + 5, n);
	return b;
}

/* Field 15, varint 1, over and over: protobuf-c keeps each one. */
static void
fill_unknown_fields(uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		p[i] = 0x78;
		p[i + 1] = 0x01;
	}
}

/* container_requests{devices_ids:"GPU-0123456789"}, framed in the request */
#define ID_ENTRY ((size_t)18)

static void
fill_container_requests(uint8_t *p, size_t n)
{
	static const uint8_t e[ID_ENTRY] = { 0x0a, 16, 0x0a, 14, 'G', 'P', 'U',
		'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' };

	for (size_t i = 0; i + ID_ENTRY <= n; i += ID_ENTRY)
		memcpy(p + i, e, ID_ENTRY);
}

/*
 * R8: 4 MiB of tiny unknown fields decoded to 180 MB. A request that
 * protobuf-c decodes (it keeps unknown fields) may decode to 16 times its
 * size (plus 64 KiB): past that it is refused while decoding, and the
 * peak stays near that. Allocate's own decoder (src/wire/) skips unknown
 * fields: the same request holds nothing and is answered.
 */
static void
test_decode_is_bounded(void **state)
{
	struct fixture *f = start(NULL);
	struct h2peer p;
	size_t n = (4 << 20) - 64;
	uint8_t *body = framed(n, fill_unknown_fields);
	struct h2stream *st;

	h2peer_adopt(&p, f->loop, f->server, true);
	st = h2peer_request(&p, PRE_START, NULL, 0, body, 5 + n, 0, false);
	h2peer_wait_stream(&p, st, 20000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st->grpc_message, "decodes to more than"));
	st = h2peer_request(&p, ALLOCATE, NULL, 0, body, 5 + n, 0, false);
	h2peer_wait_stream(&p, st, 20000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_OK);
	good_call(&p);
	h2peer_close(&p);
	free(body);
	stop(f);
}

/*
 * A whole request whose stream the client leaves open waits decoded for
 * its END_STREAM: it counts as unfinished, so streams of them cannot
 * pin memory past the per-connection limit either.
 */
static void
test_decoded_requests_count_as_partial(void **state)
{
	struct fixture *f = start(NULL);
	struct h2peer p;
	size_t n = 50000 * ID_ENTRY;
	uint8_t *body = framed(n, fill_container_requests);

	h2peer_adopt(&p, f->loop, f->server, true);
	for (int i = 0; i < 8; i++)
		(void)h2peer_request(&p, ALLOCATE, NULL, 0, body, 5 + n, 0,
		    true);
	h2peer_wait_eof(&p, 20000);
	assert_true(p.goaway);
	assert_int_equal(p.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(stats(f)->partial_bytes, 0);
	h2peer_close(&p);
	free(body);
	stop(f);
}

/* ---- R4: output a client never reads ---- */

/* The per-call limit holds for a call's first message too. */
static void
test_first_message_capped(void **state)
{
	struct grpc_server_options o = { .max_stream_queue = 64 * KIB };
	struct fixture *f = start(&o);
	struct h2peer p;
	uint8_t body[128];
	size_t n = allocate_body(body, sizeof(body), "size:200000");
	struct h2stream *st;

	h2peer_adopt(&p, f->loop, f->server, true);
	st = h2peer_request(&p, ALLOCATE, NULL, 0, body, n, 0, false);
	h2peer_wait_stream(&p, st, 5000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_true(st->data_len < 64 * KIB);
	assert_int_equal(stats(f)->sends_refused, 1);
	h2peer_close(&p);
	stop(f);
}

/*
 * A client that never reads: the answers of its 16 calls stay queued
 * only up to the per-connection limit; the rest are refused, and it
 * learns so once it reads.
 */
static void
test_output_per_connection(void **state)
{
	struct grpc_server_options o = { .max_conn_queue = 256 * KIB };
	struct fixture *f = start(&o);
	struct h2peer p;
	uint8_t body[128];
	size_t n = allocate_body(body, sizeof(body), "size:100000");
	int ok = 0, refused = 0;

	h2peer_adopt(&p, f->loop, f->server, true);
	h2peer_pump(&p, 50);
	p.reading = false;
	for (int i = 0; i < 16; i++)
		(void)h2peer_request(&p, ALLOCATE, NULL, 0, body, n, 0, false);
	h2peer_pump(&p, 300);
	assert_true(stats(f)->queued_bytes <= 256 * KIB);
	assert_true(stats(f)->sends_refused >= 12);
	p.reading = true;
	h2peer_pump(&p, 1000);
	for (size_t i = 0; i < p.nstreams; i++) {
		ok += p.streams[i].grpc_status == 0;
		refused += p.streams[i].grpc_status == GRPC_RESOURCE_EXHAUSTED;
	}
	assert_int_equal(ok + refused, 16);
	assert_true(ok >= 1);
	h2peer_close(&p);
	stop(f);
}

/*
 * Past the total, the other connection holding the most queued output
 * (a client that never reads) is sent away, and a reading client's call
 * is answered in full.
 */
static void
test_output_total(void **state)
{
	struct grpc_server_options o = { .max_total_queue = 256 * KIB };
	struct fixture *f = start(&o);
	struct h2peer hog, reader;
	uint8_t body[128];
	size_t n = allocate_body(body, sizeof(body), "size:100000");
	struct h2stream *st;

	h2peer_adopt(&hog, f->loop, f->server, true);
	h2peer_adopt(&reader, f->loop, f->server, true);
	h2peer_pump(&hog, 50);
	hog.reading = false;
	for (int i = 0; i < 4; i++)
		(void)h2peer_request(&hog, ALLOCATE, NULL, 0, body, n, 0,
		    false);
	h2peer_pump(&hog, 300);
	assert_true(stats(f)->queued_bytes <= 256 * KIB);
	assert_true(stats(f)->queued_bytes > 128 * KIB);
	assert_int_equal(stats(f)->output_calmed, 0);

	/* More than is left under the total. */
	n = allocate_body(body, sizeof(body), "size:200000");
	st = h2peer_request(&reader, ALLOCATE, NULL, 0, body, n, 0, false);
	h2peer_wait_stream(&reader, st, 5000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, 0);
	assert_true(st->data_len > 200000);
	assert_int_equal(stats(f)->output_calmed, 1);

	hog.reading = true;
	h2peer_pump(&hog, 1000);
	assert_true(hog.goaway);
	assert_int_equal(hog.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_non_null(strstr(hog.goaway_debug, "on all connections"));
	h2peer_close(&hog);
	h2peer_close(&reader);
	stop(f);
}

/* ---- headers, SETTINGS, PRIORITY ---- */

static void
test_settings_advertise_limits(void **state)
{
	struct fixture *f = start(NULL);
	struct h2peer p;

	h2peer_adopt(&p, f->loop, f->server, true);
	h2peer_pump(&p, 50);
	assert_true(p.settings_seen);
	assert_int_equal(p.settings[NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS],
	    128);
	assert_int_equal(p.settings[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE],
	    16384);
	h2peer_close(&p);
	stop(f);
}

static void
test_header_list_too_large(void **state)
{
	struct grpc_server_options o = { .max_header_list = 1024 };
	struct fixture *f = start(&o);
	struct h2peer p;
	static char big[2000];
	nghttp2_nv nv = { (uint8_t *)"x-pad", (uint8_t *)big, 5,
		sizeof(big), NGHTTP2_NV_FLAG_NONE };
	struct h2stream *st;

	memset(big, 'a', sizeof(big));
	h2peer_adopt(&p, f->loop, f->server, true);
	st = h2peer_request(&p, ALLOCATE, &nv, 1, EMPTY_MSG,
	    sizeof(EMPTY_MSG), 0, false);
	h2peer_wait_stream(&p, st, 5000);
	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st->grpc_message, "header list"));
	assert_int_equal(stats(f)->headers_too_large, 1);
	assert_int_equal(p.settings[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE],
	    1024);
	good_call(&p);
	h2peer_close(&p);
	stop(f);
}

/* ---- R5: connections, timeouts, EMFILE ---- */

static void
test_preface_timeout(void **state)
{
	struct grpc_server_options o = { .preface_timeout_ms = 200 };
	struct fixture *f = start(&o);
	struct h2peer p;

	h2peer_adopt(&p, f->loop, f->server, false);
	h2peer_write(&p, "PRI * HTTP/2.0\r\n", 16);   /* and no more */
	h2peer_wait_eof(&p, 5000);
	assert_true(p.eof);
	assert_int_equal(stats(f)->preface_timeouts, 1);
	assert_int_equal(stats(f)->conns_open, 0);
	h2peer_close(&p);
	stop(f);
}

static bool
stream_closed(void *arg)
{
	return ((struct h2stream *)arg)->closed;
}

/* A connection without a stream goes at the idle timeout (GOAWAY
 * NO_ERROR); one with a stream open (the kubelet's ListAndWatch) stays. */
static void
test_idle_timeout(void **state)
{
	struct grpc_server_options o = { .idle_timeout_ms = 200 };
	struct fixture *f = start(&o);
	struct h2peer idle, watching;
	struct h2peer *peers[] = { &idle, &watching };
	struct h2stream *st;

	h2peer_adopt(&idle, f->loop, f->server, true);
	h2peer_adopt(&watching, f->loop, f->server, true);
	good_call(&idle);
	st = h2peer_request(&watching, LIST_AND_WATCH, NULL, 0, EMPTY_MSG,
	    sizeof(EMPTY_MSG), 0, false);
	h2peer_pump_all(peers, 2, 1000, stream_closed, st);
	assert_true(idle.eof);
	assert_true(idle.goaway);
	assert_int_equal(idle.goaway_code, NGHTTP2_NO_ERROR);
	assert_false(watching.eof);
	assert_false(st->closed);
	assert_true(st->data_len > 0);
	assert_int_equal(stats(f)->idle_timeouts, 1);
	h2peer_close(&idle);
	h2peer_close(&watching);
	stop(f);
}

/*
 * At the connection cap a new connection is still taken, and the one
 * longest without progress goes: peers that never finished a handshake
 * before any that has made progress. The kubelet-like connection, which
 * made progress, keeps working, and a fresh one (a re-dial) gets in.
 */
static void
test_connection_cap_evicts_stalest(void **state)
{
	struct grpc_server_options o = { .max_connections = 4 };
	struct fixture *f = start(&o);
	struct h2peer k, k2, idle[6];

	h2peer_adopt(&k, f->loop, f->server, true);
	good_call(&k);
	for (int i = 0; i < 6; i++) {
		h2peer_adopt(&idle[i], f->loop, f->server, false);
		h2peer_pump(&k, 5);
	}
	assert_int_equal(stats(f)->conns_open, 4);
	assert_int_equal(stats(f)->conns_evicted, 3);
	for (int i = 0; i < 3; i++) {
		h2peer_pump(&idle[i], 20);
		assert_true(idle[i].eof);
		assert_true(idle[i].goaway);
		assert_int_equal(idle[i].goaway_code,
		    NGHTTP2_ENHANCE_YOUR_CALM);
	}
	good_call(&k);
	assert_false(k.eof);
	h2peer_adopt(&k2, f->loop, f->server, true);
	good_call(&k2);
	good_call(&k);
	assert_int_equal(stats(f)->conns_open, 4);
	h2peer_close(&k);
	h2peer_close(&k2);
	for (int i = 0; i < 6; i++)
		h2peer_close(&idle[i]);
	stop(f);
}

/* Uses up every descriptor; returns how many were taken into |fds|. */
static int
exhaust_fds(int *fds, int cap)
{
	int n = 0;

	while (n < cap && (fds[n] = dup(0)) >= 0)
		n++;
	assert_int_equal(errno, EMFILE);
	return n;
}

static void
release_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The descriptor limit before a case lowered it (restored after each). */
static struct rlimit saved_nofile;
static bool nofile_lowered;

static void
lower_nofile(struct rlimit *old, rlim_t to)
{
	struct rlimit low;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, old), 0);
	saved_nofile = *old;
	nofile_lowered = true;
	low = *old;
	low.rlim_cur = to;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
}

static int
restore_nofile(void **state)
{
	if (nofile_lowered)
		(void)setrlimit(RLIMIT_NOFILE, &saved_nofile);
	nofile_lowered = false;
	return 0;
}

/*
 * EMFILE on accept with no connection to send away: the listener rests
 * (few loop callbacks, not a spin), the event is told once, and the
 * waiting client is taken once descriptors are free again.
 */
static unsigned events_told;

static void
count_event(enum grpc_server_event ev, int err, void *arg)
{
	if (ev == GRPC_SERVER_ACCEPT_PAUSED && err == EMFILE)
		events_told++;
}

static void
test_emfile_rests_then_accepts(void **state)
{
	struct grpc_server_options o = { .on_event = count_event };
	struct fixture *f = start(&o);
	struct rlimit old;
	struct h2peer c;
	int fds[256], nfds, callbacks = 0;
	int64_t end;

	listen_on_temp(f);
	events_told = 0;
	assert_int_equal(h2peer_connect(&c, f->loop, f->path, true), 0);
	lower_nofile(&old, 64);
	nfds = exhaust_fds(fds, 256);
	for (end = loop_now_ms() + 300; loop_now_ms() < end;)
		callbacks += loop_run_once(f->loop, 1);
	assert_true(callbacks < 100);
	assert_int_equal(events_told, 1);
	assert_int_equal(stats(f)->conns_open, 0);
	release_fds(fds, nfds);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	good_call(&c);
	assert_int_equal(stats(f)->conns_open, 1);
	h2peer_close(&c);
	stop(f);
}

/*
 * EMFILE while connections are open: the one longest without progress
 * is sent away to make room, so a re-dialling kubelet gets in even when
 * the descriptor limit is below the connection cap.
 */
static void
test_emfile_evicts_for_newcomer(void **state)
{
	struct fixture *f = start(NULL);
	struct rlimit old;
	struct h2peer stale, k;
	int fds[256], nfds;

	listen_on_temp(f);
	h2peer_adopt(&stale, f->loop, f->server, false);
	assert_int_equal(h2peer_connect(&k, f->loop, f->path, true), 0);
	lower_nofile(&old, 64);
	nfds = exhaust_fds(fds, 256);
	good_call(&k);
	assert_int_equal(stats(f)->conns_evicted, 1);
	h2peer_pump(&stale, 20);
	assert_true(stale.eof);
	release_fds(fds, nfds);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	h2peer_close(&stale);
	h2peer_close(&k);
	stop(f);
}

/* ---- R7: work per loop turn ---- */

/*
 * With 300 idle connections, calls on one connection make the loop visit
 * a handful of connections per turn, not all of them.
 */
static void
test_turn_visits_busy_connections_only(void **state)
{
	struct fixture *f = start(NULL);
	static struct h2peer idle[300];
	struct h2peer k;
	uint64_t before;

	for (int i = 0; i < 300; i++) {
		h2peer_adopt(&idle[i], f->loop, f->server, true);
		h2peer_pump(&idle[i], 0);
	}
	h2peer_adopt(&k, f->loop, f->server, true);
	h2peer_pump(&k, 20);
	before = stats(f)->flush_visits;
	for (int i = 0; i < 20; i++)
		good_call(&k);
	assert_true(stats(f)->flush_visits - before < 200u);
	for (int i = 0; i < 300; i++)
		h2peer_close(&idle[i]);
	h2peer_close(&k);
	stop(f);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, restore_nofile)
	const struct CMUnitTest tests[] = {
		T(test_partial_per_connection),
		T(test_partial_total_evicts_biggest),
		T(test_request_timeout),
		T(test_decode_is_bounded),
		T(test_decoded_requests_count_as_partial),
		T(test_first_message_capped),
		T(test_output_per_connection),
		T(test_output_total),
		T(test_settings_advertise_limits),
		T(test_header_list_too_large),
		T(test_preface_timeout),
		T(test_idle_timeout),
		T(test_connection_cap_evicts_stalest),
		T(test_emfile_rests_then_accepts),
		T(test_emfile_evicts_for_newcomer),
		T(test_turn_visits_busy_connections_only),
	};

#undef T

	/* TEST_FILTER=name runs only the matching cases. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
