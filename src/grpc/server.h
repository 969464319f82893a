/*
 * server.h: a gRPC server on a unix socket, on the event loop.
 *
 * Generic: it knows method paths and protobuf-c descriptors, nothing of
 * devices. The application gives a table of methods; each request is
 * decoded with the method's descriptor and handed to its handler together
 * with a call object through which the application answers, at once or
 * later (from a timer, another call, a wake-up).
 *
 * What the wire sees (see docs/grpc.md): our SETTINGS first on every
 * connection; any :authority accepted (a raw socket path, empty, or none,
 * as older kubelets send), with only what gRPC needs checked by hand
 * (POST, a :path, content-type application/grpc*, else 415); replies as
 * headers, DATA, trailers (grpc-status, percent-encoded grpc-message), or
 * Trailers-Only for immediate errors; RST_STREAM(NO_ERROR) after trailers
 * when the client has not half-closed; grpc-timeout enforced (grpc-status
 * 4, then RST_STREAM(CANCEL) if the client has not half-closed); GOAWAY on
 * shutdown. Closed streams are not retained (memory stays flat).
 *
 * Every resource a peer can make the server hold is bounded, per peer and
 * in all (struct grpc_server_options; docs/grpc.md says what a peer sees
 * at each limit): connections, streams, header bytes, bytes of unfinished
 * request messages, queued output, and the time a connection may take to
 * send its preface, to finish a request, or stay without a stream.
 *
 * Ownership: the server owns every call. A call handed to a handler stays
 * valid until the application ends it (grpc_call_reply/finish/fail, with
 * whatever result) or, if the client goes away or the deadline passes
 * first, until the call's close callback returns. Never touch a call after
 * either.
 *
 * Ending is guaranteed: once grpc_call_reply/finish/fail returns, the
 * stream is ended on the wire whatever memory allows. If the status
 * message cannot be encoded, the status goes with a static message saying
 * it was lost; if the status cannot be queued, the stream is reset
 * (RST_STREAM INTERNAL_ERROR); if even that cannot be queued, the
 * connection is closed after a last flush. A call's client never waits on
 * an answer that cannot come. The same holds for the answers the server
 * gives by itself (bad requests, a deadline it cannot arm: such a call
 * fails with RESOURCE_EXHAUSTED rather than run without its deadline).
 */
#ifndef GDP_GRPC_SERVER_H
#define GDP_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "grpc/codec.h"
#include "loop/loop.h"

struct grpc_server;
struct grpc_call;

enum grpc_method_kind {
	GRPC_METHOD_UNARY,
	GRPC_METHOD_SERVER_STREAMING,
};

/*
 * |request| is decoded from the wire and freed by the server once the
 * handler returns: copy what must outlive the handler.
 */
typedef void (*grpc_handler)(struct grpc_call *call,
    const ProtobufCMessage *request, void *app);

/*
 * A method's own encoder and decoder, in place of protobuf-c's generic
 * ones (for the hot path: see wire/wire.h). Each must give protobuf-c's
 * results. The decoder's message is freed with its free_unpacked; the
 * encoder is used for messages of type |response| only.
 */
struct grpc_codec {
	ProtobufCMessage *(*unpack)(ProtobufCAllocator *a, size_t len,
	    const uint8_t *data);
	void (*free_unpacked)(ProtobufCMessage *msg, ProtobufCAllocator *a);
	const ProtobufCMessageDescriptor *response;
	size_t (*packed_size)(const ProtobufCMessage *msg);
	/* Writes exactly packed_size(msg) = |size| bytes at |out|. */
	void (*pack)(const ProtobufCMessage *msg, size_t size, uint8_t *out);
};

struct grpc_method {
	const char *path;  /* "/v1beta1.DevicePlugin/Allocate" */
	enum grpc_method_kind kind;
	const ProtobufCMessageDescriptor *request;
	grpc_handler handler;
	const struct grpc_codec *codec;   /* NULL: protobuf-c's */
};

/* Why a call ended before the application finished it. */
enum grpc_close_reason {
	GRPC_CLOSE_PEER_GONE,   /* client reset the stream or disconnected,
	                         * or the server had to reset it (no memory) */
	GRPC_CLOSE_DEADLINE,    /* grpc-timeout passed: the client gets
	                         * DEADLINE_EXCEEDED */
	GRPC_CLOSE_SHUTDOWN,    /* grpc_server_free() */
};

