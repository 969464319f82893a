/*
 * poison.h: POISON and UNPOISON for memory a free list keeps, so that
 * AddressSanitizer still reports a use after free of a pooled block (the
 * free lists of grpc/pool.c and util/blockcache.c). Without ASan (gcc's
 * __SANITIZE_ADDRESS__, clang's __has_feature) they compile to nothing.
 */
#ifndef GDP_UTIL_POISON_H
#define GDP_UTIL_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#define GDP_POISON_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GDP_POISON_ASAN 1
#endif
#endif

#ifdef GDP_POISON_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif /* GDP_UTIL_POISON_H */
