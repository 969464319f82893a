/*
 * faults.c: fault injection and call counts, SQLite style.
 *
 * Every entry point starts with fake_fault(), which counts the call under
 * its exported name (nvmlEventSetWait and nvmlEventSetWait_v2 apart), from
 * process start: a full shutdown does not reset the counts.
 *
 * FAKE_NVML_FAIL="SYMBOL:N:ERROR,..." makes the Nth call of SYMBOL (from
 * 1) answer ERROR before it does anything else, and "SYMBOL:N+:ERROR" the
 * Nth and every later one. A test walks N = 1, 2, ... over a scenario, as
 * SQLite's anomaly loops do, until the scenario no longer reaches the
 * Nth call, and checks the program survives each failure on the way. The
 * specs are read at the first nvmlInit of each cycle, like the profile;
 * a malformed one is named on stderr and makes that init fail with
 * NVML_ERROR_UNKNOWN, with no fault in force.
 *
 * FAKE_NVML_TRACE=PATH says which calls to walk: it gets one line
 * "SYMBOL COUNT" for each entry point called, written at each last
 * nvmlShutdown and again when the library is unloaded (a destructor, so a
 * program that exits without shutting down, by exit() or by returning
 * from main, still leaves it). It is written with open(2) and write(2)
 * from a buffer on the stack: no stdio, no allocation.
 *
 * Cost: a call is one relaxed atomic add, plus, only while a spec is in
 * force, a look at the table under a mutex (Wait runs on its own thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakenvml.h"

#define FAKE_MAX_FAULTS 64
#define SPEC_SIZE 128		/* the longest spec, with its NUL */
#define TRACE_LINE_SIZE 80	/* a name of < 58 bytes and a count */

struct fault {
	enum fake_sym sym;
	unsigned long long nth;	/* from 1 */
	int onward;		/* "N+": the Nth and every later call */
	nvmlReturn_t rc;
};

static atomic_ullong calls[FAKE_SYM_COUNT];
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[FAKE_MAX_FAULTS];	/* under faults_lock */
static unsigned int fault_count;		/* under faults_lock */
static atomic_bool faults_on;			/* fault_count > 0 */

nvmlReturn_t
fake_fault(enum fake_sym sym)
{
	unsigned long long n = atomic_fetch_add_explicit(&calls[sym], 1,
	    memory_order_relaxed) + 1;
	nvmlReturn_t rc = NVML_SUCCESS;
	unsigned int i;

	if (!atomic_load(&faults_on))
		return NVML_SUCCESS;
	pthread_mutex_lock(&faults_lock);
	for (i = 0; i < fault_count; i++) {
		const struct fault *f = &faults[i];

		if (f->sym != sym)
			continue;
		if (n == f->nth || (f->onward && n > f->nth)) {
			rc = f->rc;
			break;
		}
	}
	pthread_mutex_unlock(&faults_lock);
	return rc;
}

static int bad_spec(const char *spec, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints 'fakenvml: FAKE_NVML_FAIL: "SPEC": reason'; returns -EINVAL. */
static int
bad_spec(const char *spec, size_t len, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fakenvml: FAKE_NVML_FAIL: \"%.*s\": %s\n", (int)len,
	    spec, reason);
	return -EINVAL;
}

/* Parses "N" or "N+", N a decimal number from 1, into |f|. */
static int
parse_nth(const char *s, struct fault *f)
{
	size_t len = strlen(s);

	f->onward = len > 0 && s[len - 1] == '+';
	if (f->onward)
		len--;
	if (len == 0 || strspn(s, "0123456789") != len)
		return -EINVAL;
	errno = 0;
	f->nth = strtoull(s, NULL, 10);
	if (errno == ERANGE || f->nth == 0)
		return -EINVAL;
	return 0;
}

