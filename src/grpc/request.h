/*
 * request.h: what a gRPC request's headers and body prefix must say, as
 * pure functions.
 *
 * The server feeds each request header to grpc_request_head_add() as
 * nghttp2 hands it over, then asks grpc_request_check() once the headers
 * are complete; what is wrong (and the grpc-message that says so, in
 * grpc-go's wording) comes back as a verdict. Nothing here does I/O or
 * knows nghttp2, so the unit tests and the codec fuzzer call it directly.
 * docs/grpc.md has the table of answers.
 */
#ifndef GDP_GRPC_REQUEST_H
#define GDP_GRPC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/codec.h"
#include "grpc/server.h"

/* What the headers said; the first :path and content-type count. */
/*
 * A grpc-timeout longer than a day is no deadline: grpc-go sends
 * 2562048H (292 years) for "no limit", and no answer is worth waiting a
 * day for. Keeping deadlines this short keeps the arithmetic far from
 * int64 overflow.
 */
#define GRPC_TIMEOUT_MAX_NS (24LL * 3600 * 1000000000)

struct grpc_request_head {
	bool is_post;
	bool path_seen;
	bool has_path;              /* a non-empty :path */
	bool content_type_seen;
	bool content_type_ok;       /* application/grpc, +..., ;... */
	bool bad_encoding;          /* grpc-encoding other than identity */
	const struct grpc_method *method;  /* NULL: unknown path */
	char *path;                 /* owned; only when the path is unknown */
	char *content_type;         /* owned; only when it is wrong */
	int64_t timeout_ns;         /* grpc-timeout; 0: none (also past
				     * GRPC_TIMEOUT_MAX_NS) */
};

enum grpc_request_verdict {
	GRPC_REQUEST_OK,
	GRPC_REQUEST_RESET,              /* not POST, or no :path */
	GRPC_REQUEST_BAD_CONTENT_TYPE,   /* :status 415, INVALID_ARGUMENT */
	GRPC_REQUEST_UNKNOWN_PATH,       /* UNIMPLEMENTED */
	GRPC_REQUEST_COMPRESSED,         /* UNIMPLEMENTED */
};

/*
 * A server's methods, with their paths' lengths: a :path is matched by
 * length first, then bytes, with no strlen per method per request.
 */
#define GRPC_METHODS_MAX 16
struct grpc_methods {
	const struct grpc_method *m;
	size_t n;
	size_t path_len[GRPC_METHODS_MAX];
};

/* Indexes |m| (|n| entries, outliving |t|): 0, or -E2BIG past the max. */
int grpc_methods_init(struct grpc_methods *t, const struct grpc_method *m,
    size_t n);

void grpc_request_head_init(struct grpc_request_head *h);
/* Frees what |h| owns and initialises it again. */
void grpc_request_head_reset(struct grpc_request_head *h);
/*
 * Takes one header. |t| is the server's table; a known :path sets
 * h->method to its entry. Returns 0, or -ENOMEM when the copy kept to
 * name a wrong path or content-type cannot be made.
 */
int grpc_request_head_add(struct grpc_request_head *h,
    const struct grpc_methods *t, const uint8_t *name, size_t namelen,
    const uint8_t *value, size_t valuelen);
/*
 * Whether a header name of |namelen| bytes can be one that
 * grpc_request_head_add() reads (:path, :method, content-type,
 * grpc-timeout, grpc-encoding); the others need not be passed to it.
 */
static inline bool
grpc_request_header_wanted(size_t namelen)
{
	return namelen == 5 || namelen == 7 || namelen == 12 ||
	    namelen == 13;
}
/*
 * The verdict on complete headers. Unless GRPC_REQUEST_OK or _RESET, the
 * grpc-message is written to |msg| (|len| bytes, truncated, always
 * terminated).
 */
enum grpc_request_verdict grpc_request_check(
    const struct grpc_request_head *h, const struct grpc_methods *t,
    char *msg, size_t len);
/*
 * The answer to the request body's reader failing with |err| (from
 * grpc_reader_feed(), callback errors excluded): a status code, and its
 * grpc-message in |msg|.
 */
int grpc_request_body_error(int err, const struct grpc_reader *r, char *msg,
    size_t len);

#endif /* GDP_GRPC_REQUEST_H */
