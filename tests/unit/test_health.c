/*
 * test_health.c: the XID policy: NVIDIA's defaults and environment
 * variables, with their documented meaning, and the XID classes. (The
 * fan-out of GPU health to views is tested in test_resources.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
