/*
 * test_blockcache.c: nghttp2's allocator (src/util/blockcache.c), through
 * the nghttp2_mem table nghttp2 itself calls.
 *
 * What nghttp2 relies on: every byte asked for is usable and kept across
 * realloc (growing within a class, across classes and into malloc's own
 * blocks, and back), calloc zeroes a reused dirty block and refuses an
 * overflowing product, and blocks may be freed on another thread. What the
 * daemon relies on: the free lists stay within their bound however many
 * blocks come back at once, and drain gives everything back.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/blockcache.h"

#define NBLOCKS 5000

static void
fill(unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i);
}

static void
assert_filled(const unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], (unsigned char)(seed + i));
}

static void
test_every_size_is_usable_and_aligned(void **state)
{
	nghttp2_mem *mem = blockcache_mem();
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 48, 100, 1000,
	    4080, 4081, 8192, 100000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = mem->malloc(sizes[i], NULL);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		fill(p, sizes[i], (unsigned char)i);
		assert_filled(p, sizes[i], (unsigned char)i);
		mem->free(p, NULL);
	}
	mem->free(NULL, NULL);
	blockcache_drain();
}

static void
test_realloc_keeps_the_bytes(void **state)
{
	nghttp2_mem *mem = blockcache_mem();
	static const size_t steps[] = { 10, 20, 200, 3000, 50000, 70000,
	    100, 5 };
	size_t kept = 0;
	unsigned char *p = mem->realloc(NULL, steps[0], NULL);

	(void)state;
	assert_non_null(p);
	fill(p, steps[0], 7);
	kept = steps[0];
	for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n = steps[i];

		p = mem->realloc(p, n, NULL);
		assert_non_null(p);
		assert_filled(p, kept < n ? kept : n, 7);
		fill(p, n, 7);
		kept = n;
	}
	mem->free(p, NULL);
	blockcache_drain();
}

static void
test_calloc_zeroes_a_reused_block(void **state)
{
	nghttp2_mem *mem = blockcache_mem();
	unsigned char *p = mem->malloc(200, NULL);
	unsigned char *q;

	(void)state;
	memset(p, 0xAB, 200);
	mem->free(p, NULL);
	q = mem->calloc(10, 20, NULL);
	assert_ptr_equal(q, p);           /* the same block, taken again */
	for (size_t i = 0; i < 200; i++)
		assert_int_equal(q[i], 0);
	mem->free(q, NULL);
	errno = 0;
	assert_null(mem->calloc(SIZE_MAX / 2, 3, NULL));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(mem->malloc(SIZE_MAX - 4, NULL));
	assert_int_equal(errno, ENOMEM);
	blockcache_drain();
}

/* A flood's blocks come back at once: the lists keep a bounded amount. */
static void
test_free_lists_are_bounded_and_drain(void **state)
{
	nghttp2_mem *mem = blockcache_mem();
	static void *blocks[NBLOCKS];
	static const size_t sizes[] = { 20, 100, 400, 2000, 4000 };

	(void)state;
	blockcache_drain();
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t i = 0; i < NBLOCKS; i++)
			assert_non_null(blocks[i] = mem->malloc(sizes[s], NULL));
		for (size_t i = 0; i < NBLOCKS; i++)
			mem->free(blocks[i], NULL);
	}
	assert_true(blockcache_held() > 0);
	/* five classes, each at most its byte bound or 16 blocks of 4 KiB */
	assert_true(blockcache_held() <= 4 * BLOCKCACHE_CLASS_BYTES +
	    (size_t)16 * 4096);
	blockcache_drain();
	assert_int_equal(blockcache_held(), 0);
}

static void *
free_them(void *arg)
{
	void **blocks = arg;

	for (size_t i = 0; i < 100; i++)
		blockcache_mem()->free(blocks[i], NULL);
	blockcache_drain();
	return NULL;
}

static void
test_a_block_freed_on_another_thread(void **state)
{
	static void *blocks[100];
	pthread_t t;

	(void)state;
	for (size_t i = 0; i < 100; i++) {
		blocks[i] = blockcache_mem()->malloc(i * 40, NULL);
		assert_non_null(blocks[i]);
	}
	assert_int_equal(pthread_create(&t, NULL, free_them, blocks), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(blockcache_held(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_size_is_usable_and_aligned),
		cmocka_unit_test(test_realloc_keeps_the_bytes),
		cmocka_unit_test(test_calloc_zeroes_a_reused_block),
		cmocka_unit_test(test_free_lists_are_bounded_and_drain),
		cmocka_unit_test(test_a_block_freed_on_another_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
