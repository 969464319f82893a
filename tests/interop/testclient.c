/*
 * testclient.c: grpc-testclient, one Register call through our client.
 *
 * With --serve, the test service listens on the same loop while the call
 * is in flight, which is exactly the plugin's situation: the kubelet dials
 * back and calls GetDevicePluginOptions before it answers Register.
 * Prints "status=<code> message=<text>". See README.md for the options.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin.pb-c.h"
#include "grpc/client.h"
#include "loop/loop.h"
#include "testservice.h"

struct args {
	const char *socket;
	const char *serve;
	const char *endpoint;
	const char *resource;
	const char *version;
	long timeout_ms;
};

static void
on_done(int code, const char *message, const ProtobufCMessage *response,
    void *arg)
{
	printf("status=%d message=%s\n", code, message);
	fflush(stdout);
	loop_stop(arg);
}

static int
usage(void)
{
	fprintf(stderr, "usage: grpc-testclient --socket KUBELET_SOCK "
	    "[--serve PLUGIN_SOCK] [--endpoint NAME] [--resource NAME] "
	    "[--timeout-ms N] [--version V]\n");
	return 2;
}

static int
parse(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "serve", required_argument, NULL, 'S' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "resource", required_argument, NULL, 'r' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "version", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': a->socket = optarg; break;
		case 'S': a->serve = optarg; break;
		case 'e': a->endpoint = optarg; break;
		case 'r': a->resource = optarg; break;
		case 't': a->timeout_ms = strtol(optarg, NULL, 10); break;
		case 'v': a->version = optarg; break;
		default: return -1;
		}
	}
	if (a->socket == NULL || optind != argc)
		return -1;
	if (a->endpoint == NULL) {
		const char *slash = a->serve ? strrchr(a->serve, '/') : NULL;

		a->endpoint = slash ? slash + 1 : a->serve ? a->serve :
		    "none.sock";
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = { .resource = "example.com/dev",
		.version = "v1beta1" };
	V1beta1__DevicePluginOptions opts =
	    V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	struct grpc_client_request call = { 0 };
	struct testservice *ts = NULL;
	struct loop *loop;
	int rc;

	if (parse(argc, argv, &a) < 0)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	if (loop == NULL)
		return 1;
	if (a.serve != NULL) {
		ts = testservice_new(loop, NULL);
		if (ts == NULL || grpc_server_listen(testservice_server(ts),
		    a.serve) < 0) {
			fprintf(stderr, "grpc-testclient: cannot serve %s\n",
			    a.serve);
			return 1;
		}
	}
	opts.get_preferred_allocation_available = 1;
	req.version = (char *)a.version;
	req.endpoint = (char *)a.endpoint;
	req.resource_name = (char *)a.resource;
	req.options = &opts;
	call.socket_path = a.socket;
	call.method = "/v1beta1.Registration/Register";
	call.message = &req.base;
	call.response_type = &v1beta1__empty__descriptor;
	call.timeout_ms = a.timeout_ms;
	rc = grpc_client_call(loop, &call, on_done, loop, NULL);
	if (rc < 0) {
		fprintf(stderr, "grpc-testclient: %s\n", strerror(-rc));
		return 1;
	}
	loop_run(loop);
	if (ts != NULL) {
		grpc_server_shutdown(testservice_server(ts));
		testservice_free(ts);
	}
	loop_free(loop);
	return 0;
}
