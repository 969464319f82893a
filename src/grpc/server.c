/*
 * server.c: the gRPC server's sessions and dispatch (see server.h for the
 * contract; call.c answers the calls this file creates).
 *
 * Layout: the request path (header checks through request.c, the body
 * through the codec's reader, dispatch to the handler); the nghttp2
 * callbacks that drive it; connections; listening and the server object.
 *
 * HTTP messaging checks in nghttp2 are off, because they reject the
 * :authority values older kubelets send (a raw socket path, an empty one,
 * or none); what gRPC needs is checked by request.c instead. Closed
 * streams are not retained (nghttp2_option_set_no_closed_streams), which
 * keeps memory flat under load.
 *
 * Nothing is destroyed inside an nghttp2 callback: a connection that fails
 * there is marked dead and reaped by the loop's before-sleep hook or at
 * the end of its own I/O callback.
 *
 * Limits (docs/grpc.md): a peer that goes past one is told with GOAWAY
 * (ENHANCE_YOUR_CALM, a debug text naming the limit) and its connection
 * closes after a last flush (conn_calm), or its call is answered with
 * RESOURCE_EXHAUSTED. At max_connections a new connection still gets in:
 * the one longest without progress (a request dispatched, or DATA of ours
 * sent) is sent away, connections that never made any first. The kubelet
 * makes progress, and a peer that never sends its preface, never finishes
 * a request or never reads its answers does not. EMFILE on accept sends
 * one away the same way; if that does not help, the listener rests
 * (100 ms, doubling to 1 s) instead of spinning. The heap is trimmed once
 * 16 MiB are freed, so a flood's memory goes back to the system.
 */
#include "server_int.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc/listen.h"
#include "util/alloc.h"

#define DEFAULT_MAX_STREAM_QUEUE ((size_t)8 << 20)
#define DEFAULT_MAX_CONCURRENT_STREAMS 128
#define DEFAULT_MAX_CONNECTIONS 128
#define DEFAULT_MAX_PARTIAL_PER_CONN ((size_t)16 << 20)
#define DEFAULT_MAX_PARTIAL_TOTAL ((size_t)64 << 20)
#define DEFAULT_MAX_CONN_QUEUE ((size_t)16 << 20)
#define DEFAULT_MAX_HEADER_LIST 16384
#define DEFAULT_PREFACE_TIMEOUT_MS 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS (5 * 60000LL)
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (4 << 20)
/* The listener's rest after an accept failure: first, and longest. */
#define ACCEPT_REST_MIN_MS 100
#define ACCEPT_REST_MAX_MS 1000
/* Bytes freed before the heap is trimmed, and what a closed connection
 * is counted for (its nghttp2 session and buffers, roughly). */
#define TRIM_AFTER ((size_t)16 << 20)
#define CONN_FOOTPRINT ((size_t)16 << 10)
/*
 * A request may decode to at most this many times its wire size, plus
 * the slack (protobuf-c makes a small allocation per field: 4 MiB of
 * two-byte unknown fields decoded to 180 MB). The kubelet's requests
 * are a few hundred bytes, far inside the slack.
 */
#define DECODE_FACTOR 16
#define DECODE_SLACK ((size_t)64 << 10)
/* What malloc adds to each allocation, roughly. */
#define MALLOC_OVERHEAD 16
#define NEVER INT64_MAX

