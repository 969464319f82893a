/*
 * dispatch.c: a request's path from its headers to the handler: the
 * header checks (through request.c), the body through the codec's reader,
 * decoding under a budget, and dispatch once the client half-closes.
 * A request that fails is answered here (call.c) and never dispatched.
 *
 * Per call, the request message is decoded into the call's arena (one
 * block, sized from the message; small ones are reused from the server's
 * pool), under the decode budget; the
 * first answers take the arena's rest (call.c). The budget counts every
 * allocation as malloc would, arena or not, so the limits (limits.c)
 * see the same bytes either way; the heap serves what the arena cannot,
 * and its failures give the errors they always did.
 */
#include "server_int.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>

#include "util/alloc.h"

/*
 * A request may decode to at most this many times its wire size, plus
 * the slack (protobuf-c makes a small allocation per field: 4 MiB of
 * two-byte unknown fields decoded to 180 MB). The kubelet's requests
 * are a few hundred bytes, far inside the slack.
 */
#define DECODE_FACTOR 16
#define DECODE_SLACK ((size_t)64 << 10)
/* What malloc adds to each allocation, roughly. */
#define MALLOC_OVERHEAD 16
/*
 * A call's arena: room for its request decoded (a few times its wire
 * size: protobuf-c's structs are larger than their fields on the wire)
 * and a small answer. Past ARENA_MAX the heap takes the rest, so a large
 * request costs what it did before the arena, plus one allocation.
 */
#define ARENA_BASE 512
#define ARENA_PER_BYTE 4
#define ARENA_MAX ((size_t)8 << 10)
#define ARENA_ALIGN alignof(max_align_t)

/* All request headers are in: answer bad requests, or get ready. */
void
call_headers_done(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	char msg[512];

	call->headers_done = true;
	if (call->headers_too_large) {
		server->stats.headers_too_large++;
		call_request_done(call);
		call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: header list size over the limit (%u bytes)",
		    server->opts.max_header_list);
		return;
	}
	switch (grpc_request_check(&call->head, &server->methods, msg,
	    sizeof(msg))) {
	case GRPC_REQUEST_RESET:
		call->responded = true;
		call_reset(call, NGHTTP2_PROTOCOL_ERROR);
		return;
	case GRPC_REQUEST_BAD_CONTENT_TYPE:
		call_respond_early(call, "415", GRPC_INVALID_ARGUMENT, msg);
		return;
	case GRPC_REQUEST_UNKNOWN_PATH:
	case GRPC_REQUEST_COMPRESSED:
		call_respond_early(call, "200", GRPC_UNIMPLEMENTED, msg);
		return;
	case GRPC_REQUEST_OK:
		break;
	}
	call->method = call->head.method;
	/* Never a call without the deadline its client asked for. */
	if (call->head.timeout_ns > 0 &&
	    call_arm_deadline(call, call->head.timeout_ns) < 0)
		call_respond_early(call, "200", GRPC_RESOURCE_EXHAUSTED,
		    "grpc: out of memory for the call's deadline");
}

/* ---- the call's arena ---- */

void *
call_arena_alloc(struct grpc_call *call, size_t size)
{
	struct call_arena *a = &call->arena;
	size_t need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	void *p;

	if (a->base == NULL || need < size || need > a->cap - a->used)
		return NULL;
	p = a->base + a->used;
	a->used += need;
	return p;
}

static bool
arena_owns(const struct call_arena *a, const void *p)
{
	const uint8_t *q = p;

	return a->base != NULL && q >= a->base && q < a->base + a->cap;
}

/*
 * Made when the request message arrives, from the server's pool when
 * small enough (most are); without it, the heap serves.
 */
static void
arena_make(struct grpc_call *call, size_t msg_len)
{
	struct call_arena *a = &call->arena;
	size_t cap = ARENA_MAX;

	if (a->base != NULL)
		return;
	if (msg_len < (ARENA_MAX - ARENA_BASE) / ARENA_PER_BYTE)
		cap = ARENA_BASE + ARENA_PER_BYTE * msg_len;
	if (cap <= CALL_ARENA_POOLED) {
		cap = CALL_ARENA_POOLED;
		a->base = pool_get(&call->conn->server->arena_pool);
	} else {
		a->base = gdp_malloc(cap);
	}
	a->cap = a->base != NULL ? cap : 0;
	a->used = 0;
}

