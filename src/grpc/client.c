/*
 * client.c: one unary gRPC call per connection (see client.h).
 *
 * A call connects, sends the preface, SETTINGS (push off), the request
 * HEADERS and one DATA frame with END_STREAM, then reads until the stream
 * closes. The result is worked out from, in order: our own failure
 * (transport, deadline, bad response), grpc-status from the trailers,
 * a non-200 HTTP status, the RST_STREAM code. The mapping of the last two
 * follows grpc-go, the kubelet's own library.
 *
 * Completion runs only from loop callbacks (I/O or timer), never from
 * inside nghttp2's callbacks, which only record what they saw.
 */
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "grpc/h2conn.h"
#include "version.h"
#include "util/alloc.h"

#define DEFAULT_USER_AGENT "gpu-device-plugin/" GDP_VERSION

struct grpc_client_call {
	struct loop *loop;
	struct h2conn h2;
	int32_t stream_id;
	uint8_t *body;                 /* prefix + encoded request */
	size_t body_len, body_off;
	const ProtobufCMessageDescriptor *response_type;
	struct grpc_reader reader;
	ProtobufCMessage *response;
	unsigned nmsgs;

	int http_status;               /* 0: none seen */
	int grpc_status;               /* -1: none seen */
	char *grpc_message;            /* raw, still percent-encoded */
	bool stream_closed;
	uint32_t rst_code;

	int local_code;                /* -1: none; else our own verdict */
	char local_msg[256];

	char path[108];                /* the socket, for messages */
	struct loop_timer *deadline;
	struct loop_timer *async_done; /* delivers an early failure */
	grpc_client_cb cb;
	void *arg;
};

static void
set_local(struct grpc_client_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_local(struct grpc_client_call *call, int code, const char *fmt, ...)
{
	va_list ap;

	if (call->local_code >= 0)
		return; /* the first failure is the one worth reporting */
	call->local_code = code;
	va_start(ap, fmt);
	vsnprintf(call->local_msg, sizeof(call->local_msg), fmt, ap);
	va_end(ap);
}

static void
call_free(struct grpc_client_call *call)
{
	if (call->deadline != NULL)
		loop_cancel_timer(call->loop, call->deadline);
	if (call->async_done != NULL)
		loop_cancel_timer(call->loop, call->async_done);
	h2conn_close(&call->h2);
	grpc_reader_reset(&call->reader);
	if (call->response != NULL)
		protobuf_c_message_free_unpacked(call->response,
		    gdp_protobuf_allocator());
	gdp_free(call->grpc_message);
	gdp_free(call->body);
	gdp_free(call);
}

/* grpc-go's mapping of a non-gRPC HTTP status. */
static int
code_from_http(int status)
{
	switch (status) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504: return GRPC_UNAVAILABLE;
	default: return GRPC_UNKNOWN;
	}
}

static int
code_from_rst(uint32_t error_code)
{
	switch (error_code) {
	case NGHTTP2_REFUSED_STREAM: return GRPC_UNAVAILABLE;
	case NGHTTP2_CANCEL: return GRPC_CANCELLED;
	case NGHTTP2_ENHANCE_YOUR_CALM:
	case NGHTTP2_FLOW_CONTROL_ERROR: return GRPC_RESOURCE_EXHAUSTED;
	case NGHTTP2_INADEQUATE_SECURITY: return GRPC_PERMISSION_DENIED;
	default: return GRPC_INTERNAL;
	}
}

/* Works out the verdict into (code, message); message is malloc'd. */
static int
verdict(struct grpc_client_call *call, char **message)
{
	char buf[256];

	if (call->local_code < 0 && call->grpc_status == GRPC_OK &&
	    call->response == NULL)
		set_local(call, GRPC_INTERNAL,
		    "server sent status OK without a response message");
	if (call->local_code >= 0) {
		*message = gdp_strdup(call->local_msg);
		return call->local_code;
	}
	if (call->grpc_status >= 0) {
		*message = call->grpc_message == NULL ? gdp_strdup("") :
		    grpc_percent_decode(call->grpc_message,
		    strlen(call->grpc_message));
		return call->grpc_status;
	}
	if (call->http_status != 0 && call->http_status != 200) {
		snprintf(buf, sizeof(buf),
		    "unexpected HTTP status code received from server: %d",
		    call->http_status);
		*message = gdp_strdup(buf);
		return code_from_http(call->http_status);
	}
	if (call->rst_code != NGHTTP2_NO_ERROR) {
		snprintf(buf, sizeof(buf), "stream reset by server: %s",
		    nghttp2_http2_strerror(call->rst_code));
		*message = gdp_strdup(buf);
		return code_from_rst(call->rst_code);
	}
	*message = gdp_strdup("server closed the stream without a grpc-status");
	return GRPC_INTERNAL;
}

