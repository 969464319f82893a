/*
 * arena.h: a bump allocator for one answer's worth of memory.
 *
 * An Allocate, GetPreferredAllocation or ListAndWatch answer is a tree of
 * protobuf-c structs and strings that lives exactly as long as the call
 * that sends it. Building it in an arena makes that one object to free,
 * a few allocations instead of several per device, and one failure point
 * per chunk: every arena_* call returns NULL (errno ENOMEM) when memory
 * cannot be had, and arena_free() releases whatever was built so far.
 *
 * An arena may start in a buffer of the caller's (on its stack: the common
 * one-GPU answer then costs no allocation at all); chunks from the heap
 * follow when that is full.
 */
#ifndef GDP_RESOURCES_ARENA_H
#define GDP_RESOURCES_ARENA_H

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;     /* newest chunk first */
	unsigned char *first;         /* the caller's buffer, or NULL */
	size_t first_used, first_cap;
};

#define ARENA_INIT { NULL, NULL, 0, 0 }
/* An arena that starts in |buf| (|size| bytes, the caller's, aligned for
 * max_align_t, outliving the arena's use). */
#define ARENA_IN(buf, size) { NULL, (buf), 0, (size) }

/* The slow path of arena_alloc(), once the caller's buffer (if any) has
 * no room: a chunk from the heap. */
void *arena_alloc_chunk(struct arena *a, size_t size);

/*
 * |size| zeroed bytes, aligned for any type; NULL with errno ENOMEM.
 * Inline while it fits the caller's buffer (an answer is a dozen small
 * allocations of sizes known where they are made).
 */
static inline void *
arena_alloc(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	size_t left = a->first_cap - a->first_used, need;
	void *p;

	if (a->head != NULL || size > left)
		return arena_alloc_chunk(a, size);
	need = ((size == 0 ? 1 : size) + align - 1) & ~(align - 1);
	if (need > left)
		return arena_alloc_chunk(a, size);
	p = a->first + a->first_used;
	a->first_used += need;
	return memset(p, 0, size);
}

/* |n| zeroed elements of |size|; NULL (ENOMEM) also when n*size overflows. */
static inline void *
arena_array(struct arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return arena_alloc(a, n * size);
}
/* A copy of |s|; NULL with errno ENOMEM. */
char *arena_strdup(struct arena *a, const char *s);
/* Frees every chunk; the arena is empty and usable again (in its
 * buffer, if it had one). */
void arena_free(struct arena *a);

#endif /* GDP_RESOURCES_ARENA_H */
