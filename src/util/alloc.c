/*
 * alloc.c: the heap behind one door, with fault injection (see alloc.h).
 *
 * The fault plan is three atomics (the health thread allocates too): a
 * count of allocations since the plan was set, the ordinal that fails, and
 * whether later ones fail as well. Each allocation takes a ticket from the
 * counter and compares; nothing else is shared. Without GDP_FAULT_INJECTION
 * the check compiles to nothing and these are plain libc calls.
 */
#include "alloc.h"
#include "blockcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#ifdef GDP_FAULT_INJECTION
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_ulong alloc_count;
static atomic_ulong alloc_failed;
static atomic_ulong fail_at;          /* 0: nothing fails */
static atomic_bool fail_persistent;

void
gdp_alloc_fail_at(unsigned long n, bool persistent)
{
	atomic_store(&fail_at, 0);
	atomic_store(&alloc_count, 0);
	atomic_store(&alloc_failed, 0);
	atomic_store(&fail_persistent, persistent);
	atomic_store(&fail_at, n);
}

unsigned long
gdp_alloc_count(void)
{
	return atomic_load(&alloc_count);
}

unsigned long
gdp_alloc_failed(void)
{
	return atomic_load(&alloc_failed);
}

/* GDP_FAULT_ALLOC_BACKTRACE: say where each injected failure struck. */
static atomic_bool backtraces;

static void
show_backtrace(unsigned long ticket)
{
	void *frames[32];
	char line[64];
	int n = backtrace(frames, 32);
	int len = snprintf(line, sizeof(line), "fault injection: allocation "
	    "%lu fails here:\n", ticket);

	(void)!write(STDERR_FILENO, line, (size_t)len);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

bool
gdp_alloc_fails_now(void)
{
	unsigned long ticket = atomic_fetch_add(&alloc_count, 1) + 1;
	unsigned long n = atomic_load(&fail_at);

	if (n == 0 || ticket < n ||
	    (ticket > n && !atomic_load(&fail_persistent)))
		return false;
	atomic_fetch_add(&alloc_failed, 1);
	if (atomic_load(&backtraces))
		show_backtrace(ticket);
	errno = ENOMEM;
	return true;
}

int
gdp_alloc_init_env(void)
{
	const char *s = getenv("GDP_FAULT_ALLOC");
	char *end;
	unsigned long n;

	if (s == NULL || s[0] == '\0')
		return 0;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || (n == 0 && end[0] != '\0') ||
	    (end[0] != '\0' && strcmp(end, "+") != 0))
		return -EINVAL;
	atomic_store(&backtraces, getenv("GDP_FAULT_ALLOC_BACKTRACE") != NULL);
	gdp_alloc_fail_at(n, end[0] == '+');
	return 0;
}
#else /* !GDP_FAULT_INJECTION */
int
gdp_alloc_init_env(void)
{
	return 0;
}
#endif /* GDP_FAULT_INJECTION */

/* glibc sets errno on failure, but C does not promise it. */
static void *
checked(void *p)
{
	if (p == NULL)
		errno = ENOMEM;
	return p;
}

void *
gdp_malloc(size_t size)
{
	if (gdp_alloc_fails_now())
		return NULL;
	return checked(malloc(size));
}

void *
gdp_calloc(size_t n, size_t size)
{
	if (gdp_alloc_fails_now())
		return NULL;
	return checked(calloc(n, size));
}

void *
gdp_realloc(void *p, size_t size)
{
	if (gdp_alloc_fails_now())
		return NULL;
	return checked(realloc(p, size));
}

char *
gdp_strdup(const char *s)
{
	if (gdp_alloc_fails_now())
		return NULL;
	return checked(strdup(s));
}

char *
gdp_strndup(const char *s, size_t n)
{
	if (gdp_alloc_fails_now())
		return NULL;
	return checked(strndup(s, n));
}

void
gdp_free(void *p)
{
	free(p);
}

/* ---- adapters ---- */

/*
 * nghttp2 allocates eight times per request, so it gets the block cache
 * (blockcache.h), whose hits cost a fraction of malloc's; with fault
 * injection compiled in, every one of its allocations can be made to fail
 * like any other.
 */
nghttp2_mem *
gdp_nghttp2_mem(void)
{
	return blockcache_mem();
}

static void *
pb_alloc(void *data, size_t size)
{
	return gdp_malloc(size);
}

static void
pb_free(void *data, void *p)
{
	gdp_free(p);
}

static ProtobufCAllocator pb_allocator = {
	.alloc = pb_alloc,
	.free = pb_free,
};

ProtobufCAllocator *
gdp_protobuf_allocator(void)
{
	return &pb_allocator;
}

bool
gdp_alloc_stats(unsigned long *attempts, unsigned long *failed)
{
#ifdef GDP_FAULT_INJECTION
	*attempts = gdp_alloc_count();
	*failed = gdp_alloc_failed();
	return true;
#else
	(void)attempts;
	(void)failed;
	return false;
#endif
}
