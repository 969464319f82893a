/*
 * test_log.c: what reaches stderr. A message that carries text from
 * elsewhere (a kubelet's error, an NVML string) cannot forge a log line
 * or send escape sequences: control bytes and backslashes are escaped,
 * and each call is exactly one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

/* Runs log_warn(|fmt|, |arg|) with stderr on a pipe; returns the line. */
static void
logged(const char *arg, char *out, size_t len)
{
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	log_warn("kubelet said: %s", arg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

static void
test_control_bytes_are_escaped(void **state)
{
	char line[4096];
	const char *msg;

	logged("bad\nE1202 00:00:00.000000 1 forged.c:1] root\x1b[2J\\", line,
	    sizeof(line));
	assert_int_equal(line[0], 'W');
	/* One line: the only newline is the last byte. */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	msg = strstr(line, "] kubelet said: ");
	assert_non_null(msg);
	assert_string_equal(msg, "] kubelet said: bad\\x0aE1202 00:00:00.000000"
	    " 1 forged.c:1] root\\x1b[2J\\\\\n");
}

static void
test_long_messages_stay_one_line(void **state)
{
	char big[3000], line[8192];

	memset(big, '\r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	logged(big, line, sizeof(line));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_null(strchr(line, '\r'));
	assert_true(strlen(line) <= 4096); /* one buffer, newline included */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes_are_escaped),
		cmocka_unit_test(test_long_messages_stay_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
