/*
 * test_health_state.c: the health state machine driven with record
 * sequences and an injected clock (no NVML, no loop, no sleeps).
 *
 * Every step goes through snap(), which also checks the invariants the
 * application relies on: an unhealthy GPU and a MIG-scoped fault always
 * carry a reason, a healthy GPU none. The rate limit on repeated event
 * lines is checked on what reaches stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "health/state.h"

#define QUIET INT64_C(1000)
#define NGPUS 4

struct fixture {
	struct health_state *s;
	struct health_snapshot snap;
	bool changed;
};

static struct health_state *
new_state(bool unhealthy_without_events, const char *enable)
{
	static const char *const names[NGPUS] = { "GPU-a", "GPU-b", "GPU-c",
		"GPU-d" };
	struct health_config cfg = { .quiet_ms = QUIET,
		.unhealthy_without_events = unhealthy_without_events };
	char warn[128];

	policy_init(&cfg.policy, NULL, enable, warn, sizeof(warn));
	return health_state_new(NGPUS, names, &cfg);
}

static int
setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.s = new_state(true, NULL);
	*state = &f;
	return f.s == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	health_state_free(f->s);
	return 0;
}

/* Takes a snapshot and checks the invariants. */
static void
snap(struct fixture *f)
{
	f->changed = health_state_snapshot(f->s, &f->snap);
	assert_int_equal(f->snap.ngpus, NGPUS);
	for (size_t i = 0; i < f->snap.ngpus; i++) {
		const struct health_gpu_status *g = &f->snap.gpus[i];

		assert_non_null(g->reason);
		if (g->healthy)
			assert_string_equal(g->reason, "");
		else
			assert_true(strlen(g->reason) > 0);
	}
	for (size_t k = 0; k < f->snap.nfaults; k++) {
		assert_non_null(f->snap.faults[k].reason);
		assert_true(strlen(f->snap.faults[k].reason) > 0);
	}
}

static bool
healthy(struct fixture *f, size_t i)
{
	snap(f);
	return f->snap.gpus[i].healthy;
}

static const char *
reason(struct fixture *f, size_t i)
{
	snap(f);
	return f->snap.gpus[i].reason;
}

static void
xid(struct fixture *f, size_t gpu, uint64_t x, unsigned gi, unsigned ci,
    int64_t now)
{
	struct health_record r = { .kind = HEALTH_REC_EVENT, .gpu = gpu,
		.type = nvmlEventTypeXidCriticalError, .xid = x, .gi = gi,
		.ci = ci };

	health_state_apply(f->s, &r, now);
}

static void
gpu_xid(struct fixture *f, size_t gpu, uint64_t x, int64_t now)
{
	xid(f, gpu, x, HEALTH_WHOLE, HEALTH_WHOLE, now);
}

static void
probe(struct fixture *f, size_t gpu, nvmlReturn_t rc, int64_t now)
{
	struct health_record r = { .kind = HEALTH_REC_PROBE, .gpu = gpu,
		.rc = rc };

	health_state_apply(f->s, &r, now);
}

static void
other(struct fixture *f, enum health_record_kind kind, size_t gpu,
    nvmlReturn_t rc, const char *call)
{
	struct health_record r = { .kind = kind, .gpu = gpu, .rc = rc,
		.call = call };

	health_state_apply(f->s, &r, 0);
}

/* A reset as the probe sees it: the GPU fails to answer, then answers. */
static void
reset(struct fixture *f, size_t gpu, int64_t now)
{
	probe(f, gpu, NVML_ERROR_GPU_IS_LOST, now);
	probe(f, gpu, NVML_SUCCESS, now + 1);
}

static void
test_all_healthy_at_start(void **state)
{
	struct fixture *f = *state;

	snap(f);
	assert_false(f->changed);
	for (size_t i = 0; i < NGPUS; i++)
		assert_true(f->snap.gpus[i].healthy);
	assert_int_equal(f->snap.nfaults, 0);
	assert_true(health_state_next_deadline(f->s) == INT64_MAX);
}