static void conn_destroy(struct conn *conn);
static void conn_calm(struct conn *conn, uint32_t code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* ---- bookkeeping: eviction order, waits, output to flush ---- */

void
conn_touch(struct conn *conn)
{
	if (conn->dirty || conn->dead)
		return;
	conn->dirty = true;
	TAILQ_INSERT_TAIL(&conn->server->dirty, conn, dirty_link);
}

/* A request dispatched or our DATA sent: last in line to be evicted. */
static void
conn_progress(struct conn *conn)
{
	struct grpc_server *server = conn->server;

	if (conn->progressed && TAILQ_LAST(&server->ranked, conn_queue) ==
	    conn)
		return;   /* already last in line */
	TAILQ_REMOVE(conn->progressed ? &server->ranked : &server->fresh, conn,
	    rank_link);
	conn->progressed = true;
	TAILQ_INSERT_TAIL(&server->ranked, conn, rank_link);
}

/* The connection to send away first: never progressed, else stalest. */
static struct conn *
stalest(struct grpc_server *server)
{
	struct conn *conn = TAILQ_FIRST(&server->fresh);

	return conn != NULL ? conn : TAILQ_FIRST(&server->ranked);
}

static int64_t
wait_timeout(const struct grpc_server *server, enum conn_wait wait)
{
	return wait == CONN_WAIT_PREFACE ? server->opts.preface_timeout_ms :
	    server->opts.idle_timeout_ms;
}

static struct conn_queue *
wait_list(struct grpc_server *server, enum conn_wait wait)
{
	return wait == CONN_WAIT_PREFACE ? &server->preface_wait :
	    &server->idle_wait;
}

/* The sweep runs at |at_ms| at the latest. */
static void
sweep_by(struct grpc_server *server, int64_t at_ms)
{
	int64_t delay;

	if (server->in_sweep || at_ms >= server->sweep_at_ms)
		return;   /* a sweep in progress computes its own next run */
	server->sweep_at_ms = at_ms;
	delay = at_ms - loop_now_ms();
	loop_timer_reset(server->loop, server->sweep, delay > 0 ? delay : 0);
}

/* Starts waiting for |wait| (or stops waiting, with CONN_WAIT_NONE). */
static void
conn_wait(struct conn *conn, enum conn_wait wait)
{
	struct grpc_server *server = conn->server;

	if (conn->wait != CONN_WAIT_NONE)
		TAILQ_REMOVE(wait_list(server, conn->wait), conn, wait_link);
	conn->wait = CONN_WAIT_NONE;
	if (wait == CONN_WAIT_NONE || wait_timeout(server, wait) < 0)
		return;
	conn->wait = wait;
	conn->wait_since_ms = loop_now_ms();
	TAILQ_INSERT_TAIL(wait_list(server, wait), conn, wait_link);
	sweep_by(server, conn->wait_since_ms + wait_timeout(server, wait));
}

void
conn_call_added(struct conn *conn, struct grpc_call *call)
{
	struct grpc_server *server = conn->server;

	conn->ncalls++;
	if (conn->wait == CONN_WAIT_IDLE)
		conn_wait(conn, CONN_WAIT_NONE);
	call->opened_ms = loop_now_ms();
	if (server->opts.request_timeout_ms < 0)
		return;
	call->in_requests = true;
	TAILQ_INSERT_TAIL(&server->requests, call, req_link);
	sweep_by(server, call->opened_ms + server->opts.request_timeout_ms);
}

/* The request is whole (or answered): its timeout no longer runs. */
static void
call_request_done(struct grpc_call *call)
{
	if (!call->in_requests)
		return;
	call->in_requests = false;
	TAILQ_REMOVE(&call->conn->server->requests, call, req_link);
}

void
conn_call_removed(struct conn *conn, struct grpc_call *call)
{
	call_request_done(call);
	grpc_reader_reset(&call->reader);
	call_account_partial(call);
	conn->ncalls--;
	if (conn->ncalls == 0 && conn->preface_done && !conn->dead &&
	    !conn->closing)
		conn_wait(conn, CONN_WAIT_IDLE);
}

void
server_freed(struct grpc_server *server, size_t bytes)
{
	server->trim_debt += bytes;
}

/* Gives freed heap back to the system once enough of it was freed. */
static void
maybe_trim(struct grpc_server *server)
{
	if (server->trim_debt < TRIM_AFTER)
		return;
	server->trim_debt = 0;
	server->stats.trims++;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* ---- partial messages ---- */

void
call_account_partial(struct grpc_call *call)
{
	struct conn *conn = call->conn;
	struct grpc_server *server = conn->server;
	size_t now = (call->reader.msg != NULL ? call->reader.msg_len : 0) +
	    (call->request != NULL ? call->decoded : 0);

	if (now == call->partial)
		return;
	conn->partial = conn->partial - call->partial + now;
	server->partial_total = server->partial_total - call->partial + now;
	server->stats.partial_bytes = server->partial_total;
	if (now < call->partial)
		server_freed(server, call->partial - now);
	call->partial = now;
}

/* Lets go of |call|'s unfinished message and undispatched request; the
 * rest of its body is ignored. */
static void
call_drop_request(struct grpc_call *call)
{
	grpc_reader_reset(&call->reader);
	call->reader.failed = true;   /* takes nothing more */
	if (call->request != NULL)
		protobuf_c_message_free_unpacked(call->request,
		    gdp_protobuf_allocator());
	call->request = NULL;
	call_account_partial(call);
}

static void
conn_drop_partials(struct conn *conn)
{
	struct grpc_call *call;

	LIST_FOREACH(call, &conn->calls, link)
		call_drop_request(call);
}

static struct conn *
biggest_partial(struct grpc_server *server)
{
	struct conn *conn, *big = NULL;

	LIST_FOREACH(conn, &server->conns, link)
		if (!conn->closing && !conn->dead &&
		    (big == NULL || conn->partial > big->partial))
			big = conn;
	return big;
}

/* After |conn| buffered more: GOAWAY past a limit (see the top). */
static void
check_partial_limits(struct conn *conn)
{
	struct grpc_server *server = conn->server;
	struct conn *big;

	if (conn->partial > server->opts.max_partial_per_conn) {
		server->stats.partial_calmed++;
		conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "unfinished request "
		    "messages over %zu bytes on one connection",
		    server->opts.max_partial_per_conn);
		return;
	}
	while (server->partial_total > server->opts.max_partial_total &&
	    (big = biggest_partial(server)) != NULL && big->partial > 0) {
		server->stats.partial_calmed++;
		conn_calm(big, NGHTTP2_ENHANCE_YOUR_CALM, "unfinished request "
		    "messages over %zu bytes on all connections, this one "
		    "holding the most", server->opts.max_partial_total);
	}
}

/* ---- requests: checks and dispatch ---- */

/* All request headers are in: answer bad requests, or get ready. */
static void
check_request_headers(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	char msg[512];

	call->headers_done = true;
	if (call->headers_too_large) {
		server->stats.headers_too_large++;
		call_request_done(call);
		call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: header list size over the limit (%u bytes)",
		    server->opts.max_header_list);
		return;
	}
	switch (grpc_request_check(&call->head, server->methods,
	    server->nmethods, msg, sizeof(msg))) {
	case GRPC_REQUEST_RESET:
		call->responded = true;
		call_reset(call, NGHTTP2_PROTOCOL_ERROR);
		return;
	case GRPC_REQUEST_BAD_CONTENT_TYPE:
		call_respond_early(call, "415", GRPC_INVALID_ARGUMENT, msg);
		return;
	case GRPC_REQUEST_UNKNOWN_PATH:
	case GRPC_REQUEST_COMPRESSED:
		call_respond_early(call, "200", GRPC_UNIMPLEMENTED, msg);
		return;
	case GRPC_REQUEST_OK:
		break;
	}
	call->method = call->head.method;
	/* Never a call without the deadline its client asked for. */
	if (call->head.timeout_ns > 0 &&
	    call_arm_deadline(call, call->head.timeout_ns) < 0)
		call_respond_early(call, "200", GRPC_RESOURCE_EXHAUSTED,
		    "grpc: out of memory for the call's deadline");
}

