/*
 * test_server_wire.c: the server as raw HTTP/2 sees it.
 *
 * Real gRPC libraries never send a missing :authority, a wrong
 * content-type or a compressed message without grpc-encoding, so these
 * cases are driven here with a bare nghttp2 client (HTTP checks off) over
 * a socketpair that the server adopts as a connection, exactly as an
 * accepted socket. Each case checks what a client would see on the wire.
 */
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

#include "deviceplugin.pb-c.h"
#include "h2peer.h"
#include "testservice.h"

#define OPTIONS "/v1beta1.DevicePlugin/GetDevicePluginOptions"
#define ALLOCATE "/v1beta1.DevicePlugin/Allocate"
#define LIST_AND_WATCH "/v1beta1.DevicePlugin/ListAndWatch"

struct fixture {
	struct loop *loop;
	struct testservice *ts;
	struct h2peer p;
};

static int
setup_type(void **state, int type)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = loop_new();
	assert_non_null(f->loop);
	f->ts = testservice_new(f->loop, NULL);
	assert_non_null(f->ts);
	assert_int_equal(grpc_server_adopt(testservice_server(f->ts),
	    h2peer_socketpair(&f->p, f->loop, type, true)), 0);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_type(state, SOCK_STREAM);
}

/* Every send on a SOCK_SEQPACKET socket is one record for the peer. */
static int
setup_seqpacket(void **state)
{
	return setup_type(state, SOCK_SEQPACKET);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	h2peer_close(&f->p);
	testservice_free(f->ts);
	loop_free(f->loop);
	free(f);
	return 0;
}

static struct h2peer *
peer(void **state)
{
	return &((struct fixture *)*state)->p;
}

/* Pumps until |st| ends (or 3 s pass); returns it. */
static struct h2stream *
answered(struct h2peer *p, struct h2stream *st)
{
	h2peer_wait_stream(p, st, 3000);
	return st;
}

/* A request with every header given in |nva|; answered() as above. */
static struct h2stream *
call_nv(struct h2peer *p, const nghttp2_nv *nva, size_t n,
    const uint8_t *body, size_t len)
{
	return answered(p, h2peer_request_nv(p, nva, n, body, len, 0, false));
}

/* POST |path| with the usual headers and |extra| (|n|), answered. */
static struct h2stream *
call(struct h2peer *p, const char *path, const nghttp2_nv *extra, size_t n,
    const uint8_t *body, size_t len)
{
	return answered(p, h2peer_request(p, path, extra, n, body, len, 0,
	    false));
}

static const uint8_t EMPTY_MSG[] = { 0, 0, 0, 0, 0 };

static void
test_settings_is_the_first_frame(void **state)
{
	struct h2peer *p = peer(state);
	uint8_t buf[64];
	ssize_t n;

	/* Before the client says anything: grpc-go waits for this. */
	loop_run_once(p->loop, 10);
	n = read(p->fd, buf, sizeof(buf));
	assert_true(n >= 9);
	assert_int_equal(buf[3], NGHTTP2_SETTINGS);
	assert_int_equal(buf[4] & NGHTTP2_FLAG_ACK, 0);
}

static void
test_any_authority_accepted(void **state)
{
	struct h2peer *p = peer(state);
	const char *variants[] = { NULL, "",
		"/var/lib/kubelet/device-plugins/kubelet.sock",
		"%2Fvar%2Flib%2Fx.sock", "localhost" };

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		nghttp2_nv nva[6] = {
			H2NV(":method", "POST"), H2NV(":scheme", "http"),
			H2NV(":path", OPTIONS),
			H2NV("content-type", "application/grpc"),
			H2NV("te", "trailers, deflate"),
		};
		size_t n = 5;
		struct h2stream *st;

		if (variants[i] != NULL) {
			nghttp2_nv a = { (uint8_t *)":authority",
				(uint8_t *)variants[i], 10, strlen(variants[i]),
				NGHTTP2_NV_FLAG_NONE };

			nva[n++] = a;
		}
		st = call_nv(p, nva, n, EMPTY_MSG, sizeof(EMPTY_MSG));
		assert_true(st->closed);
		assert_string_equal(st->status, "200");
		assert_int_equal(st->grpc_status, 0);
	}
}