static void
test_transient_recovers_after_quiet_period(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, 1, 94, 100);
	assert_false(healthy(f, 1));
	assert_true(f->changed);
	assert_string_equal(reason(f, 1),
	    "XID 94 (contained ECC error), transient");
	assert_true(healthy(f, 0) && healthy(f, 2) && healthy(f, 3));
	assert_true(health_state_next_deadline(f->s) == 100 + QUIET);

	health_state_tick(f->s, 100 + QUIET - 1);
	assert_false(healthy(f, 1));
	assert_false(f->changed);

	gpu_xid(f, 1, 94, 600);                /* a new one restarts it */
	assert_true(health_state_next_deadline(f->s) == 600 + QUIET);
	health_state_tick(f->s, 100 + QUIET);
	assert_false(healthy(f, 1));

	health_state_tick(f->s, 600 + QUIET);
	assert_true(healthy(f, 1));
	assert_true(f->changed);
	assert_true(health_state_next_deadline(f->s) == INT64_MAX);
}

static void
test_transient_waits_while_probe_fails(void **state)
{
	struct fixture *f = *state;

	xid(f, 0, 94, 2, 0, 0);                /* a MIG-scoped one */
	probe(f, 0, NVML_ERROR_UNKNOWN, 10);
	assert_false(healthy(f, 0));
	assert_string_equal(reason(f, 0), "NVML probe: NVML_ERROR_UNKNOWN");

	health_state_tick(f->s, QUIET);        /* probe failing: kept */
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_true(health_state_next_deadline(f->s) == 2 * QUIET);

	probe(f, 0, NVML_SUCCESS, QUIET + 5);  /* failed, answers: a reset */
	assert_true(healthy(f, 0));
	assert_int_equal(f->snap.nfaults, 0);
}

static void
test_reset_class_needs_a_reset(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, 2, 48, 0);
	assert_string_equal(reason(f, 2),
	    "XID 48 (double bit ECC error), needs a GPU reset");
	assert_true(health_state_next_deadline(f->s) == INT64_MAX);
	health_state_tick(f->s, 100 * QUIET);
	probe(f, 2, NVML_SUCCESS, 100 * QUIET); /* never went away */
	assert_false(healthy(f, 2));

	probe(f, 2, NVML_ERROR_GPU_IS_LOST, 101 * QUIET);
	assert_false(healthy(f, 2));
	assert_string_equal(reason(f, 2),
	    "NVML probe: NVML_ERROR_GPU_IS_LOST");
	probe(f, 2, NVML_SUCCESS, 102 * QUIET);
	assert_true(healthy(f, 2));
}

static void
test_reset_seen_before_the_xid_does_not_count(void **state)
{
	struct fixture *f = *state;

	probe(f, 3, NVML_ERROR_GPU_IS_LOST, 0);
	gpu_xid(f, 3, 79, 1);                  /* arrives after the loss */
	probe(f, 3, NVML_SUCCESS, 2);
	assert_false(healthy(f, 3));
	assert_string_equal(reason(f, 3),
	    "XID 79 (GPU has fallen off the bus), needs a GPU reset");
	reset(f, 3, 3);
	assert_true(healthy(f, 3));
}

static void
test_reset_class_stays_the_one_named(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, 0, 94, 0);
	gpu_xid(f, 0, 48, 1);
	assert_string_equal(reason(f, 0),
	    "XID 48 (double bit ECC error), needs a GPU reset");
	gpu_xid(f, 0, 94, 2);                  /* does not hide the 48 */
	assert_string_equal(reason(f, 0),
	    "XID 48 (double bit ECC error), needs a GPU reset");
	health_state_tick(f->s, 10 * QUIET);
	assert_false(healthy(f, 0));
}

static void
test_application_xids_are_ignored(void **state)
{
	struct fixture *f = *state;
	const uint64_t app[] = { 13, 31, 43, 45, 68, 109 };

	for (size_t k = 0; k < sizeof(app) / sizeof(app[0]); k++) {
		gpu_xid(f, 0, app[k], 0);
		xid(f, 1, app[k], 1, 0, 0);
	}
	assert_true(healthy(f, 0) && healthy(f, 1));
	assert_false(f->changed);
	assert_int_equal(f->snap.nfaults, 0);
}

