/*
 * request.c: request header checks (see request.h).
 *
 * Only what gRPC needs is checked, because nghttp2's own HTTP checks are
 * off (they reject the :authority values older kubelets send). Wrong
 * values are copied only to be named in the error, so a good request
 * costs no allocation here.
 */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

void
grpc_request_head_init(struct grpc_request_head *h)
{
	memset(h, 0, sizeof(*h));
}

void
grpc_request_head_reset(struct grpc_request_head *h)
{
	gdp_free(h->path);
	gdp_free(h->content_type);
	grpc_request_head_init(h);
}

/* |name| (of |len| bytes) is the literal |want|; the length is checked first. */
#define NAME_IS(name, len, want) \
	((len) == sizeof(want) - 1 && memcmp((name), (want), (len)) == 0)

int
grpc_methods_init(struct grpc_methods *t, const struct grpc_method *m,
    size_t n)
{
	if (n > GRPC_METHODS_MAX)
		return -E2BIG;
	t->m = m;
	t->n = n;
	for (size_t i = 0; i < n; i++)
		t->path_len[i] = strlen(m[i].path);
	return 0;
}

static const struct grpc_method *
find_method(const struct grpc_methods *t, const uint8_t *path, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->path_len[i] == len &&
		    memcmp(t->m[i].path, path, len) == 0)
			return &t->m[i];
	return NULL;
}

static bool
content_type_is_grpc(const uint8_t *ct, size_t len)
{
	static const char base[] = "application/grpc";
	const size_t n = sizeof(base) - 1;

	if (len < n || memcmp(ct, base, n) != 0)
		return false;
	return len == n || ct[n] == '+' || ct[n] == ';';
}

static __attribute__((noinline)) int
add_path(struct grpc_request_head *h, const struct grpc_methods *t,
    const uint8_t *value, size_t len)
{
	h->path_seen = true;
	h->has_path = len > 0;
	h->method = find_method(t, value, len);
	if (h->method == NULL &&
	    (h->path = gdp_strndup((const char *)value, len)) == NULL)
		return -ENOMEM;
	return 0;
}

static __attribute__((noinline)) int
add_content_type(struct grpc_request_head *h, const uint8_t *value,
    size_t len)
{
	h->content_type_seen = true;
	h->content_type_ok = content_type_is_grpc(value, len);
	if (!h->content_type_ok && (h->content_type = gdp_strndup(
	    (const char *)value, len)) == NULL)
		return -ENOMEM;
	return 0;
}

/* grpc-timeout: one the client may send, kept only when it parses. */
static __attribute__((noinline)) void
add_timeout(struct grpc_request_head *h, const uint8_t *value, size_t len)
{
	int64_t ns;

	if (grpc_timeout_parse((const char *)value, len, &ns) == 0)
		h->timeout_ns = ns > GRPC_TIMEOUT_MAX_NS ? 0 : ns > 0 ? ns : 1;
}

/*
 * Dispatches on the name's length first: most headers a client sends
 * (:scheme, :authority, user-agent, te, ...) have a length no header we
 * read has, and cost one switch (none when the caller asks
 * grpc_request_header_wanted() first; the lengths there match these).
 * What needs a call (a :path to look up, a copy, a timeout to parse) is in
 * functions of its own, kept out of line, so that the rest makes none and
 * saves no registers: this runs for four headers of every request.
 */
int
grpc_request_head_add(struct grpc_request_head *h,
    const struct grpc_methods *t, const uint8_t *name, size_t namelen,
    const uint8_t *value, size_t valuelen)
{
	switch (namelen) {
	case sizeof(":path") - 1:
		if (NAME_IS(name, namelen, ":path") && !h->path_seen)
			return add_path(h, t, value, valuelen);
		break;
	case sizeof(":method") - 1:
		if (NAME_IS(name, namelen, ":method"))
			h->is_post = NAME_IS(value, valuelen, "POST");
		break;
	case sizeof("content-type") - 1:   /* and grpc-timeout */
		if (NAME_IS(name, namelen, "content-type")) {
			if (!h->content_type_seen)
				return add_content_type(h, value, valuelen);
		} else if (NAME_IS(name, namelen, "grpc-timeout")) {
			add_timeout(h, value, valuelen);
		}
		break;
	case sizeof("grpc-encoding") - 1:
		if (NAME_IS(name, namelen, "grpc-encoding"))
			h->bad_encoding = !NAME_IS(value, valuelen,
			    "identity");
		break;
	default:
		break;
	}
	_Static_assert(sizeof(":path") - 1 == 5 &&
	    sizeof(":method") - 1 == 7 && sizeof("content-type") - 1 == 12 &&
	    sizeof("grpc-timeout") - 1 == 12 &&
	    sizeof("grpc-encoding") - 1 == 13,
	    "grpc_request_header_wanted() lists these lengths");
	return 0;
}

static bool
service_known(const struct grpc_method *methods, size_t n, const char *svc,
    size_t len)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = methods[i].path + 1;

		if (strncmp(p, svc, len) == 0 && p[len] == '/')
			return true;
	}
	return false;
}

/* grpc-go's three messages for a path it cannot serve. */
static void
unknown_path_message(const char *path, const struct grpc_method *methods,
    size_t n, char *msg, size_t len)
{
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	int svc_len;

	if (slash == NULL || slash == path + 1 || slash[1] == '\0') {
		snprintf(msg, len, "malformed method name: \"%s\"", path);
		return;
	}
	svc_len = (int)(slash - path - 1);
	if (!service_known(methods, n, path + 1, (size_t)svc_len))
		snprintf(msg, len, "unknown service %.*s", svc_len, path + 1);
	else
		snprintf(msg, len, "unknown method %s for service %.*s",
		    slash + 1, svc_len, path + 1);
}

enum grpc_request_verdict
grpc_request_check(const struct grpc_request_head *h,
    const struct grpc_methods *t, char *msg, size_t len)
{
	if (!h->is_post || !h->has_path)
		return GRPC_REQUEST_RESET;
	if (!h->content_type_ok) {
		snprintf(msg, len, "invalid gRPC request content-type \"%s\"",
		    h->content_type != NULL ? h->content_type : "");
		return GRPC_REQUEST_BAD_CONTENT_TYPE;
	}
	if (h->method == NULL) {
		unknown_path_message(h->path, t->m, t->n, msg, len);
		return GRPC_REQUEST_UNKNOWN_PATH;
	}
	if (h->bad_encoding) {
		snprintf(msg, len,
		    "grpc: compressed requests are not supported");
		return GRPC_REQUEST_COMPRESSED;
	}
	return GRPC_REQUEST_OK;
}

int
grpc_request_body_error(int err, const struct grpc_reader *r, char *msg,
    size_t len)
{
	switch (err) {
	case -EMSGSIZE:
		snprintf(msg, len,
		    "grpc: received message larger than max (%u vs. %u)",
		    r->msg_len, r->max);
		return GRPC_RESOURCE_EXHAUSTED;
	case -EPROTO:
		snprintf(msg, len,
		    "grpc: compressed flag set but no grpc-encoding was sent");
		return GRPC_INTERNAL;
	default:
		snprintf(msg, len,
		    "grpc: out of memory for the request message");
		return GRPC_RESOURCE_EXHAUSTED;
	}
}
