/*
 * blockcache.c: size-class free lists behind nghttp2's allocator (see
 * blockcache.h).
 *
 * A block is [header | user bytes]; the header's first word links free
 * blocks, and its |klass| says which list the block goes back to
 * (LARGE: malloc's own, freed at once). A class's block size includes the
 * header, so class k serves requests up to (32 << k) - HEADER bytes.
 */
#include "blockcache.h"
#include "alloc.h"
#include "poison.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CLASSES 8
#define MIN_SHIFT 5                   /* class 0: 32-byte blocks */
#define LARGE 0xffu
#define MIN_KEEP 16u

struct header {
	struct header *next;          /* while free */
	uint32_t klass;
	uint32_t pad;                 /* keeps user bytes 16-aligned */
};
#define HEADER sizeof(struct header)
_Static_assert(HEADER == 16, "the user bytes stay 16-byte aligned");

struct freelist {
	struct header *head;
	unsigned n;
};

static _Thread_local struct freelist lists[CLASSES];
static _Thread_local bool drain_at_exit;

static size_t
class_size(unsigned k)
{
	return (size_t)1 << (k + MIN_SHIFT);
}

static unsigned
class_keep(unsigned k)
{
	size_t n = BLOCKCACHE_CLASS_BYTES / class_size(k);

	return n < MIN_KEEP ? MIN_KEEP : (unsigned)n;
}

/* The class whose blocks hold |total| bytes (header included), or LARGE. */
static unsigned
class_of(size_t total)
{
	unsigned k;

	if (total <= class_size(0))
		return 0;
	k = (unsigned)(64 - __builtin_clzll((unsigned long long)total - 1)) -
	    MIN_SHIFT;
	return k < CLASSES ? k : LARGE;
}

static void *
user(struct header *h)
{
	return (char *)h + HEADER;
}

static struct header *
header_of(void *p)
{
	return (struct header *)(void *)((char *)p - HEADER);
}

static void *
take(size_t size)
{
	unsigned k;
	struct header *h;

	if (gdp_alloc_fails_now())
		return NULL;
	if (size > SIZE_MAX - HEADER) {
		errno = ENOMEM;
		return NULL;
	}
	k = class_of(size + HEADER);
	if (k != LARGE && (h = lists[k].head) != NULL) {
		UNPOISON(h, class_size(k));
		lists[k].head = h->next;
		lists[k].n--;
		return user(h);
	}
	if (!drain_at_exit) {
		/* Registered after LeakSanitizer's own handler, so it runs
		 * before that looks for leaks. */
		drain_at_exit = atexit(blockcache_drain) == 0;
	}
	h = malloc(k == LARGE ? size + HEADER : class_size(k));
	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	h->klass = k;
	return user(h);
}

static void
give(void *p)
{
	struct header *h;
	struct freelist *list;

	if (p == NULL)
		return;
	h = header_of(p);
	if (h->klass == LARGE || lists[h->klass].n >= class_keep(h->klass)) {
		free(h);
		return;
	}
	list = &lists[h->klass];
	h->next = list->head;
	POISON(h, class_size(h->klass));
	list->head = h;
	list->n++;
}

/* The user bytes small block |p| has room for. */
static size_t
room(void *p)
{
	return class_size(header_of(p)->klass) - HEADER;
}

static void *
bc_malloc(size_t size, void *ud)
{
	(void)ud;
	return take(size);
}

static void
bc_free(void *p, void *ud)
{
	(void)ud;
	give(p);
}

static void *
bc_calloc(size_t n, size_t size, void *ud)
{
	void *p;

	(void)ud;
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = take(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

/* A large block is resized by realloc (and stays large); a small one
 * moves when it outgrows its class, and stays put otherwise. */
static void *
bc_realloc(void *p, size_t size, void *ud)
{
	struct header *h;
	void *q;

	(void)ud;
	if (p == NULL)
		return take(size);
	h = header_of(p);
	if (h->klass == LARGE) {
		if (gdp_alloc_fails_now())
			return NULL;
		h = size <= SIZE_MAX - HEADER ? realloc(h, size + HEADER) : NULL;
		if (h == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		return user(h);
	}
	if (size <= room(p))
		return p;
	q = take(size);
	if (q == NULL)
		return NULL;
	memcpy(q, p, room(p));
	give(p);
	return q;
}

static nghttp2_mem mem = {
	.malloc = bc_malloc,
	.free = bc_free,
	.calloc = bc_calloc,
	.realloc = bc_realloc,
};

nghttp2_mem *
blockcache_mem(void)
{
	return &mem;
}

size_t
blockcache_held(void)
{
	size_t bytes = 0;

	for (unsigned k = 0; k < CLASSES; k++)
		bytes += lists[k].n * class_size(k);
	return bytes;
}

void
blockcache_drain(void)
{
	for (unsigned k = 0; k < CLASSES; k++) {
		struct header *h;

		while ((h = lists[k].head) != NULL) {
			UNPOISON(h, class_size(k));
			lists[k].head = h->next;
			free(h);
		}
		lists[k].n = 0;
	}
}