/* Ends the call: closes the connection politely, then tells the caller. */
static void
complete(struct grpc_client_call *call)
{
	char *message = NULL;
	int code = verdict(call, &message);

	/* Courtesies before the close; the close happens either way. */
	if (call->h2.session != NULL && !call->stream_closed)
		(void)nghttp2_submit_rst_stream(call->h2.session,
		    NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
	if (call->h2.session != NULL) {
		(void)nghttp2_submit_goaway(call->h2.session,
		    NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
		(void)h2conn_flush(&call->h2);
	}
	h2conn_close(&call->h2);
	call->cb(code, message != NULL ? message : "out of memory",
	    code == GRPC_OK ? call->response : NULL, call->arg);
	gdp_free(message);
	call_free(call);
}

/* ---- nghttp2 callbacks (user_data is the call) ---- */

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user_data)
{
	struct grpc_client_call *call = user_data;
	char v[16];

	if (frame->hd.stream_id != call->stream_id)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0 &&
	    valuelen < sizeof(v)) {
		memcpy(v, value, valuelen);
		v[valuelen] = '\0';
		call->http_status = atoi(v);
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0 &&
	    valuelen < sizeof(v)) {
		memcpy(v, value, valuelen);
		v[valuelen] = '\0';
		call->grpc_status = atoi(v);
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		gdp_free(call->grpc_message);
		/* NULL (out of memory): the status stands, without text. */
		call->grpc_message = gdp_strndup((const char *)value, valuelen);
	}
	return 0;
}

static int
on_response_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_client_call *call = arg;

	if (++call->nmsgs > 1) {
		set_local(call, GRPC_INTERNAL,
		    "server sent more than one response message");
		return -EPROTO;
	}
	call->response = protobuf_c_message_unpack(call->response_type,
	    gdp_protobuf_allocator(), len, msg);
	if (call->response == NULL) {
		set_local(call, GRPC_INTERNAL,
		    "cannot decode the response as %s",
		    call->response_type->name);
		return -EPROTO;
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_client_call *call = user_data;
	int rc;

	if (stream_id != call->stream_id || call->local_code >= 0)
		return 0;
	rc = grpc_reader_feed(&call->reader, data, len, on_response_message,
	    call);
	if (rc == -EMSGSIZE)
		set_local(call, GRPC_RESOURCE_EXHAUSTED,
		    "response larger than %u bytes", call->reader.max);
	else if (rc == -EPROTO)
		set_local(call, GRPC_INTERNAL,
		    "compressed response, but no compression was offered");
	else if (rc < 0)
		set_local(call, GRPC_RESOURCE_EXHAUSTED,
		    "out of memory for the response");
	return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id,
    uint32_t error_code, void *user_data)
{
	struct grpc_client_call *call = user_data;

	if (stream_id == call->stream_id) {
		call->stream_closed = true;
		call->rst_code = error_code;
	}
	return 0;
}

/*
 * nghttp2 drops a frame it cannot prepare (out of memory, say) and goes
 * on; for the request's own HEADERS or DATA that would leave the call
 * waiting for an answer to a request never sent. End it instead.
 */
static int
on_frame_not_send(nghttp2_session *session, const nghttp2_frame *frame,
    int lib_error_code, void *user_data)
{
	struct grpc_client_call *call = user_data;

	if (frame->hd.stream_id == call->stream_id && call->local_code < 0)
		set_local(call, GRPC_UNAVAILABLE, "the request to %s could not "
		    "be sent: %s", call->path, nghttp2_strerror(lib_error_code));
	return 0;
}

static ssize_t
read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
    void *user_data)
{
	struct grpc_client_call *call = user_data;
	size_t n = call->body_len - call->body_off;

	if (n > length)
		n = length;
	memcpy(buf, call->body + call->body_off, n);
	call->body_off += n;
	if (call->body_off == call->body_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ---- loop callbacks ---- */

static void
on_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct grpc_client_call *call = arg;
	int rc = 0;

	if (events & (LOOP_READ | LOOP_HUP))
		rc = h2conn_read(&call->h2);
	if (rc == 0)
		rc = h2conn_flush(&call->h2);
	if (rc < 0 && !call->stream_closed)
		set_local(call, GRPC_UNAVAILABLE,
		    "connection to %s lost before the response: %s",
		    call->path, strerror(-rc));
	if (rc < 0 || call->stream_closed || call->local_code >= 0)
		complete(call);
}

static int64_t
on_deadline(struct loop *loop, void *arg)
{
	struct grpc_client_call *call = arg;

	call->deadline = NULL;
	set_local(call, GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
	complete(call);
	return LOOP_NOMORE;
}

static int64_t
on_async_done(struct loop *loop, void *arg)
{
	struct grpc_client_call *call = arg;

	call->async_done = NULL;
	complete(call);
	return LOOP_NOMORE;
}

/* ---- starting a call ---- */

static int
encode_body(struct grpc_client_call *call, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);

	if (len > UINT32_MAX - GRPC_PREFIX_LEN)
		return -EINVAL;
	call->body = gdp_malloc(GRPC_PREFIX_LEN + len);
	if (call->body == NULL)
		return -ENOMEM;
	grpc_prefix_write(call->body, (uint32_t)len);
	protobuf_c_message_pack(msg, call->body + GRPC_PREFIX_LEN);
	call->body_len = GRPC_PREFIX_LEN + len;
	return 0;
}

static int
new_session(struct grpc_client_call *call, nghttp2_session **out)
{
	nghttp2_session_callbacks *cb;
	int rc;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    on_stream_close);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cb,
	    on_frame_not_send);
	rc = nghttp2_session_client_new3(out, cb, call, NULL,
	    gdp_nghttp2_mem());
	nghttp2_session_callbacks_del(cb);
	return rc == 0 ? 0 : -ENOMEM;
}

