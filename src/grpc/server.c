/*
 * server.c: the gRPC server object (see server.h for the contract):
 * options and their defaults, listening, accepting, shutdown.
 *
 * The other concerns have their own files, sharing server_int.h:
 * conn.c (a connection's lifetime and its output), callbacks.c (the
 * nghttp2 callbacks), dispatch.c (a request's checks, decoding and
 * dispatch), limits.c (what a peer may hold, and for how long), call.c
 * (a call's answers).
 *
 * HTTP messaging checks in nghttp2 are off, because they reject the
 * :authority values older kubelets send (a raw socket path, an empty one,
 * or none); what gRPC needs is checked by request.c instead. Closed
 * streams are not retained (nghttp2_option_set_no_closed_streams), which
 * keeps memory flat under load.
 *
 * EMFILE on accept sends the connection longest without progress away
 * (limits.c ranks them); if that does not help, the listener rests
 * (100 ms, doubling to 1 s) instead of spinning.
 */
#include "server_int.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/listen.h"
#include "util/alloc.h"

#define DEFAULT_MAX_STREAM_QUEUE ((size_t)8 << 20)
#define DEFAULT_MAX_CONCURRENT_STREAMS 128
#define DEFAULT_MAX_CONNECTIONS 128
#define DEFAULT_MAX_PARTIAL_PER_CONN ((size_t)16 << 20)
#define DEFAULT_MAX_PARTIAL_TOTAL ((size_t)64 << 20)
#define DEFAULT_MAX_CONN_QUEUE ((size_t)16 << 20)
#define DEFAULT_MAX_TOTAL_QUEUE ((size_t)64 << 20)
#define DEFAULT_MAX_HEADER_LIST 16384
#define DEFAULT_PREFACE_TIMEOUT_MS 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS (5 * 60000LL)
/* The listener's rest after an accept failure: first, and longest. */
#define ACCEPT_REST_MIN_MS 100
#define ACCEPT_REST_MAX_MS 1000

/* The listener stops being polled for a while (see the top). */
static void
accept_pause(struct grpc_server *server, int err)
{
	server->accept_paused = true;
	server->stats.accept_pauses++;
	(void)loop_mod_fd(server->loop, server->listen_fd, 0);
	loop_timer_reset(server->loop, server->accept_rest,
	    server->accept_rest_ms);
	if (server->accept_rest_ms < ACCEPT_REST_MAX_MS)
		server->accept_rest_ms *= 2;
	if (server->accept_rest_ms > ACCEPT_REST_MAX_MS)
		server->accept_rest_ms = ACCEPT_REST_MAX_MS;
	if (!server->accept_told && server->opts.on_event != NULL)
		server->opts.on_event(GRPC_SERVER_ACCEPT_PAUSED, err,
		    server->opts.event_arg);
	server->accept_told = true;
}

static int64_t
on_accept_rest(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;

	if (server->accept_paused && server->listen_fd >= 0 &&
	    loop_mod_fd(loop, server->listen_fd, LOOP_READ) == 0)
		server->accept_paused = false;
	else if (server->accept_paused && server->listen_fd >= 0)
		return server->accept_rest_ms;   /* try again later */
	return LOOP_MAX_DELAY_MS;
}

static bool
out_of_fds(int err)
{
	return err == EMFILE || err == ENFILE;
}

/* accept(2) meets EMFILE before it looks for a client: is one waiting? */
static bool
client_waiting(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void
on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct grpc_server *server = arg;
	bool evicted = false;
	struct conn *victim;

	for (int i = 0; i < 64 && !server->accept_paused; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int err = errno;

		if (cfd < 0 && (err == EINTR || err == ECONNABORTED))
			continue;
		if (cfd < 0 && (err == EAGAIN || err == EWOULDBLOCK))
			return;
		if (cfd < 0 && out_of_fds(err) && !client_waiting(fd))
			return;
		if (cfd < 0 && out_of_fds(err) && !evicted &&
		    (victim = server_stalest(server)) != NULL) {
			/* Make room: the newcomer may be the kubelet. */
			conn_evict(victim, "out of file descriptors: this "
			    "connection made no progress for the longest");
			evicted = true;
			continue;
		}
		if (cfd < 0) {
			accept_pause(server, err);
			return;
		}
		evicted = false;
		server->accept_told = false;
		server->accept_rest_ms = ACCEPT_REST_MIN_MS;
		/* A failure closed |cfd|: that client sees EOF and
		 * reconnects; nothing else is owed to it. */
		(void)conn_start(server, cfd);
	}
}

