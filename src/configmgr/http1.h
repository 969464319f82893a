/*
 * http1.h: the HTTP/1.1 response decoder of gdp-config-manager: the
 * status line, the headers, then the body (chunked, Content-Length, or
 * up to the end of the stream), de-chunked.
 *
 * No I/O: https.c reads TLS records and feeds the bytes in, however the
 * network cut them, and the fuzz target (tests/fuzz/fuzz_kube_http.c)
 * feeds the same bytes cut anywhere. The decoder keeps the line it is in
 * the middle of, so any split of the input gives the same result.
 *
 * Functions return 0 or -EPROTO with a sentence in |err| (HTTPS_ERR_LEN
 * bytes, https.h).
 */
#ifndef GDP_CONFIGMGR_HTTP1_H
#define GDP_CONFIGMGR_HTTP1_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line kept while looking for its end (a read buffer's). */
#define HTTP1_LINE_BUF 16384

enum http1_state {
	HTTP1_STATUS,		/* the status line */
	HTTP1_HEADERS,		/* header lines, up to the empty one */
	HTTP1_CHUNK_SIZE,	/* a chunk-size line (or the CRLF before it) */
	HTTP1_DATA,		/* body bytes: of a chunk, or of the body */
	HTTP1_DONE,		/* the body has ended */
};

struct http1 {
	enum http1_state state;
	int status;		/* the HTTP status, once past the status line */
	bool chunked;
	bool crlf_seen;		/* the empty line after a chunk was taken */
	long long left;		/* left of this chunk or body; <0: to EOF */
	size_t line_len;
	char line[HTTP1_LINE_BUF];
};

void http1_init(struct http1 *p);

/* Whether the status line and the headers have been read. */
bool http1_head_done(const struct http1 *p);

/*
 * Takes bytes from |in| (|n| of them) and puts body bytes into |out|
 * (room for |cap|): *|used| gets how many input bytes were consumed,
 * *|got| how many body bytes came out. Stops when the input is used up,
 * |out| is full, the head has just ended, or the body has (state
 * HTTP1_DONE); a caller that only wants the head passes |cap| 0.
 * Body bytes that came out also stop it before the next line, so an
 * error is only ever returned with *|got| 0: what came before it was
 * handed out by the call before (as a chunk's bytes reach kube.c before
 * a bad chunk-size line after them is read).
 */
int http1_feed(struct http1 *p, const char *in, size_t n, size_t *used,
    char *out, size_t cap, size_t *got, char *err);

/*
 * The stream has ended: 0 if that ends the body (one read to the end,
 * or one already done), else -EPROTO (the end came in the middle of the
 * head, a chunk-size line or a body of known length).
 */
int http1_finish(struct http1 *p, char *err);

#endif /* GDP_CONFIGMGR_HTTP1_H */