/* protobuf-c's allocator while a request decodes: counts, and refuses
 * past the budget. Freed memory goes back through gdp_free() as usual. */
struct decode_budget {
	size_t used;
	size_t max;
	bool refused;
};

static void *
budget_alloc(void *data, size_t size)
{
	struct decode_budget *b = data;

	if (size > b->max || b->used + MALLOC_OVERHEAD > b->max - size) {
		b->refused = true;
		return NULL;
	}
	b->used += size + MALLOC_OVERHEAD;
	return gdp_malloc(size);
}

static void
budget_free(void *data, void *p)
{
	gdp_free(p);
}

static int
on_request_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_call *call = arg;
	struct decode_budget b = { 0, DECODE_FACTOR * len + DECODE_SLACK,
		false };
	ProtobufCAllocator a = { budget_alloc, budget_free, &b };

	if (++call->nmsgs > 1) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: more than one request message for %s",
		    call->method->path);
		return -EPROTO;
	}
	call->request = protobuf_c_message_unpack(call->method->request, &a,
	    len, msg);
	/* Until dispatch it counts as an unfinished request. */
	call->decoded = b.used;
	if (call->request == NULL)   /* protobuf-c freed what it made */
		server_freed(call->conn->server, b.used);
	if (call->request == NULL && b.refused) {
		call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: the request for %s decodes to more than %zu bytes",
		    call->method->path, b.max);
		return -EPROTO;
	}
	if (call->request == NULL) {
		call_respond_early_fmt(call, GRPC_INTERNAL,
		    "grpc: error unmarshalling request for %s",
		    call->method->path);
		return -EPROTO;
	}
	return 0;
}