static void
test_enabled_application_xid_counts(void **state)
{
	struct fixture f = { .s = new_state(true, "13") };
	void *p = &f;

	assert_non_null(f.s);
	gpu_xid(&f, 3, 13, 0);
	assert_false(healthy(&f, 3));
	assert_string_equal(reason(&f, 3),
	    "XID 13 (graphics engine exception), transient");
	teardown(&p);
}

static void
test_ecc_event_alone_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct health_record r = { .kind = HEALTH_REC_EVENT, .gpu = 0,
		.type = nvmlEventTypeDoubleBitEccError, .gi = HEALTH_WHOLE,
		.ci = HEALTH_WHOLE };

	health_state_apply(f->s, &r, 0);
	assert_true(healthy(f, 0));
	assert_false(f->changed);
}

static void
test_wait_errors_and_their_recovery(void **state)
{
	struct fixture *f = *state;

	other(f, HEALTH_REC_WAIT_FAILED, HEALTH_ALL_GPUS, NVML_ERROR_UNKNOWN,
	    "nvmlEventSetWait");
	snap(f);
	for (size_t i = 0; i < NGPUS; i++) {
		assert_false(f->snap.gpus[i].healthy);
		assert_string_equal(f->snap.gpus[i].reason, "health events "
		    "unavailable: nvmlEventSetWait: NVML_ERROR_UNKNOWN");
	}
	other(f, HEALTH_REC_WAIT_OK, HEALTH_ALL_GPUS, NVML_SUCCESS, NULL);
	snap(f);
	assert_true(f->changed);
	for (size_t i = 0; i < NGPUS; i++)
		assert_true(f->snap.gpus[i].healthy);
}

static void
test_wait_errors_leave_health_if_configured(void **state)
{
	struct fixture f = { .s = new_state(false, NULL) };
	void *p = &f;

	assert_non_null(f.s);
	other(&f, HEALTH_REC_WAIT_FAILED, HEALTH_ALL_GPUS, NVML_ERROR_UNKNOWN,
	    NULL);
	other(&f, HEALTH_REC_REGISTER_FAILED, 1, NVML_ERROR_UNKNOWN,
	    "nvmlDeviceRegisterEvents");
	for (size_t i = 0; i < NGPUS; i++)
		assert_true(healthy(&f, i));
	gpu_xid(&f, 1, 48, 0);                 /* XIDs still count */
	assert_false(healthy(&f, 1));
	teardown(&p);
}

/* Commit 9ee1553: the XID in force stays the reason given. */
static void
test_xid_named_after_waits_fail_and_return(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, 2, 48, 0);
	other(f, HEALTH_REC_WAIT_FAILED, HEALTH_ALL_GPUS, NVML_ERROR_UNKNOWN,
	    "nvmlEventSetWait_v2");
	assert_string_equal(reason(f, 2),
	    "XID 48 (double bit ECC error), needs a GPU reset");
	assert_string_equal(reason(f, 0), "health events unavailable: "
	    "nvmlEventSetWait_v2: NVML_ERROR_UNKNOWN");
	other(f, HEALTH_REC_WAIT_OK, HEALTH_ALL_GPUS, NVML_SUCCESS, NULL);
	assert_true(healthy(f, 0));
	assert_false(healthy(f, 2));
	assert_string_equal(reason(f, 2),
	    "XID 48 (double bit ECC error), needs a GPU reset");
}

