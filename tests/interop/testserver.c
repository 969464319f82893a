/*
 * testserver.c: grpc-testserver, the test service on a unix socket.
 *
 * Usage: grpc-testserver --socket PATH [--max-queue BYTES]
 * Prints "ready" once it accepts; SIGTERM or SIGINT sends GOAWAY to every
 * connection, removes PATH and exits 0. See README.md for the service.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop.h"
#include "testservice.h"

/* The stderr lines below tell a runner where a slow stop was slow. */
static void
on_stop(struct loop *loop, int signo, void *arg)
{
	fprintf(stderr, "grpc-testserver: signal %d, shutting down\n", signo);
	grpc_server_shutdown(testservice_server(arg));
	loop_stop(loop);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: grpc-testserver --socket PATH [--max-queue BYTES] "
	    "[--max-connections N]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct grpc_server_options opts = { 0 };
	const char *path = NULL;
	struct testservice *ts;
	struct loop *loop;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			path = optarg;
		else if (c == 'q')
			opts.max_stream_queue = strtoul(optarg, NULL, 10);
		else if (c == 'c')
			opts.max_connections = (uint32_t)strtoul(optarg, NULL,
			    10);
		else
			return usage();
	}
	if (path == NULL || optind != argc)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	ts = loop ? testservice_new(loop, &opts) : NULL;
	if (ts == NULL) {
		fprintf(stderr, "grpc-testserver: %s\n", strerror(errno));
		return 1;
	}
	rc = grpc_server_listen(testservice_server(ts), path);
	if (rc < 0) {
		fprintf(stderr, "grpc-testserver: listen on %s: %s\n", path,
		    strerror(-rc));
		return 1;
	}
	loop_add_signal(loop, SIGTERM, on_stop, ts);
	loop_add_signal(loop, SIGINT, on_stop, ts);
	printf("ready\n");
	fflush(stdout);
	rc = loop_run(loop);
	testservice_free(ts);
	loop_free(loop);
	fprintf(stderr, "grpc-testserver: stopped, exiting\n");
	return rc < 0 ? 1 : 0;
}
