/*
 * ready.c: the ready file, made and checked (see ready.h for why a lock).
 */
#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
mps_ready_write(const char *dir, const char *text, char *err, size_t errlen)
{
	char tmp[4200], path[4200];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, MPS_READY_NAME);
	snprintf(path, sizeof(path), "%s/%s", dir, MPS_READY_NAME);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	rc = flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno :
	    write_all(fd, text, strlen(text));
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		(void)unlink(tmp);
		(void)close(fd);
		return rc;
	}
	return fd;
}

void
mps_ready_remove(const char *dir, int fd)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, MPS_READY_NAME);
	(void)unlink(path);
	if (fd >= 0)
		(void)close(fd);
}

bool
mps_ready_check(const char *dir, char *why, size_t whylen)
{
	char path[4200];
	bool held;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, MPS_READY_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, errno == ENOENT ?
		    "missing (the MPS control daemon has not started it)" :
		    strerror(errno));
		return false;
	}
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	(void)close(fd);
	if (!held)
		snprintf(why, whylen, "%s: left by an MPS control daemon that "
		    "is gone", path);
	return held;
}
