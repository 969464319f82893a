/*
 * test_h2conn.c: the socket side of an HTTP/2 connection (grpc/h2conn).
 *
 * A server nghttp2 session is plumbed to one end of a socketpair by
 * h2conn; the test plays the peer on the other end. Two promises are
 * checked at the socket:
 *   - output is coalesced: what the session has to send when h2conn
 *     flushes goes out in one write, or in writes of at most
 *     H2CONN_WRITE_MAX bytes plus one frame when there is more. On a
 *     SOCK_SEQPACKET socket every send is one record, so the records the
 *     peer receives count the writes h2conn made.
 *   - back-pressure holds: a peer that does not read makes h2conn stop
 *     reading (its input stays in the socket) and stop pulling output
 *     from the session, with a bounded buffer in between.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "grpc/h2conn.h"
#include "loop/loop.h"

/* A DATA frame's header and the largest payload nghttp2 puts in one. */
#define FRAME_MAX (9 + 16384)
/* What h2conn may hold for a socket that takes nothing more. */
#define PENDING_MAX (H2CONN_WRITE_MAX + FRAME_MAX)

struct t {
	struct loop *loop;
	struct h2conn conn;     /* server side, on sv[0] */
	int peer_fd;            /* sv[1] */
	nghttp2_session *peer;  /* client session of the test */
	int io_rc;              /* last error of the I/O callback */
	unsigned read_events;   /* readable events h2conn was handed */
	/* The server's answer: |body_total| bytes (0: until |stop|). */
	size_t body_total;
	size_t produced;
	bool stop;
	/* What the peer saw. */
	unsigned pings;
	bool stream_closed;
	size_t data_len;
	unsigned records;       /* recv() calls that returned data */
	size_t largest_record;
};

/* The server answers every request with |body_total| bytes of DATA. */
static ssize_t
read_answer(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct t *t = arg;
	size_t n = len;

	if (t->body_total > 0 && n > t->body_total - t->produced)
		n = t->body_total - t->produced;
	if (t->body_total == 0 && t->stop)
		n = 0;
	memset(buf, 'x', n);
	t->produced += n;
	if (n == 0 || t->produced == t->body_total)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int
server_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	nghttp2_nv nva[] = { { (uint8_t *)":status", (uint8_t *)"200", 7, 3,
		NGHTTP2_NV_FLAG_NONE } };
	nghttp2_data_provider dp = { .read_callback = read_answer };

	if (f->hd.type == NGHTTP2_HEADERS &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		assert_int_equal(nghttp2_submit_response(s, f->hd.stream_id,
		    nva, 1, &dp), 0);
	return 0;
}

static int
peer_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct t *t = arg;

	if (f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK))
		t->pings++;
	return 0;
}

static int
peer_on_data(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *d, size_t len, void *arg)
{
	((struct t *)arg)->data_len += len;
	return 0;
}

static int
peer_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	((struct t *)arg)->stream_closed = true;
	return 0;
}

/* What the server's connection callback does: read, then flush. */
static void
on_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct t *t = arg;
	int rc = 0;

	if (events & (LOOP_READ | LOOP_HUP)) {
		t->read_events++;
		rc = h2conn_read(&t->conn);
	}
	if (rc == 0)
		rc = h2conn_flush(&t->conn);
	if (rc < 0)
		t->io_rc = rc;
}

static nghttp2_session *
new_session(bool server, void *arg)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session *s;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	if (server) {
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
		    server_on_frame);
		assert_int_equal(nghttp2_session_server_new(&s, cb, arg), 0);
	} else {
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
		    peer_on_frame);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
		    peer_on_data);
		nghttp2_session_callbacks_set_on_stream_close_callback(cb,
		    peer_on_close);
		assert_int_equal(nghttp2_session_client_new(&s, cb, arg), 0);
	}
	nghttp2_session_callbacks_del(cb);
	return s;
}

static struct t *
start(int type)
{
	struct t *t = test_calloc(1, sizeof(*t));
	int sv[2];

	t->loop = loop_new();
	assert_non_null(t->loop);
	assert_int_equal(socketpair(AF_UNIX, type | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(h2conn_init(&t->conn, t->loop, sv[0],
	    new_session(true, t), on_io, t), 0);
	t->peer_fd = sv[1];
	t->peer = new_session(false, t);
	/* A server speaks first: its SETTINGS. */
	assert_int_equal(nghttp2_submit_settings(t->conn.session,
	    NGHTTP2_FLAG_NONE, NULL, 0), 0);
	return t;
}

static void
stop(struct t *t)
{
	h2conn_close(&t->conn);
	nghttp2_session_del(t->peer);
	close(t->peer_fd);
	loop_free(t->loop);
	test_free(t);
}

/* The peer's whole output, in one write. */
static void
peer_send(struct t *t)
{
	uint8_t buf[65536];
	size_t len = 0;
	const uint8_t *out;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(t->peer, &out)) > 0) {
		assert_true(len + (size_t)n <= sizeof(buf));
		memcpy(buf + len, out, (size_t)n);
		len += (size_t)n;
	}
	assert_true(n == 0);
	if (len > 0)
		assert_int_equal(write(t->peer_fd, buf, len), (ssize_t)len);
}

/* Takes what the socket has, a record (or chunk) at a time. */
static void
peer_recv(struct t *t)
{
	static uint8_t buf[4 * PENDING_MAX];
	ssize_t n;

	while ((n = recv(t->peer_fd, buf, sizeof(buf), 0)) > 0) {
		t->records++;
		if ((size_t)n > t->largest_record)
			t->largest_record = (size_t)n;
		assert_true(nghttp2_session_mem_recv(t->peer, buf,
		    (size_t)n) == n);
	}
	assert_true(n < 0 && errno == EAGAIN);
}