typedef void (*grpc_close_cb)(struct grpc_call *call,
    enum grpc_close_reason reason, void *arg);

/* Something the server met that its owner may want to log. */
enum grpc_server_event {
	/* accept(2) failed for want of descriptors (|err| = EMFILE or
	 * ENFILE) or memory: the listener rests, then accepts again. Told
	 * once per episode (again only after an accept has worked). */
	GRPC_SERVER_ACCEPT_PAUSED,
};

typedef void (*grpc_server_event_cb)(enum grpc_server_event event, int err,
    void *arg);

/*
 * Limits (docs/grpc.md has each one's default, why the kubelet never meets
 * it and what a peer sees when it does). 0 means the default everywhere;
 * a negative timeout means none.
 */
struct grpc_server_options {
	/* Largest request message accepted (default 4 MiB). */
	uint32_t max_recv_message;
	/* Bytes one call may have queued, its first message included;
	 * a send past it gets -ENOBUFS (default 8 MiB). */
	size_t max_stream_queue;
	/* Advertised and enforced SETTINGS_MAX_CONCURRENT_STREAMS
	 * (default 128). */
	uint32_t max_concurrent_streams;
	/* Connections at once; at the cap a new one is still accepted and
	 * the one longest without progress is sent away (default 128). */
	uint32_t max_connections;
	/* Bytes buffered for unfinished request messages, per connection
	 * and in all (defaults 16 MiB and 64 MiB). */
	size_t max_partial_per_conn;
	size_t max_partial_total;
	/* Bytes queued for output on one connection, in its calls' queues
	 * and its socket buffer (default 16 MiB). */
	size_t max_conn_queue;
	/* Bytes queued for output on all connections together (default
	 * 64 MiB): past it the connection holding the most (not the
	 * sender's) is sent away, and the send fits. */
	size_t max_total_queue;
	/* Advertised and enforced SETTINGS_MAX_HEADER_LIST_SIZE, as
	 * RFC 9113 counts it (default 16 KiB). */
	uint32_t max_header_list;
	/* Time from accept to the client's preface and SETTINGS (default
	 * 10 s); from a stream's HEADERS to its END_STREAM (default 30 s);
	 * a connection may stay without a stream (default 5 min). */
	int64_t preface_timeout_ms;
	int64_t request_timeout_ms;
	int64_t idle_timeout_ms;
	/* Told about events worth a log line (NULL: nobody). */
	grpc_server_event_cb on_event;
	void *event_arg;
	/* Told of each dispatched call's end (NULL: nobody): its method,
	 * its status (CANCELLED when the client went away, DEADLINE_EXCEEDED
	 * at the deadline) and the ns from dispatch to then. On the loop. */
	void (*on_call_end)(const struct grpc_method *method, int code,
	    int64_t ns, void *arg);
	void *call_end_arg;
};

struct grpc_server_stats {
	uint64_t calls;              /* dispatched to a handler */
	uint64_t conns_open;
	uint64_t conns_total;
	uint64_t closed_by_peer;     /* calls the client went away from */
	uint64_t deadline_cancelled;
	uint64_t queued_bytes;       /* in stream queues, not yet in HTTP/2 */
	uint64_t max_queued_bytes;   /* most ever queued on one call */
	/* Limits met (each: connections sent away, or calls refused). */
	uint64_t conns_evicted;      /* at max_connections, or EMFILE */
	uint64_t partial_calmed;     /* over a partial-bytes limit */
	uint64_t preface_timeouts;
	uint64_t request_timeouts;
	uint64_t idle_timeouts;
	uint64_t headers_too_large;
	uint64_t output_calmed;      /* sent away: most queued output */
	uint64_t sends_refused;      /* -ENOBUFS from grpc_call_send */
	uint64_t accept_pauses;      /* accept(2) rested after a failure */
	/* Bytes now held in unfinished request messages. */
	uint64_t partial_bytes;
	/* Connections the before-sleep hook flushed, all turns together:
	 * it visits only connections with something to send. */
	uint64_t flush_visits;
	uint64_t trims;              /* heap given back with malloc_trim */
};

/*
 * Creates a server that serves |methods| (|n| entries; the table and its
 * strings must outlive the server) with |app| passed to every handler.
 * |opts| may be NULL for the defaults (copied). Returns NULL with errno =
 * ENOMEM, or E2BIG for more than GRPC_METHODS_MAX (16) methods.
 */
