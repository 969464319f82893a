/*
 * server_int.h: what the server's files share (server.c: the server
 * object, listening, accepting; conn.c: connections; callbacks.c: the
 * nghttp2 callbacks; dispatch.c: the request path; limits.c: what a peer
 * may hold and for how long; call.c: a call's lifetime and answers).
 * Internal to src/grpc.
 *
 * Ownership: the server owns its connections (conns), a connection owns
 * its calls (calls), a call owns its queued output, its request until
 * dispatch, and its strings. A call is freed only by call_free(), from
 * nghttp2's stream-close callback or from conn_destroy(); never inside a
 * handler or a close callback.
 *
 * Bookkeeping for the limits (limits.c): every connection is on one
 * eviction list (fresh: never made progress; ranked: by last progress,
 * stalest first), on at most one wait list (preface or idle, in the order
 * the wait began: all waits of a kind have the same timeout, so the head
 * is always the next to expire) and on the dirty list while it has output
 * to flush; every call whose request is unfinished is on the requests
 * list, in the order its stream opened. All of it is O(1) per event, so a
 * loop turn costs what the busy connections cost, however many idle ones
 * there are.
 */
#ifndef GDP_GRPC_SERVER_INT_H
#define GDP_GRPC_SERVER_INT_H

#include <sys/queue.h>

#include <nghttp2/nghttp2.h>

#include "grpc/h2conn.h"
#include "grpc/pool.h"
#include "grpc/request.h"
#include "grpc/server.h"

/* One encoded message (prefix included) waiting for HTTP/2. */
struct outmsg {
	STAILQ_ENTRY(outmsg) link;
	size_t len;
	size_t off;
	bool in_arena;                   /* freed with its call's arena */
	uint8_t data[];
};

/*
 * A call's bump allocator (dispatch.c): one allocation, made when the
 * request message arrives, holds the decoded request and, room
 * permitting, the first answers, so that a small call costs two heap
 * allocations (the call and this) instead of one per protobuf field and
 * message. Nothing in it is freed before the call is.
 */
struct call_arena {
	uint8_t *base;                   /* owned; NULL: none (the heap) */
	size_t used;
	size_t cap;                      /* CALL_ARENA_POOLED: pooled */
};

/* The size of the arenas the server pools (larger ones are not), and
 * how many free calls and arenas each pool keeps (pool.h). */
#define CALL_ARENA_POOLED ((size_t)2048)
#define CALL_POOL_MAX 64

/* The decode budget of a request (dispatch.c): what protobuf-c may
 * allocate for it, counted as malloc would. */
struct decode_budget {
	size_t used;
	size_t max;
	bool refused;
};

struct conn;

struct grpc_call {
	struct conn *conn;
	LIST_ENTRY(grpc_call) link;      /* in conn->calls */
	int32_t stream_id;
	const struct grpc_method *method;
	struct grpc_request_head head;   /* what the request headers said */
	struct grpc_reader reader;
	ProtobufCMessage *request;       /* decoded, until dispatch */
	ProtobufCAllocator decoder;      /* |request|'s: budget, arena */
	struct decode_budget budget;
	struct call_arena arena;
	size_t decoded;                  /* bytes |request| holds */
	unsigned nmsgs;
	int64_t deadline_ns;             /* loop_now_ns() clock; 0: none */
	int64_t dispatched_ns;           /* with on_call_end only */

	bool remote_closed;              /* client half-closed */
	bool responded;                  /* an early error answered it */
	bool dispatched;                 /* the application holds it */
	bool headers_sent;
	bool finished;                   /* status decided */
	bool deferred;                   /* data provider waiting */
	bool deadline_hit;
	bool trailers_queued;            /* the status is with nghttp2 */
	bool trailers_early;             /* ... before the client finished:
	                                  * counted in conn->trailers_early */
	bool headers_done;               /* the request's HEADERS are in */
	bool headers_too_large;          /* over max_header_list */
	bool in_requests;                /* on server->requests */
	int status;
	char *status_msg;                /* percent-encoded, or NULL */
	const char *status_static;       /* used when status_msg is NULL */

