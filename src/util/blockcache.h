/*
 * blockcache.h: nghttp2's allocator: small blocks kept in bounded free
 * lists by size class, so that the eight allocations nghttp2 makes for
 * every request do not each go through malloc and free.
 *
 * Why: glibc's malloc and free cost about 200 instructions a pair on the
 * hot path (its per-thread cache holds 7 blocks of a size, and a batch of
 * 64 finished requests frees many more than that in a row), which was the
 * largest single share of a call's cost. A block here is taken from and
 * given back to a list head: about 20 instructions.
 *
 * Each block carries a 16-byte header with its size class, so free and
 * realloc need no size. Classes are powers of two from 32 to 4096 bytes
 * (header included); larger blocks go to malloc directly. A class keeps at
 * most BLOCKCACHE_CLASS_BYTES bytes of free blocks (at least 16 blocks),
 * so the cache holds a bounded amount (blockcache_held() says how much)
 * and blockcache_drain() gives all of it back (called before a heap trim,
 * and at exit for each thread that ever allocated, as its atexit handler:
 * a thread's lists are drained only when it calls exit itself, so a
 * thread that allocates and then ends should drain before it does).
 * The lists are per thread, so the allocator is safe from any thread; a
 * block freed on another thread than the one that took it is simply kept
 * by the freeing thread. Under AddressSanitizer a cached block is poisoned
 * until it is handed out again. With fault injection compiled in, each
 * allocation asks the fault plan first (util/alloc.h), hit or miss.
 */
#ifndef GDP_UTIL_BLOCKCACHE_H
#define GDP_UTIL_BLOCKCACHE_H

#include <stddef.h>

#include <nghttp2/nghttp2.h>

/* The most bytes of free blocks one size class keeps (per thread). */
#define BLOCKCACHE_CLASS_BYTES ((size_t)32 * 1024)

/* The allocator (static storage), for nghttp2_session_*_new3. */
nghttp2_mem *blockcache_mem(void);

/* Bytes of free blocks this thread's lists hold now. */
size_t blockcache_held(void);
/* Frees this thread's free blocks. */
void blockcache_drain(void);

#endif /* GDP_UTIL_BLOCKCACHE_H */
