/*
 * http.h: the metrics endpoint: /metrics, /healthz and /readyz over
 * HTTP/1.1, on the daemon's own event loop.
 *
 * The server is our own (server.h): non-blocking sockets on the loop,
 * requests parsed by libhttp-parser, answers written by us, 16
 * connections, 8 KiB requests, 10 s idle. A scrape is answered in one
 * turn from counters and the state the loop owns, so it never waits on
 * anything and the kubelet's calls wait at most that turn; an answer the
 * scraper does not read at once waits for the socket, never the loop.
 * Only GET and HEAD are answered.
 *
 *   /metrics  the registry (registry.h), process_*, gdp_build_info and
 *             what the source's collect() adds, in the text format 0.0.4
 *   /healthz  200 "ok" while the loop turns and the health thread (if
 *             any) beats; 503 with the reason otherwise
 *   /readyz   200 while the source says ready; 503 with its reason
 *
 * The listening socket is made by metrics_server_start(), before the
 * system-call filter goes on (a TCP socket could not be made after).
 */
#ifndef GDP_METRICS_HTTP_H
#define GDP_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "loop/loop.h"

struct metrics_text;
struct metrics_server;

struct metrics_source {
	/* Writes the series the application holds (devices, connections). */
	void (*collect)(struct metrics_text *t, void *arg);
	/* Whether the application is ready; |why| says why not. */
	bool (*ready)(void *arg, char *why, size_t len);
	void *arg;
	const char *version, *revision;   /* gdp_build_info's labels */
};

/*
 * Listens at |address| (a --metrics-address value, already checked) and
 * serves on |loop|. |src| is copied. Returns the server, or NULL with
 * why in |err|.
 */
struct metrics_server *metrics_server_start(struct loop *loop,
    const char *address, const struct metrics_source *src, char *err,
    size_t errlen);
/* Stops serving, closes every connection, removes a unix socket file;
 * safe with NULL. */
void metrics_server_free(struct metrics_server *s);

#endif /* GDP_METRICS_HTTP_H */
