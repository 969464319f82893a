/*
 * test_server_wire.c: the server as raw HTTP/2 sees it.
 *
 * Real gRPC libraries never send a missing :authority, a wrong
 * content-type or a compressed message without grpc-encoding, so these
 * cases are driven here with a bare nghttp2 client (HTTP checks off) over
 * a socketpair that the server adopts as a connection, exactly as an
 * accepted socket. Each case checks what a client would see on the wire.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "testservice.h"

struct peer {
	struct loop *loop;
	struct testservice *ts;
	int fd;
	nghttp2_session *s;
	/* What the response looked like. */
	char status[8];
	int grpc_status;
	char grpc_message[256];
	int header_frames;
	bool headers_ended_stream;
	bool closed;
	uint32_t close_code;
	bool rst_received;
	uint32_t rst_code;
	bool goaway;
	uint32_t goaway_code;
	size_t data_len;
	unsigned nclosed;    /* streams closed, all together */
	unsigned nok;        /* grpc-status 0 received */
	/* What the request body is. */
	const uint8_t *body;
	size_t body_len, body_off;
	size_t chunk;        /* bytes per DATA frame; 0: all at once */
	bool keep_open;      /* no END_STREAM after the body */
};

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *arg)
{
	struct peer *p = arg;
	char v[256];

	snprintf(v, sizeof(v), "%.*s", (int)vl, value);
	if (nl == 7 && memcmp(name, ":status", 7) == 0)
		snprintf(p->status, sizeof(p->status), "%.7s", v);
	else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) {
		p->grpc_status = atoi(v);
		p->nok += p->grpc_status == 0;
	}
	else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0)
		memcpy(p->grpc_message, v, sizeof(p->grpc_message));
	return 0;
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct peer *p = arg;

	if (f->hd.type == NGHTTP2_HEADERS) {
		p->header_frames++;
		if (p->header_frames == 1 &&
		    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			p->headers_ended_stream = true;
	} else if (f->hd.type == NGHTTP2_RST_STREAM) {
		p->rst_received = true;
		p->rst_code = f->rst_stream.error_code;
	} else if (f->hd.type == NGHTTP2_GOAWAY) {
		p->goaway = true;
		p->goaway_code = f->goaway.error_code;
	}
	return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
    size_t len, void *arg)
{
	((struct peer *)arg)->data_len += len;
	return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct peer *p = arg;

	p->closed = true;
	p->close_code = code;
	p->nclosed++;
	return 0;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct peer *p = arg;
	size_t n = p->body_len - p->body_off;

	if (p->chunk > 0 && n > p->chunk)
		n = p->chunk;
	if (n > len)
		n = len;
	memcpy(buf, p->body + p->body_off, n);
	p->body_off += n;
	if (p->body_off == p->body_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (p->keep_open)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

static int
setup_type(void **state, int type)
{
	struct peer *p = calloc(1, sizeof(*p));
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int sv[2];

	p->grpc_status = -1;
	p->loop = loop_new();
	p->ts = testservice_new(p->loop, NULL);
	assert_int_equal(socketpair(AF_UNIX, type | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(grpc_server_adopt(testservice_server(p->ts), sv[0]),
	    0);
	p->fd = sv[1];
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_option_new(&opt);
	nghttp2_option_set_no_http_messaging(opt, 1);
	assert_int_equal(nghttp2_session_client_new2(&p->s, cb, p, opt), 0);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0);
	*state = p;
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
	struct peer *p = *state;

	nghttp2_session_del(p->s);
	close(p->fd);
	testservice_free(p->ts);
	loop_free(p->loop);
	free(p);
	return 0;
}

/* Moves bytes both ways until the stream closes or |ms| pass. */
static void
pump(struct peer *p, int ms)
{
	int64_t end = loop_now_ms() + ms;

	while (loop_now_ms() < end && !p->closed) {
		const uint8_t *out;
		ssize_t n;
		uint8_t buf[65536];

		while ((n = nghttp2_session_mem_send(p->s, &out)) > 0)
			assert_int_equal(write(p->fd, out, (size_t)n), n);
		loop_run_once(p->loop, 2);
		while ((n = read(p->fd, buf, sizeof(buf))) > 0)
			assert_true(nghttp2_session_mem_recv(p->s, buf,
			    (size_t)n) >= 0);
	}
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
	sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

static const uint8_t EMPTY_MSG[] = { 0, 0, 0, 0, 0 };

static void
request(struct peer *p, const nghttp2_nv *nva, size_t n,
    const uint8_t *body, size_t len)
{
	nghttp2_data_provider dp = { .read_callback = read_body };

	p->body = body;
	p->body_len = len;
	assert_true(nghttp2_submit_request(p->s, NULL, nva, n,
	    body ? &dp : NULL, NULL) > 0);
	pump(p, 3000);
}

static void
test_settings_is_the_first_frame(void **state)
{
	struct peer *p = *state;
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
	struct peer *p = *state;
	const char *variants[] = { NULL, "",
		"/var/lib/kubelet/device-plugins/kubelet.sock",
		"%2Fvar%2Flib%2Fx.sock", "localhost" };

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		nghttp2_nv nva[6] = {
			NV(":method", "POST"), NV(":scheme", "http"),
			NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
			NV("content-type", "application/grpc"),
			NV("te", "trailers, deflate"),
		};
		size_t n = 5;

		if (variants[i] != NULL) {
			nghttp2_nv a = { (uint8_t *)":authority",
				(uint8_t *)variants[i], 10, strlen(variants[i]),
				NGHTTP2_NV_FLAG_NONE };

			nva[n++] = a;
		}
		p->closed = false;
		p->grpc_status = -1;
		p->body_off = 0;
		request(p, nva, n, EMPTY_MSG, sizeof(EMPTY_MSG));
		assert_true(p->closed);
		assert_string_equal(p->status, "200");
		assert_int_equal(p->grpc_status, 0);
	}
}

static void
test_wrong_content_type_is_415(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc-web"),
	};

	request(p, nva, 5, EMPTY_MSG, sizeof(EMPTY_MSG));
	assert_string_equal(p->status, "415");
	assert_int_equal(p->grpc_status, GRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(p->grpc_message, "application/grpc-web"));
}

static void
test_content_type_variants_accepted(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc+proto"),
	};

	request(p, nva, 5, EMPTY_MSG, sizeof(EMPTY_MSG));
	assert_int_equal(p->grpc_status, 0);
}

static void
test_not_post_is_reset(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "GET"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};

	request(p, nva, 5, NULL, 0);
	assert_true(p->rst_received);
	assert_int_equal(p->rst_code, NGHTTP2_PROTOCOL_ERROR);
}