/* Fills in the defaults for what |opts| leaves at 0. */
static void
set_options(struct grpc_server_options *o,
    const struct grpc_server_options *opts)
{
	if (opts != NULL)
		*o = *opts;
#define DEFAULT(field, value) do { if (o->field == 0) o->field = (value); \
	} while (0)
	DEFAULT(max_recv_message, GRPC_DEFAULT_MAX_MESSAGE);
	DEFAULT(max_stream_queue, DEFAULT_MAX_STREAM_QUEUE);
	DEFAULT(max_concurrent_streams, DEFAULT_MAX_CONCURRENT_STREAMS);
	DEFAULT(max_connections, DEFAULT_MAX_CONNECTIONS);
	DEFAULT(max_partial_per_conn, DEFAULT_MAX_PARTIAL_PER_CONN);
	DEFAULT(max_partial_total, DEFAULT_MAX_PARTIAL_TOTAL);
	DEFAULT(max_conn_queue, DEFAULT_MAX_CONN_QUEUE);
	DEFAULT(max_total_queue, DEFAULT_MAX_TOTAL_QUEUE);
	DEFAULT(max_header_list, DEFAULT_MAX_HEADER_LIST);
	DEFAULT(preface_timeout_ms, DEFAULT_PREFACE_TIMEOUT_MS);
	DEFAULT(request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
	DEFAULT(idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS);
#undef DEFAULT
}

struct grpc_server *
grpc_server_new(struct loop *loop, const struct grpc_method *methods,
    size_t n, void *app, const struct grpc_server_options *opts)
{
	struct grpc_server *server = gdp_calloc(1, sizeof(*server));

	if (server == NULL)
		return NULL;
	if (grpc_methods_init(&server->methods, methods, n) < 0) {
		gdp_free(server);
		errno = E2BIG;
		return NULL;
	}
	server->loop = loop;
	server->app = app;
	server->listen_fd = -1;
	LIST_INIT(&server->conns);
	TAILQ_INIT(&server->fresh);
	TAILQ_INIT(&server->ranked);
	TAILQ_INIT(&server->preface_wait);
	TAILQ_INIT(&server->idle_wait);
	TAILQ_INIT(&server->dirty);
	TAILQ_INIT(&server->requests);
	set_options(&server->opts, opts);
	pool_init(&server->call_pool, sizeof(struct grpc_call), CALL_POOL_MAX);
	pool_init(&server->arena_pool, CALL_ARENA_POOLED, CALL_POOL_MAX);
	server->sweep_at_ms = SWEEP_NEVER;
	server->accept_rest_ms = ACCEPT_REST_MIN_MS;
	if (server_make_callbacks(&server->callbacks) < 0 ||
	    nghttp2_option_new(&server->option) != 0)
		goto out_free_server;
	nghttp2_option_set_no_http_messaging(server->option, 1);
	nghttp2_option_set_no_closed_streams(server->option, 1);
	/* Made now, so that no limit ever waits on an allocation. */
	server->sweep = loop_add_timer(loop, LOOP_MAX_DELAY_MS, server_sweep,
	    server);
	server->accept_rest = loop_add_timer(loop, LOOP_MAX_DELAY_MS,
	    on_accept_rest, server);
	if (server->sweep == NULL || server->accept_rest == NULL)
		goto out_free_server;
	if (loop_add_before_sleep(loop, server_flush_all, server) < 0)
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
		loop_del_before_sleep(server->loop, server_flush_all, server);
	if (server->sweep != NULL)
		loop_cancel_timer(server->loop, server->sweep);
	if (server->accept_rest != NULL)
		loop_cancel_timer(server->loop, server->accept_rest);
	pool_drain(&server->call_pool);
	pool_drain(&server->arena_pool);
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