static void
test_register_failure_marks_that_gpu(void **state)
{
	struct fixture *f = *state;

	other(f, HEALTH_REC_REGISTER_FAILED, 1, NVML_ERROR_UNKNOWN,
	    "nvmlDeviceRegisterEvents");
	other(f, HEALTH_REC_REGISTER_UNSUPPORTED, 2, NVML_ERROR_NOT_SUPPORTED,
	    "nvmlDeviceRegisterEvents");
	assert_false(healthy(f, 1));
	assert_string_equal(reason(f, 1), "health events unavailable: "
	    "nvmlDeviceRegisterEvents: NVML_ERROR_UNKNOWN");
	assert_true(healthy(f, 0) && healthy(f, 2) && healthy(f, 3));
	/* Waits working again say nothing about GPU 1's registration. */
	other(f, HEALTH_REC_WAIT_FAILED, HEALTH_ALL_GPUS, NVML_ERROR_UNKNOWN,
	    NULL);
	other(f, HEALTH_REC_WAIT_OK, HEALTH_ALL_GPUS, NVML_SUCCESS, NULL);
	assert_false(healthy(f, 1));
	assert_true(healthy(f, 0));
	/* Registered once it answered again (the thread retries): healthy. */
	other(f, HEALTH_REC_REGISTERED, 1, NVML_SUCCESS, NULL);
	assert_true(healthy(f, 1));
	assert_string_equal(reason(f, 1), "");
}

static void
test_event_set_failure_marks_every_gpu(void **state)
{
	struct fixture *f = *state;

	other(f, HEALTH_REC_REGISTER_FAILED, HEALTH_ALL_GPUS,
	    NVML_ERROR_MEMORY, "nvmlEventSetCreate");
	for (size_t i = 0; i < NGPUS; i++)
		assert_string_equal(reason(f, i), "health events unavailable: "
		    "nvmlEventSetCreate: NVML_ERROR_MEMORY");
}

static void
test_lost_gpu_marks_only_that_gpu(void **state)
{
	struct fixture *f = *state;

	probe(f, 1, NVML_ERROR_GPU_IS_LOST, 0);
	snap(f);
	assert_false(f->snap.gpus[1].healthy);
	assert_true(f->snap.gpus[0].healthy && f->snap.gpus[2].healthy &&
	    f->snap.gpus[3].healthy);
	probe(f, 1, NVML_SUCCESS, 5);
	assert_true(healthy(f, 1));
}

static void
test_unknown_gpu_is_ignored(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, NGPUS, 48, 0);
	gpu_xid(f, SIZE_MAX - 1, 48, 0);
	probe(f, NGPUS + 3, NVML_ERROR_GPU_IS_LOST, 0);
	snap(f);
	assert_false(f->changed);
	for (size_t i = 0; i < NGPUS; i++)
		assert_true(f->snap.gpus[i].healthy);
}

static void
test_mig_transient_fault_expires(void **state)
{
	struct fixture *f = *state;

	xid(f, 1, 94, 3, 0, 0);
	assert_true(healthy(f, 1));            /* the GPU itself is fine */
	assert_true(f->changed);
	assert_int_equal(f->snap.nfaults, 1);
	assert_int_equal(f->snap.faults[0].gpu, 1);
	assert_int_equal(f->snap.faults[0].gi, 3);
	assert_int_equal(f->snap.faults[0].ci, 0);
	assert_string_equal(f->snap.faults[0].reason, "XID 94 (contained ECC "
	    "error), transient (GPU instance 3, compute instance 0)");
	assert_true(health_state_next_deadline(f->s) == QUIET);
	health_state_tick(f->s, QUIET - 1);
	snap(f);
	assert_false(f->changed);
	assert_int_equal(f->snap.nfaults, 1);
	health_state_tick(f->s, QUIET);
	snap(f);
	assert_true(f->changed);
	assert_int_equal(f->snap.nfaults, 0);
}

static void
test_mig_reset_fault_until_reset(void **state)
{
	struct fixture *f = *state;

	xid(f, 0, 48, 1, HEALTH_WHOLE, 0);
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_int_equal(f->snap.faults[0].ci, HEALTH_WHOLE);
	assert_string_equal(f->snap.faults[0].reason, "XID 48 (double bit "
	    "ECC error), needs a GPU reset (GPU instance 1)");
	assert_true(health_state_next_deadline(f->s) == INT64_MAX);
	health_state_tick(f->s, 100 * QUIET);
	xid(f, 0, 94, 1, HEALTH_WHOLE, 100 * QUIET); /* keeps the reset */
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_string_equal(f->snap.faults[0].reason, "XID 48 (double bit "
	    "ECC error), needs a GPU reset (GPU instance 1)");
	reset(f, 0, 101 * QUIET);
	snap(f);
	assert_true(f->changed);
	assert_int_equal(f->snap.nfaults, 0);
	assert_true(f->snap.gpus[0].healthy);
}

