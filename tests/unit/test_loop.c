/*
 * test_loop.c: the event loop: timers in order and re-armed by their
 * return value, cancellation from any callback, fds removed mid-round
 * never called, wake-ups from another thread, signals through signalfd,
 * the before-sleep hook, and descriptors that cannot be had reported as
 * what they are (EMFILE), not as a lack of memory.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/loop.h"

struct order {
	char seen[16];
	int n;
	int repeats;
	struct loop_timer *victim;
};

static int64_t
record_a(struct loop *loop, void *arg)
{
	struct order *o = arg;

	o->seen[o->n++] = 'a';
	return LOOP_NOMORE;
}

static int64_t
record_b(struct loop *loop, void *arg)
{
	struct order *o = arg;

	o->seen[o->n++] = 'b';
	return LOOP_NOMORE;
}

static int64_t
record_c_stop(struct loop *loop, void *arg)
{
	struct order *o = arg;

	o->seen[o->n++] = 'c';
	loop_stop(loop);
	return LOOP_NOMORE;
}

static void
test_timers_fire_in_due_order(void **state)
{
	struct loop *loop = loop_new();
	struct order o = { 0 };

	assert_non_null(loop);
	assert_non_null(loop_add_timer(loop, 30, record_c_stop, &o));
	assert_non_null(loop_add_timer(loop, 10, record_b, &o));
	assert_non_null(loop_add_timer(loop, 0, record_a, &o));
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(o.n, 3);
	assert_memory_equal(o.seen, "abc", 3);
	loop_free(loop);
}

static void
test_timer_reset_moves_it(void **state)
{
	/* A day away, brought forward to now: it runs first; one moved
	 * back runs last. */
	struct loop *loop = loop_new();
	struct order o = { 0 };
	struct loop_timer *a, *b;

	assert_non_null(loop);
	a = loop_add_timer(loop, 24LL * 3600 * 1000, record_a, &o);
	b = loop_add_timer(loop, 0, record_b, &o);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(loop_add_timer(loop, 20, record_c_stop, &o));
	loop_timer_reset(loop, a, 0);
	loop_timer_reset(loop, b, 10);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(o.n, 3);
	assert_memory_equal(o.seen, "abc", 3);
	loop_free(loop);
}

static int64_t
repeat_three_times(struct loop *loop, void *arg)
{
	struct order *o = arg;

	if (++o->repeats == 3) {
		loop_stop(loop);
		return LOOP_NOMORE;
	}
	return 1;
}

static void
test_timer_rearms_with_return_value(void **state)
{
	struct loop *loop = loop_new();
	struct order o = { 0 };
	int64_t start = loop_now_ms();

	assert_non_null(loop_add_timer(loop, 1, repeat_three_times, &o));
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(o.repeats, 3);
	assert_true(loop_now_ms() - start >= 3);
	loop_free(loop);
}

static int64_t
cancel_victim(struct loop *loop, void *arg)
{
	struct order *o = arg;

	loop_cancel_timer(loop, o->victim);
	o->seen[o->n++] = 'k';
	return LOOP_NOMORE;
}

static int64_t
cancel_self(struct loop *loop, void *arg)
{
	struct order *o = arg;

	o->seen[o->n++] = 's';
	loop_cancel_timer(loop, o->victim);
	return 5; /* ignored: the timer was cancelled */
}

static void
test_cancel_from_callbacks(void **state)
{
	struct loop *loop = loop_new();
	struct order o = { 0 };

	/* A timer cancels another that is due in the same round. */
	assert_non_null(loop_add_timer(loop, 0, cancel_victim, &o));
	o.victim = loop_add_timer(loop, 0, record_a, &o);
	for (int i = 0; i < 5; i++)
		loop_run_once(loop, 20);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.seen[0], 'k');
	/* A timer cancels itself; it does not run again. */
	o.n = 0;
	o.victim = loop_add_timer(loop, 0, cancel_self, &o);
	for (int i = 0; i < 5; i++)
		loop_run_once(loop, 10);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.seen[0], 's');
	loop_free(loop);
}

struct pair {
	int fds[2][2];
	int calls[2];
	struct loop *loop;
};

static void
on_pair_readable(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct pair *p = arg;
	int idx = fd == p->fds[0][0] ? 0 : 1;
	char c;

	p->calls[idx]++;
	(void)!read(fd, &c, 1);
	/* Whoever runs first removes the other; it must not be called. */
	loop_del_fd(loop, p->fds[!idx][0]);
}

static void
test_fd_removed_mid_round_is_not_called(void **state)
{
	struct loop *loop = loop_new();
	struct pair p = { .loop = loop };

	for (int i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0,
		    p.fds[i]), 0);
		assert_int_equal(loop_add_fd(loop, p.fds[i][0], LOOP_READ,
		    on_pair_readable, &p), 0);
		assert_int_equal(write(p.fds[i][1], "x", 1), 1);
	}
	assert_int_equal(loop_add_fd(loop, p.fds[0][0], LOOP_READ,
	    on_pair_readable, &p), -EEXIST);
	loop_run_once(loop, 100);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	loop_run_once(loop, 10);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	for (int i = 0; i < 2; i++) {
		loop_del_fd(loop, p.fds[i][0]);
		close(p.fds[i][0]);
		close(p.fds[i][1]);
	}
	loop_free(loop);
}

