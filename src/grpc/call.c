/*
 * call.c: a server call's lifetime and its answers (see server.h for the
 * contract, server_int.h for what the server files share with this file).
 *
 * A call is born when a request's HEADERS begin and dies when nghttp2
 * closes its stream (or its connection goes). In between it is answered
 * once: early, by the server, for a bad request (Trailers-Only); or by the
 * application through grpc_call_*. Messages wait in the call's queue until
 * HTTP/2 flow control lets nghttp2 pull them through read_queue(), which
 * also puts the trailers behind the last one. A message takes the call's
 * arena (dispatch.c) while it has room, else its own allocation.
 *
 * Ending a call cannot leave its stream open, whatever memory allows (the
 * kubelet gives Allocate no deadline: a call left open hangs a pod's
 * admission). A status message that cannot be encoded gives way to a
 * static one; a status that cannot be queued gives way to
 * RST_STREAM(INTERNAL_ERROR); a reset that cannot be queued closes the
 * connection after a last flush (conn->closing). tests/unit/
 * test_server_faults.c fails every allocation in turn to hold us to it.
 */
#include "server_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

/* A client cancel this close to the deadline is the deadline (see below). */
#define DEADLINE_SLACK_NS (50 * 1000000LL)

/* Static grpc-messages: plain ASCII, so already percent-encoded. */
#define MSG_LOST "grpc: the status message was lost (out of memory)"
#define MSG_DEADLINE "deadline exceeded"
#define MSG_NO_MEMORY_RESPONSE "grpc: out of memory for the response"

static int call_kick(struct grpc_call *call);

/* ---- lifetime ---- */

struct grpc_call *
call_new(struct conn *conn, int32_t stream_id)
{
	struct grpc_call *call = pool_get(&conn->server->call_pool);

	if (call == NULL)
		return NULL;
	memset(call, 0, sizeof(*call));
	call->conn = conn;
	call->stream_id = stream_id;
	call->header_room = conn->server->opts.max_header_list;
	grpc_request_head_init(&call->head);
	grpc_reader_init(&call->reader, conn->server->opts.max_recv_message);
	STAILQ_INIT(&call->queue);
	LIST_INSERT_HEAD(&conn->calls, call, link);
	conn_call_added(conn, call);
	return call;
}

/* A message from the call's arena when it has room (see dispatch.c). */
static struct outmsg *
outmsg_new(struct grpc_call *call, size_t len)
{
	size_t size = sizeof(struct outmsg) + len;
	struct outmsg *m = call_arena_alloc(call, size);
	bool in_arena = m != NULL;

	if (m == NULL && (m = gdp_malloc(size)) == NULL)
		return NULL;
	m->in_arena = in_arena;
	m->off = 0;
	m->len = len;
	return m;
}

static void
outmsg_free(struct grpc_call *call, struct outmsg *m)
{
	if (m->in_arena)
		return;   /* goes with the call */
	server_freed(call->conn->server, m->len);
	gdp_free(m);
}