/* The peer asks for one answer with windows that never stop the server. */
static void
peer_request(struct t *t)
{
	nghttp2_settings_entry big = { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
		NGHTTP2_MAX_WINDOW_SIZE };
	nghttp2_nv nva[] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":path", (uint8_t *)"/", 5, 1, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0 },
	};

	assert_int_equal(nghttp2_submit_settings(t->peer, NGHTTP2_FLAG_NONE,
	    &big, 1), 0);
	assert_int_equal(nghttp2_session_set_local_window_size(t->peer,
	    NGHTTP2_FLAG_NONE, 0, NGHTTP2_MAX_WINDOW_SIZE), 0);
	assert_true(nghttp2_submit_request(t->peer, NULL, nva, 4, NULL,
	    NULL) > 0);
	peer_send(t);
}

static int
bytes_unread(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static size_t
pending(const struct h2conn *c)
{
	return c->pending_len - c->pending_off;
}

/* SETTINGS and 64 PINGs queued: one flush, one write, all of it. */
static void
test_queued_frames_leave_in_one_write(void **state)
{
	struct t *t = start(SOCK_SEQPACKET);
	nghttp2_session *s = t->conn.session;

	for (int i = 0; i < 64; i++)
		assert_int_equal(nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE,
		    NULL), 0);
	assert_int_equal(h2conn_flush(&t->conn), 0);
	peer_recv(t);
	assert_int_equal(t->pings, 64);
	assert_int_equal(t->records, 1);
	assert_int_equal(pending(&t->conn), 0);
	stop(t);
}

/* 1 MiB of DATA goes out in writes of about H2CONN_WRITE_MAX bytes. */
static void
test_large_answer_written_in_big_writes(void **state)
{
	const size_t total = 1 << 20;
	struct t *t = start(SOCK_SEQPACKET);

	t->body_total = total;
	peer_request(t);
	for (int i = 0; i < 1000 && !t->stream_closed && t->io_rc == 0;
	    i++) {
		assert_true(loop_run_once(t->loop, 10) >= 0);
		peer_recv(t);
		peer_send(t);  /* SETTINGS ACK, WINDOW_UPDATE */
	}
	assert_int_equal(t->io_rc, 0);
	assert_true(t->stream_closed);
	assert_int_equal(t->data_len, total);
	assert_true(t->largest_record <= PENDING_MAX);
	/* Today's nghttp2 frames carry 16 KiB: a write per frame would be
	 * 64 records for the DATA alone. */
	print_message("%u records, largest %zu bytes\n", t->records,
	    t->largest_record);
	assert_true(t->records <= total / H2CONN_WRITE_MAX + 4);
	stop(t);
}

/* Turns the loop until a few rounds in a row run nothing. */
static void
settle(struct t *t)
{
	for (int quiet = 0, i = 0; quiet < 3 && i < 1000; i++)
		quiet = loop_run_once(t->loop, 5) == 0 ? quiet + 1 : 0;
	assert_int_equal(t->io_rc, 0);
}

/* The peer reads all it can, raw, |turns| times, the loop turning. */
static void
peer_drain(struct t *t, int turns)
{
	uint8_t buf[65536];

	for (int i = 0; i < turns; i++) {
		while (read(t->peer_fd, buf, sizeof(buf)) > 0)
			;
		assert_true(loop_run_once(t->loop, 5) >= 0);
		assert_int_equal(t->io_rc, 0);
	}
}

/*
 * An endless answer to a peer that reads nothing: the socket fills, then
 * h2conn holds at most PENDING_MAX bytes, pulls nothing more from the
 * session, and leaves the peer's input in the socket; once the peer
 * reads, output moves again, and input is read once output is done.
 */
static void
test_peer_that_does_not_read_is_not_read(void **state)
{
	static const uint8_t ping[17] = { 0, 0, 8, NGHTTP2_PING };
	struct t *t = start(SOCK_STREAM);
	size_t before;
	unsigned reads;

	peer_request(t);
	settle(t);
	assert_true(t->produced > 0);
	assert_true(pending(&t->conn) > 0);
	assert_true(pending(&t->conn) <= PENDING_MAX);
	/* Pulled from the session: what the socket holds, what h2conn
	 * holds, and a frame in between at most. */
	assert_true(t->produced <= (size_t)bytes_unread(t->peer_fd) +
	    pending(&t->conn) + FRAME_MAX);

	/* More input arrives; it stays where it is. */
	reads = t->read_events;
	assert_int_equal(write(t->peer_fd, ping, sizeof(ping)),
	    (ssize_t)sizeof(ping));
	settle(t);
	assert_int_equal(t->read_events, reads);
	assert_int_equal(bytes_unread(t->conn.fd), (int)sizeof(ping));
	assert_true(pending(&t->conn) <= PENDING_MAX);

	/* The peer reads (raw: its session is left behind): output moves. */
	before = t->produced;
	peer_drain(t, 10);
	assert_true(t->produced > before);
	/* Once the answer is over, the input is read. */
	t->stop = true;
	for (int i = 0; i < 1000 && bytes_unread(t->conn.fd) > 0; i++)
		peer_drain(t, 1);
	assert_int_equal(bytes_unread(t->conn.fd), 0);
	assert_true(t->read_events > reads);
	stop(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_frames_leave_in_one_write),
		cmocka_unit_test(test_large_answer_written_in_big_writes),
		cmocka_unit_test(test_peer_that_does_not_read_is_not_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