static void
check_unimplemented(struct peer *p, const char *path, const char *want)
{
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path),
		  NGHTTP2_NV_FLAG_NONE },
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};

	request(p, nva, 5, EMPTY_MSG, sizeof(EMPTY_MSG));
	assert_string_equal(p->status, "200");
	assert_int_equal(p->grpc_status, GRPC_UNIMPLEMENTED);
	assert_string_equal(p->grpc_message, want);
	/* Trailers-Only: one HEADERS frame, which ends the stream. */
	assert_int_equal(p->header_frames, 1);
	assert_true(p->headers_ended_stream);
	assert_int_equal(p->data_len, 0);
}

static void
test_unknown_method_trailers_only(void **state)
{
	check_unimplemented(*state, "/v1beta1.DevicePlugin/Nope",
	    "unknown method Nope for service v1beta1.DevicePlugin");
}

static void
test_unknown_service(void **state)
{
	check_unimplemented(*state, "/v1beta1.Registration/Register",
	    "unknown service v1beta1.Registration");
}

static void
test_malformed_path(void **state)
{
	check_unimplemented(*state, "nope",
	    "malformed method name: \"nope\"");
}

static void
test_oversize_prefix_answered_at_once(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	/* Announces 5 MiB and sends none of it, stream left open. */
	static const uint8_t prefix[] = { 0, 0, 0x50, 0, 0 };

	p->keep_open = true;
	request(p, nva, 5, prefix, sizeof(prefix));
	assert_int_equal(p->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(p->grpc_message, "5242880 vs. 4194304"));
	/* The client never half-closed: trailers, then RST_STREAM(NO_ERROR). */
	assert_true(p->rst_received);
	assert_int_equal(p->rst_code, NGHTTP2_NO_ERROR);
}

