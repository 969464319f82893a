/*
 * pool.h: a bounded free list of same-size blocks, so that what every
 * call allocates (its object, its arena) is reused rather than going
 * through malloc each time: glibc serves blocks of that size from its
 * bins, not its per-thread cache, once more than a handful are freed in
 * a row, and that was a visible part of a call's cost.
 *
 * Blocks come from gdp_malloc, so allocation faults still reach a pool
 * that has none to hand out. Past |max| free blocks, a freed block goes
 * back to the heap, so a pool holds at most max * size bytes. Under
 * AddressSanitizer a pooled block is poisoned until it is taken again,
 * so a use after free is still caught. Internal to src/grpc.
 */
#ifndef GDP_GRPC_POOL_H
#define GDP_GRPC_POOL_H

#include <stddef.h>

struct pool {
	void *head;      /* free blocks, linked through their first word */
	unsigned n;
	unsigned max;
	size_t size;     /* at least sizeof(void *) */
};

void pool_init(struct pool *pool, size_t size, unsigned max);
/* A block of pool->size bytes (not zeroed), or NULL with errno = ENOMEM. */
void *pool_get(struct pool *pool);
/* Takes |block| (from pool_get on |pool|) back; NULL is fine. */
void pool_put(struct pool *pool, void *block);
/* Frees the free blocks. */
void pool_drain(struct pool *pool);

#endif /* GDP_GRPC_POOL_H */
