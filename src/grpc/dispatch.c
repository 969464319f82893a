/*
 * dispatch.c: a request's path from its headers to the handler: the
 * header checks (through request.c), the body through the codec's reader,
 * decoding under a budget, and dispatch once the client half-closes.
 * A request that fails is answered here (call.c) and never dispatched.
 */
#include "server_int.h"

#include <errno.h>

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

/* protobuf-c's allocator while a request decodes: counts, and refuses
 * past the budget. Freed memory goes back through gdp_free() as usual. */
struct decode_budget {
	size_t used;
	size_t max;
	bool refused;
};

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
	switch (grpc_request_check(&call->head, server->methods,
	    server->nmethods, msg, sizeof(msg))) {
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

static void *
budget_alloc(void *data, size_t size)
{
	struct decode_budget *b = data;

	if (size > b->max || b->used + MALLOC_OVERHEAD > b->max - size) {
		b->refused = true;
		return NULL;
	}
	b->used += size + MALLOC_OVERHEAD;
	return gdp_malloc(size);
}

static void
budget_free(void *data, void *p)
{
	gdp_free(p);
}

static int
on_request_message(const uint8_t *msg, size_t len, void *arg)
{
	struct grpc_call *call = arg;
	struct decode_budget b = { 0, DECODE_FACTOR * len + DECODE_SLACK,
		false };
	ProtobufCAllocator a = { budget_alloc, budget_free, &b };

	if (++call->nmsgs > 1) {
		call_respond_early_fmt(call, GRPC_UNIMPLEMENTED,
		    "grpc: more than one request message for %s",
		    call->method->path);
		return -EPROTO;
	}
	call->request = protobuf_c_message_unpack(call->method->request, &a,
	    len, msg);
	/* Until call_dispatch it counts as an unfinished request. */
	call->decoded = b.used;
	if (call->request == NULL)   /* protobuf-c freed what it made */
		server_freed(call->conn->server, b.used);
	if (call->request == NULL && b.refused) {
		call_respond_early_fmt(call, GRPC_RESOURCE_EXHAUSTED,
		    "grpc: the request for %s decodes to more than %zu bytes",
		    call->method->path, b.max);
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
	server->stats.calls++;
	conn_progress(call->conn);
	call->method->handler(call, request, server->app);
	protobuf_c_message_free_unpacked(request, gdp_protobuf_allocator());
}
