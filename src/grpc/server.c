/*
 * server.c: the gRPC server (see server.h for the contract).
 *
 * Layout: listening and accepting; the connection (an h2conn plus its
 * calls); the nghttp2 callbacks that turn frames into calls; the call's
 * output queue and the data provider that feeds it to nghttp2; the public
 * call API.
 *
 * HTTP messaging checks in nghttp2 are off, because they reject the
 * :authority values older kubelets send (a raw socket path, an empty one,
 * or none); what gRPC needs is checked here instead. Closed streams are
 * not retained (nghttp2_option_set_no_closed_streams), which keeps memory
 * flat under load.
 *
 * Nothing is destroyed inside an nghttp2 callback: a connection that fails
 * there is marked dead and reaped by the loop's before-sleep hook or at
 * the end of its own I/O callback.
 */
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "grpc/h2conn.h"
#include "util/alloc.h"

#define DEFAULT_MAX_STREAM_QUEUE ((size_t)8 << 20)
#define DEFAULT_MAX_CONCURRENT_STREAMS 1024
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (4 << 20)
#define DEADLINE_SLACK_NS (50 * 1000000LL)

struct outmsg {
	struct outmsg *next;
	size_t len;
	size_t off;
	uint8_t data[];
};

struct conn;

struct grpc_call {
	struct conn *conn;
	struct grpc_call *prev, *next;   /* in conn->calls */
	int32_t stream_id;
	const struct grpc_method *method;
	struct grpc_reader reader;
	ProtobufCMessage *request;       /* decoded, until dispatch */
	unsigned nmsgs;

	/* Request checks, gathered while headers arrive. */
	bool is_post;
	bool path_seen;                  /* the first :path counts */
	bool has_path;
	bool has_content_type;
	bool content_type_ok;
	bool bad_encoding;
	char *content_type;              /* only when it is wrong */
	char *path;                      /* only when it is unknown */
	int64_t timeout_ns;              /* 0: none */
	int64_t deadline_ns;             /* loop_now_ns() clock; 0: none */

	bool remote_closed;              /* client half-closed */
	bool responded;                  /* an early error answered it */
	bool dispatched;                 /* the application holds it */
	bool headers_sent;
	bool finished;                   /* status decided */
	bool deferred;                   /* data provider waiting */
	bool deadline_hit;
	int status;
	char *status_msg;                /* percent-encoded, or NULL */

	struct outmsg *head, *tail;
	size_t queued;
	size_t sent_msgs;
	struct loop_timer *deadline;
	grpc_close_cb close_cb;
	void *close_arg;
	void *data;
};

struct conn {
	struct grpc_server *server;
	struct h2conn h2;
	struct conn *prev, *next;
	struct grpc_call *calls;
	bool dead;
};

struct grpc_server {
	struct loop *loop;
	const struct grpc_method *methods;
	size_t nmethods;
	void *app;
	struct grpc_server_options opts;
	struct grpc_server_stats stats;
	nghttp2_session_callbacks *callbacks;
	nghttp2_option *option;
	int listen_fd;
	char *path;
	struct conn *conns;
	bool shutting_down;
	bool hooked;
};

static void call_kick(struct grpc_call *call);
static void conn_destroy(struct conn *conn);

/* ---- calls: lifetime ---- */

static struct grpc_call *
call_new(struct conn *conn, int32_t stream_id)
{
	struct grpc_call *call = gdp_calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->conn = conn;
	call->stream_id = stream_id;
	grpc_reader_init(&call->reader, conn->server->opts.max_recv_message);
	call->next = conn->calls;
	if (conn->calls != NULL)
		conn->calls->prev = call;
	conn->calls = call;
	return call;
}

static void
call_drop_queue(struct grpc_call *call)
{
	struct grpc_server_stats *st = &call->conn->server->stats;

	while (call->head != NULL) {
		struct outmsg *m = call->head;

		call->head = m->next;
		gdp_free(m);
	}
	call->tail = NULL;
	st->queued_bytes -= call->queued;
	call->queued = 0;
}

/* Tells the application (if it holds the call) that the call is gone. */
static void
call_notify_closed(struct grpc_call *call, enum grpc_close_reason reason)
{
	if (!call->dispatched || call->finished)
		return;
	call->finished = true;
	if (reason == GRPC_CLOSE_PEER_GONE)
		call->conn->server->stats.closed_by_peer++;
	if (call->close_cb != NULL)
		call->close_cb(call, reason, call->close_arg);
}

