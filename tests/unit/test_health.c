/*
 * test_health.c: the XID policy (NVIDIA's defaults and environment
 * variables, with their documented meaning) and the fan-out of physical
 * GPU health to every resource view: whole GPUs, time-sliced replicas and
 * MIG devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "health/fanout.h"
#include "health/policy.h"

static struct health_policy
make(const char *disable, const char *enable, char *warn, size_t len)
{
	struct health_policy p;

	policy_init(&p, disable, enable, warn, len);
	return p;
}

static void
test_defaults_ignore_application_xids(void **state)
{
	char w[256];
	struct health_policy p = make(NULL, NULL, w, sizeof(w));
	const unsigned ignored[] = { 13, 31, 43, 45, 68, 109 };

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		assert_false(policy_xid_critical(&p, ignored[i]));
	assert_true(policy_xid_critical(&p, 48));
	assert_true(policy_xid_critical(&p, 79));
	assert_true(policy_xid_critical(&p, 94));
	assert_true(policy_xid_critical(&p, 999)); /* unknown: critical */
	assert_false(policy_all_off(&p));
	assert_string_equal(w, "");
}

static void
test_disable_list_adds_to_ignored(void **state)
{
	char w[256];
	struct health_policy p = make(" 79 ,94", NULL, w, sizeof(w));

	assert_false(policy_xid_critical(&p, 79));
	assert_false(policy_xid_critical(&p, 94));
	assert_false(policy_xid_critical(&p, 13));
	assert_true(policy_xid_critical(&p, 48));
}

static void
test_disable_all_and_xids(void **state)
{
	char w[256];
	struct health_policy p = make("all", NULL, w, sizeof(w));

	assert_false(policy_xid_critical(&p, 79));
	assert_true(policy_all_off(&p));
	p = make("XIDS", NULL, w, sizeof(w));
	assert_false(policy_xid_critical(&p, 48));
	assert_true(policy_all_off(&p));
}

static void
test_enable_list_overrides_ignore_lists(void **state)
{
	char w[256];
	struct health_policy p = make("79", "13,79", w, sizeof(w));

	assert_true(policy_xid_critical(&p, 13));
	assert_true(policy_xid_critical(&p, 79));
	assert_false(policy_xid_critical(&p, 31));
}

static void
test_disable_all_with_enable_list_documented_meaning(void **state)
{
	char w[256];
	/* NVIDIA's comment says individual XIDs can be re-enabled; its code
	 * leaves everything off. We follow the documented meaning. */
	struct health_policy p = make("all", "79", w, sizeof(w));

	assert_true(policy_xid_critical(&p, 79));
	assert_false(policy_xid_critical(&p, 48));
	assert_false(policy_all_off(&p));
}

static void
test_enable_all(void **state)
{
	char w[256];
	struct health_policy p = make("all", "all", w, sizeof(w));

	assert_true(policy_xid_critical(&p, 13));
	assert_true(policy_xid_critical(&p, 109));
	assert_false(policy_all_off(&p));
}

static void
test_malformed_entries_are_reported(void **state)
{
	char w[256];
	struct health_policy p = make("79,abc,-3,99999", NULL, w, sizeof(w));

	assert_false(policy_xid_critical(&p, 79));
	assert_non_null(strstr(w, "DP_DISABLE_HEALTHCHECKS"));
	assert_non_null(strstr(w, "\"abc\""));
	assert_non_null(strstr(w, "\"99999\""));
}

static void
test_xid_classes(void **state)
{
	assert_int_equal(xid_class_of(79), XID_CLASS_RESET);
	assert_int_equal(xid_class_of(48), XID_CLASS_RESET);
	assert_int_equal(xid_class_of(95), XID_CLASS_RESET);
	assert_int_equal(xid_class_of(94), XID_CLASS_TRANSIENT);
	assert_int_equal(xid_class_of(8), XID_CLASS_TRANSIENT);
	assert_int_equal(xid_class_of(12345), XID_CLASS_TRANSIENT);
	assert_string_equal(xid_description(79), "GPU has fallen off the bus");
}

