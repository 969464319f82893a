/*
 * server.h: a small HTTP/1.1 server for the metrics endpoint, on the
 * daemon's event loop: a listening socket, its connections, requests
 * parsed by http_parser (libhttp-parser, which needs only libc) and
 * answers written by us.
 *
 * It is built for scrapes and probes, never to block the loop that also
 * answers the kubelet: every socket is non-blocking; an answer is made in
 * one turn and what the peer does not take at once is kept and sent when
 * the socket is writable again. Everything is bounded:
 *
 *   - HTTP_MAX_CONNECTIONS connections; one more makes the least
 *     recently active one close (an idle scraper never locks out a new
 *     one);
 *   - a request (request line and headers) of at most HTTP_REQUEST_MAX
 *     bytes (431 and closed), with no body (400 and closed);
 *   - HTTP_IDLE_MS without reading or writing a byte closes a connection
 *     (a half-sent request, a reader that stopped, an idle keep-alive).
 *
 * Only GET and HEAD are routed (others 405); HEAD answers the same
 * headers with no body. Connection: keep-alive or close as the request
 * asks (HTTP/1.1 keeps by default, 1.0 closes). A closing connection is
 * shut down for writing and read until the peer closes, so the peer sees
 * the whole answer rather than a reset.
 */
#ifndef GDP_METRICS_SERVER_H
#define GDP_METRICS_SERVER_H

#include <stddef.h>

#include "loop/loop.h"
#include "metrics/text.h"

#define HTTP_MAX_CONNECTIONS 16
#define HTTP_REQUEST_MAX 8192
#define HTTP_IDLE_MS 10000

/* What a route fills in: the status, Content-Type (a string that lives
 * on) and the body (empty when the answer has none). */
struct http_answer {
	unsigned status;
	const char *type;
	struct metrics_text body;
};

/* Answers GET |path| (no query string is split off). */
typedef void (*http_route_cb)(void *arg, const char *path,
    struct http_answer *a);

struct http_server;

/*
 * Serves the listening, non-blocking socket |listen_fd| (which becomes
 * the server's) on |loop|. Returns the server, or NULL with errno set
 * (ENOMEM, or what loop_add_fd() returned); |listen_fd| is closed then.
 */
struct http_server *http_server_start(struct loop *loop, int listen_fd,
    http_route_cb route, void *arg);
/* Closes every connection and the listening socket; safe with NULL. */
void http_server_free(struct http_server *s);

/* Connections open now (tests, the process's footprint). */
unsigned http_server_connections(const struct http_server *s);

#endif /* GDP_METRICS_SERVER_H */