static void
call_free(struct grpc_call *call)
{
	struct conn *conn = call->conn;

	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		conn->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	if (call->deadline != NULL)
		loop_cancel_timer(conn->server->loop, call->deadline);
	call_drop_queue(call);
	grpc_reader_reset(&call->reader);
	if (call->request != NULL)
		protobuf_c_message_free_unpacked(call->request,
		    gdp_protobuf_allocator());
	gdp_free(call->content_type);
	gdp_free(call->path);
	gdp_free(call->status_msg);
	gdp_free(call);
}

/* ---- calls: answering ---- */

#define NV(name, value) { (uint8_t *)(name), (uint8_t *)(value), \
	sizeof(name) - 1, strlen(value), NGHTTP2_NV_FLAG_NONE }

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

static int
submit_trailers(struct grpc_call *call, bool with_headers,
    const char *http_status)
{
	char code[12];
	nghttp2_nv nva[5];
	size_t n = 0;
	nghttp2_session *session = call->conn->h2.session;

	format_code(code, call->status);
	if (with_headers) {
		nghttp2_nv st = NV(":status", http_status);
		nghttp2_nv ct = NV("content-type", "application/grpc");

		nva[n++] = st;
		nva[n++] = ct;
	}
	nghttp2_nv gs = NV("grpc-status", code);

	nva[n++] = gs;
	if (call->status_msg != NULL && call->status_msg[0] != '\0') {
		nghttp2_nv gm = NV("grpc-message", call->status_msg);

		nva[n++] = gm;
	}
	if (with_headers)
		return nghttp2_submit_response(session, call->stream_id, nva,
		    n, NULL);
	return nghttp2_submit_trailer(session, call->stream_id, nva, n);
}