static void
on_writable(struct loop *loop, int fd, unsigned events, void *arg)
{
	*(unsigned *)arg |= events;
	loop_mod_fd(loop, fd, 0);
}

static void
test_mod_fd_changes_events(void **state)
{
	struct loop *loop = loop_new();
	unsigned seen = 0;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(loop_add_fd(loop, sv[0], LOOP_READ, on_writable,
	    &seen), 0);
	assert_int_equal(loop_run_once(loop, 10), 0);
	assert_int_equal(loop_mod_fd(loop, sv[0], LOOP_WRITE), 0);
	assert_int_equal(loop_run_once(loop, 100), 1);
	assert_true(seen & LOOP_WRITE);
	assert_int_equal(loop_mod_fd(loop, 999, LOOP_READ), -ENOENT);
	loop_del_fd(loop, sv[0]);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

struct wake {
	struct loop_wakeup *w;
	int runs;
};

static void
on_wake(struct loop *loop, void *arg)
{
	((struct wake *)arg)->runs++;
	loop_stop(loop);
}

static void *
poster(void *arg)
{
	struct wake *wk = arg;

	for (int i = 0; i < 1000; i++)
		loop_wakeup_post(wk->w);
	return NULL;
}

static void
test_wakeup_from_another_thread(void **state)
{
	struct loop *loop = loop_new();
	struct wake wk = { 0 };
	pthread_t t;

	wk.w = loop_add_wakeup(loop, on_wake, &wk);
	assert_non_null(wk.w);
	assert_int_equal(pthread_create(&t, NULL, poster, &wk), 0);
	pthread_join(t, NULL);
	assert_int_equal(loop_run(loop), 0);
	/* A thousand posts before the loop ran: one callback. */
	assert_int_equal(wk.runs, 1);
	loop_free(loop);
}

static void
on_signal(struct loop *loop, int signo, void *arg)
{
	*(int *)arg = signo;
	loop_stop(loop);
}

static void
test_signal_through_signalfd(void **state)
{
	struct loop *loop = loop_new();
	int got = 0;

	assert_int_equal(loop_add_signal(loop, SIGUSR1, on_signal, &got), 0);
	assert_int_equal(loop_add_signal(loop, SIGUSR1, on_signal, &got),
	    -EEXIST);
	assert_int_equal(loop_add_signal(loop, SIGUSR2, on_signal, &got), 0);
	kill(getpid(), SIGUSR2);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(got, SIGUSR2);
	kill(getpid(), SIGUSR1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(got, SIGUSR1);
	loop_free(loop);
}

static void
count_hook(struct loop *loop, void *arg)
{
	(*(int *)arg)++;
}

static void
test_before_sleep_hook(void **state)
{
	struct loop *loop = loop_new();
	int runs = 0;

	assert_int_equal(loop_add_before_sleep(loop, count_hook, &runs), 0);
	loop_run_once(loop, 0);
	loop_run_once(loop, 0);
	assert_int_equal(runs, 2);
	loop_del_before_sleep(loop, count_hook, &runs);
	loop_run_once(loop, 0);
	assert_int_equal(runs, 2);
	loop_free(loop);
}

static void
never_woken(struct loop *loop, void *arg)
{
}

/*
 * In a child (the limit dies with it): lowers RLIMIT_NOFILE to the lowest
 * free descriptor, so that every new one fails with EMFILE, and exits 0
 * if a wake-up (|what| 'w') or a whole loop ('l') then fails with errno
 * EMFILE, 2 if it was made, 3 if errno said something else.
 */
static int
without_fds(char what)
{
	struct loop *loop = what == 'w' ? loop_new() : NULL;
	struct rlimit rl;
	pid_t pid;
	int status;

	if (what == 'w')
		assert_non_null(loop);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int lowest = dup(0);
		void *made;

		close(lowest);
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)lowest;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(4);
		errno = 0;
		made = what == 'w' ? (void *)loop_add_wakeup(loop, never_woken,
		    NULL) : (void *)loop_new();
		_exit(made != NULL ? 2 : errno == EMFILE ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	loop_free(loop);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_wakeup_without_fds_says_emfile(void **state)
{
	assert_int_equal(without_fds('w'), 0);
}

static void
test_loop_without_fds_says_emfile(void **state)
{
	assert_int_equal(without_fds('l'), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_due_order),
		cmocka_unit_test(test_timer_rearms_with_return_value),
		cmocka_unit_test(test_timer_reset_moves_it),
		cmocka_unit_test(test_cancel_from_callbacks),
		cmocka_unit_test(test_fd_removed_mid_round_is_not_called),
		cmocka_unit_test(test_mod_fd_changes_events),
		cmocka_unit_test(test_wakeup_from_another_thread),
		cmocka_unit_test(test_signal_through_signalfd),
		cmocka_unit_test(test_before_sleep_hook),
		cmocka_unit_test(test_wakeup_without_fds_says_emfile),
		cmocka_unit_test(test_loop_without_fds_says_emfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
