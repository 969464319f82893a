/*
 * h2conn.c: socket <-> nghttp2 session plumbing (see h2conn.h).
 */
#include "h2conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

/*
 * Keeps what the socket did not take of |iov| (|written| bytes of it
 * went): pending is empty when this is called.
 */
static int
keep_pending(struct h2conn *c, const struct iovec *iov, size_t niov,
    size_t written)
{
	size_t len = 0;

	for (size_t i = 0; i < niov; i++)
		len += iov[i].iov_len;
	c->pending = gdp_malloc(len - written);
	if (c->pending == NULL)
		return -ENOMEM;
	c->pending_off = 0;
	c->pending_len = 0;
	for (size_t i = 0; i < niov; i++) {
		size_t skip = written < iov[i].iov_len ? written :
		    iov[i].iov_len;

		written -= skip;
		memcpy(c->pending + c->pending_len,
		    (const uint8_t *)iov[i].iov_base + skip,
		    iov[i].iov_len - skip);
		c->pending_len += iov[i].iov_len - skip;
	}
	return 0;
}

/* One write of |iov|; returns bytes written (maybe 0) or a negative errno. */
static ssize_t
write_iov(int fd, struct iovec *iov, size_t niov)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = niov };

	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

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
		struct iovec iov = { c->pending + c->pending_off,
			c->pending_len - c->pending_off };
		ssize_t n = write_iov(c->fd, &iov, 1);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		c->pending_off += (size_t)n;
	}
	/* Nothing is held for a socket that keeps up. */
	gdp_free(c->pending);
	c->pending = NULL;
	c->pending_off = c->pending_len = 0;
	return 0;
}

/*
 * Gathers the session's frames into |buf| (H2CONN_WRITE_MAX bytes; a
 * frame that does not fit rides along from nghttp2's own buffer) and
 * writes them with one system call, keeping what the socket did not
 * take. Returns 1 when the session may have more, 0 when it has no more
 * or the socket is full, or a negative errno.
 */
static int
write_batch(struct h2conn *c, uint8_t *buf)
{
	struct iovec iov[2] = { { buf, 0 }, { NULL, 0 } };
	bool more = true;
	size_t total, niov;
	ssize_t n;

	while (iov[0].iov_len < H2CONN_WRITE_MAX) {
		const uint8_t *data;
		ssize_t len = nghttp2_session_mem_send(c->session, &data);

		if (len < 0)
			return from_nghttp2(len);
		if (len == 0) {
			more = false;
			break;
		}
		if ((size_t)len > H2CONN_WRITE_MAX - iov[0].iov_len) {
			iov[1].iov_base = (void *)data;
			iov[1].iov_len = (size_t)len;
			break;
		}
		memcpy(buf + iov[0].iov_len, data, (size_t)len);
		iov[0].iov_len += (size_t)len;
	}
	total = iov[0].iov_len + iov[1].iov_len;
	if (total == 0)
		return 0;
	niov = iov[1].iov_len > 0 ? 2 : 1;
	n = write_iov(c->fd, iov, niov);
	if (n < 0)
		return (int)n;
	if ((size_t)n < total) {
		int rc = keep_pending(c, iov, niov, (size_t)n);

		return rc < 0 ? rc : 0;
	}
	return more ? 1 : 0;
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
	uint8_t buf[H2CONN_WRITE_MAX];
	bool more;
	int rc;

	if (c->fd < 0)
		return -EBADF;
	rc = write_pending(c);
	more = rc == 0;
	while (more && c->pending == NULL)
		more = (rc = write_batch(c, buf)) > 0;
	if (rc < 0)
		return rc;
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
	c->pending_len = c->pending_off = 0;
}
