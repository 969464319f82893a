/*
 * file.c: the Node Feature Discovery local feature file (see labels.h).
 *
 * NFD's worker reads every file of features.d on its own schedule, so
 * the file must never be seen half written: a hidden temporary in the
 * same directory (same file system, so rename is atomic; NFD skips
 * names starting with '.'), fsync, rename. And it must not churn: the
 * file is written only when a label other than the timestamp differs
 * from what is there, so its inode and mtime say when labels changed.
 */
#include "labels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define MAX_FILE ((size_t)256 * 1024)

/* |t| without its timestamp lines, into a new string (NULL: ENOMEM). */
static char *
without_timestamp(const char *t)
{
	size_t klen = strlen(LABELS_TIMESTAMP_KEY);
	char *out = gdp_malloc(strlen(t) + 1), *at = out;

	if (out == NULL)
		return NULL;
	while (*t != '\0') {
		const char *nl = strchr(t, '\n');
		size_t n = nl != NULL ? (size_t)(nl - t) + 1 : strlen(t);

		if (!(strncmp(t, LABELS_TIMESTAMP_KEY, klen) == 0 &&
		    t[klen] == '=')) {
			memcpy(at, t, n);
			at += n;
		}
		t += n;
	}
	*at = '\0';
	return out;
}

/* The file at |path| (at most MAX_FILE bytes), or NULL if unreadable;
   a symbolic link is followed only when |follow|. */
static char *
slurp(const char *path, bool follow)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	char *buf;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if ((buf = gdp_malloc(MAX_FILE + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (len < MAX_FILE &&
	    ((n = read(fd, buf + len, MAX_FILE - len)) > 0 ||
	    (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* Does the file at |path| hold |text|, timestamps aside? */
static bool
same_labels(const char *path, const char *text)
{
	char *old = slurp(path, false), *a = NULL, *b = NULL;
	bool same = false;

	if (old != NULL && (a = without_timestamp(old)) != NULL &&
	    (b = without_timestamp(text)) != NULL)
		same = strcmp(a, b) == 0;
	gdp_free(old);
	gdp_free(a);
	gdp_free(b);
	return same;
}

static int
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_temp(const char *tmp, const char *text)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	/* 0644 whatever the umask: NFD's worker reads it. */
	rc = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
labels_file_update(const char *path, const char *text, bool *written,
    char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char tmp[4096 + 64];
	int dirlen = slash != NULL ? (int)(slash - path) + 1 : 0;
	int rc;

	*written = false;
	if (same_labels(path, text))
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.%ld.tmp", dirlen, path,
	    path + dirlen, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	rc = write_temp(tmp, text);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	*written = true;
	return 0;
}

int
labels_file_remove(const char *path, char *err, size_t errlen)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		int rc = -errno;

		snprintf(err, errlen, "cannot remove %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	return 0;
}

void
labels_read_trimmed(const char *path, char *out, size_t len)
{
	/* GFD's machine type file may be a link (to /sys, say). */
	char *s = slurp(path, true), *p, *end;

	out[0] = '\0';
	if (s == NULL)
		return;
	for (p = s; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';)
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	snprintf(out, len, "%s", p);
	gdp_free(s);
}