static void
feed_request(struct grpc_call *call, const uint8_t *data, size_t len)
{
	char msg[256];
	int code, rc;

	rc = grpc_reader_feed(&call->reader, data, len, on_request_message,
	    call);
	if (rc == 0) {
		call_account_partial(call);
		check_partial_limits(call->conn);
		return;
	}
	if (!call->responded) {
		code = grpc_request_body_error(rc, &call->reader, msg,
		    sizeof(msg));
		call_respond_early(call, "200", code, msg);
	}
	/* Answered: the rest of its body is ignored, so let go of it. */
	call_drop_request(call);
}

/* The client half-closed: run the handler if the request is whole. */
static void
dispatch(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	ProtobufCMessage *request;

	if (call->responded)
		return;
	if (call->nmsgs != 1 || !grpc_reader_idle(&call->reader)) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: expected one request message for %s, got %s",
		    call->method->path, call->nmsgs ? "a partial one" : "none");
		return;
	}
	request = call->request;
	call->request = NULL;
	call_account_partial(call);
	call->dispatched = true;
	server->stats.calls++;
	conn_progress(call->conn);
	call->method->handler(call, request, server->app);
	protobuf_c_message_free_unpacked(request, gdp_protobuf_allocator());
}

/* ---- nghttp2 callbacks (user_data is the connection) ---- */

static bool
is_request_headers(const nghttp2_frame *frame)
{
	return frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST;
}

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	if (!is_request_headers(frame) || conn->closing)
		return 0;   /* a connection going away takes no new call */
	/* On failure nghttp2 resets the stream (INTERNAL_ERROR). */
	call = call_new(conn, frame->hd.stream_id);
	if (call == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id,
	    call) != 0) {
		call_free(call);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	if (!is_request_headers(frame))
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	if (call == NULL || call->headers_too_large)
		return 0;
	call->header_bytes += namelen + valuelen + 32;   /* RFC 9113 6.5.2 */
	if (call->header_bytes > conn->server->opts.max_header_list) {
		call->headers_too_large = true;
		return 0;
	}
	if (grpc_request_head_add(&call->head, conn->server->methods,
	    conn->server->nmethods, name, namelen, value, valuelen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The client's preface and first SETTINGS are in. */
static void
conn_preface_done(struct conn *conn)
{
	conn->preface_done = true;
	conn_wait(conn, conn->ncalls == 0 ? CONN_WAIT_IDLE : CONN_WAIT_NONE);
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	if (frame->hd.type == NGHTTP2_SETTINGS && !conn->preface_done &&
	    !conn->closing)
		conn_preface_done(conn);
	if ((frame->hd.type != NGHTTP2_HEADERS &&
	    frame->hd.type != NGHTTP2_DATA) || conn->closing)
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	if (call == NULL)
		return 0;
	if (is_request_headers(frame))
		check_request_headers(call);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		call->remote_closed = true;
		call_request_done(call);
		dispatch(call);
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call != NULL && !call->responded && !call->dispatched &&
	    !conn->closing)
		feed_request(call, data, len);
	return 0;
}

static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct grpc_call *call;

	if (frame->hd.type == NGHTTP2_DATA)
		conn_progress(user_data);   /* the client takes our output */
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	/*
	 * Trailers went out before the client finished: reset, politely
	 * (CANCEL after a deadline, as grpc core does). If the reset cannot
	 * be queued the client still has its status; the stream then waits
	 * for the client's END_STREAM or for the connection to go.
	 */
	if (call != NULL && !call->remote_closed)
		(void)nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, call->deadline_hit ? NGHTTP2_CANCEL :
		    NGHTTP2_NO_ERROR);
	return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id,
    uint32_t error_code, void *user_data)
{
	struct grpc_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call == NULL)
		return 0;
	call_stream_closed(call, error_code);
	call_free(call);
	return 0;
}

