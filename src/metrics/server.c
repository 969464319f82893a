/*
 * server.c: the metrics endpoint's HTTP/1.1 server (see server.h).
 *
 * Each connection is a small state machine driven by serve(): send what
 * is pending; else parse what was read; else wait for the socket. The
 * parser is paused at the end of each request, so pipelined requests
 * are answered one at a time and a reader that does not read holds at
 * most one answer and one read buffer. Connections are kept in a list
 * ordered by their last activity, least recent first: the sweep timer
 * closes from its head, and so does a connection past the limit. The
 * sweep runs once a second while there are connections (or the listener
 * rests), and not at all otherwise, so an idle plugin is not woken.
 */
#include "metrics/server.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <http_parser.h>

#include "util/alloc.h"
#include "util/log.h"

#define SWEEP_MS 1000
#define READ_MAX 4096
#define PATH_MAX_LEN 256
#define HEAD_MAX 384

struct http_conn {
	struct http_server *s;
	struct http_conn *prev, *next;    /* by last activity, oldest first */
	int fd;
	unsigned events;                  /* watched now */
	int64_t active_ms;
	http_parser parser;
	char path[PATH_MAX_LEN];
	size_t path_len;
	bool path_long, has_body;
	bool sending, closing, draining;
	char in[READ_MAX];
	size_t in_off, in_len;
	char head[HEAD_MAX];
	size_t head_len, send_len, sent;
	struct metrics_text body;
};

struct http_server {
	struct loop *loop;
	int listen_fd;
	bool listening;                   /* the listener is watched */
	http_route_cb route;
	void *arg;
	struct loop_timer *sweep;
	struct http_conn *oldest, *newest;
	unsigned n;
};

/* ---- the connection list ---- */

static void
unlink_conn(struct http_server *s, struct http_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->oldest = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->newest = c->prev;
	c->prev = c->next = NULL;
}

static void
append_conn(struct http_server *s, struct http_conn *c)
{
	c->prev = s->newest;
	if (s->newest != NULL)
		s->newest->next = c;
	else
		s->oldest = c;
	s->newest = c;
}

/* A byte read or written (not while draining): to the list's end. */
static void
touch(struct http_conn *c)
{
	c->active_ms = loop_round_ms(c->s->loop);
	if (c->s->newest != c) {
		unlink_conn(c->s, c);
		append_conn(c->s, c);
	}
}

static void
close_conn(struct http_conn *c)
{
	struct http_server *s = c->s;

	unlink_conn(s, c);
	s->n--;
	loop_del_fd(s->loop, c->fd);
	close(c->fd);
	metrics_text_free(&c->body);
	gdp_free(c);
}

static int
want(struct http_conn *c, unsigned events)
{
	int rc;

	if (c->events == events)
		return 0;
	rc = loop_mod_fd(c->s->loop, c->fd, events);
	if (rc < 0) {
		close_conn(c);
		return -1;
	}
	c->events = events;
	return 0;
}

/* ---- answers ---- */

