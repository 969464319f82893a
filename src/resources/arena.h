/*
 * arena.h: a bump allocator for one answer's worth of memory.
 *
 * An Allocate, GetPreferredAllocation or ListAndWatch answer is a tree of
 * protobuf-c structs and strings that lives exactly as long as the call
 * that sends it. Building it in an arena makes that one object to free,
 * a few allocations instead of several per device, and one failure point
 * per chunk: every arena_* call returns NULL (errno ENOMEM) when memory
 * cannot be had, and arena_free() releases whatever was built so far.
 */
#ifndef GDP_RESOURCES_ARENA_H
#define GDP_RESOURCES_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;     /* newest chunk first */
};

#define ARENA_INIT { NULL }

/* |size| zeroed bytes, aligned for any type; NULL with errno ENOMEM. */
void *arena_alloc(struct arena *a, size_t size);
/* |n| zeroed elements of |size|; NULL (ENOMEM) also when n*size overflows. */
void *arena_array(struct arena *a, size_t n, size_t size);
/* A copy of |s|; NULL with errno ENOMEM. */
char *arena_strdup(struct arena *a, const char *s);
/* Frees every chunk; the arena is empty and usable again. */
void arena_free(struct arena *a);

#endif /* GDP_RESOURCES_ARENA_H */