static void
call_drop_queue(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	struct outmsg *m;

	while ((m = STAILQ_FIRST(&call->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&call->queue, link);
		outmsg_free(call, m);
	}
	server->stats.queued_bytes -= call->queued;
	call->conn->queued -= call->queued;
	call->queued = 0;
}

/* Tells on_call_end of a dispatched call's end, once: before |finished|. */
static void
call_ended(const struct grpc_call *call, int code)
{
	const struct grpc_server_options *o = &call->conn->server->opts;

	if (call->dispatched && !call->finished && o->on_call_end != NULL)
		o->on_call_end(call->method, code,
		    loop_now_ns() - call->dispatched_ns, o->call_end_arg);
}

void
call_notify_closed(struct grpc_call *call, enum grpc_close_reason reason)
{
	if (!call->dispatched || call->finished)
		return;
	call_ended(call, reason == GRPC_CLOSE_DEADLINE ?
	    GRPC_DEADLINE_EXCEEDED : GRPC_CANCELLED);
	call->finished = true;
	if (reason == GRPC_CLOSE_PEER_GONE)
		call->conn->server->stats.closed_by_peer++;
	if (call->close_cb != NULL)
		call->close_cb(call, reason, call->close_arg);
}

void
call_free(struct grpc_call *call)
{
	call_free_request(call);
	if (call->trailers_early)
		call->conn->trailers_early--;
	if (call->conn->last_call == call)
		call->conn->last_stream = 0;   /* forget the cached call */
	conn_call_removed(call->conn, call);
	LIST_REMOVE(call, link);
	if (call->deadline != NULL)
		loop_cancel_timer(call->conn->server->loop, call->deadline);
	call_drop_queue(call);
	grpc_reader_reset(&call->reader);
	grpc_request_head_reset(&call->head);
	call_arena_free(call);
	gdp_free(call->status_msg);
	pool_put(&call->conn->server->call_pool, call);
}

/*
 * A client cancels at its own deadline, usually a moment before ours (its
 * grpc-timeout was computed before the request travelled). A cancel that
 * close to the deadline is the deadline, not the client going away.
 */
static bool
client_hit_deadline(const struct grpc_call *call)
{
	int64_t slack = call->head.timeout_ns / 2;

	if (call->deadline_ns == 0)
		return false;
	if (slack > DEADLINE_SLACK_NS)
		slack = DEADLINE_SLACK_NS;
	return loop_now_ns() >= call->deadline_ns - slack;
}

void
call_stream_closed(struct grpc_call *call, uint32_t error_code)
{
	if (!call->deadline_hit && error_code == NGHTTP2_CANCEL &&
	    client_hit_deadline(call)) {
		call->deadline_hit = true;
		if (call->dispatched && !call->finished)
			call->conn->server->stats.deadline_cancelled++;
	}
	call_notify_closed(call, call->deadline_hit ? GRPC_CLOSE_DEADLINE :
	    GRPC_CLOSE_PEER_GONE);
}

/* ---- the wire: headers, queued DATA, trailers ---- */

#define NV(name, value) { (uint8_t *)(name), (uint8_t *)(value), \
	sizeof(name) - 1, strlen(value), NGHTTP2_NV_FLAG_NO_COPY_NAME }
/* A header of two literals (or static strings): nghttp2 copies neither. */
#define NV_STATIC(name, value) { (uint8_t *)(name), (uint8_t *)(value), \
	sizeof(name) - 1, strlen(value), \
	NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }

/* grpc-status: decimal, no leading zeros; codes are small. */
static void
format_code(char out[12], int code)
{
	if (code >= 0 && code < 100) {
		int i = 0;

		if (code >= 10)
			out[i++] = (char)('0' + code / 10);
		out[i++] = (char)('0' + code % 10);
		out[i] = '\0';
		return;
	}
	snprintf(out, 12, "%d", code);
}

/* grpc-status for |code|: a static string for gRPC's codes, else |buf|. */
static nghttp2_nv
status_nv(int code, char buf[12])
{
	static const char *const codes[] = { "0", "1", "2", "3", "4", "5",
		"6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16" };

	if (code >= 0 && (size_t)code < sizeof(codes) / sizeof(codes[0])) {
		nghttp2_nv nv = { (uint8_t *)"grpc-status",
			(uint8_t *)codes[code], sizeof("grpc-status") - 1,
			code < 10 ? 1 : 2, NGHTTP2_NV_FLAG_NO_COPY_NAME |
			NGHTTP2_NV_FLAG_NO_COPY_VALUE };

		return nv;
	}
	format_code(buf, code);
	nghttp2_nv nv = NV("grpc-status", buf);

	return nv;
}

/*
 * Queues the trailers (with the response headers first when
 * |with_headers|; |http_status| then is a static string). Names and static
 * values are not copied by nghttp2; a formatted message is.
 */
