/*
 * alloc.h: the one door to the heap, so that tests can make it fail.
 *
 * Every allocation of the daemon's own code, and of libnghttp2 and
 * protobuf-c through their allocator hooks, goes through these functions.
 * They behave like their libc namesakes: a NULL return always comes with
 * errno = ENOMEM, and memory from any of them is released with gdp_free()
 * (or by the library that was handed the adapter). Safe from any thread.
 *
 * Fault injection, SQLite/nghttp2 style: built with GDP_FAULT_INJECTION
 * (meson -Dfault_injection=true, and always for the fault tests), the
 * n-th allocation from now can be made to fail, optionally with every
 * later one, so that a test can walk n = 1, 2, ... until its scenario no
 * longer meets a failure. Without it the controls are not compiled at all
 * (a release binary has no such knob) and gdp_alloc_init_env() does
 * nothing.
 */
#ifndef GDP_UTIL_ALLOC_H
#define GDP_UTIL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include <nghttp2/nghttp2.h>

struct ProtobufCAllocator;

/* malloc(3) and friends; NULL with errno = ENOMEM. */
void *gdp_malloc(size_t size);
/* Checks |n| * |size| for overflow, like calloc(3). */
void *gdp_calloc(size_t n, size_t size);
/* On failure |p| is left as it was (still the caller's). */
void *gdp_realloc(void *p, size_t size);
char *gdp_strdup(const char *s);
char *gdp_strndup(const char *s, size_t n);
/* Frees what any of the above returned; NULL is fine. */
void gdp_free(void *p);

/*
 * Allocators for the libraries, routed to the functions above. Static
 * storage: pass them as they are (nghttp2_session_*_new3,
 * protobuf_c_message_unpack / free_unpacked, the same one for both).
 * nghttp2's is the block cache (blockcache.h), which takes its own
 * blocks from malloc but asks gdp_alloc_fails_now() for each allocation.
 */
nghttp2_mem *gdp_nghttp2_mem(void);
struct ProtobufCAllocator *gdp_protobuf_allocator(void);

/*
 * Reads GDP_FAULT_ALLOC once (call it at start, before other threads
 * exist): "N" fails the N-th allocation from then on, "N+" that one and
 * every later one, "0" fails nothing and only counts. Returns 0 (also when the variable is unset, or when
 * built without fault injection) or -EINVAL for a malformed value.
 */
int gdp_alloc_init_env(void);

/*
 * The allocations attempted and made to fail since the count last
 * restarted. Returns false (and leaves both alone) when built without
 * fault injection.
 */
bool gdp_alloc_stats(unsigned long *attempts, unsigned long *failed);

/*
 * True when the allocation about to be made is to fail (errno is then
 * ENOMEM), by the fault plan; always false without fault injection. For
 * allocators beside this door that must fail alike (blockcache.c).
 */
#ifdef GDP_FAULT_INJECTION
bool gdp_alloc_fails_now(void);
#else
static inline bool
gdp_alloc_fails_now(void)
{
	return false;
}
#endif

#ifdef GDP_FAULT_INJECTION
/*
 * Test-only. Restarts the count; the |n|-th allocation from now (1 is the
 * next one) returns NULL, and with |persistent| every later one too.
 * |n| = 0 fails nothing and only counts.
 */
void gdp_alloc_fail_at(unsigned long n, bool persistent);
/* Allocations attempted since the last gdp_alloc_fail_at(). */
unsigned long gdp_alloc_count(void);
/* Allocations that were made to fail since the last gdp_alloc_fail_at(). */
unsigned long gdp_alloc_failed(void);
#endif /* GDP_FAULT_INJECTION */

#endif /* GDP_UTIL_ALLOC_H */
