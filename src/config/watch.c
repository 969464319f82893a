/*
 * watch.c: the config file's watch (see watch.h).
 *
 * Layout: the file's fingerprint (its bytes, hashed: FNV-1a, 64 bits,
 * with the length and whether it could be read at all); the directories
 * to watch (the file's, then each symlink's target's, at most
 * CONFIG_WATCH_MAX_DIRS hops); the inotify side and the quiet timer.
 * Everything runs on the loop; a check reads at most CONFIG_WATCH_READ_MAX
 * bytes (a ConfigMap holds 1 MiB at most; past that the loader refuses
 * the file anyway, and what comes after cannot make it usable).
 */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/alloc.h"

#define CONFIG_WATCH_READ_MAX ((size_t)2 << 20)
#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | \
	IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct fingerprint {
	bool readable;
	size_t len;
	uint64_t hash;
};

struct config_watch {
	struct loop *loop;
	char path[PATH_MAX];
	int fd;
	size_t ndirs;
	char dirs[CONFIG_WATCH_MAX_DIRS][PATH_MAX];
	int wd[CONFIG_WATCH_MAX_DIRS];      /* -1: could not be watched */
	struct loop_timer *quiet;
	struct fingerprint seen;
	void (*cb)(void *arg);
	void *arg;
};

/* ---- the fingerprint ---- */

static struct fingerprint
fingerprint_of(const char *path)
{
	struct fingerprint fp = { false, 0, UINT64_C(14695981039346656037) };
	unsigned char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fp;
	fp.readable = true;
	while (fp.len < CONFIG_WATCH_READ_MAX &&
	    (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fp.readable = false;  /* a directory, say */
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			fp.hash = (fp.hash ^ buf[i]) * UINT64_C(1099511628211);
		fp.len += (size_t)n;
	}
	close(fd);
	return fp;
}

static bool
same_fingerprint(const struct fingerprint *a, const struct fingerprint *b)
{
	return a->readable == b->readable && a->len == b->len &&
	    a->hash == b->hash;
}

/* ---- the directories ---- */

/* The directory of |path| into |out| ("." when it has none). */
static void
dir_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

static bool
has_dir(char dirs[][PATH_MAX], size_t n, const char *dir)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(dirs[i], dir) == 0)
			return true;
	return false;
}

/*
 * The directories of |path| and of each symlink's target on the way to
 * the file, into |dirs|; returns how many.
 */
static size_t
chain_dirs(const char *path, char dirs[][PATH_MAX])
{
	char cur[PATH_MAX], target[PATH_MAX], dir[PATH_MAX];
	size_t n = 0;

	snprintf(cur, sizeof(cur), "%s", path);
	for (size_t hop = 0; hop < CONFIG_WATCH_MAX_DIRS; hop++) {
		ssize_t len;

		dir_of(cur, dir, sizeof(dir));
		if (!has_dir(dirs, n, dir) && n < CONFIG_WATCH_MAX_DIRS)
			memcpy(dirs[n++], dir, sizeof(dir));
		len = readlink(cur, target, sizeof(target) - 1);
		if (len < 0)
			break;      /* the file itself, or nothing there */
		target[len] = '\0';
		if (target[0] == '/')
			memcpy(cur, target, (size_t)len + 1);
		else if (snprintf(cur, sizeof(cur), "%s/%s", dir, target) >=
		    (int)sizeof(cur))
			break;
	}
	return n;
}

static void
unwatch_all(struct config_watch *w)
{
	for (size_t i = 0; i < w->ndirs; i++)
		if (w->wd[i] >= 0)
			(void)inotify_rm_watch(w->fd, w->wd[i]);
	w->ndirs = 0;
}

/* Watches the directories the file's path goes through now. */
static void
rewatch(struct config_watch *w)
{
	char dirs[CONFIG_WATCH_MAX_DIRS][PATH_MAX];
	size_t n = chain_dirs(w->path, dirs);
	bool same = n == w->ndirs;

	for (size_t i = 0; same && i < n; i++)
		same = strcmp(dirs[i], w->dirs[i]) == 0 && w->wd[i] >= 0;
	if (same)
		return;
	unwatch_all(w);
	for (size_t i = 0; i < n; i++) {
		memcpy(w->dirs[i], dirs[i], sizeof(dirs[i]));
		w->wd[i] = inotify_add_watch(w->fd, dirs[i], DIR_EVENTS);
	}
	w->ndirs = n;
}

/* ---- events ---- */

static int64_t
on_quiet(struct loop *loop, void *arg)
{
	struct config_watch *w = arg;
	struct fingerprint now;

	w->quiet = NULL;
	rewatch(w);
	now = fingerprint_of(w->path);
	if (!same_fingerprint(&now, &w->seen)) {
		w->seen = now;
		w->cb(w->arg);
	}
	return LOOP_NOMORE;
}

static void
on_event(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct config_watch *w = arg;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	while (read(fd, buf, sizeof(buf)) > 0)
		any = true;
	if (!any)
		return;
	if (w->quiet != NULL)
		loop_timer_reset(loop, w->quiet, CONFIG_WATCH_QUIET_MS);
	else
		w->quiet = loop_add_timer(loop, CONFIG_WATCH_QUIET_MS,
		    on_quiet, w);
	/* No timer (out of memory): look now rather than never. */
	if (w->quiet == NULL)
		(void)on_quiet(loop, w);
}

struct config_watch *
config_watch_new(struct loop *loop, const char *path, void (*cb)(void *arg),
    void *arg, char *err, size_t errlen)
{
	struct config_watch *w = gdp_calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		gdp_free(w);
		return NULL;
	}
	rc = loop_add_fd(loop, w->fd, LOOP_READ, on_event, w);
	if (rc < 0) {
		snprintf(err, errlen, "%s", strerror(-rc));
		close(w->fd);
		gdp_free(w);
		return NULL;
	}
	rewatch(w);
	w->seen = fingerprint_of(w->path);
	return w;
}

void
config_watch_rebase(struct config_watch *w)
{
	if (w == NULL)
		return;
	rewatch(w);
	w->seen = fingerprint_of(w->path);
}

void
config_watch_free(struct config_watch *w)
{
	if (w == NULL)
		return;
	if (w->quiet != NULL)
		loop_cancel_timer(w->loop, w->quiet);
	loop_del_fd(w->loop, w->fd);
	close(w->fd);
	gdp_free(w);
}
