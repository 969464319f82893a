/*
 * limits.c: what a peer may hold and for how long (docs/grpc.md), in
 * O(1) bookkeeping per event (see server_int.h).
 *
 * A peer that goes past a limit is told with GOAWAY (ENHANCE_YOUR_CALM,
 * a debug text naming the limit) and its connection closes after a last
 * flush (conn_calm), or its call is answered with RESOURCE_EXHAUSTED.
 *   - Unfinished request bytes (the reader's partial message and an
 *     undispatched request) are counted per connection and in all.
 *   - Queued output is bounded in all too: past the total, the other
 *     connection holding the most is sent away (a peer that does not
 *     read), so the kubelet, which reads, is still answered.
 *   - Eviction order: at max_connections (conn.c) or EMFILE (server.c)
 *     the connection longest without progress (a request dispatched, or
 *     DATA of ours sent) is sent away, those that never made any first.
 *     The kubelet makes progress, and a peer that never sends its
 *     preface, never finishes a request or never reads its answers does
 *     not.
 *   - One sweep timer ends the preface, idle and request timeouts; each
 *     kind waits in a list in the order its wait began, so the heads are
 *     the next to expire.
 *   - The heap is trimmed once 16 MiB are freed, so a flood's memory goes
 *     back to the system.
 */
#include "server_int.h"

#include <malloc.h>

#include "util/alloc.h"
#include "util/blockcache.h"

/* Bytes freed before the heap is trimmed. */
#define TRIM_AFTER ((size_t)16 << 20)

/* A request dispatched or our DATA sent: last in line to be evicted. */
void
conn_progress(struct conn *conn)
{
	struct grpc_server *server = conn->server;

	if (conn->progressed && TAILQ_LAST(&server->ranked, conn_queue) ==
	    conn)
		return;   /* already last in line */
	TAILQ_REMOVE(conn->progressed ? &server->ranked : &server->fresh, conn,
	    rank_link);
	conn->progressed = true;
	TAILQ_INSERT_TAIL(&server->ranked, conn, rank_link);
}

/* The connection to send away first: never progressed, else server_stalest. */
struct conn *
server_stalest(struct grpc_server *server)
{
	struct conn *conn = TAILQ_FIRST(&server->fresh);

	return conn != NULL ? conn : TAILQ_FIRST(&server->ranked);
}

static int64_t
wait_timeout(const struct grpc_server *server, enum conn_wait wait)
{
	return wait == CONN_WAIT_PREFACE ? server->opts.preface_timeout_ms :
	    server->opts.idle_timeout_ms;
}

static struct conn_queue *
wait_list(struct grpc_server *server, enum conn_wait wait)
{
	return wait == CONN_WAIT_PREFACE ? &server->preface_wait :
	    &server->idle_wait;
}

/* The sweep runs at |at_ms| at the latest. */
static void
sweep_by(struct grpc_server *server, int64_t at_ms)
{
	int64_t delay;

	if (server->in_sweep || at_ms >= server->sweep_at_ms)
		return;   /* a sweep in progress computes its own next run */
	server->sweep_at_ms = at_ms;
	delay = at_ms - loop_now_ms();
	loop_timer_reset(server->loop, server->sweep, delay > 0 ? delay : 0);
}

/* Starts waiting for |wait| (or stops waiting, with CONN_WAIT_NONE). */
void
conn_wait(struct conn *conn, enum conn_wait wait)
{
	struct grpc_server *server = conn->server;

	if (conn->wait != CONN_WAIT_NONE)
		TAILQ_REMOVE(wait_list(server, conn->wait), conn, wait_link);
	conn->wait = CONN_WAIT_NONE;
	if (wait == CONN_WAIT_NONE || wait_timeout(server, wait) < 0)
		return;
	conn->wait = wait;
	conn->wait_since_ms = loop_round_ms(server->loop);
	TAILQ_INSERT_TAIL(wait_list(server, wait), conn, wait_link);
	sweep_by(server, conn->wait_since_ms + wait_timeout(server, wait));
}