static const char *
reason(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static void
plain(struct http_answer *a, unsigned status, const char *text)
{
	a->status = status;
	a->type = "text/plain; charset=utf-8";
	metrics_text_free(&a->body);
	metrics_text_append(&a->body, text, strlen(text));
}

/* Takes |a|'s body; the head says keep-alive unless |c| is closing. */
static void
start_answer(struct http_conn *c, struct http_answer *a, bool head_only)
{
	if (metrics_text_failed(&a->body))
		plain(a, 500, "out of memory\n");
	if (metrics_text_failed(&a->body)) {      /* not even that */
		metrics_text_free(&a->body);
		c->closing = true;
	}
	c->head_len = (size_t)snprintf(c->head, sizeof(c->head),
	    "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%sConnection: %s\r\n\r\n", a->status,
	    reason(a->status), a->type, a->body.len,
	    a->status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    c->closing ? "close" : "keep-alive");
	if (c->head_len >= sizeof(c->head))
		c->head_len = sizeof(c->head) - 1;
	c->body = a->body;
	c->send_len = c->head_len + (head_only ? 0 : c->body.len);
	c->sent = 0;
	c->sending = true;
}

/* An answer that ends the connection: 400, 405 or 431. */
static void
refuse(struct http_conn *c, unsigned status, const char *text)
{
	struct http_answer a = { 0 };

	c->closing = true;
	plain(&a, status, text);
	start_answer(c, &a, false);
}

static void
route_request(struct http_conn *c)
{
	struct http_answer a = { 0 };
	unsigned method = c->parser.method;

	if (method != HTTP_GET && method != HTTP_HEAD)
		plain(&a, 405, "only GET and HEAD\n");
	else if (c->path_long)
		plain(&a, 404, "no such path\n");
	else
		c->s->route(c->s->arg, c->path, &a);
	start_answer(c, &a, method == HTTP_HEAD);
}

/* ---- the parser's callbacks ---- */

static int
on_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->path_len = 0;
	c->path[0] = '\0';
	c->path_long = c->has_body = false;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->path_long || len >= sizeof(c->path) - c->path_len) {
		c->path_long = true;
		return 0;
	}
	memcpy(c->path + c->path_len, at, len);
	c->path_len += len;
	c->path[c->path_len] = '\0';
	return 0;
}

/* A body is refused: stopping here (an error) closes after the answer. */
static int
on_headers(http_parser *p)
{
	struct http_conn *c = p->data;

	if ((p->flags & F_CHUNKED) ||
	    (p->content_length != 0 && p->content_length != ULLONG_MAX)) {
		c->has_body = true;
		return 3;
	}
	return 0;
}

static int
on_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->closing = !http_should_keep_alive(p) || p->upgrade;
	route_request(c);
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_headers_complete = on_headers,
	.on_message_complete = on_complete,
};

/* ---- driving a connection ---- */

/* Parses what was read; an error becomes its answer. */
static void
parse(struct http_conn *c)
{
	size_t n = http_parser_execute(&c->parser, &settings,
	    c->in + c->in_off, c->in_len - c->in_off);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

	c->in_off += n;
	if (e == HPE_OK || e == HPE_PAUSED)
		return;
	c->in_off = c->in_len;
	if (e == HPE_HEADER_OVERFLOW)
		refuse(c, 431, "request over 8 KiB\n");
	else if (e == HPE_CB_headers_complete && c->has_body &&
	    c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD)
		refuse(c, 405, "only GET and HEAD\n");
	else if (e == HPE_CB_headers_complete && c->has_body)
		refuse(c, 400, "no body\n");
	else
		refuse(c, 400, "bad request\n");
}

/* Sends what is pending. Returns 1 when all is sent, 0 when the socket
 * is full, -1 when |c| was closed. */
static int
flush(struct http_conn *c)
{
	while (c->sent < c->send_len) {
		size_t hoff = c->sent < c->head_len ? c->sent : c->head_len;
		size_t boff = c->sent - hoff;
		size_t blen = c->send_len - c->head_len - boff;
		struct iovec iov[2] = {
			{ c->head + hoff, c->head_len - hoff },
			{ blen > 0 ? c->body.buf + boff : NULL, blen },
		};
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return want(c, LOOP_WRITE);
		if (w < 0) {
			close_conn(c);
			return -1;
		}
		c->sent += (size_t)w;
		touch(c);
	}
	metrics_text_free(&c->body);
	c->sending = false;
	return 1;
}

/* The answer is out and the connection ends: shut down our side, read
 * until the peer closes (or the sweep does). */
static void
start_draining(struct http_conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	c->draining = true;
	c->in_off = c->in_len = 0;
	(void)want(c, LOOP_READ);
}

/* Runs |c| until it must wait for its socket (or is closed). */
static void
serve(struct http_conn *c)
{
	for (;;) {
		if (c->sending) {
			int r = flush(c);

			if (r <= 0)
				return;
			if (c->closing) {
				start_draining(c);
				return;
			}
			http_parser_pause(&c->parser, 0);
		}
		if (c->in_off == c->in_len) {
			c->in_off = c->in_len = 0;
			(void)want(c, LOOP_READ);
			return;
		}
		parse(c);
	}
}

