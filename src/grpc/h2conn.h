/*
 * h2conn.h: moves bytes between a non-blocking socket and an nghttp2
 * session, on the event loop. Shared by the gRPC server and client.
 *
 * Driven the way nghttp2's own example servers are: on readable, feed
 * everything read to nghttp2_session_mem_recv(); then flush.
 *
 * Output is coalesced: a flush gathers the frames nghttp2_session_mem_send()
 * hands out (one frame per call; each valid only until the next call, so
 * they are copied) into one buffer on the stack, and writes up to
 * H2CONN_WRITE_MAX bytes, plus the frame that did not fit, with one system
 * call; then the next batch, until the session has nothing more or the
 * socket would block. So the answers to a batch of requests leave in one
 * write, not one write per frame.
 *
 * Back-pressure: output the socket did not take is kept in |pending|
 * (at most H2CONN_WRITE_MAX plus one frame, and only while the socket is
 * stuck: freed once written), and while it is non-empty the connection
 * neither reads nor asks the session for more: a peer that does not read
 * cannot make us produce (and buffer) without bound. Streamed DATA is
 * pulled from the application only when the socket can take it.
 *
 * Internal to src/grpc.
 */
#ifndef GDP_GRPC_H2CONN_H
#define GDP_GRPC_H2CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "loop/loop.h"

/* Bytes gathered for one write (one more frame may ride with them). */
#define H2CONN_WRITE_MAX 65536

struct h2conn {
	struct loop *loop;
	int fd;                    /* owned; -1 once closed */
	nghttp2_session *session;  /* owned */
	uint8_t *pending;          /* output the socket did not take yet;
	                            * NULL when there is none */
	size_t pending_len;
	size_t pending_off;
	unsigned watched;          /* LOOP_READ/LOOP_WRITE now registered */
	bool registered;
};

/*
 * Takes ownership of |fd| and |session| and watches |fd| with |cb|/|arg|.
 * Returns 0, or a negative errno (then nothing is owned).
 */
int h2conn_init(struct h2conn *c, struct loop *loop, int fd,
    nghttp2_session *session, loop_fd_cb cb, void *arg);
/*
 * Reads what the socket has and feeds it to the session (its callbacks
 * run from here). Returns 0, -ECONNRESET on end of file, -ENOMEM or
 * -EPROTO when nghttp2 fails the connection (out of memory, or a protocol
 * error or callback failure), or recv(2)'s errno.
 */
int h2conn_read(struct h2conn *c);
/*
 * Writes pending output, then whatever the session has, in batches of
 * H2CONN_WRITE_MAX bytes (one system call each), until the socket would
 * block; then updates the events watched. Returns 0; -EBADF once
 * closed; -ENOMEM or -EPROTO from nghttp2 or for the pending buffer;
 * sendmsg(2)'s or epoll's errno. After an error the connection is broken.
 */
int h2conn_flush(struct h2conn *c);
/* True when neither side has anything more to say (time to close). */
bool h2conn_finished(const struct h2conn *c);
/* Stops watching, closes the socket, deletes the session. Idempotent. */
void h2conn_close(struct h2conn *c);

#endif /* GDP_GRPC_H2CONN_H */
