/*
 * exports.c: the NVML entry points as the library exports them, and
 * FAKE_NVML_HIDE, which hides some of them to play an older driver.
 *
 * Each entry point is written as a hidden function, fake_SYMBOL, and
 * exported under its NVML name as a GNU indirect function (IFUNC): the
 * dynamic linker calls the symbol's resolver each time it looks the
 * symbol up, in dlsym() or when it binds a program linked against the
 * library, and uses the address the resolver returns. Our resolvers
 * return NULL for a name listed in FAKE_NVML_HIDE, so dlsym() answers
 * NULL as it does on a driver without that symbol, and the program under
 * test binds its fallback.
 *
 * Why not an LD_PRELOAD shim that interposes dlsym: this needs nothing of
 * the program or its environment beyond the variable (no preload to
 * order against a sanitizer runtime, nothing to go wrong in a Go binary),
 * no bookkeeping of which handle is ours, and no change to the plugin,
 * which looks symbols up with plain dlsym(handle, name). What it cannot
 * do is set dlerror(): dlsym() returns NULL with no error recorded.
 *
 * The resolvers read FAKE_NVML_HIDE at every lookup, so it may change
 * while the library is loaded. Nothing in the library refers to an
 * exported name, since the dynamic linker would run the resolver for such
 * a reference while it relocates the library, before getenv() can be
 * called; test_exports.sh checks that. nvmlInit checks that every name in
 * the variable is an entry point, so that a typo does not go unnoticed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakenvml.h"

static const char *const names[FAKE_SYM_COUNT] = {
#define FAKE_NAME(sym, type) [FAKE_SYM_##sym] = #sym,
	FAKE_ENTRY_POINTS(FAKE_NAME)
#undef FAKE_NAME
};

const char *
fake_symbol_name(enum fake_sym sym)
{
	return names[sym];
}

int
fake_symbol_by_name(const char *name, size_t len, enum fake_sym *sym)
{
	size_t i;

	for (i = 0; i < FAKE_SYM_COUNT; i++) {
		if (strlen(names[i]) == len &&
		    memcmp(names[i], name, len) == 0) {
			*sym = (enum fake_sym)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Whether FAKE_NVML_HIDE lists |sym|. Called by the dynamic linker. */
static int
hidden(enum fake_sym sym)
{
	const char *p = getenv("FAKE_NVML_HIDE");
	size_t len = strlen(names[sym]);
	const char *end;

	for (; p != NULL && *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchrnul(p, ',');
		if ((size_t)(end - p) == len && memcmp(p, names[sym], len) == 0)
			return 1;
	}
	return 0;
}

int
fake_hide_check(void)
{
	const char *p = getenv("FAKE_NVML_HIDE");
	const char *end;
	enum fake_sym sym;

	if (p == NULL || *p == '\0')
		return 0;
	for (;; p = end + 1) {
		end = strchrnul(p, ',');
		if (fake_symbol_by_name(p, (size_t)(end - p), &sym) != 0) {
			fprintf(stderr, "fakenvml: FAKE_NVML_HIDE: \"%.*s\" is "
			    "not an entry point of the library\n",
			    (int)(end - p), p);
			return -EINVAL;
		}
		if (*end == '\0')
			return 0;
	}
}

/*
 * For each entry point, its resolver and its export. A resolver returns
 * the implementation's address, or NULL to hide it. "used": clang 14
 * does not count the ifunc attribute as a use of the resolver.
 */
#define FAKE_EXPORT(sym, type) \
	__attribute__((used)) static fake_##type##_t * \
	resolve_##sym(void) \
	{ \
		return hidden(FAKE_SYM_##sym) ? NULL : fake_##sym; \
	} \
	FAKE_API fake_##type##_t sym __attribute__((ifunc("resolve_" #sym)));
FAKE_ENTRY_POINTS(FAKE_EXPORT)
#undef FAKE_EXPORT
