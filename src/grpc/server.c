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
 */
#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc/listen.h"
#include "util/alloc.h"

#define DEFAULT_MAX_STREAM_QUEUE ((size_t)8 << 20)
#define DEFAULT_MAX_CONCURRENT_STREAMS 1024
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (4 << 20)

static void conn_destroy(struct conn *conn);

/* ---- requests: checks and dispatch ---- */

/* All request headers are in: answer bad requests, or get ready. */
static void
check_request_headers(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	char msg[512];

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

static int
on_request_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_call *call = arg;

	if (++call->nmsgs > 1) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: more than one request message for %s",
		    call->method->path);
		return -EPROTO;
	}
	call->request = protobuf_c_message_unpack(call->method->request,
	    gdp_protobuf_allocator(), len, msg);
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
	if (rc == 0 || call->responded)
		return;
	code = grpc_request_body_error(rc, &call->reader, msg, sizeof(msg));
	call_respond_early(call, "200", code, msg);
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
	call->dispatched = true;
	server->stats.calls++;
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

	if (!is_request_headers(frame))
		return 0;
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
	if (call == NULL)
		return 0;
	if (grpc_request_head_add(&call->head, conn->server->methods,
	    conn->server->nmethods, name, namelen, value, valuelen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
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
	if (is_request_headers(frame))
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
	h2conn_close(&conn->h2);
	LIST_REMOVE(conn, link);
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
		goto out_close_fd;
	conn->server = server;
	LIST_INIT(&conn->calls);
	/* Only allocation can fail here (or nothing: the rest is ours). */
	if (nghttp2_session_server_new3(&session, server->callbacks, conn,
	    server->option, gdp_nghttp2_mem()) != 0)
		goto out_free_conn;
	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
	    2) != 0 || nghttp2_session_set_local_window_size(session,
	    NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0)
		goto out_del_session;
	rc = h2conn_init(&conn->h2, server->loop, fd, session, conn_io, conn);
	if (rc < 0)
		goto out_del_session;
	LIST_INSERT_HEAD(&server->conns, conn, link);
	server->stats.conns_open++;
	server->stats.conns_total++;
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

static void
flush_all(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	struct conn *conn, *next;

	for (conn = LIST_FIRST(&server->conns); conn != NULL; conn = next) {
		next = LIST_NEXT(conn, link);
		if (conn->dead || h2conn_flush(&conn->h2) < 0 ||
		    conn->closing ||
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
		/* A failure closed |cfd|: that client sees EOF and
		 * reconnects; nothing else is owed to it. */
		(void)conn_start(server, cfd);
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
	LIST_INIT(&server->conns);
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
		goto out_free_server;
	nghttp2_option_set_no_http_messaging(server->option, 1);
	nghttp2_option_set_no_closed_streams(server->option, 1);
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