	STAILQ_HEAD(outmsg_queue, outmsg) queue;
	size_t queued;
	size_t partial;                  /* bytes the reader and an
	                                  * undispatched request hold */
	/* What is left of max_header_list, as RFC 9113 6.5.2 counts. */
	size_t header_room;
	int64_t opened_ms;               /* when its stream opened */
	TAILQ_ENTRY(grpc_call) req_link; /* in server->requests */
	size_t sent_msgs;
	struct loop_timer *deadline;
	grpc_close_cb close_cb;
	void *close_arg;
	void *data;
};

enum conn_wait {
	CONN_WAIT_NONE,
	CONN_WAIT_PREFACE,               /* for the client's SETTINGS */
	CONN_WAIT_IDLE,                  /* for a stream */
};

struct conn {
	struct grpc_server *server;
	struct h2conn h2;
	LIST_ENTRY(conn) link;           /* in server->conns */
	TAILQ_ENTRY(conn) rank_link;     /* in server->fresh or ->ranked */
	TAILQ_ENTRY(conn) wait_link;     /* in the list of its wait */
	TAILQ_ENTRY(conn) dirty_link;    /* in server->dirty */
	LIST_HEAD(call_list, grpc_call) calls;
	unsigned ncalls;
	unsigned trailers_early;         /* calls whose status went out
	                                  * before their request ended */
	enum conn_wait wait;
	int64_t wait_since_ms;
	size_t partial;                  /* its calls' partial bytes */
	size_t queued;                   /* its calls' queued bytes */
	bool progressed;                 /* on ranked, not fresh */
	bool preface_done;
	bool dirty;
	bool dead;                       /* reap without flushing */
	bool closing;                    /* reap after a last flush */
	/* The last stream's call, to spare nghttp2's lookup per callback. */
	int32_t last_stream;             /* 0: none cached */
	struct grpc_call *last_call;     /* not owned; NULL: no call */
};

TAILQ_HEAD(conn_queue, conn);

struct grpc_server {
	struct loop *loop;
	struct grpc_methods methods;
	void *app;
	struct grpc_server_options opts;
	struct grpc_server_stats stats;
	nghttp2_session_callbacks *callbacks;
	nghttp2_option *option;
	int listen_fd;
	char *path;
	LIST_HEAD(conn_list, conn) conns;
	struct conn_queue fresh, ranked;      /* eviction order */
	struct conn_queue preface_wait, idle_wait;
	struct conn_queue dirty;
	TAILQ_HEAD(call_queue, grpc_call) requests;
	struct loop_timer *sweep;             /* the timeouts */
	int64_t sweep_at_ms;                  /* its next run */
	bool in_sweep;
	struct loop_timer *accept_rest;       /* after an accept failure */
	int64_t accept_rest_ms;               /* the next rest's length */
	bool accept_paused;
	bool accept_told;                     /* on_event ran this episode */
	struct pool call_pool;                /* free struct grpc_call */
	struct pool arena_pool;               /* free call arenas */
	size_t partial_total;
	size_t trim_debt;                     /* bytes freed since a trim */
	bool shutting_down;
	bool hooked;
};

/* The sweep timer's next run when nothing waits. */
#define SWEEP_NEVER INT64_MAX

/* ---- conn.c ---- */

/* Starts a connection on |fd| (closed on failure). Returns 0 or -ENOMEM. */
int conn_start(struct grpc_server *server, int fd);
/* Closes |conn| now, telling its calls; frees it. Not from its callbacks. */
void conn_destroy(struct conn *conn);
/*
 * Tells the peer why with GOAWAY(|code|) and a debug text, lets go of
 * what it buffered, and closes the connection after a last flush. Safe
 * inside the connection's nghttp2 callbacks.
 */
