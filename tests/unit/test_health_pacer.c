/*
 * test_health_pacer.c: the health thread's pacing rules, which keep it
 * from spinning whatever the driver's event wait does (returns at once
 * with TIMEOUT, or SUCCESS without an event, fails, reports a lost GPU,
 * or floods events). Pure: simulated time, no NVML, no sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "health/thread.h"

#define T ((int64_t)HEALTH_WAIT_MAX_MS)

/*
 * Plays |seconds| of a driver whose every wait ends with |o| after
 * |elapsed| ms (waits of T ms); returns how many waits the thread makes.
 */
static long
waits_in(enum health_wait_outcome o, int64_t elapsed, int seconds)
{
	struct health_pacer p;
	int64_t now = 0, end = (int64_t)seconds * 1000;
	long waits = 0;

	health_pacer_init(&p);
	while (now < end) {
		waits++;
		now += elapsed;
		now += health_pacer_pause(&p, o, T, elapsed);
		if (waits > 1000000)
			break;  /* spinning: fail below, do not hang */
	}
	return waits;
}

static void
test_early_timeout_sleeps_the_rest(void **state)
{
	struct health_pacer p;

	health_pacer_init(&p);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, 0), T);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, 10),
	    T - 10);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, 100, 3),
	    97);
	assert_int_equal(p.early, 3);
	/* A wait that took its time: none, and the run of early ones ends. */
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, T), 0);
	assert_int_equal(p.early, 0);
	/* Past its time (a slow driver): no pause, never negative. */
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T,
	    3 * T), 0);
	/* A clock going backwards cannot make it longer than the timeout. */
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, -50),
	    T);
}

static void
test_success_without_event_sleeps_the_rest(void **state)
{
	struct health_pacer p;

	health_pacer_init(&p);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_EMPTY, T, 2),
	    T - 2);
	assert_int_equal(p.early, 1);
}

/* The field report: a wait that returns at once must not spin. */
static void
test_immediate_returns_are_at_most_one_per_timeout(void **state)
{
	assert_true(waits_in(HEALTH_WAIT_TIMEOUT, 0, 60) <= 60);
	assert_true(waits_in(HEALTH_WAIT_EMPTY, 0, 60) <= 60);
	assert_true(waits_in(HEALTH_WAIT_EMPTY, 1, 60) <= 60);
}

static void
test_errors_back_off_doubling_to_five_seconds(void **state)
{
	const int64_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	struct health_pacer p;

	health_pacer_init(&p);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_ERROR, T,
		    0), want[i]);
	health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, T);  /* works again */
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_ERROR, T, 0), 100);
	assert_true(waits_in(HEALTH_WAIT_ERROR, 0, 60) <= 30);
}

static void
test_lost_gpu_retries_every_250_ms(void **state)
{
	struct health_pacer p;

	health_pacer_init(&p);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_LOST, T, 0),
	    HEALTH_LOST_RETRY_MS);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_LOST, T, 0),
	    HEALTH_LOST_RETRY_MS);
	assert_true(waits_in(HEALTH_WAIT_LOST, 0, 60) <= 60L * 4);
}

static void
test_events_are_read_at_once_but_a_flood_pauses(void **state)
{
	struct health_pacer p;

	health_pacer_init(&p);
	for (int i = 1; i < HEALTH_EVENT_BURST; i++)
		assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_EVENT, T,
		    0), 0);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_EVENT, T, 0), T);
	assert_int_equal(health_pacer_pause(&p, HEALTH_WAIT_EVENT, T, 0), 0);
	/* A timeout in between starts the count again. */
	health_pacer_pause(&p, HEALTH_WAIT_TIMEOUT, T, T);
	assert_int_equal(p.events, 0);
	assert_true(waits_in(HEALTH_WAIT_EVENT, 0, 60) <=
	    60L * HEALTH_EVENT_BURST);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_early_timeout_sleeps_the_rest),
		cmocka_unit_test(test_success_without_event_sleeps_the_rest),
		cmocka_unit_test(
		    test_immediate_returns_are_at_most_one_per_timeout),
		cmocka_unit_test(test_errors_back_off_doubling_to_five_seconds),
		cmocka_unit_test(test_lost_gpu_retries_every_250_ms),
		cmocka_unit_test(
		    test_events_are_read_at_once_but_a_flood_pauses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
