/*
 * h2peer.h: a scriptable HTTP/2 client for the server's unit tests.
 *
 * The one raw client that test_server_wire.c, test_server_faults.c and
 * test_server_limits.c share: a bare nghttp2 client session (HTTP checks
 * off, so it can send what no gRPC library would) on a socket that the
 * server adopted from a socketpair or accepted from its listener. The
 * test drives both sides on one thread: h2peer_pump() moves the client's
 * bytes to the socket, runs the server's loop once and feeds back what
 * the server wrote. A peer can stop reading (to play a client that never
 * reads its answers), can write raw bytes (a slow preface, frames nghttp2
 * would not send) or all it has in one write (one record on
 * SOCK_SEQPACKET), and can read without running the loop. What each
 * stream and the connection saw is recorded.
 *
 * Ownership: the peer owns its socket and session; the loop and the
 * server stay the test's. Failures abort the test (cmocka asserts).
 */
#ifndef GDP_TESTS_H2PEER_H
#define GDP_TESTS_H2PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "grpc/server.h"
#include "loop/loop.h"

#define H2PEER_STREAMS 256

struct h2stream {
	int32_t id;
	char status[8];
	int grpc_status;            /* -1 until trailers */
	char grpc_message[256];
	int header_frames;
	bool trailers_only;         /* the first HEADERS ended the stream */
	bool closed;
	uint32_t close_code;
	bool rst;
	uint32_t rst_code;
	size_t data_len;
	/* The request body, sent in |chunk|-byte DATA frames (0: as much
	 * as a frame takes); END_STREAM after it unless |keep_open|. */
	const uint8_t *body;
	size_t body_len, body_off;
	size_t chunk;
	bool keep_open;
};

struct h2peer {
	struct loop *loop;
	int fd;                     /* -1 once closed */
	nghttp2_session *s;
	bool reading;               /* false: never read from the socket */
	bool started;               /* the session's output goes out */
	bool eof;                   /* the server closed the connection */
	bool settings_seen;         /* the server's SETTINGS arrived */
	uint32_t settings[16];      /* their values, by id (0..15) */
	bool goaway;
	uint32_t goaway_code;
	char goaway_debug[256];
	uint8_t *out;               /* bytes the socket did not take yet */
	size_t out_len;
	size_t reads;               /* reads that returned bytes (records,
	                             * on SOCK_SEQPACKET) */
	struct h2stream streams[H2PEER_STREAMS];
	size_t nstreams;
};

/* Connects |p| to |server| through a socketpair the server adopts. With
 * |handshake| false the client says nothing until told (raw writes). */
void h2peer_adopt(struct h2peer *p, struct loop *loop,
    struct grpc_server *server, bool handshake);
/* Makes a socketpair of |type| (SOCK_STREAM, SOCK_SEQPACKET), keeps one
 * end in |p| and returns the other, for the test to give the server
 * (grpc_server_adopt()) when and how it likes. */
int h2peer_socketpair(struct h2peer *p, struct loop *loop, int type,
    bool handshake);
/* Connects |p| to the server listening on |path|, without blocking.
 * Returns 0, or -errno from connect(2) (-EAGAIN: the listener's backlog
 * is full); then |p| holds nothing. */
int h2peer_connect(struct h2peer *p, struct loop *loop, const char *path,
    bool handshake);
void h2peer_close(struct h2peer *p);

/* Starts the client's half of the handshake (preface and SETTINGS). */
void h2peer_handshake(struct h2peer *p);
/* Writes |len| raw bytes (they must all fit in the socket). */
void h2peer_write(struct h2peer *p, const void *data, size_t len);
/* Writes all the session has to send in one write (it must fit): on
 * SOCK_SEQPACKET, one record. */
void h2peer_flush(struct h2peer *p);
/* Reads and decodes what the server wrote, without running the loop. */
void h2peer_recv(struct h2peer *p);

/*
 * Opens a stream: POST |path| with content-type application/grpc, the
 * |n| extra headers in |extra| (may be NULL), and |body| (may be NULL:
 * no DATA, END_STREAM on the HEADERS unless |keep_open|). Returns the
 * stream's record.
 */
struct h2stream *h2peer_request(struct h2peer *p, const char *path,
    const nghttp2_nv *extra, size_t n, const uint8_t *body, size_t len,
    size_t chunk, bool keep_open);
/* The same with exactly the |n| headers in |nva|, whatever they say. */
struct h2stream *h2peer_request_nv(struct h2peer *p, const nghttp2_nv *nva,
    size_t n, const uint8_t *body, size_t len, size_t chunk, bool keep_open);

/* Rounds of client output out, one loop turn, input in, for |ms| (0: one
 * round). Returns whether anything moved: bytes either way, or a server
 * callback run. */
bool h2peer_pump(struct h2peer *p, int ms);
/* Pumps every peer in |peers| (|n|) for |ms| or until |done| says so. */
bool h2peer_pump_all(struct h2peer **peers, size_t n, int ms,
    bool (*done)(void *arg), void *arg);
/* Pumps |p| until |st| closes, the connection ends, or |ms| pass. */
void h2peer_wait_stream(struct h2peer *p, struct h2stream *st, int ms);
/* Pumps |p| until the server closed the connection or |ms| pass. */
void h2peer_wait_eof(struct h2peer *p, int ms);

#define H2NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
	sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

#endif /* GDP_TESTS_H2PEER_H */
