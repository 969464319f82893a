/*
 * arena.c: the bump allocator (see arena.h).
 *
 * The caller's buffer first, if any; then chunks of 4 KiB, or one of the
 * size asked for when that is larger, so that a small answer costs at most
 * one malloc and a large one a handful. Once a chunk is taken, the rest of
 * the buffer is left unused: allocations stay in order.
 */
#include "arena.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define CHUNK_BYTES 4096

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

static size_t
round_up(size_t n)
{
	const size_t align = alignof(max_align_t);

	return (n + align - 1) & ~(align - 1);
}

void *
arena_alloc_chunk(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	size_t need = round_up(size == 0 ? 1 : size);
	void *p;

	if (need < size) {
		errno = ENOMEM;
		return NULL;
	}
	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;

		if (cap > SIZE_MAX - sizeof(*c)) {
			errno = ENOMEM;
			return NULL;
		}
		c = gdp_malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = arena_alloc(a, len);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

void
arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct arena_chunk *next = a->head->next;

		gdp_free(a->head);
		a->head = next;
	}
	a->first_used = 0;
}