static ssize_t
read_queue(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
    void *user_data)
{
	struct grpc_call *call = source->ptr;
	struct grpc_server_stats *st = &call->conn->server->stats;
	size_t copied = 0;

	while (call->head != NULL && copied < length) {
		struct outmsg *m = call->head;
		size_t n = m->len - m->off;

		if (n > length - copied)
			n = length - copied;
		memcpy(buf + copied, m->data + m->off, n);
		m->off += n;
		copied += n;
		call->queued -= n;
		st->queued_bytes -= n;
		if (m->off == m->len) {
			call->head = m->next;
			if (call->head == NULL)
				call->tail = NULL;
			gdp_free(m);
		}
	}
	if (call->head == NULL && call->finished) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF |
		    NGHTTP2_DATA_FLAG_NO_END_STREAM;
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

/* Hands whatever the call has to nghttp2; the loop flushes it. */
static void
call_kick(struct grpc_call *call)
{
	nghttp2_session *session = call->conn->h2.session;

	if (call->conn->dead)
		return;
	if (!call->headers_sent) {
		nghttp2_nv nva[] = {
			NV(":status", "200"),
			NV("content-type", "application/grpc"),
		};
		nghttp2_data_provider dp = { .source.ptr = call,
			.read_callback = read_queue };

		call->headers_sent = true;
		if (call->finished && call->head == NULL) {
			/* Trailers-Only. */
			if (submit_trailers(call, true, "200") != 0)
				call->conn->dead = true;
			return;
		}
		if (nghttp2_submit_response(session, call->stream_id, nva, 2,
		    &dp) != 0)
			call->conn->dead = true;
		return;
	}
	if (call->deferred) {
		call->deferred = false;
		nghttp2_session_resume_data(session, call->stream_id);
	}
}

static int
set_status(struct grpc_call *call, int code, const char *message)
{
	char *enc = NULL;

	if (message != NULL && message[0] != '\0' &&
	    (enc = grpc_percent_encode(message, strlen(message))) == NULL)
		return -ENOMEM;
	gdp_free(call->status_msg);
	call->status_msg = enc;
	call->status = code;
	call->finished = true;
	return 0;
}

/* Answers a call the application never saw (a bad request). */
static void
respond_early(struct grpc_call *call, const char *http_status, int code,
    const char *message)
{
	if (call->responded || call->headers_sent)
		return;
	call->responded = true;
	if (set_status(call, code, message) < 0) {
		nghttp2_submit_rst_stream(call->conn->h2.session,
		    NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	call->headers_sent = true;
	if (submit_trailers(call, true, http_status) != 0)
		call->conn->dead = true;
}

static void
respond_early_fmt(struct grpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
respond_early_fmt(struct grpc_call *call, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_early(call, "200", code, msg);
}

/* ---- requests: checks and dispatch ---- */

static const struct grpc_method *
find_method(const struct grpc_server *server, const uint8_t *path,
    size_t len)
{
	for (size_t i = 0; i < server->nmethods; i++) {
		const char *p = server->methods[i].path;

		if (strlen(p) == len && memcmp(p, path, len) == 0)
			return &server->methods[i];
	}
	return NULL;
}

static bool
service_known(const struct grpc_server *server, const char *svc,
    size_t len)
{
	for (size_t i = 0; i < server->nmethods; i++) {
		const char *p = server->methods[i].path + 1;

		if (strncmp(p, svc, len) == 0 && p[len] == '/')
			return true;
	}
	return false;
}

static void
reject_unknown_path(struct grpc_call *call)
{
	const char *path = call->path, *slash;

	slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (slash == NULL || slash == path + 1 || slash[1] == '\0') {
		respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "malformed method name: \"%s\"", path);
		return;
	}
	if (!service_known(call->conn->server, path + 1,
	    (size_t)(slash - path - 1))) {
		respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "unknown service %.*s", (int)(slash - path - 1), path + 1);
		return;
	}
	respond_early_fmt(call, GRPC_UNIMPLEMENTED,
	    "unknown method %s for service %.*s", slash + 1,
	    (int)(slash - path - 1), path + 1);
}

static bool
content_type_is_grpc(const uint8_t *ct, size_t len)
{
	static const char base[] = "application/grpc";
	const size_t n = sizeof(base) - 1;

	if (len < n || memcmp(ct, base, n) != 0)
		return false;
	return len == n || ct[n] == '+' || ct[n] == ';';
}

static int64_t
on_deadline(struct loop *loop, void *arg)
{
	struct grpc_call *call = arg;

	call->deadline = NULL;
	call->deadline_hit = true;
	if (call->dispatched && !call->finished)
		call->conn->server->stats.deadline_cancelled++;
	nghttp2_submit_rst_stream(call->conn->h2.session, NGHTTP2_FLAG_NONE,
	    call->stream_id, NGHTTP2_CANCEL);
	return LOOP_NOMORE;
}

/* All request headers are in: answer bad requests, or get ready. */
static void
check_request_headers(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;

	if (!call->is_post || !call->has_path) {
		call->responded = true;
		nghttp2_submit_rst_stream(call->conn->h2.session,
		    NGHTTP2_FLAG_NONE, call->stream_id,
		    NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	if (!call->content_type_ok) {
		char msg[256];

		snprintf(msg, sizeof(msg),
		    "invalid gRPC request content-type \"%s\"",
		    call->content_type ? call->content_type : "");
		respond_early(call, "415", GRPC_INVALID_ARGUMENT, msg);
		return;
	}
	if (call->method == NULL) {
		reject_unknown_path(call);
		return;
	}
	if (call->bad_encoding) {
		respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: compressed requests are not supported");
		return;
	}
	if (call->timeout_ns > 0) {
		int64_t ms = (call->timeout_ns + 999999) / 1000000;

		call->deadline_ns = loop_now_ns() + call->timeout_ns;
		call->deadline = loop_add_timer(server->loop, ms, on_deadline,
		    call);
	}
}

static int
on_request_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_call *call = arg;

	if (++call->nmsgs > 1) {
		respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: more than one request message for %s",
		    call->method->path);
		return -EPROTO;
	}
	call->request = protobuf_c_message_unpack(call->method->request,
	    gdp_protobuf_allocator(), len, msg);
	if (call->request == NULL) {
		respond_early_fmt(call, GRPC_INTERNAL,
		    "grpc: error unmarshalling request for %s",
		    call->method->path);
		return -EPROTO;
	}
	return 0;
}

static void
feed_request(struct grpc_call *call, const uint8_t *data, size_t len)
{
	int rc = grpc_reader_feed(&call->reader, data, len,
	    on_request_message, call);

	if (rc == -EMSGSIZE)
		respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: received message larger than max (%u vs. %u)",
		    call->reader.msg_len, call->reader.max);
	else if (rc == -EPROTO && !call->responded)
		respond_early_fmt(call, GRPC_INTERNAL,
		    "grpc: compressed flag set but no grpc-encoding was sent");
	else if (rc < 0 && !call->responded)
		respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: out of memory for the request message");
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
		respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: expected one request message for %s, got %s",
		    call->method->path, call->nmsgs ? "a partial one" : "none");
		return;
	}
	request = call->request;
	call->request = NULL;
	call->dispatched = true;
	server->stats.calls++;
	call->method->handler(call, request, server->app);
	protobuf_c_message_free_unpacked(request, gdp_protobuf_allocator());
}