/* Reads into the empty buffer. Returns bytes read, 0 for nothing now,
 * -1 when |c| was closed (the peer closed, or an error). */
static ssize_t
read_some(struct http_conn *c)
{
	ssize_t n;

	do
		n = recv(c->fd, c->in, sizeof(c->in), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		close_conn(c);
		return -1;
	}
	return n;
}

static void
on_conn(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct http_conn *c = arg;
	ssize_t n;

	if (events & LOOP_HUP) {
		close_conn(c);
		return;
	}
	if (c->sending) {
		serve(c);
		return;
	}
	n = read_some(c);
	if (n <= 0 || c->draining)
		return;
	c->in_off = 0;
	c->in_len = (size_t)n;
	touch(c);
	serve(c);
}

/* ---- accepting ---- */

static void
add_conn(struct http_server *s, int fd)
{
	struct http_conn *c;

	if (s->n >= HTTP_MAX_CONNECTIONS)
		close_conn(s->oldest);
	c = gdp_calloc(1, sizeof(*c));
	if (c == NULL || loop_add_fd(s->loop, fd, LOOP_READ, on_conn, c) < 0) {
		gdp_free(c);
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->events = LOOP_READ;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (s->n++ == 0)
		loop_timer_reset(s->loop, s->sweep, SWEEP_MS);
	append_conn(s, c);
	touch(c);
}

/* Out of descriptors or memory: the listener rests until the sweep. */
static void
rest_listener(struct http_server *s, int err)
{
	log_warn("metrics endpoint: accept: %s; pausing for a second",
	    strerror(err));
	if (loop_mod_fd(s->loop, s->listen_fd, 0) == 0) {
		s->listening = false;
		loop_timer_reset(s->loop, s->sweep, SWEEP_MS);
	}
}

static void
on_listen(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct http_server *s = arg;

	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c >= 0) {
			add_conn(s, c);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			rest_listener(s, errno);
		return;
	}
}

static int64_t
on_sweep(struct loop *loop, void *arg)
{
	struct http_server *s = arg;
	int64_t now = loop_now_ms();

	while (s->oldest != NULL && now - s->oldest->active_ms >= HTTP_IDLE_MS)
		close_conn(s->oldest);
	if (!s->listening && loop_mod_fd(loop, s->listen_fd, LOOP_READ) == 0)
		s->listening = true;
	/* Nothing to watch: no wake-up until a connection comes. */
	return s->n == 0 && s->listening ? LOOP_MAX_DELAY_MS : SWEEP_MS;
}

/* ---- the server ---- */

struct http_server *
http_server_start(struct loop *loop, int listen_fd, http_route_cb route,
    void *arg)
{
	struct http_server *s = gdp_calloc(1, sizeof(*s));
	int rc;

	if (s == NULL) {
		close(listen_fd);
		return NULL;
	}
	s->loop = loop;
	s->listen_fd = listen_fd;
	s->route = route;
	s->arg = arg;
	http_parser_set_max_header_size(HTTP_REQUEST_MAX);
	s->sweep = loop_add_timer(loop, LOOP_MAX_DELAY_MS, on_sweep, s);
	if (s->sweep == NULL) {
		close(listen_fd);
		gdp_free(s);
		errno = ENOMEM;
		return NULL;
	}
	rc = loop_add_fd(loop, listen_fd, LOOP_READ, on_listen, s);
	if (rc < 0) {
		loop_cancel_timer(loop, s->sweep);
		close(listen_fd);
		gdp_free(s);
		errno = -rc;
		return NULL;
	}
	s->listening = true;
	return s;
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	while (s->oldest != NULL)
		close_conn(s->oldest);
	if (s->sweep != NULL)
		loop_cancel_timer(s->loop, s->sweep);
	loop_del_fd(s->loop, s->listen_fd);
	close(s->listen_fd);
	gdp_free(s);
}

unsigned
http_server_connections(const struct http_server *s)
{
	return s->n;
}