/* The client's preface and first SETTINGS are in. */
void
conn_preface_done(struct conn *conn)
{
	conn->preface_done = true;
	conn_wait(conn, conn->ncalls == 0 ? CONN_WAIT_IDLE : CONN_WAIT_NONE);
}

void
conn_call_added(struct conn *conn, struct grpc_call *call)
{
	struct grpc_server *server = conn->server;

	conn->ncalls++;
	if (conn->wait == CONN_WAIT_IDLE)
		conn_wait(conn, CONN_WAIT_NONE);
	call->opened_ms = loop_round_ms(server->loop);
	if (server->opts.request_timeout_ms < 0)
		return;
	call->in_requests = true;
	TAILQ_INSERT_TAIL(&server->requests, call, req_link);
	sweep_by(server, call->opened_ms + server->opts.request_timeout_ms);
}

/* The request is whole (or answered): its timeout no longer runs. */
void
call_request_done(struct grpc_call *call)
{
	if (!call->in_requests)
		return;
	call->in_requests = false;
	TAILQ_REMOVE(&call->conn->server->requests, call, req_link);
}

void
conn_call_removed(struct conn *conn, struct grpc_call *call)
{
	call_request_done(call);
	grpc_reader_reset(&call->reader);
	call_account_partial(call);
	conn->ncalls--;
	if (conn->ncalls == 0 && conn->preface_done && !conn->dead &&
	    !conn->closing)
		conn_wait(conn, CONN_WAIT_IDLE);
}

void
server_freed(struct grpc_server *server, size_t bytes)
{
	server->trim_debt += bytes;
}

/* Gives freed heap back to the system once enough of it was freed. */
void
server_maybe_trim(struct grpc_server *server)
{
	if (server->trim_debt < TRIM_AFTER)
		return;
	server->trim_debt = 0;
	server->stats.trims++;
	blockcache_drain();
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

void
call_account_partial(struct grpc_call *call)
{
	struct conn *conn = call->conn;
	struct grpc_server *server = conn->server;
	size_t now = (call->reader.msg != NULL ? call->reader.msg_len : 0) +
	    (call->request != NULL ? call->decoded : 0);

	if (now == call->partial)
		return;
	conn->partial = conn->partial - call->partial + now;
	server->partial_total = server->partial_total - call->partial + now;
	server->stats.partial_bytes = server->partial_total;
	if (now < call->partial)
		server_freed(server, call->partial - now);
	call->partial = now;
}

/* Lets go of |call|'s unfinished message and undispatched request; the
 * rest of its body is ignored. */
void
call_drop_request(struct grpc_call *call)
{
	grpc_reader_reset(&call->reader);
	call->reader.failed = true;   /* takes nothing more */
	call_free_request(call);
	call_account_partial(call);
}

void
conn_drop_partials(struct conn *conn)
{
	struct grpc_call *call;

	LIST_FOREACH(call, &conn->calls, link)
		call_drop_request(call);
}

/* What a connection holds that a total limit counts. */
enum holding { HOLDING_PARTIAL, HOLDING_OUTPUT };

static size_t
held(const struct conn *conn, enum holding what)
{
	return what == HOLDING_PARTIAL ? conn->partial : conn->queued;
}

/*
 * The live connection other than |self| (NULL: any) that holds the most
 * of |what|, or NULL if none holds any.
 */
static struct conn *
biggest_holder(struct grpc_server *server, const struct conn *self,
    enum holding what)
{
	struct conn *conn, *big = NULL;

	LIST_FOREACH(conn, &server->conns, link)
		if (conn != self && !conn->closing && !conn->dead &&
		    held(conn, what) > (big ? held(big, what) : 0))
			big = conn;
	return big;
}

/* After |conn| buffered more: GOAWAY past a limit (see the top). */
void
conn_check_partials(struct conn *conn)
{
	struct grpc_server *server = conn->server;
	struct conn *big;

	if (conn->partial > server->opts.max_partial_per_conn) {
		server->stats.partial_calmed++;
		conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "unfinished request "
		    "messages over %zu bytes on one connection",
		    server->opts.max_partial_per_conn);
		return;
	}
	while (server->partial_total > server->opts.max_partial_total &&
	    (big = biggest_holder(server, NULL,
	    HOLDING_PARTIAL)) != NULL) {
		server->stats.partial_calmed++;
		conn_calm(big, NGHTTP2_ENHANCE_YOUR_CALM, "unfinished request "
		    "messages over %zu bytes on all connections, this one "
		    "holding the most", server->opts.max_partial_total);
	}
}