/*
 * The bug: a 17th distinct MIG-scoped transient fault turned the GPU into
 * "needs reset" for good, with an empty reason. All that NVML can report
 * for one GPU (7 GPU instances of 8 compute instances, and each whole
 * instance) is tracked one by one, and expires.
 */
static void
test_every_instance_fault_nvml_can_report_is_kept(void **state)
{
	struct fixture *f = *state;
	size_t n = 0;

	for (unsigned gi = 1; gi <= 7; gi++) {
		xid(f, 2, 94, gi, HEALTH_WHOLE, 0);
		for (unsigned ci = 0; ci < 8; ci++)
			xid(f, 2, 94, gi, ci, 0);
		n += 9;
		assert_true(healthy(f, 2));
		assert_int_equal(f->snap.nfaults, n);
	}
	health_state_tick(f->s, QUIET);
	assert_true(healthy(f, 2));
	assert_int_equal(f->snap.nfaults, 0);
}

/* Past the bound, a fault widens to its GPU instance, same class. */
static void
test_past_the_bound_widens_to_the_instance(void **state)
{
	struct fixture *f = *state;
	const struct health_instance_fault *w = NULL;

	for (unsigned k = 0; k < HEALTH_MAX_INSTANCE_FAULTS; k++)
		xid(f, 0, 94, k / 8, k % 8, 0);
	xid(f, 0, 48, 2, 9, 10);               /* one more, reset-class */
	assert_true(healthy(f, 0));
	for (size_t k = 0; k < f->snap.nfaults; k++) {
		assert_false(f->snap.faults[k].gi == 2 &&
		    f->snap.faults[k].ci != HEALTH_WHOLE);
		if (f->snap.faults[k].gi == 2)
			w = &f->snap.faults[k];
	}
	assert_non_null(w);
	assert_int_equal(w->ci, HEALTH_WHOLE);
	assert_non_null(strstr(w->reason, "XID 48"));
	assert_non_null(strstr(w->reason, "whole GPU instance"));
	assert_int_equal(f->snap.nfaults, HEALTH_MAX_INSTANCE_FAULTS - 7);
	health_state_tick(f->s, 10 * QUIET);   /* the others expire */
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_int_equal(f->snap.faults[0].gi, 2);
}

/* And when even that is impossible, the whole GPU, with a reason. */
static void
test_past_the_bound_marks_the_gpu_with_a_reason(void **state)
{
	struct fixture *f = *state;

	for (unsigned k = 0; k < HEALTH_MAX_INSTANCE_FAULTS; k++)
		xid(f, 3, 94, 100 + k, 0, 0);      /* bogus instance ids */
	assert_true(healthy(f, 3));
	xid(f, 3, 94, 7, 0, 10);
	assert_false(healthy(f, 3));
	assert_non_null(strstr(reason(f, 3), "XID 94"));
	assert_non_null(strstr(reason(f, 3), "more MIG-scoped faults"));
	assert_non_null(strstr(reason(f, 3), "transient"));
	health_state_tick(f->s, 10 + QUIET);   /* same class: it recovers */
	assert_true(healthy(f, 3));
	assert_int_equal(f->snap.nfaults, 0);
}

static void
test_reason_change_is_published(void **state)
{
	struct fixture *f = *state;

	gpu_xid(f, 0, 94, 0);
	snap(f);
	gpu_xid(f, 0, 79, 1);
	snap(f);
	assert_true(f->changed);
	snap(f);
	assert_false(f->changed);
}

/* ---- repeated event lines ---- */

#define REPEAT INT64_C(10000)

/* stderr, while a test captures it. */
static FILE *captured;
static int saved_stderr = -1;

static void
capture(void)
{
	captured = tmpfile();
	assert_non_null(captured);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(captured), STDERR_FILENO) >= 0);
}