static int
submit_trailers(struct grpc_call *call, bool with_headers,
    const char *http_status)
{
	char code[12];
	nghttp2_nv nva[5];
	size_t n = 0;
	nghttp2_session *session = call->conn->h2.session;
	int rc;

	if (with_headers) {
		nghttp2_nv st = NV_STATIC(":status", http_status);
		nghttp2_nv ct = NV_STATIC("content-type", "application/grpc");

		nva[n++] = st;
		nva[n++] = ct;
	}
	nva[n++] = status_nv(call->status, code);
	if (call->status_msg != NULL && call->status_msg[0] != '\0') {
		nghttp2_nv gm = NV("grpc-message", call->status_msg);

		nva[n++] = gm;
	} else if (call->status_static != NULL) {
		nghttp2_nv gm = NV_STATIC("grpc-message", call->status_static);

		nva[n++] = gm;
	}
	if (with_headers)
		rc = nghttp2_submit_response(session, call->stream_id, nva, n,
		    NULL);
	else
		rc = nghttp2_submit_trailer(session, call->stream_id, nva, n);
	call->trailers_queued = rc == 0;
	if (rc == 0 && !call->remote_closed && !call->trailers_early) {
		call->trailers_early = true;
		call->conn->trailers_early++;
	}
	return rc;
}

static size_t
copy_queued(struct grpc_call *call, uint8_t *buf, size_t length)
{
	struct grpc_server_stats *st = &call->conn->server->stats;
	size_t copied = 0;
	struct outmsg *m;

	while ((m = STAILQ_FIRST(&call->queue)) != NULL && copied < length) {
		size_t n = m->len - m->off;

		if (n > length - copied)
			n = length - copied;
		memcpy(buf + copied, m->data + m->off, n);
		m->off += n;
		copied += n;
		call->queued -= n;
		call->conn->queued -= n;
		st->queued_bytes -= n;
		if (m->off == m->len) {
			STAILQ_REMOVE_HEAD(&call->queue, link);
			outmsg_free(call, m);
		}
	}
	return copied;
}

/* nghttp2's data provider: queued messages, then the trailers. */
static ssize_t
read_queue(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
    void *user_data)
{
	struct grpc_call *call = source->ptr;
	size_t copied = copy_queued(call, buf, length);

	if (STAILQ_EMPTY(&call->queue) && call->finished) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF |
		    NGHTTP2_DATA_FLAG_NO_END_STREAM;
		/* On failure nghttp2 resets the stream (INTERNAL_ERROR),
		 * or, failing that, the whole session. */
		if (submit_trailers(call, false, NULL) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return (ssize_t)copied;
	}
	if (copied == 0) {
		call->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)copied;
}

void
call_reset(struct grpc_call *call, uint32_t error_code)
{
	conn_touch(call->conn);
	if (nghttp2_submit_rst_stream(call->conn->h2.session,
	    NGHTTP2_FLAG_NONE, call->stream_id, error_code) != 0)
		call->conn->closing = true;
}

/* The answer cannot be queued: the stream ends without it. */
static int
call_abort(struct grpc_call *call)
{
	call->headers_sent = true;
	call->deferred = false;
	call_reset(call, NGHTTP2_INTERNAL_ERROR);
	return -ENOMEM;
}

/*
 * Hands whatever the call has to nghttp2; the loop flushes it. Returns 0,
 * or -ENOMEM when the call had to be reset instead (see the top).
 */
static const nghttp2_nv response_headers[] = {
	NV_STATIC(":status", "200"),
	NV_STATIC("content-type", "application/grpc"),
};

static int
call_kick(struct grpc_call *call)
{
	nghttp2_session *session = call->conn->h2.session;
	nghttp2_data_provider dp = { .source.ptr = call,
		.read_callback = read_queue };

	if (call->conn->dead || call->conn->closing)
		return 0;
	conn_touch(call->conn);
	if (call->headers_sent) {
		if (!call->deferred)
			return 0;
		call->deferred = false;
		if (nghttp2_session_resume_data(session, call->stream_id) != 0)
			return call_abort(call);
		return 0;
	}
	call->headers_sent = true;
	if (call->finished && STAILQ_EMPTY(&call->queue)) {
		/* Trailers-Only. */
		if (submit_trailers(call, true, "200") != 0)
			return call_abort(call);
		return 0;
	}
	if (nghttp2_submit_response(session, call->stream_id, response_headers,
	    2, &dp) != 0)
		return call_abort(call);
	return 0;
}