static void
test_compressed_flag_is_an_error(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	static const uint8_t msg[] = { 1, 0, 0, 0, 2, 0x0a, 0x00 };

	request(p, nva, 5, msg, sizeof(msg));
	assert_true(p->closed);
	assert_int_equal(p->grpc_status, GRPC_INTERNAL);
	assert_non_null(strstr(p->grpc_message, "compressed"));
}

static void
test_grpc_encoding_is_unimplemented(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("grpc-encoding", "gzip"),
	};
	static const uint8_t msg[] = { 1, 0, 0, 0, 2, 0x0a, 0x00 };

	request(p, nva, 6, msg, sizeof(msg));
	assert_int_equal(p->grpc_status, GRPC_UNIMPLEMENTED);
}

static void
test_request_split_into_one_byte_frames(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	/* AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]} */
	static const uint8_t msg[] = { 0, 0, 0, 0, 9, 0x0a, 0x07, 0x0a, 0x05,
		'G', 'P', 'U', '-', '0' };

	p->chunk = 1;
	request(p, nva, 5, msg, sizeof(msg));
	assert_int_equal(p->grpc_status, 0);
	assert_int_equal(p->header_frames, 2);   /* headers, trailers */
	assert_true(p->data_len > 5);
}

static void
test_two_messages_for_unary_is_an_error(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	static const uint8_t two[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	request(p, nva, 5, two, sizeof(two));
	assert_int_equal(p->grpc_status, GRPC_UNIMPLEMENTED);
}

static void
test_no_message_is_an_error(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/GetDevicePluginOptions"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};

	request(p, nva, 5, NULL, 0);
	assert_int_equal(p->grpc_status, GRPC_UNIMPLEMENTED);
	assert_non_null(strstr(p->grpc_message, "got none"));
}

static void
test_bad_protobuf_is_internal(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	/* Field 1, length 100, but only 1 byte follows. */
	static const uint8_t msg[] = { 0, 0, 0, 0, 3, 0x0a, 100, 0x0a };

	request(p, nva, 5, msg, sizeof(msg));
	assert_int_equal(p->grpc_status, GRPC_INTERNAL);
}

/* Allocate "sleep:5000": the answer would come after 5 s. */
static const uint8_t SLEEP_5S[] = { 0, 0, 0, 0, 14, 0x0a, 0x0c, 0x0a, 0x0a,
	's', 'l', 'e', 'e', 'p', ':', '5', '0', '0', '0' };

static void
test_deadline_is_deadline_exceeded(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("grpc-timeout", "50m"),
	};
	const struct grpc_server_stats *st =
	    grpc_server_stats(testservice_server(p->ts));

	request(p, nva, 6, SLEEP_5S, sizeof(SLEEP_5S));
	assert_true(p->closed);
	/* Trailers-Only with grpc-status 4; the client had half-closed, so
	 * that ends the stream and no reset follows. */
	assert_string_equal(p->status, "200");
	assert_int_equal(p->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(p->header_frames, 1);
	assert_true(p->headers_ended_stream);
	assert_false(p->rst_received);
	assert_int_equal(st->deadline_cancelled, 1);
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
	struct peer *p = *state;

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		nghttp2_nv nva[] = {
			NV(":method", "POST"), NV(":scheme", "http"),
			NV(":path", "/v1beta1.DevicePlugin/Allocate"),
			NV(":authority", "localhost"),
			NV("content-type", "application/grpc"),
			{ (uint8_t *)"grpc-timeout", (uint8_t *)huge[i], 12,
			    strlen(huge[i]), NGHTTP2_NV_FLAG_NONE },
		};
		nghttp2_data_provider dp = { .read_callback = read_body };

		p->body = SLEEP_5S;
		p->body_len = sizeof(SLEEP_5S);
		p->body_off = 0;
		assert_true(nghttp2_submit_request(p->s, NULL, nva, 6, &dp,
		    NULL) > 0);
		pump(p, 50);
		assert_false(p->closed); /* sleeping, no deadline soon */
		nva[5].value = (uint8_t *)"50m";
		nva[5].valuelen = 3;
		p->body_off = 0;
		p->grpc_status = -1;
		request(p, nva, 6, SLEEP_5S, sizeof(SLEEP_5S));
		assert_true(p->closed);
		assert_int_equal(p->grpc_status, GRPC_DEADLINE_EXCEEDED);
		p->closed = false;
	}
}