/* What was logged since capture() (or the last call), as a string. */
static char *
logged(void)
{
	static char text[1 << 16];
	size_t n;

	fflush(stderr);
	rewind(captured);
	n = fread(text, 1, sizeof(text) - 1, captured);
	text[n] = '\0';
	assert_int_equal(ftruncate(fileno(captured), 0), 0);
	rewind(captured);
	return text;
}

static void
release(void)
{
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	fclose(captured);
}

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static int
setup_repeat(void **state)
{
	static const char *const names[NGPUS] = { "GPU-a", "GPU-b", "GPU-c",
		"GPU-d" };
	static struct fixture f;
	struct health_config cfg = { .quiet_ms = QUIET,
		.log_repeat_ms = REPEAT };
	char warn[128];

	memset(&f, 0, sizeof(f));
	policy_init(&cfg.policy, NULL, NULL, warn, sizeof(warn));
	f.s = health_state_new(NGPUS, names, &cfg);
	*state = &f;
	capture();
	return f.s == NULL ? -1 : 0;
}

static int
teardown_repeat(void **state)
{
	release();
	return teardown(state);
}

static void
test_repeated_xid_is_one_line_then_one_summary_per_interval(void **state)
{
	struct fixture *f = *state;
	const char *first = "XID 13 (graphics engine exception) on GPU 0 "
	    "(GPU-a): an application error";
	char *text;

	for (int64_t t = 0; t < 1000; t++)
		gpu_xid(f, 0, 13, t);
	text = logged();
	assert_int_equal(count(text, "\n"), 1);
	assert_int_equal(count(text, first), 1);
	/* Its summary is due at the end of the interval, and only then. */
	assert_int_equal(health_state_next_deadline(f->s), REPEAT);
	health_state_tick(f->s, REPEAT - 1);
	assert_string_equal(logged(), "");
	health_state_tick(f->s, REPEAT);
	text = logged();
	assert_int_equal(count(text, "\n"), 1);
	assert_int_equal(count(text, "XID 13 on GPU 0 (GPU-a) repeated 999 "
	    "times in the last 10 s"), 1);
	/* A flood that goes on: one summary per interval, no new first. */
	for (int64_t t = REPEAT; t < 2 * REPEAT; t += 4)
		gpu_xid(f, 0, 13, t);
	assert_string_equal(logged(), "");
	health_state_tick(f->s, 2 * REPEAT);
	assert_int_equal(count(logged(), "repeated 2500 times"), 1);
	/* Quiet for an interval: nothing to say, nothing due; the next one
	 * is a first again. */
	health_state_tick(f->s, 3 * REPEAT);
	assert_string_equal(logged(), "");
	assert_int_equal(health_state_next_deadline(f->s), INT64_MAX);
	gpu_xid(f, 0, 13, 4 * REPEAT);
	assert_int_equal(count(logged(), first), 1);
	assert_true(healthy(f, 0));
}

static void
test_repeat_limit_is_per_gpu_and_kind(void **state)
{
	struct fixture *f = *state;
	struct health_record ecc = { .kind = HEALTH_REC_EVENT, .gpu = 2,
		.type = nvmlEventTypeSingleBitEccError };
	char *text;

	for (int64_t t = 0; t < 50; t++) {
		gpu_xid(f, 0, 13, t);
		gpu_xid(f, 1, 13, t);
		gpu_xid(f, 0, 31, t);
		xid(f, 3, 48, 1, 0, t);      /* critical, MIG-scoped */
		xid(f, 3, 48, 2, 0, t);
		health_state_apply(f->s, &ecc, t);
	}
	text = logged();
	assert_int_equal(count(text, "\n"), 6);
	assert_int_equal(count(text, "XID 13 (graphics engine exception) on "
	    "GPU 0"), 1);
	assert_int_equal(count(text, "XID 13 (graphics engine exception) on "
	    "GPU 1"), 1);
	assert_int_equal(count(text, "XID 31 "), 1);
	assert_int_equal(count(text, "GPU instance 1, compute instance 0"), 1);
	assert_int_equal(count(text, "GPU instance 2, compute instance 0"), 1);
	assert_int_equal(count(text, "ECC single-bit event on GPU 2"), 1);
	health_state_tick(f->s, REPEAT);
	text = logged();
	assert_int_equal(count(text, "\n"), 6);
	assert_int_equal(count(text, "repeated 49 times"), 6);
	assert_int_equal(count(text, "XID 48 (GPU instance 2, compute "
	    "instance 0) on GPU 3 (GPU-d) repeated 49 times"), 1);
	assert_int_equal(count(text, "ECC single-bit event on GPU 2 (GPU-c) "
	    "repeated 49 times"), 1);
	/* Suppressed lines still count for health. */
	snap(f);
	assert_int_equal(f->snap.nfaults, 2);
}

