/*
 * http1.c: the HTTP/1.1 response decoder (http1.h).
 *
 * A state machine over lines and body bytes. Lines are gathered in the
 * decoder itself, up to a read buffer's worth, so a line cut across
 * feeds reads as one; the limits on what a line may hold (8 KiB for the
 * head's, 256 bytes for a chunk size) are checked once it is whole, as
 * they were when https.c read lines out of its own buffer.
 */
#include "http1.h"

#include "https.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_LINE_MAX 8192
#define CHUNK_LINE_MAX 256

void
http1_init(struct http1 *p)
{
	memset(p, 0, sizeof(*p));
	p->state = HTTP1_STATUS;
	p->left = -1;
}

bool
http1_head_done(const struct http1 *p)
{
	return p->state != HTTP1_STATUS && p->state != HTTP1_HEADERS;
}

static int
too_long(char *err)
{
	snprintf(err, HTTPS_ERR_LEN, "a response line is too long");
	return -EPROTO;
}

/*
 * Gathers bytes of the current line: 1 when it is whole (NUL-ended, the
 * CRLF gone), 0 when more input is needed. *|used| counts what it took.
 */
static int
take_line(struct http1 *p, const char *in, size_t n, size_t *used,
    size_t max, char *err)
{
	const char *nl = memchr(in, '\n', n);
	size_t k = nl != NULL ? (size_t)(nl - in) : n;

	*used = 0;
	if (k >= HTTP1_LINE_BUF - p->line_len)
		return too_long(err);
	memcpy(p->line + p->line_len, in, k);
	p->line_len += k;
	*used = k;
	if (nl == NULL)
		return 0;
	(*used)++;
	if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
		p->line_len--;
	if (p->line_len >= max)
		return too_long(err);
	p->line[p->line_len] = '\0';
	p->line_len = 0;
	return 1;
}

/*
 * Digits of |base| (10 or 16) at |s|, none of strtoll's leeway (no space,
 * sign or "0x"): the value, or -1 when there are none or it passes
 * |limit|. *|end| is set past the digits.
 */
static long long
digits(const char *s, int base, long long limit, const char **end)
{
	long long v = 0;
	const char *q = s;

	for (;; q++) {
		int d = *q >= '0' && *q <= '9' ? *q - '0' :
		    base == 16 && *q >= 'a' && *q <= 'f' ? *q - 'a' + 10 :
		    base == 16 && *q >= 'A' && *q <= 'F' ? *q - 'A' + 10 : -1;

		if (d < 0)
			break;
		if (v > (limit - d) / base)
			return -1;
		v = v * base + d;
	}
	*end = q;
	return q == s ? -1 : v;
}

static int
status_line(struct http1 *p, char *err)
{
	const char *end = p->line;
	long long code = -1;

	if (strncmp(p->line, "HTTP/1.", 7) == 0 &&
	    p->line[7] >= '0' && p->line[7] <= '9' && p->line[8] == ' ')
		code = digits(p->line + 9, 10, 999, &end);
	if (code < 100 || (*end != ' ' && *end != '\0')) {
		snprintf(err, HTTPS_ERR_LEN, "not an HTTP response: '%.80s'",
		    p->line);
		return -EPROTO;
	}
	p->status = (int)code;
	p->state = HTTP1_HEADERS;
	return 0;
}

/* One header line; the empty one ends the head. */
static void
header_line(struct http1 *p)
{
	const char *line = p->line;

	if (line[0] == '\0') {
		if (p->chunked)
			p->state = HTTP1_CHUNK_SIZE;
		else
			p->state = p->left == 0 ? HTTP1_DONE : HTTP1_DATA;
	} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
	    strstr(line + 18, "chunked") != NULL) {
		p->chunked = true;
		p->left = 0;
	} else if (strncasecmp(line, "Content-Length:", 15) == 0 &&
	    !p->chunked) {
		const char *v = line + 15, *end;

		while (*v == ' ' || *v == '\t')
			v++;
		p->left = digits(v, 10, LLONG_MAX, &end);
	}
}

/* A chunk-size line, or the empty line that ends the chunk before. */
static int
chunk_line(struct http1 *p, char *err)
{
	const char *end;

	if (p->line[0] == '\0' && !p->crlf_seen) {
		p->crlf_seen = true;
		return 0;
	}
	p->crlf_seen = false;
	p->left = digits(p->line, 16, LLONG_MAX, &end);
	/* After the size: nothing, or a chunk extension (";name=value"). */
	if (p->left < 0 || (*end != '\0' && *end != ';' && *end != ' ' &&
	    *end != '\t')) {
		snprintf(err, HTTPS_ERR_LEN, "bad chunk size '%.40s'",
		    p->line);
		return -EPROTO;
	}
	p->state = p->left == 0 ? HTTP1_DONE : HTTP1_DATA;
	return 0;
}

static int
line_state(struct http1 *p, const char *in, size_t n, size_t *used,
    char *err)
{
	size_t max = p->state == HTTP1_CHUNK_SIZE ? CHUNK_LINE_MAX :
	    HEAD_LINE_MAX;
	int rc = take_line(p, in, n, used, max, err);

	if (rc <= 0)
		return rc;
	if (p->state == HTTP1_STATUS)
		return status_line(p, err);
	if (p->state == HTTP1_HEADERS) {
		header_line(p);
		return 0;
	}
	return chunk_line(p, err);
}

/* Body bytes: as many as fit, up to the end of the chunk or body. */
static size_t
data(struct http1 *p, const char *in, size_t n, char *out, size_t cap)
{
	size_t k = n < cap ? n : cap;

	if (p->left >= 0 && (long long)k > p->left)
		k = (size_t)p->left;
	memcpy(out, in, k);
	if (p->left > 0) {
		p->left -= (long long)k;
		if (p->left == 0)
			p->state = p->chunked ? HTTP1_CHUNK_SIZE : HTTP1_DONE;
	}
	return k;
}

int
http1_feed(struct http1 *p, const char *in, size_t n, size_t *used,
    char *out, size_t cap, size_t *got, char *err)
{
	bool head;
	size_t k = 0;
	int rc;

	*used = *got = 0;
	while (*used < n && p->state != HTTP1_DONE) {
		if (p->state == HTTP1_DATA) {
			if (*got == cap)
				break;
			k = data(p, in + *used, n - *used, out + *got,
			    cap - *got);
			*got += k;
			*used += k;
			continue;
		}
		if (*got > 0)
			break;	/* body bytes go out before an error can */
		head = !http1_head_done(p);
		rc = line_state(p, in + *used, n - *used, &k, err);
		*used += k;
		if (rc < 0)
			return rc;
		if (head && http1_head_done(p))
			break;	/* the caller may want to look at it */
	}
	return 0;
}

int
http1_finish(struct http1 *p, char *err)
{
	if (p->state == HTTP1_DONE)
		return 0;
	if (p->state == HTTP1_DATA && p->left < 0) {
		p->state = HTTP1_DONE;
		return 0;
	}
	if (p->state == HTTP1_DATA)
		snprintf(err, HTTPS_ERR_LEN, "the server closed the"
		    " connection in the middle of the body");
	else
		snprintf(err, HTTPS_ERR_LEN, "the server closed the"
		    " connection in the middle of a response");
	return -EPROTO;
}