void
call_arena_free(struct grpc_call *call)
{
	struct call_arena *a = &call->arena;

	if (a->cap == CALL_ARENA_POOLED)
		pool_put(&call->conn->server->arena_pool, a->base);
	else
		gdp_free(a->base);
	a->base = NULL;
	a->cap = a->used = 0;
}

/* ---- decoding ---- */

/*
 * protobuf-c's allocator for a request: counts every allocation as malloc
 * would (whether the arena or the heap serves it), refuses past the
 * budget, and takes from the call's arena while it has room.
 */
static void *
decode_alloc(void *data, size_t size)
{
	struct grpc_call *call = data;
	struct decode_budget *b = &call->budget;
	void *p;

	if (size > b->max || b->used + MALLOC_OVERHEAD > b->max - size) {
		b->refused = true;
		return NULL;
	}
	b->used += size + MALLOC_OVERHEAD;
	p = call_arena_alloc(call, size);
	return p != NULL ? p : gdp_malloc(size);
}

/* The arena's part goes with the call; the heap's goes now. */
static void
decode_free(void *data, void *p)
{
	struct grpc_call *call = data;

	if (!arena_owns(&call->arena, p))
		gdp_free(p);
}

/* A request as its method's codec decodes it, or protobuf-c. */
static ProtobufCMessage *
request_unpack(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	const struct grpc_codec *codec = call->method->codec;

	if (codec != NULL && codec->unpack != NULL)
		return codec->unpack(&call->decoder, len, msg);
	return protobuf_c_message_unpack(call->method->request,
	    &call->decoder, len, msg);
}

static void
request_free(struct grpc_call *call, ProtobufCMessage *request)
{
	const struct grpc_codec *codec = call->method->codec;

	if (codec != NULL && codec->unpack != NULL)
		codec->free_unpacked(request, &call->decoder);
	else
		protobuf_c_message_free_unpacked(request, &call->decoder);
}

void
call_free_request(struct grpc_call *call)
{
	if (call->request != NULL)
		request_free(call, call->request);
	call->request = NULL;
}

static int
on_request_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_call *call = arg;
	struct decode_budget *b = &call->budget;

	if (++call->nmsgs > 1) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: more than one request message for %s",
		    call->method->path);
		return -EPROTO;
	}
	*b = (struct decode_budget){ 0, DECODE_FACTOR * len + DECODE_SLACK,
		false };
	call->decoder = (ProtobufCAllocator){ decode_alloc, decode_free,
		call };
	arena_make(call, len);
	call->request = request_unpack(call, msg, len);
	/* Until call_dispatch it counts as an unfinished request. */
	call->decoded = b->used;
	if (call->request == NULL)   /* protobuf-c freed what it made */
		server_freed(call->conn->server, b->used);
	if (call->request == NULL && b->refused) {
		call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: the request for %s decodes to more than %zu bytes",
		    call->method->path, b->max);
		return -EPROTO;
	}
	if (call->request == NULL) {
		call_respond_early_fmt(call, GRPC_INTERNAL,
		    "grpc: error unmarshalling request for %s",
		    call->method->path);
		return -EPROTO;
	}
	return 0;
}

void
call_feed(struct grpc_call *call, const uint8_t *data, size_t len)
{
	char msg[256];
	int code, rc;

	rc = grpc_reader_feed(&call->reader, data, len, on_request_message,
	    call);
	if (rc == 0) {
		call_account_partial(call);
		conn_check_partials(call->conn);
		return;
	}
	if (!call->responded) {
		code = grpc_request_body_error(rc, &call->reader, msg,
		    sizeof(msg));
		call_respond_early(call, "200", code, msg);
	}
	/* Answered: the rest of its body is ignored, so let go of it. */
	call_drop_request(call);
}

/* The client half-closed: run the handler if the request is whole. */
void
call_dispatch(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	ProtobufCMessage *request;

	if (call->responded)
		return;
	if (call->nmsgs != 1 || !grpc_reader_idle(&call->reader)) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: expected one request message for %s, got %s",
		    call->method->path, call->nmsgs ? "a partial one" : "none");
		return;
	}
	request = call->request;
	call->request = NULL;
	call_account_partial(call);
	call->dispatched = true;
	if (server->opts.on_call_end != NULL)
		call->dispatched_ns = loop_now_ns();
	server->stats.calls++;
	conn_progress(call->conn);
	call->method->handler(call, request, server->app);
	request_free(call, request);
}