static void
test_more_kinds_than_slots_are_counted_together(void **state)
{
	struct fixture *f = *state;
	unsigned kinds = HEALTH_REPEAT_KINDS + 4;
	char *text;

	for (int64_t t = 0; t < 10; t++)
		for (unsigned gi = 0; gi < kinds; gi++)
			xid(f, 0, 48, gi, 0, t);
	text = logged();
	assert_int_equal(count(text, "\n"), HEALTH_REPEAT_KINDS);
	health_state_tick(f->s, REPEAT);
	text = logged();
	assert_int_equal(count(text, "\n"), HEALTH_REPEAT_KINDS + 1);
	assert_int_equal(count(text, "repeated 9 times"), HEALTH_REPEAT_KINDS);
	assert_int_equal(count(text, "GPU 0 (GPU-a): 40 more XID or ECC "
	    "events, of more kinds than are told apart, in the last 10 s"), 1);
}

/*
 * A reload with a new GPU set: the new state goes on from the old one
 * for the GPUs both have (by name), whatever their places; a GPU the old
 * one did not know starts healthy; nothing is logged or published as a
 * change that was not one.
 */
static void
test_inherit_carries_each_gpu_by_name(void **state)
{
	struct fixture *f = *state;
	static const char *const names[3] = { "GPU-new", "GPU-c", "GPU-a" };
	struct health_config cfg = { .quiet_ms = QUIET,
		.unhealthy_without_events = true };
	struct fixture g = { 0 };
	char warn[128];

	gpu_xid(f, 2, 48, 0);                  /* GPU-c: needs a reset */
	gpu_xid(f, 0, 94, 100);                /* GPU-a: transient */
	xid(f, 3, 94, 1, 0, 100);              /* GPU-d: MIG-scoped, gone */
	snap(f);
	policy_init(&cfg.policy, NULL, NULL, warn, sizeof(warn));
	g.s = health_state_new(3, names, &cfg);
	assert_non_null(g.s);
	health_state_inherit(g.s, f->s);
	g.changed = health_state_snapshot(g.s, &g.snap);
	assert_int_equal(g.snap.ngpus, 3);
	assert_true(g.snap.gpus[0].healthy);
	assert_false(g.snap.gpus[1].healthy);
	assert_non_null(strstr(g.snap.gpus[1].reason, "XID 48"));
	assert_false(g.snap.gpus[2].healthy);
	assert_int_equal(g.snap.nfaults, 0);   /* GPU-d's went with it */
	/* The transient one still recovers when its quiet period ends. */
	assert_true(health_state_next_deadline(g.s) == 100 + QUIET);
	health_state_tick(g.s, 100 + QUIET);
	(void)health_state_snapshot(g.s, &g.snap);
	assert_true(g.snap.gpus[2].healthy);
	assert_false(g.snap.gpus[1].healthy);  /* a reset is still needed */
	health_state_free(g.s);
}

/* After a MIG layout change: the faults of instances that are gone end;
 * those of instances still there stay. */
