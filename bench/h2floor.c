/*
 * h2floor.c: the benchmark's floor, a bare HTTP/2 server that shares no
 * code with what it measures.
 *
 * Its own epoll loop, libnghttp2 and libc only: nothing from src/, no
 * protobuf-c. Every request is answered, once its END_STREAM arrives, with
 * the same fixed gRPC answer (HEADERS, one DATA frame holding an
 * AllocateResponse encoded by hand, trailers with grpc-status 0): no
 * method lookup, no decoding, no encoding, no call objects. Output is
 * written the way a careful server writes it: everything nghttp2 has after
 * a read is gathered into one buffer and goes out with one write; what
 * the socket does not take waits, and the connection stops reading until
 * it has gone. The nghttp2 settings are those of our server (the same
 * stream and connection windows, streams, HTTP checks off, no closed
 * streams kept), so both speak the same protocol; what our server costs
 * above this is the cost of being a real gRPC server.
 *
 * Usage: h2floor --socket PATH   (prints "ready"; SIGTERM stops it)
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#define BATCH 65536        /* bytes gathered per write */
#define READS_PER_EVENT 8

/*
 * The gRPC message our server answers the bench's Allocate with:
 * AllocateResponse{container_responses: [{envs: {"DEVICES": <id>}}]},
 * length-prefixed. Protobuf by hand: field 1, wire type 2 is 0x0a; a map
 * entry's key is 0x0a, its value 0x12.
 */
static const uint8_t ANSWER[] = {
	0, 0, 0, 0, 55,                 /* not compressed, 55 bytes */
	0x0a, 53,                       /* container_responses[0] */
	0x0a, 51,                       /* envs entry */
	0x0a, 7, 'D', 'E', 'V', 'I', 'C', 'E', 'S',
	0x12, 40,
	'G', 'P', 'U', '-', '4', 'd', '2', 'a', '9', 'a', '8', 'e', '-',
	'1', 'c', '7', 'e', '-', '4', 'b', '1', 'e', '-', '9', 'f', '0', 'a',
	'-', '3', 'c', '5', 'd', '6', 'e', '7', 'f', '8', 'a', '9', 'b',
};

struct fconn {
	int fd;
	nghttp2_session *session;
	uint8_t *pending;      /* what the socket did not take */
	size_t pending_len, pending_off;
	uint32_t events;       /* registered with epoll */
};

static int epfd = -1;
static volatile sig_atomic_t stopping;

static ssize_t
read_answer(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	nghttp2_nv tr[] = { { (uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
		NGHTTP2_NV_FLAG_NONE } };

	memcpy(buf, ANSWER, sizeof(ANSWER)); /* len >= 16 KiB */
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	if (nghttp2_submit_trailer(s, id, tr, 1) != 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return (ssize_t)sizeof(ANSWER);
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	nghttp2_nv nva[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3,
		  NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc",
		  12, 16, NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider dp = { .read_callback = read_answer };

	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_submit_response(s, f->hd.stream_id, nva, 2, &dp) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static void
fconn_close(struct fconn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	nghttp2_session_del(c->session);
	free(c->pending);
	free(c);
}

/* Returns -1 on a broken socket, else 0. */
static int
write_pending(struct fconn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = send(c->fd, c->pending + c->pending_off,
		    c->pending_len - c->pending_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->pending_off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = c->pending_off = 0;
	return 0;
}

/* Everything nghttp2 has, BATCH bytes per write. Returns -1 or 0. */
static int
flush(struct fconn *c)
{
	static uint8_t buf[BATCH + 65536];
	bool more = true;

	if (write_pending(c) < 0)
		return -1;
	while (more && c->pending == NULL) {
		size_t len = 0;
		ssize_t n;

		more = false;
		while (len < BATCH) {
			const uint8_t *data;
			ssize_t k = nghttp2_session_mem_send(c->session, &data);

			if (k < 0 || (size_t)k > sizeof(buf) - len)
				return -1; /* no frame of ours is that big */
			if (k == 0)
				break;
			memcpy(buf + len, data, (size_t)k);
			len += (size_t)k;
			more = len >= BATCH;
		}
		if (len == 0)
			break;
		do
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n < 0)
			n = 0;
		if ((size_t)n < len) {
			c->pending = malloc(len - (size_t)n);
			if (c->pending == NULL)
				return -1;
			memcpy(c->pending, buf + n, len - (size_t)n);
			c->pending_len = len - (size_t)n;
		}
	}
	return 0;
}

/* Reads while output moves; writes once per batch read. */
static void
on_conn(struct fconn *c, uint32_t events)
{
	static uint8_t buf[65536];
	struct epoll_event ev = { .data.ptr = c };

	for (int i = 0; (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    i < READS_PER_EVENT; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0 || nghttp2_session_mem_recv(c->session, buf,
		    (size_t)n) < 0)
			goto out_close;
		if ((size_t)n < sizeof(buf))
			break;
	}
	if (flush(c) < 0)
		goto out_close;
	if (!nghttp2_session_want_read(c->session) &&
	    !nghttp2_session_want_write(c->session) && c->pending == NULL)
		goto out_close;
	ev.events = c->pending != NULL ? EPOLLOUT : EPOLLIN;
	if (ev.events != c->events) {
		c->events = ev.events;
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			goto out_close;
	}
	return;

out_close:
	fconn_close(c);
}

static nghttp2_session *
new_session(const nghttp2_session_callbacks *cb, const nghttp2_option *opt,
    void *arg)
{
	const nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	nghttp2_session *s;

	if (nghttp2_session_server_new2(&s, cb, arg, opt) != 0)
		return NULL;
	if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings, 2) != 0 ||
	    nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
	    4 << 20) != 0) {
		nghttp2_session_del(s);
		return NULL;
	}
	return s;
}

static void
on_accept(int lfd, const nghttp2_session_callbacks *cb,
    const nghttp2_option *opt)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct fconn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (c == NULL || (c->session = new_session(cb, opt, c)) ==
		    NULL) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			nghttp2_session_del(c->session);
			free(c);
			close(fd);
			continue;
		}
		on_conn(c, 0); /* our SETTINGS go first */
	}
}

static void
on_signal(int signo)
{
	stopping = 1;
}

static int
listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked */
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0) {
		fprintf(stderr, "h2floor: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int lfd;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0 ||
	    strlen(argv[2]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "usage: h2floor --socket PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: epoll_wait returns */
	sigaction(SIGINT, &sa, NULL);
	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		return 1;
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_option_set_no_http_messaging(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	lfd = listen_on(argv[2]);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		fprintf(stderr, "h2floor: epoll: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stopping) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_accept(lfd, cb, opt);
			else
				on_conn(evs[i].data.ptr, evs[i].events);
		}
	}
	unlink(argv[2]);
	return 0;
}