/* Parses the |len| bytes at |spec|, "SYMBOL:N[+]:ERROR", into |f|. */
static int
parse_spec(const char *spec, size_t len, struct fault *f)
{
	char buf[SPEC_SIZE];
	char *nth, *err;

	if (len >= sizeof(buf))
		return bad_spec(spec, len, "longer than %zu characters",
		    sizeof(buf) - 1);
	memcpy(buf, spec, len);
	buf[len] = '\0';
	nth = strchr(buf, ':');
	err = nth != NULL ? strchr(nth + 1, ':') : NULL;
	if (err == NULL || strchr(err + 1, ':') != NULL)
		return bad_spec(spec, len,
		    "not SYMBOL:N:ERROR or SYMBOL:N+:ERROR");
	*nth++ = '\0';
	*err++ = '\0';
	if (fake_symbol_by_name(buf, strlen(buf), &f->sym) != 0)
		return bad_spec(spec, len, "%s is not an entry point", buf);
	if (f->sym == FAKE_SYM_nvmlErrorString)
		return bad_spec(spec, len, "nvmlErrorString cannot fail");
	if (parse_nth(nth, f) != 0)
		return bad_spec(spec, len, "'%s' is not a call number N or "
		    "N+, from 1", nth);
	if (fake_error_by_name(err, &f->rc) != 0 || f->rc == NVML_SUCCESS)
		return bad_spec(spec, len, "%s is not an NVML error name like "
		    "NVML_ERROR_GPU_IS_LOST", err);
	return 0;
}

/* Parses the comma-separated |list| into |parsed|, |*n| of them. */
static int
parse_list(const char *list, struct fault *parsed, unsigned int *n)
{
	const char *p, *end;
	int err;

	for (p = list;; p = end + 1) {
		end = strchrnul(p, ',');
		if (*n == FAKE_MAX_FAULTS) {
			fprintf(stderr,
			    "fakenvml: FAKE_NVML_FAIL: more than %d specs\n",
			    FAKE_MAX_FAULTS);
			return -EINVAL;
		}
		err = parse_spec(p, (size_t)(end - p), &parsed[*n]);
		if (err != 0)
			return err;
		(*n)++;
		if (*end == '\0')
			return 0;
	}
}

int
fake_faults_load(void)
{
	const char *list = getenv("FAKE_NVML_FAIL");
	struct fault parsed[FAKE_MAX_FAULTS] = { { 0 } };
	unsigned int n = 0;
	int err = 0;

	if (list != NULL && list[0] != '\0')
		err = parse_list(list, parsed, &n);
	if (err != 0)
		n = 0;
	pthread_mutex_lock(&faults_lock);
	memcpy(faults, parsed, n * sizeof(parsed[0]));
	fault_count = n;
	atomic_store(&faults_on, n > 0);
	pthread_mutex_unlock(&faults_lock);
	return err;
}

/* Writes all of |buf| to |fd|; 0 or -errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The trace's text in |buf|; returns its length. */
static size_t
format_trace(char *buf, size_t size)
{
	size_t used = 0;
	unsigned int i;
	int n;

	for (i = 0; i < FAKE_SYM_COUNT; i++) {
		unsigned long long count = atomic_load(&calls[i]);

		if (count == 0)
			continue;
		n = snprintf(buf + used, size - used, "%s %llu\n",
		    fake_symbol_name((enum fake_sym)i), count);
		if (n < 0 || (size_t)n >= size - used)
			break;	/* cannot happen: the buffer fits them all */
		used += (size_t)n;
	}
	return used;
}

void
fake_trace_write(void)
{
	const char *path = getenv("FAKE_NVML_TRACE");
	char buf[FAKE_SYM_COUNT * TRACE_LINE_SIZE];
	size_t len;
	int fd, err;

	if (path == NULL || path[0] == '\0')
		return;
	len = format_trace(buf, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
	} else {
		err = write_all(fd, buf, len);
		if (close(fd) != 0 && err == 0)
			err = -errno;
	}
	if (err != 0)
		fprintf(stderr, "fakenvml: FAKE_NVML_TRACE %s: %s\n", path,
		    strerror(-err));
}

/* The counts of a program that exits without a last nvmlShutdown. */
__attribute__((destructor)) static void
trace_at_unload(void)
{
	fake_trace_write();
}
