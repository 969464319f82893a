/*
 * listen.c: a listening unix socket at a path that may hold leftovers
 * (see listen.h).
 *
 * What may be at the path, and what is done with it:
 *   nothing: bind there;
 *   a socket that refuses connections (ECONNREFUSED: nobody listens, it
 *     is a crashed instance's): removed;
 *   a socket that accepts them (or whose backlog is full): another
 *     process serves on it; taking the path would leave that process
 *     serving a file nobody can reach, so it is left alone (-EADDRINUSE);
 *   a symlink: removed, never followed (lstat, and unlink removes the
 *     link itself: whatever it points at is untouched, and a link to a
 *     live socket elsewhere is not mistaken for ours);
 *   a regular file, FIFO or device node: removed (only the name goes);
 *   an empty directory (what a container runtime makes when a hostPath
 *     mount names a file that does not exist): removed with rmdir;
 *   a directory that is not empty: left alone (-ENOTEMPTY); nothing is
 *     ever deleted recursively.
 *
 * Owner-only: bind() makes the file 0777 & ~umask. It is chmod'ed to 0600
 * after bind() and before listen(): until listen(), every connect() is
 * refused whatever the mode, so the moment of the looser mode lets nobody
 * in. The alternatives are worse: umask() is process-wide (the health
 * thread runs NVML code we do not control), and binding a temporary name
 * to rename() into place leaves that name behind when we crash.
 *
 * Races: a process that binds the path between the probe and our unlink
 * loses its file, as with any unlink-then-bind; only a process with write
 * access to the directory (root's, in a real node) can be there, and two
 * instances racing at the same instant is not a case this tries to win.
 */
#include "grpc/listen.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128
#define SOCKET_MODE 0600

/* -EADDRINUSE if someone accepts on the socket at |sa|, 0 if it is stale
 * (and now removed), or -errno. */
static int
clear_socket(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ?
	    0 : -errno;
	close(fd);
	switch (rc) {
	case 0:
	case -EAGAIN:           /* its backlog is full: it is listening */
	case -EPROTOTYPE:       /* a datagram socket somebody holds */
		return -EADDRINUSE;
	case -ECONNREFUSED:
		break;
	case -ENOENT:           /* gone meanwhile */
		return 0;
	default:
		return rc;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Removes what a crashed instance left at the path; see the top. */
static int
clear_path(const struct sockaddr_un *sa)
{
	const char *path = sa->sun_path;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISSOCK(st.st_mode))
		return clear_socket(sa);
	if (S_ISDIR(st.st_mode)) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		return errno == EEXIST ? -ENOTEMPTY : -errno;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
grpc_listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, rc;

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	rc = clear_path(&sa);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;    /* EADDRINUSE: someone bound it meanwhile */
		goto out_close_fd;
	}
	if (chmod(path, SOCKET_MODE) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	return fd;

out_unlink:
	(void)unlink(path);
out_close_fd:
	close(fd);
	return rc;
}
