/*
 * fuzz_kube_http.c: the config-manager's HTTP/1.1 response decoder
 * (src/configmgr/http1.c) on an arbitrary response, as the API server's
 * TLS records would bring it.
 *
 * The input is decoded three ways: in one piece with room for all of
 * the body; cut at two points taken from the input's last bytes, the
 * head fed with no room for body bytes first (as https.c reads it) and
 * then little room; and a byte at a time. The network decides where
 * records end, so all three must agree: the same status, the same body
 * bytes, the same error message (or none) and the same verdict at the
 * end of the stream. Every feed must make progress, and a body of known
 * length must come out whole.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
	int rc;			/* the first error, or http1_finish()'s */
	int status;
	char *body;
	size_t len;
	char err[HTTPS_ERR_LEN];
	long long length;	/* Content-Length as the head gave it */
};

/* Feeds one piece; returns the decoder's error, if any. */
static int
feed_piece(struct http1 *p, const char *in, size_t n, size_t cap,
    struct result *r)
{
	size_t used, got, room;
	int rc;

	while (n > 0 && p->state != HTTP1_DONE) {
		room = http1_head_done(p) ? cap : 0;
		rc = http1_feed(p, in, n, &used, r->body + r->len, room, &got,
		    r->err);
		if (rc < 0 && got != 0)
			abort();	/* an error takes back body bytes */
		if (rc < 0)
			return rc;
		if (used > n || got > room || got > used ||
		    (used == 0 && got == 0))
			abort();	/* too much, or no progress */
		r->len += got;
		in += used;
		n -= used;
		if (!http1_head_done(p))
			r->length = -2;
		else if (r->length == -2)
			r->length = p->chunked ? -1 : p->left;
	}
	return 0;
}

static void
decode(const char *in, size_t size, const size_t *cuts, size_t ncuts,
    size_t cap, struct result *r)
{
	struct http1 p;
	size_t at = 0, end;

	memset(r, 0, sizeof(*r));
	r->length = -2;
	r->body = malloc(size + 1);
	if (r->body == NULL)
		abort();
	http1_init(&p);
	for (size_t i = 0; i <= ncuts && r->rc == 0; i++) {
		end = i < ncuts ? cuts[i] : size;
		r->rc = feed_piece(&p, in + at, end - at, cap, r);
		at = end;
	}
	if (r->rc == 0)
		r->rc = http1_finish(&p, r->err);
	if (r->rc != 0 && r->rc != -EPROTO)
		abort();
	r->status = http1_head_done(&p) ? p.status : -1;
}

static void
same(const struct result *a, const struct result *b)
{
	if (a->rc != b->rc || a->status != b->status || a->len != b->len ||
	    memcmp(a->body, b->body, a->len) != 0 ||
	    strcmp(a->err, b->err) != 0)
		abort();
}

/* A body of known length that ended well came out whole. */
static void
check_length(const struct result *r)
{
	if (r->rc == 0 && r->length >= 0 && (size_t)r->length != r->len)
		abort();
	if (r->rc != 0 && r->err[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct result whole, cut, bytes;
	size_t cuts[2], *all;

	cuts[0] = size > 0 ? (size_t)data[size - 1] * 131 % (size + 1) : 0;
	cuts[1] = size > 1 ? ((size_t)data[size - 2] * 257 + cuts[0]) %
	    (size + 1) : 0;
	if (cuts[1] < cuts[0]) {
		size_t t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	all = malloc((size + 1) * sizeof(*all));
	if (all == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		all[i] = i + 1;
	decode(in, size, NULL, 0, size + 1, &whole);
	decode(in, size, cuts, 2, 1 + (size > 2 ? data[size - 3] % 7u : 0),
	    &cut);
	decode(in, size, all, size > 0 ? size - 1 : 0, 1, &bytes);
	check_length(&whole);
	same(&whole, &cut);
	same(&whole, &bytes);
	free(whole.body);
	free(cut.body);
	free(bytes.body);
	free(all);
	return 0;
}