static int
submit(struct grpc_client_call *call, nghttp2_session *session,
    const struct grpc_client_request *req, const char *timeout)
{
	const char *ua = req->user_agent ? req->user_agent :
	    DEFAULT_USER_AGENT;
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	nghttp2_nv nva[8] = {
#define CNV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), \
	NGHTTP2_NV_FLAG_NONE }
		CNV(":method", "POST"),
		CNV(":scheme", "http"),
		CNV(":path", req->method),
		CNV(":authority", "localhost"),
		CNV("content-type", "application/grpc"),
		CNV("user-agent", ua),
		CNV("te", "trailers"),
		CNV("grpc-timeout", timeout),
#undef CNV
	};
	nghttp2_data_provider dp = { .read_callback = read_body };

	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1))
		return -ENOMEM;
	call->stream_id = nghttp2_submit_request(session, NULL, nva,
	    timeout[0] != '\0' ? 8 : 7, &dp, NULL);
	return call->stream_id < 0 ? -ENOMEM : 0;
}

/*
 * Connects. Returns the socket, or a negative errno, which is also left in
 * call->local_* for the callback.
 */
static int
connect_unix(struct grpc_client_call *call, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		set_local(call, GRPC_UNAVAILABLE, "socket: %s", strerror(err));
		return -err;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		set_local(call, GRPC_UNAVAILABLE, "connect to %s: %s", path,
		    strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

static int
start(struct grpc_client_call *call, const struct grpc_client_request *req)
{
	char timeout[10] = "";
	nghttp2_session *session;
	int fd, rc;

	if (req->timeout_ms > 0)
		grpc_timeout_format(req->timeout_ms * 1000000, timeout);
	fd = connect_unix(call, req->socket_path);
	if (fd < 0)
		return 0; /* reported through the callback */
	rc = new_session(call, &session);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = submit(call, session, req, timeout);
	if (rc == 0)
		rc = h2conn_init(&call->h2, call->loop, fd, session, on_io,
		    call);
	if (rc < 0) {
		nghttp2_session_del(session);
		close(fd);
		return rc;
	}
	rc = h2conn_flush(&call->h2);
	if (rc < 0)
		set_local(call, GRPC_UNAVAILABLE, "write to %s: %s",
		    req->socket_path, strerror(-rc));
	return 0;
}

int
grpc_client_call(struct loop *loop, const struct grpc_client_request *req,
    grpc_client_cb cb, void *arg, struct grpc_client_call **out)
{
	struct grpc_client_call *call;
	struct sockaddr_un sa;
	int rc;

	if (strlen(req->socket_path) >= sizeof(sa.sun_path))
		return -EINVAL;
	call = gdp_calloc(1, sizeof(*call));
	if (call == NULL)
		return -ENOMEM;
	call->loop = loop;
	call->h2.fd = -1;
	call->cb = cb;
	call->arg = arg;
	call->response_type = req->response_type;
	call->grpc_status = -1;
	call->local_code = -1;
	memcpy(call->path, req->socket_path, strlen(req->socket_path) + 1);
	grpc_reader_init(&call->reader, GRPC_DEFAULT_MAX_MESSAGE);
	rc = encode_body(call, req->message);
	if (rc == 0)
		rc = start(call, req);
	if (rc < 0) {
		call_free(call);
		return rc;
	}
	if (call->local_code >= 0)
		call->async_done = loop_add_timer(loop, 0, on_async_done, call);
	else if (req->timeout_ms > 0)
		call->deadline = loop_add_timer(loop, req->timeout_ms,
		    on_deadline, call);
	if ((call->local_code >= 0 && call->async_done == NULL) ||
	    (req->timeout_ms > 0 && call->local_code < 0 &&
	    call->deadline == NULL)) {
		call_free(call);
		return -ENOMEM;
	}
	if (out != NULL)
		*out = call;
	return 0;
}

void
grpc_client_call_cancel(struct grpc_client_call *call)
{
	if (call != NULL)
		call_free(call);
}