static void
test_deadline_then_cancel_if_client_still_sending(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("grpc-timeout", "50m"),
	};

	/* The whole message, but no END_STREAM: never dispatched. */
	p->keep_open = true;
	request(p, nva, 6, SLEEP_5S, sizeof(SLEEP_5S));
	assert_int_equal(p->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_true(p->rst_received);
	assert_int_equal(p->rst_code, NGHTTP2_CANCEL);
}

static void
test_deadline_after_headers_sends_trailers(void **state)
{
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/ListAndWatch"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
		NV("grpc-timeout", "50m"),
	};

	/* ListAndWatch answers at once and stays open: headers, DATA, and
	 * at the deadline, trailers with grpc-status 4. */
	request(p, nva, 6, EMPTY_MSG, sizeof(EMPTY_MSG));
	assert_true(p->closed);
	assert_string_equal(p->status, "200");
	assert_true(p->data_len > 0);
	assert_int_equal(p->header_frames, 2);
	assert_int_equal(p->grpc_status, GRPC_DEADLINE_EXCEEDED);
	assert_false(p->rst_received);
}

static void
test_shutdown_sends_goaway(void **state)
{
	struct peer *p = *state;
	uint8_t buf[4096];
	ssize_t n;

	pump(p, 20);
	grpc_server_shutdown(testservice_server(p->ts));
	n = read(p->fd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(nghttp2_session_mem_recv(p->s, buf, (size_t)n) >= 0);
	assert_true(p->goaway);
	assert_int_equal(p->goaway_code, NGHTTP2_NO_ERROR);
	/* And the connection is closed after it. */
	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, 0);
}

/* Each stream's copy of the same Allocate request. */
static ssize_t
read_alloc(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	/* AllocateRequest{container_requests:[{devices_ids:["GPU-0"]}]} */
	static const uint8_t msg[] = { 0, 0, 0, 0, 9, 0x0a, 0x07, 0x0a, 0x05,
		'G', 'P', 'U', '-', '0' };

	assert_true(len >= sizeof(msg));
	memcpy(buf, msg, sizeof(msg));
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)sizeof(msg);
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
	struct peer *p = *state;
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", "/v1beta1.DevicePlugin/Allocate"),
		NV(":authority", "localhost"),
		NV("content-type", "application/grpc"),
	};
	nghttp2_data_provider dp = { .read_callback = read_alloc };
	uint8_t batch[16384];
	size_t len = 0;
	unsigned records = 0;
	const uint8_t *out;
	ssize_t n;
	int64_t end;

	pump(p, 20);   /* SETTINGS both ways */
	for (int i = 0; i < N; i++)
		assert_true(nghttp2_submit_request(p->s, NULL, nva, 5, &dp,
		    NULL) > 0);
	while ((n = nghttp2_session_mem_send(p->s, &out)) > 0) {
		assert_true(len + (size_t)n <= sizeof(batch));
		memcpy(batch + len, out, (size_t)n);
		len += (size_t)n;
	}
	assert_int_equal(write(p->fd, batch, len), (ssize_t)len);
	end = loop_now_ms() + 3000;
	while (p->nclosed < N && loop_now_ms() < end) {
		uint8_t buf[1 << 18];

		loop_run_once(p->loop, 2);
		while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
			records++;
			assert_true(nghttp2_session_mem_recv(p->s, buf,
			    (size_t)n) == n);
		}
	}
	assert_int_equal(p->nclosed, N);
	assert_int_equal(p->nok, N);
	print_message("%d calls answered in %u writes\n", N, records);
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
