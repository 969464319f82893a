/*
 * callbacks.c: the nghttp2 callbacks of a server session (user_data is
 * the connection). They only route frames: a new stream gets a call,
 * headers and DATA go to dispatch.c, a closed stream frees its call.
 * None destroys a connection (see conn.c).
 */
#include "server_int.h"

#include <errno.h>

static bool
is_request_headers(const nghttp2_frame *frame)
{
	return frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST;
}

/*
 * The call of |stream_id|, or NULL. A HEADERS frame and its DATA arrive
 * together, so one cached entry saves most of nghttp2's lookups; call.c's
 * call_free() drops the entry of a call it frees.
 */
static struct grpc_call *
stream_call(struct conn *conn, nghttp2_session *session, int32_t stream_id)
{
	if (stream_id != conn->last_stream) {
		conn->last_call = nghttp2_session_get_stream_user_data(session,
		    stream_id);
		conn->last_stream = stream_id;
	}
	return conn->last_call;
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
	conn->last_stream = frame->hd.stream_id;
	conn->last_call = call;
	return 0;
}

/* A header grpc_request_head_add() reads. */
static __attribute__((noinline)) int
read_header(struct conn *conn, struct grpc_call *call, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen)
{
	if (grpc_request_head_add(&call->head, &conn->server->methods, name,
	    namelen, value, valuelen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* One request header of |call|: counted, and read if it is one we read. */
static inline __attribute__((always_inline)) int
call_header(struct conn *conn, struct grpc_call *call, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen)
{
	size_t cost = namelen + valuelen + 32;   /* RFC 9113 6.5.2 */

	if (call == NULL)
		return 0;
	if (cost > call->header_room) {   /* and all after it */
		call->header_room = 0;
		call->headers_too_large = true;
		return 0;
	}
	call->header_room -= cost;
	if (!grpc_request_header_wanted(namelen))
		return 0;   /* counted above, not read */
	return read_header(conn, call, name, namelen, value, valuelen);
}

/* on_header() for a stream other than the cached one. */
static __attribute__((noinline)) int
on_header_uncached(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, struct conn *conn)
{
	struct grpc_call *call = stream_call(conn, session,
	    frame->hd.stream_id);

	return call_header(conn, call, name, namelen, value, valuelen);
}

/*
 * Called once per header, eight times per request: the common case (the
 * cached stream, a header only counted) makes no call, so that it costs
 * no register saves either.
 */
static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user_data)
{
	struct conn *conn = user_data;

	if (!is_request_headers(frame))
		return 0;
	if (frame->hd.stream_id != conn->last_stream)
		return on_header_uncached(session, frame, name, namelen,
		    value, valuelen, conn);
	return call_header(conn, conn->last_call, name, namelen, value,
	    valuelen);
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
	call = stream_call(conn, session, frame->hd.stream_id);
	if (call == NULL)
		return 0;
	if (is_request_headers(frame))
		call_headers_done(call);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		call->remote_closed = true;
		call_request_done(call);
		call_dispatch(call);
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	call = stream_call(conn, session, stream_id);
	if (call != NULL && !call->responded && !call->dispatched &&
	    !conn->closing)
		call_feed(call, data, len);
	return 0;
}

static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct conn *conn = user_data;
	struct grpc_call *call;

	if (frame->hd.type == NGHTTP2_DATA)
		conn_progress(conn);   /* the client takes our output */
	/* Only a status sent before the request ended needs a look (the
	 * common unary call has its request whole first: no lookup). */
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    conn->trailers_early == 0)
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

int
server_make_callbacks(nghttp2_session_callbacks **out)
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