/* Decides the status; a static |msg| is used as it is (no allocation). */
static void
set_status_static(struct grpc_call *call, int code, const char *msg)
{
	gdp_free(call->status_msg);
	call->status_msg = NULL;
	call->status_static = msg;
	call->status = code;
	call_ended(call, code);
	call->finished = true;
}

/*
 * Decides the status. Returns 0, or -ENOMEM when |message| could not be
 * encoded (the status stands, with MSG_LOST for a message).
 */
static int
set_status(struct grpc_call *call, int code, const char *message)
{
	char *enc = NULL;

	if (message != NULL && message[0] != '\0' &&
	    (enc = grpc_percent_encode(message, strlen(message))) == NULL) {
		set_status_static(call, code, MSG_LOST);
		return -ENOMEM;
	}
	set_status_static(call, code, NULL);
	call->status_msg = enc;
	return 0;
}

/* ---- answers the server gives by itself ---- */

void
call_respond_early(struct grpc_call *call, const char *http_status, int code,
    const char *message)
{
	if (call->responded || call->headers_sent)
		return;
	call->responded = true;
	(void)set_status(call, code, message); /* stands even without text */
	call->headers_sent = true;
	conn_touch(call->conn);
	if (submit_trailers(call, true, http_status) != 0)
		(void)call_abort(call);
}

void
call_respond_early_fmt(struct grpc_call *call, int code, const char *fmt,
    ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call_respond_early(call, "200", code, msg);
}

/* True when the stream's DATA cannot move (the client stopped reading). */
static bool
flow_blocked(const struct grpc_call *call)
{
	nghttp2_session *session = call->conn->h2.session;

	return nghttp2_session_get_stream_remote_window_size(session,
	    call->stream_id) <= 0 ||
	    nghttp2_session_get_remote_window_size(session) <= 0;
}

/*
 * The deadline passed: the application's hold on the call ends, and the
 * client gets grpc-status 4 (Trailers-Only, or trailers in place of what
 * was still queued), then RST_STREAM(CANCEL) if it has not half-closed
 * (on_frame_send). Trailers queued behind DATA the client does not read
 * would never leave, so such a stream is reset at once.
 */
static int64_t
on_deadline(struct loop *loop, void *arg)
{
	struct grpc_call *call = arg;

	call->deadline = NULL;
	call->deadline_hit = true;
	if (call->dispatched && !call->finished)
		call->conn->server->stats.deadline_cancelled++;
	call_notify_closed(call, GRPC_CLOSE_DEADLINE);
	call->responded = true;   /* the rest of the request is ignored */
	if (call->trailers_queued)
		return LOOP_NOMORE;   /* its status is on its way */
	call_drop_queue(call);
	set_status_static(call, GRPC_DEADLINE_EXCEEDED, MSG_DEADLINE);
	if (call->headers_sent && flow_blocked(call))
		call_reset(call, NGHTTP2_CANCEL);
	else
		(void)call_kick(call);   /* a failure resets the stream */
	return LOOP_NOMORE;
}

int
call_arm_deadline(struct grpc_call *call, int64_t timeout_ns)
{
	int64_t ms = (timeout_ns + 999999) / 1000000;

	call->deadline_ns = loop_now_ns() + timeout_ns;
	call->deadline = loop_add_timer(call->conn->server->loop, ms,
	    on_deadline, call);
	return call->deadline != NULL ? 0 : -ENOMEM;
}

/* ---- the call API ---- */

/*
 * True when |len| more bytes fit the call's queue and its connection's
 * (its calls' queues and the output its socket has not taken), the
 * call's first message included: a client that never reads holds at
 * most that much. Past the total, others holding more are sent away.
 */
static bool
room_for(const struct grpc_call *call, size_t len)
{
	const struct grpc_server_options *o = &call->conn->server->opts;
	const struct conn *conn = call->conn;

	return len <= o->max_stream_queue &&
	    call->queued <= o->max_stream_queue - len &&
	    conn->queued + h2conn_queued(&conn->h2) <= o->max_conn_queue &&
	    len <= o->max_conn_queue - conn->queued -
	    h2conn_queued(&conn->h2) &&
	    server_output_room(call->conn, len);
}