/* ---- nghttp2 callbacks (user_data is the connection) ---- */

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = call_new(conn, frame->hd.stream_id);
	if (call == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id,
	    call);
	return 0;
}

static bool
name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user_data)
{
	struct grpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	if (call == NULL)
		return 0;
	if (name_is(name, namelen, ":method")) {
		call->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (name_is(name, namelen, ":path") && !call->path_seen) {
		call->path_seen = true;
		call->has_path = valuelen > 0;
		call->method = find_method(call->conn->server, value, valuelen);
		/* Kept only to name an unknown path in the error. */
		if (call->method == NULL && (call->path = gdp_strndup(
		    (const char *)value, valuelen)) == NULL)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (name_is(name, namelen, "content-type") &&
	    !call->has_content_type) {
		call->has_content_type = true;
		call->content_type_ok = content_type_is_grpc(value, valuelen);
		/* Kept only to name a wrong content-type in the error. */
		if (!call->content_type_ok && (call->content_type = gdp_strndup(
		    (const char *)value, valuelen)) == NULL)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (name_is(name, namelen, "grpc-timeout")) {
		int64_t ns;

		if (grpc_timeout_parse((const char *)value, valuelen, &ns) == 0)
			call->timeout_ns = ns > 0 ? ns : 1;
	} else if (name_is(name, namelen, "grpc-encoding")) {
		call->bad_encoding = !(valuelen == 8 &&
		    memcmp(value, "identity", 8) == 0);
	}
	return 0;
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct grpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS &&
	    frame->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	if (call == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		check_request_headers(call);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		call->remote_closed = true;
		dispatch(call);
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call != NULL && !call->responded && !call->dispatched)
		feed_request(call, data, len);
	return 0;
}

static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct grpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = nghttp2_session_get_stream_user_data(session,
	    frame->hd.stream_id);
	/* Trailers went out before the client finished: reset politely. */
	if (call != NULL && !call->remote_closed)
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

/*
 * A client cancels at its own deadline, usually a moment before ours (its
 * grpc-timeout was computed before the request travelled). A cancel that
 * close to the deadline is the deadline, not the client going away.
 */
static bool
client_hit_deadline(const struct grpc_call *call)
{
	int64_t slack = call->timeout_ns / 2;

	if (call->deadline_ns == 0)
		return false;
	if (slack > DEADLINE_SLACK_NS)
		slack = DEADLINE_SLACK_NS;
	return loop_now_ns() >= call->deadline_ns - slack;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id,
    uint32_t error_code, void *user_data)
{
	struct grpc_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call == NULL)
		return 0;
	if (!call->deadline_hit && error_code == NGHTTP2_CANCEL &&
	    client_hit_deadline(call)) {
		call->deadline_hit = true;
		if (call->dispatched && !call->finished)
			call->conn->server->stats.deadline_cancelled++;
	}
	call_notify_closed(call, call->deadline_hit ? GRPC_CLOSE_DEADLINE :
	    GRPC_CLOSE_PEER_GONE);
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
	if (rc < 0 || conn->dead || h2conn_finished(&conn->h2))
		conn_destroy(conn);
}

static void
conn_destroy(struct conn *conn)
{
	struct grpc_server *server = conn->server;
	enum grpc_close_reason reason = server->shutting_down ?
	    GRPC_CLOSE_SHUTDOWN : GRPC_CLOSE_PEER_GONE;
	struct grpc_call *call = conn->calls, *next;

	/* Close callbacks may send on other calls of this connection:
	 * being dead, it takes nothing more. */
	conn->dead = true;
	conn->calls = NULL;
	for (; call != NULL; call = next) {
		next = call->next;
		call->prev = call->next = NULL;
		call_notify_closed(call, reason);
		call_free(call);
	}
	h2conn_close(&conn->h2);
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		server->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	server->stats.conns_open--;
	gdp_free(conn);
}

static int
conn_start(struct grpc_server *server, int fd)
{
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		  server->opts.max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
	};
	nghttp2_session *session;
	struct conn *conn = gdp_calloc(1, sizeof(*conn));
	int rc = -ENOMEM;

	if (conn == NULL)
		goto out_close;
	conn->server = server;
	if (nghttp2_session_server_new3(&session, server->callbacks, conn,
	    server->option, gdp_nghttp2_mem()) != 0)
		goto out_free;
	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
	    2) != 0 || nghttp2_session_set_local_window_size(session,
	    NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0) {
		nghttp2_session_del(session);
		goto out_free;
	}
	rc = h2conn_init(&conn->h2, server->loop, fd, session, conn_io, conn);
	if (rc < 0) {
		nghttp2_session_del(session);
		goto out_free;
	}
	conn->next = server->conns;
	if (server->conns != NULL)
		server->conns->prev = conn;
	server->conns = conn;
	server->stats.conns_open++;
	server->stats.conns_total++;
	/* Our SETTINGS go first: grpc-go's client waits for them. */
	if (h2conn_flush(&conn->h2) < 0)
		conn_destroy(conn);
	return 0;

out_free:
	gdp_free(conn);
out_close:
	close(fd);
	return rc;
}

