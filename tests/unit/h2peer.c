/*
 * h2peer.c: the scriptable HTTP/2 test client (see h2peer.h).
 */
#include "h2peer.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

static struct h2stream *
find_stream(struct h2peer *p, int32_t id)
{
	for (size_t i = 0; i < p->nstreams; i++)
		if (p->streams[i].id == id)
			return &p->streams[i];
	return NULL;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *arg)
{
	struct h2stream *st = find_stream(arg, f->hd.stream_id);
	char v[256];

	if (st == NULL)
		return 0;
	snprintf(v, sizeof(v), "%.*s", (int)vl, value);
	if (nl == 7 && memcmp(name, ":status", 7) == 0)
		snprintf(st->status, sizeof(st->status), "%.7s", v);
	else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
		st->grpc_status = atoi(v);
	else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0)
		memcpy(st->grpc_message, v, sizeof(st->grpc_message));
	return 0;
}

static void
on_settings(struct h2peer *p, const nghttp2_settings *f)
{
	if (f->hd.flags & NGHTTP2_FLAG_ACK)
		return;
	p->settings_seen = true;
	for (size_t i = 0; i < f->niv; i++)
		if (f->iv[i].settings_id < 16)
			p->settings[f->iv[i].settings_id] = f->iv[i].value;
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2peer *p = arg;
	struct h2stream *st = find_stream(p, f->hd.stream_id);

	if (f->hd.type == NGHTTP2_SETTINGS) {
		on_settings(p, &f->settings);
	} else if (f->hd.type == NGHTTP2_GOAWAY) {
		p->goaway = true;
		p->goaway_code = f->goaway.error_code;
		snprintf(p->goaway_debug, sizeof(p->goaway_debug), "%.*s",
		    (int)f->goaway.opaque_data_len,
		    (const char *)f->goaway.opaque_data);
	} else if (st != NULL && f->hd.type == NGHTTP2_HEADERS) {
		if (st->header_frames++ == 0 &&
		    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			st->trailers_only = true;
	} else if (st != NULL && f->hd.type == NGHTTP2_RST_STREAM) {
		st->rst = true;
		st->rst_code = f->rst_stream.error_code;
	}
	return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
    size_t len, void *arg)
{
	struct h2stream *st = find_stream(arg, id);

	if (st != NULL)
		st->data_len += len;
	return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct h2stream *st = find_stream(arg, id);

	if (st != NULL) {
		st->closed = true;
		st->close_code = code;
	}
	return 0;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2stream *st = src->ptr;
	size_t n = st->body_len - st->body_off;

	if (st->chunk > 0 && n > st->chunk)
		n = st->chunk;
	if (n > len)
		n = len;
	memcpy(buf, st->body + st->body_off, n);
	st->body_off += n;
	if (st->body_off == st->body_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->keep_open)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

static void
make_session(struct h2peer *p)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	assert_int_equal(nghttp2_option_new(&opt), 0);
	nghttp2_option_set_no_http_messaging(opt, 1);
	assert_int_equal(nghttp2_session_client_new2(&p->s, cb, p, opt), 0);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
}

static void
peer_init(struct h2peer *p, struct loop *loop, int fd, bool handshake)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->fd = fd;
	p->reading = true;
	make_session(p);
	if (handshake)
		h2peer_handshake(p);
}

int
h2peer_socketpair(struct h2peer *p, struct loop *loop, int type,
    bool handshake)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, type | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	peer_init(p, loop, sv[1], handshake);
	return sv[0];
}

void
h2peer_adopt(struct h2peer *p, struct loop *loop, struct grpc_server *server,
    bool handshake)
{
	int fd = h2peer_socketpair(p, loop, SOCK_STREAM, handshake);

	assert_int_equal(grpc_server_adopt(server, fd), 0);
}

int
h2peer_connect(struct h2peer *p, struct loop *loop, const char *path,
    bool handshake)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	int rc;

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		p->fd = -1;
		p->s = NULL;
		return rc;
	}
	peer_init(p, loop, fd, handshake);
	return 0;
}

void
h2peer_close(struct h2peer *p)
{
	if (p->s != NULL)
		nghttp2_session_del(p->s);
	p->s = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->out);
	p->out = NULL;
	p->out_len = 0;
}

void
h2peer_handshake(struct h2peer *p)
{
	p->started = true;
	assert_int_equal(nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE,
	    NULL, 0), 0);
}

