/*
 * test_http_server.c: the metrics endpoint's HTTP/1.1 server
 * (src/metrics/server.c) through a real unix socket, on a loop this test
 * turns by hand: the connection count never passes its bound however
 * many clients connect, pipelined requests are answered in order, a
 * request over the cap gets 431 and the end of the connection, and a
 * client that reads nothing leaves the loop free to turn. The daemon's
 * use of it is tested end to end in tests/plugin/metrics-test.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop/loop.h"
#include "metrics/server.h"

struct fixture {
	struct loop *loop;
	struct http_server *s;
	char dir[64];
	struct sockaddr_un sa;
};

/* Every path answers 200 with the path and, for /big, 64 KiB more. */
static void
route(void *arg, const char *path, struct http_answer *a)
{
	static char big[65536];

	a->status = 200;
	a->type = "text/plain";
	metrics_text_append(&a->body, path, strlen(path));
	if (!strcmp(path, "/big")) {
		memset(big, 'x', sizeof(big));
		metrics_text_append(&a->body, big, sizeof(big));
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gdp-http-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->sa.sun_family = AF_UNIX;
	snprintf(f->sa.sun_path, sizeof(f->sa.sun_path), "%s/s", f->dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&f->sa, sizeof(f->sa)),
	    0);
	assert_int_equal(listen(fd, 64), 0);
	f->loop = loop_new();
	assert_non_null(f->loop);
	f->s = http_server_start(f->loop, fd, route, NULL);
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_server_free(f->s);
	loop_free(f->loop);
	unlink(f->sa.sun_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
client(struct fixture *f)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&f->sa,
	    sizeof(f->sa)), 0);
	return fd;
}

static void
turn(struct fixture *f, int rounds)
{
	while (rounds-- > 0)
		(void)loop_run_once(f->loop, 5);
}

/* Turns the loop and reads |fd| until EOF or |until| is in what was
 * read (or 2 s). Returns the bytes read; |eof| says whether it ended. */
static size_t
pump(struct fixture *f, int fd, char *buf, size_t cap, const char *until,
    bool *eof)
{
	size_t len = 0;
	int64_t end = loop_now_ms() + 2000;

	*eof = false;
	buf[0] = '\0';
	while (loop_now_ms() < end && len + 1 < cap) {
		ssize_t n;

		turn(f, 1);
		n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
		if (n == 0) {
			*eof = true;
			break;
		}
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
		}
		if (until != NULL && strstr(buf, until) != NULL)
			break;
	}
	return len;
}

static void
test_connections_bounded(void **state)
{
	struct fixture *f = *state;
	int fds[40];
	char buf[512];
	bool eof;

	for (int i = 0; i < 40; i++) {
		fds[i] = client(f);
		turn(f, 2);
		assert_true(http_server_connections(f->s) <=
		    HTTP_MAX_CONNECTIONS);
	}
	assert_int_equal(http_server_connections(f->s), HTTP_MAX_CONNECTIONS);
	/* The newest is served; the oldest was closed for it. */
	assert_true(send(fds[39], "GET /new HTTP/1.1\r\n\r\n", 21, 0) == 21);
	(void)pump(f, fds[39], buf, sizeof(buf), "/new", &eof);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	(void)pump(f, fds[0], buf, sizeof(buf), NULL, &eof);
	assert_true(eof);
	for (int i = 0; i < 40; i++)
		close(fds[i]);
}

static void
test_pipelined_in_order(void **state)
{
	struct fixture *f = *state;
	const char req[] = "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\n"
	    "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
	int fd = client(f);
	char buf[2048];
	bool eof;
	const char *a, *b, *c;

	assert_true(send(fd, req, sizeof(req) - 1, 0) ==
	    (ssize_t)sizeof(req) - 1);
	(void)pump(f, fd, buf, sizeof(buf), NULL, &eof);
	assert_true(eof);
	a = strstr(buf, "Content-Length: 2\r\n");
	b = strstr(buf, "\r\n\r\n/aHTTP/1.1 200 OK\r\n");
	c = strstr(buf, "Connection: close\r\n\r\n/c");
	assert_non_null(a);
	assert_non_null(b);      /* HEAD /b: its headers, no body */
	assert_non_null(c);
	assert_null(strstr(buf, "/b"));
	assert_true(a < b && b < c);
	close(fd);
}

static void
test_request_cap(void **state)
{
	struct fixture *f = *state;
	char req[HTTP_REQUEST_MAX + 200], buf[1024];
	int fd = client(f);
	size_t n;
	bool eof;

	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX: ");
	memset(req + n, 'a', sizeof(req) - n - 4);
	req[sizeof(req) - 4] = req[sizeof(req) - 2] = '\r';
	req[sizeof(req) - 3] = req[sizeof(req) - 1] = '\n';
	for (size_t off = 0; off < sizeof(req); off += 1024) {
		size_t len = sizeof(req) - off < 1024 ? sizeof(req) - off : 1024;

		(void)send(fd, req + off, len, MSG_NOSIGNAL);
		turn(f, 2);
	}
	(void)pump(f, fd, buf, sizeof(buf), NULL, &eof);
	assert_true(eof);
	assert_non_null(strstr(buf, "HTTP/1.1 431 "));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	close(fd);
}

/* 200 /big answers asked for and none read: the loop keeps turning
 * (each turn returns), and all of them come whole once read. */
static void
test_reader_that_does_not_read(void **state)
{
	struct fixture *f = *state;
	const char req[] = "GET /big HTTP/1.1\r\n\r\n";
	int fd = client(f);
	size_t total = 0, want;
	int64_t t0;
	char *buf = malloc(1 << 20);
	bool eof = false;

	assert_non_null(buf);
	for (int i = 0; i < 200; i++)
		assert_true(send(fd, req, sizeof(req) - 1, 0) > 0);
	(void)shutdown(fd, SHUT_WR);
	t0 = loop_now_ms();
	turn(f, 50);
	assert_true(loop_now_ms() - t0 < 1000);
	want = (size_t)200 * (65536 + 4);
	while (!eof) {
		size_t n = pump(f, fd, buf, 1 << 20, NULL, &eof);

		if (n == 0 && !eof)
			break;
		total += n;
	}
	assert_true(eof);
	assert_true(total > want);     /* bodies and headers */
	free(buf);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connections_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reader_that_does_not_read,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
