/*
 * floor_server.c: the benchmark's floor reference.
 *
 * The same event loop and the same nghttp2 session setup as our gRPC
 * server (src/loop, src/grpc/h2conn, the same session options), but each
 * request, once its END_STREAM arrives, is answered with one fixed,
 * pre-encoded gRPC response: no method lookup, no protobuf decoding or
 * encoding, no call objects. What our server costs above this is the cost
 * of being a real gRPC server.
 *
 * Usage: floor-server --socket PATH   (prints "ready"; SIGTERM stops it)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "deviceplugin.pb-c.h"
#include "grpc/codec.h"
#include "grpc/h2conn.h"
#include "loop/loop.h"

struct floor {
	struct loop *loop;
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	uint8_t *reply;         /* prefix + encoded AllocateResponse */
	size_t reply_len;
};

struct fconn {
	struct floor *fl;
	struct h2conn h2;
};

static ssize_t
read_reply(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct fconn *c = arg;

	memcpy(buf, c->fl->reply, c->fl->reply_len); /* fits one frame */
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	{
		nghttp2_nv tr[] = { { (uint8_t *)"grpc-status",
			(uint8_t *)"0", 11, 1, 0 } };

		nghttp2_submit_trailer(s, id, tr, 1);
	}
	return (ssize_t)c->fl->reply_len;
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	nghttp2_nv nva[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc",
		  12, 16, 0 },
	};
	nghttp2_data_provider dp = { .read_callback = read_reply };

	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		nghttp2_submit_response(s, f->hd.stream_id, nva, 2, &dp);
	return 0;
}

static void
conn_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct fconn *c = arg;
	int rc = 0;

	if (events & (LOOP_READ | LOOP_HUP))
		rc = h2conn_read(&c->h2);
	if (rc == 0)
		rc = h2conn_flush(&c->h2);
	if (rc < 0 || h2conn_finished(&c->h2)) {
		h2conn_close(&c->h2);
		free(c);
	}
}

static void
on_accept(struct loop *loop, int lfd, unsigned events, void *arg)
{
	struct floor *fl = arg;
	nghttp2_settings_entry st[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	int fd;

	while ((fd = accept4(lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct fconn *c = calloc(1, sizeof(*c));
		nghttp2_session *s;

		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fl = fl;
		nghttp2_session_server_new2(&s, fl->cb, c, fl->opt);
		nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, st, 2);
		nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
		    4 << 20);
		if (h2conn_init(&c->h2, loop, fd, s, conn_io, c) < 0) {
			nghttp2_session_del(s);
			close(fd);
			free(c);
			continue;
		}
		h2conn_flush(&c->h2);
	}
}

/* The reply our server sends for the benchmark's request, encoded once. */
static void
encode_reply(struct floor *fl)
{
	V1beta1__ContainerAllocateResponse__EnvsEntry env =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry *envs[] = { &env };
	V1beta1__ContainerAllocateResponse cr =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT;
	V1beta1__ContainerAllocateResponse *crs[] = { &cr };
	V1beta1__AllocateResponse resp = V1BETA1__ALLOCATE_RESPONSE__INIT;
	size_t len;

	env.key = "DEVICES";
	env.value = "GPU-4d2a9a8e-1c7e-4b1e-9f0a-3c5d6e7f8a9b";
	cr.envs = envs;
	cr.n_envs = 1;
	resp.container_responses = crs;
	resp.n_container_responses = 1;
	len = protobuf_c_message_get_packed_size(&resp.base);
	fl->reply = malloc(GRPC_PREFIX_LEN + len);
	if (fl->reply == NULL)
		exit(1);
	grpc_prefix_write(fl->reply, (uint32_t)len);
	protobuf_c_message_pack(&resp.base, fl->reply + GRPC_PREFIX_LEN);
	fl->reply_len = GRPC_PREFIX_LEN + len;
}

static void
on_stop(struct loop *loop, int signo, void *arg)
{
	loop_stop(loop);
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct floor fl = { 0 };
	int lfd;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0 ||
	    strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: floor-server --socket PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	encode_reply(&fl);
	fl.loop = loop_new();
	nghttp2_session_callbacks_new(&fl.cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(fl.cb, on_frame);
	nghttp2_option_new(&fl.opt);
	nghttp2_option_set_no_http_messaging(fl.opt, 1);
	nghttp2_option_set_no_closed_streams(fl.opt, 1);
	memcpy(sa.sun_path, argv[2], strlen(argv[2]) + 1); /* length checked */
	unlink(argv[2]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 128) < 0) {
		fprintf(stderr, "floor-server: %s: %s\n", argv[2],
		    strerror(errno));
		return 1;
	}
	loop_add_fd(fl.loop, lfd, LOOP_READ, on_accept, &fl);
	loop_add_signal(fl.loop, SIGTERM, on_stop, NULL);
	loop_add_signal(fl.loop, SIGINT, on_stop, NULL);
	printf("ready\n");
	fflush(stdout);
	loop_run(fl.loop);
	unlink(argv[2]);
	return 0;
}