static void
test_keep_instances_drops_what_is_gone(void **state)
{
	struct fixture *f = *state;
	const struct health_instance_id still[] = { { 2, 0, "MIG-2" },
		{ 5, 1, "MIG-5" } };

	xid(f, 1, 48, 2, HEALTH_WHOLE, 0);      /* GI 2 stays */
	xid(f, 1, 48, 3, 0, 0);                 /* GI 3 is gone */
	xid(f, 1, 48, 5, 1, 0);                 /* GI 5 CI 1 stays */
	xid(f, 1, 48, 5, 2, 0);                 /* GI 5 CI 2 is gone */
	xid(f, 2, 48, 3, 0, 0);                 /* another GPU: untouched */
	snap(f);
	assert_int_equal(f->snap.nfaults, 5);
	assert_false(health_state_keep_instances(f->s, 0, still, 2));
	assert_true(health_state_keep_instances(f->s, 1, still, 2));
	snap(f);
	assert_true(f->changed);
	assert_int_equal(f->snap.nfaults, 3);
	for (size_t k = 0; k < f->snap.nfaults; k++) {
		const struct health_instance_fault *x = &f->snap.faults[k];

		assert_true((x->gpu == 1 && x->gi == 2 && x->ci == HEALTH_WHOLE) ||
		    (x->gpu == 1 && x->gi == 5 && x->ci == 1) ||
		    (x->gpu == 2 && x->gi == 3 && x->ci == 0));
	}
	/* No instance left (MIG off): none of its faults. */
	assert_true(health_state_keep_instances(f->s, 1, NULL, 0));
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_false(health_state_keep_instances(f->s, 7, NULL, 0));
}

/* A MIG device made anew with the instance ids of a failed one: the
 * fault was the old device's, it ends; one not remade stays. */
static void
test_remade_instance_does_not_inherit_the_fault(void **state)
{
	struct fixture *f = *state;
	const struct health_instance_id before[] = { { 1, 0, "MIG-old" },
		{ 2, 0, "MIG-two" } };
	const struct health_instance_id after[] = { { 1, 0, "MIG-new" },
		{ 2, 0, "MIG-two" } };

	assert_false(health_state_keep_instances(f->s, 0, before, 2));
	xid(f, 0, 48, 1, 0, 0);
	xid(f, 0, 48, 2, HEALTH_WHOLE, 0);
	assert_false(health_state_keep_instances(f->s, 0, before, 2));
	snap(f);
	assert_int_equal(f->snap.nfaults, 2);
	assert_true(health_state_keep_instances(f->s, 0, after, 2));
	snap(f);
	assert_int_equal(f->snap.nfaults, 1);
	assert_int_equal(f->snap.faults[0].gi, 2);
	/* The new device's own fault is tracked as usual. */
	xid(f, 0, 48, 1, 0, 0);
	assert_false(health_state_keep_instances(f->s, 0, after, 2));
	snap(f);
	assert_int_equal(f->snap.nfaults, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_all_healthy_at_start),
		T(test_transient_recovers_after_quiet_period),
		T(test_transient_waits_while_probe_fails),
		T(test_reset_class_needs_a_reset),
		T(test_reset_seen_before_the_xid_does_not_count),
		T(test_reset_class_stays_the_one_named),
		T(test_application_xids_are_ignored),
		cmocka_unit_test(test_enabled_application_xid_counts),
		T(test_ecc_event_alone_changes_nothing),
		T(test_wait_errors_and_their_recovery),
		cmocka_unit_test(test_wait_errors_leave_health_if_configured),
		T(test_xid_named_after_waits_fail_and_return),
		T(test_register_failure_marks_that_gpu),
		T(test_event_set_failure_marks_every_gpu),
		T(test_lost_gpu_marks_only_that_gpu),
		T(test_unknown_gpu_is_ignored),
		T(test_mig_transient_fault_expires),
		T(test_mig_reset_fault_until_reset),
		T(test_every_instance_fault_nvml_can_report_is_kept),
		T(test_past_the_bound_widens_to_the_instance),
		T(test_past_the_bound_marks_the_gpu_with_a_reason),
		T(test_reason_change_is_published),
		T(test_inherit_carries_each_gpu_by_name),
		T(test_keep_instances_drops_what_is_gone),
		T(test_remade_instance_does_not_inherit_the_fault),
#undef T
#define R(fn) cmocka_unit_test_setup_teardown(fn, setup_repeat, \
	teardown_repeat)
		R(test_repeated_xid_is_one_line_then_one_summary_per_interval),
		R(test_repeat_limit_is_per_gpu_and_kind),
		R(test_more_kinds_than_slots_are_counted_together),
#undef R
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
