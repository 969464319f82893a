/*
 * pool.c: the free list of same-size blocks (see pool.h).
 */
#include "grpc/pool.h"

#include "util/alloc.h"
#include "util/poison.h"

void
pool_init(struct pool *pool, size_t size, unsigned max)
{
	pool->head = NULL;
	pool->n = 0;
	pool->max = max;
	pool->size = size < sizeof(void *) ? sizeof(void *) : size;
}

void *
pool_get(struct pool *pool)
{
	void *block = pool->head;

	if (block == NULL)
		return gdp_malloc(pool->size);
	UNPOISON(block, pool->size);
	pool->head = *(void **)block;
	pool->n--;
	return block;
}

void
pool_put(struct pool *pool, void *block)
{
	if (block == NULL)
		return;
	if (pool->n >= pool->max) {
		gdp_free(block);
		return;
	}
	*(void **)block = pool->head;
	POISON(block, pool->size);
	pool->head = block;
	pool->n++;
}

void
pool_drain(struct pool *pool)
{
	void *block;

	while ((block = pool->head) != NULL) {
		UNPOISON(block, pool->size);
		pool->head = *(void **)block;
		gdp_free(block);
	}
	pool->n = 0;
}