/* Output queued on connections not already on their way out. */
static size_t
live_output(const struct grpc_server *server)
{
	const struct conn *conn;
	size_t live = 0;

	LIST_FOREACH(conn, &server->conns, link)
		if (!conn->closing && !conn->dead)
			live += conn->queued;
	return live;
}

/* O(1) under the limit; a walk of the connections only past it. */
bool
server_output_room(struct conn *conn, size_t len)
{
	struct grpc_server *server = conn->server;
	size_t max = server->opts.max_total_queue, live;
	struct conn *big;

	if (len <= max && server->stats.queued_bytes <= max - len)
		return true;
	live = live_output(server);
	while ((len > max || live > max - len) &&
	    (big = biggest_holder(server, conn,
	    HOLDING_OUTPUT)) != NULL) {
		server->stats.output_calmed++;
		live -= big->queued;
		conn_calm(big, NGHTTP2_ENHANCE_YOUR_CALM, "answers queued over "
		    "%zu bytes on all connections, this one holding the most",
		    max);
	}
	return len <= max && live <= max - len;
}

static void
request_timed_out(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;

	server->stats.request_timeouts++;
	if (!call->headers_done) {
		/* A header block in progress holds the whole connection. */
		conn_calm(call->conn, NGHTTP2_ENHANCE_YOUR_CALM, "request "
		    "headers not finished within %lld ms",
		    (long long)server->opts.request_timeout_ms);
		return;
	}
	call_drop_request(call);
	call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED, "grpc: the "
	    "request was not finished within the server's request timeout "
	    "(%lld ms)", (long long)server->opts.request_timeout_ms);
}

/* Ends the expired waits and requests; returns when the next one is. */
static int64_t
sweep_lists(struct grpc_server *server, int64_t now)
{
	int64_t next = SWEEP_NEVER, pt = server->opts.preface_timeout_ms,
	    it = server->opts.idle_timeout_ms,
	    rt = server->opts.request_timeout_ms;
	struct grpc_call *call;
	struct conn *conn;

	while ((conn = TAILQ_FIRST(&server->preface_wait)) != NULL &&
	    conn->wait_since_ms + pt <= now) {
		conn_wait(conn, CONN_WAIT_NONE);
		server->stats.preface_timeouts++;
		conn_calm(conn, NGHTTP2_ENHANCE_YOUR_CALM, "no HTTP/2 preface "
		    "and SETTINGS within %lld ms", (long long)pt);
	}
	if (conn != NULL)
		next = conn->wait_since_ms + pt;
	while ((conn = TAILQ_FIRST(&server->idle_wait)) != NULL &&
	    conn->wait_since_ms + it <= now) {
		conn_wait(conn, CONN_WAIT_NONE);
		server->stats.idle_timeouts++;
		conn_calm(conn, NGHTTP2_NO_ERROR, "idle for %lld ms",
		    (long long)it);
	}
	if (conn != NULL && conn->wait_since_ms + it < next)
		next = conn->wait_since_ms + it;
	while ((call = TAILQ_FIRST(&server->requests)) != NULL &&
	    call->opened_ms + rt <= now) {
		call_request_done(call);
		if (!call->responded && !call->conn->closing)
			request_timed_out(call);
	}
	if (call != NULL && call->opened_ms + rt < next)
		next = call->opened_ms + rt;
	return next;
}

int64_t
server_sweep(struct loop *loop, void *arg)
{
	struct grpc_server *server = arg;
	int64_t now = loop_now_ms(), next;

	server->in_sweep = true;
	next = sweep_lists(server, now);
	server->in_sweep = false;
	server->sweep_at_ms = next;
	if (next == SWEEP_NEVER)
		return LOOP_MAX_DELAY_MS;
	return next > now ? next - now : 0;
}