static int
make_callbacks(nghttp2_session_callbacks **out)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    on_stream_close);
	*out = cb;
	return 0;
}

/* ---- connections ---- */

static void
conn_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *conn = arg;
	int rc = 0;

	if (events & (LOOP_READ | LOOP_HUP))
		rc = h2conn_read(&conn->h2);
	if (rc == 0 && !conn->dead)
		rc = h2conn_flush(&conn->h2);
	if (rc < 0 || conn->dead || conn->closing ||
	    h2conn_finished(&conn->h2))
		conn_destroy(conn);
}

static void
conn_destroy(struct conn *conn)
{
	struct grpc_server *server = conn->server;
	enum grpc_close_reason reason = server->shutting_down ?
	    GRPC_CLOSE_SHUTDOWN : GRPC_CLOSE_PEER_GONE;
	struct grpc_call *call;

	/* Close callbacks may send on other calls of this connection:
	 * being dead, it takes nothing more. */
	conn->dead = true;
	while ((call = LIST_FIRST(&conn->calls)) != NULL) {
		call_notify_closed(call, reason);
		call_free(call);
	}
	conn_wait(conn, CONN_WAIT_NONE);
	if (conn->dirty)
		TAILQ_REMOVE(&server->dirty, conn, dirty_link);
	TAILQ_REMOVE(conn->progressed ? &server->ranked : &server->fresh, conn,
	    rank_link);
	h2conn_close(&conn->h2);
	LIST_REMOVE(conn, link);
	server->stats.conns_open--;
	server_freed(server, CONN_FOOTPRINT);
	gdp_free(conn);
}

/*
 * Tells the peer why with GOAWAY(|code|) and a debug text, lets go of
 * what it buffered, and closes the connection after a last flush. Safe
 * inside the connection's nghttp2 callbacks; if the GOAWAY cannot be
 * queued the connection just closes.
 */
static void
conn_calm(struct conn *conn, uint32_t code, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	int n;

	if (conn->closing || conn->dead)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)nghttp2_submit_goaway(conn->h2.session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(conn->h2.session), code,
	    (const uint8_t *)why, n < 0 ? 0 : strlen(why));
	conn->closing = true;
	conn_wait(conn, CONN_WAIT_NONE);
	conn_drop_partials(conn);
	conn_touch(conn);
}

/* Sends |conn| away now, to make room (not from its own callbacks). */
static void
conn_evict(struct conn *conn, const char *why)
{
	conn->server->stats.conns_evicted++;
	conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "%s", why);
	(void)h2conn_flush(&conn->h2);
	conn_destroy(conn);
}

static int
conn_settings(struct grpc_server *server, nghttp2_session *session)
{
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		  server->opts.max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  server->opts.max_header_list },
	};

	/*
	 * No SETTINGS_NO_RFC7540_PRIORITIES: with it, nghttp2 1.52 leaves a
	 * DATA item attached to its stream when its scheduler queue cannot
	 * grow (an allocation failure inside nghttp2_submit_data) and frees
	 * it twice later; test_server_faults meets it. PRIORITY frames stay
	 * cheap anyway: nghttp2 keeps at most max_concurrent_streams idle
	 * streams for them, so each costs bounded work (docs/grpc.md).
	 */

	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
	    sizeof(settings) / sizeof(settings[0])) != 0 ||
	    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE,
	    0, CONN_WINDOW) != 0)
		return -ENOMEM;
	return 0;
}