static void
flush_all(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	struct conn *conn, *next;

	for (conn = server->conns; conn != NULL; conn = next) {
		next = conn->next;
		if (conn->dead || h2conn_flush(&conn->h2) < 0 ||
		    h2conn_finished(&conn->h2))
			conn_destroy(conn);
	}
}

static void
on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct grpc_server *server = arg;

	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return; /* EAGAIN, or a transient error: retried on
				 * the next readable event */
		conn_start(server, cfd);
	}
}

/* ---- server ---- */

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
	if (opts != NULL)
		server->opts = *opts;
	if (server->opts.max_recv_message == 0)
		server->opts.max_recv_message = GRPC_DEFAULT_MAX_MESSAGE;
	if (server->opts.max_stream_queue == 0)
		server->opts.max_stream_queue = DEFAULT_MAX_STREAM_QUEUE;
	if (server->opts.max_concurrent_streams == 0)
		server->opts.max_concurrent_streams =
		    DEFAULT_MAX_CONCURRENT_STREAMS;
	if (make_callbacks(&server->callbacks) < 0 ||
	    nghttp2_option_new(&server->option) != 0)
		goto out_free;
	nghttp2_option_set_no_http_messaging(server->option, 1);
	nghttp2_option_set_no_closed_streams(server->option, 1);
	if (loop_add_before_sleep(loop, flush_all, server) < 0)
		goto out_free;
	server->hooked = true;
	return server;

out_free:
	grpc_server_free(server);
	errno = ENOMEM;
	return NULL;
}

int
grpc_server_listen(struct grpc_server *server, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -ENOTSOCK;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = loop_add_fd(server->loop, fd, LOOP_READ, on_accept, server);
	if (rc < 0)
		goto out_unlink;
	gdp_free(server->path);
	server->path = gdp_strdup(path);
	server->listen_fd = fd;
	return 0;

out_unlink:
	unlink(path);
out_close:
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
	for (conn = server->conns; conn != NULL; conn = next) {
		next = conn->next;
		nghttp2_submit_goaway(conn->h2.session, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(conn->h2.session),
		    NGHTTP2_NO_ERROR, NULL, 0);
		h2conn_flush(&conn->h2);
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
	for (conn = server->conns; conn != NULL; conn = next) {
		next = conn->next;
		conn_destroy(conn);
	}
	stop_listening(server);
	if (server->hooked)
		loop_del_before_sleep(server->loop, flush_all, server);
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

/* ---- the call API ---- */

int
grpc_call_send(struct grpc_call *call, const ProtobufCMessage *msg)
{
	struct grpc_server *server = call->conn->server;
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct outmsg *m;

	if (call->finished)
		return -EPIPE;
	if (len > UINT32_MAX - GRPC_PREFIX_LEN)
		return -EINVAL;
	if (call->method->kind == GRPC_METHOD_UNARY && call->sent_msgs > 0)
		return -EINVAL;
	if (call->queued > 0 &&
	    call->queued + len > server->opts.max_stream_queue)
		return -ENOBUFS;
	m = gdp_malloc(sizeof(*m) + GRPC_PREFIX_LEN + len);
	if (m == NULL)
		return -ENOMEM;
	m->next = NULL;
	m->off = 0;
	m->len = GRPC_PREFIX_LEN + len;
	grpc_prefix_write(m->data, (uint32_t)len);
	protobuf_c_message_pack(msg, m->data + GRPC_PREFIX_LEN);
	if (call->tail != NULL)
		call->tail->next = m;
	else
		call->head = m;
	call->tail = m;
	call->queued += m->len;
	call->sent_msgs++;
	server->stats.queued_bytes += m->len;
	if (call->queued > server->stats.max_queued_bytes)
		server->stats.max_queued_bytes = call->queued;
	call_kick(call);
	return 0;
}

int
grpc_call_finish(struct grpc_call *call, int code, const char *message)
{
	int rc;

	if (call->finished)
		return -EPIPE;
	rc = set_status(call, code, message);
	if (rc < 0)
		return rc;
	call_kick(call);
	return 0;
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

	if (rc < 0)
		return rc;
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
