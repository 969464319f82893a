/*
 * test_alloc.c: the fault plan of src/util/alloc.c.
 *
 * Built with its own instrumented copy of alloc.c (GDP_FAULT_INJECTION),
 * as every fault test is: which allocation fails, whether later ones do,
 * what is counted, and that the library adapters count like the rest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <protobuf-c/protobuf-c.h>

#include "util/alloc.h"

static void
test_nth_allocation_fails_once(void **state)
{
	void *a, *b, *c;

	gdp_alloc_fail_at(2, false);
	a = gdp_malloc(8);
	errno = 0;
	b = gdp_calloc(1, 8);
	assert_null(b);
	assert_int_equal(errno, ENOMEM);
	c = gdp_strdup("x");
	assert_non_null(a);
	assert_non_null(c);
	assert_int_equal(gdp_alloc_count(), 3);
	assert_int_equal(gdp_alloc_failed(), 1);
	gdp_free(a);
	gdp_free(c);
	gdp_alloc_fail_at(0, false);
}

static void
test_persistent_fails_every_later_one(void **state)
{
	void *a, *p;

	gdp_alloc_fail_at(1, true);
	assert_null(gdp_malloc(1));
	assert_null(gdp_strndup("abc", 2));
	a = malloc(4);
	p = gdp_realloc(a, 64);
	assert_null(p);       /* and |a| is still ours */
	free(a);
	assert_int_equal(gdp_alloc_failed(), 3);
	gdp_alloc_fail_at(0, false);
	p = gdp_malloc(1);
	assert_non_null(p);
	gdp_free(p);
}

static void
test_zero_only_counts(void **state)
{
	gdp_alloc_fail_at(0, true);
	for (int i = 0; i < 5; i++)
		gdp_free(gdp_malloc(16));
	assert_int_equal(gdp_alloc_count(), 5);
	assert_int_equal(gdp_alloc_failed(), 0);
}

static void
test_adapters_go_through_the_door(void **state)
{
	nghttp2_mem *mem = gdp_nghttp2_mem();
	ProtobufCAllocator *pb = gdp_protobuf_allocator();
	void *p;

	gdp_alloc_fail_at(2, false);
	p = mem->malloc(8, mem->mem_user_data);
	assert_non_null(p);
	mem->free(p, mem->mem_user_data);
	assert_null(pb->alloc(pb->allocator_data, 8));
	p = pb->alloc(pb->allocator_data, 8);
	assert_non_null(p);
	pb->free(pb->allocator_data, p);
	assert_int_equal(gdp_alloc_count(), 3);
	gdp_alloc_fail_at(0, false);
}

static void
test_env(void **state)
{
	setenv("GDP_FAULT_ALLOC", "3+", 1);
	assert_int_equal(gdp_alloc_init_env(), 0);
	gdp_free(gdp_malloc(1));
	gdp_free(gdp_malloc(1));
	assert_null(gdp_malloc(1));
	assert_null(gdp_malloc(1));
	setenv("GDP_FAULT_ALLOC", "2x", 1);
	assert_int_equal(gdp_alloc_init_env(), -EINVAL);
	setenv("GDP_FAULT_ALLOC", "0+", 1);
	assert_int_equal(gdp_alloc_init_env(), -EINVAL);
	/* "0" only counts. */
	setenv("GDP_FAULT_ALLOC", "0", 1);
	assert_int_equal(gdp_alloc_init_env(), 0);
	gdp_free(gdp_malloc(1));
	gdp_free(gdp_malloc(1));
	assert_int_equal(gdp_alloc_count(), 2);
	assert_int_equal(gdp_alloc_failed(), 0);
	unsetenv("GDP_FAULT_ALLOC");
	assert_int_equal(gdp_alloc_init_env(), 0);
	gdp_alloc_fail_at(0, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nth_allocation_fails_once),
		cmocka_unit_test(test_persistent_fails_every_later_one),
		cmocka_unit_test(test_zero_only_counts),
		cmocka_unit_test(test_adapters_go_through_the_door),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