static int
conn_start(struct grpc_server *server, int fd)
{
	nghttp2_session *session;
	struct conn *conn;
	struct conn *victim;
	int rc = -ENOMEM;

	if (server->stats.conns_open >= server->opts.max_connections &&
	    (victim = stalest(server)) != NULL)
		conn_evict(victim, "too many connections: this one made no "
		    "progress for the longest");
	if ((conn = gdp_calloc(1, sizeof(*conn))) == NULL)
		goto out_close_fd;
	conn->server = server;
	LIST_INIT(&conn->calls);
	/* Only allocation can fail here (or nothing: the rest is ours). */
	if (nghttp2_session_server_new3(&session, server->callbacks, conn,
	    server->option, gdp_nghttp2_mem()) != 0)
		goto out_free_conn;
	if (conn_settings(server, session) < 0)
		goto out_del_session;
	rc = h2conn_init(&conn->h2, server->loop, fd, session, conn_io, conn);
	if (rc < 0)
		goto out_del_session;
	LIST_INSERT_HEAD(&server->conns, conn, link);
	TAILQ_INSERT_TAIL(&server->fresh, conn, rank_link);
	server->stats.conns_open++;
	server->stats.conns_total++;
	conn_wait(conn, CONN_WAIT_PREFACE);
	/* Our SETTINGS go first: grpc-go's client waits for them. A socket
	 * that fails already is a connection that closed at once. */
	if (h2conn_flush(&conn->h2) < 0)
		conn_destroy(conn);
	return 0;

out_del_session:
	nghttp2_session_del(session);
out_free_conn:
	gdp_free(conn);
out_close_fd:
	close(fd);
	return rc;
}

/* Before sleep: flushes the connections with output, and only those. */
static void
flush_all(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	struct conn *conn;

	while ((conn = TAILQ_FIRST(&server->dirty)) != NULL) {
		TAILQ_REMOVE(&server->dirty, conn, dirty_link);
		conn->dirty = false;
		server->stats.flush_visits++;
		if (conn->dead || h2conn_flush(&conn->h2) < 0 ||
		    conn->closing || h2conn_finished(&conn->h2))
			conn_destroy(conn);
	}
	maybe_trim(server);
}

/* ---- timeouts ---- */

static void
request_timed_out(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;

	server->stats.request_timeouts++;
	if (!call->headers_done) {
		/* A header block in progress holds the whole connection. */
		conn_calm(call->conn, NGHTTP2_ENHANCE_YOUR_CALM, "request "
		    "headers not finished within %lld ms",
		    (long long)server->opts.request_timeout_ms);
		return;
	}
	call_drop_request(call);
	call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED, "grpc: the "
	    "request was not finished within the server's request timeout "
	    "(%lld ms)", (long long)server->opts.request_timeout_ms);
}

/* Ends the expired waits and requests; returns when the next one is. */
static int64_t
sweep_lists(struct grpc_server *server, int64_t now)
{
	int64_t next = NEVER, pt = server->opts.preface_timeout_ms,
	    it = server->opts.idle_timeout_ms,
	    rt = server->opts.request_timeout_ms;
	struct grpc_call *call;
	struct conn *conn;

	while ((conn = TAILQ_FIRST(&server->preface_wait)) != NULL &&
	    conn->wait_since_ms + pt <= now) {
		conn_wait(conn, CONN_WAIT_NONE);
		server->stats.preface_timeouts++;
		conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "no HTTP/2 preface "
		    "and SETTINGS within %lld ms", (long long)pt);
	}
	if (conn != NULL)
		next = conn->wait_since_ms + pt;
	while ((conn = TAILQ_FIRST(&server->idle_wait)) != NULL &&
	    conn->wait_since_ms + it <= now) {
		conn_wait(conn, CONN_WAIT_NONE);
		server->stats.idle_timeouts++;
		conn_calm(conn, NGHTTP2_NO_ERROR, "idle for %lld ms",
		    (long long)it);
	}
	if (conn != NULL && conn->wait_since_ms + it < next)
		next = conn->wait_since_ms + it;
	while ((call = TAILQ_FIRST(&server->requests)) != NULL &&
	    call->opened_ms + rt <= now) {
		call_request_done(call);
		if (!call->responded && !call->conn->closing)
			request_timed_out(call);
	}
	if (call != NULL && call->opened_ms + rt < next)
		next = call->opened_ms + rt;
	return next;
}

static int64_t
on_sweep(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	int64_t now = loop_now_ms(), next;

	server->in_sweep = true;
	next = sweep_lists(server, now);
	server->in_sweep = false;
	server->sweep_at_ms = next;
	if (next == NEVER)
		return LOOP_MAX_DELAY_MS;
	return next > now ? next - now : 0;
}

/* ---- accepting ---- */

