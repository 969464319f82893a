/*
 * server_int.h: what server.c (sessions, dispatch) and call.c (a call's
 * lifetime and answers) share. Internal to src/grpc.
 *
 * Ownership: the server owns its connections (conns), a connection owns
 * its calls (calls), a call owns its queued output, its request until
 * dispatch, and its strings. A call is freed only by call_free(), from
 * nghttp2's stream-close callback or from conn_destroy(); never inside a
 * handler or a close callback.
 */
#ifndef GDP_GRPC_SERVER_INT_H
#define GDP_GRPC_SERVER_INT_H

#include <sys/queue.h>

#include <nghttp2/nghttp2.h>

#include "grpc/h2conn.h"
#include "grpc/request.h"
#include "grpc/server.h"

/* One encoded message (prefix included) waiting for HTTP/2. */
struct outmsg {
	STAILQ_ENTRY(outmsg) link;
	size_t len;
	size_t off;
	uint8_t data[];
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
	unsigned nmsgs;
	int64_t deadline_ns;             /* loop_now_ns() clock; 0: none */

	bool remote_closed;              /* client half-closed */
	bool responded;                  /* an early error answered it */
	bool dispatched;                 /* the application holds it */
	bool headers_sent;
	bool finished;                   /* status decided */
	bool deferred;                   /* data provider waiting */
	bool deadline_hit;
	bool trailers_queued;            /* the status is with nghttp2 */
	int status;
	char *status_msg;                /* percent-encoded, or NULL */
	const char *status_static;       /* used when status_msg is NULL */

	STAILQ_HEAD(outmsg_queue, outmsg) queue;
	size_t queued;
	size_t sent_msgs;
	struct loop_timer *deadline;
	grpc_close_cb close_cb;
	void *close_arg;
	void *data;
};

struct conn {
	struct grpc_server *server;
	struct h2conn h2;
	LIST_ENTRY(conn) link;           /* in server->conns */
	LIST_HEAD(call_list, grpc_call) calls;
	bool dead;                       /* reap without flushing */
	bool closing;                    /* reap after a last flush */
};

struct grpc_server {
	struct loop *loop;
	const struct grpc_method *methods;
	size_t nmethods;
	void *app;
	struct grpc_server_options opts;
	struct grpc_server_stats stats;
	nghttp2_session_callbacks *callbacks;
	nghttp2_option *option;
	int listen_fd;
	char *path;
	LIST_HEAD(conn_list, conn) conns;
	bool shutting_down;
	bool hooked;
};

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