void conn_calm(struct conn *conn, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends |conn| away now, to make room (not from its own callbacks). */
void conn_evict(struct conn *conn, const char *why);
/* |conn| has output for nghttp2 to send: the before-sleep hook flushes it. */
void conn_touch(struct conn *conn);
/* The before-sleep hook (|arg| is the server). */
void server_flush_all(struct loop *loop, void *arg);

/* ---- callbacks.c ---- */

/* The server sessions' callbacks, into |out|. Returns 0 or -ENOMEM. */
int server_make_callbacks(nghttp2_session_callbacks **out);

/* ---- dispatch.c ---- */

/* All request headers are in: answer bad requests, or get ready. */
void call_headers_done(struct grpc_call *call);
/* |len| bytes of the request body arrived. */
void call_feed(struct grpc_call *call, const uint8_t *data, size_t len);
/* The client half-closed: run the handler if the request is whole. */
void call_dispatch(struct grpc_call *call);
/* Frees the decoded request, if any (its memory counts as freed). */
void call_free_request(struct grpc_call *call);
/* |size| bytes from |call|'s arena, or NULL (no errno) if it has no room. */
void *call_arena_alloc(struct grpc_call *call, size_t size);
void call_arena_free(struct grpc_call *call);

/* ---- limits.c ---- */

/* A request dispatched or our DATA sent: last in line to be evicted. */
void conn_progress(struct conn *conn);
/* The connection to send away first, or NULL if there is none. */
struct conn *server_stalest(struct grpc_server *server);
/* Starts waiting for |wait| (or stops waiting, with CONN_WAIT_NONE). */
void conn_wait(struct conn *conn, enum conn_wait wait);
/* The client's preface and first SETTINGS are in. */
void conn_preface_done(struct conn *conn);
/* A call was made, or is about to be freed, on its connection. */
void conn_call_added(struct conn *conn, struct grpc_call *call);
void conn_call_removed(struct conn *conn, struct grpc_call *call);
/* The request is whole (or answered): its timeout no longer runs. */
void call_request_done(struct grpc_call *call);
/* Brings the partial-message accounting up to date with |call|'s reader. */
void call_account_partial(struct grpc_call *call);
/* Lets go of |call|'s unfinished message and undispatched request. */
void call_drop_request(struct grpc_call *call);
void conn_drop_partials(struct conn *conn);
/* After |conn| buffered more: GOAWAY past a limit. */
void conn_check_partials(struct conn *conn);
/*
 * Makes room for |len| more bytes of output from |conn| under the total
 * limit, sending away the other connections holding the most; false if
 * even that cannot (|conn| itself holds the most).
 */
bool server_output_room(struct conn *conn, size_t len);
/* Counts |bytes| freed towards the next malloc_trim(), and trims. */
void server_freed(struct grpc_server *server, size_t bytes);
void server_maybe_trim(struct grpc_server *server);
/* The sweep timer's callback (|arg| is the server). */
int64_t server_sweep(struct loop *loop, void *arg);

/* ---- call.c ---- */

/* A call for |stream_id| on |conn|, or NULL with errno = ENOMEM. */
struct grpc_call *call_new(struct conn *conn, int32_t stream_id);
/* Unlinks and frees |call| and everything it owns. */
void call_free(struct grpc_call *call);
/* Runs the close callback if the application holds |call|. */
void call_notify_closed(struct grpc_call *call, enum grpc_close_reason reason);
/* nghttp2 closed the stream with |error_code|: tell the application. */
void call_stream_closed(struct grpc_call *call, uint32_t error_code);
/*
 * Answers a call the application never saw (a bad request): Trailers-Only
 * with |http_status|, |code| and |message|.
 */
void call_respond_early(struct grpc_call *call, const char *http_status,
    int code, const char *message);
void call_respond_early_fmt(struct grpc_call *call, int code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Resets the stream with |error_code|; if even that cannot be queued, the
 * connection is closed after a last flush.
 */
void call_reset(struct grpc_call *call, uint32_t error_code);
/* Arms the deadline from |timeout_ns| (> 0). Returns 0 or -ENOMEM. */
int call_arm_deadline(struct grpc_call *call, int64_t timeout_ns);

#endif /* GDP_GRPC_SERVER_INT_H */