/* The listener stops being polled for a while (see the top). */
static void
accept_pause(struct grpc_server *server, int err)
{
	server->accept_paused = true;
	server->stats.accept_pauses++;
	(void)loop_mod_fd(server->loop, server->listen_fd, 0);
	loop_timer_reset(server->loop, server->accept_rest,
	    server->accept_rest_ms);
	if (server->accept_rest_ms < ACCEPT_REST_MAX_MS)
		server->accept_rest_ms *= 2;
	if (server->accept_rest_ms > ACCEPT_REST_MAX_MS)
		server->accept_rest_ms = ACCEPT_REST_MAX_MS;
	if (!server->accept_told && server->opts.on_event != NULL)
		server->opts.on_event(GRPC_SERVER_ACCEPT_PAUSED, err,
		    server->opts.event_arg);
	server->accept_told = true;
}

static int64_t
on_accept_rest(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;

	if (server->accept_paused && server->listen_fd >= 0 &&
	    loop_mod_fd(loop, server->listen_fd, LOOP_READ) == 0)
		server->accept_paused = false;
	else if (server->accept_paused && server->listen_fd >= 0)
		return server->accept_rest_ms;   /* try again later */
	return LOOP_MAX_DELAY_MS;
}

static bool
out_of_fds(int err)
{
	return err == EMFILE || err == ENFILE;
}

/* accept(2) meets EMFILE before it looks for a client: is one waiting? */
static bool
client_waiting(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void
on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct grpc_server *server = arg;
	bool evicted = false;
	struct conn *victim;

	for (int i = 0; i < 64 && !server->accept_paused; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int err = errno;

		if (cfd < 0 && (err == EINTR || err == ECONNABORTED))
			continue;
		if (cfd < 0 && (err == EAGAIN || err == EWOULDBLOCK))
			return;
		if (cfd < 0 && out_of_fds(err) && !client_waiting(fd))
			return;
		if (cfd < 0 && out_of_fds(err) && !evicted &&
		    (victim = stalest(server)) != NULL) {
			/* Make room: the newcomer may be the kubelet. */
			conn_evict(victim, "out of file descriptors: this "
			    "connection made no progress for the longest");
			evicted = true;
			continue;
		}
		if (cfd < 0) {
			accept_pause(server, err);
			return;
		}
		evicted = false;
		server->accept_told = false;
		server->accept_rest_ms = ACCEPT_REST_MIN_MS;
		/* A failure closed |cfd|: that client sees EOF and
		 * reconnects; nothing else is owed to it. */
		(void)conn_start(server, cfd);
	}
}

/* ---- server ---- */

/* Fills in the defaults for what |opts| leaves at 0. */
static void
set_options(struct grpc_server_options *o,
    const struct grpc_server_options *opts)
{
	if (opts != NULL)
		*o = *opts;
#define DEFAULT(field, value) do { if (o->field == 0) o->field = (value); \
	} while (0)
	DEFAULT(max_recv_message, GRPC_DEFAULT_MAX_MESSAGE);
	DEFAULT(max_stream_queue, DEFAULT_MAX_STREAM_QUEUE);
	DEFAULT(max_concurrent_streams, DEFAULT_MAX_CONCURRENT_STREAMS);
	DEFAULT(max_connections, DEFAULT_MAX_CONNECTIONS);
	DEFAULT(max_partial_per_conn, DEFAULT_MAX_PARTIAL_PER_CONN);
	DEFAULT(max_partial_total, DEFAULT_MAX_PARTIAL_TOTAL);
	DEFAULT(max_conn_queue, DEFAULT_MAX_CONN_QUEUE);
	DEFAULT(max_header_list, DEFAULT_MAX_HEADER_LIST);
	DEFAULT(preface_timeout_ms, DEFAULT_PREFACE_TIMEOUT_MS);
	DEFAULT(request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
	DEFAULT(idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS);
#undef DEFAULT
}