/* The method's own encoder for |msg|, or NULL for protobuf-c's. */
static const struct grpc_codec *
encoder(const struct grpc_call *call, const ProtobufCMessage *msg)
{
	const struct grpc_codec *codec = call->method->codec;

	return codec != NULL && codec->pack != NULL &&
	    codec->response == msg->descriptor ? codec : NULL;
}

static size_t
packed_size(const struct grpc_call *call, const ProtobufCMessage *msg)
{
	const struct grpc_codec *codec = encoder(call, msg);

	return codec != NULL ? codec->packed_size(msg) :
	    protobuf_c_message_get_packed_size(msg);
}

static void
pack(const struct grpc_call *call, const ProtobufCMessage *msg, size_t len,
    uint8_t *out)
{
	const struct grpc_codec *codec = encoder(call, msg);

	if (codec != NULL)
		codec->pack(msg, len, out);
	else
		protobuf_c_message_pack(msg, out);
}

int
grpc_call_send(struct grpc_call *call, const ProtobufCMessage *msg)
{
	struct grpc_server *server = call->conn->server;
	size_t len = packed_size(call, msg);
	struct outmsg *m;

	if (call->finished)
		return -EPIPE;
	if (len > UINT32_MAX - GRPC_PREFIX_LEN)
		return -EINVAL;
	if (call->method->kind == GRPC_METHOD_UNARY && call->sent_msgs > 0)
		return -EINVAL;
	if (!room_for(call, GRPC_PREFIX_LEN + len)) {
		server->stats.sends_refused++;
		return -ENOBUFS;
	}
	m = outmsg_new(call, GRPC_PREFIX_LEN + len);
	if (m == NULL)
		return -ENOMEM;
	grpc_prefix_write(m->data, (uint32_t)len);
	pack(call, msg, len, m->data + GRPC_PREFIX_LEN);
	STAILQ_INSERT_TAIL(&call->queue, m, link);
	call->queued += m->len;
	call->conn->queued += m->len;
	call->sent_msgs++;
	server->stats.queued_bytes += m->len;
	if (call->queued > server->stats.max_queued_bytes)
		server->stats.max_queued_bytes = call->queued;
	return call_kick(call);
}

int
grpc_call_finish(struct grpc_call *call, int code, const char *message)
{
	int rc, kicked;

	if (call->finished)
		return -EPIPE;
	rc = set_status(call, code, message);
	kicked = call_kick(call);
	return rc < 0 ? rc : kicked;
}

int
grpc_call_fail(struct grpc_call *call, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return grpc_call_finish(call, code, msg);
}

int
grpc_call_reply(struct grpc_call *call, const ProtobufCMessage *msg)
{
	int rc = grpc_call_send(call, msg);

	if (rc == -EPIPE)
		return rc;
	if (rc == -ENOMEM) {
		set_status_static(call, GRPC_RESOURCE_EXHAUSTED,
		    MSG_NO_MEMORY_RESPONSE);
		(void)call_kick(call);
		return rc;
	}
	if (rc == -ENOBUFS) {
		const struct grpc_server_options *o = &call->conn->server->opts;

		(void)grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "grpc: no "
		    "room to queue the response (%zu bytes; limits: %zu per "
		    "call, %zu per connection)",
		    packed_size(call, msg) + GRPC_PREFIX_LEN,
		    o->max_stream_queue, o->max_conn_queue);
		return rc;
	}
	if (rc < 0) {
		(void)grpc_call_fail(call, GRPC_INTERNAL,
		    "grpc: the response cannot be sent: %s", strerror(-rc));
		return rc;
	}
	return grpc_call_finish(call, GRPC_OK, NULL);
}

void
grpc_call_on_close(struct grpc_call *call, grpc_close_cb cb, void *arg)
{
	call->close_cb = cb;
	call->close_arg = arg;
}

size_t
grpc_call_queued(const struct grpc_call *call)
{
	return call->queued;
}

void
grpc_call_set_data(struct grpc_call *call, void *data)
{
	call->data = data;
}

void *
grpc_call_data(const struct grpc_call *call)
{
	return call->data;
}

const struct grpc_method *
grpc_call_method(const struct grpc_call *call)
{
	return call->method;
}