void
h2peer_write(struct h2peer *p, const void *data, size_t len)
{
	assert_int_equal(send(p->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

void
h2peer_flush(struct h2peer *p)
{
	const uint8_t *data;
	uint8_t *grown;
	ssize_t n;

	assert_int_equal(p->out_len, 0);
	while ((n = nghttp2_session_mem_send(p->s, &data)) > 0) {
		grown = realloc(p->out, p->out_len + (size_t)n);
		assert_non_null(grown);
		p->out = grown;
		memcpy(p->out + p->out_len, data, (size_t)n);
		p->out_len += (size_t)n;
	}
	assert_true(n == 0 && p->out_len > 0);
	h2peer_write(p, p->out, p->out_len);
	p->out_len = 0;
}

struct h2stream *
h2peer_request(struct h2peer *p, const char *path, const nghttp2_nv *extra,
    size_t n, const uint8_t *body, size_t len, size_t chunk, bool keep_open)
{
	nghttp2_nv nva[24] = {
		H2NV(":method", "POST"), H2NV(":scheme", "http"),
		H2NV(":authority", "localhost"),
		H2NV("content-type", "application/grpc"),
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path),
		  NGHTTP2_NV_FLAG_NONE },
	};
	size_t nv = 5;

	assert_true(n <= 24 - nv);
	for (size_t i = 0; i < n; i++)
		nva[nv++] = extra[i];
	return h2peer_request_nv(p, nva, nv, body, len, chunk, keep_open);
}

struct h2stream *
h2peer_request_nv(struct h2peer *p, const nghttp2_nv *nva, size_t n,
    const uint8_t *body, size_t len, size_t chunk, bool keep_open)
{
	struct h2stream *st;
	nghttp2_data_provider dp = { .read_callback = read_body };
	int32_t id;

	assert_true(p->nstreams < H2PEER_STREAMS);
	st = &p->streams[p->nstreams++];
	memset(st, 0, sizeof(*st));
	st->grpc_status = -1;
	st->body = body;
	st->body_len = len;
	st->chunk = chunk;
	st->keep_open = keep_open;
	dp.source.ptr = st;
	if (body == NULL && keep_open)
		id = nghttp2_submit_headers(p->s, NGHTTP2_FLAG_NONE, -1, NULL,
		    nva, n, NULL);
	else
		id = nghttp2_submit_request(p->s, NULL, nva, n,
		    body != NULL ? &dp : NULL, NULL);
	assert_true(id > 0);
	st->id = id;
	return st;
}

/*
 * Writes what nghttp2 has; what the socket does not take waits. A closed
 * socket is not the end yet: what the server wrote before closing is
 * still to be read. Returns whether bytes went out.
 */
static bool
send_out(struct h2peer *p)
{
	const uint8_t *data;
	ssize_t n;
	bool moved = false;

	for (;;) {
		if (p->out_len > 0) {
			n = send(p->fd, p->out, p->out_len, MSG_NOSIGNAL);
			if (n < 0) {
				assert_true(errno == EAGAIN || errno == EPIPE ||
				    errno == ECONNRESET);
				return moved;
			}
			moved = true;
			memmove(p->out, p->out + n, p->out_len - (size_t)n);
			p->out_len -= (size_t)n;
			if (p->out_len > 0)
				return moved;
		}
		n = nghttp2_session_mem_send(p->s, &data);
		assert_true(n >= 0);
		if (n == 0)
			return moved;
		p->out = realloc(p->out, (size_t)n);
		assert_non_null(p->out);
		memcpy(p->out, data, (size_t)n);
		p->out_len = (size_t)n;
	}
}

/* Reads until the socket is empty or ends; returns whether bytes came. */
static bool
recv_in(struct h2peer *p)
{
	uint8_t buf[65536];
	bool moved = false;
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		moved = true;
		p->reads++;
		assert_int_equal(nghttp2_session_mem_recv(p->s, buf,
		    (size_t)n), n);
	}
	if (n == 0 || (n < 0 && errno != EAGAIN))
		p->eof = true;
	return moved;
}

void
h2peer_recv(struct h2peer *p)
{
	if (p->fd >= 0 && !p->eof)
		recv_in(p);
}

bool
h2peer_pump(struct h2peer *p, int ms)
{
	struct h2peer *one[] = { p };

	return h2peer_pump_all(one, 1, ms, NULL, NULL);
}

bool
h2peer_pump_all(struct h2peer **peers, size_t n, int ms,
    bool (*done)(void *arg), void *arg)
{
	int64_t end = loop_now_ms() + ms;
	bool moved = false;

	do {
		for (size_t i = 0; i < n; i++)
			if (peers[i]->fd >= 0 && !peers[i]->eof &&
			    peers[i]->started)
				moved |= send_out(peers[i]);
		moved |= loop_run_once(peers[0]->loop, 1) > 0;
		for (size_t i = 0; i < n; i++)
			if (peers[i]->fd >= 0 && peers[i]->reading &&
			    !peers[i]->eof)
				moved |= recv_in(peers[i]);
	} while (loop_now_ms() < end && (done == NULL || !done(arg)));
	return moved;
}

struct wait_arg {
	struct h2peer *p;
	struct h2stream *st;
};

static bool
stream_done(void *arg)
{
	struct wait_arg *w = arg;

	return w->p->eof || (w->st != NULL && w->st->closed);
}

void
h2peer_wait_stream(struct h2peer *p, struct h2stream *st, int ms)
{
	struct wait_arg w = { p, st };
	struct h2peer *one[] = { p };

	h2peer_pump_all(one, 1, ms, stream_done, &w);
}

void
h2peer_wait_eof(struct h2peer *p, int ms)
{
	h2peer_wait_stream(p, NULL, ms);
}