struct grpc_server *
grpc_server_new(struct loop *loop, const struct grpc_method *methods,
    size_t n, void *app, const struct grpc_server_options *opts)
{
	struct grpc_server *server = gdp_calloc(1, sizeof(*server));

	if (server == NULL)
		return NULL;
	server->loop = loop;
	server->methods = methods;
	server->nmethods = n;
	server->app = app;
	server->listen_fd = -1;
	LIST_INIT(&server->conns);
	TAILQ_INIT(&server->fresh);
	TAILQ_INIT(&server->ranked);
	TAILQ_INIT(&server->preface_wait);
	TAILQ_INIT(&server->idle_wait);
	TAILQ_INIT(&server->dirty);
	TAILQ_INIT(&server->requests);
	set_options(&server->opts, opts);
	server->sweep_at_ms = NEVER;
	server->accept_rest_ms = ACCEPT_REST_MIN_MS;
	if (make_callbacks(&server->callbacks) < 0 ||
	    nghttp2_option_new(&server->option) != 0)
		goto out_free_server;
	nghttp2_option_set_no_http_messaging(server->option, 1);
	nghttp2_option_set_no_closed_streams(server->option, 1);
	/* Made now, so that no limit ever waits on an allocation. */
	server->sweep = loop_add_timer(loop, LOOP_MAX_DELAY_MS, on_sweep,
	    server);
	server->accept_rest = loop_add_timer(loop, LOOP_MAX_DELAY_MS,
	    on_accept_rest, server);
	if (server->sweep == NULL || server->accept_rest == NULL)
		goto out_free_server;
	if (loop_add_before_sleep(loop, flush_all, server) < 0)
		goto out_free_server;
	server->hooked = true;
	return server;

out_free_server:
	grpc_server_free(server);
	errno = ENOMEM;
	return NULL;
}

int
grpc_server_listen(struct grpc_server *server, const char *path)
{
	char *copy;
	int fd, rc;

	fd = grpc_listen_unix(path);
	if (fd < 0)
		return fd;
	if ((copy = gdp_strdup(path)) == NULL) {
		rc = -ENOMEM;
		goto out_unlink;
	}
	rc = loop_add_fd(server->loop, fd, LOOP_READ, on_accept, server);
	if (rc < 0)
		goto out_free_copy;
	gdp_free(server->path);
	server->path = copy;
	server->listen_fd = fd;
	return 0;

out_free_copy:
	gdp_free(copy);
out_unlink:
	(void)unlink(path);
	close(fd);
	return rc;
}

int
grpc_server_adopt(struct grpc_server *server, int fd)
{
	return conn_start(server, fd);
}

static void
stop_listening(struct grpc_server *server)
{
	if (server->listen_fd < 0)
		return;
	loop_del_fd(server->loop, server->listen_fd);
	close(server->listen_fd);
	server->listen_fd = -1;
	if (server->path != NULL)
		unlink(server->path);
}

void
grpc_server_shutdown(struct grpc_server *server)
{
	struct conn *conn, *next;

	server->shutting_down = true;
	stop_listening(server);
	for (conn = LIST_FIRST(&server->conns); conn != NULL; conn = next) {
		next = LIST_NEXT(conn, link);
		/* Best effort: the connection closes either way, and its
		 * calls get GRPC_CLOSE_SHUTDOWN. */
		(void)nghttp2_submit_goaway(conn->h2.session,
		    NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(conn->h2.session),
		    NGHTTP2_NO_ERROR, NULL, 0);
		(void)h2conn_flush(&conn->h2);
		conn_destroy(conn);
	}
}

void
grpc_server_free(struct grpc_server *server)
{
	struct conn *conn, *next;

	if (server == NULL)
		return;
	server->shutting_down = true;
	for (conn = LIST_FIRST(&server->conns); conn != NULL; conn = next) {
		next = LIST_NEXT(conn, link);
		conn_destroy(conn);
	}
	stop_listening(server);
	if (server->hooked)
		loop_del_before_sleep(server->loop, flush_all, server);
	if (server->sweep != NULL)
		loop_cancel_timer(server->loop, server->sweep);
	if (server->accept_rest != NULL)
		loop_cancel_timer(server->loop, server->accept_rest);
	nghttp2_session_callbacks_del(server->callbacks);
	nghttp2_option_del(server->option);
	gdp_free(server->path);
	gdp_free(server);
}

const struct grpc_server_stats *
grpc_server_stats(const struct grpc_server *server)
{
	return &server->stats;
}

void
grpc_server_forget_path(struct grpc_server *server)
{
	gdp_free(server->path);
	server->path = NULL;
}

const char *
grpc_server_path(const struct grpc_server *server)
{
	return server->path;
}