/* POST OPTIONS with |content_type|, and every other header as usual. */
static struct h2stream *
call_with_content_type(struct h2peer *p, const char *content_type)
{
	nghttp2_nv nva[] = {
		H2NV(":method", "POST"), H2NV(":scheme", "http"),
		H2NV(":path", OPTIONS), H2NV(":authority", "localhost"),
		{ (uint8_t *)"content-type", (uint8_t *)content_type, 12,
		  strlen(content_type), NGHTTP2_NV_FLAG_NONE },
	};

	return call_nv(p, nva, 5, EMPTY_MSG, sizeof(EMPTY_MSG));
}

static void
test_wrong_content_type_is_415(void **state)
{
	struct h2stream *st = call_with_content_type(peer(state),
	    "application/grpc-web");

	assert_string_equal(st->status, "415");
	assert_int_equal(st->grpc_status, GRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(st->grpc_message, "application/grpc-web"));
}

static void
test_content_type_variants_accepted(void **state)
{
	struct h2stream *st = call_with_content_type(peer(state),
	    "application/grpc+proto");

	assert_int_equal(st->grpc_status, 0);
}

static void
test_not_post_is_reset(void **state)
{
	nghttp2_nv nva[] = {
		H2NV(":method", "GET"), H2NV(":scheme", "http"),
		H2NV(":path", OPTIONS), H2NV(":authority", "localhost"),
		H2NV("content-type", "application/grpc"),
	};
	struct h2stream *st = call_nv(peer(state), nva, 5, NULL, 0);

	assert_true(st->rst);
	assert_int_equal(st->rst_code, NGHTTP2_PROTOCOL_ERROR);
}

static void
check_unimplemented(struct h2peer *p, const char *path, const char *want)
{
	struct h2stream *st = call(p, path, NULL, 0, EMPTY_MSG,
	    sizeof(EMPTY_MSG));

	assert_string_equal(st->status, "200");
	assert_int_equal(st->grpc_status, GRPC_UNIMPLEMENTED);
	assert_string_equal(st->grpc_message, want);
	/* Trailers-Only: one HEADERS frame, which ends the stream. */
	assert_int_equal(st->header_frames, 1);
	assert_true(st->trailers_only);
	assert_int_equal(st->data_len, 0);
}

static void
test_unknown_method_trailers_only(void **state)
{
	check_unimplemented(peer(state), "/v1beta1.DevicePlugin/Nope",
	    "unknown method Nope for service v1beta1.DevicePlugin");
}

static void
test_unknown_service(void **state)
{
	check_unimplemented(peer(state), "/v1beta1.Registration/Register",
	    "unknown service v1beta1.Registration");
}

static void
test_malformed_path(void **state)
{
	check_unimplemented(peer(state), "nope",
	    "malformed method name: \"nope\"");
}

static void
test_oversize_prefix_answered_at_once(void **state)
{
	struct h2peer *p = peer(state);
	/* Announces 5 MiB and sends none of it, stream left open. */
	static const uint8_t prefix[] = { 0, 0, 0x50, 0, 0 };
	struct h2stream *st = answered(p, h2peer_request(p, ALLOCATE, NULL,
	    0, prefix, sizeof(prefix), 0, true));

	assert_int_equal(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st->grpc_message, "5242880 vs. 4194304"));
	/* The client never half-closed: trailers, then RST_STREAM(NO_ERROR). */
	assert_true(st->rst);
	assert_int_equal(st->rst_code, NGHTTP2_NO_ERROR);
}

static void
test_compressed_flag_is_an_error(void **state)
{
	static const uint8_t msg[] = { 1, 0, 0, 0, 2, 0x0a, 0x00 };
	struct h2stream *st = call(peer(state), ALLOCATE, NULL, 0, msg,
	    sizeof(msg));

	assert_true(st->closed);
	assert_int_equal(st->grpc_status, GRPC_INTERNAL);
	assert_non_null(strstr(st->grpc_message, "compressed"));
}

static void
test_grpc_encoding_is_unimplemented(void **state)
{
	const nghttp2_nv gzip[] = { H2NV("grpc-encoding", "gzip") };
	static const uint8_t msg[] = { 1, 0, 0, 0, 2, 0x0a, 0x00 };
	struct h2stream *st = call(peer(state), ALLOCATE, gzip, 1, msg,
	    sizeof(msg));

	assert_int_equal(st->grpc_status, GRPC_UNIMPLEMENTED);
}

/* AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]} */
static const uint8_t ALLOCATE_GPU0[] = { 0, 0, 0, 0, 9, 0x0a, 0x07, 0x0a,
	0x05, 'G', 'P', 'U', '-', '0' };

static void
test_request_split_into_one_byte_frames(void **state)
{
	struct h2peer *p = peer(state);
	struct h2stream *st = answered(p, h2peer_request(p, ALLOCATE, NULL, 0,
	    ALLOCATE_GPU0, sizeof(ALLOCATE_GPU0), 1, false));

	assert_int_equal(st->grpc_status, 0);
	assert_int_equal(st->header_frames, 2);   /* headers, trailers */
	assert_true(st->data_len > 5);
}

static void
test_two_messages_for_unary_is_an_error(void **state)
{
	static const uint8_t two[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct h2stream *st = call(peer(state), OPTIONS, NULL, 0, two,
	    sizeof(two));

	assert_int_equal(st->grpc_status, GRPC_UNIMPLEMENTED);
}

static void
test_no_message_is_an_error(void **state)
{
	struct h2stream *st = call(peer(state), OPTIONS, NULL, 0, NULL, 0);

	assert_int_equal(st->grpc_status, GRPC_UNIMPLEMENTED);
	assert_non_null(strstr(st->grpc_message, "got none"));
}

static void
test_bad_protobuf_is_internal(void **state)
{
	/* Field 1, length 100, but only 1 byte follows. */
	static const uint8_t msg[] = { 0, 0, 0, 0, 3, 0x0a, 100, 0x0a };
	struct h2stream *st = call(peer(state), ALLOCATE, NULL, 0, msg,
	    sizeof(msg));

	assert_int_equal(st->grpc_status, GRPC_INTERNAL);
}

/* Allocate "sleep:5000": the answer would come after 5 s. */
static const uint8_t SLEEP_5S[] = { 0, 0, 0, 0, 14, 0x0a, 0x0c, 0x0a, 0x0a,
	's', 'l', 'e', 'e', 'p', ':', '5', '0', '0', '0' };

static const nghttp2_nv TIMEOUT_50MS[] = { H2NV("grpc-timeout", "50m") };

static void
test_deadline_is_deadline_exceeded(void **state)
{
	struct fixture *f = *state;
	const struct grpc_server_stats *stats =
	    grpc_server_stats(testservice_server(f->ts));
	struct h2stream *st = call(&f->p, ALLOCATE, TIMEOUT_50MS, 1,
	    SLEEP_5S, sizeof(SLEEP_5S));

	assert_true(st->closed);
	/* Trailers-Only with grpc-status 4; the client had half-closed, so
	 * that ends the stream and no reset follows. */
	assert_string_equal(st->status, "200");
	assert_int_equal(st->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(st->header_frames, 1);
	assert_true(st->trailers_only);
	assert_false(st->rst);
	assert_int_equal(stats->deadline_cancelled, 1);
}

/*
 * Issue 8, R1: a call open with the longest grpc-timeouts a client sends
 * (grpc-go's maximum is 2562048H; the field allows 99999999H) must not
 * overflow the deadline arithmetic and disarm the loop's timers: another
 * call's 50 ms deadline still fires while it stays open.
 */
static void
test_huge_timeout_keeps_timers_running(void **state)
{
	static const char *const huge[] = { "2562047H", "2562048H",
		"99999999H" };
	enum { N = sizeof(huge) / sizeof(huge[0]) };
	struct h2peer *p = peer(state);
	struct h2stream *held[N];
	struct h2stream *st;

	for (size_t i = 0; i < N; i++) {
		nghttp2_nv timeout = { (uint8_t *)"grpc-timeout",
			(uint8_t *)huge[i], 12, strlen(huge[i]),
			NGHTTP2_NV_FLAG_NONE };

		held[i] = h2peer_request(p, ALLOCATE, &timeout, 1, SLEEP_5S,
		    sizeof(SLEEP_5S), 0, false);
		h2peer_wait_stream(p, held[i], 50);
		assert_false(held[i]->closed); /* sleeping, no deadline soon */
		st = call(p, ALLOCATE, TIMEOUT_50MS, 1, SLEEP_5S,
		    sizeof(SLEEP_5S));
		assert_true(st->closed);
		assert_int_equal(st->grpc_status, GRPC_DEADLINE_EXCEEDED);
		for (size_t j = 0; j <= i; j++)
			assert_false(held[j]->closed);
	}
}

static void
test_deadline_then_cancel_if_client_still_sending(void **state)
{
	struct h2peer *p = peer(state);
	/* The whole message, but no END_STREAM: never dispatched. */
	struct h2stream *st = answered(p, h2peer_request(p, ALLOCATE,
	    TIMEOUT_50MS, 1, SLEEP_5S, sizeof(SLEEP_5S), 0, true));

	assert_int_equal(st->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_true(st->rst);
	assert_int_equal(st->rst_code, NGHTTP2_CANCEL);
}

static void
test_deadline_after_headers_sends_trailers(void **state)
{
	/* ListAndWatch answers at once and stays open: headers, DATA, and
	 * at the deadline, trailers with grpc-status 4. */
	struct h2stream *st = call(peer(state), LIST_AND_WATCH, TIMEOUT_50MS,
	    1, EMPTY_MSG, sizeof(EMPTY_MSG));

	assert_true(st->closed);
	assert_string_equal(st->status, "200");
	assert_true(st->data_len > 0);
	assert_int_equal(st->header_frames, 2);
	assert_int_equal(st->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_false(st->rst);
}

static void
test_shutdown_sends_goaway(void **state)
{
	struct fixture *f = *state;

	h2peer_pump(&f->p, 20);
	grpc_server_shutdown(testservice_server(f->ts));
	/* Without another loop turn: GOAWAY, and the connection closed. */
	h2peer_recv(&f->p);
	assert_true(f->p.goaway);
	assert_int_equal(f->p.goaway_code, NGHTTP2_NO_ERROR);
	assert_true(f->p.eof);
}

struct batch {
	struct h2peer *p;
	size_t n;
};

/* Whether every stream of the batch has ended. */
static bool
batch_done(void *arg)
{
	const struct batch *b = arg;
	size_t closed = 0;

	for (size_t i = 0; i < b->p->nstreams; i++)
		closed += b->p->streams[i].closed;
	return closed == b->n;
}

/*
 * 32 Allocate calls arrive in one write: their 96 frames (headers, DATA,
 * trailers) leave in one write, or two, not one write per frame. Over
 * SOCK_SEQPACKET each of the server's sends is one record here.
 */
static void
test_a_batch_of_calls_is_answered_in_one_write(void **state)
{
	enum { N = 32 };
	struct h2peer *p = peer(state);
	struct batch b = { p, N };
	size_t records, ok = 0;
	int64_t end;

	h2peer_pump(p, 20);   /* SETTINGS both ways */
	for (int i = 0; i < N; i++)
		h2peer_request(p, ALLOCATE, NULL, 0, ALLOCATE_GPU0,
		    sizeof(ALLOCATE_GPU0), 0, false);
	h2peer_flush(p);
	records = p->reads;
	end = loop_now_ms() + 3000;
	while (!batch_done(&b) && loop_now_ms() < end) {
		loop_run_once(p->loop, 2);
		h2peer_recv(p);
	}
	records = p->reads - records;
	assert_true(batch_done(&b));
	for (size_t i = 0; i < p->nstreams; i++)
		ok += p->streams[i].grpc_status == 0;
	assert_int_equal(ok, N);
	print_message("%d calls answered in %zu writes\n", N, records);
	assert_true(records <= 2);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_settings_is_the_first_frame),
		T(test_any_authority_accepted),
		T(test_wrong_content_type_is_415),
		T(test_content_type_variants_accepted),
		T(test_not_post_is_reset),
		T(test_unknown_method_trailers_only),
		T(test_unknown_service),
		T(test_malformed_path),
		T(test_oversize_prefix_answered_at_once),
		T(test_compressed_flag_is_an_error),
		T(test_grpc_encoding_is_unimplemented),
		T(test_request_split_into_one_byte_frames),
		T(test_two_messages_for_unary_is_an_error),
		T(test_no_message_is_an_error),
		T(test_bad_protobuf_is_internal),
		T(test_deadline_is_deadline_exceeded),
		T(test_huge_timeout_keeps_timers_running),
		T(test_deadline_then_cancel_if_client_still_sending),
		T(test_deadline_after_headers_sends_trailers),
		T(test_shutdown_sends_goaway),
		cmocka_unit_test_setup_teardown(
		    test_a_batch_of_calls_is_answered_in_one_write,
		    setup_seqpacket, teardown),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
