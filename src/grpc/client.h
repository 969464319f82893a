/*
 * client.h: unary gRPC calls to a server on a unix socket, on the loop.
 *
 * Made for the plugin's calls to the kubelet (Register): each call has its
 * own connection, opened when the call starts and closed (with GOAWAY)
 * when it ends, so a restarted kubelet never sees a stale connection. The
 * request goes out with :authority localhost, te: trailers and our
 * user-agent; no keepalive PINGs are sent (the kubelet's server penalises
 * them). The loop keeps serving everything else meanwhile, which matters:
 * the kubelet dials the plugin back before it answers Register.
 *
 * The result always arrives through the callback, on the loop, never from
 * inside grpc_client_call() itself.
 */
#ifndef GDP_GRPC_CLIENT_H
#define GDP_GRPC_CLIENT_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "grpc/codec.h"
#include "loop/loop.h"

struct grpc_client_call;

/*
 * The result of a call. |message| is the decoded grpc-message (or our own
 * description of a transport failure), never NULL. |response| is the
 * decoded response when |code| is GRPC_OK, else NULL. Both are freed when
 * the callback returns.
 */
typedef void (*grpc_client_cb)(int code, const char *message,
    const ProtobufCMessage *response, void *arg);

struct grpc_client_request {
	const char *socket_path;  /* unix socket to dial */
	const char *method;       /* "/v1beta1.Registration/Register" */
	const ProtobufCMessage *message;
	const ProtobufCMessageDescriptor *response_type;
	int64_t timeout_ms;       /* 0: no deadline (no grpc-timeout) */
	const char *user_agent;   /* NULL: "gpu-device-plugin" */
};

/*
 * Starts a call. Everything in |req| is copied or encoded before this
 * returns. On success returns 0 and, if |out| is not NULL, a handle valid
 * until the callback runs. Transport failures (no socket, refused, reset)
 * are not errors here: they arrive as UNAVAILABLE through |cb|. Returns
 * -ENOMEM, or -EINVAL for a socket path that does not fit.
 */
int grpc_client_call(struct loop *loop, const struct grpc_client_request *req,
    grpc_client_cb cb, void *arg, struct grpc_client_call **out);
/*
 * Abandons a call whose callback has not run: the connection is closed and
 * the callback never runs.
 */
void grpc_client_call_cancel(struct grpc_client_call *call);

#endif /* GDP_GRPC_CLIENT_H */
