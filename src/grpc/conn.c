/*
 * conn.c: a connection's lifetime (start, I/O, GOAWAY and close) and the
 * dirty list the before-sleep hook flushes, so that each loop turn
 * writes once per connection with output, and only to those.
 *
 * Nothing is destroyed inside an nghttp2 callback: a connection that fails
 * there is marked dead (or closing, after conn_calm) and reaped by the
 * before-sleep hook or at the end of its own I/O callback.
 */
#include "server_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (4 << 20)
/* What a closed connection is counted for towards the next trim (its
 * nghttp2 session and buffers, roughly). */
#define CONN_FOOTPRINT ((size_t)16 << 10)

void
conn_touch(struct conn *conn)
{
	if (conn->dirty || conn->dead)
		return;
	conn->dirty = true;
	TAILQ_INSERT_TAIL(&conn->server->dirty, conn, dirty_link);
}

static void
conn_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *conn = arg;
	int rc = 0;

	if (events & (LOOP_READ | LOOP_HUP))
		rc = h2conn_read(&conn->h2);
	if (rc == 0 && !conn->dead)
		rc = h2conn_flush(&conn->h2);
	if (rc < 0 || conn->dead || conn->closing ||
	    h2conn_finished(&conn->h2))
		conn_destroy(conn);
}

void
conn_destroy(struct conn *conn)
{
	struct grpc_server *server = conn->server;
	enum grpc_close_reason reason = server->shutting_down ?
	    GRPC_CLOSE_SHUTDOWN : GRPC_CLOSE_PEER_GONE;
	struct grpc_call *call;

	/* Close callbacks may send on other calls of this connection:
	 * being dead, it takes nothing more. */
	conn->dead = true;
	while ((call = LIST_FIRST(&conn->calls)) != NULL) {
		call_notify_closed(call, reason);
		call_free(call);
	}
	conn_wait(conn, CONN_WAIT_NONE);
	if (conn->dirty)
		TAILQ_REMOVE(&server->dirty, conn, dirty_link);
	TAILQ_REMOVE(conn->progressed ? &server->ranked : &server->fresh, conn,
	    rank_link);
	h2conn_close(&conn->h2);
	LIST_REMOVE(conn, link);
	server->stats.conns_open--;
	server_freed(server, CONN_FOOTPRINT);
	gdp_free(conn);
}

/*
 * Tells the peer why with GOAWAY(|code|) and a debug text, lets go of
 * what it buffered, and closes the connection after a last flush. Safe
 * inside the connection's nghttp2 callbacks; if the GOAWAY cannot be
 * queued the connection just closes.
 */
void
conn_calm(struct conn *conn, uint32_t code, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	int n;

	if (conn->closing || conn->dead)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)nghttp2_submit_goaway(conn->h2.session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(conn->h2.session), code,
	    (const uint8_t *)why, n < 0 ? 0 : strlen(why));
	conn->closing = true;
	conn_wait(conn, CONN_WAIT_NONE);
	conn_drop_partials(conn);
	conn_touch(conn);
}

/* Sends |conn| away now, to make room (not from its own callbacks). */
void
conn_evict(struct conn *conn, const char *why)
{
	conn->server->stats.conns_evicted++;
	conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "%s", why);
	(void)h2conn_flush(&conn->h2);
	conn_destroy(conn);
}

static int
conn_settings(struct grpc_server *server, nghttp2_session *session)
{
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		  server->opts.max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  server->opts.max_header_list },
	};

	/*
	 * No SETTINGS_NO_RFC7540_PRIORITIES: with it, nghttp2 1.52 leaves a
	 * DATA item attached to its stream when its scheduler queue cannot
	 * grow (an allocation failure inside nghttp2_submit_data) and frees
	 * it twice later; test_server_faults meets it. PRIORITY frames stay
	 * cheap anyway: nghttp2 keeps at most max_concurrent_streams idle
	 * streams for them, so each costs bounded work (docs/grpc.md).
	 */

	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
	    sizeof(settings) / sizeof(settings[0])) != 0 ||
	    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE,
	    0, CONN_WINDOW) != 0)
		return -ENOMEM;
	return 0;
}

int
conn_start(struct grpc_server *server, int fd)
{
	nghttp2_session *session;
	struct conn *conn;
	struct conn *victim;
	int rc = -ENOMEM;

	if (server->stats.conns_open >= server->opts.max_connections &&
	    (victim = server_stalest(server)) != NULL)
		conn_evict(victim, "too many connections: this one made no "
		    "progress for the longest");
	if ((conn = gdp_calloc(1, sizeof(*conn))) == NULL)
		goto out_close_fd;
	conn->server = server;
	LIST_INIT(&conn->calls);
	/* Only allocation can fail here (or nothing: the rest is ours). */
	if (nghttp2_session_server_new3(&session, server->callbacks, conn,
	    server->option, gdp_nghttp2_mem()) != 0)
		goto out_free_conn;
	if (conn_settings(server, session) < 0)
		goto out_del_session;
	rc = h2conn_init(&conn->h2, server->loop, fd, session, conn_io, conn);
	if (rc < 0)
		goto out_del_session;
	LIST_INSERT_HEAD(&server->conns, conn, link);
	TAILQ_INSERT_TAIL(&server->fresh, conn, rank_link);
	server->stats.conns_open++;
	server->stats.conns_total++;
	conn_wait(conn, CONN_WAIT_PREFACE);
	/* Our SETTINGS go first: grpc-go's client waits for them. A socket
	 * that fails already is a connection that closed at once. */
	if (h2conn_flush(&conn->h2) < 0)
		conn_destroy(conn);
	return 0;

out_del_session:
	nghttp2_session_del(session);
out_free_conn:
	gdp_free(conn);
out_close_fd:
	close(fd);
	return rc;
}

/* Before sleep: flushes the connections with output, and only those. */
void
server_flush_all(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	struct conn *conn;

	while ((conn = TAILQ_FIRST(&server->dirty)) != NULL) {
		TAILQ_REMOVE(&server->dirty, conn, dirty_link);
		conn->dirty = false;
		server->stats.flush_visits++;
		if (conn->dead || h2conn_flush(&conn->h2) < 0 ||
		    conn->closing || h2conn_finished(&conn->h2))
			conn_destroy(conn);
	}
	server_maybe_trim(server);
}