struct grpc_server *grpc_server_new(struct loop *loop,
    const struct grpc_method *methods, size_t n, void *app,
    const struct grpc_server_options *opts);
/*
 * Listens on a unix socket at |path| (copied), mode 0600 whatever the
 * umask, and starts accepting. Leftovers at |path| are removed first (a
 * socket nobody accepts on, a file, a symlink (not followed), an empty
 * directory); what someone still uses is not (see grpc/listen.h).
 * Returns 0, -ENAMETOOLONG, -EADDRINUSE (a socket at |path| accepts
 * connections: another process serves there), -ENOTEMPTY (a directory
 * that is not empty is at |path|), -ENOMEM, or the errno of the system
 * call that failed (-EACCES, -ENOENT for a missing directory, -EMFILE,
 * ...).
 */
int grpc_server_listen(struct grpc_server *server, const char *path);
/*
 * Serves an already connected socket (used by the fuzzer and by tests on a
 * socketpair), as if accepted: at max_connections another connection is
 * sent away first. Takes ownership of |fd|, which is closed on failure.
 * Returns 0 (also when the socket fails at the first write: the
 * connection then closes at once), -ENOMEM, or loop_add_fd()'s error.
 */
int grpc_server_adopt(struct grpc_server *server, int fd);
/*
 * Stops accepting and removes the listening socket's file, then sends
 * GOAWAY(NO_ERROR) on every connection, writes what the socket takes, and
 * closes it. Open calls get their close callback (GRPC_CLOSE_SHUTDOWN).
 * The server can then only be freed. Not from inside a handler.
 */
void grpc_server_shutdown(struct grpc_server *server);
/* Frees the server; calls still open get GRPC_CLOSE_SHUTDOWN first. */
void grpc_server_free(struct grpc_server *server);
const struct grpc_server_stats *grpc_server_stats(
    const struct grpc_server *server);
/*
 * Forgets the listening path, so that shutdown and free leave the file
 * alone (it was removed, or replaced by someone else, meanwhile).
 */
void grpc_server_forget_path(struct grpc_server *server);
/* The listening path, or NULL. */
const char *grpc_server_path(const struct grpc_server *server);

/*
 * Sends a message on |call| (unary: at most one before finishing); |msg|
 * is encoded before this returns and stays the caller's. Returns 0;
 * -ENOBUFS when it does not fit max_stream_queue with what the call has
 * queued, or max_conn_queue with what its connection has (the message is
 * not queued; try again later, or coalesce; a first message too big for
 * either never fits); -EPIPE once the call is
 * finished; -EINVAL for a second message on a unary call or one over
 * 4 GiB; -ENOMEM when the message could not be queued, or the call had to
 * be reset for want of memory (its close callback then follows, with
 * GRPC_CLOSE_PEER_GONE). The call stays the application's in every case.
 */
int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *msg);
/*
 * Ends |call| with |code| and an optional |message| (copied, any UTF-8;
 * NULL for none). Queued messages are sent first. After this the call
 * belongs to the server again, whatever the result (see the top). Returns
 * 0; -ENOMEM when the call ended, but without |message| or reset; -EPIPE
 * when it had already ended (nothing is done).
 */
int grpc_call_finish(struct grpc_call *call, int code, const char *message);
/* printf-style grpc_call_finish() (messages over 1 KiB are truncated). */
int grpc_call_fail(struct grpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * grpc_call_send(msg) then grpc_call_finish(GRPC_OK). If the send fails,
 * the call still ends: RESOURCE_EXHAUSTED for -ENOMEM and for -ENOBUFS
 * (naming the limits), INTERNAL (naming the error) for -EINVAL; that error
 * is returned. -EPIPE when
 * the call had already ended. The call belongs to the server afterwards.
 */
int grpc_call_reply(struct grpc_call *call, const ProtobufCMessage *msg);

/* Sets the callback run if the call ends before the application ends it. */
void grpc_call_on_close(struct grpc_call *call, grpc_close_cb cb, void *arg);
/* Bytes queued on |call| and not yet handed to HTTP/2. */
size_t grpc_call_queued(const struct grpc_call *call);
/* Application data attached to the call. */
void grpc_call_set_data(struct grpc_call *call, void *data);
void *grpc_call_data(const struct grpc_call *call);
/* The call's method (from the server's table). */
const struct grpc_method *grpc_call_method(const struct grpc_call *call);

#endif /* GDP_GRPC_SERVER_H */
