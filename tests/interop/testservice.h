/*
 * testservice.h: the v1beta1.DevicePlugin test service that the interop
 * suites, the fuzzer and the benchmark talk to (behaviour: README.md in
 * this directory). It is a test double of a device plugin, built on the
 * real gRPC server, so that every path of the server is reachable from a
 * real gRPC client: unary and streaming answers, late answers, errors,
 * pushes, floods, and counters to observe the server from outside.
 */
#ifndef GDP_TESTSERVICE_H
#define GDP_TESTSERVICE_H

#include "grpc/server.h"
#include "loop/loop.h"

struct testservice;

/* Returns NULL with errno set. |opts| may be NULL. */
struct testservice *testservice_new(struct loop *loop,
    const struct grpc_server_options *opts);
struct grpc_server *testservice_server(struct testservice *ts);
/* Ends every stream, cancels timers, frees the server and the service. */
void testservice_free(struct testservice *ts);

#endif /* GDP_TESTSERVICE_H */