/* GPU 0: four replicas. GPU 1: two MIG devices in GPU instance 1 and one
 * in GPU instance 2. GPU 2: a whole GPU. */
static const struct health_view views[] = {
	{ 0, HEALTH_WHOLE, HEALTH_WHOLE }, { 0, HEALTH_WHOLE, HEALTH_WHOLE },
	{ 0, HEALTH_WHOLE, HEALTH_WHOLE }, { 0, HEALTH_WHOLE, HEALTH_WHOLE },
	{ 1, 1, 0 }, { 1, 1, 1 }, { 1, 2, 0 },
	{ 2, HEALTH_WHOLE, HEALTH_WHOLE },
};
#define NVIEWS (sizeof(views) / sizeof(views[0]))

static void
test_failing_gpu_marks_every_replica(void **state)
{
	bool gpus[] = { false, true, true };
	bool out[NVIEWS];

	health_fanout(views, NVIEWS, gpus, 3, NULL, 0, out);
	for (size_t i = 0; i < 4; i++)
		assert_false(out[i]);
	for (size_t i = 4; i < NVIEWS; i++)
		assert_true(out[i]);
}

static void
test_failing_gpu_marks_every_mig_device(void **state)
{
	bool gpus[] = { true, false, true };
	bool out[NVIEWS];

	health_fanout(views, NVIEWS, gpus, 3, NULL, 0, out);
	assert_false(out[4]);
	assert_false(out[5]);
	assert_false(out[6]);
	assert_true(out[0]);
	assert_true(out[7]);
}

static void
test_mig_fault_marks_only_that_device(void **state)
{
	bool gpus[] = { true, true, true };
	struct health_fault f = { 1, 1, 1 };
	bool out[NVIEWS];

	health_fanout(views, NVIEWS, gpus, 3, &f, 1, out);
	assert_true(out[4]);
	assert_false(out[5]);
	assert_true(out[6]);
	for (size_t i = 0; i < 4; i++)
		assert_true(out[i]);
	assert_true(out[7]);
}

static void
test_gpu_instance_fault_marks_its_compute_instances(void **state)
{
	bool gpus[] = { true, true, true };
	struct health_fault f = { 1, 1, HEALTH_WHOLE };
	bool out[NVIEWS];

	health_fanout(views, NVIEWS, gpus, 3, &f, 1, out);
	assert_false(out[4]);
	assert_false(out[5]);
	assert_true(out[6]);
}

static void
test_mig_fault_marks_whole_gpu_views_of_that_gpu(void **state)
{
	/* A whole-GPU view shares the silicon of every instance. */
	const struct health_view whole = { 2, HEALTH_WHOLE, HEALTH_WHOLE };
	bool gpus[] = { true, true, true };
	struct health_fault f = { 2, 3, 0 };
	bool out;

	health_fanout(&whole, 1, gpus, 3, &f, 1, &out);
	assert_false(out);
}

static void
test_view_of_unknown_gpu_is_unhealthy(void **state)
{
	const struct health_view v = { 7, HEALTH_WHOLE, HEALTH_WHOLE };
	bool gpus[] = { true };
	bool out = true;

	health_fanout(&v, 1, gpus, 1, NULL, 0, &out);
	assert_false(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_ignore_application_xids),
		cmocka_unit_test(test_disable_list_adds_to_ignored),
		cmocka_unit_test(test_disable_all_and_xids),
		cmocka_unit_test(test_enable_list_overrides_ignore_lists),
		cmocka_unit_test(
		    test_disable_all_with_enable_list_documented_meaning),
		cmocka_unit_test(test_enable_all),
		cmocka_unit_test(test_malformed_entries_are_reported),
		cmocka_unit_test(test_xid_classes),
		cmocka_unit_test(test_failing_gpu_marks_every_replica),
		cmocka_unit_test(test_failing_gpu_marks_every_mig_device),
		cmocka_unit_test(test_mig_fault_marks_only_that_device),
		cmocka_unit_test(
		    test_gpu_instance_fault_marks_its_compute_instances),
		cmocka_unit_test(
		    test_mig_fault_marks_whole_gpu_views_of_that_gpu),
		cmocka_unit_test(test_view_of_unknown_gpu_is_unhealthy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
