/*
 * mpsready.c: the MPS ready files, watched (mpsready.h).
 *
 * One inotify descriptor for all resources, one watch per resource
 * directory. Any event in a directory re-checks its ready file: events
 * are few (a daemon's start, stop or death) and the check is an open and
 * a flock, so telling the names apart would buy nothing. The plugin's
 * own check opens the file read-only, which raises only IN_OPEN and
 * IN_CLOSE_NOWRITE, neither of them watched: checking causes no events.
 */
#include "mpsready.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mps/ready.h"
#include "util/alloc.h"

#define WATCH_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | \
    IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define RETRY_MS 1000

struct entry {
	char *resource;
	char *dir;
	int wd;                         /* -1: not watched (retrying) */
	bool ready;
	char why[MPS_WATCH_WHY];
};

struct mps_watch {
	struct loop *loop;
	char *root;
	int fd;
	mps_watch_cb cb;
	void *arg;
	struct entry *entries;          /* owned, |n| */
	size_t n;
	struct loop_timer *retry;       /* while some entry has wd -1 */
};

static void
make_dirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(buf, 0755);
		*p = '/';
	}
	(void)mkdir(buf, 0755);
}

/* Re-reads |e|'s state; calls back when it changed and |report|. */
static void
check(struct mps_watch *w, struct entry *e, bool report)
{
	char why[MPS_WATCH_WHY];
	bool ready = e->wd >= 0 && mps_ready_check(e->dir, why, sizeof(why));

	if (e->wd < 0)
		snprintf(why, sizeof(why), "%s: cannot be watched (retrying "
		    "each second)", e->dir);
	if (ready)
		why[0] = '\0';
	snprintf(e->why, sizeof(e->why), "%s", why);
	if (ready == e->ready)
		return;
	e->ready = ready;
	if (report)
		w->cb(e->resource, ready, e->why, w->arg);
}

static int64_t retry_watches(struct loop *loop, void *arg);

static void
arm(struct mps_watch *w, struct entry *e)
{
	make_dirs(e->dir);
	e->wd = inotify_add_watch(w->fd, e->dir, WATCH_EVENTS);
	if (e->wd < 0 && w->retry == NULL)
		w->retry = loop_add_timer(w->loop, RETRY_MS, retry_watches, w);
}

static int64_t
retry_watches(struct loop *loop, void *arg)
{
	struct mps_watch *w = arg;
	bool again = false;

	(void)loop;
	for (size_t i = 0; i < w->n; i++) {
		struct entry *e = &w->entries[i];

		if (e->wd >= 0)
			continue;
		e->wd = inotify_add_watch(w->fd, e->dir, WATCH_EVENTS);
		if (e->wd < 0) {
			make_dirs(e->dir);
			e->wd = inotify_add_watch(w->fd, e->dir,
			    WATCH_EVENTS);
		}
		again = again || e->wd < 0;
		check(w, e, true);
	}
	if (!again)
		w->retry = NULL;
	return again ? RETRY_MS : LOOP_NOMORE;
}

static struct entry *
by_wd(struct mps_watch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->entries[i].wd == wd)
			return &w->entries[i];
	return NULL;
}

/* The directory went (or moved): not ready, watched again later. */
static void
lost(struct mps_watch *w, struct entry *e)
{
	if (e->wd >= 0)
		(void)inotify_rm_watch(w->fd, e->wd);
	e->wd = -1;
	check(w, e, true);
	if (w->retry == NULL)
		w->retry = loop_add_timer(w->loop, RETRY_MS, retry_watches, w);
}

static void
handle(struct mps_watch *w, const struct inotify_event *ev)
{
	struct entry *e = by_wd(w, ev->wd);

	if (e == NULL)
		return;
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
		lost(w, e);
		return;
	}
	check(w, e, true);
}

static void
on_events(struct loop *loop, int fd, unsigned events, void *arg)
{
	union {
		struct inotify_event ev;
		char bytes[4096];
	} buf;
	struct mps_watch *w = arg;
	ssize_t n;

	(void)loop;
	(void)events;
	while ((n = read(fd, buf.bytes, sizeof(buf.bytes))) > 0) {
		for (ssize_t at = 0; at < n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(buf.bytes + at);

			handle(w, ev);
			at += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	/* An overflow (IN_Q_OVERFLOW, wd -1) loses events: check all. */
	for (size_t i = 0; i < w->n; i++)
		check(w, &w->entries[i], true);
}

struct mps_watch *
mps_watch_new(struct loop *loop, const char *root, mps_watch_cb cb,
    void *arg)
{
	struct mps_watch *w = gdp_calloc(1, sizeof(*w));
	int rc;

	if (w == NULL || (w->root = gdp_strdup(root)) == NULL) {
		gdp_free(w);
		errno = ENOMEM;
		return NULL;
	}
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	rc = w->fd < 0 ? errno : -loop_add_fd(loop, w->fd, LOOP_READ,
	    on_events, w);
	if (rc != 0) {
		if (w->fd >= 0)
			(void)close(w->fd);
		gdp_free(w->root);
		gdp_free(w);
		errno = rc;
		return NULL;
	}
	return w;
}

static const struct entry *
find(const struct mps_watch *w, const char *resource)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->entries[i].resource, resource) == 0)
			return &w->entries[i];
	return NULL;
}

int
mps_watch_add(struct mps_watch *w, const char *resource)
{
	struct entry *e;
	size_t len = strlen(w->root) + strlen(resource) + 2;

	if (find(w, resource) != NULL)
		return -EEXIST;
	e = gdp_realloc(w->entries, (w->n + 1) * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	w->entries = e;
	e = &e[w->n];
	memset(e, 0, sizeof(*e));
	e->resource = gdp_strdup(resource);
	e->dir = gdp_malloc(len);
	if (e->resource == NULL || e->dir == NULL) {
		gdp_free(e->resource);
		gdp_free(e->dir);
		return -ENOMEM;
	}
	snprintf(e->dir, len, "%s/%s", w->root, resource);
	w->n++;
	arm(w, e);
	check(w, e, false);
	return 0;
}

bool
mps_watch_ready(const struct mps_watch *w, const char *resource, char *why,
    size_t whylen)
{
	const struct entry *e = find(w, resource);

	if (why != NULL)
		snprintf(why, whylen, "%s", e == NULL ? "not watched" :
		    e->why);
	return e != NULL && e->ready;
}

void
mps_watch_free(struct mps_watch *w)
{
	if (w == NULL)
		return;
	if (w->retry != NULL)
		loop_cancel_timer(w->loop, w->retry);
	loop_del_fd(w->loop, w->fd);
	(void)close(w->fd);
	for (size_t i = 0; i < w->n; i++) {
		gdp_free(w->entries[i].resource);
		gdp_free(w->entries[i].dir);
	}
	gdp_free(w->entries);
	gdp_free(w->root);
	gdp_free(w);
}
