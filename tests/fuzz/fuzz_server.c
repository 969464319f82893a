/*
 * fuzz_server.c: raw bytes into a server connection.
 *
 * Each input is what a client might write on the plugin socket: it is
 * written into one end of a socketpair whose other end the server adopts
 * as an accepted connection, with the test service behind it (so that
 * valid requests reach handlers, streams and timers). The loop then runs
 * until the server has closed the connection. Nothing may crash, leak,
 * or hang; ASan, UBSan and LeakSanitizer watch.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/server.h"
#include "loop/loop.h"
#include "testservice.h"

#define FUZZ_MAX_INPUT ((size_t)128 << 10)
#define MAX_ROUNDS 2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(int fd)
{
	uint8_t buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grpc_server_options opts = { .max_stream_queue = 64 << 10 };
	struct loop *loop = loop_new();
	struct testservice *ts = loop ? testservice_new(loop, &opts) : NULL;
	const struct grpc_server_stats *st;
	int sv[2];

	if (ts == NULL)
		abort();
	st = grpc_server_stats(testservice_server(ts));
	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	if (grpc_server_adopt(testservice_server(ts), sv[0]) < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n <= 0) {
			loop_run_once(loop, 0);
			drain(sv[1]);
			continue;
		}
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < MAX_ROUNDS && st->conns_open > 0; i++) {
		loop_run_once(loop, 0);
		drain(sv[1]);
	}
	close(sv[1]);
	testservice_free(ts);
	loop_free(loop);
	return 0;
}
