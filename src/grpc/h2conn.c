/*
 * h2conn.c: socket <-> nghttp2 session plumbing (see h2conn.h).
 */
#include "h2conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"

#define READ_CHUNK 65536
/* Reads per readable event, so one busy peer cannot starve the others. */
#define READS_PER_EVENT 8

/* nghttp2's failures, as the errno this layer speaks. */
static int
from_nghttp2(ssize_t err)
{
	return err == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
}

int
h2conn_init(struct h2conn *c, struct loop *loop, int fd,
    nghttp2_session *session, loop_fd_cb cb, void *arg)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	c->session = session;
	rc = loop_add_fd(loop, fd, LOOP_READ, cb, arg);
	if (rc < 0) {
		c->fd = -1;
		c->session = NULL;
		return rc;
	}
	c->registered = true;
	c->watched = LOOP_READ;
	return 0;
}

int
h2conn_read(struct h2conn *c)
{
	uint8_t buf[READ_CHUNK];

	for (int i = 0; i < READS_PER_EVENT; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		ssize_t used;

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		used = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
		if (used < 0)
			return from_nghttp2(used);
		if ((size_t)n < sizeof(buf))
			return 0;
	}
	return 0;
}

/* Keeps |len| bytes the socket did not take. */
static int
keep_pending(struct h2conn *c, const uint8_t *data, size_t len)
{
	if (c->pending_off > 0 && c->pending_off == c->pending_len)
		c->pending_off = c->pending_len = 0;
	if (c->pending_len + len > c->pending_cap) {
		size_t cap = c->pending_cap ? c->pending_cap : 16384;
		uint8_t *p;

		while (cap < c->pending_len + len)
			cap *= 2;
		p = gdp_realloc(c->pending, cap);
		if (p == NULL)
			return -ENOMEM;
		c->pending = p;
		c->pending_cap = cap;
	}
	memcpy(c->pending + c->pending_len, data, len);
	c->pending_len += len;
	return 0;
}

/* Writes from |data|; returns bytes written (maybe 0) or a negative errno. */
static ssize_t
write_some(int fd, const uint8_t *data, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

static int
write_pending(struct h2conn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = write_some(c->fd, c->pending + c->pending_off,
		    c->pending_len - c->pending_off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		c->pending_off += (size_t)n;
	}
	c->pending_off = c->pending_len = 0;
	return 0;
}

static int
update_events(struct h2conn *c)
{
	unsigned want = 0;

	if (c->pending_len > c->pending_off)
		want |= LOOP_WRITE;
	else if (nghttp2_session_want_read(c->session))
		want |= LOOP_READ;
	if (want == c->watched)
		return 0;
	c->watched = want;
	return loop_mod_fd(c->loop, c->fd, want);
}

int
h2conn_flush(struct h2conn *c)
{
	int rc;

	if (c->fd < 0)
		return -EBADF;
	rc = write_pending(c);
	if (rc < 0)
		return rc;
	while (c->pending_len == c->pending_off) {
		const uint8_t *data;
		ssize_t len = nghttp2_session_mem_send(c->session,
		    &data);
		ssize_t n;

		if (len < 0)
			return from_nghttp2(len);
		if (len == 0)
			break;
		n = write_some(c->fd, data, (size_t)len);
		if (n < 0)
			return (int)n;
		if (n < len && (rc = keep_pending(c, data + n,
		    (size_t)(len - n))) < 0)
			return rc;
	}
	return update_events(c);
}

bool
h2conn_finished(const struct h2conn *c)
{
	return c->session == NULL ||
	    (!nghttp2_session_want_read(c->session) &&
	    !nghttp2_session_want_write(c->session) &&
	    c->pending_len == c->pending_off);
}

void
h2conn_close(struct h2conn *c)
{
	if (c->registered)
		loop_del_fd(c->loop, c->fd);
	c->registered = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	nghttp2_session_del(c->session);
	c->session = NULL;
	gdp_free(c->pending);
	c->pending = NULL;
	c->pending_len = c->pending_off = c->pending_cap = 0;
}
